"""Every conda environment lists what its rules' scripts import (conda channels cannot be reached here)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGE = REPO / "src/spikebench"
DISTRIBUTIONS = {"yaml": "pyyaml"}
"""Import names whose distribution is named otherwise."""


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def third_party_imports(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level third-party packages imported by ``path``, following imports of spikebench modules."""
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    packages = set()
    for module in imported_modules(path):
        top = module.split(".")[0]
        if top == "spikebench":
            parts = module.split(".")[1:]
            # Importing a module runs the __init__ of every package above it.
            candidates = [PACKAGE.joinpath(*parts[:depth], "__init__.py") for depth in range(len(parts) + 1)]
            if parts:
                candidates.append(PACKAGE.joinpath(*parts).with_suffix(".py"))
            for candidate in candidates:
                if candidate.is_file():
                    packages |= third_party_imports(candidate, seen)
        elif top not in sys.stdlib_module_names and top != "__future__":
            packages.add(DISTRIBUTIONS.get(top, top))
    return packages


def rules_with_scripts() -> list[tuple[str, Path, Path]]:
    """(rule, env file, script) for every rule of workflow/rules that runs a script."""
    found = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":")[0]
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if script:
                assert env, f"rule {name} runs a script without a conda environment"
                found.append((name, (smk.parent / env.group(1)).resolve(), (smk.parent / script.group(1)).resolve()))
    return found


def env_packages(env_file: Path) -> set[str]:
    spec = yaml.safe_load(env_file.read_text())
    names = set()
    for dependency in spec["dependencies"]:
        entries = dependency["pip"] if isinstance(dependency, dict) else [dependency]
        names.update(re.split(r"[=<>!~ \[]", entry)[0].lower() for entry in entries)
    return names


RULES = rules_with_scripts()


def test_every_rule_is_found():
    assert {"fetch_dataset", "prepare_dataset", "simulate"} <= {name for name, _, _ in RULES}


@pytest.mark.parametrize(("rule", "env_file", "script"), RULES, ids=[rule for rule, _, _ in RULES])
def test_environment_lists_what_the_script_imports(rule, env_file, script):
    assert env_file.is_file(), f"rule {rule}: {env_file} does not exist"
    assert (env_file.parent / f"{env_file.stem}.post-deploy.sh").is_file(), "spikebench must be installed"
    missing = third_party_imports(script) - env_packages(env_file)
    assert not missing, f"rule {rule}: {env_file.name} lacks {sorted(missing)} imported by {script.name}"


def test_every_environment_pins_every_package():
    for env_file in (REPO / "envs").glob("*.yaml"):
        spec = yaml.safe_load(env_file.read_text())
        for dependency in spec["dependencies"]:
            entries = dependency["pip"] if isinstance(dependency, dict) else [dependency]
            for entry in entries:
                assert entry == "pip" or re.search(r"==?\d", entry), f"{env_file.name}: {entry} is not pinned"


def test_pyproject_lists_what_the_package_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[=<>!~ \[]", entry)[0].lower() for entry in project["dependencies"]}
    imported = set().union(*(third_party_imports(path) for path in PACKAGE.glob("*.py")))
    assert imported <= declared, sorted(imported - declared)


def test_the_base_install_has_what_snakemakes_report_needs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[=<>!~ \[]", entry)[0].lower() for entry in project["dependencies"]}
    assert {"snakemake", "pygments"} <= declared, "snakemake --report fails without pygments"
