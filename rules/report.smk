# Stage: report. Every other stage's final outputs -> results/report/index.html (+ img/, audio/):
# tables, figures and loops to listen to (loopgen.report). Included last: it reads every stage's
# TARGETS, so a new stage's outputs (a baseline, a LoopNet variant) appear on the page by themselves.
# `snakemake --report results/report.zip` embeds this folder whole (htmlindex) next to the figures.

REPORT = config["report"]


rule report_page:
    input:
        lambda wildcards: [path for stage, paths in TARGETS.items() if stage != "report" for path in paths],
    output:
        folder=report(
            directory("results/report"),
            htmlindex="index.html",
            category="Listening",
            caption="../workflow/report/listening.rst",
        ),
    log:
        "logs/report/report_page.log",
    benchmark:
        "logs/report/report_page.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    # Reads tables and a few rolls; ~30 FluidSynth renders and a few LoopNet bars: under a minute.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        results=lambda wildcards, output: str(Path(output.folder).parent),
        settings={
            **{key: value for key, value in REPORT.items() if key != "screenshot"},
            "tempo_bpm": config["sampling"]["tempo_bpm"],
            "seed": config["seed"],
            "device": config["device"],
        },
        screenshot=REPORT["screenshot"],
        code=code_version("report", "symbolic", "midi_write.py", "render.py", "loopnet"),
    script:
        "../workflow/scripts/report_page.py"


TARGETS["report"] = [rules.report_page.output.folder]
