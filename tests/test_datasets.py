import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from spikebench.data.datasets import DATASETS, DataError, fetch, load_prepared, prepare

MNIST = DATASETS["mnist"]


def fetch_into(tmp_path, sources, require_canonical_checksums=False):
    return fetch(
        "mnist",
        sources=[str(source) for source in sources],
        out_dir=tmp_path / "raw",
        provenance_path=tmp_path / "provenance.json",
        require_canonical_checksums=require_canonical_checksums,
    )


def test_fetch_from_a_local_directory_records_provenance(tmp_path, shared_mnist):
    provenance = fetch_into(tmp_path, [tmp_path / "absent", shared_mnist])
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(MNIST.file_names)
    assert json.loads((tmp_path / "provenance.json").read_text()) == provenance
    files = provenance["files"]
    assert files["t10k-labels-idx1-ubyte.gz"] == {
        "source": str(shared_mnist),
        "md5": MNIST.file("test", "labels").md5,
        "canonical_md5": True,
    }
    assert files["train-images-idx3-ubyte.gz"]["canonical_md5"] is False


def test_local_source_with_other_md5_is_refused_when_canonical_checksums_are_required(tmp_path, shared_mnist):
    with pytest.raises(DataError) as caught:
        fetch_into(tmp_path, [shared_mnist], require_canonical_checksums=True)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and MNIST.file("train", "images").md5 in message
    assert not (tmp_path / "raw" / "train-images-idx3-ubyte.gz").exists()


def test_download_with_checksum_mismatch_fails_and_names_file(tmp_path, shared_mnist):
    mirror = shared_mnist.resolve().as_uri() + "/"
    with pytest.raises(DataError) as caught:
        fetch_into(tmp_path, [mirror])
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "expected the published f68b3c2dcbeaaa9fbdd348bbdeb94873" in message
    assert "--config 'datasets={mnist: {sources: [/path/to/dir]}}'" in message
    assert list((tmp_path / "raw").iterdir()) == []


def test_corrupt_local_file_fails_naming_it_and_leaves_no_output(tmp_path, shared_mnist):
    broken = tmp_path / "broken"
    shutil.copytree(shared_mnist, broken)
    target = broken / "t10k-images-idx3-ubyte.gz"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError) as caught:
        fetch_into(tmp_path, [broken])
    assert "t10k-images-idx3-ubyte.gz" in str(caught.value)
    assert "truncated or corrupt" in str(caught.value)
    assert list((tmp_path / "raw").iterdir()) == []
    assert not (tmp_path / "provenance.json").exists()


def test_offline_with_no_source_explains_the_fix(tmp_path):
    with pytest.raises(DataError) as caught:
        fetch_into(tmp_path, [tmp_path / "nowhere", "http://127.0.0.1:9/mnist/"])
    message = str(caught.value)
    assert "could not obtain train-images-idx3-ubyte.gz" in message
    assert "nowhere" in message and "download failed" in message and "--config" in message


def test_prepare_writes_a_seeded_disjoint_split(tmp_path, shared_mnist):
    fetch_into(tmp_path, [shared_mnist])
    out = tmp_path / "mnist.npz"
    metadata = prepare("mnist", tmp_path / "raw", out, validation_size=5000, split_seed=3)
    assert (metadata["num_train"], metadata["num_validation"], metadata["num_test"]) == (55_000, 5000, 10_000)
    with np.load(out) as data:
        train_index, validation_index = data["train_index"], data["validation_index"]
        assert data["train_images"].dtype == np.uint8
    assert len(np.intersect1d(train_index, validation_index)) == 0
    assert len(np.union1d(train_index, validation_index)) == 60_000
    splits, loaded_metadata = load_prepared(out)
    assert loaded_metadata == metadata
    assert splits["validation"].images.shape == (5000, 28, 28)
    assert splits["test"].labels[:3].tolist() == [7, 2, 1]
    again = tmp_path / "again.npz"
    prepare("mnist", tmp_path / "raw", again, validation_size=5000, split_seed=3)
    with np.load(again) as data:
        np.testing.assert_array_equal(data["validation_index"], validation_index)
    other = tmp_path / "other.npz"
    prepare("mnist", tmp_path / "raw", other, validation_size=5000, split_seed=4)
    with np.load(other) as data:
        assert not np.array_equal(data["validation_index"], validation_index)


def test_prepare_rejects_out_of_range_labels_and_mismatched_counts(tmp_path, shared_mnist):
    raw = tmp_path / "raw"
    fetch_into(tmp_path, [shared_mnist])
    labels = np.full(10_000, 11, dtype=np.uint8)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", len(labels)) + labels.tobytes())
    )
    with pytest.raises(DataError, match="label 11 out of range, expected 0..9"):
        prepare("mnist", raw, tmp_path / "x.npz", 100, 0)
    labels = np.zeros(9_999, dtype=np.uint8)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", len(labels)) + labels.tobytes())
    )
    with pytest.raises(DataError, match="10000 images but 9999 labels"):
        prepare("mnist", raw, tmp_path / "x.npz", 100, 0)
    assert not (tmp_path / "x.npz").exists()


def test_fashion_mnist_from_debian_package(tmp_path):
    debian = Path("/usr/share/datasets/fashion-mnist")
    if not debian.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    provenance = fetch("fashion_mnist", [str(debian)], tmp_path / "raw", tmp_path / "p.json", False)
    assert set(provenance["files"]) == set(DATASETS["fashion_mnist"].file_names)
    metadata = prepare("fashion_mnist", tmp_path / "raw", tmp_path / "f.npz", 5000, 0)
    assert metadata["num_test"] == 10_000


def test_prepare_refuses_a_validation_split_it_cannot_make(tmp_path, shared_mnist):
    fetch_into(tmp_path, [shared_mnist])
    for size in (0, 60_000):
        with pytest.raises(DataError, match="data.validation_size"):
            prepare("mnist", tmp_path / "raw", tmp_path / "x.npz", validation_size=size, split_seed=0)
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("source", ["file:///dev/zero#", "local"])
def test_a_source_that_streams_more_than_the_file_can_hold_is_refused_at_the_cap(tmp_path, shared_mnist, source):
    """``file:///dev/zero#`` (a URL whose files are all /dev/zero) and a local file grown past any gzip of its
    shape stop at the cap the registry's shape gives, naming the source, with nothing left behind."""
    if source == "local":
        grown = tmp_path / "grown"
        shutil.copytree(shared_mnist, grown)
        cap = MNIST.file("test", "labels").max_bytes
        (grown / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\0" * (cap + 1))
        source = grown
    with pytest.raises(DataError, match=r"more than [\d,]+ bytes, the most .* can hold with its shape"):
        fetch_into(tmp_path, [source])
    assert list((tmp_path / "raw").iterdir()) == []
    assert (
        sum(path.stat().st_size for path in tmp_path.rglob("*") if path.is_file() and "grown" not in path.parts) < 1e6
    )


def test_the_size_cap_admits_every_published_file():
    for spec in DATASETS.values():
        for raw in spec.files.values():
            assert raw.max_bytes > 4 + 4 * len(raw.shape) + int(np.prod(raw.shape)), raw.name
