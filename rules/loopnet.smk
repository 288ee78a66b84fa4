# Stage: loopnet (SPEC section 6). Audio segments + features -> one Wave-U-Net per variant
#   train_loopnet        per variant (WAV, WAVSPEC, MULTI, MULTI_NOENV, STFT): results/models/loopnet-{variant}/
#                        (resumable from results/checkpoints/loopnet-{variant}/, not an output)
#   synthesize_test      per variant: every test segment resynthesised from its own features
#   griffin_lim_baseline real test segments -> |STFT| -> Griffin-Lim (the paper's FAD baseline)
# Each synthesized set is results/loopnet/test/<set>.parquet (SYNTH_SCHEMA) + one WAV per segment
# in results/loopnet/test/<set>/. Evaluation (FAD, coherence, tables) is in rules/evaluate.smk.

LOOPNET = config["loopnet"]
LOOPNET_CODE = code_version("loopnet", "models/wave_unet.py", "audio/features.py", "audio/segments.py", "training.py")
AUDIO_SEGMENTS = expand("results/audio/segments/shard-{shard}.parquet", shard=shards("audio"))
AUDIO_FEATURES = expand("results/audio/features/shard-{shard}.parquet", shard=shards("audio"))
LOOPNET_VARIANTS = "|".join(LOOPNET["variants"]) or "NONE"
# What shapes training (the rest of the section, e.g. coherence settings, must not retrain).
LOOPNET_TRAINING = [
    "epochs",
    "batch_size",
    "lr",
    "base_filters",
    "wavspec_fft",
    "wavspec_hop",
    "multi_fft",
    "multi_hop_fraction",
    "stft_n_fft",
    "stft_hop",
    "probe_segments",
    "waveform_weight",
    "spectral_weight",
    "log_spectral_weight",
    "norm",
]


rule train_loopnet:
    input:
        segments=AUDIO_SEGMENTS,
        features=AUDIO_FEATURES,
        stats="results/audio/feature_stats.json",
    output:
        model="results/models/loopnet-{variant}/model.pt",
        meta="results/models/loopnet-{variant}/model.json",
    log:
        "logs/loopnet/train_loopnet-{variant}.log",
    benchmark:
        "logs/loopnet/train_loopnet-{variant}.benchmark.tsv"
    wildcard_constraints:
        variant=LOOPNET_VARIANTS,
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: ~44k train segments of 29,538 samples (int16 audio 2.6 GB, held once in memory:
    # read row group by row group into one preallocated array; features ~0.1 GB), 1.2M weights.
    # Measured 8 segments/s on one CPU core (benchmarks/bench_loopnet.py, before BatchNorm, which
    # costs 5-13%), so ~1.5 h an epoch on a core: it asks for a GPU, where an epoch should take
    # minutes (an estimate: no GPU was at hand). A checkpoint is written every epoch, so a job
    # killed at its time limit (RESUMABLE_RUNTIME) resumes where it stopped when Slurm runs it again.
    # Memory (benchmarks/bench_memory_scale.py, measured on a CPU): 0.4 GB fixed + 83 KB a train
    # segment (3.7 GB for 44,140: the int16 audio is needed for the targets) + one step of batch 16
    # on the CPU (1.4 GB) = 5.2 GB, 87 % of the 6000 this asked before.
    # One thread: a second one went unused (demo: 0.9-1.0 CPU-s per second with 2), and on 2 cores
    # two variants then train at once. On a CPU-only node: --set-threads train_loopnet=8 (README).
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=4000,
        mem_mb=10000,
        runtime=RESUMABLE_RUNTIME,
    params:
        settings={key: LOOPNET[key] for key in LOOPNET_TRAINING},
        # Stored in model.json: `loopgen synth` re-extracts controls with the training data's settings.
        audio_settings={"segments": config["audio"]["segments"], "features": config["audio"]["features"]},
        seed=config["seed"],
        device=config["device"],
        checkpoint_dir="results/checkpoints/loopnet-{variant}",
        code=LOOPNET_CODE,
    script:
        "../workflow/scripts/train_loopnet.py"


rule synthesize_test:
    input:
        segments=AUDIO_SEGMENTS,
        features=AUDIO_FEATURES,
        model=rules.train_loopnet.output.model,
        meta=rules.train_loopnet.output.meta,
    output:
        table="results/loopnet/test/{variant}.parquet",
        wavs=directory("results/loopnet/test/{variant}"),
    log:
        "logs/loopnet/synthesize_test-{variant}.log",
    benchmark:
        "logs/loopnet/synthesize_test-{variant}.benchmark.tsv"
    wildcard_constraints:
        variant=LOOPNET_VARIANTS,
    conda:
        "../envs/loopgen.yaml"
    # ~5k test segments: ~27 ms each on a CPU core for the waveform variants, ~0.15 s for STFT
    # (100 Griffin-Lim iterations), measured: 3-15 min; only the test split's audio (300 MB int16)
    # is read (one row group per split in the segment shards).
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        device=config["device"],
        batch_size=LOOPNET["batch_size"],
        griffin_lim_iters=LOOPNET["griffin_lim_iters"],
        n_wavs=LOOPNET["n_wavs"],
        code=LOOPNET_CODE,
    script:
        "../workflow/scripts/synthesize_test.py"


rule griffin_lim_baseline:
    input:
        segments=AUDIO_SEGMENTS,
    output:
        table="results/loopnet/test/griffin_lim.parquet",
        wavs=directory("results/loopnet/test/griffin_lim"),
    log:
        "logs/loopnet/griffin_lim_baseline.log",
    benchmark:
        "logs/loopnet/griffin_lim_baseline.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # ~5k test segments at ~0.15 s each (100 Griffin-Lim iterations, batched) on a CPU core: ~15 min.
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        n_fft=LOOPNET["stft_n_fft"],
        hop=LOOPNET["stft_hop"],
        iterations=LOOPNET["griffin_lim_iters"],
        n_wavs=LOOPNET["n_wavs"],
        device=config["device"],
        code=LOOPNET_CODE,
    script:
        "../workflow/scripts/griffin_lim_baseline.py"


TARGETS["loopnet"] = [
    *expand("results/models/loopnet-{variant}/model.pt", variant=LOOPNET["variants"]),
    *expand("results/loopnet/test/{variant}.parquet", variant=LOOPNET["variants"]),
    "results/loopnet/test/griffin_lim.parquet",
]
