"""Rule encode_loops: every loop's 32 VQ-VAE codes, with the VQ-VAE's train/val split."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

import numpy as np
import torch

from loopgen import symbolic
from loopgen.device import rule_device
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
device = rule_device(snakemake)
model_dir = Path(snakemake.input.model).parent
model = symbolic.load_vqvae(model_dir, device)
settings = symbolic.TrainSettings(**json.loads(Path(snakemake.input.meta).read_text())["settings"])

loops = symbolic.read_loops(snakemake.input.loops)
is_val = symbolic.split_mask(loops.file_id, settings, symbolic.VQVAE_SPLIT_SALT)  # as in training
codes = symbolic.encode_loops(model, loops.packed)
write_table(symbolic.codes_table(loops, codes, is_val), snakemake.output.codes, symbolic.CODES_SCHEMA)
used = len(np.unique(codes[~is_val]))
log.info(
    "%d loops encoded (%d train, %d val) to %s codes each; %d distinct codes in the training split",
    len(loops),
    (~is_val).sum(),
    is_val.sum(),
    codes.shape[1],
    used,
)
