rule simulate:
    output:
        png=report(
            results("simulation/{figure}.png"),
            caption="../../report/simulation.rst",
            category="Neuron simulation",
            labels={"figure": "{figure}"},
        ),
        svg=results("simulation/{figure}.svg"),
        csv=report(
            results("simulation/{figure}.csv"),
            caption="../../report/simulation_traces.rst",
            category="Neuron simulation",
            labels={"figure": "{figure}", "type": "traces"},
        ),
    log:
        results("logs/simulate/{figure}.log"),
    benchmark:
        results("benchmarks/simulate/{figure}.tsv")
    conda:
        "../../envs/training.yaml"
    params:
        simulation=simulation_parameters,
    script:
        "../scripts/simulate.py"
