"""Rule summarise_loops: phrases in and loops out per shard and in total (paper: 5,687,274 -> 751,935)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import csv

from loopgen import detector

rows = detector.loop_summary(snakemake.params.shards, snakemake.input.phrases, snakemake.input.loops)
with open(snakemake.output.summary, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
for row in rows:
    log.info(
        "shard %s: %d phrases -> %d loops (%.1f%%)",
        row["shard"],
        row["phrases"],
        row["loops"],
        100 * row["loop_fraction"],
    )
