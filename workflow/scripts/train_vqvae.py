"""Rule train_vqvae: the VQ-VAE of SPEC section 3 on the loop shards (rolls stay packed)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import symbolic
from loopgen.models.vqvae import VQVAEConfig
from loopgen.device import rule_device, rule_precision

torch.set_num_threads(snakemake.threads)
config, settings = symbolic.settings_from(snakemake.params.vqvae, VQVAEConfig, snakemake.params.seed)
loops = symbolic.read_loops(snakemake.input.loops)
log.info("%d loops from %d shards (%.1f MB packed)", len(loops), len(snakemake.input.loops), loops.packed.nbytes / 1e6)
device = rule_device(snakemake)
log.info("training on %s with %s and %s", device, config, settings)

model, history, is_val = symbolic.train_vqvae(
    loops, config, settings, snakemake.params.checkpoint_dir, device, run_key=snakemake.params.code,
    precision=rule_precision(snakemake),
)
symbolic.save_vqvae(Path(snakemake.output.model).parent, model, history, is_val, settings)
symbolic.write_history(history, snakemake.output.curve_csv)
symbolic.plot_history(history, snakemake.output.curve_png, symbolic.VQVAE_PANELS, "VQ-VAE training")
last = history[-1]
log.info("validation Hamming error %.4g (all-zeros prediction: %.4g); codebook perplexity %.1f of %d; "
         "%d codes dead at the last step, %d unused in the last epoch",
         last.get("val_hamming", float("nan")), last.get("zeros_hamming", float("nan")), last["perplexity"],
         config.codebook_size, last["dead_codes"], last["unused_codes"])
