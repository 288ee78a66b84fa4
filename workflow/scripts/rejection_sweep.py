"""Rule rejection_sweep: keep n_keep loops below each numeric loop-score limit, all from one
resumable stream of generated loops (or until max_tries are drawn)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

import torch

from loopgen import detector, symbolic
from loopgen.device import rule_device
from loopgen.sampling import SamplingMode

torch.set_num_threads(snakemake.threads)
p = snakemake.params
mode_name = snakemake.wildcards.mode
device = rule_device(snakemake)
seed = symbolic.derived_seed(p.seed, "rejection_sweep", mode_name)
sampler = symbolic.LoopSampler.load(
    Path(snakemake.input.vqvae).parent, Path(snakemake.input.prior).parent, seed, device, p.batch_size
)
scorer = detector.load_detector(Path(snakemake.input.detector).parent, device)
n_keep = p.n_keep or symbolic.training_split_size(snakemake.input.codes)
max_tries = p.max_tries or 10 * n_keep
log.info(
    "mode %s (%s), loop-score limits %s: keeping %d below each, at most %d tries in all",
    mode_name,
    p.mode,
    p.limits,
    n_keep,
    max_tries,
)

names = [format(limit, "g") for limit in p.limits]
stats = symbolic.nested_rejection(
    sampler,
    SamplingMode(**p.mode),
    lambda packed: detector.loop_scores(scorer, packed),
    p.limits,
    n_keep,
    max_tries,
    dict(zip(p.limits, snakemake.output.samples)),
    p.state_dir,
    {limit: f"{mode_name}-limit-{name}" for limit, name in zip(p.limits, names)},
    run_key=f"{p.code}:{seed}:{mode_name}:{p.batch_size}",
)
by_limit = {row["limit"]: row for row in stats}
for limit, path in zip(p.limits, snakemake.output.stats):
    Path(path).write_text(json.dumps({"mode": mode_name, **by_limit[limit]}, indent=2))
    log.info(
        "limit %g: kept %d of %d generated loops (acceptance rate %.4g)",
        limit,
        by_limit[limit]["kept"],
        by_limit[limit]["tried"],
        by_limit[limit]["acceptance_rate"],
    )
