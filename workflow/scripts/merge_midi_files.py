"""Rule merge_midi_files: the per-shard files tables as one, checked: every file in exactly one row."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.midi import FILES_SCHEMA, merge_files_tables
from loopgen.tables import write_table

write_table(merge_files_tables(list(snakemake.input)), snakemake.output[0], FILES_SCHEMA)
