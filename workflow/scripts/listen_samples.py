"""Rule listen_samples: the first n_listen loops of one mode as MIDI files (and WAV renders)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen import symbolic
from loopgen.tables import read_head

table = read_head(snakemake.input.samples, symbolic.SAMPLE_SCHEMA, snakemake.params.n_listen)
paths = symbolic.write_listening_files(
    table, snakemake.output.folder, snakemake.params.n_listen, snakemake.params.tempo_bpm, snakemake.params.render_wav
)
log.info(
    "the first %d loops written to %s as MIDI%s at %g BPM",
    len(paths),
    snakemake.output.folder,
    " and WAV" if snakemake.params.render_wav else "",
    snakemake.params.tempo_bpm,
)
