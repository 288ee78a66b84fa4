# Stage: symbolic generation (SPEC section 3). The loop set -> VQ-VAE -> code sequences -> LSTM
# prior -> generated loops per sampling mode (+ MIDI/WAV to listen to) -> rejection sweep.
#   train_vqvae      results/loops/shard-*.parquet -> results/models/vqvae/ + training curve
#   encode_loops     every loop's 32 codes and split -> results/symbolic/codes.parquet
#   train_prior      codes of the VQ-VAE's training songs -> results/models/lstm_prior/ + curve
#   sample_loops     per mode -> results/samples/vqvae_lstm/{mode}.parquet (sample_id, roll, loop_score)
#   listen_samples   per mode, the first n_listen loops -> results/samples/vqvae_lstm/listen/{mode}/*.mid|wav
#   rejection_sweep  per loop-score limit -> results/samples/vqvae_lstm/rejection/{mode}-limit-{limit}.parquet
#   rejection_table  acceptance rate per limit -> results/samples/vqvae_lstm/rejection/acceptance.{csv,md,parquet}
# Resource comments are for the paper's 752k loops (the demo needs a fraction); the measured rates
# are in benchmarks/bench_vqvae_train.py and benchmarks/bench_sampling.py.
# Every rule takes one thread: on a GPU the CPU only feeds it, and on CPU these small convolutions
# and LSTM steps gain little from a second thread (on the 2-core demo machine two threads cost 10x
# the CPU time of one); Snakemake runs two jobs side by side instead. For paper-scale sampling on a
# many-core machine without GPU, raise it: --set-threads sample_loops=16 rejection_sweep=16.

VQVAE_DIR = "results/models/vqvae"
PRIOR_DIR = "results/models/lstm_prior"
SAMPLES_DIR = "results/samples/vqvae_lstm"
SYMBOLIC_CODE = ("symbolic", "sampling.py", "models/vqvae.py", "models/lstm_prior.py", "training.py", "roll.py")
SAMPLING = config["sampling"]
REJECTION = SAMPLING["rejection"]
LOOP_SHARDS = expand("results/loops/shard-{shard}.parquet", shard=shards("midi"))


if REJECTION["mode"] not in SAMPLING["modes"]:
    sys.exit(
        f"config error: sampling.rejection.mode: {REJECTION['mode']!r} is not one of sampling.modes "
        f"({', '.join(SAMPLING['modes'])})"
    )
if config["prior"]["seq_len"] != 128 // 2 ** config["vqvae"]["n_down"]:
    sys.exit(
        f"config error: prior.seq_len: must be the VQ-VAE's 128 / 2^n_down = {128 // 2 ** config['vqvae']['n_down']}"
    )
REJECTION_LIMITS = {limit_name(limit): limit for limit in REJECTION["limits"]}
MODE_PATTERN = "|".join(SAMPLING["modes"])


rule train_vqvae:
    input:
        loops=LOOP_SHARDS,
    output:
        model=f"{VQVAE_DIR}/model.pt",
        meta=f"{VQVAE_DIR}/model.json",
        curve_csv="results/symbolic/vqvae_training.csv",
        curve_png=report(
            "results/symbolic/vqvae_training.png",
            caption="../workflow/report/vqvae_training.rst",
            category="Symbolic generation",
        ),
    log:
        "logs/symbolic/train_vqvae.log",
    benchmark:
        "logs/symbolic/train_vqvae.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: 600k training loops x 500 epochs = 3.0e8 samples. The loops sit packed in memory
    # (0.7 GB) and on the GPU: 2.8-4.2 h at an H100's estimated 20-30k samples/s, 8-17 h on a
    # T4/V100-class GPU (5-10k/s), ~14 days on one CPU core (250/s). A checkpoint every epoch:
    # each Slurm attempt of RESUMABLE_RUNTIME continues where the last one stopped.
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=8000,
        mem_mb=16000,
        runtime=RESUMABLE_RUNTIME,
    params:
        vqvae=config["vqvae"],
        seed=config["seed"],
        device=config["device"],
        checkpoint_dir="results/checkpoints/vqvae",
        code=code_version(*SYMBOLIC_CODE),
    script:
        "../workflow/scripts/train_vqvae.py"


rule encode_loops:
    input:
        loops=LOOP_SHARDS,
        model=rules.train_vqvae.output.model,
        meta=rules.train_vqvae.output.meta,
    output:
        codes="results/symbolic/codes.parquet",
    log:
        "logs/symbolic/encode_loops.log",
    benchmark:
        "logs/symbolic/encode_loops.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # One forward pass of the encoder over 752k loops: a minute on a GPU, ~30 min on 4 cores.
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=3000,
        mem_mb=8000,
        runtime=60,
    params:
        device=config["device"],
        code=code_version(*SYMBOLIC_CODE),
    script:
        "../workflow/scripts/encode_loops.py"


rule train_prior:
    input:
        codes=rules.encode_loops.output.codes,
    output:
        model=f"{PRIOR_DIR}/model.pt",
        meta=f"{PRIOR_DIR}/model.json",
        curve_csv="results/symbolic/prior_training.csv",
        curve_png=report(
            "results/symbolic/prior_training.png",
            caption="../workflow/report/prior_training.rst",
            category="Symbolic generation",
        ),
    log:
        "logs/symbolic/train_prior.log",
    benchmark:
        "logs/symbolic/train_prior.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: 570k sequences x 31 tokens x 100 epochs through a 7.95M-weight LSTM
    # (~0.8 PFLOP per epoch): a few hours on one GPU; not practical on CPU. Resumes per epoch.
    # Memory (benchmarks/bench_memory_scale.py, measured on a CPU): 0.5 GB fixed + 0.9 KB a loop
    # (0.7 GB for 752k) + one step of batch 2048 on the CPU (4.8 GB) = 5.9 GB, 74 % of the 8000
    # this asked before; on a GPU that step's activations are on the device.
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=6000,
        mem_mb=12000,
        runtime=RESUMABLE_RUNTIME,
    params:
        prior=config["prior"],
        codebook_size=config["vqvae"]["codebook_size"],
        seed=config["seed"],
        device=config["device"],
        checkpoint_dir="results/checkpoints/lstm_prior",
        code=code_version(*SYMBOLIC_CODE),
    script:
        "../workflow/scripts/train_prior.py"


rule sample_loops:
    input:
        codes=rules.encode_loops.output.codes,  # n_samples null: as many as the training split
        vqvae=rules.train_vqvae.output.model,
        prior=rules.train_prior.output.model,
        detector=f"{DETECTOR_DIR}/model.pt",
        detector_meta=f"{DETECTOR_DIR}/model.json",
    output:
        samples=temp(f"{SAMPLES_DIR}/chunks/{{mode}}-{{chunk}}.parquet"),
    log:
        "logs/symbolic/sample_loops-{mode}-{chunk}.log",
    benchmark:
        "logs/symbolic/sample_loops-{mode}-{chunk}.benchmark.tsv"
    wildcard_constraints:
        mode=MODE_PATTERN,
        chunk=r"\d+",
    conda:
        "../envs/loopgen.yaml"
    # 752k loops x 31 LSTM steps (~0.5 GFLOP a loop) a mode: ~1-2 min on a GPU, 67 min on one CPU
    # core (188 loops/s), so on CPU nodes sampling.chunks splits it into jobs with derived seeds.
    # Memory: the packed output (0.7 GB a mode) plus one batch.
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=4000,
        mem_mb=8000,
        runtime=240,
    params:
        mode=lambda wildcards: SAMPLING["modes"][wildcards.mode],
        n_samples=SAMPLING["n_samples"],
        chunks=SAMPLING["chunks"],
        batch_size=SAMPLING["batch_size"],
        seed=config["seed"],
        device=config["device"],
        code=code_version(*SYMBOLIC_CODE, "detector"),
    script:
        "../workflow/scripts/sample_loops.py"


rule gather_samples:
    input:
        chunks=lambda wildcards: expand(
            f"{SAMPLES_DIR}/chunks/{wildcards.mode}-{{chunk}}.parquet", chunk=range(SAMPLING["chunks"])
        ),
    output:
        samples=f"{SAMPLES_DIR}/{{mode}}.parquet",
    log:
        "logs/symbolic/gather_samples-{mode}.log",
    benchmark:
        "logs/symbolic/gather_samples-{mode}.benchmark.tsv"
    wildcard_constraints:
        mode=MODE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    # Copies the chunks one at a time into one file (row groups kept): seconds, one chunk in memory.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow/scripts/gather_samples.py"


rule listen_samples:
    input:
        samples=rules.gather_samples.output.samples,
    output:
        folder=directory(f"{SAMPLES_DIR}/listen/{{mode}}"),
    log:
        "logs/symbolic/listen_samples-{mode}.log",
    benchmark:
        "logs/symbolic/listen_samples-{mode}.benchmark.tsv"
    wildcard_constraints:
        mode=MODE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    # FluidSynth renders a 16 s loop in well under a second.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        n_listen=SAMPLING["n_listen"],
        tempo_bpm=SAMPLING["tempo_bpm"],
        render_wav=SAMPLING["render_wav"],
        code=code_version("symbolic", "midi_write.py", "render.py"),
    script:
        "../workflow/scripts/listen_samples.py"


# The nested limits share one stream (loopgen.symbolic.rejection): one job a mode writes every
# numeric limit; limit none keeps every loop, so it is the head of the plain samples of that mode.
NUMERIC_LIMITS = [name for name, limit in REJECTION_LIMITS.items() if limit is not None]


rule rejection_sweep:
    input:
        codes=rules.encode_loops.output.codes,  # n_keep null: as many as the training split
        vqvae=rules.train_vqvae.output.model,
        prior=rules.train_prior.output.model,
        detector=f"{DETECTOR_DIR}/model.pt",
        detector_meta=f"{DETECTOR_DIR}/model.json",
    output:
        samples=expand(f"{SAMPLES_DIR}/rejection/{{{{mode}}}}-limit-{{limit}}.parquet", limit=NUMERIC_LIMITS),
        stats=expand(f"{SAMPLES_DIR}/rejection/{{{{mode}}}}-limit-{{limit}}.json", limit=NUMERIC_LIMITS),
    log:
        "logs/symbolic/rejection_sweep-{mode}.log",
    benchmark:
        "logs/symbolic/rejection_sweep-{mode}.benchmark.tsv"
    wildcard_constraints:
        mode=MODE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    # The tightest limit's tries, at most max_tries (10 x n_keep = 7.5M) loops: 1.8M at the demo's
    # acceptance rates, ~20-60 min on a GPU, 2.6-11 h on one CPU core (188 loops/s). Progress is
    # saved with the kept loops every 65,536 of them: a job killed at its time limit resumes.
    threads: 1
    resources:
        gpu=1,
        gpu_mem_mb=4000,
        mem_mb=4000,
        runtime=RESUMABLE_RUNTIME,
    params:
        mode=lambda wildcards: SAMPLING["modes"][wildcards.mode],
        limits=[REJECTION_LIMITS[name] for name in NUMERIC_LIMITS],
        n_keep=REJECTION["n_keep"],
        max_tries=REJECTION["max_tries"],
        batch_size=SAMPLING["batch_size"],
        seed=config["seed"],
        device=config["device"],
        state_dir="results/checkpoints/rejection-{mode}",
        code=code_version(*SYMBOLIC_CODE, "detector"),
    script:
        "../workflow/scripts/rejection_sweep.py"


rule rejection_none:
    input:
        samples=f"{SAMPLES_DIR}/{{mode}}.parquet",
        codes=rules.encode_loops.output.codes,  # n_keep null: as many as the training split
    output:
        samples=f"{SAMPLES_DIR}/rejection/{{mode}}-limit-none.parquet",
        stats=f"{SAMPLES_DIR}/rejection/{{mode}}-limit-none.json",
    log:
        "logs/symbolic/rejection_none-{mode}.log",
    benchmark:
        "logs/symbolic/rejection_none-{mode}.benchmark.tsv"
    wildcard_constraints:
        mode=MODE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_keep=REJECTION["n_keep"],
    script:
        "../workflow/scripts/rejection_none.py"


rule rejection_table:
    input:
        stats=expand(f"{SAMPLES_DIR}/rejection/{REJECTION['mode']}-limit-{{limit}}.json", limit=REJECTION_LIMITS),
    output:
        table=f"{SAMPLES_DIR}/rejection/acceptance.parquet",
        csv=report(
            f"{SAMPLES_DIR}/rejection/acceptance.csv",
            caption="../workflow/report/acceptance.rst",
            category="Symbolic generation",
        ),
        markdown=f"{SAMPLES_DIR}/rejection/acceptance.md",
    log:
        "logs/symbolic/rejection_table.log",
    benchmark:
        "logs/symbolic/rejection_table.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        mode=REJECTION["mode"],
    script:
        "../workflow/scripts/rejection_table.py"


TARGETS["symbolic"] = [
    rules.train_vqvae.output.model,
    rules.train_prior.output.model,
    *expand(f"{SAMPLES_DIR}/{{mode}}.parquet", mode=SAMPLING["modes"]),
    *expand(f"{SAMPLES_DIR}/listen/{{mode}}", mode=SAMPLING["modes"]),
    *expand(f"{SAMPLES_DIR}/rejection/{REJECTION['mode']}-limit-{{limit}}.parquet", limit=REJECTION_LIMITS),
    rules.rejection_table.output.table,
]
