"""The docs: reference pages generated from the single sources, every command block run by a test or marked
as not run, no lab-notebook wording, and the README short."""

import re

import pytest

from conftest import REPO
from spikebench.reference import REFERENCES, config_keys, config_reference, run_contract_reference
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.run.contract import EPOCH_COLUMNS, SUMMARY_FIELDS
from spikebench.study.config import load_schema

PAGES = [REPO / "README.md", REPO / "config/README.md", *sorted((REPO / "docs").rglob("*.md"))]
COMMAND_BLOCK = re.compile(r"(?:^(<!-- (?:not run|tested)[^\n]*-->)\n)?^```(?:bash|console|sh)\n", re.MULTILINE)
NOTEBOOK = re.compile(r"\b(?:session|today's code|earlier session|issue \d+)", re.IGNORECASE)


def schema_leaves(node, schema, prefix=""):
    """Every property path of the schema, resolved by hand (independent of the reference's walk)."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    for name, child in node.get("properties", {}).items():
        yield f"{prefix}{name}"
        yield from schema_leaves(child, schema, f"{prefix}{name}.")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_leaves(node["additionalProperties"], schema, f"{prefix}<name>.")


def test_the_config_reference_lists_every_schema_key():
    schema = load_schema()
    page = config_reference()
    expected = list(schema_leaves(schema, schema))
    assert [path for path, _ in config_keys(schema)] == expected
    for path in expected:
        assert f"| `{path}` |" in page, path
    assert "`training.patience`" in page and "`studies.<name>.baseline`" in page


def test_the_contract_and_report_references_name_every_column_field_table_and_figure():
    page = run_contract_reference()
    for name in [*EPOCH_COLUMNS, *SUMMARY_FIELDS]:
        assert f"| `{name}` |" in page, name
    report = REFERENCES["report"]()
    for name in [*(f"{table}.csv" for table in TABLES), *(f"{figure}.png" for figure in STUDY_FIGURES)]:
        assert f"| `{name}` |" in report, name


def test_every_reference_marker_names_a_reference():
    for page in (REPO / "docs").rglob("*.md"):
        for name in re.findall(r"<!-- reference: ([\w-]+) -->", page.read_text()):
            assert name in REFERENCES, (page, name)


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_command_block_is_tested_or_marked_not_run(page):
    text = page.read_text()
    for match in COMMAND_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        assert match.group(1), f"{page.name}:{line}: a command block needs <!-- tested: ... --> or <!-- not run -->"
        tested = re.match(r"<!-- tested: (\S+)", match.group(1))
        if tested:
            assert (REPO / tested.group(1)).is_file(), f"{page.name}:{line}: {tested.group(1)} does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(REPO)))
def test_pages_describe_the_software_not_its_history(page):
    assert not NOTEBOOK.findall(page.read_text()), page


def test_the_readme_is_a_short_guide():
    assert len((REPO / "README.md").read_text().splitlines()) < 250
