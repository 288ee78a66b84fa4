"""Rule rejection_sweep: generate until n_keep loops score below one limit (or max_tries are spent)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

import torch

from loopgen import detector, symbolic
from loopgen.sampling import SamplingMode
from loopgen.tables import write_table
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
mode_name, limit = snakemake.wildcards.mode, snakemake.params.limit
mode = SamplingMode(**snakemake.params.mode)
device = pick_device(snakemake.params.device)
seed = symbolic.derived_seed(snakemake.params.seed, "rejection_sweep", mode_name, snakemake.wildcards.limit)
sampler = symbolic.LoopSampler.load(Path(snakemake.input.vqvae).parent, Path(snakemake.input.prior).parent,
                                    seed, device, snakemake.params.batch_size)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
n_keep = snakemake.params.n_keep or symbolic.training_split_size(snakemake.input.codes)
max_tries = snakemake.params.max_tries or 10 * n_keep
log.info("mode %s (%s), loop-score limit %s: keeping %d, at most %d tries", mode_name, mode, limit, n_keep, max_tries)

packed, scores, stats = symbolic.rejection_sample(sampler, mode, lambda p: detector.loop_scores(scorer, p), limit,
                                                  n_keep, max_tries)
prefix = f"{mode_name}-limit-{snakemake.wildcards.limit}"
write_table(symbolic.sample_table(packed, scores, prefix), snakemake.output.samples, symbolic.SAMPLE_SCHEMA)
Path(snakemake.output.stats).write_text(json.dumps({"mode": mode_name, **stats}, indent=2))
log.info("kept %d of %d generated loops (acceptance rate %.4g)", stats["kept"], stats["tried"], stats["acceptance_rate"])
