"""Rule cnn_vae_reconstruction: the CNN-VAE's mean Hamming error on the VQ-VAE's validation songs (table 1)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen.baselines import cnn_vae
from loopgen.evaluation import symbolic as evaluation
from loopgen.tables import write_table
from loopgen.training import pick_device

torch.set_num_threads(snakemake.threads)
val = evaluation.validation_rolls(snakemake.input.loops, snakemake.input.codes)
if len(val) == 0:
    raise SystemExit(
        f"{snakemake.input.codes}: no loop has split 'val'; the reconstruction error needs validation loops"
    )
error = cnn_vae.reconstruction_error(Path(snakemake.input.model).parent, val, pick_device(snakemake.params.device))
write_table(
    evaluation.reconstruction_rows("cnn_vae", error, len(val)), snakemake.output.rows, evaluation.METRICS_SCHEMA
)
log.info("CNN-VAE reconstruction error %.4e on %d validation loops (paper: 4.412e-3)", error, len(val))
