"""Measurements as records: each benchmark run appends one dated JSON line (machine, CPU flags, commit,
command, figures) to a file under ``benchmarks/records/``, and the docs' performance page renders the newest
rows with their machine (``spikebench.reference``)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RECORDS_DIRECTORY = Path(__file__).resolve().parents[3] / "benchmarks" / "records"
"""In a checkout, ``benchmarks/records/`` beside the package's ``src/``."""

SIMD_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma", "neon", "asimd")
"""The CPU features that decide which kernels oneDNN and spikebench's native code run."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    return [flag for flag in SIMD_FLAGS if flag in flags]


def git_commit(directory: Path) -> str | None:
    try:
        described = subprocess.run(
            ["git", "-C", str(directory), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return described.stdout.strip() if described.returncode == 0 else None


COMMIT_AT_START = git_commit(Path(__file__).resolve().parent)
"""The checkout's commit when the benchmark started: what it measured, whatever changes while it runs."""


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def append_record(path: str | Path, figures: dict[str, Any]) -> dict[str, Any]:
    """Append one record of this process's measurement to ``path`` (JSON lines) and return it."""
    path = Path(path)
    record = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": COMMIT_AT_START,
        "command": " ".join(["python", *sys.argv]),
        "figures": figures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as stream:
        stream.write(json.dumps(record) + "\n")
    return record


def read_records(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
