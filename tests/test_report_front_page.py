"""The Snakemake report's front page: the summary page's smoke-test banner and context rows, escaped, rendered as
Snakemake renders ``report/workflow.rst`` (Jinja with the config, then docutils)."""

import html
import logging
import re

import pandas as pd
import pytest
from docutils.core import publish_parts
from jinja2 import Environment

from conftest import REPO
from spikebench.report.context import study_context
from spikebench.report.workflow_page import front_page, rst_text
from spikebench.study.config import expand_runs, load_config

HOSTILE = (
    ".. raw:: html\n\n   <script>document.body.setAttribute('data-pwned', 1)</script>\n"
    "`mail <javascript:alert(1)>`_ |sub| :math:`x` **bold** [#]_ _`target` \u2028.. include:: /etc/passwd"
)


def rendered(rst: str) -> str:
    """reStructuredText as Snakemake's report publishes it: docutils' HTML body."""
    return publish_parts(rst, writer="html")["html_body"]


def shown_text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def front_page_html(config: dict) -> str:
    """``report/workflow.rst`` rendered from ``config`` as ``snakemake --report`` does."""

    class Snakemake:
        pass

    Snakemake.config = config
    template = Environment(trim_blocks=True, lstrip_blocks=True).from_string((REPO / "report/workflow.rst").read_text())
    page = rendered(template.render(snakemake=Snakemake, categories={}, files=[]))
    assert "system-message" not in page, "docutils reported a problem in the front page"
    return page


def with_front_page(config: dict, runs_table) -> dict:
    context = study_context(config, ["config/quick.yaml"], "0123abc", [])
    runs = [run.as_dict() for run in expand_runs(config).values()]
    config["report_context"] = front_page(context, config["studies"], runs, runs_table)
    return config


def test_text_reaches_the_page_as_text_never_as_markup():
    body = rendered(rst_text(HOSTILE))
    assert "system-message" not in body
    assert "<script" not in body and "href=" not in body
    assert "<a " not in body and "<strong>" not in body and "<pre" not in body
    assert shown_text(body) == " ".join(HOSTILE.replace("\u2028", " ").split())


def test_the_quick_config_s_front_page_carries_the_smoke_test_banner_and_its_context(tmp_path):
    config = with_front_page(load_config(REPO / "config/quick.yaml"), tmp_path / "no-runs-yet.csv")
    page = front_page_html(config)
    banner = re.search(r'<div class="admonition warning">(.*?)</div>', page, re.S)
    assert banner, "no warning admonition on the front page"
    text = shown_text(banner.group(1))
    assert "A smoke test, not a study: read no conclusion from these numbers." in text
    assert "one seed" in text and "at most 1 epoch with patience 1" in text and "at most 4,096 images" in text
    context = shown_text(page)
    assert "seeds: 0" in context and "machine load: not recorded by these runs" in context
    assert "spikebench commit: 0123abc" in context and "images per split: no run finished" in context
    assert page.index("A smoke test") < page.index("Neuron simulation"), "the banner is not at the top"


def test_the_full_study_s_front_page_has_no_banner(tmp_path):
    config = with_front_page(load_config(REPO / "config/config.yaml"), tmp_path / "runs.csv")
    page = front_page_html(config)
    assert "admonition warning" not in page and "A smoke test" not in page
    assert "seeds: 0, 1, 2, 3, 4" in shown_text(page)


def test_the_front_page_reads_the_runs_as_they_recorded_themselves(tmp_path):
    config = load_config(REPO / "config/quick.yaml")
    runs = pd.DataFrame([run.as_dict() for run in expand_runs(config).values()]).assign(
        status="ok",
        train_samples=4096,
        validation_samples=200,
        test_samples=256,
        threads=1,
        cpu_count=2,
        load_average_1min=3.9,
        wall_seconds=36.0,
        engine="fast",
        precision="fp32",
        device="cpu",
        spikebench_version="1.0",
        torch_version="2.13.0",
        snntorch_version="0.9.4",
    )
    runs.to_csv(tmp_path / "runs.csv", index=False)
    text = shown_text(front_page_html(with_front_page(config, tmp_path / "runs.csv")))
    assert "images per split: train 4,096; validation 200; test 256" in text
    assert f"machine load: shared: {len(runs)} of {len(runs)} runs finished" in text


@pytest.mark.parametrize("content", ["\0\0\0", "seed,status\nx,ok\n", "a,b\n1,2\n", ""])
def test_a_damaged_runs_table_falls_back_to_the_plan(tmp_path, caplog, content):
    (tmp_path / "runs.csv").write_text(content)
    with caplog.at_level(logging.WARNING):
        config = with_front_page(load_config(REPO / "config/quick.yaml"), tmp_path / "runs.csv")
    assert "images per split: no run finished" in shown_text(front_page_html(config))
    assert str(tmp_path / "runs.csv") in caplog.text


def test_a_hostile_description_is_shown_as_text(tmp_path):
    config = load_config(REPO / "config/quick.yaml")
    config["studies"]["quick"]["description"] = HOSTILE
    page = front_page_html(with_front_page(config, tmp_path / "runs.csv"))
    assert "<script" not in page and 'href="javascript' not in page
    assert "document.body.setAttribute('data-pwned', 1)" in html.unescape(page)
