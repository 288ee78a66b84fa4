# Stage: the symbolic paper's baselines (S appendix A; SPEC section 3), for each model in the config
# list `baselines` (cnn_vae, musegan, music_transformer), trained on the VQ-VAE's training songs:
#   train_baseline            loop shards -> results/models/{baseline}/ + results/symbolic/{baseline}_training.{csv,png}
#   sample_baseline           sampling.n_samples loops (null: as many as the training split) -> results/samples/{baseline}/samples.parquet (sample_id, roll, loop_score)
#   listen_baseline           the first n_listen loops -> results/samples/{baseline}/listen/*.mid|wav
#   baseline_rejection_sweep  for `baseline_rejection` (MuseGAN, as the paper's Figure 4) per loop-score
#                             limit -> results/samples/{baseline}/rejection/{mode}-limit-{limit}.parquet
#   baseline_rejection_table  acceptance rates -> results/samples/{baseline}/rejection/acceptance.*
#   cnn_vae_reconstruction    table 1's CNN-VAE row -> results/eval/symbolic/reconstruction-cnn_vae.parquet
# Every baseline samples through loopgen.baselines.sample_rolls (also what `loopgen generate` uses).
from loopgen.baselines import SAMPLING_MODE as BASELINE_MODE

BASELINES = config["baselines"]
BASELINE_REJECTION = config["baseline_rejection"]
BASELINE_CODE = (
    "baselines",
    "models/cnn_vae.py",
    "models/musegan.py",
    "models/music_transformer.py",
    "models/vqvae.py",
    "symbolic",
    "sampling.py",
    "training.py",
    "roll.py",
)
BASELINE_PATTERN = "|".join(BASELINES) or "^$"

if not set(BASELINE_REJECTION) <= set(BASELINES):
    sys.exit(f"config error: baseline_rejection: {sorted(set(BASELINE_REJECTION) - set(BASELINES))} not in baselines")


rule train_baseline:
    input:
        loops=LOOP_SHARDS,
    output:
        model="results/models/{baseline}/model.pt",
        meta="results/models/{baseline}/model.json",
        curve_csv="results/symbolic/{baseline}_training.csv",
        curve_png="results/symbolic/{baseline}_training.png",
    log:
        "logs/baselines/train_baseline-{baseline}.log",
    benchmark:
        "logs/baselines/train_baseline-{baseline}.benchmark.tsv"
    wildcard_constraints:
        baseline=BASELINE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    # Paper scale (600k training loops): CNN-VAE 500 epochs (~the VQ-VAE's cost, 1-2 h on one
    # H100); Music Transformer 100 epochs (a few GPU hours); MuseGAN 50k generator steps of batch 64
    # with 5 critic steps each (hours on one GPU). Rates: benchmarks/bench_baselines.py.
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=720,
    params:
        section=lambda wildcards: config[wildcards.baseline],
        # The VQ-VAE's split: every model trains on the same songs and is validated on the same.
        split={key: config["vqvae"][key] for key in ("val_fraction", "split_by")},
        seed=config["seed"],
        device=config["device"],
        checkpoint_dir=lambda wildcards: f"results/checkpoints/{wildcards.baseline}",
        code=code_version(*BASELINE_CODE),
    script:
        "../workflow/scripts/train_baseline.py"


rule sample_baseline:
    input:
        codes=rules.encode_loops.output.codes,  # n_samples null: as many as the training split
        model=rules.train_baseline.output.model,
        meta=rules.train_baseline.output.meta,
        detector=f"{DETECTOR_DIR}/model.pt",
        detector_meta=f"{DETECTOR_DIR}/model.json",
    output:
        samples="results/samples/{baseline}/samples.parquet",
    log:
        "logs/baselines/sample_baseline-{baseline}.log",
    benchmark:
        "logs/baselines/sample_baseline-{baseline}.benchmark.tsv"
    wildcard_constraints:
        baseline=BASELINE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    # 752k loops: one decoder / generator pass each (CNN-VAE, MuseGAN) or 128 cached transformer
    # steps (Music Transformer): minutes on a GPU, an hour or more on CPU.
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        n_samples=SAMPLING["n_samples"],
        batch_size=SAMPLING["batch_size"],
        seed=config["seed"],
        device=config["device"],
        code=code_version(*BASELINE_CODE, "detector"),
    script:
        "../workflow/scripts/sample_baseline.py"


rule listen_baseline:
    input:
        samples=rules.sample_baseline.output.samples,
    output:
        folder=directory("results/samples/{baseline}/listen"),
    log:
        "logs/baselines/listen_baseline-{baseline}.log",
    benchmark:
        "logs/baselines/listen_baseline-{baseline}.benchmark.tsv"
    wildcard_constraints:
        baseline=BASELINE_PATTERN,
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        n_listen=SAMPLING["n_listen"],
        tempo_bpm=SAMPLING["tempo_bpm"],
        render_wav=SAMPLING["render_wav"],
        code=code_version("symbolic/listening.py", "midi_write.py", "render.py"),
    script:
        "../workflow/scripts/listen_samples.py"


rule baseline_rejection_sweep:
    input:
        codes=rules.encode_loops.output.codes,  # n_keep null: as many as the training split
        model=rules.train_baseline.output.model,
        meta=rules.train_baseline.output.meta,
        detector=f"{DETECTOR_DIR}/model.pt",
        detector_meta=f"{DETECTOR_DIR}/model.json",
    output:
        samples="results/samples/{baseline}/rejection/{mode}-limit-{limit}.parquet",
        stats="results/samples/{baseline}/rejection/{mode}-limit-{limit}.json",
    log:
        "logs/baselines/rejection_sweep-{baseline}-{mode}-{limit}.log",
    benchmark:
        "logs/baselines/rejection_sweep-{baseline}-{mode}-{limit}.benchmark.tsv"
    wildcard_constraints:
        baseline="|".join(BASELINE_REJECTION) or "^$",
        mode="|".join(set(BASELINE_MODE.values())),
        limit="|".join(REJECTION_LIMITS),
    conda:
        "../envs/loopgen.yaml"
    # Up to max_tries generated loops per limit (default 7.5M): an hour or two on a GPU.
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    params:
        limit=lambda wildcards: REJECTION_LIMITS[wildcards.limit],
        n_keep=REJECTION["n_keep"],
        max_tries=REJECTION["max_tries"],
        batch_size=SAMPLING["batch_size"],
        seed=config["seed"],
        device=config["device"],
        code=code_version(*BASELINE_CODE, "detector"),
    script:
        "../workflow/scripts/baseline_rejection_sweep.py"


rule baseline_rejection_table:
    input:
        stats=lambda wildcards: expand(
            f"results/samples/{wildcards.baseline}/rejection/{BASELINE_MODE[wildcards.baseline]}-limit-{{limit}}.json",
            limit=REJECTION_LIMITS,
        ),
    output:
        table="results/samples/{baseline}/rejection/acceptance.parquet",
        csv="results/samples/{baseline}/rejection/acceptance.csv",
        markdown="results/samples/{baseline}/rejection/acceptance.md",
    log:
        "logs/baselines/rejection_table-{baseline}.log",
    benchmark:
        "logs/baselines/rejection_table-{baseline}.benchmark.tsv"
    wildcard_constraints:
        baseline="|".join(BASELINE_REJECTION) or "^$",
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        mode=lambda wildcards: BASELINE_MODE[wildcards.baseline],
    script:
        "../workflow/scripts/rejection_table.py"


rule cnn_vae_reconstruction:
    input:
        loops=LOOP_SHARDS,
        codes=rules.encode_loops.output.codes,
        model="results/models/cnn_vae/model.pt",
        meta="results/models/cnn_vae/model.json",
    output:
        rows="results/eval/symbolic/reconstruction-cnn_vae.parquet",
    log:
        "logs/baselines/cnn_vae_reconstruction.log",
    benchmark:
        "logs/baselines/cnn_vae_reconstruction.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # One encoder + decoder pass over the ~150k validation loops: seconds on a GPU, minutes on CPU.
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        device=config["device"],
        code=code_version(*SYMBOLIC_EVAL_MODULES, *BASELINE_CODE),
    script:
        "../workflow/scripts/cnn_vae_reconstruction.py"


TARGETS["baselines"] = [
    *expand("results/models/{baseline}/model.pt", baseline=BASELINES),
    *expand("results/samples/{baseline}/samples.parquet", baseline=BASELINES),
    *expand("results/samples/{baseline}/listen", baseline=BASELINES),
    *expand("results/samples/{baseline}/rejection/acceptance.parquet", baseline=BASELINE_REJECTION),
]
