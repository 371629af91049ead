import copy

import pytest
import torch

from conftest import REPO, load_yaml
from spikebench.model.backprop import BACKPROP_METHODS
from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.neurons.surrogates import SURROGATES, surrogate_scale, surrogate_width, with_scale
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.report.simulation import SIMULATION_FIGURES
from spikebench.run.setup import build_model
from spikebench.study.config import (
    ConfigError,
    Run,
    expand_runs,
    load_schema,
    runs_by_study,
    simulation_figure_names,
    skipped_combinations,
    study_designs,
    validate_config,
)
from spikebench.study.settings import RunSettings
from spikebench.utils.registry import by_name

FULL_STUDY_RUNS = 367
"""surrogates: 5 surrogate-using neurons x 8 x 5 seeds + abss x 5 seeds = 205; backprop: 4 neurons x 4 methods
x 3 seeds = 48, of which the 12 BPTT/ATan runs with seeds 0-2 are already in the surrogates study; scale: 2
neurons x 3 surrogates x 7 widths x 3 seeds = 126, none at the surrogates study's slope 50 or alpha 2:
205 + 36 + 126 = 367."""


def invalid(config):
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_yaml(REPO / "config" / name)
    validate_config(config)


def test_defaults_are_filled(full_config):
    validate_config(full_config)
    assert full_config["model"]["lif"] == {"tau": 2.0, "dt": 1.0, "threshold": 1.0, "reset": 0.0}
    assert full_config["data"]["limit_train"] is None
    assert full_config["datasets"]["mnist"]["require_canonical_checksums"] is False
    assert full_config["training"]["adam_eps"] == 1e-7


def test_minimal_config_takes_every_default():
    config = {
        "studies": {
            "one": {"dataset": ["mnist"], "neuron": ["leaky"], "surrogate": ["atan"], "backprop": ["bptt"], "seed": [0]}
        }
    }
    validate_config(config)
    assert config["training"]["batch_size"] == 128
    assert config["model"]["beta"] == 0.5 and config["model"]["alpha"] == 0.9
    assert config["data"]["validation_size"] == 5000
    assert config["simulation"]["lif_single"]["steps"] == 200


def test_unknown_neuron_names_the_value_and_allowed_names(full_config):
    full_config["studies"]["surrogates"]["neuron"] = ["leakyy"]
    message = invalid(full_config)
    assert "studies.surrogates.neuron[0]" in message
    assert "'leakyy'" in message
    for name in NEURON_MODELS:
        assert name in message


def test_unknown_surrogate_is_rejected(full_config):
    full_config["studies"]["backprop"]["surrogate"] = ["arctan"]
    message = invalid(full_config)
    assert "'arctan'" in message and "atan" in message and "studies.backprop.surrogate[0]" in message


def test_wrong_key_lists_allowed_keys(full_config):
    full_config["training"]["batchsize"] = 64
    message = invalid(full_config)
    assert "config key 'training'" in message and "batchsize" in message and "batch_size" in message


def test_negative_count_and_string_number_are_rejected(full_config):
    full_config["training"]["max_epochs"] = -3
    full_config["model"]["steps"] = "25"
    message = invalid(full_config)
    assert "training.max_epochs" in message and "minimum" in message
    assert "model.steps" in message and "not of type 'integer'" in message


def test_every_problem_is_reported_at_once(full_config):
    full_config["device"] = "tpu"
    full_config["data"]["validation_size"] = -1
    message = invalid(full_config)
    assert "device" in message and "data.validation_size" in message


def test_unknown_surrogate_parameter_is_rejected(full_config):
    full_config["model"]["surrogate_params"] = {"atan": {"slope": 3.0}}
    message = invalid(full_config)
    assert "model.surrogate_params.atan.slope" in message and "alpha" in message


def test_schema_enums_match_the_registries():
    schema = load_schema()
    assert schema["$defs"]["neuron_name"]["enum"] == list(NEURON_MODELS)
    assert schema["$defs"]["surrogate_name"]["enum"] == list(SURROGATES)
    assert schema["$defs"]["backprop_name"]["enum"] == list(BACKPROP_METHODS)
    assert simulation_figure_names(schema) == list(SIMULATION_FIGURES)


def test_full_config_expands_to_the_pinned_number_of_unique_runs(full_config):
    validate_config(full_config)
    runs = expand_runs(full_config)
    assert len(runs) == FULL_STUDY_RUNS
    assert len(set(runs.values())) == FULL_STUDY_RUNS
    by_study = runs_by_study(full_config)
    assert len(by_study["surrogates"]) == 205
    assert len(by_study["backprop"]) == 48
    assert len(by_study["scale"]) == 2 * 3 * 7 * 3
    assert len(set(by_study["surrogates"]) & set(by_study["backprop"])) == 12
    assert not set(by_study["surrogates"]) & set(by_study["scale"]), "no width is slope 50 or alpha 2"


def test_the_full_scale_study_sweeps_widths_and_each_surrogate_runs_at_the_scale_of_that_width(full_config):
    validate_config(full_config)
    assert study_designs(full_config)["scale"]["factors"] == ["neuron", "surrogate", "width", "backprop"]
    runs = [expand_runs(full_config)[run_id] for run_id in runs_by_study(full_config)["scale"]]
    widths = {(run.surrogate, float(f"{surrogate_width(run.surrogate, scale=run.scale):.4g}")) for run in runs}
    assert widths == {
        (surrogate, width)
        for surrogate in ("fast_sigmoid", "sigmoid", "atan")
        for width in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    }
    assert "mnist-leaky-fast_sigmoid-k41.4214-bptt-s0" in runs_by_study(full_config)["scale"]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"scale": [float("nan")]}, "nan is not a finite number"),
        ({"width": [float("nan")]}, "nan is not a finite number"),
        ({"scale": [50, 50.0000001]}, "50, 50.0000001 are one level once written as 50 (six significant digits)"),
        ({"width": [0.1, 0.100001]}, "are one level once written as 0.1 (four significant digits)"),
        ({"width": [0.1], "scale": [5]}, "gives both scale and width"),
        ({"width": [0.1]}, "spike_rate_escape cannot be set to width 0.1: its slope does not change the width"),
        ({"width": [0.2]}, "sparse_fast_sigmoid with B = 1 is at least 0.4142 wide at any slope"),
    ],
)
def test_sweeps_that_cannot_name_distinct_runs_are_refused(full_config, sweep, message):
    surrogates = ["fast_sigmoid", "spike_rate_escape" if "escape" in message else "sparse_fast_sigmoid"]
    study = {"dataset": ["mnist"], "neuron": ["leaky"], "surrogate": surrogates, "backprop": ["bptt"], "seed": [0]}
    full_config["studies"] = {"sweep": {**study, **sweep, "baseline": {"surrogate": "fast_sigmoid"}}}
    assert message in invalid(full_config)


def test_run_ids_are_stable_and_readable(full_config):
    validate_config(full_config)
    runs = expand_runs(full_config)
    assert "mnist-leaky-fast_sigmoid-k50-bptt-s0" in runs
    assert "mnist-lapicque-atan-k2-rtrl-s2" in runs
    assert "mnist-leaky-triangular-bptt-s0" in runs
    run = runs["mnist-synaptic-sigmoid-k50-bptt-s4"]
    assert (run.dataset, run.neuron, run.surrogate, run.scale, run.backprop, run.seed) == (
        "mnist",
        "synaptic",
        "sigmoid",
        50.0,
        "bptt",
        4,
    )
    assert Run.from_dict(run.as_dict()) == run
    assert Run.from_dict({**run.as_dict(), "scale": float("nan")}).scale is None
    assert list(runs) == sorted(runs)
    assert expand_runs(copy.deepcopy(full_config)) == runs


def test_neuron_without_surrogate_runs_once_per_seed(full_config):
    validate_config(full_config)
    abss_runs = [run for run in expand_runs(full_config).values() if run.neuron == "abss"]
    assert sorted(run.run_id for run in abss_runs) == [f"mnist-abss-{NO_SURROGATE}-bptt-s{seed}" for seed in range(5)]
    skipped = skipped_combinations(full_config)
    assert {"neuron": "abss", "surrogate": "atan"} in skipped
    assert len(skipped) == len(SURROGATES)


def test_scale_axis_sets_each_surrogates_own_parameter(full_config):
    study = {
        "dataset": ["mnist"],
        "neuron": ["leaky", "abss"],
        "surrogate": ["fast_sigmoid", "atan", "triangular"],
        "scale": [0.5, 100],
        "backprop": ["bptt"],
        "seed": [0],
        "baseline": {"neuron": "leaky", "surrogate": "fast_sigmoid", "scale": 100},
    }
    full_config["studies"] = {"sweep": study}
    validate_config(full_config)
    assert sorted(expand_runs(full_config)) == [
        "mnist-abss-none-bptt-s0",
        "mnist-leaky-atan-k0.5-bptt-s0",
        "mnist-leaky-atan-k100-bptt-s0",
        "mnist-leaky-fast_sigmoid-k0.5-bptt-s0",
        "mnist-leaky-fast_sigmoid-k100-bptt-s0",
        "mnist-leaky-triangular-bptt-s0",
    ]
    assert study_designs(full_config)["sweep"]["factors"] == ["neuron", "surrogate", "scale", "backprop"]
    run = expand_runs(full_config)["mnist-leaky-atan-k0.5-bptt-s0"]
    model = build_model(run, RunSettings.from_config(full_config), "fast")
    at_threshold = torch.zeros(1, requires_grad=True)
    model.cells[0].spike_fn(at_threshold).sum().backward()
    assert at_threshold.grad.item() == pytest.approx(0.5 / 2)  # atan's peak derivative is alpha / 2
    assert with_scale("atan", {"alpha": 2.0}, run.scale) == {"alpha": 0.5}
    assert with_scale("triangular", {}, 3.0) == {}
    del study["baseline"]["scale"]
    assert "studies.sweep.baseline.scale" in invalid(full_config)
    study["baseline"]["scale"] = 7
    assert "'7' is not one of the study's levels 0.5, 100" in invalid(full_config)


def test_without_a_scale_axis_each_surrogate_runs_at_its_configured_scale(full_config):
    validate_config(full_config)
    runs = expand_runs(full_config)
    assert runs["mnist-leaky-sparse_fast_sigmoid-k50-bptt-s0"].scale == 50.0
    assert runs["mnist-leaky-atan-k2-bptt-s0"].scale == surrogate_scale("atan") == 2.0
    assert "scale" not in study_designs(full_config)["surrogates"]["factors"]


def test_run_studies_selects_studies(full_config):
    full_config["run_studies"] = ["backprop"]
    validate_config(full_config)
    assert len(expand_runs(full_config)) == 48
    full_config["run_studies"] = ["backprop", "nope"]
    assert "run_studies" in invalid(full_config) and "'nope'" in invalid(full_config)


def test_every_registry_entry_resolves_to_what_it_names():
    for spec in STUDY_FIGURES.values():
        assert callable(spec.drawer()), spec.name
    for spec in NEURON_MODELS.values():
        assert isinstance(spec.cell_class(), type), spec.name
    with pytest.raises(ValueError, match="registered twice"):
        by_name(*TABLES.values(), next(iter(TABLES.values())))


@pytest.mark.parametrize(
    "results",
    [
        "results/x</script><img src=x onerror=alert(1)>",
        "results/rt --bogus||touch PWNED||x",
        "results/with space",
        "results/quote'd",
        "results/$(touch PWNED)",
        "results/",
    ],
)
def test_a_results_path_that_could_reach_a_shell_or_a_page_is_refused(full_config, results):
    full_config["results"] = results
    assert f"config key 'results': {results!r} is not allowed; use letters, digits and _ . + - / only" in invalid(
        full_config
    )


def test_a_job_that_would_need_terabytes_is_refused_before_planning(full_config):
    full_config["training"].update(batch_size=60000)
    full_config["model"]["steps"] = 1000
    message = invalid(full_config)
    assert "needs about 22,501,500 MB, above max_job_memory_mb 64,000" in message and "batch_size 60000" in message
    full_config["max_job_memory_mb"] = 30_000_000
    validate_config(full_config)


def test_a_grid_of_millions_of_runs_is_refused_at_once(full_config):
    full_config["studies"]["surrogates"]["seed"] = list(range(10_000_000 // 48))
    assert "its grid has 9,999,984 combinations, more than 100,000" in invalid(full_config)
