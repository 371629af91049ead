rule workload:
    input:
        model="results/runs/{run_id}/model.pt",
        data=run_dataset_file,
    output:
        "results/runs/{run_id}/workload.json",
    log:
        "results/logs/workload/{run_id}.log",
    benchmark:
        "results/benchmarks/workload/{run_id}.tsv"
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
        epochs=expand("results/runs/{run_id}/epochs.csv", run_id=RUNS),
        summaries=expand("results/runs/{run_id}/summary.json", run_id=RUNS),
        workloads=expand("results/runs/{run_id}/workload.json", run_id=RUNS),
    output:
        epochs=report(
            "results/tables/epochs.csv",
            caption="../../report/tables.rst",
            category="Training",
            labels={"table": "epochs"},
        ),
        runs=report(
            "results/tables/runs.csv",
            caption="../../report/tables.rst",
            category="Training",
            labels={"table": "runs"},
        ),
        summary=report(
            "results/tables/summary.csv",
            caption="../../report/tables.rst",
            category="Comparison",
            labels={"table": "summary"},
        ),
        comparisons=report(
            "results/tables/comparisons.csv",
            caption="../../report/tables.rst",
            category="Comparison",
            labels={"table": "comparisons"},
        ),
        never_learned=report(
            "results/tables/never_learned.csv",
            caption="../../report/tables.rst",
            category="Comparison",
            labels={"table": "never_learned"},
        ),
    log:
        "results/logs/analysis/merge_runs.log",
    benchmark:
        "results/benchmarks/analysis/merge_runs.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=[run.as_dict() for run in RUNS.values()],
        run_dirs={run_id: f"results/runs/{run_id}" for run_id in RUNS},
        benchmarks={run_id: f"results/benchmarks/train/{run_id}.tsv" for run_id in RUNS},
    script:
        "../scripts/merge_runs.py"


rule plot_study:
    input:
        **TABLE_FILES,
    output:
        png=report(
            "results/figures/{plot}.png",
            caption="../../report/study_figures.rst",
            category=study_figure_category,
            labels={"figure": "{plot}"},
        ),
        svg="results/figures/{plot}.svg",
    log:
        "results/logs/analysis/plot_{plot}.log",
    benchmark:
        "results/benchmarks/analysis/plot_{plot}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/plot_study.py"


rule summary_page:
    input:
        tables=list(TABLE_FILES.values()),
        figures=expand("results/figures/{plot}.png", plot=STUDY_FIGURES),
        simulation=expand("results/simulation/{figure}.png", figure=FIGURES),
    output:
        report(
            "results/summary.html",
            caption="../../report/summary_page.rst",
            category="Comparison",
            labels={"page": "summary"},
        ),
    log:
        "results/logs/analysis/summary_page.log",
    benchmark:
        "results/benchmarks/analysis/summary_page.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        tables=TABLE_FILES,
        figures={plot: f"results/figures/{plot}.png" for plot in STUDY_FIGURES},
        simulation={figure: f"results/simulation/{figure}.png" for figure in FIGURES},
        skipped=skipped_combinations(config),
    script:
        "../scripts/summary_page.py"


rule engine_throughput:
    output:
        report(
            "results/performance/train_throughput.csv",
            caption="../../report/throughput.rst",
            category="Cost",
            labels={"table": "engine throughput"},
        ),
    log:
        "results/logs/analysis/engine_throughput.log",
    benchmark:
        "results/benchmarks/analysis/engine_throughput.tsv"
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
        "python {params.script} --neuron all --steps {params.steps} --batch {params.batch}"
        " --threads {threads} --csv {output} > {log} 2>&1"
