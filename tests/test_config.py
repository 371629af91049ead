import copy

import pytest

from conftest import REPO, SCHEMA, load_yaml
from spikebench.model.backprop import BACKPROP_METHODS
from spikebench.model.registry import NEURON_MODELS, NO_SURROGATE
from spikebench.neurons.surrogates import SURROGATES
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.report.simulation import SIMULATION_FIGURES
from spikebench.study.config import (
    ConfigError,
    expand_runs,
    load_schema,
    runs_by_study,
    simulation_figure_names,
    skipped_combinations,
    validate_config,
)
from spikebench.study.resources import BACKPROP_COST
from spikebench.utils.registry import by_name

FULL_STUDY_RUNS = 241
"""surrogates: 5 surrogate-using neurons x 8 x 5 seeds + abss x 5 seeds = 205; backprop: 4 neurons x 4 methods
x 3 seeds = 48, of which the 12 BPTT/ATan runs with seeds 0-2 are already in the surrogates study: 205 + 36 = 241."""


def invalid(config):
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    return str(caught.value)


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_yaml(REPO / "config" / name)
    validate_config(config, SCHEMA)


def test_defaults_are_filled(full_config):
    validate_config(full_config, SCHEMA)
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
    validate_config(config, SCHEMA)
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
    schema = load_schema(SCHEMA)
    assert schema["$defs"]["neuron_name"]["enum"] == list(NEURON_MODELS)
    assert schema["$defs"]["surrogate_name"]["enum"] == list(SURROGATES)
    assert schema["$defs"]["backprop_name"]["enum"] == list(BACKPROP_METHODS) == list(BACKPROP_COST)
    assert simulation_figure_names(schema) == list(SIMULATION_FIGURES)


def test_full_config_expands_to_the_pinned_number_of_unique_runs(full_config):
    validate_config(full_config, SCHEMA)
    runs = expand_runs(full_config)
    assert len(runs) == FULL_STUDY_RUNS
    assert len({(r.dataset, r.neuron, r.surrogate, r.backprop, r.seed) for r in runs.values()}) == FULL_STUDY_RUNS
    by_study = runs_by_study(full_config)
    assert len(by_study["surrogates"]) == 205
    assert len(by_study["backprop"]) == 48
    assert len(set(by_study["surrogates"]) & set(by_study["backprop"])) == 12


def test_run_ids_are_stable_and_readable(full_config):
    validate_config(full_config, SCHEMA)
    runs = expand_runs(full_config)
    assert "mnist-leaky-fast_sigmoid-bptt-s0" in runs
    assert "mnist-lapicque-atan-rtrl-s2" in runs
    run = runs["mnist-synaptic-sigmoid-bptt-s4"]
    assert (run.dataset, run.neuron, run.surrogate, run.backprop, run.seed) == (
        "mnist",
        "synaptic",
        "sigmoid",
        "bptt",
        4,
    )
    assert list(runs) == sorted(runs)
    assert expand_runs(copy.deepcopy(full_config)) == runs


def test_neuron_without_surrogate_runs_once_per_seed(full_config):
    validate_config(full_config, SCHEMA)
    abss_runs = [run for run in expand_runs(full_config).values() if run.neuron == "abss"]
    assert sorted(run.run_id for run in abss_runs) == [f"mnist-abss-{NO_SURROGATE}-bptt-s{seed}" for seed in range(5)]
    skipped = skipped_combinations(full_config)
    assert {"neuron": "abss", "surrogate": "atan"} in skipped
    assert len(skipped) == len(SURROGATES)


def test_run_studies_selects_studies(full_config):
    full_config["run_studies"] = ["backprop"]
    validate_config(full_config, SCHEMA)
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
