rule train:
    input:
        data=run_dataset_file,
    output:
        epochs=report(
            training_output("epochs"),
            caption="../../report/epochs.rst",
            category="Training",
            labels={"run": "{run_id}"},
        ),
        summary=training_output("summary"),
        model=training_output("model"),
    log:
        LAYOUT.log("train", "{run_id}"),
    benchmark:
        TRAINING_BENCHMARK
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
        checkpoint=training_checkpoint,
    script:
        "../scripts/train.py"
