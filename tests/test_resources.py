"""Cluster resources: runtime limits that fit common partitions and move the right way with the config."""

import copy

import pytest

from spikebench.model.backprop import BACKPROP_METHODS
from spikebench.study.config import validate_config
from spikebench.study.resources import training_runtime_minutes
from spikebench.study.settings import RunSettings

DAY_MINUTES = 24 * 60


@pytest.fixture
def config(full_config):
    validate_config(full_config)
    return full_config


def with_setting(config, key, value):
    changed = copy.deepcopy(config)
    changed[key] = value
    return changed


@pytest.mark.parametrize("backprop", list(BACKPROP_METHODS))
def test_default_jobs_ask_for_less_than_a_day(config, backprop):
    """Many clusters refuse jobs that ask for more than 24 hours: the full study's jobs must fit as shipped."""
    minutes = training_runtime_minutes(RunSettings.from_config(config), "mnist", backprop, config["threads"])
    assert 60 < minutes < DAY_MINUTES


def test_runtime_grows_with_the_work_and_shrinks_with_the_resources(config):
    def runtime(changed=config, backprop="bptt", threads=1):
        return training_runtime_minutes(RunSettings.from_config(changed), "mnist", backprop, threads)

    assert runtime(backprop="bptt") < runtime(backprop="tbptt") < runtime(backprop="rtrl")
    assert runtime(threads=2) < runtime(threads=1)
    assert runtime(with_setting(config, "engine", "reference")) > runtime()
    assert runtime(with_setting(config, "device", "cuda")) < runtime()
    shorter = copy.deepcopy(config)
    shorter["training"]["max_epochs"] = 10
    assert runtime(shorter) < runtime()
