"""Rule demo_audio: the Looperman-shaped demo dump (audio/*.wav + metadata.csv) and its loop labels."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.demo.audio_corpus import write_audio_corpus

summary = write_audio_corpus(
    snakemake.output.dump,
    snakemake.output.labels,
    n_files=snakemake.params.n_files,
    seed=snakemake.params.seed,
)
log.info(
    "wrote %d loop files and %d metadata rows to %s; labels to %s",
    summary["files"],
    summary["metadata_rows"],
    snakemake.output.dump,
    snakemake.output.labels,
)
