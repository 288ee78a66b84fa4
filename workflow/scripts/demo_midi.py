"""Rule demo_midi: the LMD-shaped demo tree (<hex>/<md5>.mid) and its 8-bar window loop labels."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.demo.midi_corpus import write_midi_corpus

summary = write_midi_corpus(
    snakemake.output.tree,
    snakemake.output.labels,
    n_files=snakemake.params.n_files,
    seed=snakemake.params.seed,
)
log.info(
    "wrote %d files to %s and %d window labels (%d loops) to %s",
    summary["files"],
    snakemake.output.tree,
    summary["windows"],
    summary["loop_windows"],
    snakemake.output.labels,
)
