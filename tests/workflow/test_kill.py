"""A run killed in the middle of a shard stage, then rerun, ends exactly like an uninterrupted run.

The signal lands while the MIDI stage is writing a phrase shard (its temporary file exists), and
goes to Snakemake and its jobs at once (one process group), as in real life:
- crash: SIGKILL (node failure, OOM killer): nothing cleans up, Snakemake's lock stays, so the
  user runs `snakemake --unlock` first;
- scancel: SIGTERM, what Slurm sends on scancel or at the time limit: the jobs die at once
  (Snakemake alone would let them finish), Snakemake marks them failed and exits;
- ctrl-c: SIGINT, as a terminal sends it: Snakemake stops its jobs and exits.
Each time the rerun must redo the interrupted shards (rerun-incomplete is in profiles/default),
end with the outputs of an uninterrupted run, and leave no half-written file behind.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest


def _workflow_helpers():
    """This folder's conftest.py helpers, loaded by path (a bare `import conftest` may find another)."""
    spec = importlib.util.spec_from_file_location("workflow_helpers", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _workflow_helpers()

N_SHARDS = 2  # midi.n_shards in tiny_config.yaml
SHARDS = [f"results/midi/phrases/shard-{i}.parquet" for i in range(N_SHARDS)]
TARGETS = [*SHARDS, "results/midi/files.parquet"]
SIGNALS = {"crash": signal.SIGKILL, "scancel": signal.SIGTERM, "ctrl-c": signal.SIGINT}


def temporaries(workdir: Path) -> list[Path]:
    """Files being written (or left half-written): loopgen writes `.name.tmp-<pid>`, then renames."""
    return sorted(p for p in (workdir / "results").rglob("*.tmp-*"))


def _signals_as_in_a_terminal() -> None:
    """In the child before exec: SIGINT and SIGTERM handled and unblocked. A test run started in
    the background of a non-interactive shell (`cmd &`, nohup) inherits SIGINT *ignored*, and so
    would Snakemake and its jobs: a ctrl-c would then do nothing and the stage would run to its end."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def start_midi_stage(workdir: Path) -> subprocess.Popen:
    cmd = [*helpers.SNAKEMAKE, "-s", str(helpers.REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *TARGETS]
    # Its own process group: a signal reaches Snakemake and its jobs at once, as from a terminal.
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_signals_as_in_a_terminal,
    )


def shard_temporaries(workdir: Path) -> list[Path]:
    """Shard outputs being written (the raw-dump manifests are written first, and are not the target)."""
    return [p for p in temporaries(workdir) if "manifest" not in p.parts]


def kill_while_a_shard_is_written(process: subprocess.Popen, workdir: Path, how: str) -> None:
    deadline = time.monotonic() + 120
    while not shard_temporaries(workdir):
        assert process.poll() is None, "the MIDI stage finished before a shard was seen being written"
        assert time.monotonic() < deadline, "no shard was written within 120 s"
        time.sleep(0.01)
    os.killpg(process.pid, SIGNALS[how])
    process.wait(timeout=60)
    wait_until_group_is_gone(process.pid)


def wait_until_group_is_gone(pgid: int, timeout: float = 30) -> None:
    """Signals are asynchronous: the group's jobs vanish once they exited and were reaped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"processes of the killed run are still alive after {timeout}s")


def files_under(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.workflow
@pytest.mark.parametrize("how", SIGNALS)
def test_killed_shard_stage_reruns_to_the_same_outputs(tiny_workdir, tmp_path, how):
    helpers.snakemake(tiny_workdir, *TARGETS)  # the uninterrupted run (cached across tests)
    workdir = tmp_path / "killed"
    workdir.mkdir()
    # Start from the finished demo corpus, so the kill lands in the MIDI stage.
    helpers.copy_results(tiny_workdir, workdir)
    shutil.rmtree(workdir / "results")

    kill_while_a_shard_is_written(start_midi_stage(workdir), workdir, how)
    # The kill landed mid-stage, and a shard under its real name is only ever a complete one.
    finished = [shard for shard in SHARDS if (workdir / shard).exists()]
    assert len(finished) < N_SHARDS, (
        f"the {how} signal did not stop the stage (this process: SIGINT handler "
        f"{signal.getsignal(signal.SIGINT)}, blocked {signal.pthread_sigmask(signal.SIG_BLOCK, [])})"
    )
    for shard in finished:
        pq.read_table(workdir / shard)

    if how == "crash":
        helpers.snakemake(workdir, "--unlock")  # a killed Snakemake cannot remove its lock
    rerun = helpers.snakemake(workdir, *TARGETS)
    assert "extract_phrases" in rerun.stderr

    assert temporaries(workdir) == [], "half-written files left behind"
    expected, found = files_under(tiny_workdir / "results" / "midi"), files_under(workdir / "results" / "midi")
    assert found.keys() == expected.keys()
    for name, path in expected.items():
        if path.suffix == ".parquet":
            assert pq.read_table(found[name]).equals(pq.read_table(path)), name
        else:  # the raw-dump manifests (text)
            assert found[name].read_bytes() == path.read_bytes(), name
