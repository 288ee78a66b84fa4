"""Rule list_dump: the listing of one shard of a raw dump, the first time (see loopgen.manifest)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from loopgen.manifest import shard_texts, write

shard, params = int(snakemake.wildcards.shard), snakemake.params
text = shard_texts(snakemake.input.raw, tuple(params.suffixes), params.n_shards, params.metadata)[shard]
write(snakemake.output.listing, text)
log.info("shard %d of %d of %s: %d lines", shard, params.n_shards, snakemake.input.raw, text.count("\n") - 1)
