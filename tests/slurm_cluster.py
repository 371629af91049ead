"""A real one-node SLURM cluster on this machine, for the cluster test (Debian's slurmctld, slurmd and munge).

Every daemon is started in the foreground as a child process and stopped by its PID whatever happens; the
state directories live in a temporary directory, and ``/etc/slurm/slurm.conf`` is restored (or removed)
afterwards, so no state is left to break the next run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue")
MIN_JOB_AGE_S = 60
"""Finished jobs stay visible to squeue this long; the SLURM executor plugin needs it well above its first
status check, or it silently falls back to sacct, which fails without accounting."""


def missing_requirements() -> str | None:
    """Why a cluster cannot be started here, or None."""
    absent = [name for name in DAEMONS if shutil.which(name) is None]
    if absent:
        return (
            f"SLURM is not installed ({', '.join(absent)} missing): apt-get install slurmctld slurmd slurm-client munge"
        )
    if os.geteuid() != 0:
        return "starting slurmd and munged needs root"
    return None


def _config(state: Path) -> str:
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return "\n".join(
        [
            "ClusterName=spikebench",
            f"SlurmctldHost={socket.gethostname()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "MpiDefault=none",
            "ReturnToService=2",
            f"MinJobAge={MIN_JOB_AGE_S}",
            f"StateSaveLocation={state / 'slurmctld'}",
            f"SlurmdSpoolDir={state / 'slurmd'}",
            f"SlurmctldPidFile={state / 'slurmctld.pid'}",
            f"SlurmdPidFile={state / 'slurmd.pid'}",
            f"SlurmctldLogFile={state / 'slurmctld.log'}",
            f"SlurmdLogFile={state / 'slurmd.log'}",
            node.replace(" UpTime", "") + " State=UNKNOWN",
            f"PartitionName=debug Nodes={node.split()[0].split('=')[1]} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def _wait_until_idle(timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.split()
        if states and all(state == "idle" for state in states):
            return
        time.sleep(0.5)
    raise TimeoutError("the SLURM node did not become idle within a minute")


@contextlib.contextmanager
def single_node_cluster(state: Path) -> Iterator[None]:
    state.mkdir(parents=True, exist_ok=True)
    for directory in (
        state / "slurmctld",
        state / "slurmd",
        Path("/run/munge"),
        Path("/var/lib/munge"),
        Path("/var/log/munge"),
    ):
        directory.mkdir(parents=True, exist_ok=True)
    os.chmod("/run/munge", 0o755)  # munged refuses a socket directory that is not world-executable
    if not MUNGE_KEY.exists():
        subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
    previous_conf = SLURM_CONF.read_bytes() if SLURM_CONF.exists() else None
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    # /etc/slurm/slurm.conf rather than SLURM_CONF: the job-step plugin strips SLURM_CONF before its srun.
    SLURM_CONF.write_text(_config(state))
    processes = []
    try:
        for command in (["munged", "-F", "--force"], ["slurmctld", "-D"], ["slurmd", "-D"]):
            log = open(state / f"{command[0]}.out", "w")
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(1)
        _wait_until_idle()
        yield
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if previous_conf is None:
            SLURM_CONF.unlink(missing_ok=True)
        else:
            SLURM_CONF.write_bytes(previous_conf)
