rule workload:
    input:
        model=LAYOUT.run_file("{run_id}", "model.pt"),
        data=run_dataset_file,
    output:
        LAYOUT.run_file("{run_id}", "workload.json"),
    log:
        LAYOUT.log("workload", "{run_id}"),
    benchmark:
        LAYOUT.benchmark("workload", "{run_id}")
    conda:
        "../../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=training_memory,
        runtime=30,
    params:
        run=run_axes,
        settings=TRAINING_SETTINGS,
    script:
        "../scripts/workload.py"


rule merge_runs:
    input:
        epochs=run_outputs(TRAINING_OUTPUTS["epochs"]),
        summaries=run_outputs(TRAINING_OUTPUTS["summary"]),
        workloads=run_outputs(WORKLOAD_FILE),
    output:
        **TABLE_FILES,
    log:
        LAYOUT.log("analysis", "merge_runs"),
    benchmark:
        LAYOUT.benchmark("analysis", "merge_runs")
    retries: NO_RETRY
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=[run.as_dict() for run in RUNS.values()],
        studies=study_designs(config),
        settings=TRAINING_SETTINGS,
        benchmarks=expand(TRAINING_BENCHMARK, run_id=RUNS),
    script:
        "../scripts/merge_runs.py"


rule plot_study:
    input:
        **TABLE_FILES,
    output:
        png=report(
            LAYOUT.figure("{plot}", "png"),
            caption="../../report/caption.rst",
            category=study_figure_category,
            labels={"figure": "{plot}"},
        ),
        svg=LAYOUT.figure("{plot}", "svg"),
    log:
        LAYOUT.log("analysis", "plot_{plot}"),
    benchmark:
        LAYOUT.benchmark("analysis", "plot_{plot}")
    retries: NO_RETRY
    conda:
        "../../envs/analysis.yaml"
    params:
        caption=study_figure_caption,
    script:
        "../scripts/plot_study.py"


rule table_page:
    input:
        LAYOUT.table("{table}"),
    output:
        report(
            LAYOUT.table("{table}", "html"),
            caption="../../report/caption.rst",
            category=table_category,
            labels={"table": "{table}"},
        ),
    log:
        LAYOUT.log("analysis", "table_{table}"),
    benchmark:
        LAYOUT.benchmark("analysis", "table_{table}")
    retries: NO_RETRY
    conda:
        "../../envs/analysis.yaml"
    params:
        caption=table_caption,
    script:
        "../scripts/table_page.py"


rule summary_page:
    input:
        **{f"table_{name}": path for name, path in TABLE_FILES.items()},
        **{f"figure_{plot}": LAYOUT.figure(plot, "png") for plot in STUDY_FIGURES},
        **{
            f"simulation_{figure}": LAYOUT.simulation(figure, "png")
            for figure in FIGURES
        },
    output:
        report(
            LAYOUT.summary_page,
            caption="../../report/summary_page.rst",
            category="Comparison",
            labels={"page": "summary page"},
        ),
    log:
        LAYOUT.log("analysis", "summary_page"),
    benchmark:
        LAYOUT.benchmark("analysis", "summary_page")
    retries: NO_RETRY
    conda:
        "../../envs/analysis.yaml"
    params:
        skipped=skipped_combinations(config),
        simulation_figures=FIGURES,
        context=STUDY_CONTEXT,
    script:
        "../scripts/summary_page.py"


rule engine_throughput:
    output:
        report(
            LAYOUT.engine_throughput,
            caption="../../report/throughput.rst",
            category="Cost",
            labels={"table": "engine throughput"},
        ),
    log:
        LAYOUT.log("analysis", "engine_throughput"),
    benchmark:
        LAYOUT.benchmark("analysis", "engine_throughput")
    conda:
        "../../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=workflow.source_path("../../benchmarks/train_throughput.py"),
        steps=config["model"]["steps"],
        batch=config["training"]["batch_size"],
    shell:
        "python {params.script:q} --neuron all --steps {params.steps} --batch {params.batch}"
        " --threads {threads} --csv {output:q} --record '' > {log:q} 2>&1"
