"""Rule sample_loops: one chunk of a sampling mode's n_samples generated loops, decoded and
loop-scored (gather_samples joins the chunks; each chunk's seed is derived from seed, mode, chunk)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import numpy as np
import torch

from loopgen import detector, symbolic
from loopgen.device import rule_device
from loopgen.sampling import SamplingMode
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
p = snakemake.params
mode_name, chunk = snakemake.wildcards.mode, int(snakemake.wildcards.chunk)
mode = SamplingMode(**p.mode)
device = rule_device(snakemake)
seed = symbolic.derived_seed(p.seed, "sample_loops", mode_name, chunk)
sampler = symbolic.LoopSampler.load(
    Path(snakemake.input.vqvae).parent, Path(snakemake.input.prior).parent, seed, device, p.batch_size
)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
n_samples = p.n_samples or symbolic.training_split_size(snakemake.input.codes)
first, last = (n_samples * chunk) // p.chunks, (n_samples * (chunk + 1)) // p.chunks
log.info(
    "sampling loops %d-%d of %d (chunk %d of %d) in mode %s (%s)",
    first,
    last,
    n_samples,
    chunk + 1,
    p.chunks,
    mode_name,
    mode,
)

table = symbolic.sample_loops(
    sampler, last - first, mode, lambda packed: detector.loop_scores(scorer, packed), mode_name, first=first
)
write_table(table, snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
scores = table.column("loop_score").to_numpy()
log.info(
    "%d loops written; loop score mean %.4g, median %.4g; %.1f%% below the detector threshold %.4g",
    len(scores),
    scores.mean(),
    np.median(scores),
    100 * (scores < float(scorer.threshold)).mean(),
    float(scorer.threshold),
)
