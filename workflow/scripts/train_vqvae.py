"""Rule train_vqvae: the VQ-VAE of SPEC section 3 on the loop shards (rolls stay packed)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import symbolic
from loopgen.device import rule_device, rule_precision
from loopgen.models.vqvae import VQVAEConfig

torch.set_num_threads(snakemake.threads)
config, settings = symbolic.settings_from(snakemake.params.vqvae, VQVAEConfig, snakemake.params.seed)
loops = symbolic.read_loops(snakemake.input.loops)
log.info("%d loops from %d shards (%.1f MB packed)", len(loops), len(snakemake.input.loops), loops.packed.nbytes / 1e6)
device = rule_device(snakemake)
log.info("training on %s with %s and %s", device, config, settings)

model, history, is_val, selection = symbolic.train_vqvae(
    loops,
    config,
    settings,
    snakemake.params.checkpoint_dir,
    device,
    run_key=snakemake.params.code,
    precision=rule_precision(snakemake),
)
symbolic.save_vqvae(Path(snakemake.output.model).parent, model, history, is_val, settings, selection)
symbolic.write_history(history, snakemake.output.curve_csv)
symbolic.plot_history(history, snakemake.output.curve_png, symbolic.VQVAE_PANELS, "VQ-VAE training")
kept = symbolic.kept_row(history, selection)
log.info(
    "kept %s (%s); validation Hamming error %.4g (all-zeros prediction: %.4g); codebook perplexity %.1f of %d",
    selection["kept"],
    selection["why"],
    kept.get("val_hamming", float("nan")),
    history[-1].get("zeros_hamming", float("nan")),
    history[-1]["perplexity"],
    config.codebook_size,
)
