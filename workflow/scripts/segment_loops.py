"""Rule segment_loops: accepted loops of one shard -> 1-bar segments at 130 BPM, 16 kHz int16."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.audio.dump import LOOP_SCHEMA
from loopgen.audio.pipeline import segment_shard
from loopgen.audio.segments import write_segments
from loopgen.tables import read_table

shard = int(snakemake.wildcards.shard)
loops = read_table(snakemake.input.loops, LOOP_SCHEMA)
segments = segment_shard(snakemake.input.raw, loops, shard, snakemake.params.segments)
write_segments(segments, snakemake.output.segments)  # one row group per split
log.info("shard %d: wrote %d segments to %s", shard, segments.num_rows, snakemake.output.segments)
