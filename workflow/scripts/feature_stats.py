"""Rule feature_stats: train-split min/max of HPCP and timbre, for [0, 1] scaling in LoopNet."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
import os
from pathlib import Path

from loopgen.audio.pipeline import stats_of_shards

stats = stats_of_shards(snakemake.input.features)
output = Path(snakemake.output.stats)
tmp = output.with_name(f".{output.name}.tmp")
tmp.write_text(json.dumps(stats, indent=1))
os.replace(tmp, output)
log.info("wrote %s", output)
