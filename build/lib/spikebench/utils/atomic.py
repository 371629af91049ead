"""Atomic file writes: a reader (or a rerun after a crash) sees the old file or the new one, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TEMPORARY_PREFIX = ".partial-"
"""Temporary files of an unfinished write: ``.partial-<name>.<random>`` beside ``<name>``."""


def remove_leftovers(path: Path) -> list[Path]:
    """Delete what writers of ``path`` killed mid-write left behind (one job writes a path at a time, so any
    temporary file of it that exists now is an orphan); returns what was removed."""
    leftovers = sorted(path.parent.glob(f"{TEMPORARY_PREFIX}{path.name}.*"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Write through a temporary file beside ``path``, then rename it over ``path``.

    The file gets the permissions of an ordinary new file (0666 less the umask), not the 0600 of a temporary
    file, so results stay readable by colleagues on a shared cluster. On an exception the temporary file is
    removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    try:
        with os.fdopen(descriptor, mode) as stream:
            yield stream
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_write(path, "w") as stream:
        stream.write(text)
