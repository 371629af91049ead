"""Logging for workflow scripts: each job's messages go to its Snakemake log file and to stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send log records to ``log_path`` and stderr; record any exception with its traceback, then re-raise."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Appended, not overwritten: a retried job keeps the log of the attempt that failed above its own.
    handlers = [logging.FileHandler(log_path, mode="a"), logging.StreamHandler(sys.stderr)]
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.info("---- attempt started (process %d) ----", os.getpid())
    try:
        yield logging.getLogger("spikebench")
    except Exception:
        root.exception("job failed")
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
