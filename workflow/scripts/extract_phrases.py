"""Rule extract_phrases: the phrases of one shard of the raw MIDI tree, and a row for every file."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.midi import MIDI_SUFFIXES, MidiParams, extract_shard
from loopgen.shards import files_in_shard

shard, n_shards = int(snakemake.wildcards.shard), int(snakemake.params.n_shards)
raw_dir = snakemake.input.raw
params = MidiParams.from_config(snakemake.params.settings)
relpaths = files_in_shard(raw_dir, MIDI_SUFFIXES, shard, n_shards)
log.info("shard %d of %d: %d MIDI files under %s; %s", shard, n_shards, len(relpaths), raw_dir, params)
extract_shard(raw_dir, relpaths, shard, params, snakemake.output.phrases, snakemake.output.files)
