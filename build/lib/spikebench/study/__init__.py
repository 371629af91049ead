"""The study as the config describes it: validation against the schema, the grid of runs, and the cluster
resources each job asks for. Imports no torch, so that Snakemake can plan the jobs with these alone."""
