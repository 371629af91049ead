"""One training run, start to finish: its setup, the training loop, checkpoints, the outcome it records and
the output contract (``contract``, which imports no torch) that the workflow and the merge read.

    python -m spikebench.run --config config/quick.yaml --run mnist-leaky-atan-k2-bptt-s0
"""
