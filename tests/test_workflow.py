"""The workflow itself, run through Snakemake: dry runs, lint, formatting, data rules and simulation."""

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SHARED_MNIST, load_yaml
from helpers import SNAKEMAKE, snakemake
from spikebench.data.datasets import sources_key
from spikebench.model.registry import NEURON_MODELS
from spikebench.report.registry import STUDY_FIGURES, TABLES
from spikebench.report.simulation import SIMULATION_FIGURES, TRACE_COLUMNS
from spikebench.report.study_figures import draw_study_figure
from spikebench.report.style import save_figure
from spikebench.report.summary_page import render_summary_page
from spikebench.run.contract import EPOCH_COLUMNS, STATUSES
from spikebench.study.config import expand_runs, load_config, validate_config
from spikebench.study.resources import plan_cost
from spikebench.study.settings import RunSettings
from synthetic_study import study_config, synthetic_tables

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
EYE = "a[iconname='eye']"
"""The report's 'show this result' buttons."""
PYTHON_FOLDERS = ["src", "tests", "benchmarks", "workflow/scripts", "examples", "docs"]


def write_config(tmp_path, config, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


PAYLOADS = (
    "Raw HTML:\n\n.. raw:: html\n\n   <img src=x onerror=\"document.body.setAttribute('data-pwned', 'raw')\">\n\n"
    "A link: `x <javascript:document.body.setAttribute('data-pwned','link')>`_ and javascript:alert(1)"
    " and <script>document.body.setAttribute('data-pwned', 'script')</script>."
)
"""What a colleague's config could hide in a study description: none of it may run in a page."""


def raw_directory(source):
    """Where the fetch puts MNIST's raw files taken from the local directory ``source``."""
    return f"resources/data/mnist/{sources_key([str(source)])}"


def quick_config_for(tmp_path, mnist_source, description=None, name="config.yaml"):
    config = load_yaml(REPO / "config/quick.yaml")
    config["datasets"]["mnist"]["sources"] = [str(mnist_source)]
    if description is not None:
        for study in config["studies"].values():
            study["description"] = f"{study['description']} {description}"
    return write_config(tmp_path, config, name)


def test_dry_run_of_the_full_config(tmp_path):
    result = snakemake("-n", "--configfile", str(REPO / "config/config.yaml"), workdir=tmp_path)
    output = result.stdout + result.stderr
    assert re.search(r"fetch_dataset\s+1\n", output) and re.search(r"simulate\s+5\n", output)
    assert re.search(r"train\s+367\n", output)
    assert "results/runs/mnist-synaptic-sigmoid-k35.2549-bptt-s2/epochs.csv" in output, "sigmoid at width 0.1"


def test_lint_is_clean():
    result = snakemake("--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_check_passes():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_python_is_ruff_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PYTHON_FOLDERS], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_neuron_stops_before_any_job(tmp_path):
    config = load_yaml(REPO / "config/quick.yaml")
    config["studies"]["quick"]["neuron"] = ["leakyy"]
    result = snakemake("-n", "--configfile", str(write_config(tmp_path, config)), workdir=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'leakyy' is not allowed" in output and "leaky, synaptic, alpha, lapicque, lif, abss" in output
    assert "studies.quick.neuron[0]" in output
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, request):
    """The whole quick config, run once through Snakemake, plus its report."""
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the offline MNIST copy is not at {SHARED_MNIST}")
    workdir = tmp_path_factory.mktemp("quick")
    config = quick_config_for(workdir, SHARED_MNIST, PAYLOADS)
    snakemake("--cores", "2", "--configfile", str(config), workdir=workdir)
    snakemake("--report", str(workdir / "results/quick/report.html"), "--configfile", str(config), workdir=workdir)
    return workdir, config


@pytest.mark.workflow
def test_quick_config_end_to_end(quick_run):
    workdir, config = quick_run
    results = workdir / "results/quick"
    assert (results / "data/mnist.npz").stat().st_size > 50_000_000
    (fetch_log,) = (results / "logs/data").glob("fetch_mnist-????????????.log")
    assert "taken from" in fetch_log.read_text()
    for figure in SIMULATION_FIGURES:
        assert (results / f"simulation/{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (results / f"simulation/{figure}.svg").is_file()
        header = (results / f"simulation/{figure}.csv").read_text().splitlines()[0].split(",")
        assert header[:6] == TRACE_COLUMNS
        assert (results / f"logs/simulate/{figure}.log").is_file()
        assert (results / f"benchmarks/simulate/{figure}.tsv").is_file()
    quick = load_yaml(config)
    validate_config(quick)
    runs = expand_runs(quick)
    assert {run.neuron for run in runs.values()} == set(NEURON_MODELS)
    for run_id in runs:
        summary = json.loads((results / f"runs/{run_id}/summary.json").read_text())
        assert summary["status"] in STATUSES and summary["epochs_run"] == 1
        assert summary["train_samples"] == 4096 and summary["test_samples"] == 256
        epochs = pd.read_csv(results / f"runs/{run_id}/epochs.csv")
        assert list(epochs.columns) == EPOCH_COLUMNS and epochs["epoch"].tolist() == [0, 1]
        assert (results / f"runs/{run_id}/model.pt").is_file()
        assert "epoch 1:" in (results / f"logs/train/{run_id}.log").read_text()
        assert (results / f"benchmarks/train/{run_id}.tsv").is_file()
    table = pd.read_csv(results / "tables/runs.csv")
    assert sorted(table["run_id"]) == sorted(runs)
    learned = table.set_index("run_id")["test_acc_at_best"]
    assert learned["mnist-leaky-atan-k2-bptt-s0"] > 0.8, "one epoch of the quick config teaches leaky to read digits"
    assert table["activation_sparsity"].between(0, 1).all() and (table["dense_ops"] > 0).all()
    assert len(pd.read_csv(results / "tables/epochs.csv")) == 2 * len(runs)
    summary = pd.read_csv(results / "tables/summary.csv")
    assert len(summary) == len(runs) and set(summary["runs"]) == {1}
    comparisons = pd.read_csv(results / "tables/comparisons.csv")
    assert set(comparisons["baseline"]) == {"leaky", "fast_sigmoid", "bptt"}
    exploratory = comparisons[comparisons["family"] == "exploratory"]
    assert exploratory["test"].str.startswith("not testable").all(), "one seed: no context is testable"
    pooled = comparisons[(comparisons["family"] == "primary") & (comparisons["factor"] == "surrogate")]
    assert pooled["n_blocks"].item() == 5, "atan against fast_sigmoid pooled over the five surrogate-taking models"
    page = (results / "summary.html").read_text()
    assert "not testable" in page and "draw no conclusion" in page and "Primary:" in page
    report = (results / "report.html").read_text()
    assert "<strong>A smoke test, not a study: read no conclusion from these numbers.</strong>" in report
    assert "train 4,096; validation 200; test 256" in report, "the report's context block reads the runs"
    assert "align-items: safe center" in report, "the front page's style is in the report"
    for plot in STUDY_FIGURES:
        assert (results / f"figures/{plot}.png").stat().st_size > 10_000
        assert (results / f"figures/{plot}.svg").is_file()
    for name in TABLES:
        rows = len(pd.read_csv(results / f"tables/{name}.csv"))
        assert f"all {rows:,} rows" in (results / f"tables/{name}.html").read_text(), name


def start_chrome():
    """A headless Chromium under Selenium, or a skip where Debian's chromium and its driver are missing."""
    browser = pytest.importorskip("selenium.webdriver", reason="selenium is part of the test extra")
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    options = browser.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    return browser.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_a_three_seed_study_that_can_stop_early_gets_no_smoke_test_banner(tmp_path):
    """The banner's absence, in a browser, on the page of a real design: three seeds, patience below the
    epochs (synthetic runs, so no training)."""
    from selenium.webdriver.common.by import By

    tables = synthetic_tables(tmp_path, [0, 1, 2])
    table_paths = {name: str(tmp_path / f"{name}.csv") for name in TABLES}
    figure_paths = {}
    for name in STUDY_FIGURES:
        figure_paths[name] = str(tmp_path / f"{name}.png")
        save_figure(draw_study_figure(name, tables), figure_paths[name], tmp_path / f"{name}.svg")
    config = study_config([0, 1, 2])
    context = {
        "config_files": ["three_seeds.yaml"],
        "results": "results",
        "studies": list(config["studies"]),
        "data": config["data"],
        "model": config["model"],
        "training": {**config["training"], "max_epochs": 20, "patience": 3},
        "simulation": config["simulation"],
        "engine": "fast",
        "device": "cpu",
        "threads": 1,
        "commit": None,
    }
    page = tmp_path / "summary.html"
    render_summary_page(table_paths, figure_paths, {}, [], context, page)
    driver = start_chrome()
    try:
        driver.get(page.as_uri())
        assert driver.find_element(By.ID, "summary-table").is_displayed()
        assert not driver.find_elements(By.ID, "smoke-test")
        assert "patience 3" in driver.find_element(By.ID, "context").text
    finally:
        driver.quit()


@pytest.mark.workflow
def test_report_reads_well_in_a_browser(quick_run, tmp_path):
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    workdir, _ = quick_run
    driver = start_chrome()
    # The report is a script-rendered page that animates its menus, and images load asynchronously: wait for
    # what is checked, and click again while an animating element still covers the target.
    wait = WebDriverWait(driver, 30)
    clicks = WebDriverWait(
        driver,
        30,
        ignored_exceptions=(
            ElementClickInterceptedException,
            StaleElementReferenceException,
            NoSuchElementException,
            IndexError,
        ),
    )
    broken_images = "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"

    def images_loaded(message):
        wait.until(lambda page: page.execute_script(broken_images) == 0, message)

    def click(find):
        clicks.until(lambda page: find(page).click() or True)

    def open_category(category):
        click(lambda page: page.find_element(By.XPATH, f"//*[text()='{category}']"))
        return wait.until(lambda page: page.find_elements(By.CSS_SELECTOR, EYE), f"report category {category} is empty")

    try:
        driver.get((workdir / "results/quick/summary.html").as_uri())
        assert driver.find_element(By.ID, "summary-table").is_displayed()
        banner = driver.find_element(By.ID, "smoke-test")
        assert banner.is_displayed() and "one seed" in banner.text and "no run can stop early" in banner.text
        context = driver.find_element(By.ID, "context").text
        assert (
            "quick" in context and "train 4,096" in context and "patience 1" in context and "snnTorch 1.0.0" in context
        )
        page_width = driver.execute_script("return document.documentElement.clientWidth")
        for table in driver.find_elements(By.TAG_NAME, "table"):
            right = driver.execute_script("return arguments[0].parentElement.getBoundingClientRect().right", table)
            assert right <= page_width, f"table {table.get_attribute('id')} runs off the page"
        overflow = "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        assert not driver.execute_script(overflow), "the summary page scrolls sideways"
        assert len(driver.find_elements(By.TAG_NAME, "figcaption")) == len(STUDY_FIGURES) + len(SIMULATION_FIGURES)
        combinations = len(pd.read_csv(workdir / "results/quick/tables/summary.csv"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#summary-table tbody tr")) == combinations
        assert driver.execute_script("return document.images.length") == len(STUDY_FIGURES) + len(SIMULATION_FIGURES)
        images_loaded("a broken image in the summary page")
        driver.save_screenshot(str(tmp_path / "summary.png"))
        assert_no_planted_script_ran(driver, "the summary page")

        shown = 0
        for category in ("Neuron simulation", "Training", "Initialisation", "Comparison", "Cost"):
            driver.get((workdir / "results/quick/report.html").as_uri())
            count = len(open_category(category))
            for index in range(count):
                open_category(category)
                click(lambda page, index=index: page.find_elements(By.CSS_SELECTOR, EYE)[index])
                images_loaded(f"a broken image in {category}")
                shown += driver.execute_script("return document.images.length")
                driver.back()
        assert shown >= len(STUDY_FIGURES) + len(SIMULATION_FIGURES)

        driver.get((workdir / "results/quick/report.html").as_uri())
        open_category("Training")
        click(lambda page: page.find_element(By.XPATH, "//tr[td[normalize-space()='runs']]//a[@iconname='eye']"))
        driver.switch_to.frame(wait.until(lambda page: page.find_element(By.TAG_NAME, "iframe")))
        rows = wait.until(lambda page: page.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr"))
        assert len(rows) == len(pd.read_csv(workdir / "results/quick/tables/runs.csv")), "the report shows the table"
        assert driver.find_element(By.ID, "download").get_attribute("href").startswith("data:text/csv;base64,")
        assert_no_planted_script_ran(driver, "a table page")
        driver.switch_to.default_content()
        driver.get((workdir / "results/quick/report.html").as_uri())
        click(lambda page: page.find_element(By.XPATH, "//*[text()='Workflow']"))
        wait.until(lambda page: "Every neuron model once" in page.page_source, "the studies' descriptions are shown")
        banner = driver.find_element(By.CSS_SELECTOR, ".admonition.warning")
        assert "A smoke test, not a study" in banner.text
        scroll_to_top = "document.querySelectorAll('.overflow-auto').forEach(view => view.scrollTop = 0)"
        driver.execute_script(scroll_to_top)
        top = driver.execute_script("return arguments[0].getBoundingClientRect().top", banner)
        assert top >= 0, "the smoke-test banner lies above the front page's scroll range"
        assert "document.body.setAttribute" in driver.page_source, "the description is shown as text"
        assert_no_planted_script_ran(driver, "the report")
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


def assert_no_planted_script_ran(driver, where):
    from selenium.webdriver.common.by import By

    assert driver.execute_script("return document.body.getAttribute('data-pwned')") is None, f"a script ran in {where}"
    links = [link.get_attribute("href") or "" for link in driver.find_elements(By.TAG_NAME, "a")]
    assert not [link for link in links if link.lower().startswith("javascript:")], f"a javascript: link in {where}"


@pytest.mark.workflow
def test_deleting_one_runs_epochs_reruns_only_it_and_the_aggregates(quick_run):
    workdir, config = quick_run
    epochs = workdir / "results/quick/runs/mnist-leaky-atan-k2-bptt-s0/epochs.csv"
    kept = epochs.with_suffix(".kept")
    epochs.rename(kept)
    try:
        result = snakemake("-n", "--configfile", str(config), workdir=workdir)
    finally:
        kept.rename(epochs)
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout + result.stderr, flags=re.M))
    assert jobs.pop("total") is not None
    assert jobs == {
        "train": "1",
        "workload": "1",
        "merge_runs": "1",
        "table_page": str(len(TABLES)),
        "plot_study": str(len(STUDY_FIGURES)),
        "summary_page": "1",
        "all": "1",
    }


def readme_block(first_line: str) -> str:
    """The fenced code block of the running guide (docs/user-guide/running.md) that starts with ``first_line``."""
    blocks = re.findall(r"```\w*\n(.*?)```", (REPO / "docs/user-guide/running.md").read_text(), flags=re.S)
    (block,) = [block for block in blocks if block.startswith(first_line)]
    return block


@pytest.mark.workflow
def test_the_readme_recipe_adds_runs_and_trains_only_them(quick_run):
    """The running guide's "Add runs to a study": a second config file merges into the first; only new seeds train."""
    workdir, config = quick_run
    extra = workdir / "more-seeds.yaml"
    extra.write_text(readme_block("# more-seeds.yaml"))
    command = readme_block("snakemake --cores 2 --configfile config/quick.yaml more-seeds.yaml").split()
    assert command[-2:] == ["config/quick.yaml", "more-seeds.yaml"]
    result = snakemake("-n", "--configfile", str(config), str(extra), workdir=workdir)
    output = result.stdout + result.stderr
    planned = set(re.findall(r"run_id=(\S+)", output))
    methods = load_yaml(REPO / "config/quick.yaml")["studies"]["quick_backprop"]["backprop"]
    added = {f"mnist-leaky-atan-k2-{method}-s{seed}" for method in methods for seed in (1, 2)}
    assert re.search(rf"^train\s+{len(added)}$", output, flags=re.M) and added <= planned
    assert not any(run.endswith("-s0") for run in planned), "the runs already there are reused"
    assert re.search(r"^merge_runs\s+1$", output, flags=re.M)


@pytest.mark.workflow
def test_a_merge_killed_mid_run_loses_nothing_and_the_report_still_builds(quick_run):
    """kill -9 of a forced merge leaves the tables half written or gone; after --unlock a plain rerun rebuilds
    them (and what depends on them), and the report builds."""
    workdir, config = quick_run
    tables = workdir / "results/quick/tables"
    figure = workdir / "results/quick/figures/baseline_comparisons.png"
    job = subprocess.Popen(
        [
            *SNAKEMAKE,
            "--directory",
            str(workdir),
            "--cores",
            "1",
            "--forcerun",
            "merge_runs",
            "--configfile",
            str(config),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while (tables / "runs.csv").exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    figure.unlink()
    assert not (tables / "runs.csv").exists(), "the forced merge had removed its outputs when it was killed"
    snakemake("--unlock", "--configfile", str(config), workdir=workdir)
    planned = snakemake("-n", "--configfile", str(config), workdir=workdir)
    assert re.search(r"^merge_runs\s+1$", planned.stdout, flags=re.M), planned.stdout
    snakemake("--cores", "2", "--configfile", str(config), workdir=workdir)
    assert all((tables / f"{name}.csv").is_file() for name in TABLES) and figure.is_file()
    snakemake("--report", str(workdir / "results/quick/report.html"), "--configfile", str(config), workdir=workdir)


@pytest.mark.workflow
def test_the_full_configs_data_and_figures_leave_the_quick_results_alone(quick_run):
    """The README's order for a new user: the quick config, then the full study's data-only and figures-only
    commands, then the quick config again, which has nothing to do."""
    workdir, config = quick_run
    full = load_yaml(REPO / "config/config.yaml")
    full["datasets"]["mnist"]["sources"] = [str(SHARED_MNIST)]
    full_config = write_config(workdir, full, name="full.yaml")
    snakemake("--cores", "2", "results/data/mnist.npz", "--configfile", str(full_config), workdir=workdir)
    snakemake("--cores", "2", "--until", "simulate", "--configfile", str(full_config), workdir=workdir)
    assert (workdir / "results/data/mnist.npz").is_file() and (workdir / "results/simulation/lif_vs_abss.png").is_file()
    again = snakemake("-n", "--configfile", str(config), workdir=workdir)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.workflow
def test_every_fate_is_counted_and_the_report_still_builds(tmp_path, shared_mnist):
    """Three runs, three fates: one learns, one diverges (snnTorch's own sigmoid backward turns NaN at slope
    100), one never has a gradient (the sparse fast sigmoid at the untrained network). The grid completes."""
    config = {
        "device": "cpu",
        "datasets": {"mnist": {"sources": [str(shared_mnist)]}},
        "data": {"validation_size": 100, "limit_train": 600, "limit_validation": 100, "limit_test": 100},
        "model": {
            "steps": 6,
            "surrogate_numerics": "snntorch",
            "surrogate_params": {"sigmoid": {"slope": 100}, "sparse_fast_sigmoid": {"slope": 50}},
        },
        "training": {"batch_size": 50, "eval_batch_size": 100, "max_epochs": 3, "patience": 3},
        "studies": {
            "fates": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["atan", "sigmoid", "sparse_fast_sigmoid"],
                "backprop": ["bptt"],
                "seed": [0],
                "baseline": {"surrogate": "atan"},
            }
        },
        "simulation": {name: {"steps": 20} for name in SIMULATION_FIGURES},
    }
    path = write_config(tmp_path, config)
    snakemake("--cores", "2", "--configfile", str(path), workdir=tmp_path)
    snakemake("--report", str(tmp_path / "results/report.html"), "--configfile", str(path), workdir=tmp_path)
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv").set_index("run_id")
    assert runs["status"].to_dict() == {
        "mnist-leaky-atan-k2-bptt-s0": "ok",
        "mnist-leaky-sigmoid-k100-bptt-s0": "diverged",
        "mnist-leaky-sparse_fast_sigmoid-k50-bptt-s0": "no_gradient",
    }
    diverged = runs.loc["mnist-leaky-sigmoid-k100-bptt-s0"]
    assert (diverged["diverged_epoch"], diverged["divergence"]) == (1, "gradients")
    assert runs.loc["mnist-leaky-sparse_fast_sigmoid-k50-bptt-s0", "initial_gradient_norm"] == 0
    reasons = pd.read_csv(tmp_path / "results/tables/never_learned.csv").set_index("surrogate")["reason"]
    assert "gradients became NaN or infinite in epoch 1" in reasons["sigmoid"]
    assert "every gradient was exactly zero" in reasons["sparse_fast_sigmoid"]
    page = (tmp_path / "results/summary.html").read_text()
    assert "no_gradient" in page and "steady-state gain" in page
    assert (tmp_path / "results/report.html").stat().st_size > 100_000


@pytest.mark.workflow
def test_configs_reading_the_same_data_from_other_paths_leave_each_others_results_alone(tmp_path, shared_mnist):
    """Config A prepares its data; config B names the same directory another way (shared, nothing fetched) and
    then a copy of it elsewhere (its own raw files): A has nothing to redo either time."""
    first = quick_config_for(tmp_path, shared_mnist, name="a.yaml")
    snakemake("--cores", "1", "results/quick/data/mnist.npz", "--configfile", str(first), workdir=tmp_path)
    spelled_otherwise = Path(os.path.relpath(shared_mnist.resolve(), tmp_path))
    second = load_yaml(first)
    second.update(results="results/other", datasets={"mnist": {"sources": [str(spelled_otherwise)]}})
    second = write_config(tmp_path, second, "b.yaml")
    planned = snakemake("-n", "results/other/data/mnist.npz", "--configfile", str(second), workdir=tmp_path)
    assert "fetch_dataset" not in planned.stdout, "the same directory, another spelling: the same raw files"
    copy = tmp_path / "mnist-copy"
    shutil.copytree(shared_mnist, copy)
    third = load_yaml(second)
    third["datasets"]["mnist"]["sources"] = [str(copy)]
    third = write_config(tmp_path, third, "c.yaml")
    snakemake("--cores", "1", f"{raw_directory(copy)}/provenance.json", "--configfile", str(third), workdir=tmp_path)
    assert (tmp_path / raw_directory(shared_mnist) / "raw/train-labels-idx1-ubyte.gz").is_file()
    again = snakemake("-n", "results/quick/data/mnist.npz", "--configfile", str(first), workdir=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.workflow
def test_corrupt_raw_file_fails_the_data_rule_naming_it(tmp_path, shared_mnist):
    broken = tmp_path / "broken-mnist"
    shutil.copytree(shared_mnist, broken)
    target = broken / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-200])
    config = quick_config_for(tmp_path, broken)
    result = snakemake(
        "--cores", "1", "results/quick/data/mnist.npz", "--configfile", str(config), workdir=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{target}: cannot decompress" in output
    assert "--config 'datasets={mnist: {sources: [/path/to/dir]}}'" in output
    assert not (tmp_path / raw_directory(broken) / "raw/train-labels-idx1-ubyte.gz").exists()
    assert not (tmp_path / "results/quick/data/mnist.npz").exists()


@pytest.mark.workflow
def test_a_changed_source_file_is_fetched_again(tmp_path, shared_mnist):
    source = tmp_path / "mnist-copy"
    shutil.copytree(shared_mnist, source)
    config = quick_config_for(tmp_path, source)
    provenance = f"{raw_directory(source)}/provenance.json"
    snakemake("--cores", "1", provenance, "--configfile", str(config), workdir=tmp_path)
    unchanged = snakemake("-n", provenance, "--configfile", str(config), workdir=tmp_path)
    assert "fetch_dataset" not in unchanged.stdout + unchanged.stderr
    labels = source / "t10k-labels-idx1-ubyte.gz"
    recompressed = gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1, mtime=0)
    source.chmod(0o755)
    labels.chmod(0o644)
    time.sleep(1)
    labels.write_bytes(recompressed)
    changed = snakemake("-n", provenance, "--configfile", str(config), workdir=tmp_path)
    assert re.search(r"fetch_dataset\s+1\n", changed.stdout + changed.stderr)


@pytest.mark.workflow
def test_a_scale_that_reads_as_a_pattern_plans_and_its_run_diverges(tmp_path, shared_mnist):
    """atan at alpha 1e+39: its run id has a '+', which an unescaped wildcard constraint reads as a regular
    expression; the config plans, and the run trains and ends diverged (its gradients overflow)."""
    config = {
        "device": "cpu",
        "datasets": {"mnist": {"sources": [str(shared_mnist)]}},
        "data": {"validation_size": 100, "limit_train": 200, "limit_validation": 100, "limit_test": 100},
        "model": {"steps": 4, "surrogate_params": {"atan": {"alpha": 1.0e39}}},
        "training": {"batch_size": 50, "eval_batch_size": 100, "max_epochs": 2, "patience": 2},
        "studies": {
            "overflow": {
                "dataset": ["mnist"],
                "neuron": ["leaky"],
                "surrogate": ["atan"],
                "backprop": ["bptt"],
                "seed": [0],
            }
        },
    }
    path = write_config(tmp_path, config)
    summary = "results/runs/mnist-leaky-atan-k1e+39-bptt-s0/summary.json"
    snakemake("--cores", "1", summary, "--configfile", str(path), workdir=tmp_path)
    recorded = json.loads((tmp_path / summary).read_text())
    assert (recorded["status"], recorded["divergence"]) == ("diverged", "gradients")


def test_a_bare_run_of_the_full_study_stops_before_any_job_and_prints_its_cost(tmp_path):
    """``snakemake --cores 2`` on the shipped full config: the cost first, then a stop before any job (no data
    fetched, no run trained), with the flag that starts it and the quick config to try first."""
    result = snakemake("--cores", "2", "--configfile", str(REPO / "config/config.yaml"), workdir=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "spikebench plan (this config): 367 runs to train" in output and "this plan is 367 runs" in output
    assert "15.5 days of wall time on 2 cores" in output
    assert "Nothing has started" in output and "--config confirm_cost=true" in output
    assert "--configfile=config/quick.yaml" in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_a_target_may_follow_a_config_file_given_with_an_equals_sign(tmp_path):
    """As the Running page says: ``--configfile=FILE`` takes one file, so the target after it is planned; with a
    space the target is read as a config file and Snakemake stops before the workflow, naming it."""
    quick = load_yaml(REPO / "config/quick.yaml")
    config = str(write_config(tmp_path, {**quick, "results": f"results/{tmp_path.name}"}))
    target = f"results/{tmp_path.name}/simulation/lif_single.png"
    planned = snakemake("-n", f"--configfile={config}", target, workdir=tmp_path)
    assert "rule simulate:" in planned.stdout and "lif_single.png" in planned.stdout
    assert "rule train:" not in planned.stdout
    swallowed = snakemake("-n", "--configfile", config, target, workdir=tmp_path, check=False)
    output = swallowed.stdout + swallowed.stderr
    assert swallowed.returncode != 0 and f"No such file or directory: '{target}'" in output


def test_a_dry_run_shows_the_cost_before_the_job_table(tmp_path):
    result = snakemake("-n", "--cores", "4", "--configfile", str(REPO / "config/config.yaml"), workdir=tmp_path)
    output = result.stdout + result.stderr
    assert output.index("spikebench plan (this config): 367 runs to train") < output.index("Job stats")
    assert "on 4 cores" in output


def test_the_cost_counts_only_the_runs_still_to_train():
    quick = RunSettings.from_config(load_config(REPO / "config/quick.yaml"))
    one = plan_cost(quick, [("mnist", "bptt")], threads=1, cores=2)
    two = plan_cost(quick, [("mnist", "bptt")] * 2, threads=1, cores=2)
    three = plan_cost(quick, [("mnist", "bptt")] * 3, threads=1, cores=2)
    assert two.cpu_seconds == pytest.approx(2 * one.cpu_seconds) and two.wall_seconds == one.wall_seconds
    assert three.wall_seconds == pytest.approx(2 * one.wall_seconds), "two at once on 2 cores, then the third"
    assert plan_cost(quick, [], threads=1, cores=2).wall_seconds == 0
    full = load_config(REPO / "config/config.yaml")
    runs = [(run.dataset, run.backprop) for run in expand_runs(full).values()]
    assert plan_cost(RunSettings.from_config(full), runs, 1, 2).wall_seconds > 100 * 3600 > full["cost_gate_hours"]


def test_a_data_error_is_shown_once_and_not_retried(tmp_path):
    """The default profile retries killed training jobs only: a source that is not there fails the fetch once,
    its message on the terminal once and its traceback only in the log."""
    quick = load_yaml(REPO / "config/quick.yaml")
    missing = tmp_path / "nowhere"
    quick["datasets"]["mnist"]["sources"] = [str(missing)]
    config = write_config(tmp_path, quick)
    result = snakemake(
        "--cores", "1", f"--configfile={config}", "results/quick/data/mnist.npz", workdir=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert output.count(f"{missing}/train-images-idx3-ubyte.gz: no such file\nTo fix it") == 1
    assert "Trying to restart" not in output and "Traceback" not in output
    (log,) = (tmp_path / "results/quick/logs/data").glob("fetch_mnist-????????????.log")
    assert (
        "Traceback (most recent call last)" in log.read_text()
        and f"(traceback in {log.relative_to(tmp_path)})" in output
    )
