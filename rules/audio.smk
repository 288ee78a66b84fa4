# Stage: audio (SPEC sections 2, 5, 6). A Looperman-style dump (audio files + metadata.csv) ->
#   check_loops      every file and metadata row -> results/audio/loops.parquet (tempo confidence,
#                    accepted/rejected with a reason) + bar_corr.parquet (exact 8-bar loops, detector data)
#   segment_loops    per shard: accepted loops stretched to 130 BPM, 16 kHz, 1-bar int16 segments
#   extract_features per shard: drum activations, envelope, HPCP, 21 timbral values
#   feature_stats    train-split min/max of the global features
# Loops go to shards by a stable hash of their file name (loops.parquet records the shard), so the
# DAG is known up front; a file (or metadata row) changed in the dump reruns check_loops, its own
# shard's segment_loops and extract_features, and feature_stats (rules/common.smk, watch_dump).
# Resource comments are for the paper's 8,838 loops / 49,045 segments with audio.n_shards = 32
# (~1,500 segments a shard); see benchmarks/bench_audio.py for the measured rates.

from loopgen.audio.dump import AUDIO_SUFFIXES

AUDIO = config["audio"]
AUDIO_CODE = code_version("audio/", "shards.py", "tables.py")
# What decides loops.parquet's rows. The shard rules read loops.parquet as an ancient() input, so
# that a file changed in one shard (which reruns check_loops) does not rerun every shard; these
# settings go with the shard manifests instead, so a changed setting or code still reruns them all.
LOOPS_SETTINGS = {key: AUDIO[key] for key in ("metadata", "tempo", "segments", "n_shards")} | {"seed": config["seed"]}
watch_dump("audio", AUDIO_SUFFIXES, AUDIO["metadata"], settings={**LOOPS_SETTINGS, "code": AUDIO_CODE})


rule check_loops:
    input:
        raw=ancient(AUDIO["raw_dir"]),
        manifests=expand(manifest_of("audio"), shard=shards("audio")),
    output:
        loops="results/audio/loops.parquet",
        bar_corr="results/audio/bar_corr.parquet",
    log:
        "logs/audio/check_loops.log",
    benchmark:
        "logs/audio/check_loops.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Reads every file once (decode + tempo check + a mel spectrogram for the 8-bar ones: ~0.1-0.2 s
    # a file measured on the demo's 44.1 kHz loops): ~15-30 min for 8,838 loops on one core.
    # One file in memory at a time.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        metadata=AUDIO["metadata"],
        tempo=AUDIO["tempo"],
        segments=AUDIO["segments"],
        bar_corr=AUDIO["bar_corr"],
        n_shards=AUDIO["n_shards"],
        seed=config["seed"],
        code=AUDIO_CODE,
    script:
        "../workflow/scripts/check_loops.py"


rule segment_loops:
    input:
        raw=ancient(AUDIO["raw_dir"]),
        loops=ancient(rules.check_loops.output.loops),
        manifest=manifest_of("audio"),
    output:
        segments="results/audio/segments/shard-{shard}.parquet",
    log:
        "logs/audio/segment_loops-{shard}.log",
    benchmark:
        "logs/audio/segment_loops-{shard}.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # load + rubberband at 44.1 kHz + soxr resampling: ~15 segments/s on one core, so ~2-5 min a
    # 1,500-segment shard; the shard's int16 segments (59 kB each, ~90 MB) stay in memory until written.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        segments=AUDIO["segments"],
        code=AUDIO_CODE,
    script:
        "../workflow/scripts/segment_loops.py"


rule extract_features:
    input:
        raw=ancient(AUDIO["raw_dir"]),
        loops=ancient(rules.check_loops.output.loops),
        segments=rules.segment_loops.output.segments,
    output:
        features="results/audio/features/shard-{shard}.parquet",
    log:
        "logs/audio/extract_features-{shard}.log",
    benchmark:
        "logs/audio/extract_features-{shard}.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Dominated by the 21 timbral models (timbral_models, 3 bands x 7 models at 44.1 kHz):
    # ~2-4 s a segment on one core, so ~1.5 h for a 1,500-segment shard (runtime leaves 2x room).
    # Memory: one stretched loop at 44.1 kHz plus the shard's segments: well under 1 GB.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        segments=AUDIO["segments"],
        features=AUDIO["features"],
        code=AUDIO_CODE,
    script:
        "../workflow/scripts/extract_features.py"


rule feature_stats:
    input:
        features=expand("results/audio/features/shard-{shard}.parquet", shard=shards("audio")),
    output:
        stats="results/audio/feature_stats.json",
    log:
        "logs/audio/feature_stats.log",
    benchmark:
        "logs/audio/feature_stats.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Reads only the hpcp/timbre columns of ~49k rows: seconds.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=AUDIO_CODE,
    script:
        "../workflow/scripts/feature_stats.py"


TARGETS["audio"] = [
    rules.check_loops.output.loops,
    rules.check_loops.output.bar_corr,
    *expand("results/audio/segments/shard-{shard}.parquet", shard=shards("audio")),
    rules.feature_stats.output.stats,
]
