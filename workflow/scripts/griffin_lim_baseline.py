"""Rule griffin_lim_baseline: real test segments -> |STFT| -> Griffin-Lim (the paper's FAD baseline)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import torch

from loopgen import loopnet
from loopgen.device import rule_device

torch.set_num_threads(snakemake.threads)
p = snakemake.params
test = loopnet.read_segment_audio(snakemake.input.segments, split="test")
log.info("%d test segments; Griffin-Lim with FFT %d, hop %d, %d iterations", len(test), p.n_fft, p.hop, p.iterations)
pcm = loopnet.griffin_lim_baseline(test.pcm, p.n_fft, p.hop, p.iterations, rule_device(snakemake))
loopnet.write_set(
    test.segment_id, test.loop_id, loopnet.GRIFFIN_LIM, pcm, snakemake.output.table, snakemake.output.wavs, p.n_wavs
)
log.info("wrote %d segments to %s and %s", len(pcm), snakemake.output.table, snakemake.output.wavs)
