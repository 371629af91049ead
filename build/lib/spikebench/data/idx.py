"""Reader for the IDX format of MNIST-like data sets, with the checks a corrupt download needs.

IDX (LeCun et al.): a big-endian header ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the data. MNIST and Fashion-MNIST only use unsigned bytes (code ``0x08``), images as
``[N, 28, 28]`` and labels as ``[N]``.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

UNSIGNED_BYTE = 0x08


class DataError(RuntimeError):
    """A data file is missing, truncated, corrupt or does not have the expected content."""


def read_idx_bytes(raw: bytes, name: str) -> np.ndarray:
    """Parse the bytes of one decompressed IDX file; ``name`` is used in error messages."""
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX header (4 bytes expected)")
    zero1, zero2, dtype_code, ndim = raw[:4]
    if zero1 != 0 or zero2 != 0:
        raise DataError(
            f"{name}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x0000 followed by type and rank);"
            " the file is not an IDX file or is corrupt"
        )
    if dtype_code != UNSIGNED_BYTE:
        raise DataError(f"{name}: IDX data type 0x{dtype_code:02x}, expected unsigned byte (0x08)")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{name}: truncated IDX header ({len(raw)} bytes, {header_size} expected)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) if shape else 0
    actual = len(raw) - header_size
    if actual != expected:
        raise DataError(
            f"{name}: IDX header announces shape {shape} ({expected} bytes of data) but the file holds"
            f" {actual} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    """Read a (gzip-compressed or plain) IDX file into a uint8 array, failing clearly on corruption."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        raise DataError(f"{path}: cannot decompress ({error}); the file is truncated or corrupt") from error
    return read_idx_bytes(raw, str(path))
