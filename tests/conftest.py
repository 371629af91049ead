from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared/data/mnist"


def load_yaml(path):
    with open(path) as stream:
        return yaml.safe_load(stream)


@pytest.fixture
def full_config():
    return load_yaml(REPO / "config/config.yaml")


@pytest.fixture
def quick_config():
    return load_yaml(REPO / "config/quick.yaml")


@pytest.fixture
def shared_mnist():
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the offline MNIST copy is not at {SHARED_MNIST}")
    return SHARED_MNIST
