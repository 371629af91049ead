"""Plugins: a researcher's own neuron model and surrogate, found through the config or an installed entry point,
get the same grid and checks as the built-ins; a bad plugin is refused before anything runs, naming itself."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import yaml

from conftest import REPO
from helpers import snakemake, synthetic_data_file, train
from spikebench import plugins
from spikebench.model.registry import NEURON_MODELS
from spikebench.neurons.surrogates import SURROGATES, scale_at_width, surrogate_width
from spikebench.report.simulation import SIMULATION_FIGURES
from spikebench.run.setup import build_model
from spikebench.study.config import ConfigError, expand_runs, validate_config
from spikebench.study.settings import RunSettings
from spikebench.utils.registry import RegistrationError

EXAMPLE = REPO / "examples/spikebench-alif/src"
EXAMPLE_PLUGIN = "spikebench_alif.plugin"


@pytest.fixture(autouse=True)
def registries():
    """Each test starts from the built-ins and leaves them so: the registries, the loaded plugins and the
    plugin modules are put back afterwards."""
    neurons, surrogates, loaded = dict(NEURON_MODELS), dict(SURROGATES), set(plugins._loaded)
    modules = set(sys.modules)
    yield
    NEURON_MODELS.clear()
    NEURON_MODELS.update(neurons)
    SURROGATES.clear()
    SURROGATES.update(surrogates)
    plugins._loaded.clear()
    plugins._loaded.update(loaded)
    for module in set(sys.modules) - modules:
        if module.startswith(("spikebench_alif.plugin", "throwaway", "clashing", "planted")):
            del sys.modules[module]


def study_config(neurons, surrogates, listed=(EXAMPLE_PLUGIN,), **study):
    levels = {"neuron": neurons, "surrogate": surrogates, **study}
    baseline = {factor: values[0] for factor, values in levels.items() if len(values) > 1 and factor != "seed"}
    return {
        "device": "cpu",
        "plugins": list(listed),
        "model": {"steps": 4},
        "data": {"validation_size": 100},
        "training": {"batch_size": 50, "eval_batch_size": 100, "max_epochs": 2, "patience": 2},
        "studies": {
            "mine": {
                "dataset": ["mnist"],
                "neuron": neurons,
                "surrogate": surrogates,
                "backprop": ["bptt"],
                "seed": [0],
                **study,
                **({"baseline": baseline} if baseline else {}),
            }
        },
    }


def test_a_config_names_the_plugins_models_and_surrogates_beside_the_built_ins():
    config = validate_config(study_config(["leaky", "alif"], ["fast_sigmoid", "gaussian"]))
    assert set(expand_runs(config)) == {
        "mnist-leaky-fast_sigmoid-k25-bptt-s0",
        "mnist-leaky-gaussian-k0.3-bptt-s0",
        "mnist-alif-fast_sigmoid-k25-bptt-s0",
        "mnist-alif-gaussian-k0.3-bptt-s0",
    }
    assert NEURON_MODELS["alif"].origin == "spikebench_alif"
    assert surrogate_width("gaussian", scale=0.3) == pytest.approx(2 * (2 * 0.6931471805599453) ** 0.5 * 0.3)


def test_a_plugin_surrogate_joins_an_equal_width_study():
    config = validate_config(study_config(["leaky"], ["fast_sigmoid", "gaussian"], width=[0.02, 0.5]))
    sigma = scale_at_width("gaussian", 0.5)
    assert surrogate_width("gaussian", scale=sigma) == pytest.approx(0.5, rel=1e-5)
    assert f"mnist-leaky-gaussian-k{sigma:g}-bptt-s0" in expand_runs(config)


def test_a_typo_lists_the_plugins_names_among_the_allowed():
    with pytest.raises(ConfigError, match="'alfi' is not allowed; allowed values: leaky, .*, abss, alif"):
        validate_config(study_config(["alfi"], ["gaussian"]))


def test_a_plugin_run_trains_and_writes_its_outputs(tmp_path):
    config = validate_config(study_config(["alif"], ["gaussian"]))
    summary = train(config, synthetic_data_file(tmp_path), tmp_path / "run")
    assert summary["run_id"] == "mnist-alif-gaussian-k0.3-bptt-s0" and summary["status"] in ("ok", "silent")
    assert summary["epochs_run"] >= 1 and any(norm > 0 for norm in summary["initial_gradient_norms"].values())


def write_plugin(directory, name, body):
    (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return name


def test_a_plugin_that_takes_a_built_in_name_is_refused_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = write_plugin(
        tmp_path,
        "clashing_plugin",
        """
        from spikebench.plugins import register_neuron, register_surrogate
        register_surrogate("fine_one", "clashing_cells:fine", defaults={"k": 1.0}, scale="k")
        register_neuron("leaky", "clashing_cells:Mine", description="mine")
        """,
    )
    with pytest.raises(ConfigError) as refused:
        validate_config(study_config(["leaky"], ["fast_sigmoid"], listed=[module]))
    message = str(refused.value)
    assert "config key 'plugins': plugin clashing_plugin (listed under plugins: in the config)" in message
    assert "neuron model 'leaky' is already registered (by snntorch); register yours under another name" in message
    assert "fine_one" not in SURROGATES, "nothing of a refused plugin stays registered"


def test_a_plugin_that_does_not_import_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="plugin no_such_plugin .* it does not import .* SPIKEBENCH_PLUGIN_PATH="):
        validate_config(study_config(["leaky"], ["atan"], listed=["no_such_plugin"]))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("My-Model", "m:C"), "use lower-case letters, digits and underscores"),
        (("mine", "module.Class"), "cell 'module.Class' is not an import path 'module:attribute'"),
    ],
)
def test_malformed_registrations_are_refused(arguments, message):
    with pytest.raises(RegistrationError, match=message):
        plugins.register_neuron(*arguments, description="x")
    assert "mine" not in NEURON_MODELS and "My-Model" not in NEURON_MODELS


def test_a_surrogate_scale_must_be_one_of_its_parameters():
    with pytest.raises(RegistrationError, match="scale 'slope' is not one of its parameters \\['sigma'\\]"):
        plugins.register_surrogate("mine", "m:f", defaults={"sigma": 1.0}, scale="slope")


def run_python(code, path):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    return result


def test_an_installed_packages_entry_point_is_found_without_a_config_change(tmp_path):
    """A throwaway distribution (its metadata on the path, as pip leaves it) declares a plugin module."""
    write_plugin(
        tmp_path,
        "throwaway_plugin",
        """
        from spikebench.plugins import register_neuron
        register_neuron("throwaway", "spikebench.model.cells:LeakyCell", description="a leaky by another name")
        """,
    )
    metadata = tmp_path / "throwaway-0.1.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway\nVersion: 0.1\n")
    (metadata / "entry_points.txt").write_text("[spikebench.plugins]\nthrowaway = throwaway_plugin\n")
    code = (
        "from spikebench.study.config import validate_config, expand_runs\n"
        "config = {'studies': {'s': {'dataset': ['mnist'], 'neuron': ['throwaway'], 'surrogate': ['atan'],"
        " 'backprop': ['bptt'], 'seed': [0]}}}\n"
        "print(list(expand_runs(validate_config(config))))\n"
    )
    assert run_python(code, [tmp_path]).stdout.strip() == "['mnist-throwaway-atan-k2-bptt-s0']"


def test_planning_a_study_with_a_plugin_imports_no_torch(tmp_path):
    """What Snakemake does while it plans: validate the config (loading the plugin), expand the grid, find the
    scale of an equal-width study's plugin surrogate."""
    code = (
        "import sys\n"
        "from spikebench.study.config import validate_config, expand_runs\n"
        "config = {'plugins': ['spikebench_alif.plugin'], 'studies': {'s': {'dataset': ['mnist'],"
        " 'neuron': ['alif'], 'surrogate': ['gaussian', 'atan'], 'width': [0.1], 'backprop': ['bptt'],"
        " 'seed': [0], 'baseline': {'surrogate': 'atan'}}}}\n"
        "runs = expand_runs(validate_config(config))\n"
        "print(len(runs), sorted({'torch', 'snntorch', 'pandas', 'matplotlib'} & set(sys.modules)))\n"
    )
    assert run_python(code, [EXAMPLE]).stdout.split() == ["2", "[]"]


BAD_PLUGIN = """
import torch
from spikebench.model.cells import Cell
from spikebench.plugins import register_neuron, register_surrogate


class Lazy(Cell):
    pass


class Narrow(Cell):
    def fast_step(self, current, state):
        return current[:, :1] > 0, state, state[0]


class Double(Cell):
    def fast_step(self, current, state):
        return (current > 0).double(), state, state[0]


class NotACell:
    pass


class ImagesOnly(Cell):
    def fast_step(self, current, state):
        membrane = state[0] + current.mean(dim=(2, 3), keepdim=True).expand_as(current)
        return (membrane > 1).float(), (membrane,), membrane


class _Reciprocal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).float()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


def reciprocal():
    return _Reciprocal.apply


def sign():
    return torch.sign


register_neuron("lazy", "throwaway_bad:Lazy", description="no step")
register_neuron("narrow", "throwaway_bad:Narrow", description="wrong shape")
register_neuron("double", "throwaway_bad:Double", description="wrong dtype")
register_neuron("stranger", "throwaway_bad:NotACell", description="not a cell")
register_neuron("absent", "throwaway_bad:Absent", description="no such class")
register_neuron("images_only", "throwaway_bad:ImagesOnly", description="fails on the output layer's input")
register_surrogate("reciprocal", "throwaway_bad:reciprocal", description="infinite at 0")
register_surrogate("sign", "throwaway_bad:sign", description="not a step")
"""


def test_each_bad_cell_and_surrogate_is_named_with_its_problem(tmp_path, monkeypatch):
    from spikebench.run.plugin_checks import plugin_problems

    monkeypatch.syspath_prepend(str(tmp_path))
    write_plugin(tmp_path, "throwaway_bad", BAD_PLUGIN)
    plugins.load_plugins(["throwaway_bad"])
    problems = "\n".join(plugin_problems())
    for expected in [
        "plugin throwaway_bad: neuron model 'lazy': its cell throwaway_bad:Lazy does not define fast_step",
        "neuron model 'narrow': one step of its cell on a float32 input of shape [2, 3, 4, 4] returned spikes of"
        " [2, 1, 4, 4] torch.bool",
        "neuron model 'double': one step of its cell on a float32 input of shape [2, 3, 4, 4] returned spikes of"
        " [2, 3, 4, 4] torch.float64",
        "neuron model 'stranger': its cell throwaway_bad:NotACell is not a subclass of spikebench.model.cells.Cell",
        "neuron model 'absent': its cell throwaway_bad:Absent does not import",
        "surrogate 'reciprocal': its backward pass at [-1, -0.1, 0, 0.1, 1] is [-1, -10, inf, 10, 1]. Fix: ",
        "surrogate 'sign': its forward pass gives [-1, -1, 0, 1, 1] at [-1, -0.1, 0, 0.1, 1], not the step",
        "neuron model 'images_only': its cell failed one step on a float32 input of shape [2, 10]: IndexError",
    ]:
        assert expected in problems
    assert "spikebench_alif" not in problems and "leaky" not in problems, "built-ins and good plugins pass"
    lines = plugin_problems()
    assert len(lines) == 8 and all(". Fix: " in line for line in lines), "every problem states its fix"
    assert sum("returns (spikes, state, membrane)" in line for line in lines) == 4, "the cells' contract"
    assert sum("the step (x > 0) as a float tensor" in line for line in lines) == 2, "the surrogates' contract"


def dry_run(working_directory, environment):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--configfile",
            "config.yaml",
        ],
        cwd=working_directory,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_the_workflow_refuses_a_bad_plugin_before_any_job(tmp_path):
    allowed = tmp_path / "my_plugins"
    allowed.mkdir()
    write_plugin(allowed, "throwaway_bad", BAD_PLUGIN)
    config = study_config(["leaky"], ["atan"], listed=["throwaway_bad"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path, {**os.environ, plugins.LOCAL_PLUGIN_PATH: str(allowed)})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "a plugin failed its check before any job" in output
    assert "plugin throwaway_bad: neuron model 'lazy'" in output and not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_a_plugin_study_runs_end_to_end_and_every_output_names_it(tmp_path, shared_mnist, monkeypatch):
    """The example plugin's model and surrogate beside leaky and fast_sigmoid, two seeds: the grid trains, and
    the tables, comparisons, figures, summary page and report all carry the plugin's names."""
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLE))
    config = study_config(["leaky", "alif"], ["fast_sigmoid", "gaussian"], seed=[0, 1])
    config["datasets"] = {"mnist": {"sources": [str(shared_mnist)]}}
    config["data"] = {"validation_size": 100, "limit_train": 300, "limit_validation": 100, "limit_test": 100}
    config["simulation"] = {name: {"steps": 20} for name in SIMULATION_FIGURES}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake("--cores", "2", "--configfile", str(path), workdir=tmp_path)
    snakemake("--report", str(tmp_path / "results/report.html"), "--configfile", str(path), workdir=tmp_path)
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    assert (
        len(runs) == 8
        and set(runs["neuron"]) == {"leaky", "alif"}
        and set(runs["surrogate"])
        == {
            "fast_sigmoid",
            "gaussian",
        }
    )
    assert runs["status"].ne("missing").all()
    comparisons = pd.read_csv(tmp_path / "results/tables/comparisons.csv")
    primary = comparisons[comparisons["family"] == "primary"].set_index(["factor", "level"])
    assert "alif" in set(primary.loc["neuron"].index), primary.index.tolist()
    assert any(level.startswith("gaussian") for level in primary.loc["surrogate"].index), primary.index.tolist()
    gains = pd.read_csv(tmp_path / "results/tables/neuron_gains.csv").set_index("neuron")["steady_state_gain"]
    assert gains["alif"] == pytest.approx(2.0), "the plugin's own closed form"
    for figure in ("accuracy_heatmap", "baseline_comparisons", "seed_spread"):
        drawn = (tmp_path / f"results/figures/{figure}.svg").read_text()
        assert "alif" in drawn and "gaussian" in drawn, figure
    page = (tmp_path / "results/summary.html").read_text()
    assert "alif" in page and "gaussian" in page
    assert "spikebench_alif.plugin (plugins: in the config, " in page and "registers alif, gaussian" in page
    assert "plugin spikebench_alif" in page and "for gaussian" in page, "its defaults are the plugin's"
    assert "mnist-alif-gaussian-k0.3-bptt-s1" in (tmp_path / "results/report.html").read_text()


def test_snakemake_plans_a_plugin_study_without_importing_torch(tmp_path):
    """Every process that imports torch writes its pid (a sitecustomize on the path watches imports): the plugin
    check's process does, Snakemake's own does not."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import os, sys

            class WatchTorch:
                def find_spec(self, name, path=None, target=None):
                    if name == "torch":
                        with open(os.environ["TORCH_IMPORTS"], "a") as log:
                            log.write(f"{os.getpid()}\\n")
                    return None

            sys.meta_path.insert(0, WatchTorch())
            """
        )
    )
    config = study_config(["leaky", "alif"], ["fast_sigmoid", "gaussian"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    log = tmp_path / "torch_imports.txt"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(EXAMPLE)]), "TORCH_IMPORTS": str(log)}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        REPO / "Snakefile",
        "--configfile",
        "config.yaml",
    ]
    planner = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = planner.communicate()[0].decode()
    assert planner.returncode == 0, output
    assert "train" in output and log.is_file(), "the plugin check's own process imported torch"
    assert str(planner.pid) not in log.read_text().split(), "Snakemake's process imported torch while planning"


def test_a_plugin_models_own_constants_come_from_the_config():
    config = study_config(["alif"], ["gaussian"])
    config["model"]["neuron_params"] = {"alif": {"rho": 0.5}}
    settings = RunSettings.from_config(validate_config(config))
    (run,) = expand_runs(config).values()
    cell = build_model(run, settings, "fast").cells[0]
    assert dict(cell.settings.params) == {"rho": 0.5, "gamma": 0.2}, "set in the config, else registered"
    assert settings.as_dict()["model"]["neuron_params"] == {"alif": {"rho": 0.5}}


@pytest.mark.parametrize(
    ("neuron_params", "message"),
    [
        (
            {"alif": {"rh": 0.5}},
            "'model.neuron_params.alif.rh': neuron model alif has no parameter 'rh'; allowed parameters: rho, gamma",
        ),
        ({"leaky": {"beta": 0.5}}, "neuron model leaky has no parameter 'beta'; allowed parameters: none"),
    ],
)
def test_unknown_constants_are_refused_with_the_allowed_ones(neuron_params, message):
    config = study_config(["alif"], ["gaussian"])
    config["model"]["neuron_params"] = neuron_params
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_a_config_without_neuron_params_keeps_the_fingerprint_it_had_before_the_key():
    settings = RunSettings.from_config(validate_config(study_config(["leaky"], ["atan"], listed=[])))
    assert "neuron_params" not in settings.as_dict()["model"], "results made before the key existed stay valid"


PLANTED = """
import pathlib
pathlib.Path("{marker}").write_text("ran")
from spikebench.plugins import register_neuron
register_neuron("planted", "spikebench.model.cells:LeakyCell", description="planted")
"""


@pytest.mark.parametrize("where", ["results/tiny", "."])
def test_a_config_cannot_make_the_workflow_import_a_planted_file(tmp_path, where):
    """A module planted among the results or in the working directory, named by a config's plugins:, does not
    run on a dry run, even with the working directory on PYTHONPATH: the consent is the user's, not the config's."""
    marker = tmp_path / "marker"
    directory = tmp_path / where
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "evil_results.py").write_text(PLANTED.format(marker=marker))
    module = "results.tiny.evil_results" if where != "." else "evil_results"
    config = {**study_config(["leaky"], ["atan"], listed=[module]), "results": "results/tiny"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = dry_run(tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0 and f"plugin {module}" in result.stdout + result.stderr
    assert "never searched for plugins" in result.stdout + result.stderr
    assert not marker.exists(), "the planted module ran"


def test_a_planted_entry_point_in_the_working_directory_is_not_found(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    (tmp_path / "planted_plugin.py").write_text(PLANTED.format(marker=marker))
    metadata = tmp_path / "planted-0.1.dist-info"
    metadata.mkdir()
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: planted\nVersion: 0.1\n")
    (metadata / "entry_points.txt").write_text("[spikebench.plugins]\nplanted = planted_plugin\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    assert "planted_plugin" not in plugins.entry_point_plugins()
    plugins.load_plugins()
    assert not marker.exists() and "planted" not in NEURON_MODELS


def test_a_local_plugin_runs_only_from_a_directory_the_user_allowed(tmp_path, monkeypatch):
    write_plugin(
        tmp_path,
        "throwaway_local",
        """
        from spikebench.plugins import register_neuron
        register_neuron("local_leaky", "spikebench.model.cells:LeakyCell", description="a leaky, locally")
        """,
    )
    with pytest.raises(plugins.PluginError, match="does not import"):
        plugins.load_plugins(["throwaway_local"])
    monkeypatch.setenv(plugins.LOCAL_PLUGIN_PATH, str(tmp_path))
    plugins.load_plugins(["throwaway_local"])
    [origin] = [plugin for plugin in plugins.loaded_plugins() if plugin.module == "throwaway_local"]
    assert origin.how == plugins.LOCAL_PLUGIN_PATH and origin.registered == ("local_leaky",)
    assert origin.file == str(tmp_path / "throwaway_local.py") and origin.distribution is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("import sys\nsys.exit(0)\n", r"raised SystemExit\(0\); a plugin only registers names when imported"),
        ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt"),
        ("VALUE = 1\n", "it registers no neuron model and no surrogate"),
        ("import time\ntime.sleep(5)\n", "it took longer than 0.5 s to import"),
    ],
)
def test_a_plugin_that_exits_stalls_or_registers_nothing_is_refused(tmp_path, monkeypatch, body, problem):
    (tmp_path / "throwaway_odd.py").write_text(body)
    monkeypatch.setenv(plugins.LOCAL_PLUGIN_PATH, str(tmp_path))
    monkeypatch.setenv(plugins.IMPORT_TIMEOUT, "0.5")
    with pytest.raises(plugins.PluginError, match=f"plugin throwaway_odd .*: .*{problem}"):
        plugins.load_plugins(["throwaway_odd"])
    assert "throwaway_odd" not in sys.modules


@pytest.mark.parametrize("module", ["antigravity", "os.path", "this"])
def test_standard_library_modules_are_not_plugins(module):
    with pytest.raises(ConfigError, match=f"plugin {module} .*: it is a standard-library module, not a plugin"):
        validate_config(study_config(["leaky"], ["atan"], listed=[module]))
    assert sys.modules["os.path"] is os.path, "a refusal leaves the modules imported before it alone"


def test_the_plugin_guide_states_the_contracts_the_checks_enforce():
    from spikebench.run.plugin_checks import CELL_CONTRACT, SURROGATE_CONTRACT

    guide = " ".join((REPO / "docs/extending/plugins.md").read_text().replace("`", "").split())
    for contract in (CELL_CONTRACT, SURROGATE_CONTRACT):
        assert contract in guide
