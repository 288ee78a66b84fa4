"""The workflow on a real one-node Slurm (started by conftest.py), submitted through profiles/slurm."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"


def _workflow_helpers():
    """tests/workflow/conftest.py's helpers (snakemake, write_config), loaded by path."""
    spec = importlib.util.spec_from_file_location("workflow_helpers", REPO / "tests" / "workflow" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _workflow_helpers()

# The data stages on the tiny config: demo corpus and labels, then the sharded MIDI stage.
TARGETS = [
    "resources/demo/labels/midi_windows.parquet",
    "results/midi/files.parquet",
    "results/midi/phrases/shard-0.parquet",
    "results/midi/phrases/shard-1.parquet",
]


# -- plain Slurm ------------------------------------------------------------------------------
def squeue_states() -> dict[str, tuple[str, str]]:
    """job id -> (state, job name) of every job squeue still knows (finished ones for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i|%T|%j"], capture_output=True, text=True, check=True
    ).stdout
    return {job: (state, name) for job, state, name in (line.split("|") for line in out.splitlines())}


def wait_for_job(job_id: str, timeout: float = 60) -> str:
    """Poll squeue (there is no accounting database) until the job is no longer queued or running."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = squeue_states().get(job_id, ("", ""))[0]
        if state and state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {state or 'unknown'} after {timeout}s")


def sbatch(folder: Path, *options: str, wrap: str) -> tuple[str, Path]:
    result = subprocess.run(
        ["sbatch", "--parsable", "--output", str(folder / "job-%j.out"), *options, "--wrap", wrap],
        capture_output=True,
        text=True,
        check=True,
    )
    job_id = result.stdout.strip().split(";")[0]
    return job_id, folder / f"job-{job_id}.out"


def test_sbatch_runs_a_job_on_the_node(slurm_cluster, tmp_path):
    job_id, out = sbatch(tmp_path, "--ntasks=1", "--mem=100", "-t", "1", wrap="hostname -s")
    assert wait_for_job(job_id) == "COMPLETED"
    assert out.read_text().strip() == slurm_cluster.hostname


def test_gpu_job_gets_the_fake_gpu(slurm_cluster, tmp_path):
    # What the Slurm plugin sends for a rule with resources gpu=1: --gpus=1.
    job_id, out = sbatch(tmp_path, "--gpus=1", "-t", "1", wrap="env | grep -E 'GPU|CUDA' | sort")
    assert wait_for_job(job_id) == "COMPLETED"
    # Slurm allocated the node's one (fake) GPU to the job, as it would a real one.
    assert "SLURM_JOB_GPUS=0" in out.read_text().split()


# -- Snakemake through the profile -----------------------------------------------------------
@pytest.fixture
def slurm_profile(slurm_cluster, tmp_path) -> Path:
    """A copy of profiles/slurm as a user would make it: partition set, plus test-speed settings."""
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"  # sacct would wait forever: no slurmdbd here
    profile["default-resources"]["slurm_partition"] = slurm_cluster.partition
    # First status check after 5 s, not the 40 s meant for busy clusters (later checks back off by
    # 10 s each: 5, 20, 45 s); MinJobAge (300 s) stays above 3x this, so squeue is trusted.
    profile["slurm-init-seconds-before-status-checks"] = 5
    profile["latency-wait"] = 5
    profile["slurm-keep-successful-logs"] = True  # so the test can read every job's Slurm log
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def run_snakemake(workdir: Path, snakefile: Path, profile: Path, cores: int, *args: str) -> str:
    """Snakemake through the profile, with a time limit: a status check that never sees a job
    finish (sacct without slurmdbd) would otherwise hang the test suite instead of failing it."""
    cmd = [
        *helpers.SNAKEMAKE,
        "-s",
        str(snakefile),
        "-d",
        str(workdir),
        "--workflow-profile",
        str(profile),
        "--cores",
        str(cores),
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{output[-6000:]}"
    return output


JOB_BLOCK = re.compile(r"^(local)?rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", re.MULTILINE)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")


def submissions(output: str) -> tuple[dict[str, str], dict[str, tuple[str, Path]]]:
    """Snakemake job id -> rule of every job meant for the cluster; and -> (Slurm id, Slurm log)."""
    remote_jobs = {jobid: rule for local, rule, jobid in JOB_BLOCK.findall(output) if not local}
    submitted = {jobid: (slurm_id, Path(log)) for jobid, slurm_id, log in SUBMITTED.findall(output)}
    return remote_jobs, submitted


def assert_every_job_went_through_sbatch(output: str) -> set[str]:
    remote_jobs, submitted = submissions(output)
    assert remote_jobs, output[-3000:]
    missing = {remote_jobs[j] for j in remote_jobs.keys() - submitted.keys()}
    assert not missing, f"rules run without sbatch: {missing}"
    known = squeue_states()
    run_names = set()
    for jobid, (slurm_id, log) in submitted.items():
        state, name = known[slurm_id]
        assert state == "COMPLETED", (remote_jobs.get(jobid), slurm_id, state)
        run_names.add(name)
        # The job-step's own Snakemake output, written on the node into Slurm's log of the job.
        assert log.exists() and f"rule {remote_jobs[jobid]}:" in log.read_text(), log
    assert len(run_names) == 1  # one Snakemake run: its id is every job's Slurm job name
    return set(remote_jobs.values())


def test_profile_maps_threads_and_gpu_to_slurm(slurm_cluster, slurm_profile, tmp_path):
    """A rule's threads become --cpus-per-task and its gpu=1 becomes --gpus=1 (one job: a faster test)."""
    workdir = tmp_path / "toy"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(
        'rule train:\n    output: "job.txt"\n    threads: 2\n    resources: gpu=1\n'
        '    shell: "echo $SLURM_CPUS_PER_TASK ${{SLURM_GPUS_ON_NODE:-0}} > {output}"\n'
    )
    output = run_snakemake(workdir, workdir / "Snakefile", slurm_profile, slurm_cluster.cpus)
    assert assert_every_job_went_through_sbatch(output) == {"train"}
    cpus, gpus = (workdir / "job.txt").read_text().split()  # as the job step saw them
    assert (int(cpus), int(gpus)) == (min(2, slurm_cluster.cpus), 1)


def files_of(workdir: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(workdir)): p
        for folder in ("resources", "results")
        for p in (workdir / folder).rglob("*")
        if p.is_file()
    }


def manifest_without_mtimes(path: Path) -> list[list[str]]:
    """A raw-dump manifest's rows without the mtime: files are `size, mtime_ns, path`, metadata rows
    `metadata, <the CSV row>` (loopgen.manifest)."""
    rows = [line.split("\t") for line in path.read_text().splitlines() if not line.startswith("#")]
    return [row if row[0] == "metadata" else [row[0], *row[2:]] for row in rows]


def assert_same_outputs(local: Path, remote: Path) -> None:
    local_files, remote_files = files_of(local), files_of(remote)
    assert local_files.keys() == remote_files.keys()
    for name, path in local_files.items():
        if name.endswith(".parquet"):  # same rows and schema; writer metadata may differ
            assert pq.read_table(path).equals(pq.read_table(remote_files[name])), name
        elif "/manifest/" in name:  # the two runs generated their dumps at different times
            assert manifest_without_mtimes(path) == manifest_without_mtimes(remote_files[name]), name
        else:
            assert path.read_bytes() == remote_files[name].read_bytes(), name


def test_workflow_through_slurm_equals_local_run(slurm_cluster, slurm_profile, tmp_path):
    remote = tmp_path / "slurm"
    local = tmp_path / "local"
    for workdir in (remote, local):
        workdir.mkdir()
        helpers.write_config(workdir)
    # Requests are capped at what the one test node has (the rules ask for the paper's data sizes).
    output = run_snakemake(
        remote,
        REPO / "Snakefile",
        slurm_profile,
        slurm_cluster.cpus,
        *TARGETS,
        "--resources",
        f"mem_mb={slurm_cluster.mem_mb}",
        "gpu=1",
    )
    rules = assert_every_job_went_through_sbatch(output)
    assert {"demo_midi", "extract_phrases"} <= rules, rules
    helpers.snakemake(local, *TARGETS)
    assert_same_outputs(local, remote)
