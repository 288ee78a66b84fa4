"""Rule extract_features: segments of one shard -> drum activations, envelope, HPCP, timbre."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.audio.dump import LOOP_SCHEMA
from loopgen.audio.features import FEATURE_SCHEMA
from loopgen.audio.pipeline import extract_shard
from loopgen.audio.segments import SEGMENT_SCHEMA
from loopgen.tables import read_table, write_table

loops = read_table(snakemake.input.loops, LOOP_SCHEMA)
segments = read_table(snakemake.input.segments, SEGMENT_SCHEMA)
log.info("%s: %d segments", snakemake.input.segments, segments.num_rows)
features = extract_shard(snakemake.input.raw, loops, segments, snakemake.params.segments, snakemake.params.features)
write_table(features, snakemake.output.features, FEATURE_SCHEMA)
log.info("wrote %d feature rows to %s", features.num_rows, snakemake.output.features)
