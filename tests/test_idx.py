import gzip
import struct

import numpy as np
import pytest

from spikebench.data.idx import DataError, read_idx, read_idx_bytes


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_round_trip_of_a_crafted_file(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(path), images)
    plain = tmp_path / "labels-idx1-ubyte"
    plain.write_bytes(idx_bytes(np.array([3, 1, 4], dtype=np.uint8)))
    assert read_idx(plain).tolist() == [3, 1, 4]


def test_real_mnist_files(shared_mnist):
    labels = read_idx(shared_mnist / "t10k-labels-idx1-ubyte.gz")
    images = read_idx(shared_mnist / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and set(np.unique(labels)) == set(range(10))
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic"),
        (b"\x00\x00\x0d\x01" + b"\x00\x00\x00\x01" + b"\x05", "data type 0x0d"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"\x01\x02", "truncated or corrupt"),
    ],
)
def test_corrupt_headers_are_named(raw, expected):
    with pytest.raises(DataError, match=expected) as caught:
        read_idx_bytes(raw, "crafted.idx")
    assert "crafted.idx" in str(caught.value)


def test_truncated_gzip_names_the_file(tmp_path, shared_mnist):
    data = (shared_mnist / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_corrupt_gzip_body_names_the_file(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 10)))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=str(path)):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "absent.gz")
