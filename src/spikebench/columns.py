"""Names of the per-run output columns, shared by training, workload and the merge (no torch needed)."""

from spikebench.config import AXES

LAYER_NAMES = ("conv1", "conv2", "output")
AXIS_COLUMNS = ["run_id", *AXES]
METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_acc",
    *(f"spike_rate_{layer}" for layer in LAYER_NAMES),
    "val_output_spikes",
    "test_output_spikes",
]
TIMING_COLUMNS = ["epoch_seconds", "train_samples_per_second"]
EPOCH_COLUMNS = AXIS_COLUMNS + METRIC_COLUMNS + TIMING_COLUMNS
STATUSES = ("ok", "diverged", "silent")
WORKLOAD_COLUMNS = [
    "activation_sparsity",
    "effective_macs",
    "effective_acs",
    "dense_ops",
    "footprint_bytes",
    "connection_sparsity",
]
