"""Rule synthesize_test: every test segment resynthesised by one LoopNet variant from its own features."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import loopnet
from loopgen.device import rule_device

torch.set_num_threads(snakemake.threads)
device = rule_device(snakemake)
model = loopnet.LoopNet.load(Path(snakemake.input.model).parent, device, snakemake.params.griffin_lim_iters)
test = loopnet.load_segments(snakemake.input.segments, snakemake.input.features, split="test")
log.info("%s: %d test segments from %d loops, on %s", model.variant, len(test), len(set(test.loop_id)), device)
pcm = loopnet.synthesize_test(model, test, snakemake.params.batch_size)
loopnet.write_set(
    test.segment_id,
    test.loop_id,
    model.variant,
    pcm,
    snakemake.output.table,
    snakemake.output.wavs,
    snakemake.params.n_wavs,
)
log.info("%s: wrote %d segments to %s and %s", model.variant, len(pcm), snakemake.output.table, snakemake.output.wavs)
