# Stage: evaluate (see ../shared/DESIGN.md for what it owns).


# --- symbolic evaluation ---
# Symbolic generation (SPEC section 4). Each generated set (every sampling mode, every limit of the
# rejection sweep) against the training split of the loops: LS, UP, ND and P/R/D/C per random embedding network
# -> results/eval/symbolic/sets/<set>.parquet. The VQ-VAE's reconstruction error on its validation
# songs -> results/eval/symbolic/reconstruction.parquet. evaluate_symbolic gathers them with the
# training set's numbers into results/eval/symbolic.parquet and writes tables 1-3 (CSV + Markdown),
# Figure 4 (the rejection sweep) and pianoroll images into results/eval/symbolic/.
import re

SYMBOLIC_EVAL = "results/eval/symbolic"
SYMBOLIC_EVAL_CONFIG = config["evaluation"]
SYMBOLIC_EVAL_CODE = code_version(*SYMBOLIC_EVAL_MODULES, "evaluation/prdc.py", "evaluation/embeddings.py", "roll.py")


SYMBOLIC_EVAL_SETS = symbolic_eval_sets()


rule symbolic_set_metrics:
    input:
        loops=LOOP_SHARDS,
        codes=rules.encode_loops.output.codes,  # the real set is the training split (SPEC section 4)
        samples=lambda wildcards: SYMBOLIC_EVAL_SETS[wildcards.eval_set]["path"],
    output:
        rows=f"{SYMBOLIC_EVAL}/sets/{{eval_set}}.parquet",
    log:
        "logs/evaluate/symbolic_set_metrics-{eval_set}.log",
    benchmark:
        "logs/evaluate/symbolic_set_metrics-{eval_set}.benchmark.tsv"
    wildcard_constraints:
        eval_set="|".join(re.escape(name) for name in SYMBOLIC_EVAL_SETS),
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: reading 752k training loops (0.7 GB packed) and UP/ND over 752k generated ones
    # (~30 s), then 10 networks x (20k embeddings + P/R/D/C of 10k x 10k, ~3 s on 2 cores).
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        sample_set=lambda wildcards: {k: v for k, v in SYMBOLIC_EVAL_SETS[wildcards.eval_set].items() if k != "path"},
        k=SYMBOLIC_EVAL_CONFIG["symbolic_prdc_k"],
        n_networks=SYMBOLIC_EVAL_CONFIG["symbolic_embedding_networks"],
        n_samples=SYMBOLIC_EVAL_CONFIG["symbolic_eval_samples"],
        seed=config["seed"],
        device=config["device"],
        code=SYMBOLIC_EVAL_CODE,
    script:
        "../workflow/scripts/symbolic_set_metrics.py"


rule symbolic_reconstruction:
    input:
        loops=LOOP_SHARDS,
        codes=rules.encode_loops.output.codes,
        model=rules.train_vqvae.output.model,
        meta=rules.train_vqvae.output.meta,
    output:
        rows=f"{SYMBOLIC_EVAL}/reconstruction.parquet",
    log:
        "logs/evaluate/symbolic_reconstruction.log",
    benchmark:
        "logs/evaluate/symbolic_reconstruction.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # One VQ-VAE forward pass over the ~150k validation loops: seconds on a GPU, minutes on CPU.
    threads: 4
    resources:
        gpu=1,
        gpu_mem_mb=3000,
        mem_mb=4000,
        runtime=60,
    params:
        device=config["device"],
        code=code_version(*SYMBOLIC_EVAL_MODULES, "symbolic", "models/vqvae.py"),
    script:
        "../workflow/scripts/symbolic_reconstruction.py"


rule evaluate_symbolic:
    input:
        loops=LOOP_SHARDS,
        codes=rules.encode_loops.output.codes,
        sets=expand(f"{SYMBOLIC_EVAL}/sets/{{eval_set}}.parquet", eval_set=SYMBOLIC_EVAL_SETS),
        reconstruction=rules.symbolic_reconstruction.output.rows,
        acceptance=rules.rejection_table.output.table,
        samples=expand(f"{SAMPLES_DIR}/{{mode}}.parquet", mode=SAMPLING["modes"]),
        baseline_reconstruction=(
            ["results/eval/symbolic/reconstruction-cnn_vae.parquet"] if "cnn_vae" in BASELINES else []
        ),
        baseline_acceptance=expand(
            "results/samples/{baseline}/rejection/acceptance.parquet", baseline=BASELINE_REJECTION
        ),
        baseline_samples=[baseline_samples(baseline) for baseline in BASELINES],
    output:
        metrics="results/eval/symbolic.parquet",
        tables=multiext(
            f"{SYMBOLIC_EVAL}/table",
            "1_reconstruction.csv",
            "1_reconstruction.md",
            "2_metrics.csv",
            "2_metrics.md",
            "3_f1.csv",
            "3_f1.md",
        ),
        figure4=report(
            f"{SYMBOLIC_EVAL}/figure4_rejection_sweep.png",
            caption="../workflow/report/figure4.rst",
            category="Symbolic generation",
        ),
        pianorolls=report(
            f"{SYMBOLIC_EVAL}/pianorolls.png",
            caption="../workflow/report/pianorolls.rst",
            category="Symbolic generation",
        ),
    log:
        "logs/evaluate/evaluate_symbolic.log",
    benchmark:
        "logs/evaluate/evaluate_symbolic.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: UP/ND of the 752k training loops (~30 s); the rest is small tables and plots.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        tables_dir=lambda wildcards, output: str(Path(output.figure4).parent),
        sample_labels=[f"vqvae_lstm {mode}" for mode in SAMPLING["modes"]],
        baselines=BASELINES,
        baseline_rejection=BASELINE_REJECTION,
        n_images=SYMBOLIC_EVAL_CONFIG["symbolic_pianoroll_images"],
        seed=config["seed"],
        code=SYMBOLIC_EVAL_CODE,
    script:
        "../workflow/scripts/evaluate_symbolic.py"


TARGETS["evaluate_symbolic"] = list(rules.evaluate_symbolic.output)


# --- loopnet evaluation ---
# LoopNet (SPEC section 7): FAD of each synthesized test set against the real test segments
# (table 1; the embedding is named in every table), timbral feature coherence per variant
# (table 2), tables beside the paper's numbers, and figures. Outputs in results/eval/loopnet/.
LOOPNET_EVAL = "results/eval/loopnet"
LOOPNET_EVAL_CODE = code_version(
    "loopnet",
    "evaluation/fad.py",
    "evaluation/coherence.py",
    "models/vggish.py",
    "models/wave_unet.py",
    "audio/timbre.py",
    "audio/features.py",
)


rule loopnet_fad:
    input:
        segments=AUDIO_SEGMENTS,
        sets=expand("results/loopnet/test/{set}.parquet", set=[*LOOPNET["variants"], "griffin_lim"]),
    output:
        fad=f"{LOOPNET_EVAL}/fad.parquet",
    log:
        "logs/evaluate/loopnet_fad.log",
    benchmark:
        "logs/evaluate/loopnet_fad.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Paper scale: ~5k test segments x 7 sets (+ 8 degraded copies of fad_check_clips) x 2 VGGish
    # examples x 3 random networks ~ 250k VGGish passes: ~35 ms each on a CPU core (~2.5 h),
    # minutes on a GPU. Memory: the sets' audio (~120 MB each as float32) and 3 x 290 MB networks.
    threads: 2
    resources:
        gpu=1,
        gpu_mem_mb=4000,
        mem_mb=8000,
        runtime=240,
    params:
        vggish_checkpoint=LOOPNET["vggish_checkpoint"],
        seeds=LOOPNET["fad_seeds"],
        example_hop_s=LOOPNET["fad_example_hop_s"],
        check_clips=LOOPNET["fad_check_clips"],
        peak_normalise=LOOPNET["fad_peak_normalise"],
        embedding=LOOPNET["fad_embedding"],
        bootstrap=LOOPNET["fad_bootstrap"],
        device=config["device"],
        code=LOOPNET_EVAL_CODE,
    script:
        "../workflow/scripts/loopnet_fad.py"


rule loopnet_gates:
    input:
        segments=AUDIO_SEGMENTS,
        sets=expand("results/loopnet/test/{variant}.parquet", variant=LOOPNET["variants"]),
    output:
        gates=f"{LOOPNET_EVAL}/gates.csv",
    log:
        "logs/evaluate/loopnet_gates.log",
    benchmark:
        "logs/evaluate/loopnet_gates.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Per test bar and variant: 2 losses + 12 STFTs (multi-resolution) + 2 band spectra, ~20 ms on a
    # CPU core: ~5k bars x 5 variants ~ 10 min at paper scale, seconds on the demo.
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        variants=LOOPNET["variants"],
        settings=LOOPNET,
        code=LOOPNET_EVAL_CODE,
    script:
        "../workflow/scripts/loopnet_gates.py"


rule loopnet_coherence:
    input:
        segments=AUDIO_SEGMENTS,
        features=AUDIO_FEATURES,
        model="results/models/loopnet-{variant}/model.pt",
        meta="results/models/loopnet-{variant}/model.json",
    output:
        rows=f"{LOOPNET_EVAL}/coherence-{{variant}}.parquet",
    log:
        "logs/evaluate/loopnet_coherence-{variant}.log",
    benchmark:
        "logs/evaluate/loopnet_coherence-{variant}.benchmark.tsv"
    wildcard_constraints:
        variant=LOOPNET_VARIANTS,
    conda:
        "../envs/loopgen.yaml"
    # 16 loops x 21 features x 3 values = 1,008 outputs; re-extracting one timbral model at 44.1 kHz
    # takes ~0.2 s on a CPU core (hardness ~0.7 s), so ~4 min, plus ~1 min of synthesis (STFT:
    # ~5 min of Griffin-Lim). The 1,008 outputs (120 MB as float32) stay in memory.
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        n_loops=LOOPNET["coherence_loops"],
        values=LOOPNET["coherence_values"],
        features=LOOPNET["coherence_features"],
        analysis_rate=LOOPNET["coherence_sample_rate"],
        bands={
            key: config["audio"]["features"][key]
            for key in ("lowpass_hz", "bandpass_hz", "bandpass_octaves", "highpass_hz")
        },
        batch_size=LOOPNET["batch_size"],
        griffin_lim_iters=LOOPNET["griffin_lim_iters"],
        seed=config["seed"],
        device=config["device"],
        code=LOOPNET_EVAL_CODE,
    script:
        "../workflow/scripts/loopnet_coherence.py"


rule evaluate_loopnet:
    input:
        fad=rules.loopnet_fad.output.fad,
        gates=rules.loopnet_gates.output.gates,
        coherence=expand(f"{LOOPNET_EVAL}/coherence-{{variant}}.parquet", variant=LOOPNET["variants"]),
        meta=expand("results/models/loopnet-{variant}/model.json", variant=LOOPNET["variants"]),
        sets=expand("results/loopnet/test/{set}.parquet", set=[*LOOPNET["variants"], "griffin_lim"]),
        segments=AUDIO_SEGMENTS,
    output:
        fad_csv=report(
            f"{LOOPNET_EVAL}/table1_fad.csv", caption="../workflow/report/loopnet_fad.rst", category="LoopNet"
        ),
        fad_md=f"{LOOPNET_EVAL}/table1_fad.md",
        gates_md=f"{LOOPNET_EVAL}/gates.md",
        coherence_csv=report(
            f"{LOOPNET_EVAL}/table2_coherence.csv",
            caption="../workflow/report/loopnet_coherence.rst",
            category="LoopNet",
        ),
        coherence_md=f"{LOOPNET_EVAL}/table2_coherence.md",
        training_png=report(
            f"{LOOPNET_EVAL}/training_loss.png", caption="../workflow/report/loopnet_training.rst", category="LoopNet"
        ),
        waveforms_png=report(
            f"{LOOPNET_EVAL}/example_waveforms.png",
            caption="../workflow/report/loopnet_examples.rst",
            category="LoopNet",
        ),
        spectrograms_png=report(
            f"{LOOPNET_EVAL}/example_spectrograms.png",
            caption="../workflow/report/loopnet_examples.rst",
            category="LoopNet",
        ),
    log:
        "logs/evaluate/evaluate_loopnet.log",
    benchmark:
        "logs/evaluate/evaluate_loopnet.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Reads small tables and one test segment per set: seconds.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        variants=LOOPNET["variants"],
        n_loops=LOOPNET["coherence_loops"],
        code=LOOPNET_EVAL_CODE,
    script:
        "../workflow/scripts/evaluate_loopnet.py"


TARGETS["evaluate_loopnet"] = [*rules.evaluate_loopnet.output, rules.loopnet_gates.output.gates]
