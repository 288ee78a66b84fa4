# Stage: midi (SPEC section 1). Raw MIDI tree (config midi.raw_dir; the demo rule makes
# resources/demo/lmd) -> one phrase shard and one files table per shard -> results/midi/files.parquet,
# where every raw file has one row: accepted with its phrase count, or rejected with a reason.

from loopgen.midi import MIDI_SUFFIXES

MIDI_CODE = ("midi", "roll.py", "shards.py", "tables.py")
# Everything in the midi section except where the files are and how they are split: a change to
# any of these (a threshold, the bass programs, ...) reruns the shards, and nothing upstream.
MIDI_SETTINGS = {key: value for key, value in config["midi"].items() if key not in ("raw_dir", "n_shards")}
watch_dump("midi", MIDI_SUFFIXES)


rule extract_phrases:
    input:
        raw=ancient(config["midi"]["raw_dir"]),
        manifest=manifest_of("midi"),
    output:
        phrases="results/midi/phrases/shard-{shard}.parquet",
        files="results/midi/files/shard-{shard}.parquet",
    log:
        "logs/midi/extract_phrases-{shard}.log",
    benchmark:
        "logs/midi/extract_phrases-{shard}.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # One core, bounded memory: rows stream to Parquet in groups of 20k phrases, so the peak is the
    # interpreter with numpy/pyarrow (~200 MB measured by benchmarks/bench_midi.py) plus one file.
    # Runtime: LMD-full is 178k files at ~3-5 ms each on one core (bench_midi.py), ~15 min in all;
    # each shard gets 4x its share, at least 10 min.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=max(10, 4 * 15 // config["midi"]["n_shards"]),
    params:
        settings=MIDI_SETTINGS,
        n_shards=config["midi"]["n_shards"],
        code=code_version(*MIDI_CODE),
    script:
        "../workflow/scripts/extract_phrases.py"


rule merge_midi_files:
    input:
        expand("results/midi/files/shard-{shard}.parquet", shard=shards("midi")),
    output:
        "results/midi/files.parquet",
    log:
        "logs/midi/merge_midi_files.log",
    benchmark:
        "logs/midi/merge_midi_files.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # 178k rows of short strings: well under a second and 500 MB.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("midi", "tables.py"),
    script:
        "../workflow/scripts/merge_midi_files.py"


TARGETS["midi"] = [
    *expand("results/midi/phrases/shard-{shard}.parquet", shard=shards("midi")),
    "results/midi/files.parquet",
]
