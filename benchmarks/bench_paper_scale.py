"""Scaled dry run of the paper-scale workflow: measure at small fractions, project to full scale.

For each fraction f of paper scale (e.g. 0.002 and 0.004) this generates a corpus with the demo
generators (f x 178,561 MIDI files; --audio-loops audio loops, as the detector needs ~150 to find
loops at all), writes config/paper.yaml scaled to it (sampling counts x f; 1 training epoch instead
of the papers' 500/100/100; 2 of the 5 LoopNet variants, 2 of the 16 coherence loops and 1 of the 3
FAD networks, scaled back up by job count or a factor; CPU; 2 shards), runs the whole workflow with
Snakemake, and reads every job's benchmark file. Each rule's data share is measured from what the
run made: MIDI files, audio loops, loops found, or generated loops. With two fractions it fits,
per rule, time per job = a + b x work and peak memory per job = c + d x data, where `data` is the
job's share of its data (that fraction, / shards for sharded rules) and `work` that share times the
epochs; then it extrapolates to the papers' data, epochs and `config/paper.yaml` job counts, and
prints, per rule: measured wall and CPU time, peak memory against the declared mem_mb, and the
projected full-scale CPU time and memory (flagged when above 60 % of mem_mb). Last, the projected
critical path on a 16-core node without GPU and with one GPU (GPU speed-ups are the review's
estimates, not measurements: no GPU was at hand).

CPU time (the benchmark file's cpu_time) is used for the projections: on a shared machine wall
time mostly measures the other users. Caveats: P/R/D/C is quadratic in its sample size up to
evaluation.symbolic_eval_samples (10,000) and the rejection sweep depends on acceptance rates, so a
linear fit from small fractions is only a first estimate for those rules.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_paper_scale.py --fractions 0.005 0.01 [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from snakemake.utils import update_config

REPO = Path(__file__).resolve().parents[1]
PAPER = dict(midi_files=178_561, audio_loops=8_838, loops=751_935)
SHARDED = {"extract_phrases", "score_phrases", "segment_loops", "extract_features"}
# Which data a rule's work grows with (the rest: the generated loops, sampling.n_samples).
MIDI_RULES = {"extract_phrases", "merge_midi_files", "score_phrases", "summarise_loops", "evaluate_detector"}
AUDIO_RULES = {
    "check_loops",
    "segment_loops",
    "extract_features",
    "feature_stats",
    "train_loop_detector",
    "train_loopnet",
    "synthesize_test",
    "griffin_lim_baseline",
    "loopnet_coherence",
    "loopnet_fad",
    "evaluate_loopnet",
}
LOOP_RULES = {"train_vqvae", "encode_loops", "train_prior", "symbolic_reconstruction", "evaluate_symbolic"}
# Work the scaled run cuts by a fixed factor that the paper config undoes (coherence loops, FAD networks).
WORK_FACTOR = {"loopnet_coherence": 16 / 2, "loopnet_fad": 3 / 1}
# Epochs at full scale / in the scaled run, per training rule (config/paper.yaml; bench: 1).
EPOCHS = {"train_vqvae": ("vqvae", 500), "train_prior": ("prior", 100), "train_loopnet": ("loopnet", 100)}
NOT_PROJECTED = {"demo_midi", "demo_audio", "all"}  # the corpus generators stand in for the dumps
# Estimated GPU speed-up over one CPU core (paper-scale-2026-11 review, section 1: estimates from
# published GPU throughput, never measured here). Rules not listed stay on the CPU.
GPU_SPEEDUP = {
    "train_vqvae": 100,
    "train_prior": 300,
    "train_loopnet": 150,
    "encode_loops": 50,
    "sample_loops": 60,
    "rejection_sweep": 60,
    "symbolic_reconstruction": 50,
    "loopnet_fad": 20,
}
NODE_CORES = 16


def scaled_config(fraction: float, audio_loops: int, epochs: int) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    n_loops = max(64, round(fraction * PAPER["loops"]))
    update_config(
        config,
        {
            "device": "cpu",
            "demo": {"midi_songs": max(8, round(fraction * PAPER["midi_files"])), "audio_loops": audio_loops},
            "midi": {"raw_dir": "resources/demo/lmd", "n_shards": 2},
            "audio": {"raw_dir": "resources/demo/looperman", "n_shards": 2},
            "vqvae": {"epochs": epochs},
            "prior": {"epochs": epochs},
            "loopnet": {"epochs": epochs, "variants": ["MULTI_NOENV", "STFT"], "coherence_loops": 2, "fad_seeds": [0]},
            "sampling": {"n_samples": n_loops, "rejection": {"n_keep": n_loops, "max_tries": 10 * n_loops}},
        },
    )
    return config


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """This repository's workflow run by this Python in `workdir`, with `args`."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]


def run(fraction: float, audio_loops: int, workdir: Path, cores: int, epochs: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(scaled_config(fraction, audio_loops, epochs)))
    cmd = snakemake_command(
        workdir, "--cores", str(cores), "--rerun-triggers", "mtime", "--", "all"
    )  # mtime: see --reuse-audio
    started = time.perf_counter()
    with open(workdir / "snakemake.out", "w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        raise SystemExit(f"fraction {fraction}: snakemake failed; see {workdir / 'snakemake.out'}")
    print(f"fraction {fraction}: whole workflow {time.perf_counter() - started:.0f} s wall on {cores} cores")
    (workdir / "bench-done").touch()


def planned(workdir: Path) -> str:
    """Every job of the run as Snakemake plans it from scratch (-n -F), with its resources."""
    return subprocess.run(
        snakemake_command(workdir, "-n", "-F", "--cores", "2", "all"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


JOB = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", re.M)


def declared(output: str) -> dict[str, dict]:
    """rule -> {'mem_mb': int, 'gpu': int} from the job blocks Snakemake printed."""
    rules = {}
    for rule, resources in JOB.findall(output):
        values = dict(re.findall(r"(\w+)=([^,]+)", resources))
        rules[rule] = {"mem_mb": int(values.get("mem_mb", 0)), "gpu": int(values.get("gpu", 0))}
    return rules


def measured(workdir: Path, rules) -> dict[str, list[dict]]:
    """rule -> one row per job: wall s, cpu s, max_rss MB (Snakemake benchmark files)."""
    jobs: dict[str, list[dict]] = {}
    names = sorted(rules, key=len, reverse=True)
    for path in sorted((workdir / "logs").rglob("*.benchmark.tsv")):
        stem = path.name.removesuffix(".benchmark.tsv")
        rule = next((r for r in names if stem == r or stem.startswith(r + "-")), None)
        if rule is None:
            continue
        row = next(csv.DictReader(path.open(), delimiter="\t"))
        rss = float(row["max_rss"]) if row["max_rss"] not in ("", "NA", "-") else math.nan
        jobs.setdefault(rule, []).append({"wall": float(row["s"]), "cpu": float(row["cpu_time"]), "rss": rss})
    return jobs


def fit(x1, y1, x2, y2) -> tuple[float, float]:
    """y = a + b x through two points, with a, b >= 0 (noise can tilt a two-point fit)."""
    if x2 == x1:
        return y2, 0.0
    b = (y2 - y1) / (x2 - x1)
    a = y2 - b * x2
    if b < 0:
        return max(y1, y2), 0.0
    if a < 0:
        return 0.0, y2 / x2
    return a, b


def data_fractions(workdir: Path) -> dict[str, float]:
    """The run's share of the papers' data, per kind of data, from its config and its outputs."""
    import pyarrow.parquet as pq

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    loops = sum(pq.ParquetFile(p).metadata.num_rows for p in (workdir / "results" / "loops").glob("shard-*.parquet"))
    return {
        "midi": config["demo"]["midi_songs"] / PAPER["midi_files"],
        "audio": config["demo"]["audio_loops"] / PAPER["audio_loops"],
        "loops": loops / PAPER["loops"],
        "samples": config["sampling"]["n_samples"] / PAPER["loops"],
    }


def rule_fraction(rule: str, fractions: dict[str, float]) -> float:
    kind = (
        "midi"
        if rule in MIDI_RULES
        else "audio"
        if rule in AUDIO_RULES
        else "loops"
        if rule in LOOP_RULES
        else "samples"
    )
    return fractions[kind]


def paper_job_counts(workdir: Path) -> dict[str, int]:
    """Jobs per rule of the full paper config (snakemake -n; the demo dirs stand in for the dumps)."""
    table = paper_dry_run(workdir).split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def paper_dry_run(workdir: Path) -> str:
    """`snakemake -n all` with the full paper config (config.yaml + config/paper.yaml), the demo dirs
    standing in for the dumps: every job with its resources (`declared`) and the job stats."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    update_config(config, {"midi": {"raw_dir": "resources/demo/lmd"}, "audio": {"raw_dir": "resources/demo/looperman"}})
    folder = workdir / "paper-dry-run"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        snakemake_command(folder, "-n", "--cores", "1", "all"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def project(rule, runs, jobs_full: int, floor: dict) -> dict:
    """Full-scale per-job CPU time and peak memory from the runs' (data fraction, jobs, epochs).
    A rule measured at one data size only: its CPU time above `floor` (the run's smallest job:
    interpreter and imports) scales proportionally (an upper bound); its memory is not projected
    (a fixed part, torch and a batch, cannot be told from the data's part with one point)."""
    epochs_full = EPOCHS[rule][1] if rule in EPOCHS else 1
    factor = WORK_FACTOR.get(rule, 1.0)
    points = []
    for fraction, jobs, epochs in runs:
        share = fraction / len(jobs) if rule in SHARDED else fraction
        points.append(
            (
                share,
                share * (epochs if rule in EPOCHS else 1),
                sum(j["cpu"] for j in jobs) / len(jobs),
                max(j["rss"] for j in jobs),
            )
        )
    share_full = 1 / jobs_full if rule in SHARDED else 1.0
    (s1, w1, c1, m1), (s2, w2, c2, m2) = points[0], points[-1]
    if s1 == s2:  # one data size
        cpu = factor * (floor["cpu"] + max(c2 - floor["cpu"], 0) / w2 * share_full * epochs_full)
        return {"cpu": cpu, "rss": math.nan, "jobs": jobs_full, "one_size": True}
    a, b = fit(w1, c1, w2, c2)
    c, d = fit(s1, m1, s2, m2)
    return {"cpu": factor * (a + b * share_full * epochs_full), "rss": c + d * share_full, "jobs": jobs_full}


def rule_graph(workdir: Path) -> dict[str, set[str]]:
    """rule -> the rules it needs (snakemake --rulegraph)."""
    dot = subprocess.run(
        snakemake_command(workdir, "--rulegraph", "-F", "all"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    labels = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, re.M))
    needs: dict[str, set[str]] = {name: set() for name in labels.values()}
    for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M):
        needs[labels[dst]].add(labels[src])
    return needs


def critical_path(needs, hours: dict[str, float]) -> tuple[float, list[str]]:
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(rule):
        if rule not in finish:
            before = max((visit(r) for r in needs.get(rule, ())), default=(0.0, []))
            finish[rule] = (before[0] + hours.get(rule, 0.0), before[1] + [rule])
        return finish[rule]

    return max((visit(r) for r in needs), key=lambda x: x[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.002, 0.004])
    parser.add_argument("--audio-loops", type=int, nargs="+", default=[160, 240])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=REPO / "results" / "bench_paper_scale")
    parser.add_argument(
        "--reuse-audio",
        action="store_true",
        help="start a new fraction from a finished run's audio and LoopNet results "
        "(same --audio-loops): only the MIDI and symbolic stages run again",
    )
    args = parser.parse_args()
    if len(args.audio_loops) != len(args.fractions):
        raise SystemExit("give one --audio-loops value per fraction")

    runs, resources = {}, {}
    for fraction, audio_loops in sorted(zip(args.fractions, args.audio_loops)):
        workdir = args.workdir / f"f{fraction:g}"
        done = (workdir / "bench-done").exists()
        finished = [d for d in sorted(args.workdir.glob("f*")) if (d / "bench-done").exists()]
        first = finished[0] if finished else None
        if not done and args.reuse_audio and first is not None and not workdir.exists():
            shutil.copytree(first, workdir, symlinks=True)  # mtimes and .snakemake metadata kept
            (workdir / "bench-done").unlink()
            for stale in (
                "results/midi",
                "results/loops",
                "results/samples",
                "results/symbolic",
                "results/eval/symbolic",
                "results/eval/symbolic.parquet",
                *(str(p.relative_to(workdir)) for p in (workdir / "logs" / "evaluate").glob("*symbolic*")),
                "results/models/vqvae",
                "results/models/lstm_prior",
                "results/checkpoints",
                "logs/midi",
                "logs/symbolic",
                "logs/detector/score_phrases-0.benchmark.tsv",
                "logs/detector/score_phrases-1.benchmark.tsv",
                "resources/demo/lmd",
                "snakemake.out",
            ):
                path = workdir / stale
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        if not done:
            run(fraction, audio_loops, workdir, args.cores, args.epochs)
        resources.update(declared(planned(workdir)))
        fractions = data_fractions(workdir)
        print(f"fraction {fraction:g}: data shares " + ", ".join(f"{k} {v:.4f}" for k, v in fractions.items()))
        jobs_by_rule = measured(workdir, resources)
        for rule, jobs in jobs_by_rule.items():
            runs.setdefault(rule, []).append((rule_fraction(rule, fractions), jobs, args.epochs))
        real = [j for r, js in jobs_by_rule.items() if r not in NOT_PROJECTED for j in js]
        floor = {"cpu": min(j["cpu"] for j in real), "rss": min(j["rss"] for j in real)}
    jobs_full = paper_job_counts(args.workdir)

    print(
        f"\nper rule (CPU seconds of one core; full scale = config/paper.yaml data, epochs and job counts; "
        f"measured on {args.cores} shared cores)\n"
    )
    header = [
        "rule",
        "jobs",
        "wall s",
        "cpu s",
        "peak MB",
        "mem_mb",
        "full: jobs",
        "cpu h/job",
        "cpu h all",
        "peak MB",
        "% of mem_mb",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    projected = {}
    for rule in sorted(runs, key=lambda r: -sum(j["cpu"] for j in runs[r][-1][1])):
        if rule in NOT_PROJECTED or rule not in jobs_full:
            continue
        last = runs[rule][-1][1]
        p = projected[rule] = project(rule, runs[rule], jobs_full[rule], floor)
        mem = resources.get(rule, {}).get("mem_mb", 0)
        share = 100 * p["rss"] / mem if mem else math.nan
        flag = (" **over 60 %**" if share > 60 else "") + (
            " (one data size: time proportional)" if p.get("one_size") else ""
        )
        print(
            f"| {rule} | {len(last)} | {sum(j['wall'] for j in last):.0f} | {sum(j['cpu'] for j in last):.0f} | "
            f"{max(j['rss'] for j in last):.0f} | {mem} | {p['jobs']} | {p['cpu'] / 3600:.2f} | "
            f"{p['cpu'] * p['jobs'] / 3600:.1f} | {p['rss']:.0f} | {share:.0f}{flag} |"
        )

    needs = rule_graph(args.workdir / f"f{max(args.fractions):g}")
    for name, gpu_rules in (("CPU only, 16 cores", {}), ("one GPU (estimated speed-ups)", GPU_SPEEDUP)):
        hours = {}
        for rule, p in projected.items():
            per_job = p["cpu"] / gpu_rules.get(rule, 1) / 3600
            hours[rule] = per_job * math.ceil(p["jobs"] / (1 if rule in gpu_rules else NODE_CORES))
        total, path = critical_path(needs, hours)
        print(f"\ncritical path, {name}: {total:.1f} h ({' -> '.join(r for r in path if hours.get(r, 0) > 0.05)})")
        if gpu_rules:
            print(
                f"  every GPU job back to back (profile gpu=1): {sum(hours[r] for r in gpu_rules if r in hours):.1f} h"
            )


if __name__ == "__main__":
    main()
