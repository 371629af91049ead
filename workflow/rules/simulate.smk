rule simulate:
    output:
        png=report(
            LAYOUT.simulation("{figure}", "png"),
            caption="../../report/caption.rst",
            category="Neuron simulation",
            labels={"figure": "{figure}"},
        ),
        svg=LAYOUT.simulation("{figure}", "svg"),
        csv=report(
            LAYOUT.simulation("{figure}", "csv"),
            caption="../../report/simulation_traces.rst",
            category="Neuron simulation",
            labels={"figure": "{figure}", "type": "traces"},
        ),
    log:
        LAYOUT.log("simulate", "{figure}"),
    benchmark:
        LAYOUT.benchmark("simulate", "{figure}")
    retries: NO_RETRY
    conda:
        "../../envs/training.yaml"
    params:
        simulation=simulation_parameters,
        caption=simulation_figure_caption,
    script:
        "../scripts/simulate.py"
