"""Vectorised neuron layers against a per-neuron Python loop written from the same equations.

    python benchmarks/neuron_simulation.py [--neurons 1000 --batch 64 --steps 1000 --loop-sequences 256]

The loop runs one neuron's whole sequence at a time, as the earlier loop-per-neuron implementation did, in
two flavours: over NumPy arrays (element by element, as that implementation did) and over plain Python
floats (the fastest a per-neuron loop gets). Timing all batch x neurons sequences in a loop takes minutes,
so by default each loop times ``--loop-sequences`` of them and scales linearly (every sequence costs the
same); ``--loop-sequences 0`` times them all.
"""

from __future__ import annotations

import argparse
import math
import random
import time

import torch

from spikebench.neurons.layers import TorchBernoulliLayer, TorchLIFLayer
from spikebench.utils.records import RECORDS_DIRECTORY, append_record


def lif_loop(currents: list[float], tau: float, dt: float, threshold: float, reset: float) -> int:
    v, spikes = reset, 0
    for current in currents:
        v += (current - v) / tau * dt
        if v >= threshold:
            v, spikes = reset, spikes + 1
    return spikes


def abss_loop(currents: list[float], tau: float, dt: float, w_ar: float, rng: random.Random) -> int:
    v, previous, spikes = 0.0, 0.0, 0
    for current in currents:
        v += (current - v) / tau * dt + w_ar * previous
        previous = 1.0 if rng.random() < 1 / (1 + math.exp(-v)) else 0.0
        if previous:
            v, spikes = 0.0, spikes + 1
    return spikes


def time_layer(layer, inputs: torch.Tensor, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        layer.reset_state()
        start = time.perf_counter()
        with torch.no_grad():
            for step_input in inputs:
                layer(step_input)
        best = min(best, time.perf_counter() - start)
    return best


def time_loop(run_one, inputs: torch.Tensor, sequences: int, as_numpy: bool) -> float:
    steps, batch, neurons = inputs.shape
    total = batch * neurons
    chosen = inputs.reshape(steps, total).T[: sequences if sequences > 0 else total].double().numpy()
    rows = list(chosen) if as_numpy else chosen.tolist()
    start = time.perf_counter()
    for sequence in rows:
        run_one(sequence)
    return (time.perf_counter() - start) * total / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--loop-sequences", type=int, default=256, help="sequences timed in the loop (0 = all)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N for the layers")
    parser.add_argument(
        "--record",
        default=str(RECORDS_DIRECTORY / "neuron_simulation.jsonl"),
        help="append a dated record of the table here ('' for none; default benchmarks/records/)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    inputs = torch.rand((args.steps, args.batch, args.neurons), generator=torch.Generator().manual_seed(0)) * 2.5
    total = args.batch * args.neurons
    rng = random.Random(0)
    models = {
        "LIF": (TorchLIFLayer(num_neurons=args.neurons), lambda seq: lif_loop(seq, 20.0, 1.0, 1.0, 0.0)),
        "ABSS": (
            TorchBernoulliLayer(num_neurons=args.neurons, seed=0),
            lambda seq: abss_loop(seq, 20.0, 1.0, 0.5, rng),
        ),
    }
    timed = total if args.loop_sequences <= 0 else min(args.loop_sequences, total)
    print(f"{args.neurons} neurons x batch {args.batch} x {args.steps} steps, {args.threads} torch threads;")
    print(f"loops timed on {timed} of {total} neuron sequences and scaled to all of them\n")
    print(f"{'model':<6} {'layer s':>9} {'NumPy loop s':>13} {'speed-up':>9} {'float loop s':>13} {'speed-up':>9}")
    rows = []
    for model, (layer, loop) in models.items():
        layer_seconds = time_layer(layer, inputs, args.repeats)
        numpy_seconds = time_loop(loop, inputs, args.loop_sequences, as_numpy=True)
        float_seconds = time_loop(loop, inputs, args.loop_sequences, as_numpy=False)
        print(
            f"{model:<6} {layer_seconds:>9.3f} {numpy_seconds:>13.1f} {numpy_seconds / layer_seconds:>8.0f}x"
            f" {float_seconds:>13.1f} {float_seconds / layer_seconds:>8.0f}x"
        )
        rows.append(
            {
                "model": model,
                "layer_seconds": layer_seconds,
                "numpy_loop_seconds": numpy_seconds,
                "float_loop_seconds": float_seconds,
                "numpy_speed_up": numpy_seconds / layer_seconds,
                "float_speed_up": float_seconds / layer_seconds,
            }
        )
    if args.record:
        append_record(args.record, {"neurons": args.neurons, "batch": args.batch, "steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
