"""Rule train_baseline: one of the paper's baselines (CNN-VAE, MuseGAN, Music Transformer) on the
VQ-VAE's training songs; the model, its history and its training curve."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import baselines, symbolic
from loopgen.baselines.common import save_baseline
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
name = snakemake.wildcards.baseline
loops = symbolic.read_loops(snakemake.input.loops)
device = pick_device(snakemake.params.device)
log.info("%s: %d loops, training on %s with %s", name, len(loops), device, snakemake.params.section)

module = baselines.module(name)
trained = module.train(
    loops,
    snakemake.params.section,
    snakemake.params.split,
    snakemake.params.seed,
    snakemake.params.checkpoint_dir,
    device,
    run_key=snakemake.params.code,
)
save_baseline(Path(snakemake.output.model).parent, trained)
symbolic.write_history(trained.history, snakemake.output.curve_csv)
symbolic.plot_history(
    trained.history, snakemake.output.curve_png, module.PANELS, f"{baselines.PAPER_NAME[name]} training"
)
log.info(
    "kept: %s; %s",
    trained.extras["kept_by"],
    {k: v for k, v in trained.extras.items() if k.startswith(("val_", "trivial", "density", "best"))},
)
