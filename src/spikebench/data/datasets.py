"""MNIST-like data sets: where their four IDX files come from, how they are checked, and the compact file.

The registry ``DATASETS`` is the single place that knows each data set's files, published checksums and
shapes. ``fetch`` gathers the four raw files from an ordered list of sources (local directories or mirror
URLs); ``prepare`` parses them and writes one ``.npz`` that every training job loads straight into memory.

torchvision is not used: its only builds on the package index here are CUDA builds that do not import
beside the CPU torch, and the IDX format is simple enough to read with numpy (``spikebench.data.idx``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from spikebench.data.idx import DataError, read_idx
from spikebench.utils.atomic import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
KINDS = ("images", "labels")
DOWNLOAD_TIMEOUT_S = 60
STAGING_PREFIX = ".fetch-"
"""Where a fetch stages its files; one a killed fetch left behind is removed by the next."""


@dataclass(frozen=True)
class RawFile:
    name: str
    md5: str
    shape: tuple[int, ...]

    @property
    def max_bytes(self) -> int:
        """The most a copy of this file may hold: the IDX content its shape gives (one byte per value after a
        header of 4 bytes per dimension and 4 of magic), plus gzip's worst case for incompressible data (5 bytes
        per 16 KiB block and its own header). A source that streams more is not this file."""
        content = math.prod(self.shape) + 4 * len(self.shape) + 4
        return content + 5 * (content // 16_384 + 1) + 1_024


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    num_classes: int
    files: dict[tuple[str, str], RawFile]

    def file(self, split: str, kind: str) -> RawFile:
        return self.files[(split, kind)]

    @property
    def file_names(self) -> list[str]:
        return [raw.name for raw in self.files.values()]


def _idx_files(md5s: dict[str, str]) -> dict[tuple[str, str], RawFile]:
    sizes = {"train": 60_000, "test": 10_000}
    prefixes = {"train": "train", "test": "t10k"}
    files = {}
    for split in SPLITS:
        for kind in KINDS:
            rank = 3 if kind == "images" else 1
            name = f"{prefixes[split]}-{kind}-idx{rank}-ubyte.gz"
            shape = (sizes[split], 28, 28) if kind == "images" else (sizes[split],)
            files[(split, kind)] = RawFile(name=name, md5=md5s[name], shape=shape)
    return files


# md5s of the .gz files as published by the data sets' authors (and checked by torchvision).
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        num_classes=10,
        files=_idx_files(
            {
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            }
        ),
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        num_classes=10,
        files=_idx_files(
            {
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            }
        ),
    ),
}


def raw_file_names() -> list[str]:
    """The raw file names, which every registered data set shares (the fetch rule declares one set of outputs
    for all of them); an error names the data set that breaks the rule."""
    names = next(iter(DATASETS.values())).file_names
    for spec in DATASETS.values():
        if spec.file_names != names:
            raise ValueError(f"data set {spec.name} names its raw files {spec.file_names}, the others {names}")
    return names


def sources_key(sources: list[str]) -> str:
    """A short digest naming where a data set comes from: local directories by their resolved absolute path (the
    same directory written two ways is one source), URLs as written. Raw files live under it, so that configs
    reading the same directory share one copy and a config with other sources gets its own, and neither
    invalidates the other's runs."""
    return hashlib.sha256("\n".join(resolved_sources(sources)).encode()).hexdigest()[:12]


def resolved_sources(sources: list[str]) -> list[str]:
    """``sources`` with local directories as resolved absolute paths (URLs as written): what the fetch is given,
    so that the same directory written another way changes neither its parameters nor its inputs."""
    return [source if is_url(source) else os.path.realpath(source) for source in sources]


def local_source_files(sources: list[str]) -> list[str]:
    """The raw files present in the local directories among ``sources``: the fetch rule's inputs, so that a
    source file that changes is fetched again."""
    names = raw_file_names()
    return [
        str(Path(source) / name)
        for source in sources
        if not is_url(source)
        for name in names
        if (Path(source) / name).is_file()
    ]


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "file://"))


def sources_fix_hint(dataset: str) -> str:
    return (
        f"To fix it, put the four files ({', '.join(DATASETS[dataset].file_names)}) in a directory and pass it"
        f" as the first source: --config 'datasets={{{dataset}: {{sources: [/path/to/dir]}}}}'"
    )


def _check_structure(path: Path, raw: RawFile, num_classes: int) -> None:
    """What ``prepare`` will need of the file: IDX magic and type, the published shape, labels in range."""
    array = read_idx(path)
    if array.shape != raw.shape:
        raise DataError(f"{path}: shape {array.shape}, expected {raw.shape} for {raw.name}")
    if len(raw.shape) == 1:
        check_label_range(path, array, num_classes)


def check_label_range(path: Path, labels: np.ndarray, num_classes: int) -> None:
    if labels.size and labels.max() >= num_classes:
        raise DataError(
            f"{path}: label {int(labels.max())} out of range, expected 0..{num_classes - 1}; the file is corrupt or"
            " belongs to another data set"
        )


def _obtain(source: str, raw: RawFile, staging: Path) -> tuple[Path, str]:
    """Copy or download one raw file from one source into ``staging``; return it and where it came from."""
    target = staging / raw.name
    if is_url(source):
        url = source.rstrip("/") + "/" + raw.name
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                _copy_at_most(response, target, raw, url)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise DataError(f"{url}: download failed ({error})") from error
        return target, url
    candidate = Path(source) / raw.name
    if not candidate.is_file():
        raise DataError(f"{candidate}: no such file")
    with open(candidate, "rb") as stream:
        _copy_at_most(stream, target, raw, str(candidate))
    return target, str(candidate)


COPY_CHUNK_BYTES = 1 << 20


def _copy_at_most(stream: BinaryIO, target: Path, raw: RawFile, origin: str) -> None:
    """Copy ``stream`` to ``target``, refusing it as soon as it exceeds ``raw.max_bytes``: a source must not
    fill the disk (``file:///dev/zero``, a server that never stops)."""
    written = 0
    with open(target, "wb") as out:
        while chunk := stream.read(COPY_CHUNK_BYTES):
            written += len(chunk)
            if written > raw.max_bytes:
                out.close()
                target.unlink()
                raise DataError(
                    f"{origin}: more than {raw.max_bytes:,} bytes, the most {raw.name} can hold with its shape"
                    f" {raw.shape}; the source is not this file"
                )
            out.write(chunk)


def _check_origin(path: Path, origin: str, raw: RawFile, num_classes: int, must_be_canonical: bool) -> str:
    """Check the staged copy of ``origin``; errors name ``origin``, not the staging path. Returns the md5."""
    md5 = md5_of(path)
    if md5 != raw.md5 and must_be_canonical:
        raise DataError(f"{origin}: md5 {md5}, expected the published {raw.md5}")
    try:
        _check_structure(path, raw, num_classes)
    except DataError as error:
        raise DataError(str(error).replace(str(path), origin)) from None
    return md5


def fetch(
    dataset: str,
    sources: list[str],
    out_dir: str | Path,
    provenance_path: str | Path,
    require_canonical_checksums: bool,
) -> dict:
    """Gather the data set's four raw files into ``out_dir``, trying ``sources`` in order for each file.

    Downloads must match the published md5. A file from a local directory must have the right IDX structure;
    if its md5 differs from the published one it is accepted with a warning (some mirrors and Debian's
    packages recompress the archives) unless ``require_canonical_checksums``. Files land in ``out_dir`` only
    once all four are good, so a failure leaves no partial output. Returns the provenance record (where each
    file came from, its md5), also written to ``provenance_path``.
    """
    spec = DATASETS[dataset]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not sources:
        raise DataError(f"{dataset}: no sources configured. {sources_fix_hint(dataset)}")
    provenance = {"dataset": dataset, "files": {}}
    for leftover in out_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=STAGING_PREFIX) as staging_name:
        staging = Path(staging_name)
        for raw in spec.files.values():
            failures = []
            for source in sources:
                try:
                    path, origin = _obtain(source, raw, staging)
                    must_be_canonical = is_url(source) or require_canonical_checksums
                    md5 = _check_origin(path, origin, raw, spec.num_classes, must_be_canonical)
                except DataError as error:
                    failures.append(str(error))
                    log.warning("%s", error)
                    continue
                canonical = md5 == raw.md5
                if not canonical:
                    log.warning(
                        "%s: md5 %s differs from the published %s; accepted because it is a local"
                        " source with a valid IDX structure (set require_canonical_checksums to refuse it)",
                        origin,
                        md5,
                        raw.md5,
                    )
                log.info("%s: taken from %s (md5 %s)", raw.name, origin, md5)
                provenance["files"][raw.name] = {"source": source, "md5": md5, "canonical_md5": canonical}
                break
            else:
                tried = "\n  ".join(failures)
                raise DataError(
                    f"{dataset}: could not obtain {raw.name} from any source. Tried, in order:\n  {tried}\n"
                    f"{sources_fix_hint(dataset)}"
                )
        for raw in spec.files.values():
            os.replace(staging / raw.name, out_dir / raw.name)
    atomic_write_text(provenance_path, json.dumps(provenance, indent=2) + "\n")
    return provenance


def load_raw(dataset: str, raw_dir: str | Path) -> dict[str, np.ndarray]:
    """Parse and validate the four raw files: shapes, matching counts and label range."""
    spec = DATASETS[dataset]
    raw_dir = Path(raw_dir)
    arrays = {}
    for (split, kind), raw in spec.files.items():
        path = raw_dir / raw.name
        array = read_idx(path)
        if array.shape[1:] != raw.shape[1:] or array.ndim != len(raw.shape):
            raise DataError(f"{path}: shape {array.shape}, expected [N, {', '.join(map(str, raw.shape[1:]))}]")
        if kind == "labels":
            check_label_range(path, array, spec.num_classes)
        arrays[f"{split}_{kind}"] = array
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise DataError(
                f"{dataset} {split}: {len(images)} images but {len(labels)} labels in {raw_dir};"
                " the files do not belong together"
            )
    return arrays


PREPARED_SETTINGS = ("dataset", "validation_size", "split_seed")
"""What a compact data file was made with, checked against what a run expects."""


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes, in name order: the compact file's checksum."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def prepare(dataset: str, raw_dir: str | Path, out_path: str | Path, validation_size: int, split_seed: int) -> dict:
    """Write the compact data file: uint8 images, labels, and a seeded train/validation split.

    The validation split holds ``validation_size`` training images chosen by ``split_seed``; the test set is
    never touched by the split. Written atomically. Returns the metadata stored with the arrays.
    """
    arrays = load_raw(dataset, raw_dir)
    num_train = len(arrays["train_labels"])
    if not 0 < validation_size < num_train:
        raise DataError(
            f"{dataset}: validation_size {validation_size} must be in [1, {num_train}) for {num_train} training"
            " images (early stopping needs a validation split); set data.validation_size in the config"
        )
    permutation = np.random.default_rng(split_seed).permutation(num_train)
    validation_index = np.sort(permutation[:validation_size]).astype(np.int64)
    train_index = np.sort(permutation[validation_size:]).astype(np.int64)
    contents = {**arrays, "train_index": train_index, "validation_index": validation_index}
    metadata = {
        "dataset": dataset,
        "validation_size": validation_size,
        "split_seed": split_seed,
        "num_train": int(len(train_index)),
        "num_validation": int(len(validation_index)),
        "num_test": int(len(arrays["test_labels"])),
        "num_classes": DATASETS[dataset].num_classes,
        "raw_sha256": {name: hashlib.sha256(arrays[name].tobytes()).hexdigest() for name in sorted(arrays)},
        "source_md5": {raw.name: md5_of(Path(raw_dir) / raw.name) for raw in DATASETS[dataset].files.values()},
        "content_sha256": content_digest(contents),
    }
    with atomic_write(out_path) as out:
        np.savez(out, metadata=np.array(json.dumps(metadata)), **contents)
    log.info(
        "%s: %d train, %d validation, %d test images written to %s",
        dataset,
        metadata["num_train"],
        metadata["num_validation"],
        metadata["num_test"],
        out_path,
    )
    return metadata


@dataclass(frozen=True)
class SplitData:
    images: np.ndarray
    labels: np.ndarray


def load_prepared(path: str | Path, expected: dict | None = None) -> tuple[dict[str, SplitData], dict]:
    """Load a compact data file into memory: ``{"train", "validation", "test"}`` splits plus metadata.

    Never unpickles (``allow_pickle=False``). The content must match the checksum recorded when it was made,
    and, where given, ``expected`` settings (``PREPARED_SETTINGS``) those it was made with; a file that cannot
    be read, is corrupt or was made otherwise raises ``DataError`` naming it and the command that rebuilds it.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            metadata = json.loads(str(data["metadata"]))
            contents = {name: data[name] for name in data.files if name != "metadata"}
    except FileNotFoundError:
        raise DataError(f"{path}: no such compact data file. {rebuild_hint(path)}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path}: not a readable compact data file ({type(error).__name__}); it is truncated, corrupt or of"
            f" another kind. {rebuild_hint(path)}"
        ) from None
    if "content_sha256" not in metadata:
        raise DataError(f"{path}: written by an older spikebench without a checksum. {rebuild_hint(path)}")
    if content_digest(contents) != metadata["content_sha256"]:
        raise DataError(
            f"{path}: its content checksum differs from the one recorded when it was made; the file is corrupt or"
            f" was changed. {rebuild_hint(path)}"
        )
    differing = [key for key in PREPARED_SETTINGS if expected and key in expected and metadata[key] != expected[key]]
    if differing:
        made = ", ".join(f"{key} {metadata[key]}" for key in differing)
        wanted = ", ".join(f"{key} {expected[key]}" for key in differing)
        raise DataError(f"{path}: made with {made}, but this run's config asks for {wanted}. {rebuild_hint(path)}")
    train_images, train_labels = contents["train_images"], contents["train_labels"]
    train, validation = contents["train_index"], contents["validation_index"]
    splits = {
        "train": SplitData(train_images[train], train_labels[train]),
        "validation": SplitData(train_images[validation], train_labels[validation]),
        "test": SplitData(contents["test_images"], contents["test_labels"]),
    }
    return splits, metadata


def rebuild_hint(path: str | Path) -> str:
    return f"Rebuild it: snakemake --cores 1 --force {path} (with the study's --configfile, if any)"
