# Stage: detector (SPEC section 2). Audio bar correlations -> Deep SVDD loop detector + threshold
# -> loop score of every MIDI phrase -> results/loops/shard-{i}.parquet (phrases below the threshold)
# -> evaluation against the demo's ground-truth labels (when detector.labels is set).

DETECTOR_DIR = "results/models/loop_detector"
DETECTOR_CODE = ("detector", "models/loop_detector.py", "roll.py", "training.py")


rule train_loop_detector:
    input:
        bar_corr="results/audio/bar_corr.parquet",
    output:
        model=f"{DETECTOR_DIR}/model.pt",
        meta=f"{DETECTOR_DIR}/model.json",
        curve_csv="results/detector/training_curve.csv",
        curve_png=report(
            "results/detector/training_curve.png", caption="../workflow/report/detector_training.rst", category="Data"
        ),
        scores="results/detector/training_scores.parquet",
        scores_png=report(
            "results/detector/training_scores.png", caption="../workflow/report/detector_scores.rst", category="Data"
        ),
    log:
        "logs/detector/train_loop_detector.log",
    benchmark:
        "logs/detector/train_loop_detector.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # A 28-14-14-7 network (1.4k weights, 2.8k with the decoder) on the paper's 1,000 loops:
    # 2 x 1,000 epochs of 13 batches, under a minute on one CPU core. No GPU, one thread.
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        settings={
            key: config["detector"][key]
            for key in ("epochs", "lr", "lr_min", "weight_decay", "batch_size", "val_fraction")
        },
        # None = the paper's raw Pearson correlations
        rescale_eps=config["detector"]["rescale_eps"] if config["detector"]["rescale_audio"] else None,
        seed=config["seed"],
        device=config["device"],
        checkpoint_dir="results/checkpoints/loop_detector",
        code=code_version(*DETECTOR_CODE),
    script:
        "../workflow/scripts/train_loop_detector.py"


rule score_phrases:
    input:
        phrases="results/midi/phrases/shard-{shard}.parquet",
        model=rules.train_loop_detector.output.model,
        meta=rules.train_loop_detector.output.meta,
    output:
        loops="results/loops/shard-{shard}.parquet",
    log:
        "logs/detector/score_phrases-{shard}.log",
    benchmark:
        "logs/detector/score_phrases-{shard}.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Over 1M phrases a minute on one core; memory holds the shard (912 bytes a phrase, packed).
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        device=config["device"],
        code=code_version(*DETECTOR_CODE),
    script:
        "../workflow/scripts/score_phrases.py"


rule summarise_loops:
    input:
        phrases=expand("results/midi/phrases/shard-{shard}.parquet", shard=shards("midi")),
        loops=expand("results/loops/shard-{shard}.parquet", shard=shards("midi")),
    output:
        summary="results/loops/summary.csv",
    log:
        "logs/detector/summarise_loops.log",
    benchmark:
        "logs/detector/summarise_loops.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        shards=list(shards("midi")),
    script:
        "../workflow/scripts/summarise_loops.py"


DETECTOR_EVAL = {
    name: f"results/eval/detector/{name}"
    for name in ("figure2.png", "roc.png", "metrics.parquet", "metrics.csv", "groups.parquet", "groups.csv")
}

if config["detector"]["labels"] or config["detector"]["known_loops"]:

    rule evaluate_detector:
        input:
            phrases=expand("results/midi/phrases/shard-{shard}.parquet", shard=shards("midi")),
            model=rules.train_loop_detector.output.model,
            meta=rules.train_loop_detector.output.meta,
            labels=config["detector"]["labels"] or [],
            known_loops=config["detector"]["known_loops"] or [],  # hand-picked loops (Figure 2 at paper scale)
        output:
            figure2=report(DETECTOR_EVAL["figure2.png"], caption="../workflow/report/figure2.rst", category="Data"),
            roc=report(DETECTOR_EVAL["roc.png"], caption="../workflow/report/roc.rst", category="Data"),
            metrics=DETECTOR_EVAL["metrics.parquet"],
            metrics_csv=report(
                DETECTOR_EVAL["metrics.csv"], caption="../workflow/report/detector_metrics.rst", category="Data"
            ),
            groups=DETECTOR_EVAL["groups.parquet"],
            groups_csv=DETECTOR_EVAL["groups.csv"],
        log:
            "logs/detector/evaluate_detector.log",
        benchmark:
            "logs/detector/evaluate_detector.benchmark.tsv"
        conda:
            "../envs/loopgen.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            n_groups=config["detector"]["eval_groups"],
            group_size=config["detector"]["eval_group_size"],
            seed=config["seed"],
            device=config["device"],
            code=code_version(*DETECTOR_CODE),
        script:
            "../workflow/scripts/evaluate_detector.py"


TARGETS["detector"] = [
    rules.train_loop_detector.output.model,
    rules.summarise_loops.output.summary,
    *(DETECTOR_EVAL.values() if config["detector"]["labels"] or config["detector"]["known_loops"] else []),
]
