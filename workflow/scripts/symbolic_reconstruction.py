"""Rule symbolic_reconstruction: the VQ-VAE's mean Hamming error on its validation songs (table 1)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch

from loopgen import symbolic
from loopgen.device import rule_device
from loopgen.evaluation import symbolic as evaluation
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
val = evaluation.validation_rolls(snakemake.input.loops, snakemake.input.codes)
log.info("%d loops of the VQ-VAE's validation songs", len(val))
if len(val) == 0:
    raise SystemExit(
        f"{snakemake.input.codes}: no loop has split 'val'; the reconstruction error needs validation loops"
    )
error = symbolic.reconstruction_error(Path(snakemake.input.model).parent, val, device=rule_device(snakemake))
write_table(evaluation.reconstruction_rows("vqvae", error, len(val)), snakemake.output.rows, evaluation.METRICS_SCHEMA)
log.info("VQ-VAE reconstruction error %.4e on %d validation loops (paper: 6.643e-3)", error, len(val))
