"""The package stands on its own: built as a wheel and installed outside the checkout, its commands find the
schemas and templates they ship with and need nothing from the checkout."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from helpers import config_for, synthetic_data_file
from spikebench.study.config import expand_runs


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel of this checkout installed into a directory of its own (its dependencies are this
    interpreter's), and the environment that puts it first on the path."""
    root = tmp_path_factory.mktemp("install")
    # Built from a copy: setuptools leaves a build/ directory beside the sources it builds.
    source = root / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root, source],
        check=True,
    )
    (wheel,) = root.glob("spikebench-*.whl")
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel], check=True)
    return target, {**os.environ, "PYTHONPATH": str(target)}


def run_installed(installed, cwd, *command):
    _, environment = installed
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    target, _ = installed
    found = run_installed(installed, tmp_path, sys.executable, "-c", "import spikebench; print(spikebench.__file__)")
    assert found.stdout.startswith(str(target)), found.stdout + found.stderr
    for data in ("schemas/config.schema.yaml", "schemas/summary.schema.json", "report/templates/summary.html.j2"):
        assert (target / "spikebench" / data).is_file(), f"{data} is not in the wheel"


def test_the_commands_work_from_an_installed_wheel(installed, tmp_path):
    config = config_for(model={"steps": 2}, training={"max_epochs": 1, "patience": 1})
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    estimate = run_installed(
        installed, tmp_path, sys.executable, "-m", "spikebench.run.estimate", "--config", config_path, "--cores", "1"
    )
    assert estimate.returncode == 0, estimate.stderr
    assert "1 runs; jobs not counted" in estimate.stdout, "no Snakefile outside the checkout: only the runs count"
    data = synthetic_data_file(tmp_path)
    (run_id,) = expand_runs(config)
    train = run_installed(
        installed,
        tmp_path,
        sys.executable,
        "-m",
        "spikebench.run",
        "--config",
        config_path,
        "--run",
        run_id,
        "--data",
        data,
        "--out",
        tmp_path / "run",
    )
    assert train.returncode == 0, train.stderr
    assert json.loads((tmp_path / "run/summary.json").read_text())["run_id"] == run_id
