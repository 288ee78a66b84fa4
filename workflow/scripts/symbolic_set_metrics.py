"""Rule symbolic_set_metrics: table-2 numbers of one generated set (LS, UP, ND, and P/R/D/C per
random embedding network against the training loops), as METRICS_SCHEMA rows."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import pandas as pd
import torch

from loopgen.device import rule_device
from loopgen.evaluation import symbolic as evaluation
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
params = snakemake.params
sample_set = evaluation.SampleSet(**params.sample_set)
settings = evaluation.SimilaritySettings(
    k=params.k,
    n_networks=params.n_networks,
    n_samples=params.n_samples,
    seed=params.seed,
    device=str(rule_device(snakemake)),
)
real, _ = evaluation.read_training_loops(snakemake.input.loops, snakemake.input.codes)
fake, scores = evaluation.read_sample_set(snakemake.input.samples)
log.info("%s: %d generated loops against %d training loops; %s", sample_set.label, len(fake), len(real), settings)

rows = evaluation.set_rows(sample_set, real, fake, scores, settings)
write_table(rows, snakemake.output.rows, evaluation.METRICS_SCHEMA)
summary = evaluation.table2(pd.DataFrame(rows)).iloc[0]
log.info("%s: %s", sample_set.label, ", ".join(f"{m} {summary[m]:.4g}" for m in evaluation.TABLE2_COLUMNS))
