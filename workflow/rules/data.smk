rule fetch_dataset:
    input:
        local_sources=dataset_local_files,
    output:
        raw=expand(
            "resources/data/{{dataset}}/{{sources_key}}/raw/{name}",
            name=RAW_FILE_NAMES,
        ),
        provenance="resources/data/{dataset}/{sources_key}/provenance.json",
    log:
        results("logs/data/fetch_{dataset}-{sources_key}.log"),
    benchmark:
        results("benchmarks/data/fetch_{dataset}-{sources_key}.tsv")
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=1000,
    params:
        sources=dataset_sources,
        require_canonical_checksums=dataset_requires_canonical_checksums,
    script:
        "../scripts/fetch_dataset.py"


rule prepare_dataset:
    input:
        raw=raw_files,
    output:
        results("data/{dataset}.npz"),
    log:
        results("logs/data/prepare_{dataset}.log"),
    benchmark:
        results("benchmarks/data/prepare_{dataset}.tsv")
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
    params:
        validation_size=config["data"]["validation_size"],
        split_seed=config["data"]["split_seed"],
    script:
        "../scripts/prepare_dataset.py"
