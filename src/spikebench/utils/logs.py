"""Logging for workflow scripts: each job's messages go to its Snakemake log file and to stderr; a failure's
traceback goes to the log file only, so that the terminal shows each failure once, in its own words."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WithoutTraceback(logging.Formatter):
    """The terminal's format: a record without the traceback it carries (the log file keeps that)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None}))


def attempts_log(log_path: str | Path) -> Path:
    """Every attempt's records of a job, in order, beside its log: Snakemake deletes a job's log before each
    attempt, so a retried job's log holds only the last one."""
    return Path(log_path).with_suffix(".attempts.log")


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send log records to ``log_path``, its ``attempts_log`` and stderr. An exception is recorded, with its
    traceback in the log files only, and ends the process with exit status 1: the job has failed, and Python need
    not print it again."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    file_format = logging.Formatter(FORMAT)
    handlers = [
        logging.FileHandler(log_path, mode="a"),
        logging.FileHandler(attempts_log(log_path), mode="a"),
        logging.StreamHandler(sys.stderr),
    ]
    handlers[0].setFormatter(file_format)
    handlers[1].setFormatter(file_format)
    handlers[2].setFormatter(WithoutTraceback(FORMAT))
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.info("---- attempt started (process %d) ----", os.getpid())
    try:
        yield logging.getLogger("spikebench")
    except Exception as error:
        root.exception("job failed: %s: %s (traceback in %s)", type(error).__name__, error, log_path)
        raise SystemExit(1) from None
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
