"""Rule evaluate_symbolic: gather every symbolic number into results/eval/symbolic.parquet, with
the training set's LS/UP/ND and the acceptance rates; write tables 1-3, Figure 4 and pianorolls."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen import symbolic
from loopgen.evaluation import symbolic as evaluation
from loopgen.roll import packed_column
from loopgen.tables import read_head, read_table, write_table

inputs, out = snakemake.input, snakemake.output
loops, loop_scores = evaluation.read_training_loops(inputs.loops, inputs.codes)
rows = evaluation.training_rows(loops, loop_scores)
for path in [*inputs.sets, inputs.reconstruction, *inputs.baseline_reconstruction]:
    rows += read_table(path, evaluation.METRICS_SCHEMA).to_pylist()
for model, path in [
    ("vqvae_lstm", inputs.acceptance),
    *zip(snakemake.params.baseline_rejection, inputs.baseline_acceptance),
]:
    rows += evaluation.acceptance_rows(read_table(path, symbolic.ACCEPTANCE_SCHEMA).to_pandas(), model=model)
write_table(rows, out.metrics, evaluation.METRICS_SCHEMA)
metrics = read_table(out.metrics, evaluation.METRICS_SCHEMA).to_pandas()  # tables show the file's numbers
log.info("%d numbers -> %s", len(metrics), out.metrics)

tables = evaluation.write_tables(metrics, snakemake.params.tables_dir)
for path in tables.values():
    log.info("%s:\n%s", path, path.read_text())
evaluation.plot_rejection_sweep(metrics, out.figure4)

n_images, seed = snakemake.params.n_images, snakemake.params.seed
images = {"training loops": evaluation.random_rows(loops, n_images, seed)}
for label, path in zip(
    [*snakemake.params.sample_labels, *snakemake.params.baselines], [*inputs.samples, *inputs.baseline_samples]
):
    # Only the head: a slice of the whole set would keep its 686 MB (paper scale) alive to the end.
    images[label] = packed_column(read_head(path, symbolic.SAMPLE_SCHEMA, n_images, columns=["roll"])["roll"])
evaluation.plot_pianorolls(images, out.pianorolls, n_images)
log.info("figures: %s, %s", out.figure4, out.pianorolls)
