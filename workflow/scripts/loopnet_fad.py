"""Rule loopnet_fad: FAD of every synthesized test set against the real test segments (L table 1),
and the check that the embedding ranks degraded audio in order of damage."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import torch

from loopgen import loopnet
from loopgen.audio.segments import from_pcm
from loopgen.device import rule_device
from loopgen.evaluation import fad
from loopgen.tables import write_table

torch.set_num_threads(snakemake.threads)
p = snakemake.params
real = loopnet.read_segment_audio(snakemake.input.segments, split="test")
if len(real.segment_id) < 2:
    raise SystemExit(f"{len(real.segment_id)} test segments in {snakemake.input.segments}: FAD needs at least 2")
# Every set stays int16 (290 MB at paper scale, 580 MB as float32); the embedding converts a batch
# at a time (README, paper scale: memory).
reference = real.pcm
sets = {}
for path in snakemake.input.sets:
    name, ids, pcm = loopnet.read_set_audio(path)
    if ids != real.segment_id:
        raise SystemExit(f"{path}: its segments are not the test segments of {snakemake.input.segments}; rerun it")
    sets[name] = pcm

embedding = fad.make_embedding(
    p.vggish_checkpoint, p.seeds, p.example_hop_s, rule_device(snakemake), p.peak_normalise, p.embedding
)
log.info("embedding: %s; %d real test segments, sets: %s", embedding.name, len(reference), ", ".join(sets))
rows = [{**row, "kind": "set"} for row in fad.fad_sets(embedding, reference, sets, p.bootstrap)]
del sets
rows += [
    {**row, "kind": "reference"}
    for row in fad.fad_sets(embedding, reference, fad.reference_sets(reference), p.bootstrap)
]
for row in rows:
    log.info(
        "FAD %-40s %.3f (95%% bootstrap %.3f-%.3f; ± %.3f over networks)",
        row["set"],
        row["fad"],
        row["fad_low"],
        row["fad_high"],
        row["fad_std"],
    )
check_rows, monotonic = fad.degradation_check(embedding, reference, from_pcm(reference[: p.check_clips]))
rows += [{**row, "kind": "degradation"} for row in check_rows]  # fad_low/high are NaN: no bootstrap
log.info(
    "degradation check on %d clips: %s",
    min(len(reference), p.check_clips),
    "; ".join(f"{r['set']} {r['fad']:.3f}" for r in check_rows),
)
(log.info if monotonic else log.warning)(
    "the embedding %s degraded audio monotonically", "ranks" if monotonic else "does NOT rank"
)
write_table(rows, snakemake.output.fad, fad.FAD_SCHEMA)
