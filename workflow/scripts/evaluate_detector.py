"""Rule evaluate_detector: S Figure 2 (known loops, or labelled ones, against random groups of every
phrase), plus ROC AUC and precision/recall of the threshold where labels exist."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import numpy as np
import pandas as pd

from loopgen import detector
from loopgen.device import rule_device
from loopgen.tables import write_table

model = detector.load_detector(Path(snakemake.input.model).parent, rule_device(snakemake))
threshold = float(model.threshold)
scores = detector.score_phrase_shards(model, snakemake.input.phrases)
labels = pd.read_parquet(snakemake.input.labels) if snakemake.input.get("labels") else None
known = detector.read_known_loops(snakemake.input.known_loops) if snakemake.input.get("known_loops") else None
metrics, groups, group_scores = detector.evaluate_detector(
    scores, threshold, snakemake.params.n_groups, snakemake.params.group_size, snakemake.params.seed, labels, known
)
log.info(
    "ROC AUC %.4f; threshold %.4g: precision %.3f, recall %.3f (%d loops; %d phrases)",
    metrics["roc_auc"],
    threshold,
    metrics["precision"],
    metrics["recall"],
    metrics["loops"],
    metrics["phrases"],
)
for row in groups:
    log.info("group %s", row)

write_table([metrics], snakemake.output.metrics, detector.EVAL_METRICS_SCHEMA)
pd.DataFrame([metrics]).to_csv(snakemake.output.metrics_csv, index=False)
write_table(groups, snakemake.output.groups, detector.EVAL_GROUPS_SCHEMA)
pd.DataFrame(groups).to_csv(snakemake.output.groups_csv, index=False)

detector.plot_figure2(group_scores, groups, threshold, snakemake.output.figure2)
if labels is not None:  # the ROC needs ground truth for every phrase it draws
    labelled = detector.attach_labels(scores, labels)
    fpr, tpr, _ = detector.roc_curve(labelled["loop_score"].to_numpy(), labelled["is_loop"].to_numpy())
    detector.plot_roc(fpr, tpr, metrics["roc_auc"], metrics, int((~labelled["is_loop"]).sum()), snakemake.output.roc)
else:
    detector.plot_roc(np.zeros(1), np.zeros(1), float("nan"), metrics, 0, snakemake.output.roc)
