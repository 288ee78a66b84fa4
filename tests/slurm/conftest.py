"""A real one-node Slurm cluster (munged, slurmctld, slurmd) for the tests in this folder.

Set-up, as root: install Debian's packages when the daemons are missing, write a minimal
/etc/slurm/slurm.conf (and gres.conf with one fake GPU), start the three daemons, wait until the
node is idle. Teardown cancels leftover jobs, stops the daemons and fails if one survives.
Without root and without Slurm the tests are skipped, saying why.

Why the config looks as it does:
- It must live at /etc/slurm/slurm.conf: Snakemake's job-step plugin drops SLURM_CONF inside jobs,
  so the `srun` it runs there only finds the default path.
- proctrack/linuxproc, task/none, no cgroup plugins: containers and CI runners rarely delegate
  cgroups, and nothing here needs confinement.
- No accounting database (accounting_storage/none), so `sacct` cannot answer: the profile must
  ask `squeue`, and MinJobAge keeps finished jobs visible to squeue long enough.
- NodeName is `slurmd -C`'s own line (hostname -s, real CPUs and memory), so slurmd registers;
  addresses are 127.0.0.1, so a CI runner whose hostname does not resolve works too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
COMMANDS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel"]
CONF_DIR = Path("/etc/slurm")
MUNGE_KEY = Path("/etc/munge/munge.key")
# Everything the daemons write (state, spool, pid and log files) goes under one folder of ours.
STATE = Path("/var/lib/loopgen-ci-slurm")
PARTITION = "ci"
HEADER = "# Written by tests/slurm/conftest.py for a throw-away one-node test cluster."
# squeue forgets a finished job MinJobAge seconds after its end; the Slurm plugin only trusts
# squeue when MinJobAge >= 3 x its first status-check delay (see profiles/slurm/config.yaml).
MIN_JOB_AGE_S = 300


def _run(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


def slurm_missing() -> list[str]:
    return [name for name in COMMANDS if shutil.which(name) is None]


def install_slurm() -> None:
    """apt-get the daemons (root only). Failing here is an error, not a skip: CI must run these."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def node_line() -> str:
    """`slurmd -C` prints the node as slurmd sees it: NodeName=<hostname -s> CPUs=... RealMemory=..."""
    first = _run("slurmd", "-C").stdout.splitlines()[0]
    assert first.startswith("NodeName="), first
    return first


def slurm_conf(node: str, hostname: str) -> str:
    return f"""\
{HEADER}
ClusterName=loopgen-ci
SlurmctldHost={hostname}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation={STATE}/ctld
SlurmdSpoolDir={STATE}/slurmd
SlurmctldPidFile={STATE}/slurmctld.pid
SlurmdPidFile={STATE}/slurmd.pid
SlurmctldLogFile={STATE}/slurmctld.log
SlurmdLogFile={STATE}/slurmd.log
{node} NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def fake_gpu_device() -> Path:
    """A character device to stand for the node's GPU: Slurm's gres/gpu needs a File= that is one
    (without it slurmd reports 0 GPUs and the node drains). Our own node (a copy of /dev/null's
    1:3), so nothing that replaces /dev/null by a plain file can break it; /dev/null otherwise."""
    device = STATE / "fake-gpu0"
    if not (device.exists() and device.is_char_device()):
        device.unlink(missing_ok=True)
        try:
            os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:  # no CAP_MKNOD (some containers)
            device = Path("/dev/null")
    if not device.is_char_device():
        raise RuntimeError(f"{device} is not a character device; cannot fake a GPU for Slurm")
    return device


def gres_conf(hostname: str, device: Path) -> str:
    # One GPU nobody can compute on: enough for the scheduler to place `--gpus=1` jobs here.
    return f"{HEADER}\nNodeName={hostname} Name=gpu File={device}\n"


class OneNodeSlurm:
    """Starts and stops munged, slurmctld and slurmd as our own child processes."""

    def __init__(self) -> None:
        self.hostname = socket.gethostname().split(".")[0]
        self.partition = PARTITION
        self.cpus = 0  # what slurmd reports for the node, known once started
        self.mem_mb = 0
        self.daemons: dict[str, subprocess.Popen] = {}
        self._saved: dict[Path, bytes | None] = {}

    # -- configuration -------------------------------------------------------------------
    def _write(self, path: Path, text: str) -> None:
        """Write a system file, remembering what was there so stop() puts it back (unless it was
        ours, left by a crashed session: then stop() removes it)."""
        if path not in self._saved:
            before = path.read_bytes() if path.exists() else None
            self._saved[path] = None if before is not None and before.startswith(HEADER.encode()) else before
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def _restore_files(self) -> None:
        for path, content in self._saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)

    def _ensure_munge_key(self) -> None:
        munge = pwd.getpwnam("munge")
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(os.urandom(1024))
        # munged refuses a key that others may read or that it does not own.
        os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
        MUNGE_KEY.chmod(0o400)
        for folder in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            os.chown(folder, munge.pw_uid, munge.pw_gid)
            Path(folder).chmod(0o755 if folder == "/run/munge" else 0o700)

    # -- daemons ---------------------------------------------------------------------------
    def _stop_stale(self) -> None:
        """A crashed earlier session may have left our daemons running (they hold the ports): stop
        the processes our pid files name, if they still are those daemons."""
        for name in ("slurmd", "slurmctld"):
            pid_file = STATE / f"{name}.pid"
            try:
                pid = int(pid_file.read_text().split()[0])
                if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                    os.kill(pid, signal.SIGTERM)
                    for _ in range(100):
                        if not Path(f"/proc/{pid}").exists():
                            break
                        time.sleep(0.1)
            except (OSError, ValueError, IndexError):
                pass  # no pid file, or the process is gone
            pid_file.unlink(missing_ok=True)

    def _spawn(self, name: str, *cmd: str, user: str | None = None) -> None:
        log = open(STATE / f"{name}.stdout", "w")
        self.daemons[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, user=user)
        log.close()

    def _wait(self, what: str, ready, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.daemons.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}) before {what}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def _munge_works(self) -> bool:
        encoded = subprocess.run(["munge", "-n"], capture_output=True)
        return (
            encoded.returncode == 0
            and subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True).returncode == 0
        )

    def _node_state(self) -> str:
        result = _run("sinfo", "-h", "-N", "-n", self.hostname, "-o", "%T", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def start(self) -> None:
        for sub in ("ctld", "slurmd"):
            (STATE / sub).mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        node = node_line()
        facts = dict(item.split("=", 1) for item in node.split())
        self.cpus, self.mem_mb = int(facts["CPUs"]), int(facts["RealMemory"])
        self._write(CONF_DIR / "slurm.conf", slurm_conf(node, self.hostname))
        self._write(CONF_DIR / "gres.conf", gres_conf(self.hostname, fake_gpu_device()))
        self._ensure_munge_key()
        if not self._munge_works():  # a munged started by the package's init script is fine too
            self._spawn("munged", "munged", "--foreground", user="munge")
            self._wait("munged", self._munge_works)
        # -c: forget queued jobs of an earlier session; -D: stay in the foreground, our child.
        self._spawn("slurmctld", "slurmctld", "-D", "-c")
        self._wait("slurmctld", lambda: _run("scontrol", "ping", check=False).returncode == 0)
        self._spawn("slurmd", "slurmd", "-D")
        self._wait(f"node {self.hostname} idle", lambda: self._node_state() == "idle")

    def stop(self) -> list[str]:
        """Cancel jobs, stop our daemons (newest first), restore config; return what still runs."""
        if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
            _run("scancel", "--partition", PARTITION, check=False)
        for name in reversed(list(self.daemons)):
            process = self.daemons[name]
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        survivors = [name for name, process in self.daemons.items() if process.poll() is None]
        if self.daemons and _run("scontrol", "ping", check=False).returncode == 0:
            survivors.append("a controller still answers `scontrol ping`")
        self._restore_files()
        return survivors

    def logs(self) -> str:
        parts = []
        for path in sorted(STATE.glob("*.log")) + sorted(STATE.glob("*.stdout")):
            parts.append(f"--- {path}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def slurm_cluster():
    """The running one-node cluster; at the end its daemons must be gone."""
    missing = slurm_missing()
    if missing and os.geteuid() != 0:
        pytest.skip(
            f"Slurm is not installed ({', '.join(missing)} missing) and installing it "
            "needs root; run the tests as root (as CI does) to test the Slurm profile"
        )
    if missing:
        install_slurm()
    if os.geteuid() != 0:
        pytest.skip("starting a test Slurm cluster (slurmctld, slurmd, /etc/slurm) needs root")
    cluster = OneNodeSlurm()
    try:
        cluster.start()
        yield cluster
    finally:
        survivors = cluster.stop()
        assert not survivors, f"Slurm still running after teardown: {survivors}"
