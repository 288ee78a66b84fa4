"""Rule train_prior: the 4-layer LSTM prior of SPEC section 3 on the VQ-VAE's training codes."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import symbolic
from loopgen.device import rule_device, rule_precision
from loopgen.models.lstm_prior import PriorConfig

torch.set_num_threads(snakemake.threads)
config, settings = symbolic.settings_from(
    snakemake.params.prior, PriorConfig, snakemake.params.seed, codebook_size=snakemake.params.codebook_size
)
codes, file_id, split = symbolic.read_codes(snakemake.input.codes)
train = split == "train"
log.info("%d code sequences, %d of them from the VQ-VAE's training songs", len(codes), train.sum())
device = rule_device(snakemake)
log.info("training on %s with %s and %s", device, config, settings)

model, history, first_code_probs, selection = symbolic.train_prior(
    codes[train],
    file_id[train],
    config,
    settings,
    snakemake.params.checkpoint_dir,
    device,
    run_key=snakemake.params.code,
    precision=rule_precision(snakemake),
)
symbolic.save_prior(Path(snakemake.output.model).parent, model, history, first_code_probs, settings, selection)
symbolic.write_history(history, snakemake.output.curve_csv)
symbolic.plot_history(history, snakemake.output.curve_png, symbolic.PRIOR_PANELS, "LSTM prior training")
kept = history[selection["epoch"] - 1] if selection.get("epoch") else history[-1]
log.info(
    "kept %s (%s): validation token accuracy %.4f (paper: 0.76651); %d distinct first codes",
    selection["kept"],
    selection["why"],
    kept.get("val_accuracy", float("nan")),
    (first_code_probs > 0).sum(),
)
