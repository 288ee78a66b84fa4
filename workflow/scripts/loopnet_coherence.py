"""Rule loopnet_coherence: timbral feature coherence of one LoopNet variant (L table 2)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

import torch
from tqdm import tqdm

from loopgen import loopnet
from loopgen.audio.features import TIMBRE_NAMES
from loopgen.device import rule_device
from loopgen.evaluation import coherence
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
p = snakemake.params
model = loopnet.LoopNet.load(Path(snakemake.input.model).parent, rule_device(snakemake), p.griffin_lim_iters)
test = loopnet.load_segments(snakemake.input.segments, snakemake.input.features, split="test")
picked = coherence.pick_loops(test.loop_id, test.bar, p.n_loops, p.seed)
columns = coherence.timbre_columns(p.features)
log.info("%s: %d test loops x %d features x %s", model.variant, len(picked), len(columns), p.values)
meter = coherence.TimbreMeter(p.bands, p.analysis_rate)
rows = coherence.run_coherence(
    lambda frames, globals_: model.synthesize(frames, globals_, p.batch_size),
    meter,
    test.frames[picked],
    model.scaler.scale(test.global_raw[picked]),
    columns,
    p.values,
    progress=lambda items: tqdm(items, desc="re-extracting", mininterval=30),
)
for row in rows:
    index = picked[row["loop"]]
    row.update(
        variant=model.variant,
        segment_id=test.segment_id[index],
        loop_id=test.loop_id[index],
        feature=TIMBRE_NAMES[row["column"] - 12],
    )
write_table(rows, snakemake.output.rows, coherence.COHERENCE_SCHEMA)
scores = coherence.coherence_scores(rows)
log.info(
    "%s: E1 %.2f%%, E2 %.2f%%, E3 %.2f%% over %d pairs; %d failed extractions",
    model.variant,
    100 * scores["E1"],
    100 * scores["E2"],
    100 * scores["E3"],
    scores["n_pairs"],
    sum(r["measured"] != r["measured"] for r in rows),
)
