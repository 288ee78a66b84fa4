"""Rule check_loops: every file and metadata row of the dump -> loops.parquet + bar_corr.parquet."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.audio.bar_corr import BAR_CORR_SCHEMA
from loopgen.audio.dump import LOOP_SCHEMA
from loopgen.audio.pipeline import check_loops
from loopgen.tables import write_table

params = snakemake.params
log.info("checking the loop dump %s", snakemake.input.raw)
loops, bar_corr = check_loops(
    snakemake.input.raw,
    params.metadata,
    params.tempo,
    params.segments,
    params.bar_corr,
    seed=params.seed,
    n_shards=params.n_shards,
)
write_table(loops, snakemake.output.loops, LOOP_SCHEMA)
write_table(bar_corr, snakemake.output.bar_corr, BAR_CORR_SCHEMA)
log.info("wrote %d loop rows and %d bar correlations", len(loops), len(bar_corr))
