"""Rule gather_samples: a mode's sampled chunks as one Parquet file, in chunk order."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen import symbolic
from loopgen.tables import join_files

join_files(snakemake.input.chunks, snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
log.info("%d chunks -> %s", len(snakemake.input.chunks), snakemake.output.samples)
