"""The benchmark scripts run and print or write what their docs promise (tiny sizes: no timing is checked)."""

import json
import subprocess
import sys

import pandas as pd

from conftest import REPO
from spikebench.neurons import native
from spikebench.utils.records import read_records


def run_benchmark(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout


def test_train_throughput_writes_every_ratio_and_bound(tmp_path):
    table = tmp_path / "throughput.csv"
    output = run_benchmark(
        "benchmarks/train_throughput.py",
        *("--neuron", "leaky", "--neuron", "abss", "--steps", "3", "--batch", "8", "--eval-batch", "300"),
        *("--backprop", "tbptt", "--tbptt-window", "2"),
        *("--repeats", "1", "--threads", "1", "--scaling-batches", "1", "--csv", str(table)),
        *("--record", str(tmp_path / "records.jsonl")),
    )
    assert "compute limit" in output and "second convolution alone" in output and "replaced by" in output
    rows = pd.read_csv(table)
    assert "tbptt, steps 3 (windows [2, 1])" in output
    assert rows["neuron"].tolist() == ["leaky", "abss"] and (rows["backprop"] == "tbptt").all()
    ratios = ["train_ratio", "eval_ratio", "fraction_of_compute_limit", "fraction_of_convolution_bound"]
    for column in [*ratios, "without_neuron_dynamics_samples_per_s"]:
        assert (rows[column] > 0).all(), column
    assert rows["neuron_dynamics_ms_per_batch"].notna().all()
    for engine in ("fast", "reference"):
        assert (rows[f"{engine}_peak_rss_mib"] > 0).all() and (rows[f"{engine}_saved_mib"] > 0).all()
    assert (rows["two_jobs_one_thread"] > 0).all() and (rows["one_job_two_threads"] > 0).all()
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["neuron"] == "leaky" and summary["fast_samples_per_s"] == rows["fast_train_samples_per_s"][0]
    assert summary["convolution_bound_samples_per_s"] > 0 and "bf16_over_fp32" not in summary
    # The native kernels run leaky, not abss: leaky alone is also timed without them, interleaved.
    if native.status().available:
        assert rows["native_over_eager"][0] > 0 and pd.isna(rows["native_over_eager"][1])
        assert summary["native_over_eager"] == rows["native_over_eager"][0]
        assert "without the native neuron kernels" in output
    assert summary["native_neuron_kernels"] == native.status().detail
    (record,) = read_records(tmp_path / "records.jsonl")
    assert record["figures"]["summary"] == summary and len(record["figures"]["rows"]) == 2
    assert record["machine"]["cores"] and record["date"].startswith("20") and "train_throughput.py" in record["command"]


def test_train_throughput_times_bf16_beside_fp32():
    output = run_benchmark(
        "benchmarks/train_throughput.py",
        *("--neuron", "leaky", "--steps", "2", "--batch", "4", "--eval-batch", "8", "--precision", "bf16"),
        *("--record", ""),
        *("--repeats", "1", "--threads", "1", "--no-memory", "--no-scaling"),
    )
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["bf16_over_fp32"] > 0 and "x fp32's training" in output


def test_neuron_simulation_compares_layers_with_loops(tmp_path):
    output = run_benchmark(
        "benchmarks/neuron_simulation.py",
        *("--neurons", "10", "--batch", "2", "--steps", "20", "--loop-sequences", "0", "--repeats", "1"),
        *("--record", str(tmp_path / "records.jsonl")),
    )
    assert "LIF" in output and "ABSS" in output
    (record,) = read_records(tmp_path / "records.jsonl")
    assert [row["model"] for row in record["figures"]["rows"]] == ["LIF", "ABSS"]
    assert all(row["layer_seconds"] > 0 for row in record["figures"]["rows"])


def test_precision_accuracy_pairs_the_grids_and_reports_the_difference(tmp_path):
    rows = [
        {"dataset": "mnist", "neuron": "leaky", "surrogate": "atan", "scale": 2.0, "backprop": "bptt", "seed": seed}
        for seed in range(3)
    ]
    fp32 = pd.DataFrame(rows).assign(run_id=range(3), test_acc_at_best=[0.90, 0.92, 0.10], outcome="learned")
    fp32.loc[2, "outcome"] = "silent"
    bf16 = fp32.assign(test_acc_at_best=[0.91, 0.92, 0.10])
    fp32.to_csv(tmp_path / "fp32.csv", index=False)
    bf16.to_csv(tmp_path / "bf16.csv", index=False)
    output = run_benchmark("benchmarks/precision_accuracy.py", str(tmp_path / "fp32.csv"), str(tmp_path / "bf16.csv"))
    result = json.loads(output.strip().splitlines()[-1])
    assert (result["pairs"], result["pairs_both_learned"], result["fates_agree"]) == (3, 2, 3)
    assert abs(result["mean_difference_points"] - 0.5) < 1e-9 and result["ci95_low_points"] < 0.5
