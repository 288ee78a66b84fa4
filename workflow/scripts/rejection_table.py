"""Rule rejection_table: the acceptance rate of each loop-score limit, as Parquet, CSV and Markdown."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import json
from pathlib import Path

import pyarrow.csv

from loopgen import symbolic
from loopgen.tables import write_table

stats = [json.loads(Path(path).read_text()) for path in snakemake.input.stats]
table = symbolic.acceptance_table(stats, snakemake.params.mode)
write_table(table, snakemake.output.table, symbolic.ACCEPTANCE_SCHEMA)
pyarrow.csv.write_csv(table, snakemake.output.csv)
Path(snakemake.output.markdown).write_text(symbolic.acceptance_markdown(table))
log.info("acceptance rates of %d limits:\n%s", len(stats), symbolic.acceptance_markdown(table))
