"""Rule score_phrases: loop score of every phrase of one MIDI shard; keep those below the threshold."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

from loopgen import detector
from loopgen.device import rule_device

model = detector.load_detector(Path(snakemake.input.model).parent, rule_device(snakemake))
log.info("detector threshold %.6g", float(model.threshold))
n_in, n_out = detector.score_phrase_shard(model, snakemake.input.phrases, snakemake.output.loops)
log.info(
    "%s: %d phrases in, %d loops out (%.1f%%)",
    snakemake.input.phrases,
    n_in,
    n_out,
    100 * n_out / n_in if n_in else 0.0,
)
