"""Rule rejection_none: limit 'none' keeps every loop, so it is the first n_keep plain samples of
the mode (sample_loops), read without generating again."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

from loopgen import symbolic
from loopgen.tables import join_files

mode_name = snakemake.wildcards.mode
n_keep = snakemake.params.n_keep or symbolic.training_split_size(snakemake.input.codes)
# Copied a row group at a time: at paper scale n_keep is ~600k loops (570 MB as a table).
kept = join_files([snakemake.input.samples], snakemake.output.samples, symbolic.SAMPLE_SCHEMA, limit=n_keep)
if kept < n_keep:
    log.warning("only %d plain samples (sampling.n_samples) for n_keep %d", kept, n_keep)
stats = {
    "mode": mode_name,
    "limit": None,
    "target": n_keep,
    "tried": kept,
    "kept": kept,
    "acceptance_rate": 1.0 if kept else float("nan"),
}
Path(snakemake.output.stats).write_text(json.dumps(stats, indent=2))
log.info("limit none: the first %d loops of %s", kept, snakemake.input.samples)
