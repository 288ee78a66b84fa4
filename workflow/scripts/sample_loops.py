"""Rule sample_loops: n_samples generated loops of one sampling mode, decoded and loop-scored."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import numpy as np
import torch

from loopgen import detector, symbolic
from loopgen.sampling import SamplingMode
from loopgen.tables import write_table
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
mode_name = snakemake.wildcards.mode
mode = SamplingMode(**snakemake.params.mode)
device = pick_device(snakemake.params.device)
seed = symbolic.derived_seed(snakemake.params.seed, "sample_loops", mode_name)
sampler = symbolic.LoopSampler.load(Path(snakemake.input.vqvae).parent, Path(snakemake.input.prior).parent,
                                    seed, device, snakemake.params.batch_size)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
n_samples = snakemake.params.n_samples or symbolic.training_split_size(snakemake.input.codes)
log.info("sampling %d loops in mode %s (%s) on %s", n_samples, mode_name, mode, device)

table = symbolic.sample_loops(sampler, n_samples, mode,
                              lambda packed: detector.loop_scores(scorer, packed), mode_name)
write_table(table, snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
scores = table.column("loop_score").to_numpy()
log.info("%d loops written; loop score mean %.4g, median %.4g; %.1f%% below the detector threshold %.4g",
         len(scores), scores.mean(), np.median(scores), 100 * (scores < float(scorer.threshold)).mean(),
         float(scorer.threshold))
