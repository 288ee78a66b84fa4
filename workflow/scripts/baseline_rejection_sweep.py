"""Rule baseline_rejection_sweep: a baseline generates until n_keep loops score below one limit
(or max_tries are spent), with the VQ-VAE + LSTM's rejection sampler (S Figure 4 shows MuseGAN)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

import torch

from loopgen import baselines, detector, symbolic
from loopgen.tables import write_table
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
name, mode, limit = snakemake.wildcards.baseline, snakemake.wildcards.mode, snakemake.params.limit
device = pick_device(snakemake.params.device)
seed = symbolic.derived_seed(snakemake.params.seed, "baseline_rejection_sweep", name, snakemake.wildcards.limit)
sampler = baselines.BaselineSampler(name, Path(snakemake.input.model).parent, seed, device, snakemake.params.batch_size)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
n_keep = snakemake.params.n_keep or symbolic.training_split_size(snakemake.input.codes)
max_tries = snakemake.params.max_tries or 10 * n_keep
log.info("%s, loop-score limit %s: keeping %d, at most %d tries", name, limit, n_keep, max_tries)

packed, scores, stats = symbolic.rejection_sample(
    sampler, None, lambda p: detector.loop_scores(scorer, p), limit, n_keep, max_tries
)
prefix = f"{name}-{mode}-limit-{snakemake.wildcards.limit}"
write_table(symbolic.sample_table(packed, scores, prefix), snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
Path(snakemake.output.stats).write_text(json.dumps({"mode": mode, **stats}, indent=2))
log.info(
    "kept %d of %d generated loops (acceptance rate %.4g)", stats["kept"], stats["tried"], stats["acceptance_rate"]
)
