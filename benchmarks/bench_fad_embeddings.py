"""Which FAD embedding ranks damage best? The degradation series of issue 10, per embedding.

Real test segments (the audio stage's shards) are degraded at rising severity: white noise at
40, 30, 20, 10 dB SNR and an 8th-order low-pass at 4000, 2000, 1000, 500 Hz. For each embedding
(the random-weights VGGish default, CDPAM acoustic, CDPAM content) the FAD of every degraded copy
against the clean clips is printed with a 95 % bootstrap interval over the clips, and two verdicts:

- monotonic: FAD rises strictly with severity in both series;
- spread: the mean, over the 8 levels, of the interval's half-width over the FAD (how noisy one
  FAD of this many clips is; smaller is better).

The embedding to make the default is the monotonic one with the smallest spread. Also printed:
CPU seconds per clip of each embedding (the cost a user pays per clip and set).

    .venv/bin/python benchmarks/bench_fad_embeddings.py --segments 'results/audio/segments/*.parquet' \
        [--clips 48] [--bootstrap 200] [--threads 1] [--embeddings vggish cdpam]
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from loopgen.audio.segments import from_pcm
from loopgen.evaluation import fad
from loopgen.loopnet import read_segment_audio


def timed_embed(embed, sets: dict[str, np.ndarray]) -> tuple[dict[str, list[np.ndarray]], float, int]:
    """Embeddings of every set by `embed` (clips -> per-output lists), its CPU seconds and clip count."""
    started = time.process_time()
    out = {name: embed(audio) for name, audio in sets.items()}
    return out, time.process_time() - started, sum(len(a) for a in sets.values())


def series_rows(name: str, embedded: dict[str, list[np.ndarray]], n_clips: int, bootstrap: int) -> list[dict]:
    reference = embedded["clean"]
    rows = []
    for set_name, embeddings in embedded.items():
        if set_name == "clean":
            continue
        value = float(np.mean([fad.fad_from_embeddings(r, e) for r, e in zip(reference, embeddings)]))
        low, high = fad.bootstrap_interval(reference, embeddings, n_clips, n_clips, bootstrap)
        rows.append({"embedding": name, "set": set_name, "fad": value, "half_width": (high - low) / 2})
    return rows


def verdict(rows: list[dict]) -> tuple[bool, float]:
    by_series = {}
    for row in rows:
        by_series.setdefault(row["set"].split()[0], []).append(row["fad"])
    monotonic = all(all(b > a for a, b in zip(v, v[1:])) for v in by_series.values())
    spread = float(np.mean([r["half_width"] / r["fad"] for r in rows]))
    return monotonic, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", default="results/audio/segments/*.parquet", help="glob of segment shards")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=48, help="test segments used (the first ones by id)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--embeddings", nargs="+", default=["vggish", "cdpam"], choices=["vggish", "cdpam"])
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    paths = sorted(glob.glob(args.segments))
    if not paths:
        raise SystemExit(f"no segment shards match {args.segments!r}")
    clean = from_pcm(read_segment_audio(paths, split=args.split).pcm)[: args.clips]
    sets = {"clean": clean, **fad.degradations(clean)}
    print(
        f"{len(clean)} {args.split} segments of {len(paths)} shards; {len(sets) - 1} degraded copies; "
        f"{args.bootstrap} bootstrap resamples; {args.threads} thread(s)",
        flush=True,
    )

    results = {}
    if "vggish" in args.embeddings:
        embedding = fad.default_embedding()
        embedded, cpu, n = timed_embed(embedding.embed, sets)
        results[embedding.name] = (embedded, cpu / n)
    if "cdpam" in args.embeddings:
        embedding = fad.CdpamEmbedding()
        embedded, cpu, n = timed_embed(lambda a: list(embedding.embed_halves(a)), sets)
        for i, half in enumerate(("acoustic", "content")):  # one encoder pass gives both halves
            name = embedding.name.replace("CDPAM acoustic", f"CDPAM {half}")
            results[name] = ({k: [v[i]] for k, v in embedded.items()}, cpu / n)

    summary = []
    for name, (embedded, cpu_per_clip) in results.items():
        rows = series_rows(name, embedded, len(clean), args.bootstrap)
        monotonic, spread = verdict(rows)
        summary.append((name, monotonic, spread, cpu_per_clip))
        print(f"\n{name}\n{'set':<20} {'FAD':>12} {'± (95%)':>12} {'±/FAD':>7}")
        for row in rows:
            print(
                f"{row['set']:<20} {row['fad']:>12.4g} {row['half_width']:>12.3g} {row['half_width'] / row['fad']:>7.2f}"
            )
    print(f"\n{'embedding':<100} {'monotonic':>9} {'spread':>7} {'CPU s/clip':>10}")
    for name, monotonic, spread, cpu in summary:
        print(f"{name:<100} {'yes' if monotonic else 'NO':>9} {spread:>7.3f} {cpu:>10.3f}")
    eligible = [s for s in summary if s[1]]
    best = min(eligible, key=lambda s: s[2])[0] if eligible else "none (no embedding is monotonic)"
    print(f"\ndefault by the rule of issue 10 (monotonic, smallest spread): {best}")


if __name__ == "__main__":
    main()
