"""The cost estimate: scheduling, epochs, split sizes, and a real (tiny) measurement end to end."""

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from conftest import REPO
from helpers import config_for
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.run.estimate import (
    DEFAULT_BEST_EPOCH,
    describe,
    duration,
    estimate,
    expected_epochs,
    main,
    makespan,
    measured_best_epoch,
    planned_jobs,
)
from spikebench.study.config import RESULTS_OUTSIDE_PROJECT, expand_runs, load_config
from spikebench.study.power import design_lines, detectable_difference, primary_families
from spikebench.study.settings import RunSettings, split_sizes

FULL = REPO / "config/config.yaml"


def test_makespan_schedules_longest_first():
    assert makespan([5, 4, 3, 3, 3], 2) == 10, "5+3+... longest first: [5, 4] -> [5, 7] -> [8, 7] -> [8, 10]"
    assert makespan([5, 4, 3], 8) == 5
    assert makespan([2] * 10, 1) == 20


def test_epochs_follow_patience_the_converged_runs_and_the_limit():
    training = RunSettings.from_config(load_config(FULL)).training
    assert expected_epochs(replace(training, max_epochs=100, patience=10), 18) == {
        "fewest": 10,
        "expected": 28,
        "most": 100,
    }
    assert expected_epochs(replace(training, max_epochs=1, patience=1), 18) == {"fewest": 1, "expected": 1, "most": 1}


def test_the_expected_best_epoch_is_read_from_the_converged_runs(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_OUTSIDE_PROJECT, "1")
    assert measured_best_epoch(tmp_path / "absent.yaml") is None
    converged = tmp_path / "converged.yaml"
    shipped = (REPO / "config/converged.yaml").read_text().replace("results/converged", str(tmp_path / "results"))
    converged.write_text(shipped)
    assert measured_best_epoch(converged) is None, "no merged runs yet"
    (tmp_path / "results/tables").mkdir(parents=True)
    (tmp_path / "results/tables/runs.csv").write_text(
        "run_id,outcome,stopped_early,best_epoch\na,learned,True,13\nb,learned,True,22\n"
        "c,learned,False,100\nd,silent,True,0\n"
    )
    best_epoch, source = measured_best_epoch(converged)
    assert best_epoch == 18 and "2 converged runs" in source, "capped and failed runs do not count"


def test_split_sizes_apply_the_hold_out_and_the_limits():
    quick = RunSettings.from_config(load_config(REPO / "config/quick.yaml"))
    sizes = split_sizes(quick.data, "mnist")
    assert (sizes.train, sizes.validation, sizes.test) == (4096, 200, 256)
    full = RunSettings.from_config(load_config(FULL))
    sizes = split_sizes(full.data, "mnist")
    assert (sizes.train, sizes.validation, sizes.test) == (55_000, 5_000, 10_000)


@pytest.mark.parametrize("config", ["quick", "config"])
def test_the_jobs_are_snakemakes_own_plan(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = REPO / f"config/{config}.yaml"
    jobs = planned_jobs(path, REPO / "Snakefile")
    runs = len(expand_runs(load_config(path)))
    assert jobs["train"] == jobs["workload"] == runs
    assert (jobs["plot_study"], jobs["table_page"], jobs["merge_runs"]) == (len(STUDY_FIGURES), len(TABLES), 1)
    dry_run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--configfile", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"total{' ' * 4}" in dry_run.stdout + dry_run.stderr
    total = int((dry_run.stdout + dry_run.stderr).split("\ntotal", 1)[1].split()[0])
    assert sum(jobs.values()) == total, "in a fresh directory, snakemake -n plans every job"


def test_durations_read_naturally():
    assert [duration(s) for s in (45, 250, 7500, 3 * 86400)] == ["45 s", "4 min 10 s", "2 h 05 min", "3.0 days"]


def test_an_estimate_adds_up_what_it_timed(monkeypatch):
    config = config_for(
        backprop="tbptt",
        model={"steps": 4},
        data={"validation_size": 100, "limit_train": 200, "limit_validation": 100, "limit_test": 100},
        training={"max_epochs": 4, "patience": 2, "tbptt_window": 2},
    )
    config["studies"]["test"]["neuron"] = ["leaky", "synaptic"]
    jobs = {"train": 2, "workload": 2, "prepare_dataset": 1, "simulate": 5, "plot_study": 4, "merge_runs": 1}
    result = estimate(config, torch.device("cpu"), jobs, DEFAULT_BEST_EPOCH, log=lambda line: None)
    runs = expand_runs(config)
    assert result.runs == 2 and set(result.epoch_seconds) == set(runs)
    assert set(result.timings) == {("leaky", "bptt"), ("synaptic", "bptt"), ("leaky", "tbptt")}
    assert result.epochs == {"fewest": 2, "expected": 4, "most": 4}
    assert all(seconds > 0 for seconds in result.epoch_seconds.values())
    assert result.cpu_seconds("most") > result.cpu_seconds("fewest")
    assert result.wall_seconds("most", 1) >= result.wall_seconds("most", 2) >= result.wall_seconds("most", 64)
    assert result.wall_seconds("most", 1) == pytest.approx(result.cpu_seconds("most"))
    parallel = result.plot_seconds * 4
    assert result.cpu_seconds("most") == pytest.approx(
        sum(result.run_seconds("most")) + result.start_seconds + result.plot_seconds * 10
    )
    assert result.wall_seconds("most", 1024) == pytest.approx(
        result.start_seconds + max(result.run_seconds("most")) + parallel / 4 + result.plot_seconds
    )
    text = describe(result, 2, torch.device("cpu"), "tiny.yaml", "given")
    assert "tiny.yaml: 2 runs, 15 jobs in Snakemake's plan" in text and "wall time, 2 cores (--cores)" in text
    assert "2 runs; jobs not counted" in describe(replace(result, jobs=None), 2, torch.device("cpu"), "t", "given")
    monkeypatch.setattr("spikebench.run.estimate.os.cpu_count", lambda: 2)
    assert "--cores 8 is more than this machine's 2" in describe(result, 8, torch.device("cpu"), "t", "given")
    assert "more than this machine" not in describe(result, 2, torch.device("cpu"), "t", "given")


def test_the_command_prints_the_estimate(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "device: cpu\nmodel: {steps: 2}\ndata: {validation_size: 100, limit_train: 100, limit_test: 100}\n"
        "training: {batch_size: 50, eval_batch_size: 100, max_epochs: 2, patience: 1}\n"
        "studies: {one: {dataset: [mnist], neuron: [leaky], surrogate: [atan], backprop: [bptt], seed: [0]}}\n"
    )
    main(["--config", str(config), "--cores", "3", "--snakefile", str(REPO / "Snakefile")])
    output = capsys.readouterr().out
    assert "1 runs, " in output and "jobs in Snakemake's plan" in output
    assert "wall time, 3 cores (--cores)" in output and "CPU time" in output


def test_the_design_of_the_full_config_is_planned_before_any_training(capsys):
    families = {(family.study, family.factor): family for family in primary_families(load_config(FULL))}
    surrogates = families[("surrogates", "surrogate")]
    assert (surrogates.comparisons, surrogates.blocks_per_seed, surrogates.seeds) == (7, 5, 5)
    assert families[("scale", "width")].comparisons == 6 and families[("scale", "surrogate")].blocks_per_seed == 14
    detectable = surrogates.detectable(0.002)
    assert detectable == pytest.approx(detectable_difference(0.002 * 2**0.5, 25, 0.05 / 7))
    needed = surrogates.seeds_needed(0.001, 0.002)
    assert surrogates.detectable(0.002, needed) <= 0.001 < surrogates.detectable(0.002, needed - 1)
    lines = "\n".join(design_lines(load_config(FULL), 0.002, "given", 0.3))
    assert "surrogates  surrogate  fast_sigmoid            7     25     0.22 pt                 3" in lines


def test_the_command_plans_the_study_and_refuses_bad_arguments_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("spikebench.run.estimate.estimate", lambda *args: None)
    monkeypatch.setattr("spikebench.run.estimate.planned_jobs", lambda *args: None)
    monkeypatch.setattr("spikebench.run.estimate.describe", lambda *args: "timed")
    main(["--config", str(FULL), "--seed-sd", "0.2", "--detect", "0.3"])
    output = capsys.readouterr().out
    assert "seed-to-seed SD 0.20 points, given with --seed-sd" in output and "seeds for 0.3 pt" in output
    for arguments, message in [
        (["--cores", "0"], "0 is not a positive whole number"),
        (["--cores", "-5"], "-5 is not a positive whole number"),
        (["--detect", "nan"], "nan is not a positive number"),
        (["--config", str(tmp_path / "absent.yaml")], f"no config file at {tmp_path / 'absent.yaml'}"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            main(["--config", str(FULL), *arguments] if arguments[0] != "--config" else arguments)
        assert stopped.value.code == 2 and message in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("studies: [unclosed\n")
    with pytest.raises(SystemExit):
        main(["--config", str(broken)])
    error = capsys.readouterr().err
    assert error.startswith(f"spikebench-estimate: {broken}:") and "Traceback" not in error
