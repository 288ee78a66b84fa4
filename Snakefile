# loopgen: raw Lakh MIDI and Looperman-style dumps -> the papers' tables.
# Thin on purpose: config, validation, the stage files, and the target rule.
import sys
from pathlib import Path

from snakemake.utils import min_version

from loopgen.config import ConfigError, load_schema, validate

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# The raw-data folders the demo stage generates itself (so they need not exist before the run).
DEMO_MIDI_DIR = "resources/demo/lmd"
DEMO_AUDIO_DIR = "resources/demo/looperman"

try:
    validate(
        config,
        load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"),
        demo_dirs=(DEMO_MIDI_DIR, DEMO_AUDIO_DIR),
    )
except ConfigError as error:
    sys.exit(f"config error: {error}")


include: "rules/common.smk"
include: "rules/manifest.smk"
include: "rules/demo.smk"
include: "rules/midi.smk"
include: "rules/audio.smk"
include: "rules/detector.smk"
include: "rules/symbolic.smk"
include: "rules/baselines.smk"
include: "rules/loopnet.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"  # last: it reads every stage's TARGETS


# Seconds of work on small tables: on Slurm these run beside Snakemake instead of queueing a job.
localrules:
    merge_midi_files,
    summarise_loops,
    feature_stats,
    rejection_table,
    rejection_none,
    evaluate_loopnet,


rule all:
    default_target: True
    input:
        all_targets(),
