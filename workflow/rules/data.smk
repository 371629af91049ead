rule fetch_dataset:
    input:
        local_sources=dataset_local_files,
    output:
        raw=expand(
            raw_file("{{dataset}}", "{{sources_key}}", "{name}"),
            name=RAW_FILE_NAMES,
        ),
        provenance=provenance_file("{dataset}", "{sources_key}"),
    log:
        LAYOUT.log("data", "fetch_{dataset}-{sources_key}"),
    benchmark:
        LAYOUT.benchmark("data", "fetch_{dataset}-{sources_key}")
    retries: NO_RETRY
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
        LAYOUT.data_file("{dataset}"),
    log:
        LAYOUT.log("data", "prepare_{dataset}"),
    benchmark:
        LAYOUT.benchmark("data", "prepare_{dataset}")
    retries: NO_RETRY
    conda:
        "../../envs/training.yaml"
    resources:
        mem_mb=2000,
    params:
        validation_size=config["data"]["validation_size"],
        split_seed=config["data"]["split_seed"],
    script:
        "../scripts/prepare_dataset.py"
