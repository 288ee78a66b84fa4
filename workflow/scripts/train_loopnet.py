"""Rule train_loopnet: one LoopNet variant on the train split (SPEC section 6)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import loopnet
from loopgen.device import rule_device, rule_precision

torch.set_num_threads(snakemake.threads)
variant = snakemake.wildcards.variant
device = rule_device(snakemake)
train = loopnet.load_segments(snakemake.input.segments, snakemake.input.features, split="train")
scaler = loopnet.GlobalScaler.from_file(snakemake.input.stats)
log.info(
    "%s: %d train segments from %d loops; training on %s with %s",
    variant,
    len(train),
    len(set(train.loop_id)),
    device,
    snakemake.params.settings,
)
if len(train) == 0:
    raise SystemExit(f"{snakemake.input.segments}: no train segments with features to train LoopNet on")

model, history = loopnet.train_loopnet(
    train,
    scaler,
    variant,
    snakemake.params.settings,
    snakemake.params.seed,
    snakemake.params.checkpoint_dir,
    device,
    run_key=snakemake.params.code,
    precision=rule_precision(snakemake),
)
loopnet.save_loopnet(
    Path(snakemake.output.model).parent,
    model,
    variant,
    snakemake.params.settings,
    scaler,
    history,
    dict(snakemake.params.audio_settings),
)
log.info(
    "%s: probe loss %.4f before training, %.4f after %d epochs (silence: %.4f)",
    variant,
    history["probe_loss"][0],
    history["probe_loss"][-1],
    len(history["train_loss"]),
    history["silence_probe_loss"],
)
