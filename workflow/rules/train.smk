rule train:
    input:
        data=run_dataset_file,
    output:
        epochs=report(
            "results/runs/{run_id}/epochs.csv",
            caption="../../report/epochs.rst",
            category="Training",
            labels={"run": "{run_id}"},
        ),
        summary="results/runs/{run_id}/summary.json",
        model="results/runs/{run_id}/model.pt",
    log:
        "results/logs/train/{run_id}.log",
    benchmark:
        "results/benchmarks/train/{run_id}.tsv"
    conda:
        "../../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=training_memory,
        runtime=training_runtime,
        gpu=gpus_per_training_job,
    params:
        run=run_axes,
        settings=TRAINING_SETTINGS,
    script:
        "../scripts/train.py"
