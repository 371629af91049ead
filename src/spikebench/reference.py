"""Reference pages of the docs, written from the single sources they describe: the config schema, the
report's registry and the run contract. The docs site's hook (``docs/hooks.py``) puts them in place of a
``<!-- reference: NAME -->`` line, so a page cannot drift from what the code reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.run.contract import EPOCH_COLUMNS, EPOCH_TYPES, SUMMARY_SCHEMA
from spikebench.study.config import load_schema
from spikebench.utils.records import RECORDS_DIRECTORY, read_records


def _cell(text: Any) -> str:
    """One Markdown table cell: no line breaks, no column separators."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _resolve(node: dict, schema: dict) -> dict:
    reference = node.get("$ref")
    if reference is None:
        return node
    target: dict = schema
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{key: value for key, value in node.items() if key != "$ref"}}


def _type(node: dict, schema: dict) -> str:
    node = _resolve(node, schema)
    if "enum" in node:
        return "one of " + ", ".join(f"`{value}`" for value in node["enum"])
    if "type" not in node and "anyOf" in node:
        return " or ".join(_type(option, schema) for option in node["anyOf"])
    kind = node.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "items" in node:
        return f"list of {_type(node['items'], schema)}"
    bounds = [
        f"{word} {node[key]}"
        for key, word in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"))
        if key in node
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def config_keys(schema: dict | None = None) -> Iterator[tuple[str, dict]]:
    """Every key of the config schema as (dotted path, its resolved schema node), depth first; the keys of a
    map with free names (studies, datasets) appear under ``<name>``."""
    schema = schema or load_schema()

    def walk(node: dict, prefix: str) -> Iterator[tuple[str, dict]]:
        node = _resolve(node, schema)
        for name, child in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            yield path, _resolve(child, schema)
            yield from walk(child, f"{path}.")
        free = node.get("additionalProperties")
        if isinstance(free, dict):
            yield from walk(free, f"{prefix}<name>.")

    yield from walk(schema, "")


def config_reference() -> str:
    schema = load_schema()
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, node in config_keys(schema):
        default = f"`{json.dumps(node['default'])}`" if "default" in node else ""
        rows.append(
            f"| `{path}` | {_cell(_type(node, schema))} | {_cell(default)} | {_cell(node.get('description', ''))} |"
        )
    return "\n".join(rows)


def tables_reference() -> str:
    lines = ["## Tables", "", "| table | report category | what it holds |", "|---|---|---|"]
    lines += [f"| `{name}.csv` | {entry.category} | {_cell(entry.caption)} |" for name, entry in TABLES.items()]
    lines += ["", "## Figures", "", "| figure | report category | what it shows |", "|---|---|---|"]
    lines += [f"| `{name}.png` | {spec.category} | {_cell(spec.caption)} |" for name, spec in STUDY_FIGURES.items()]
    return "\n".join(lines)


def run_contract_reference() -> str:
    lines = ["## `epochs.csv`", "", "One row per epoch, epoch 0 the untrained network.", ""]
    lines += ["| column | type |", "|---|---|"]
    lines += [f"| `{column}` | {EPOCH_TYPES[column]} |" for column in EPOCH_COLUMNS]
    lines += ["", "## `summary.json`", "", "| field | type | required | description |", "|---|---|---|---|"]
    required = set(SUMMARY_SCHEMA["required"])
    for name, node in SUMMARY_SCHEMA["properties"].items():
        lines.append(
            f"| `{name}` | {_cell(_type(node, SUMMARY_SCHEMA))} | {'yes' if name in required else 'no'}"
            f" | {_cell(node.get('description', ''))} |"
        )
    return "\n".join(lines)


def _machine_line(record: dict) -> str:
    machine = record["machine"]
    flags = ", ".join(machine["cpu_flags"]) or "none of the listed SIMD flags"
    return (
        f"Recorded {record['date']} on {machine['cpu']} ({machine['cores']} cores; {flags}), torch"
        f" {machine['torch']}, commit `{record['commit']}`, by `{record['command']}`."
    )


def benchmark_records_reference() -> str:
    """The newest record of each benchmark in ``benchmarks/records/``, with the machine that made it."""
    lines = []
    simulation = read_records(RECORDS_DIRECTORY / "neuron_simulation.jsonl")
    if simulation:
        record = simulation[-1]
        figures = record["figures"]
        lines += [
            "### Neuron layers against per-neuron loops",
            "",
            f"{figures['neurons']} neurons x batch {figures['batch']} x {figures['steps']} steps.",
            _machine_line(record),
            "",
            "| model | layer s | NumPy loop s | speed-up | Python-float loop s | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {row['model']} | {row['layer_seconds']:.3f} | {row['numpy_loop_seconds']:.1f}"
            f" | {row['numpy_speed_up']:.0f}x | {row['float_loop_seconds']:.1f} | {row['float_speed_up']:.0f}x |"
            for row in figures["rows"]
        ]
        lines.append("")
    training = read_records(RECORDS_DIRECTORY / "train_throughput.jsonl")
    if training:
        record = training[-1]
        rows = record["figures"]["rows"]
        lines += [
            "### Training and evaluation throughput",
            "",
            _machine_line(record),
            "",
            "| neuron | train fast | train reference | ratio | % of convolution bound | eval fast | eval reference"
            " | ratio | saved for backward fast / ref MiB | bf16 / fp32 | native / eager |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            optional = [row.get("bf16_over_fp32"), row.get("native_over_eager")]
            shown = [f"{value:.2f}" if isinstance(value, float) and value == value else "" for value in optional]
            lines.append(
                f"| {row['neuron']} | {row['fast_train_samples_per_s']:.0f}"
                f" | {row['reference_train_samples_per_s']:.0f}"
                f" | {row['train_ratio']:.2f} | {100 * row['fraction_of_convolution_bound']:.0f}%"
                f" | {row['fast_eval_samples_per_s']:.0f} | {row['reference_eval_samples_per_s']:.0f}"
                f" | {row['eval_ratio']:.2f} | {row['fast_saved_mib']:.0f} / {row['reference_saved_mib']:.0f}"
                f" | {shown[0]} | {shown[1]} |"
            )
        lines += ["", "(training and evaluation in samples per second, medians of interleaved repeats)"]
    return "\n".join(lines) or "No benchmark has been recorded in this checkout yet."


REFERENCES: dict[str, Callable[[], str]] = {
    "config": config_reference,
    "report": tables_reference,
    "run-contract": run_contract_reference,
    "benchmark-records": benchmark_records_reference,
}
"""What a docs page's ``<!-- reference: NAME -->`` line is replaced with."""
