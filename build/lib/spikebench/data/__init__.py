"""Data sets: the registry of MNIST-like data sets, the IDX reader, fetching from sources and the compact
file every training job loads."""
