"""The report's tables and study figures, one spec each: what the workflow builds, where the report files
them, and (for figures) which function of ``spikebench.report.study_figures`` draws them.

Read by the workflow, which imports neither pandas' plotting nor matplotlib: functions are named, not held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from spikebench.utils.registry import by_name, resolve

FIGURES_MODULE = "spikebench.report.study_figures"


@dataclass(frozen=True)
class ReportEntry:
    """A table or figure of the report: its name, the HTML report's category that files it, and its caption."""

    name: str
    category: str
    caption: str = field(default="", kw_only=True)
    """What it shows and how to read it: in the HTML report, on the summary page and on the table's own page."""


@dataclass(frozen=True)
class StudyFigureSpec(ReportEntry):
    draw: str
    """Function of ``spikebench.report.study_figures``: tables -> figure."""

    def drawer(self) -> Callable:
        return resolve(FIGURES_MODULE, self.draw)


TABLES: dict[str, ReportEntry] = by_name(
    ReportEntry(
        "studies",
        "Comparison",
        caption=(
            "Per study of the config: its runs, the factors it compares, whether it sweeps the surrogate scale, and "
            "its pre-specified baseline."
        ),
    ),
    ReportEntry(
        "study_runs",
        "Comparison",
        caption=(
            "Which runs each study compares, one row per study and run: a run two studies share (the same grid "
            "point) is trained once and has a row in each."
        ),
    ),
    ReportEntry(
        "epochs",
        "Training",
        caption=(
            "Every run's epochs stacked: one row per run and epoch, with the columns of the per-run epochs.csv. "
            "Epoch 0 is the untrained network (validation and test accuracy and loss, spike rates; no training "
            "columns). Then training loss and accuracy from the training pass, validation loss and accuracy, test "
            "accuracy, spike rates per layer, output spikes, epoch seconds and throughput."
        ),
    ),
    ReportEntry(
        "runs",
        "Training",
        caption=(
            "One row per run of the grid, every run whatever became of it: its axes, status (ok, diverged, "
            "no_gradient, silent, or missing when the run wrote nothing), where and how it diverged, the untrained "
            "network's accuracy, spike rates and first gradient's norm, outcome (learned when its best validation "
            "accuracy beats the validation split's majority-class share in a one-sided binomial test at 5% over the "
            "epochs evaluated; else at_chance, diverged, diverged_after_learning, silent, no_gradient or missing), "
            "the surrogate's derivative width at half maximum, optimizer updates per epoch, best epoch, best "
            "validation accuracy, test accuracy at the best epoch, epochs run, early stop, wall time, engine, "
            "precision, device, threads, the machine's 1-minute load average and CPU count as the run finished, "
            "spike rates"
            " at the best epoch, and the NeuroBench workload "
            "metrics on the test set with the best weights (activation sparsity, effective MACs and ACs per sample, "
            "dense operations, footprint in bytes, connection sparsity)."
        ),
    ),
    ReportEntry(
        "summary",
        "Comparison",
        caption=(
            "Per dataset x neuron x surrogate x scale x backprop (with the surrogate's width): runs, runs that "
            "learned, failures and the failure rate with its Wilson 95% interval, failures by kind (at chance, "
            "silent, no gradient, diverged, diverged after learning, missing), and over the runs that learned "
            "only: mean, standard deviation and 95% t interval of the test accuracy, mean epochs to the best "
            "validation epoch; mean seconds and optimizer updates per epoch."
        ),
    ),
    ReportEntry(
        "comparisons",
        "Comparison",
        caption=(
            "Every level of every factor a study varies against the study's pre-specified baseline, in two "
            "families: primary (pooled over the other factors: blocks are other factors x seed; Holm over the "
            "factor's levels) and exploratory (within each context, seeds as blocks; Holm over the study's "
            "exploratory comparisons). Failures: blocks where both ran, failures of each, exact McNemar p-value and "
            "its Holm adjustment. Accuracy, over the pairs where both runs learned only: means, the mean difference "
            "with its 95% t interval (within +-1), the paired t-test p-value, the Wilcoxon signed-rank p-value (a "
            "check), Holm-adjusted p, the TOST p-value for equivalence within the study's margin (raw and adjusted), "
            "the minimum detectable difference at 80% power at the family's Bonferroni level, and the verdict: "
            "different, equivalent, inconclusive or not testable (fewer than two pairs, or no spread)."
        ),
    ),
    ReportEntry(
        "omnibus",
        "Comparison",
        caption=(
            "Per study, family, factor and context, the omnibus tests over the levels (three or more): Cochran's Q "
            "on failures (blocks where every level ran) and Friedman's test on the accuracy (blocks where every "
            "level learned), with p-values Holm-adjusted within the family and outcome."
        ),
    ),
    ReportEntry(
        "never_learned",
        "Comparison",
        caption=(
            "Combinations whose mean test accuracy stayed at chance, and why, as far as the runs recorded it "
            "(diverged, silent output layer, a silent hidden layer, or spiking without learning)."
        ),
    ),
    ReportEntry(
        "initialisation",
        "Initialisation",
        caption=(
            "Per combination, the untrained network before its first update: validation accuracy, the spike rate "
            "of every layer on the validation split, the first gradient's norm over all weights (minimum, median "
            "and maximum over the seeds), the runs whose first gradient was exactly zero (status no_gradient), and "
            "the runs that learned."
        ),
    ),
    ReportEntry(
        "initial_gradients",
        "Initialisation",
        caption=(
            "Per run and parameter tensor, the L2 norm of the gradient of the first optimizer step, taken on the "
            "untrained weights (summary.json's initial_gradient_norms)."
        ),
    ),
    ReportEntry(
        "neuron_gains",
        "Initialisation",
        caption=(
            "Per neuron model: its steady-state gain U / I (the membrane a constant unit input settles at without "
            "spiking) and the mean and largest spike rate per layer of its untrained networks on the validation "
            "split."
        ),
    ),
)

STUDY_FIGURES: dict[str, StudyFigureSpec] = by_name(
    StudyFigureSpec(
        "accuracy_heatmap",
        "Comparison",
        "accuracy_heatmap",
        caption=(
            "Test accuracy (at each run's best validation epoch) of every neuron model x surrogate gradient, mean "
            "over the seeds whose run learned, trained with BPTT; each cell counts the runs that failed, which the "
            "mean leaves out (as summary.csv does). Hatched grey: no run of the cell learned. Empty cells are "
            "combinations the config does not run (ABSS has no surrogate). Columns name each surrogate's scale "
            "parameter and value (atan alpha=2)."
        ),
    ),
    StudyFigureSpec(
        "learning_curves",
        "Training",
        "learning_curves",
        caption=(
            "Validation accuracy per epoch, one panel per neuron model, one colour per surrogate at its configured "
            "scale (the same colour in every figure); epoch 0 is the untrained network. Runs that learned and runs "
            "that failed are drawn apart (solid, dashed). With two or more seeds the line is their mean and the "
            "band spans them (minimum to maximum); the title gives n. Curves end where early stopping ended the "
            "runs."
        ),
    ),
    StudyFigureSpec(
        "seed_spread",
        "Comparison",
        "seed_spread",
        caption=(
            "Test accuracy of every seed per neuron model and surrogate at its configured scale, BPTT: one marker "
            "per run, hollow where the run failed (did not learn), larger where several runs share a point; boxes "
            "(quartiles of the runs that learned) where every combination has three seeds or more; the title "
            "gives n. The y axis spans at least four half-widths of the 95% binomial interval of one run's test "
            "accuracy, so differences of a few test images never fill it."
        ),
    ),
    StudyFigureSpec(
        "baseline_comparisons",
        "Comparison",
        "baseline_comparisons",
        caption=(
            "The primary family, one row per study, factor and context. Left: the share of each level's runs that "
            "failed (dot; red where McNemar's test after Holm finds a difference) against its pre-specified "
            "baseline's (ring), over the same blocks, drawn at any number of seeds. Right: the level minus the "
            "baseline over the blocks where both runs learned, with the 95% t interval (percentage points of test "
            "accuracy), drawn only from two or more pairs; the shaded band is the equivalence margin. Red: "
            "different after Holm; blue: equivalent (TOST); grey: inconclusive; hollow: not testable. Each label "
            "counts the pairs that learned and the failures of the level and the baseline."
        ),
    ),
    StudyFigureSpec(
        "backprop_comparison",
        "Comparison",
        "backprop_comparison",
        caption=(
            "BPTT, truncated BPTT (an update every K steps) and snnTorch's 'RTRL', which is TBPTT with a window "
            "of one step (an update after every step, no credit assignment across steps; not real-time recurrent "
            "learning): every seed (hollow where it failed) and the mean of the runs that learned with its 95% t "
            "interval, at one surrogate and scale. The "
            "methods differ in the number of weight updates as much as in truncation; the control '1-step "
            "truncation, one update per batch' (rtrl_one_update) makes as many updates as BPTT with RTRL's "
            "truncation, so it separates the two. See accuracy_vs_updates."
        ),
    ),
    StudyFigureSpec(
        "accuracy_vs_updates",
        "Comparison",
        "accuracy_vs_updates",
        caption=(
            "Test accuracy against the optimizer updates each run made until its best validation epoch (log "
            "scale), coloured by backprop method, marker per neuron model, hollow where the run failed: BPTT makes "
            "one update per batch, TBPTT one per window, snnTorch's RTRL one per step, so an accuracy difference "
            "between methods mixes truncation with the number of updates. Runs with equal updates are set apart "
            "by neuron model (a few percent); runs whose best epoch is 0 made no useful update and cannot sit on a "
            "log axis: a note under the figure counts them."
        ),
    ),
    StudyFigureSpec(
        "accuracy_vs_scale",
        "Comparison",
        "accuracy_vs_scale",
        caption=(
            "Test accuracy against the width of each surrogate's derivative at half maximum (in units of V - V_th; "
            "log axis), whether the study swept scales or widths, so that shapes line up at equal width: one panel "
            "per neuron model of the sweep, one line per surrogate through the mean of the seeds that learned. Each "
            "seed is a point whose marker says what became of the run (learned, at chance, silent, no gradient, "
            "diverged, diverged after learning). A surrogate whose accuracy collapses at some widths is limited by "
            "its width against the initialisation, not by its shape. Where no study sweeps a scale or width, the "
            "figure shows every run at the one width its surrogate ran at, and says so in its title."
        ),
    ),
    StudyFigureSpec(
        "initial_state",
        "Initialisation",
        "initial_state",
        caption=(
            "The untrained network, before its first update. Left: each neuron model's spike rate per layer on "
            "the validation set (mean over its runs), labelled with its steady-state gain U / I (the membrane a "
            "constant unit input settles at): a model with a high gain fires from the start, one with a low gain "
            "may be silent ('0: conv2, output silent' names the layers whose bar has no height). Right: the "
            "norm of the first gradient over all weights, median over seeds, per neuron model and surrogate with "
            "its scale parameter; grey cells are combinations not run; '0' means no gradient reached the weights "
            "at all, so the run could not learn (status no_gradient)."
        ),
    ),
    StudyFigureSpec(
        "accuracy_vs_cost",
        "Cost",
        "accuracy_vs_cost",
        caption=(
            "The accuracy-cost trade-off: test accuracy against activation sparsity (share of zero spiking "
            "outputs) and against effective synaptic operations per sample (MACs of the first convolution plus "
            "ACs of the spike-fed layers, NeuroBench definitions), on the test set with the best weights; one row "
            "per backprop method, colour per surrogate, marker per neuron model, hollow where the run failed, "
            "larger where several runs share a point (silent runs often do)."
        ),
    ),
    StudyFigureSpec(
        "seconds_per_epoch",
        "Cost",
        "seconds_per_epoch",
        caption=(
            "Seconds per epoch per neuron model and backprop method, from the runs' own timings (training and "
            "evaluation), and the whole training job's wall time from Snakemake's benchmark files: bars are means "
            "over the runs of the bar (n in the title counts runs per bar, seeds and surrogates together), error "
            "bars one standard deviation over seeds, drawn only where a bar's runs differ in seed alone (none with "
            "one run per bar, none where they also differ in surrogate, scale or data set)."
        ),
    ),
)

SIMULATION_CAPTIONS: dict[str, str] = {
    "lif_single": (
        "One LIF neuron (V += (I - V) dt / tau with tau = {lif[tau]:g}, dt = {lif[dt]:g}; reset to "
        "V_reset = {lif[reset]:g} when V >= V_th = {lif[threshold]:g}) under the constant input "
        "I = {figure[current]:g} for {figure[steps]} steps. Top: the potential before each step's reset, the dashed "
        "line the threshold; bottom: the spike train. Look at the regular interval between spikes: the input sets "
        "how fast V climbs back to threshold after each reset (an input at or below V_th never fires)."
    ),
    "lif_relu": (
        "One LIF neuron (tau = {lif[tau]:g}, V_th = {lif[threshold]:g}, V_reset = {lif[reset]:g}) driven by the "
        "ReLU of a ramp from {figure[ramp_start]:g} to {figure[ramp_end]:g} over {figure[steps]} steps: input, "
        "potential and spikes. Look at the silence while the ramp is negative (ReLU gives 0) and the spikes "
        "coming faster as the input grows past the threshold."
    ),
    "lif_population": (
        "{figure[neurons]} LIF neurons (tau = {lif[tau]:g}, V_th = {lif[threshold]:g}) each under its own constant "
        "input, evenly spaced over {figure[current]:g} +- {figure[current_spread]:g}/2, for {figure[steps]} steps. "
        "Top: potentials coloured by input (colour bar), the dashed line the threshold; bottom: one raster row per "
        "neuron, labelled with its input and firing rate. Look at the rate rising with the input, and at the "
        "neurons whose input stays below V_th: they settle under it and never fire."
    ),
    "abss_population": (
        "{figure[neurons]} autoregressive Bernoulli spike sampling (ABSS) neurons under constant inputs evenly "
        "spaced over {figure[current]:g} +- {figure[current_spread]:g}/2 for {figure[steps]} steps (seed "
        "{figure[seed]}): V += (I - V) dt / tau + w_ar s_prev (tau = {abss[tau]:g}, w_ar = {abss[w_ar]:g}), a spike "
        "with probability sigmoid((V - V_th) / T) (V_th = {abss[threshold]:g}, T = {abss[temperature]:g}), V reset "
        "to 0 where it spiked. The dotted line is V_th, where the firing probability is one half: ABSS has no hard "
        "threshold. Look at the jump after each spike: V is reset to 0, and on the next step the autoregressive "
        "term adds w_ar = {abss[w_ar]:g}, so the plotted potential restarts near {abss[w_ar]:g}, not at 0; that "
        "feedback makes a neuron that just fired likelier to fire again (bursts)."
    ),
    "lif_vs_abss": (
        "The same ReLU ramp ({figure[ramp_start]:g} to {figure[ramp_end]:g} over {figure[steps]} steps), scaled by "
        "gains 0.8 to 1.2 across {figure[neurons]} neurons (the grey key; lighter lines have lower gains), drives "
        "LIF (blue; dashed: V_th = {lif[threshold]:g}) "
        "and ABSS neurons (red; dotted: V_th = {abss[threshold]:g}, where the firing probability is one half; "
        "seed {figure[seed]}). Look at LIF firing only once V reaches threshold, regularly, against ABSS firing "
        "at random, sometimes below V_th, its potential restarting near w_ar = {abss[w_ar]:g} after each spike "
        "(the autoregressive term)."
    ),
}
"""One caption per simulation figure, keyed like ``spikebench.report.simulation.SIMULATION_FIGURES``: what is
drawn, with the parameters (``simulation_caption`` fills them in from the config), and what to look at."""


def simulation_caption(name: str, lif: dict, abss: dict, figure: dict) -> str:
    return SIMULATION_CAPTIONS[name].format(lif=lif, abss=abss, figure=figure)
