"""Rule evaluate_detector: S Figure 2 on labelled phrases, plus ROC AUC and precision/recall of the threshold."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import pandas as pd

from loopgen import detector
from loopgen.tables import write_table
from loopgen.device import rule_device

model = detector.load_detector(Path(snakemake.input.model).parent, rule_device(snakemake))
threshold = float(model.threshold)
scores = detector.score_phrase_shards(model, snakemake.input.phrases)
labelled = detector.attach_labels(scores, pd.read_parquet(snakemake.input.labels))
if not labelled["is_loop"].any() or labelled["is_loop"].all():
    raise SystemExit(f"{snakemake.input.labels}: the labelled phrases need both loops and non-loops")

metrics, groups, group_scores = detector.evaluate_against_labels(
    labelled, threshold, snakemake.params.n_groups, snakemake.params.group_size, snakemake.params.seed)
log.info("ROC AUC %.4f; threshold %.4g: precision %.3f, recall %.3f (%d loops of %d phrases)",
         metrics["roc_auc"], threshold, metrics["precision"], metrics["recall"], metrics["loops"], metrics["phrases"])
for row in groups:
    log.info("group %s", row)

write_table([metrics], snakemake.output.metrics, detector.EVAL_METRICS_SCHEMA)
pd.DataFrame([metrics]).to_csv(snakemake.output.metrics_csv, index=False)
write_table(groups, snakemake.output.groups, detector.EVAL_GROUPS_SCHEMA)
pd.DataFrame(groups).to_csv(snakemake.output.groups_csv, index=False)

detector.plot_figure2(group_scores, groups, threshold, snakemake.output.figure2)
fpr, tpr, _ = detector.roc_curve(labelled["loop_score"].to_numpy(), labelled["is_loop"].to_numpy())
detector.plot_roc(fpr, tpr, metrics["roc_auc"], metrics, int((~labelled["is_loop"]).sum()), snakemake.output.roc)
