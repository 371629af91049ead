"""The untrained network: what each combination's runs measured before their first update, and each neuron
model's steady-state gain beside the spike rates its untrained networks fired at."""

from __future__ import annotations

import pandas as pd

from spikebench.model.gains import neuron_gains
from spikebench.model.topology import LAYER_NAMES
from spikebench.report.combinations import GROUP
from spikebench.report.statistics import MISSING
from spikebench.study.outcomes import Outcome
from spikebench.study.settings import ModelSettings

INITIAL_RATES = [f"initial_spike_rate_{layer}" for layer in LAYER_NAMES]


def initialisation(runs: pd.DataFrame) -> pd.DataFrame:
    """Per combination: the untrained network as its runs measured it before their first update (validation
    accuracy, spike rate of every layer, the first gradient's norm), how many had no gradient at all, and how
    many learned, so the report can say why a combination never learned."""
    measured = runs[runs["status"] != MISSING]
    rows = []
    for key, group in measured.groupby(GROUP, sort=True, dropna=False):
        norms = group["initial_gradient_norm"]
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "runs": len(group),
                "learned_runs": int((group["outcome"] == Outcome.LEARNED).sum()),
                "zero_gradient_runs": int((norms == 0).sum()),
                "initial_gradient_norm_min": norms.min(),
                "initial_gradient_norm_median": norms.median(),
                "initial_gradient_norm_max": norms.max(),
                "initial_val_acc": group["initial_val_acc"].mean(),
                **{column: group[column].mean() for column in INITIAL_RATES},
            }
        )
    return pd.DataFrame(rows)


def neuron_gain_table(runs: pd.DataFrame, model: ModelSettings) -> pd.DataFrame:
    """Per neuron model of the grid: its steady-state gain (``spikebench.model.gains``) beside the spike rates
    its untrained networks fired at (mean and range over the runs; the forward pass, hence the rates, does not
    depend on the surrogate)."""
    gains = neuron_gains(model)
    rows = []
    for neuron, group in runs[runs["status"] != MISSING].groupby("neuron", sort=False):
        rates = {}
        for column in INITIAL_RATES:
            rates.update({f"{column}_mean": group[column].mean(), f"{column}_max": group[column].max()})
        rows.append({"neuron": neuron, "steady_state_gain": gains[neuron], "runs": len(group), **rates})
    order = {neuron: index for index, neuron in enumerate(gains)}
    return pd.DataFrame(rows).sort_values("neuron", key=lambda column: column.map(order)) if rows else pd.DataFrame()
