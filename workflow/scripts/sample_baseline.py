"""Rule sample_baseline: n_samples loops of one trained baseline, loop-scored (SAMPLE_SCHEMA)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import numpy as np
import torch

from loopgen import baselines, detector, symbolic
from loopgen.tables import write_table
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
name = snakemake.wildcards.baseline
device = pick_device(snakemake.params.device)
seed = symbolic.derived_seed(snakemake.params.seed, "sample_baseline", name)
n_samples = snakemake.params.n_samples or symbolic.training_split_size(snakemake.input.codes)
packed = baselines.sample_rolls(
    name, Path(snakemake.input.model).parent, n_samples, seed, device, snakemake.params.batch_size
)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
scores = detector.loop_scores(scorer, packed)
write_table(symbolic.sample_table(packed, scores, name), snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
log.info(
    "%s: %d loops written on %s; loop score mean %.4g, median %.4g; %.1f%% below the detector threshold",
    name,
    len(scores),
    device,
    scores.mean(),
    np.median(scores),
    100 * (scores < float(scorer.threshold)).mean(),
)
