# The manifests of the raw dumps, per shard (rules/common.smk, watch_dump; loopgen/manifest.py):
# list_dump makes a shard's listing the first time (later the Snakefile keeps it up to date), and
# dump_manifest copies it whenever it changed, which reruns the jobs that read that shard.


rule list_dump:
    input:
        unpack(lambda w: raw_dump(w.section)),
    output:
        listing="results/{section}/manifest/shard-{shard}.listing.tsv",
    log:
        "logs/{section}/list_dump-{shard}.log",
    benchmark:
        "logs/{section}/list_dump-{shard}.benchmark.tsv"
    wildcard_constraints:
        section="midi|audio",
    conda:
        "../envs/loopgen.yaml"
    # Once a shard, the first time: a stat call per file of the dump, ~1 CPU-s for LMD-full's 178k
    # (benchmarks/bench_manifest.py). Later listings are made while the Snakefile is read.
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        suffixes=lambda w: DUMPS[w.section]["suffixes"],
        metadata=lambda w: DUMPS[w.section]["metadata"],
        n_shards=lambda w: config[w.section]["n_shards"],
        code=code_version("manifest.py", "shards.py"),
    script:
        "../workflow/scripts/list_dump.py"


rule dump_manifest:
    input:
        listing=rules.list_dump.output.listing,
    output:
        manifest="results/{section}/manifest/shard-{shard}.tsv",
    log:
        "logs/{section}/dump_manifest-{shard}.log",
    benchmark:
        "logs/{section}/dump_manifest-{shard}.benchmark.tsv"
    wildcard_constraints:
        section="midi|audio",
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=100,
        runtime=5,
    params:
        settings=lambda w: DUMPS[w.section]["settings"],
    shell:
        "cp {input.listing} {output.manifest} 2> {log}"
