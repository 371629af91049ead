"""Training and evaluation throughput of the fast engine against the reference engine, side by side.

    python benchmarks/train_throughput.py [--neuron leaky --neuron alpha | --neuron all]
                                          [--steps 25 --batch 128 --threads 2 --repeats 5 --csv out.csv]
                                          [--backprop bptt|tbptt|rtrl --tbptt-window 5]
                                          [--precision bf16]

For every neuron model both engines get the same weights, batch, steps and threads, and are timed
interleaved in one process (fast, reference, fast, reference, ...); the table shows medians. Training is
one batch of the study's CSNN with the rate-coded cross-entropy as a training job runs it: a forward +
backward + Adamax step per window of time steps (all of them for BPTT, the default); evaluation is a
no-grad forward of ``--eval-batch`` images. Memory is the peak resident set of a fresh process that runs a
training step of one engine (``--memory``), and the bytes autograd saves for the backward pass.

The compute limit is the network's floating-point work per sample (forward and backward of the three
connection layers, the first convolution at every step as the reference runs it) divided by the best fp32
rate measured on this machine: MKL's matrix multiply or oneDNN's forward convolution (on AMD CPUs MKL runs
its AVX2 code and oneDNN its AVX-512 code, so the convolution is the faster of the two). The convolution
bound is tighter: the time oneDNN needs for the second convolution alone (forward, input gradient and
weight gradient, channels-last, one step of the batch per call, as many calls as steps), timed interleaved
with the engines' training steps and taken as the median like them, so that a busy or throttled machine
moves both alike. No engine that computes that convolution exactly can train faster. Tighter still, and
measured rather than derived (interleaved too): the row's fast engine with every spiking layer replaced by one
multiplication, the cost of everything but the neuron dynamics; the fast engine's time per batch minus this
one is what the neuron dynamics cost (``neuron_dynamics_ms_per_batch``).

Both engines run with freed memory kept in the process (``spikebench.utils.allocator``), as training jobs do.
With ``--precision bf16`` the fast engine also runs in bfloat16 (``precision: bf16``), timed interleaved with
the others, and the table adds ``bf16_over_fp32``. Where spikebench's native neuron kernels run the row's model
(``spikebench.neurons.native``: leaky, synaptic, alpha, lapicque, lif), the fast engine also trains without
them, with its eager neuron steps and PyTorch's pooling, interleaved too: ``native_over_eager``. The last line
is JSON: the first neuron model's ``fast_samples_per_s``, its ``fraction_of_convolution_bound``,
``bf16_over_fp32`` and ``native_over_eager`` where measured, the machine's limits, and where the native kernels
were built or why not.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import snntorch.functional as SF
import torch
import torch.nn.functional as F

from spikebench.model.backprop import BACKPROP_METHODS, update_windows
from spikebench.model.network import ConvSNN
from spikebench.model.registry import NEURON_MODELS
from spikebench.model.topology import STAGES, dense_operations_per_step, stage_shapes
from spikebench.neurons import native
from spikebench.run.setup import make_optimizer
from spikebench.run.trainer import train_batch
from spikebench.study.config import load_config
from spikebench.study.settings import RunSettings
from spikebench.utils.allocator import keep_freed_memory
from spikebench.utils.records import RECORDS_DIRECTORY, append_record

ENGINES = ("fast", "reference")
BF16 = "bf16"
"""The fast engine with ``precision: bf16``, timed beside the fp32 engines with ``--precision bf16``."""
EAGER = "eager"
"""The fast engine with its eager neuron steps (``spikebench.neurons.native.disabled``), timed beside the others
where the native kernels run the row's model."""
FULL_STUDY = Path(__file__).resolve().parents[1] / "config/config.yaml"
STUDY_TRAINING = RunSettings.from_config(load_config(FULL_STUDY)).training
"""The full study's optimizer settings, which every timed training step uses."""


def make_models(neuron: str, bf16: bool = False) -> dict[str, ConvSNN]:
    """Both engines in fp32 with the same weights; with ``bf16`` the fast engine in bfloat16 as ``bf16``; where
    the native neuron kernels run the model, the fast engine again as ``eager``, to be run without them."""
    surrogate = "fast_sigmoid" if NEURON_MODELS[neuron].uses_surrogate else None
    torch.manual_seed(0)
    models = {engine: ConvSNN(neuron, surrogate, engine=engine) for engine in ENGINES}
    if runs_native(models["fast"]):
        models[EAGER] = ConvSNN(neuron, surrogate, engine="fast")
    if bf16:
        models[BF16] = ConvSNN(neuron, surrogate, engine="fast", precision="bf16")
    for name, model in models.items():
        if name != "fast":
            model.load_state_dict(models["fast"].state_dict())
    for model in models.values():
        model.seed_generators(0)
    return models


def runs_native(model: ConvSNN) -> bool:
    """Whether the native neuron kernels run ``model``'s spiking layers (on a CPU)."""
    cell = model.cells[0]
    probe = torch.zeros(1)
    return cell.native_dynamics() is not None and native.applies(cell.spike_fn, [probe, probe])


def batch(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.rand((size, 1, 28, 28), generator=generator), torch.randint(0, 10, (size,), generator=generator)


def saved_tensor_bytes(model, loss_fn, images, labels, steps) -> int:
    """Bytes of the distinct storages autograd keeps for the backward pass of ``steps`` time steps."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_fn(model(images, steps).spikes, labels)
    loss.backward()
    return sum(storages.values())


def matmul_gflops(repeats: int = 5) -> float:
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * 2048**3 / best / 1e9


SECOND_CONVOLUTION = 1
"""Index in ``STAGES`` of the network's dominant operation."""


def second_convolution(batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Channels-last spikes into the second convolution, its weights, bias and an output gradient."""
    stage, shapes = STAGES[SECOND_CONVOLUTION], stage_shapes()[SECOND_CONVOLUTION]
    in_channels = shapes.inputs[0]
    generator = torch.Generator().manual_seed(2)
    spikes = (torch.rand((batch_size, *shapes.inputs), generator=generator) < 0.2).float()
    weight = torch.randn((stage.out_features, in_channels, stage.kernel, stage.kernel), generator=generator)
    bias = torch.randn(stage.out_features, generator=generator)
    grad = torch.randn((batch_size, *shapes.connection), generator=generator)
    return (
        spikes.contiguous(memory_format=torch.channels_last),
        weight,
        bias,
        grad.contiguous(memory_format=torch.channels_last),
    )


def convolution_block(batch_size: int, steps: int):
    """One batch's worth of the second convolution alone: ``steps`` x (forward, input and weight gradients)."""
    spikes, weight, bias, grad = second_convolution(batch_size)

    def block():
        for _ in range(steps):
            F.conv2d(spikes, weight, bias)
            torch.ops.aten.convolution_backward(
                grad, spikes, weight, [64], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [True, True, True]
            )

    return block


def forward_convolution_seconds(batch_size: int, repeats: int = 20) -> float:
    """Best seconds of one forward step of the second convolution (its GFLOP/s)."""
    spikes, weight, bias, _ = second_convolution(batch_size)
    return min(_timed(lambda: F.conv2d(spikes, weight, bias)) for _ in range(repeats))


def convolution_gflops(batch_size: int, forward_seconds: float) -> float:
    """oneDNN's fp32 rate on the network's dominant operation, the second convolution's forward pass."""
    stage, shapes = STAGES[SECOND_CONVOLUTION], stage_shapes()[SECOND_CONVOLUTION]
    macs = math.prod(shapes.connection) * shapes.inputs[0] * stage.kernel**2
    return 2 * batch_size * macs / forward_seconds / 1e9


def without_neuron_dynamics(model: ConvSNN) -> ConvSNN:
    """``model`` with every spiking layer replaced by one multiplication per step: what the convolutions,
    poolings, linear layer, loss and optimizer cost on their own."""

    def stand_in(currents, state, record=False):
        return [current * 0.5 for current in currents], state, None

    for cell in model.cells:
        cell.sequence = stand_in
    return model


def network_ceiling(neuron: str, args):
    """One training step of ``neuron``'s fast engine (its layout) without neuron dynamics: no neuron model can
    train faster."""
    model = without_neuron_dynamics(make_models(neuron)["fast"])
    optimizer = make_optimizer(model.parameters(), STUDY_TRAINING)
    loss_fn = SF.ce_rate_loss()
    images, labels = batch(args.batch)

    def step():
        train_batch(model, optimizer, loss_fn, images, labels, args.windows, args.update_per_window)

    return step


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def flops_per_sample(steps: int) -> float:
    """Forward MACs of the connection layers (the first convolution once per step, as the reference runs it),
    x2 for FLOPs, x3 for forward + the two backward products (input and weight gradients)."""
    return 2 * 3 * dense_operations_per_step() * steps


def measure(neuron: str, args) -> dict:
    models = make_models(neuron, bf16=args.precision == BF16)
    optimizers = {engine: make_optimizer(model.parameters(), STUDY_TRAINING) for engine, model in models.items()}
    loss_fn = SF.ce_rate_loss()
    images, labels = batch(args.batch)
    eval_images, _ = batch(args.eval_batch)
    train_seconds = {engine: [] for engine in models}
    eval_seconds = {engine: [] for engine in models}
    # Timed interleaved with the engines, as they are, so that a machine whose speed drifts moves all alike.
    bounds = {
        "convolution_bound": convolution_block(args.batch, args.steps),
        "without_neuron_dynamics": network_ceiling(neuron, args),
    }
    bound_seconds = {name: [] for name in bounds}
    for repeat in range(args.repeats + 1):
        for name, bound in bounds.items():
            seconds = _timed(bound)
            if repeat:
                bound_seconds[name].append(seconds)
        for engine, model in models.items():
            optimizer = optimizers[engine]
            with native.disabled() if engine == EAGER else contextlib.nullcontext():
                seconds = _timed(
                    lambda m=model, o=optimizer: train_batch(
                        m, o, loss_fn, images, labels, args.windows, args.update_per_window
                    )
                )
                with torch.no_grad():
                    eval_time = _timed(lambda m=model: m(eval_images, args.steps))
            if repeat:
                train_seconds[engine].append(seconds)
                eval_seconds[engine].append(eval_time)
    row = {
        "neuron": neuron,
        "backprop": args.backprop,
        "steps": args.steps,
        "batch": args.batch,
        "threads": args.threads,
    }
    for engine in ENGINES:
        row[f"{engine}_train_samples_per_s"] = args.batch / statistics.median(train_seconds[engine])
        row[f"{engine}_eval_samples_per_s"] = args.eval_batch / statistics.median(eval_seconds[engine])
        saved = saved_tensor_bytes(models[engine], loss_fn, images, labels, max(args.windows))
        row[f"{engine}_saved_mib"] = saved / 2**20
        if args.memory:
            row[f"{engine}_peak_rss_mib"] = peak_rss_mib(neuron, engine, args)
    for name, seconds in bound_seconds.items():
        row[f"{name}_samples_per_s"] = args.batch / statistics.median(seconds)
    row["fraction_of_convolution_bound"] = row["fast_train_samples_per_s"] / row["convolution_bound_samples_per_s"]
    row["neuron_dynamics_ms_per_batch"] = 1000 * (
        statistics.median(train_seconds["fast"]) - statistics.median(bound_seconds["without_neuron_dynamics"])
    )
    row["train_ratio"] = row["fast_train_samples_per_s"] / row["reference_train_samples_per_s"]
    row["eval_ratio"] = row["fast_eval_samples_per_s"] / row["reference_eval_samples_per_s"]
    if EAGER in models:
        row["eager_train_samples_per_s"] = args.batch / statistics.median(train_seconds[EAGER])
        row["eager_eval_samples_per_s"] = args.eval_batch / statistics.median(eval_seconds[EAGER])
        row["native_over_eager"] = row["fast_train_samples_per_s"] / row["eager_train_samples_per_s"]
    if BF16 in models:
        row["bf16_train_samples_per_s"] = args.batch / statistics.median(train_seconds[BF16])
        row["bf16_eval_samples_per_s"] = args.eval_batch / statistics.median(eval_seconds[BF16])
        row["bf16_over_fp32"] = row["bf16_train_samples_per_s"] / row["fast_train_samples_per_s"]
    return row


def training_process(neuron: str, engine: str, threads: str, args) -> str:
    """Python source that sets a fresh process up as a training job does and defines ``train()``, one batch of
    ``neuron`` on ``engine``; ``threads`` is a source expression (a number, or one read from ``sys.argv``)."""
    return (
        "import re, sys, time, torch, snntorch.functional as SF\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from train_throughput import STUDY_TRAINING, make_models, batch, keep_freed_memory\n"
        "from spikebench.run.setup import make_optimizer\n"
        "from spikebench.run.trainer import train_batch\n"
        "keep_freed_memory()\n"
        f"torch.set_num_threads({threads})\n"
        f"model = make_models({neuron!r})[{engine!r}]\n"
        "optimizer = make_optimizer(model.parameters(), STUDY_TRAINING)\n"
        f"images, labels = batch({args.batch})\n"
        "def train():\n"
        f"    train_batch(model, optimizer, SF.ce_rate_loss(), images, labels, {args.windows},"
        f" {args.update_per_window})\n"
    )


def peak_rss_mib(neuron: str, engine: str, args) -> float:
    """Peak resident memory (VmHWM; ru_maxrss would carry the forking parent's peak) of a fresh process doing
    two training steps of one engine."""
    code = training_process(neuron, engine, str(args.threads), args) + (
        "train()\n"
        "train()\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) / 1024)\n"
    )
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def scaling(args) -> dict:
    """Aggregate training throughput of 2 processes x 1 thread against 1 process x 2 threads (fast engine)."""
    code = training_process("leaky", "fast", "int(sys.argv[1])", args) + (
        "batches = int(sys.argv[2])\n"
        "train()\n"
        "start = time.perf_counter()\n"
        "for _ in range(batches):\n"
        "    train()\n"
        f"print(batches * {args.batch} / (time.perf_counter() - start))\n"
    )
    batches = str(args.scaling_batches)

    def launch(threads: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, str(threads), batches], stdout=subprocess.PIPE, text=True)

    one = launch(2)
    single = float(one.communicate()[0])
    pair = [launch(1), launch(1)]
    together = sum(float(process.communicate()[0]) for process in pair)
    return {"one_job_two_threads": single, "two_jobs_one_thread": together}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neuron", action="append", help="neuron model (repeatable, or 'all'; default leaky)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--eval-batch", type=int, default=1000)
    parser.add_argument("--backprop", choices=list(BACKPROP_METHODS), default="bptt", help="weight updates per batch")
    parser.add_argument("--tbptt-window", type=int, default=5, help="steps per update with --backprop tbptt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision",
        choices=["fp32", BF16],
        default="fp32",
        help="bf16: also time the fast engine in bfloat16, interleaved with fp32 (bf16_over_fp32)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True, help="peak RSS per engine")
    parser.add_argument("--scaling", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--scaling-batches", type=int, default=8)
    parser.add_argument("--csv", help="write the table here")
    parser.add_argument(
        "--record",
        default=str(RECORDS_DIRECTORY / "train_throughput.jsonl"),
        help="append a dated record of the table here ('' for none; default benchmarks/records/)",
    )
    args = parser.parse_args()
    args.windows = update_windows(args.backprop, args.steps, args.tbptt_window)
    args.update_per_window = BACKPROP_METHODS[args.backprop].update_per_window
    neurons = args.neuron or ["leaky"]
    neurons = list(NEURON_MODELS) if "all" in neurons else neurons
    torch.set_num_threads(args.threads)
    keeps_freed_memory = keep_freed_memory()

    matmul = matmul_gflops()
    convolution = convolution_gflops(args.batch, forward_convolution_seconds(args.batch))
    gflops = max(matmul, convolution)
    limit = gflops * 1e9 / flops_per_sample(args.steps)
    print(
        f"{args.backprop}, steps {args.steps} (windows {args.windows}), batch {args.batch}, {args.threads} threads,"
        f" torch {torch.__version__}"
    )
    print(f"freed memory kept in the process: {keeps_freed_memory}")
    print(f"fp32: matmul (MKL) {matmul:.0f} GFLOP/s, second convolution forward (oneDNN) {convolution:.0f} GFLOP/s")
    print(f"{flops_per_sample(args.steps) / 1e9:.3f} GFLOP per training sample: compute limit {limit:.0f} samples/s")
    print()
    header = (
        f"{'neuron':<9} {'train fast':>10} {'train ref':>10} {'ratio':>6} {'% limit':>8} {'% conv':>7}"
        f" {'eval fast':>10} {'eval ref':>10} {'ratio':>6} {'saved MiB f/r':>15} {'peak MiB f/r':>14}"
    )
    print(header)
    rows = []
    for neuron in neurons:
        row = measure(neuron, args)
        row["compute_limit_samples_per_s"] = limit
        row["fraction_of_compute_limit"] = row["fast_train_samples_per_s"] / limit
        rows.append(row)
        peak = f"{row.get('fast_peak_rss_mib', 0):.0f}/{row.get('reference_peak_rss_mib', 0):.0f}"
        print(
            f"{neuron:<9} {row['fast_train_samples_per_s']:>10.0f} {row['reference_train_samples_per_s']:>10.0f}"
            f" {row['train_ratio']:>6.2f} {100 * row['fraction_of_compute_limit']:>7.0f}%"
            f" {100 * row['fraction_of_convolution_bound']:>6.0f}%"
            f" {row['fast_eval_samples_per_s']:>10.0f} {row['reference_eval_samples_per_s']:>10.0f}"
            f" {row['eval_ratio']:>6.2f} {row['fast_saved_mib']:>7.0f}/{row['reference_saved_mib']:<7.0f}"
            f" {peak:>14}"
        )
        print(
            f"{'':<9} second convolution alone, forward and both gradients:"
            f" at most {row['convolution_bound_samples_per_s']:.0f} training samples/s\n{'':<9} every spiking layer"
            f" replaced by a multiplication: {row['without_neuron_dynamics_samples_per_s']:.0f} training samples/s"
            f" (the neuron dynamics cost {row['neuron_dynamics_ms_per_batch']:.0f} ms per batch)"
        )
    for row in rows:
        if "native_over_eager" in row:
            print(
                f"{row['neuron']:<9} without the native neuron kernels: train {row['eager_train_samples_per_s']:.0f}"
                f" samples/s, eval {row['eager_eval_samples_per_s']:.0f}; with them {row['native_over_eager']:.2f}x"
            )
    if args.precision == BF16:
        for row in rows:
            print(
                f"{row['neuron']:<9} bf16 train {row['bf16_train_samples_per_s']:.0f} samples/s,"
                f" eval {row['bf16_eval_samples_per_s']:.0f}: {row['bf16_over_fp32']:.2f}x fp32's training"
            )
    if args.scaling:
        result = scaling(args)
        print(
            f"\nleaky, fast engine: 1 job x 2 threads {result['one_job_two_threads']:.0f} samples/s;"
            f" 2 jobs x 1 thread {result['two_jobs_one_thread']:.0f} samples/s together"
        )
        for row in rows:
            row.update(result)
    if args.csv:
        with open(args.csv, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    summary = {
        "neuron": rows[0]["neuron"],
        "fast_samples_per_s": rows[0]["fast_train_samples_per_s"],
        "fraction_of_convolution_bound": rows[0]["fraction_of_convolution_bound"],
        **({"bf16_over_fp32": rows[0]["bf16_over_fp32"]} if args.precision == BF16 else {}),
        **({"native_over_eager": rows[0]["native_over_eager"]} if "native_over_eager" in rows[0] else {}),
        "compute_limit_samples_per_s": limit,
        "convolution_bound_samples_per_s": rows[0]["convolution_bound_samples_per_s"],
        "without_neuron_dynamics_samples_per_s": rows[0]["without_neuron_dynamics_samples_per_s"],
        "matmul_gflops": matmul,
        "convolution_gflops": convolution,
        "keeps_freed_memory": keeps_freed_memory,
        "native_neuron_kernels": native.status().detail,
    }
    if args.record:
        append_record(args.record, {"rows": rows, "summary": summary})
    print("\n" + json.dumps(summary))


if __name__ == "__main__":
    main()
