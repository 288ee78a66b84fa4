"""Rule loopnet_gates: every variant against trivial outputs (silence, another real loop) -> gates.csv."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import csv

import torch

from loopgen import loopnet

torch.set_num_threads(snakemake.threads)
p = snakemake.params
real = loopnet.read_segment_audio(snakemake.input.segments, split="test")
target = real.pcm  # int16, as every output below: gate_row converts a batch at a time (README, paper scale)
rows = []
for variant, path in zip(p.variants, snakemake.input.sets):
    _, ids, output = loopnet.read_set_audio(path)
    if ids != real.segment_id:
        raise SystemExit(f"{path}: its segments are not the test segments of {snakemake.input.segments}; rerun it")
    _, spec = loopnet.variant_setup(variant, p.settings)
    row = loopnet.gate_row(
        variant,
        spec,
        output,
        target,
        real.loop_id,
        p.settings["gate_loss_ratio"],
        p.settings["gate_rms_db"],
    )
    rows.append(row)
    (log.info if row["passes"] else log.warning)(
        "%-11s loss %.4f / silence %.4f = %.3f, RMS %+.1f dB, mrstft %.2f vs another real bar %.2f: %s",
        variant,
        row["test_loss"],
        row["silence_loss"],
        row["loss_ratio"],
        row["rms_db_diff"],
        row["mrstft_to_target"],
        row["mrstft_other_real"],
        "passes" if row["passes"] else "FAILS its gates",
    )
with open(snakemake.output.gates, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
