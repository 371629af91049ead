"""Where a study's numbers come from, as the summary page and the Snakemake report's front page both state it:
the config, the data sizes, seeds, engine, machine load and versions the runs recorded, and why a design is a
smoke test rather than a study.

Snakemake reads this module while it plans (for the report's front page), so it imports no statistics.
"""

from __future__ import annotations

import time

import pandas as pd

from spikebench.neurons.surrogates import SURROGATES
from spikebench.plugins import BUILT_IN_ORIGINS
from spikebench.study.config import selected_studies
from spikebench.utils.text import counted


def study_context(config: dict, config_files: list[str], commit: str | None, plugins: list[dict]) -> dict:
    """What the pages state about where their numbers come from: the config's settings, the files it was read
    from, the workflow's commit and the plugins that ran while the study was planned."""
    return {
        "config_files": config_files or ["config/config.yaml"],
        "results": config["results"],
        "studies": list(selected_studies(config)),
        "data": config["data"],
        "model": {key: config["model"][key] for key in ("steps", "beta", "alpha", "threshold", "surrogate_params")},
        "training": config["training"],
        "simulation": config["simulation"],
        "engine": config["engine"],
        "precision": config["precision"],
        "device": config["device"],
        "threads": config["threads"],
        "commit": commit,
        "plugins": plugins,
    }


LOAD_SLACK = 0.5
"""Load above a run's own threads that still counts as a quiet machine (background daemons, the logger)."""


def context_rows(context: dict, runs: pd.DataFrame) -> list[tuple[str, str]]:
    data, training, model = context["data"], context["training"], context["model"]
    finished = runs[runs["status"] != "missing"]
    sizes = "; ".join(
        f"{column.split('_')[0]} {int(finished[column].iloc[0]):,}"
        for column in ("train_samples", "validation_samples", "test_samples")
        if column in finished and len(finished) and finished[column].notna().any()
    )
    scales = "; ".join(
        f"{name} " + ", ".join(f"{key} {value:g}" for key, value in params.items())
        for name, params in model["surrogate_params"].items()
    )
    seeds = ", ".join(map(str, sorted(runs["seed"].unique())))
    versions = finished.iloc[0] if len(finished) else None
    compute = finished["wall_seconds"].sum() / 3600 if "wall_seconds" in finished else float("nan")
    return [
        ("config", ", ".join(context["config_files"]) + f" (results in {context['results']}/)"),
        ("studies", ", ".join(context["studies"])),
        ("images per split", sizes or "no run finished"),
        ("data", f"validation hold-out {data['validation_size']:,}, split seed {data['split_seed']}"),
        ("time steps", str(model["steps"])),
        (
            "training",
            f"up to {counted(training['max_epochs'], 'epoch')}, patience {training['patience']},"
            f" batch {training['batch_size']}, Adamax lr {training['learning_rate']:g}",
        ),
        ("seeds", seeds),
        ("surrogate scales set", scales or _default_scales(runs)),
        ("plugins", _plugins_that_ran(context.get("plugins", []))),
        ("engine, precision, device, threads", _how_runs_ran(finished, context)),
        ("machine load", shared_machine_note(finished)),
        (
            "versions",
            "unknown"
            if versions is None
            else f"spikebench {versions['spikebench_version']}, torch {versions['torch_version']},"
            f" snnTorch {versions['snntorch_version']}",
        ),
        ("spikebench commit", context["commit"] or "not a git checkout"),
        ("compute", f"{compute:.2f} h of training-job wall time over {len(finished)} finished runs"),
        ("built", time.strftime("%Y-%m-%d %H:%M %Z")),
    ]


def _default_scales(runs: pd.DataFrame) -> str:
    """Whose defaults the runs' surrogates take when the config sets none: snnTorch's or their plugin's."""
    origins: dict[str, list[str]] = {}
    for name in sorted(set(runs["surrogate"].dropna()) & set(SURROGATES)):
        origin = SURROGATES[name].origin
        owner = "snnTorch's" if origin in BUILT_IN_ORIGINS else f"plugin {origin}'s"
        origins.setdefault(owner, []).append(name)
    listed = "; ".join(f"{owner} for {', '.join(names)}" for owner, names in origins.items())
    return f"none: the defaults ({listed})" if listed else "none: the defaults"


def _plugins_that_ran(plugins: list[dict]) -> str:
    """Every plugin that ran while the study was planned: module, how it was allowed, file, version."""
    if not plugins:
        return "none"
    return "; ".join(
        f"{plugin['module']} ({plugin['how']}, {plugin['file']}"
        + (f", {plugin['distribution']} {plugin['version']}" if plugin["distribution"] else ", not installed")
        + f"; registers {', '.join(plugin['registered'])})"
        for plugin in plugins
    )


def shared_machine_note(finished: pd.DataFrame) -> str:
    """Whether the runs' timings come from a machine busy with other work: the 1-minute load average each run
    recorded as it finished, against its own threads."""
    recorded = finished.dropna(subset=["load_average_1min"]) if "load_average_1min" in finished else finished[:0]
    if recorded.empty:
        return "not recorded by these runs: timings may include waiting for other jobs"
    busy = recorded[recorded["load_average_1min"] > recorded["threads"] + LOAD_SLACK]
    peak = recorded["load_average_1min"].max()
    cpus = recorded["cpu_count"].max()
    if busy.empty:
        return f"quiet: no run finished with a load average above its own threads (peak {peak:.1f})"
    return (
        f"shared: {len(busy)} of {len(recorded)} runs finished while the machine's 1-minute load average exceeded "
        f"their own threads (up to {peak:.1f} on {cpus:.0f} CPUs), so their seconds per epoch include waiting "
        "for other jobs (parallel Snakemake jobs count); compare timings only from a quiet machine"
    )


def smoke_test_reasons(context: dict, runs: pd.DataFrame) -> list[str]:
    """Why the design cannot support conclusions, one reason each; empty when it can."""
    training, data = context["training"], context["data"]
    reasons = []
    if runs["seed"].nunique() < 2:
        reasons.append("one seed: no seed-to-seed spread, so no difference between levels can be tested")
    if training["max_epochs"] <= training["patience"]:
        reasons.append(
            f"at most {counted(training['max_epochs'], 'epoch')} with patience {training['patience']}: no run can"
            " stop early, so none is known to have converged"
        )
    if reasons and data.get("limit_train"):
        reasons.append(f"training on at most {data['limit_train']:,} images")
    return reasons


def _how_runs_ran(finished: pd.DataFrame, context: dict) -> str:
    """Engine, precision, device and threads as the finished runs recorded them (not as the current config
    says), every value that occurs; the config's where no run finished."""
    if finished.empty:
        return (
            f"{context['engine']}, {context.get('precision', 'fp32')}, {context['device']},"
            f" {context['threads']} per job (config; no run finished)"
        )

    def values(column: str) -> str:
        return " / ".join(str(value) for value in sorted(set(finished[column].dropna()), key=str)) or "unknown"

    threads = " / ".join(str(int(value)) for value in sorted(set(finished["threads"].dropna())))
    return (
        f"{values('engine')}, {values('precision')}, {values('device')}, {threads or 'unknown'} per job"
        " (as the runs recorded them)"
    )
