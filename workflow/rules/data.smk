rule fetch_dataset:
    output:
        raw=expand("resources/data/{{dataset}}/raw/{name}", name=RAW_FILE_NAMES),
        provenance="resources/data/{dataset}/provenance.json",
    params:
        sources=dataset_sources,
        require_canonical_checksums=dataset_requires_canonical_checksums,
    log:
        "results/logs/data/fetch_{dataset}.log",
    benchmark:
        "results/benchmarks/data/fetch_{dataset}.tsv"
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/fetch_dataset.py"


rule prepare_dataset:
    input:
        raw=rules.fetch_dataset.output.raw,
    output:
        "results/data/{dataset}.npz",
    params:
        validation_size=config["data"]["validation_size"],
        split_seed=config["data"]["split_seed"],
    log:
        "results/logs/data/prepare_{dataset}.log",
    benchmark:
        "results/benchmarks/data/prepare_{dataset}.tsv"
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/prepare_dataset.py"
