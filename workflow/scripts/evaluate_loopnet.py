"""Rule evaluate_loopnet: LoopNet's tables 1 (FAD) and 2 (coherence) beside the paper's, and figures."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json

from loopgen import loopnet
from loopgen.audio.segments import from_pcm
from loopgen.evaluation import coherence, fad
from loopgen.evaluation import loopnet_tables as tables
from loopgen.tables import read_head, read_table

out = snakemake.output
tables.fad_table(read_table(snakemake.input.fad, fad.FAD_SCHEMA).to_pylist(), out.fad_csv, out.fad_md)
tables.gates_table(snakemake.input.gates, out.gates_md)
scores = {}
for variant, path in zip(snakemake.params.variants, snakemake.input.coherence):
    scores[variant] = coherence.scores_table(read_table(path, coherence.COHERENCE_SCHEMA).to_pylist())
tables.coherence_table(scores, out.coherence_csv, out.coherence_md, snakemake.params.n_loops)
log.info("tables: %s, %s", out.fad_md, out.coherence_md)

histories = {
    v: json.loads(open(path).read())["history"] for v, path in zip(snakemake.params.variants, snakemake.input.meta)
}
tables.plot_training(histories, out.training_png)

real = loopnet.read_segment_audio(snakemake.input.segments, split="test")
sets = {}
for path in snakemake.input.sets:
    table = read_head(path, loopnet.SYNTH_SCHEMA, 1)  # one bar a set is plotted
    sets[table["set"][0].as_py()] = from_pcm(loopnet.pcm_matrix(table)[0])
tables.plot_examples(from_pcm(real.pcm[0]), sets, real.segment_id[0], out.waveforms_png, out.spectrograms_png)
log.info("figures: %s, %s, %s", out.training_png, out.waveforms_png, out.spectrograms_png)
