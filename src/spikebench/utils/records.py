"""Measurements as records: each benchmark run appends one dated JSON line (machine, CPU flags, commit,
command, figures) to a file under ``benchmarks/records/``, and the docs' performance page renders the newest
rows with their machine (``spikebench.reference``)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from spikebench.utils.machine import cpu_flags, cpu_model, git_commit

RECORDS_DIRECTORY = Path(__file__).resolve().parents[3] / "benchmarks" / "records"
"""In a checkout, ``benchmarks/records/`` beside the package's ``src/``."""

SIMD_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma", "neon", "asimd")
"""The CPU features that decide which kernels oneDNN and spikebench's native code run."""


COMMIT_AT_START = git_commit(Path(__file__).resolve().parent)
"""The checkout's commit when the benchmark started: what it measured, whatever changes while it runs."""


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": cpu_model(),
        "cpu_flags": [flag for flag in SIMD_FLAGS if flag in cpu_flags()],
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
