"""Merging per-run outputs, statistics over seeds, and the explanations of what never learned."""

import base64
import gc
import json
import re
import shutil
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from scipy import stats

from helpers import example_settings, example_summary, grid_run, write_run
from spikebench.report.combinations import never_learned, summarize, t_interval
from spikebench.report.context import shared_machine_note, smoke_test_reasons
from spikebench.report.findings import study_findings
from spikebench.report.html_page import numeric_columns
from spikebench.report.html_page import table as render_table
from spikebench.report.merge import RunFiles, merge_runs
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.report.statistics import COMPARISON_COLUMNS, MISSING, holm, study_comparisons
from spikebench.report.table_page import render_table_page
from spikebench.report.tables import build_tables
from spikebench.run.contract import (
    EPOCHS_FILE,
    OPTIONAL_SUMMARY_FIELDS,
    STATUSES,
    SUMMARY_FIELDS,
    SUMMARY_FILE,
    SUMMARY_SCHEMA,
    WORKLOAD_FILE,
    RunOutputError,
    RunSummary,
    settings_fingerprint,
)
from spikebench.study.config import expand_runs, study_designs, validate_config
from spikebench.study.settings import OPTIONAL_SETTINGS, SETTINGS_SECTIONS

FIXED_SCALE = ["neuron", "surrogate", "backprop"]
"""The factors of a study without a scale axis."""


def files_in(directories):
    return {
        run_id: RunFiles(*(Path(directory) / name for name in (EPOCHS_FILE, SUMMARY_FILE, WORKLOAD_FILE)))
        for run_id, directory in directories.items()
    }


@pytest.fixture
def study(tmp_path):
    runs, dirs = [], {}
    accuracy = {"atan": [0.90, 0.92, 0.91], "fast_sigmoid": [0.80, 0.81, 0.79], "sigmoid": [0.905, 0.915, 0.90]}
    for surrogate, values in accuracy.items():
        for seed, value in enumerate(values):
            run = grid_run("leaky", surrogate, "bptt", seed)
            runs.append(run)
            dirs[run.run_id] = tmp_path / run.run_id
            write_run(dirs[run.run_id], run, [value - 0.1, value])
    for seed in range(3):
        silent = grid_run("lapicque", "atan", "bptt", seed)
        runs.append(silent)
        dirs[silent.run_id] = tmp_path / silent.run_id
        write_run(dirs[silent.run_id], silent, [0.098], status="silent", output_spikes=0.0, conv2_rate=0.0)
    diverged = grid_run("synaptic", "atan", "bptt", 0)
    runs.append(diverged)
    dirs[diverged.run_id] = tmp_path / diverged.run_id
    write_run(dirs[diverged.run_id], diverged, [0.1], status="diverged")
    missing = grid_run("alpha", "atan", "bptt", 0)
    runs.append(missing)
    dirs[missing.run_id] = tmp_path / missing.run_id
    return runs, dirs


def test_merge_keeps_every_run_and_marks_missing_ones(study):
    runs, dirs = study
    epochs, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    assert len(table) == len(runs)
    assert table.set_index("run_id").loc["mnist-alpha-atan-k2-bptt-s0", "status"] == MISSING
    assert set(table["status"]) == {"ok", "silent", "diverged", MISSING}
    assert len(epochs) == 9 * 2 + 3 + 1 + 13, "every finished run has an epoch-0 row"
    assert (epochs[epochs["epoch"] == 0]["train_loss"].isna()).all()
    assert table["initial_val_acc"].dropna().eq(0.1).all()
    assert table.set_index("run_id").loc["mnist-leaky-atan-k2-bptt-s1", "initial_gradient_norm"] == 0.5
    assert table.set_index("run_id").loc["mnist-leaky-atan-k2-bptt-s1", "test_acc_at_best"] == 0.92


def test_merge_rejects_wrong_columns_and_types(study, tmp_path):
    runs, dirs = study
    path = dirs[runs[0].run_id] / "epochs.csv"
    frame = pd.read_csv(path)
    frame.drop(columns=["val_acc"]).to_csv(path, index=False)
    with pytest.raises(RunOutputError, match="missing \\['val_acc'\\]"):
        merge_runs(runs, files_in(dirs), example_settings())
    frame.assign(epoch="first").to_csv(path, index=False)
    with pytest.raises(RunOutputError, match="wrong type"):
        merge_runs(runs, files_in(dirs), example_settings())


def test_summary_separates_failures_from_the_accuracy_of_runs_that_learned(study):
    runs, dirs = study
    _, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    assert table.set_index("run_id")["outcome"].to_dict()["mnist-synaptic-atan-k2-bptt-s0"] == "diverged"
    summary = summarize(table).set_index(["neuron", "surrogate"])
    atan = summary.loc[("leaky", "atan")]
    values = np.array([0.90, 0.92, 0.91])
    assert atan["learned_runs"] == 3 and atan["failures"] == 0 and atan["test_acc_mean"] == pytest.approx(values.mean())
    assert atan["test_acc_std"] == pytest.approx(values.std(ddof=1))
    half = 4.302652729911275 * values.std(ddof=1) / np.sqrt(3)
    assert atan["test_acc_ci95_low"] == pytest.approx(values.mean() - half)
    assert atan["learned"] and not summary.loc[("lapicque", "atan"), "learned"]
    lapicque = summary.loc[("lapicque", "atan")]
    assert lapicque["silent"] == 3 and lapicque["failure_rate"] == 1 and np.isnan(lapicque["test_acc_mean"])
    assert lapicque["failure_rate_ci95_low"] == pytest.approx(0.4385, abs=1e-4), "Wilson interval of 3 of 3"
    diverged = summary.loc[("synaptic", "atan")]
    assert diverged["diverged"] == 1 and diverged["failure_rate"] == 1 and diverged["learned_runs"] == 0
    assert summary.loc[("alpha", "atan"), "missing"] == 1


def test_a_finished_run_at_chance_counts_as_a_failure(tmp_path):
    run = grid_run("leaky", "atan", "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.13])
    _, table, _ = merge_runs([run], files_in({run.run_id: tmp_path / run.run_id}), example_settings())
    assert table["status"].item() == "ok" and table["outcome"].item() == "at_chance", "13 of 100 is chance at 5%"
    assert summarize(table)["at_chance"].item() == 1


def test_comparisons_use_the_baseline_and_holm(study):
    runs, dirs = study
    _, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    comparisons, omnibus = study_comparisons(table, "s", {"surrogate": "fast_sigmoid", "neuron": "leaky"}, FIXED_SCALE)
    surrogates = comparisons[(comparisons["factor"] == "surrogate") & (comparisons["family"] == "primary")]
    atan = surrogates.set_index("level").loc["atan"]
    assert atan["baseline"] == "fast_sigmoid" and atan["n_pairs"] == 3 and atan["n_blocks"] == 3
    assert atan["context"] == "pooled over neuron and seed"
    assert atan["mean_difference"] == pytest.approx(0.11)
    expected = stats.ttest_rel([0.90, 0.92, 0.91], [0.80, 0.81, 0.79])
    assert atan["p_value"] == pytest.approx(expected.pvalue) and atan["test"] == "paired t"
    assert atan["ci95_low"] == pytest.approx(expected.confidence_interval().low)
    m = len(surrogates)
    ordered = surrogates.sort_values("p_value")
    holm = np.maximum.accumulate([min(1.0, (m - rank) * p) for rank, p in enumerate(ordered["p_value"])])
    np.testing.assert_allclose(ordered["p_adjusted"], holm)
    neurons = comparisons[(comparisons["factor"] == "neuron") & (comparisons["family"] == "primary")]
    assert set(neurons["baseline"]) == {"leaky"}
    lapicque = neurons.set_index("level").loc["lapicque"]
    assert (lapicque["n_blocks"], lapicque["level_failures"], lapicque["baseline_failures"]) == (3, 3, 0)
    assert lapicque["p_failure"] == pytest.approx(0.25), "exact McNemar: 3 discordant pairs, all one way"
    assert lapicque["n_pairs"] == 0 and np.isnan(lapicque["mean_difference"]), "no accuracy from failed runs"
    assert lapicque["verdict"] == "not testable" and "3 of 3 pairs left out" in lapicque["note"]
    alpha = neurons.set_index("level").loc["alpha"]
    assert alpha["n_blocks"] == 0 and alpha["test"].startswith("not testable"), "its only run is missing"
    friedman = omnibus[(omnibus["factor"] == "surrogate") & (omnibus["outcome"] == "accuracy")].iloc[0]
    assert friedman["test"] == "Friedman" and friedman["levels"] == 3 and friedman["n_blocks"] == 3
    cochran = omnibus[(omnibus["factor"] == "surrogate") & (omnibus["outcome"] == "failure")].iloc[0]
    assert cochran["test"] == "not testable: within every block, every level learned"


def test_a_neuron_without_surrogate_is_compared_at_the_baseline_surrogate(tmp_path):
    runs, dirs = [], {}
    for seed in range(3):
        for run, accuracy in (
            (grid_run("leaky", "atan", "bptt", seed), 0.9),
            (grid_run("abss", "none", "bptt", seed), 0.7 + 0.01 * seed),
        ):
            runs.append(run)
            dirs[run.run_id] = tmp_path / run.run_id
            write_run(dirs[run.run_id], run, [accuracy])
    _, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    comparisons, _ = study_comparisons(table, "s", {"neuron": "leaky", "surrogate": "atan"}, FIXED_SCALE)
    (abss,) = comparisons.itertuples()
    assert abss.level == "abss" and abss.baseline == "leaky" and abss.n_pairs == 3 and abss.family == "primary"
    assert abss.context == "seeds as blocks" and "own gradient estimator" in abss.note


def test_one_seed_is_not_testable_and_the_page_says_so(tmp_path):
    runs, dirs = [], {}
    for surrogate, accuracy in (("fast_sigmoid", 0.8), ("atan", 0.9)):
        run = grid_run("leaky", surrogate, "bptt", 0)
        runs.append(run)
        dirs[run.run_id] = tmp_path / run.run_id
        write_run(dirs[run.run_id], run, [accuracy])
    _, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    comparisons, omnibus = study_comparisons(table, "quick", {"surrogate": "fast_sigmoid"}, FIXED_SCALE)
    assert comparisons["test"].str.startswith("not testable").all() and comparisons["p_adjusted"].isna().all()
    assert not comparisons["significant"].any()
    (sentence,) = [s for s in study_findings(comparisons, omnibus)["quick"] if s.startswith("Accuracy")]
    assert "atan: not testable (1 pair(s) where both runs learned, at least 2 needed)" in sentence
    assert "different" not in sentence and "equivalent" not in sentence


def test_never_learned_says_why(study):
    runs, dirs = study
    _, table, _ = merge_runs(runs, files_in(dirs), example_settings())
    reasons = never_learned(summarize(table), table).set_index("neuron")["reason"]
    assert "second spiking layer never fired" in reasons["lapicque"]
    assert "the weights became NaN or infinite in epoch 2, batch 3" in reasons["synaptic"]
    assert "no run finished" in reasons["alpha"]
    assert "leaky" not in reasons.index


def test_t_interval_of_a_single_value_is_undefined():
    half_width, mean = t_interval(np.array([0.5]))
    assert np.isnan(half_width) and mean == 0.5


def test_tables_are_written_even_without_comparisons(tmp_path):
    run = grid_run("abss", "none", "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.5])
    out = {name: tmp_path / f"{name}.csv" for name in TABLES}
    studies = {"one": {"runs": [run.run_id], "factors": FIXED_SCALE, "baseline": {}, "equivalence_margin": 0.005}}
    files = list(files_in({run.run_id: tmp_path / run.run_id}).values())
    frames = build_tables([run.as_dict()], files, studies, example_settings(), out)
    assert list(frames) == list(TABLES)
    assert list(pd.read_csv(out["comparisons"]).columns) == COMPARISON_COLUMNS
    assert len(pd.read_csv(out["runs"])) == 1
    two = {**studies, "two": {**studies["one"], "runs": [run.run_id]}}
    build_tables([run.as_dict()], files, two, example_settings(), out)
    members = pd.read_csv(out["study_runs"])
    assert members.to_dict("records") == [
        {"study": "one", "run_id": run.run_id},
        {"study": "two", "run_id": run.run_id},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {"model": {}}}, "field 'config' lacks training, data, device, engine"),
        ({"device": None}, "field 'device': None is not of type 'string'"),
        ({"epochs_run": True}, "field 'epochs_run': True is not of type 'integer'"),
        ({"status": "fine"}, "field 'status': 'fine' is not one of"),
        ({"settings_hash": "abc"}, "field 'settings_hash': 'abc' does not match"),
    ],
)
def test_a_malformed_summary_names_its_file_and_field(study, change, message):
    runs, dirs = study
    path = dirs[runs[0].run_id] / SUMMARY_FILE
    path.write_text(json.dumps(example_summary(runs[0], **change)))
    with pytest.raises(RunOutputError, match=f"{path}: {message}"):
        merge_runs(runs, files_in(dirs), example_settings())


def test_a_summary_missing_a_field_names_it(study):
    runs, dirs = study
    path = dirs[runs[0].run_id] / SUMMARY_FILE
    summary = example_summary(runs[0])
    del summary["device_name"]
    path.write_text(json.dumps(summary))
    with pytest.raises(RunOutputError, match=f"{path}: field 'device_name' is missing"):
        merge_runs(runs, files_in(dirs), example_settings())
    path.write_text("{not json")
    with pytest.raises(RunOutputError, match=f"{path}: not valid JSON"):
        merge_runs(runs, files_in(dirs), example_settings())


def test_three_seeds_give_adjusted_comparisons_against_the_configured_baseline(tmp_path):
    config = {
        "studies": {
            "pair": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["fast_sigmoid", "atan", "sigmoid"],
                "backprop": ["bptt"],
                "seed": [0, 1, 2],
                "baseline": {"surrogate": "atan"},
            }
        }
    }
    validate_config(config)
    runs = list(expand_runs(config).values())
    shift = {"fast_sigmoid": -0.05, "atan": 0.0, "sigmoid": 0.001}
    noise = {"fast_sigmoid": [0, 0.003, 0.001], "atan": [0.002, 0, 0.001], "sigmoid": [0.001, 0.002, 0]}
    for run in runs:
        accuracy = 0.9 + shift[run.surrogate] + 0.01 * run.seed + noise[run.surrogate][run.seed]
        write_run(tmp_path / run.run_id, run, [accuracy])
    files = list(files_in({run.run_id: tmp_path / run.run_id for run in runs}).values())
    out = {name: tmp_path / f"{name}.csv" for name in TABLES}
    build_tables([run.as_dict() for run in runs], files, study_designs(config), example_settings(), out)
    comparisons = pd.read_csv(out["comparisons"])
    assert set(COMPARISON_COLUMNS) <= set(comparisons.columns) and set(comparisons["baseline"]) == {"atan"}
    assert sorted(comparisons["level"]) == ["fast_sigmoid", "sigmoid"] and (comparisons["n_pairs"] == 3).all()
    assert set(comparisons["family"]) == {"primary"}, "one factor varies: the exploratory family would repeat it"
    assert comparisons["p_adjusted"].notna().all() and (comparisons["p_adjusted"] >= comparisons["p_value"]).all()
    assert comparisons.set_index("level").loc["fast_sigmoid", "verdict"] == "different"
    assert comparisons["detectable_difference"].notna().all() and comparisons["p_equivalence"].notna().all()
    omnibus = pd.read_csv(out["omnibus"]).set_index("outcome")
    assert omnibus.loc["accuracy", "test"] == "Friedman" and omnibus.loc["failure", "test"].startswith("not testable")


def _page_rows(page: str, name: str) -> int:
    body = page.split(f'id="{name}-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr")


def test_a_table_page_shows_the_table_and_carries_its_csv(tmp_path):
    csv = tmp_path / "runs.csv"
    pd.DataFrame(
        {"run_id": ["a<b", "c", "d"], "test_acc": [0.98765, np.nan, 0.1], "status": ["ok", "silent", "diverged"]}
    ).to_csv(csv, index=False)
    out = tmp_path / "runs.html"
    render_table_page(csv, "runs", TABLES["runs"].caption, out)
    page = out.read_text()
    assert _page_rows(page, "runs") == 3 and "all 3 rows" in page
    assert "a&lt;b" in page and "0.9877" in page, "cells are escaped and rounded as on the summary page"
    assert str(escape(TABLES["runs"].caption)) in page, "escaped as Jinja2 escapes"
    link = re.search(r"href=\"data:text/csv;base64,([^\"]+)\"", page)
    assert base64.b64decode(link.group(1)) == csv.read_bytes(), "the download is the CSV, byte for byte"


def test_a_long_table_page_says_how_much_it_shows(tmp_path):
    csv = tmp_path / "epochs.csv"
    pd.DataFrame({"epoch": range(10)}).to_csv(csv, index=False)
    render_table_page(csv, "epochs", "", tmp_path / "epochs.html", max_rows=4)
    page = (tmp_path / "epochs.html").read_text()
    assert _page_rows(page, "epochs") == 4 and "the first 4 of 10 rows (the CSV has them all)" in page


def test_an_empty_table_page_says_so(tmp_path):
    csv = tmp_path / "never_learned.csv"
    pd.DataFrame(columns=["neuron", "reason"]).to_csv(csv, index=False)
    render_table_page(csv, "never_learned", "", tmp_path / "never_learned.html")
    page = (tmp_path / "never_learned.html").read_text()
    assert "no rows for this config" in page and "2 columns; all 0 rows" in page


def test_every_table_and_figure_has_a_caption():
    for entry in [*TABLES.values(), *STUDY_FIGURES.values()]:
        assert len(entry.caption) > 40, entry.name


def test_two_models_by_three_surrogates_pool_six_pairs_and_failed_runs_leave_the_accuracy(tmp_path):
    """The acceptance design: 2 neuron models x 3 surrogates x 3 seeds, baseline named. The primary surrogate
    comparisons pair 6 blocks; sigmoid's silent synaptic runs are a failure difference, not an accuracy one."""
    config = {
        "studies": {
            "grid": {
                "dataset": ["mnist"],
                "neuron": ["leaky", "synaptic"],
                "surrogate": ["fast_sigmoid", "atan", "sigmoid"],
                "backprop": ["bptt"],
                "seed": [0, 1, 2],
                "baseline": {"neuron": "leaky", "surrogate": "fast_sigmoid"},
            }
        }
    }
    validate_config(config)
    runs = list(expand_runs(config).values())
    rng = np.random.default_rng(0)
    for run in runs:
        if run.surrogate == "sigmoid" and run.neuron == "synaptic":
            write_run(tmp_path / run.run_id, run, [0.098], status="silent", output_spikes=0.0, conv2_rate=0.0)
            continue
        accuracy = 0.9 + (0.01 if run.surrogate == "atan" else 0) + rng.normal(0, 0.002)
        write_run(tmp_path / run.run_id, run, [accuracy - 0.2, accuracy])
    files = list(files_in({run.run_id: tmp_path / run.run_id for run in runs}).values())
    out = {name: tmp_path / f"{name}.csv" for name in TABLES}
    build_tables([run.as_dict() for run in runs], files, study_designs(config), example_settings(), out)
    comparisons = pd.read_csv(out["comparisons"])
    assert {"family", "p_equivalence", "detectable_difference", "verdict"} <= set(comparisons.columns)
    assert set(comparisons["family"]) == {"primary", "exploratory"}
    primary = comparisons[(comparisons["family"] == "primary") & (comparisons["factor"] == "surrogate")]
    primary = primary.set_index("level")
    assert primary.loc["atan", "n_pairs"] == 6 and pd.isna(primary.loc["atan", "note"])
    sigmoid = primary.loc["sigmoid"]
    assert (sigmoid["n_blocks"], sigmoid["n_pairs"], sigmoid["level_failures"]) == (6, 3, 3)
    assert sigmoid["note"] == "3 of 6 pairs left out of the accuracy: a run did not learn"
    assert abs(sigmoid["mean_difference"]) < 0.01, "the silent runs' 9.8% never enters the difference"
    intervals = comparisons[["ci95_low", "ci95_high"]].dropna()
    assert ((intervals >= -1) & (intervals <= 1)).all().all()
    summary = pd.read_csv(out["summary"]).set_index(["neuron", "surrogate"])
    assert summary.loc[("synaptic", "sigmoid"), "learned_runs"] == 0
    assert np.isnan(summary.loc[("synaptic", "sigmoid"), "test_acc_mean"]), "summary averages learned runs only"


def test_a_run_that_diverged_after_learning_is_its_own_failure(tmp_path):
    run = grid_run("leaky", "atan", "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.85, 0.9], status="diverged")
    _, table, _ = merge_runs([run], files_in({run.run_id: tmp_path / run.run_id}), example_settings())
    assert table["outcome"].item() == "diverged_after_learning"
    summary = summarize(table)
    assert summary["failures"].item() == 1 and summary["diverged_after_learning"].item() == 1
    assert np.isnan(summary["test_acc_mean"].item())


def test_a_run_whose_best_epoch_is_the_untrained_network_never_learned(tmp_path):
    """13% of 5,000 validation images beats a majority share of 0.1135 (p = 1.7e-4), but it is epoch 0's: the
    untrained network was the run's best, so training taught it nothing and its accuracy enters nothing."""
    run = grid_run("synaptic", "fast_sigmoid", "bptt", 1)
    directory = tmp_path / run.run_id
    write_run(directory, run, [0.10, 0.11, 0.105])
    epochs = pd.read_csv(directory / "epochs.csv")
    epochs.loc[epochs["epoch"] == 0, ["val_acc", "test_acc"]] = 0.13
    epochs.to_csv(directory / "epochs.csv", index=False)
    summary = json.loads((directory / SUMMARY_FILE).read_text())
    summary.update(best_epoch=0, best_val_acc=0.13, test_acc_at_best=0.13, test_output_spikes_at_best=0.0)
    summary.update(validation_samples=5000, validation_majority_rate=0.1135)
    (directory / SUMMARY_FILE).write_text(json.dumps(summary))
    assert stats.binomtest(650, 5000, 0.1135, alternative="greater").pvalue * 4 < 0.05, "it would beat chance"
    _, table, _ = merge_runs([run], files_in({run.run_id: directory}), example_settings())
    assert table["status"].item() == "ok" and table["outcome"].item() == "at_chance"
    assert np.isnan(summarize(table)["test_acc_mean"].item())


def test_learning_is_decided_on_validation_against_the_majority_class(tmp_path):
    run = grid_run("leaky", "atan", "bptt", 0)
    directory = tmp_path / run.run_id
    write_run(directory, run, [0.30])
    summary = json.loads((directory / SUMMARY_FILE).read_text())
    (directory / SUMMARY_FILE).write_text(json.dumps({**summary, "validation_majority_rate": 0.3}))
    _, table, _ = merge_runs([run], files_in({run.run_id: directory}), example_settings())
    assert table["outcome"].item() == "at_chance", "30% is what always answering the majority class scores"


def _one_run(tmp_path, surrogate="atan"):
    run = grid_run("leaky", surrogate, "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.8, 0.9])
    return run, tmp_path / run.run_id


def _edit_epochs(directory, change):
    epochs = pd.read_csv(directory / EPOCHS_FILE)
    change(epochs).to_csv(directory / EPOCHS_FILE, index=False)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda run, directory, other: shutil.copy(other / SUMMARY_FILE, directory / SUMMARY_FILE),
            "field 'run_id' is 'mnist-leaky-fast_sigmoid-k25-bptt-s0', but this directory is run"
            " mnist-leaky-atan-k2-bptt-s0's",
        ),
        (
            lambda run, directory, other: shutil.copy(other / EPOCHS_FILE, directory / EPOCHS_FILE),
            "rows of another run (mnist-leaky-fast_sigmoid-k25-bptt-s0), not mnist-leaky-atan-k2-bptt-s0",
        ),
        (
            lambda run, directory, other: _edit_epochs(directory, lambda e: pd.concat([e, e.tail(1)])),
            "epochs [0, 1, 2, 2], but summary.json says 2 epochs after epoch 0",
        ),
        (
            lambda run, directory, other: _edit_epochs(directory, lambda e: e.head(2)),
            "epochs [0, 1], but summary.json says 2 epochs after epoch 0",
        ),
        (
            lambda run, directory, other: _edit_epochs(directory, lambda e: e.assign(test_acc=[0.1, 7.5, -3.0])),
            "test_acc outside [0, 1]",
        ),
    ],
    ids=["summary of another run", "epochs of another run", "duplicate epoch", "missing epoch", "accuracy range"],
)
def test_the_merge_refuses_outputs_that_are_not_this_runs(tmp_path, tamper, message):
    run, directory = _one_run(tmp_path)
    _, other = _one_run(tmp_path, "fast_sigmoid")
    tamper(run, directory, other)
    with pytest.raises(RunOutputError, match=re.escape(message)) as refused:
        merge_runs([run], files_in({run.run_id: directory}), example_settings())
    assert str(directory) in str(refused.value) and "rerun" in str(refused.value)


def test_the_merge_refuses_a_run_made_with_other_settings_and_names_them(tmp_path):
    run, directory = _one_run(tmp_path)
    other = example_settings()
    other["model"]["steps"] = 25
    summary = example_summary(run, config=other, settings_hash=settings_fingerprint(run.as_dict(), other))
    summary = {**json.loads((directory / SUMMARY_FILE).read_text()), **summary}
    (directory / SUMMARY_FILE).write_text(json.dumps(summary))
    with pytest.raises(RunOutputError, match=r"made with other settings than this config's \(differing: model.steps\)"):
        merge_runs([run], files_in({run.run_id: directory}), example_settings())


def test_a_truncated_workload_file_names_itself(tmp_path):
    run, directory = _one_run(tmp_path)
    (directory / WORKLOAD_FILE).write_text('{"activation_sparsity": 0.9, "effe')
    with pytest.raises(RunOutputError, match=f"{re.escape(str(directory / WORKLOAD_FILE))}: not valid JSON"):
        merge_runs([run], files_in({run.run_id: directory}), example_settings())


def test_the_summary_schema_the_typed_view_and_the_fates_agree():
    assert list(typing.get_type_hints(RunSummary)) == SUMMARY_FIELDS
    assert SUMMARY_SCHEMA["required"] == [name for name in SUMMARY_FIELDS if name not in OPTIONAL_SUMMARY_FIELDS]
    assert OPTIONAL_SUMMARY_FIELDS == ["load_average", "cpu_count", "precision", "native_neuron_kernels"]
    assert SUMMARY_SCHEMA["properties"]["status"]["enum"] == list(STATUSES)
    required = [section for section in SETTINGS_SECTIONS if section not in OPTIONAL_SETTINGS]
    assert SUMMARY_SCHEMA["properties"]["config"]["required"] == required


def test_the_smoke_test_banner_names_what_the_design_lacks_and_leaves_a_real_study_alone():
    context = {"training": {"max_epochs": 1, "patience": 1}, "data": {"limit_train": 4096}}
    one_seed = pd.DataFrame({"seed": [0, 0, 0]})
    assert smoke_test_reasons(context, one_seed) == [
        "one seed: no seed-to-seed spread, so no difference between levels can be tested",
        "at most 1 epoch with patience 1: no run can stop early, so none is known to have converged",
        "training on at most 4,096 images",
    ]
    study = {"training": {"max_epochs": 100, "patience": 10}, "data": {"limit_train": None}}
    assert smoke_test_reasons(study, pd.DataFrame({"seed": [0, 1, 2]})) == []


def test_the_page_says_when_timings_come_from_a_shared_machine():
    quiet = pd.DataFrame({"load_average_1min": [1.1, 0.9], "threads": [1, 1], "cpu_count": [2, 2]})
    assert shared_machine_note(quiet).startswith("quiet")
    busy = quiet.assign(load_average_1min=[1.1, 3.9])
    note = shared_machine_note(busy)
    assert note.startswith("shared: 1 of 2 runs") and "up to 3.9 on 2 CPUs" in note
    older = quiet.assign(load_average_1min=np.nan)
    assert shared_machine_note(older).startswith("not recorded")


def test_numbers_are_right_aligned_and_text_left_aligned_on_every_page():
    frame = pd.DataFrame(
        {
            "neuron": ["leaky", "abss"],
            "accuracy": ["94.1 [93.0, 95.2]", "77.7"],
            "failure rate": ["0.0041%", ""],
            "surrogate": ["atan alpha=2", "none"],
        }
    )
    assert numeric_columns(frame) == [2, 3]
    assert "#t td:nth-child(2), #t td:nth-child(3) { text-align: right; }" in render_table(frame, "t")


def test_holm_leaves_the_garbage_collector_as_it_found_it(monkeypatch):
    """The Holm adjustment freezes the process's objects for statsmodels' full collection, and only its own."""
    p_values = pd.Series([0.01, np.nan, 0.04, 0.03])
    expected = [0.03, np.nan, 0.06, 0.06]
    frozen_during_collections = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda: frozen_during_collections.append(gc.get_freeze_count()) or collect())
    assert gc.get_freeze_count() == 0
    np.testing.assert_allclose(holm(p_values), expected)
    assert frozen_during_collections and all(frozen_during_collections), "statsmodels' collection ran frozen"
    assert gc.get_freeze_count() == 0, "unfrozen afterwards"
    gc.freeze()
    try:
        np.testing.assert_allclose(holm(p_values), expected)
        assert gc.get_freeze_count() > 0, "a caller's frozen objects stay frozen"
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("payload", ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"])
def test_a_recorded_string_never_reaches_a_table_as_a_formula(tmp_path, payload):
    run = grid_run("leaky", "atan", "bptt", 0)
    write_run(tmp_path / run.run_id, run, [0.5])
    summary_path = tmp_path / run.run_id / SUMMARY_FILE
    summary = json.loads(summary_path.read_text())
    summary_path.write_text(json.dumps({**summary, "versions": {**summary["versions"], "torch": payload}}))
    out = {name: tmp_path / f"{name}.csv" for name in TABLES}
    studies = {"one": {"runs": [run.run_id], "factors": FIXED_SCALE, "baseline": {}, "equivalence_margin": 0.005}}
    build_tables(
        [run.as_dict()], list(files_in({run.run_id: tmp_path / run.run_id}).values()), studies, example_settings(), out
    )
    assert pd.read_csv(out["runs"])["torch_version"].tolist() == [f"'{payload}"]
    assert pd.read_csv(out["runs"])["test_acc_at_best"].tolist() == [0.5], "numbers stay numbers"


def test_the_recorded_device_and_divergence_are_the_ones_spikebench_writes():
    from spikebench.run.health import DIVERGENCE_SOURCES

    assert SUMMARY_SCHEMA["properties"]["divergence"]["enum"] == [*DIVERGENCE_SOURCES, None]
    assert SUMMARY_SCHEMA["properties"]["device"]["enum"] == ["cpu", "cuda"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_acc_at_best": 0.992}, "field 'test_acc_at_best' is 0.992, but .* says 0.9 at epoch 2"),
        ({"status": "silent"}, "field 'status' is 'silent', but the output layer fired in"),
        (
            {"best_epoch": 1, "best_val_acc": 0.8},
            "best_val_acc 0.8 at epoch 1 is not the best of .* \\(0.9 at epoch 2\\)",
        ),
    ],
)
def test_the_merge_refuses_a_summary_that_disagrees_with_its_epochs(study, change, message):
    runs, dirs = study
    path = dirs[runs[0].run_id] / SUMMARY_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(RunOutputError, match=f"{re.escape(str(path))}: {message}"):
        merge_runs(runs, files_in(dirs), example_settings())


def test_the_merge_refuses_a_silent_run_called_ok(study):
    runs, dirs = study
    silent = next(run for run in runs if run.neuron == "lapicque")
    path = dirs[silent.run_id] / SUMMARY_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "ok"}))
    with pytest.raises(RunOutputError, match="field 'status' is 'ok', but the output layer never fired"):
        merge_runs(runs, files_in(dirs), example_settings())
