"""Config validation against the JSON schema, and expansion of the studies into the set of runs."""

from __future__ import annotations

import copy
import functools
import importlib.resources
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators

from spikebench.data.datasets import DATASETS
from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.neurons.surrogate_widths import WidthError
from spikebench.neurons.surrogates import SURROGATES, scale_at_width, surrogate_scale
from spikebench.plugins import PluginError, load_plugins
from spikebench.study.resources import training_memory_mb
from spikebench.study.settings import RunSettings, non_finite_errors
from spikebench.utils.text import matches_whole

AXES = ("dataset", "neuron", "surrogate", "scale", "backprop", "seed")
"""What tells one run of the grid from another; ``scale`` is None (NaN in tables) where no scale applies."""


class ConfigError(ValueError):
    """The config does not match the schema; the message names every offending key."""


def _whole_string_pattern(validator, pattern, instance, schema):
    """JSON Schema's ``pattern``, matched against the whole string (``matches_whole``): jsonschema's own searches,
    so ``^name$`` would also take ``"name\\n"``, a newline that would reach paths and run ids."""
    if isinstance(instance, str) and not matches_whole(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


ConfigValidator = validators.extend(Draft202012Validator, {"pattern": _whole_string_pattern})
"""The schema's validator, patterns matched against the whole string."""


def _with_defaults(validator_class):
    """A validator class that fills in each missing property's schema default before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def key_path(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<top level>"


def describe(error: ValidationError) -> str:
    where = f"config key '{key_path(error)}'"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{where}: {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        unknown = ", ".join(sorted(set(error.instance) - set(error.schema.get("properties", {}))))
        return f"{where}: unknown key(s) {unknown}; allowed keys: {allowed}"
    if error.validator == "not" and error.validator_value == {"required": ["scale", "width"]}:
        return f"{where}: gives both scale and width; a study sweeps one of them (width compares shapes at equal width)"
    if error.validator == "pattern" and "$comment" in error.schema:
        return f"{where}: {error.instance!r} is not allowed; {error.schema['$comment']}"
    return f"{where}: {error.message}"


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Every schema violation of ``config`` as one readable line each (the innermost causes of anyOf etc.)."""
    validator = ConfigValidator(schema)
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        leaves = [error]
        while leaves and leaves[0].context:
            leaves = sorted(leaves[0].context, key=lambda e: len(list(e.absolute_path)), reverse=True)
        messages.extend(describe(leaf) for leaf in leaves[:1])
    return messages


SCHEMA_FILE = importlib.resources.files("spikebench") / "schemas" / "config.schema.yaml"
"""The config schema, shipped as package data so that an installed package validates on its own; the
workflow's ``workflow/schemas/config.schema.yaml`` is a link to it."""


@functools.cache
def _shipped_schema() -> dict:
    """The schema file as shipped, read once per process; callers copy it before changing it."""
    return yaml.safe_load(SCHEMA_FILE.read_text())


def load_schema() -> dict:
    """The config schema, its neuron and surrogate names those registered now (built-ins and plugins)."""
    schema = copy.deepcopy(_shipped_schema())
    schema["$defs"]["neuron_name"]["enum"] = list(NEURON_MODELS)
    schema["$defs"]["surrogate_name"]["enum"] = list(SURROGATES)
    return schema


def _listed_plugins(config: Any) -> list[str]:
    """The module names under ``plugins:`` that match the schema's pattern: nothing else is imported (the schema
    reports the others)."""
    listed = config.get("plugins") if isinstance(config, dict) else None
    if not isinstance(listed, list):
        return []
    module_name = _shipped_schema()["properties"]["plugins"]["items"]["pattern"]
    return [module for module in listed if isinstance(module, str) and matches_whole(module_name, module)]


def _results_directory(config: Any) -> str:
    """The results directory ``config`` names (or the schema's default), where no plugin is imported from."""
    results = config.get("results") if isinstance(config, dict) else None
    return results if isinstance(results, str) and results else "results"


RESULTS_OUTSIDE_PROJECT = "SPIKEBENCH_RESULTS_OUTSIDE_PROJECT"
"""Environment variable that lets ``results:`` be absolute or climb out with ``..``: the user's choice, never the
config's, so that a config from a colleague cannot make the workflow write elsewhere."""


def results_location_errors(results: Any) -> list[str]:
    """``results:`` stays inside the working directory unless the user allowed otherwise."""
    if not isinstance(results, str) or os.environ.get(RESULTS_OUTSIDE_PROJECT) == "1":
        return []
    path = Path(results)
    if path.is_absolute() or ".." in path.parts:
        return [
            f"config key 'results': {results!r} lies outside the working directory; use a relative path such as"
            f" results/my_study, or set {RESULTS_OUTSIDE_PROJECT}=1 in the environment to write there"
        ]
    return []


def load_config(path: str | Path) -> dict:
    """Read a config file and validate it (``validate_config``)."""
    with open(path) as stream:
        config = yaml.safe_load(stream)
    return validate_config(config)


def simulation_figure_names(schema: dict) -> list[str]:
    """The simulation figures, as the schema's ``simulation`` keys that take a ``trace_figure``."""
    figures = schema["properties"]["simulation"]["properties"]
    return [name for name, spec in figures.items() if spec["$ref"] == "#/$defs/trace_figure"]


def validate_config(config: dict) -> dict:
    """Load the plugins (``spikebench.plugins``), then validate ``config`` in place against the schema (whose
    neuron and surrogate names are the registered ones), fill defaults, and check surrogate parameters.

    Raises ``ConfigError`` listing every problem, each naming its key and, for names, the allowed values.
    """
    try:
        load_plugins(_listed_plugins(config), results=_results_directory(config))
    except PluginError as error:
        raise ConfigError(f"invalid config:\n  config key 'plugins': {error}") from None
    schema = load_schema()
    problems = non_finite_errors(config) + schema_errors(config, schema)
    if isinstance(config, dict):
        problems += results_location_errors(config.get("results"))
    if not problems:
        _with_defaults(ConfigValidator)(schema).validate(config)
        problems = (
            parameter_errors(config["model"])
            + grid_size_errors(config["studies"])
            + study_selection_errors(config)
            + sweep_errors(config["studies"], config["model"]["surrogate_params"])
        )
        problems = problems or baseline_errors(config["studies"])
        problems = problems or cross_key_errors(config)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config


def unknown_parameter_errors(
    key: str, kind: str, params_by_name: dict[str, dict[str, Any]], allowed_by_name: dict[str, dict], none: str
) -> list[str]:
    """One line per parameter under ``model.<key>.<name>`` that the registered ``kind`` ``name`` does not take
    (``allowed_by_name[name]``); ``none`` says what to write when it takes none."""
    problems = []
    for name, params in params_by_name.items():
        allowed = allowed_by_name[name]
        for unknown in sorted(set(params) - set(allowed)):
            problems.append(
                f"config key 'model.{key}.{name}.{unknown}': {kind} {name} has no parameter {unknown!r};"
                f" allowed parameters: {', '.join(allowed) or none}"
            )
    return problems


def parameter_errors(model: dict[str, Any]) -> list[str]:
    """The surrogates' and neuron models' parameters the config sets that they do not take."""
    surrogates = {name: spec.defaults for name, spec in SURROGATES.items()}
    neurons = {name: spec.parameters for name, spec in NEURON_MODELS.items()}
    return unknown_parameter_errors(
        "surrogate_params", "surrogate", model["surrogate_params"], surrogates, "none"
    ) + unknown_parameter_errors(
        "neuron_params", "neuron model", model["neuron_params"], neurons, "none (its constants are model: keys)"
    )


def study_selection_errors(config: dict) -> list[str]:
    unknown = sorted(set(config["run_studies"] or []) - set(config["studies"]))
    if not unknown:
        return []
    return [
        f"config key 'run_studies': unknown study {', '.join(map(repr, unknown))}; "
        f"allowed values: {', '.join(config['studies'])}"
    ]


FACTORS = ("neuron", "surrogate", "scale", "width", "backprop")
"""The grid axes a study can compare (seeds are its replicates, data sets its separate experiments)."""
SWEEPS = ("scale", "width")
"""Factors that exist only in a study that sweeps them: otherwise each surrogate keeps its own configured scale,
and the scale (hence the width) is part of what the surrogate is."""


def study_factors(study: dict) -> tuple[str, ...]:
    """The factors a study compares: the named axes, and ``scale`` or ``width`` where the study sweeps it."""
    return tuple(factor for factor in FACTORS if factor not in SWEEPS or factor in study)


def format_level(factor: str, value) -> str:
    """A level as tables and messages write it: scales as run ids do, widths to four significant digits."""
    if factor == "scale":
        return format_scale(value)
    if factor == "width":
        return format_width(value)
    return str(value)


def format_width(width: float) -> str:
    return f"{float(width):.4g}"


def sweep_errors(studies: dict[str, dict], surrogate_params: dict[str, dict]) -> list[str]:
    """Scales and widths must be finite, stay distinct once written as run ids or levels, and be reachable by
    every swept surrogate."""
    problems = []
    for name, study in studies.items():
        for factor in SWEEPS:
            values = study.get(factor, [])
            key = f"config key 'studies.{name}.{factor}'"
            infinite = [value for value in values if not math.isfinite(value)]
            if infinite:
                problems.append(f"{key}: {infinite[0]!r} is not a finite number; give positive finite values")
                continue
            written = [format_level(factor, value) for value in values]
            repeated = sorted({text for text in written if written.count(text) > 1})
            if repeated:
                clashing = [value for value in values if format_level(factor, value) in repeated]
                problems.append(
                    f"{key}: {', '.join(map(repr, clashing))} are one level once written as {', '.join(repeated)}"
                    f" ({'six' if factor == 'scale' else 'four'} significant digits); keep one of them"
                )
        for surrogate, width in itertools.product(study["surrogate"], study.get("width", [])):
            try:
                scale_at_width(surrogate, width, surrogate_params.get(surrogate))
            except WidthError as error:
                problems.append(f"config key 'studies.{name}.width': {error}")
    return problems


def baseline_errors(studies: dict[str, dict]) -> list[str]:
    """Every factor a study varies needs a pre-specified baseline among its levels."""
    problems = []
    for name, study in studies.items():
        baseline = study["baseline"]
        for factor in study_factors(study):
            levels = [format_level(factor, level) for level in study[factor]]
            if factor in SWEEPS and factor in baseline:
                baseline = {**baseline, factor: format_level(factor, baseline[factor])}
            key = f"config key 'studies.{name}.baseline.{factor}'"
            if factor in baseline and baseline[factor] not in levels:
                problems.append(f"{key}: {baseline[factor]!r} is not one of the study's levels {', '.join(levels)}")
            elif factor not in baseline and len(levels) > 1:
                problems.append(
                    f"{key}: the study compares {len(levels)} levels ({', '.join(levels)}); name the one every"
                    f" other level is compared with, for example baseline: {{{factor}: {levels[0]}}}"
                )
    return problems


MOST_RUNS = 100_000
"""More runs than any cluster would train (the full study has 367): a grid past it is a typo, refused before
it is expanded."""


def grid_size_errors(studies: dict[str, dict]) -> list[str]:
    """Studies whose grid would have more than ``MOST_RUNS`` combinations, counted without expanding them."""
    problems = []
    for name, study in studies.items():
        axes = ("dataset", "neuron", "surrogate", *SWEEPS, "backprop", "seed")
        size = math.prod(len(study.get(axis, [None])) for axis in axes)
        if size > MOST_RUNS:
            problems.append(
                f"config key 'studies.{name}': its grid has {size:,} combinations, more than {MOST_RUNS:,};"
                " shorten its lists (the full study has 367 runs)"
            )
    return problems


def cross_key_errors(config: dict) -> list[str]:
    """What the schema cannot say about one key alone: sizes against the data sets the studies use, and
    truncated BPTT against the sequence length. Checked before any job starts."""
    problems = []
    validation_size = config["data"]["validation_size"]
    for dataset in sorted({dataset for study in config["studies"].values() for dataset in study["dataset"]}):
        train_total = DATASETS[dataset].file("train", "labels").shape[0]
        if validation_size >= train_total:
            problems.append(
                f"config key 'data.validation_size': {validation_size} leaves no training images of {dataset}'s"
                f" {train_total}; set it below {train_total} (the shipped configs hold out 5,000 or 200)"
            )
    memory, limit = training_memory_mb(RunSettings.from_config(config)), config["max_job_memory_mb"]
    if memory > limit:
        training = config["training"]
        problems.append(
            f"config key 'training.batch_size': with batch_size {training['batch_size']}, eval_batch_size"
            f" {training['eval_batch_size']} and model.steps {config['model']['steps']} a training job needs about"
            f" {memory:,} MB, above max_job_memory_mb {limit:,}; use smaller batches or fewer steps (the full study:"
            " batch 128, eval batch 1000, 25 steps, 2,700 MB), or raise max_job_memory_mb"
        )
    steps, window = config["model"]["steps"], config["training"]["tbptt_window"]
    uses_tbptt = any("tbptt" in study["backprop"] for study in selected_studies(config).values())
    if uses_tbptt and window >= steps:
        problems.append(
            f"config key 'training.tbptt_window': {window} is not below model.steps ({steps}), so a tbptt run would"
            f" be BPTT under another name; set it to fewer than {steps} steps"
        )
    return problems


def selected_studies(config: dict) -> dict[str, dict]:
    """The studies to run: those named in ``run_studies``, or all of them."""
    names = config.get("run_studies") or list(config["studies"])
    return {name: config["studies"][name] for name in names}


def format_scale(scale: float) -> str:
    """A scale as the run id writes it: the shortest form that reads back as the same number (50, 0.5, 1e+03)."""
    return f"{float(scale):g}"


@dataclass(frozen=True)
class Run:
    """One training run: a point of the grid. ``run_id`` names its output directory.

    ``scale`` is the value of the surrogate's scale parameter (``SurrogateSpec.scale``: a slope, atan's
    alpha), None where the surrogate has none or no surrogate applies; the run id shows it as ``-k<scale>``
    after the surrogate, so runs at different scales never share a directory.
    """

    dataset: str
    neuron: str
    surrogate: str
    scale: float | None
    backprop: str
    seed: int

    @property
    def run_id(self) -> str:
        scale = "" if self.scale is None else f"-k{format_scale(self.scale)}"
        return f"{self.dataset}-{self.neuron}-{self.surrogate}{scale}-{self.backprop}-s{self.seed}"

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **{axis: getattr(self, axis) for axis in AXES}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Run:
        """The run of an ``as_dict`` record or a table row (extra keys, such as ``run_id``, are ignored; a
        missing or NaN scale is None)."""
        scale = values.get("scale")
        scale = None if scale is None or (isinstance(scale, float) and math.isnan(scale)) else float(scale)
        return cls(**{axis: values[axis] for axis in AXES if axis != "scale"}, scale=scale)


def study_runs(study: dict, surrogate_params: dict[str, dict]) -> Iterator[Run]:
    """Every combination of a study's axes. A neuron model without surrogate gets the single label 'none';
    a surrogate without a scale parameter gets scale None; with a ``width`` axis each surrogate runs at the
    scale that gives that width; without a ``scale`` or ``width`` axis, at its configured scale
    (``model.surrogate_params``, else snnTorch's default)."""
    sweep = "width" if "width" in study else "scale"
    for dataset, neuron, surrogate, value, backprop, seed in itertools.product(
        study["dataset"],
        study["neuron"],
        study["surrogate"],
        study.get(sweep) or [None],
        study["backprop"],
        study["seed"],
    ):
        params = surrogate_params.get(surrogate)
        if not NEURON_MODELS[neuron].uses_surrogate:
            surrogate, scale = NO_SURROGATE, None
        elif SURROGATES[surrogate].scale is None:
            scale = None
        elif value is None:
            scale = surrogate_scale(surrogate, params)
        else:
            scale = scale_at_width(surrogate, value, params) if sweep == "width" else value
        yield Run(dataset, neuron, surrogate, None if scale is None else float(scale), backprop, seed)


def _study_run_ids(config: dict, study: dict) -> list[str]:
    return sorted({run.run_id for run in study_runs(study, config["model"]["surrogate_params"])})


def expand_runs(config: dict) -> dict[str, Run]:
    """The union of all studies' runs, keyed and sorted by run id."""
    runs = {
        run.run_id: run
        for study in selected_studies(config).values()
        for run in study_runs(study, config["model"]["surrogate_params"])
    }
    return dict(sorted(runs.items()))


def runs_by_study(config: dict) -> dict[str, list[str]]:
    """Run ids of each study (a run shared by two studies is listed in both)."""
    return {name: _study_run_ids(config, study) for name, study in selected_studies(config).items()}


def study_designs(config: dict) -> dict[str, dict]:
    """Per selected study: its run ids, the factors it compares and its baseline levels, for the comparisons."""
    return {
        name: {
            "runs": _study_run_ids(config, study),
            "factors": list(study_factors(study)),
            "baseline": study["baseline"],
            "equivalence_margin": study["equivalence_margin"] / 100,
        }
        for name, study in selected_studies(config).items()
    }


def skipped_combinations(config: dict) -> list[dict[str, str]]:
    """Neuron x surrogate pairs a study asked for that collapse onto one run, because no surrogate applies."""
    skipped = set()
    for study in selected_studies(config).values():
        for neuron in study["neuron"]:
            if not NEURON_MODELS[neuron].uses_surrogate:
                skipped.update((neuron, surrogate) for surrogate in study["surrogate"])
    return [{"neuron": neuron, "surrogate": surrogate} for neuron, surrogate in sorted(skipped)]
