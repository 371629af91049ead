rule workload:
    input:
        model=results("runs/{run_id}/model.pt"),
        data=run_dataset_file,
    output:
        results("runs/{run_id}/workload.json"),
    log:
        results("logs/workload/{run_id}.log"),
    benchmark:
        results("benchmarks/workload/{run_id}.tsv")
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
        results("logs/analysis/merge_runs.log"),
    benchmark:
        results("benchmarks/analysis/merge_runs.tsv")
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
            results("figures/{plot}.png"),
            caption="../../report/caption.rst",
            category=study_figure_category,
            labels={"figure": "{plot}"},
        ),
        svg=results("figures/{plot}.svg"),
    log:
        results("logs/analysis/plot_{plot}.log"),
    benchmark:
        results("benchmarks/analysis/plot_{plot}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        caption=study_figure_caption,
    script:
        "../scripts/plot_study.py"


rule table_page:
    input:
        results("tables/{table}.csv"),
    output:
        report(
            results("tables/{table}.html"),
            caption="../../report/caption.rst",
            category=table_category,
            labels={"table": "{table}"},
        ),
    log:
        results("logs/analysis/table_{table}.log"),
    benchmark:
        results("benchmarks/analysis/table_{table}.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        caption=table_caption,
    script:
        "../scripts/table_page.py"


rule summary_page:
    input:
        **{f"table_{name}": path for name, path in TABLE_FILES.items()},
        **{f"figure_{plot}": results(f"figures/{plot}.png") for plot in STUDY_FIGURES},
        **{
            f"simulation_{figure}": results(f"simulation/{figure}.png")
            for figure in FIGURES
        },
    output:
        report(
            results("summary.html"),
            caption="../../report/summary_page.rst",
            category="Comparison",
            labels={"page": "summary page"},
        ),
    log:
        results("logs/analysis/summary_page.log"),
    benchmark:
        results("benchmarks/analysis/summary_page.tsv")
    conda:
        "../../envs/analysis.yaml"
    params:
        skipped=skipped_combinations(config),
        simulation_figures=FIGURES,
        context=study_context(),
    script:
        "../scripts/summary_page.py"


rule engine_throughput:
    output:
        report(
            results("performance/train_throughput.csv"),
            caption="../../report/throughput.rst",
            category="Cost",
            labels={"table": "engine throughput"},
        ),
    log:
        results("logs/analysis/engine_throughput.log"),
    benchmark:
        results("benchmarks/analysis/engine_throughput.tsv")
    conda:
        "../../envs/training.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=f"{workflow.basedir}/benchmarks/train_throughput.py",
        steps=config["model"]["steps"],
        batch=config["training"]["batch_size"],
    shell:
        "python {params.script:q} --neuron all --steps {params.steps} --batch {params.batch}"
        " --threads {threads} --csv {output:q} > {log:q} 2>&1"
