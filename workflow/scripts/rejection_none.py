"""Rule rejection_none: limit 'none' keeps every loop, so it is the first n_keep plain samples of
the mode (sample_loops), read without generating again."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

from loopgen import symbolic
from loopgen.tables import read_head, write_table

mode_name = snakemake.wildcards.mode
n_keep = snakemake.params.n_keep or symbolic.training_split_size(snakemake.input.codes)
head = read_head(snakemake.input.samples, symbolic.SAMPLE_SCHEMA, n_keep)
if head.num_rows < n_keep:
    log.warning("only %d plain samples (sampling.n_samples) for n_keep %d", head.num_rows, n_keep)
write_table(head, snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
stats = {
    "mode": mode_name,
    "limit": None,
    "target": n_keep,
    "tried": head.num_rows,
    "kept": head.num_rows,
    "acceptance_rate": 1.0 if head.num_rows else float("nan"),
}
Path(snakemake.output.stats).write_text(json.dumps(stats, indent=2))
log.info("limit none: the first %d loops of %s", head.num_rows, snakemake.input.samples)
