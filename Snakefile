from snakemake.utils import min_version

min_version("9.0")


# A config file given with --configfile replaces the full study instead of being merged into it, so that
# config/quick.yaml runs only its own studies; keys it omits take the schema's defaults.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"


onstart:
    stop_unless_the_cost_is_confirmed()


rule all:
    default_target: True
    input:
        final_targets(),
