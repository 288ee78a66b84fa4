"""Synthetic audio-stage shards (unit tests and the benchmark; the workflow uses the audio stage's
real shards)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from loopgen.audio.features import FEATURE_SCHEMA
from loopgen.audio.segments import to_pcm, write_segments
from loopgen.loopnet.variants import FEATURE_HOP, N_SAMPLES, SAMPLE_RATE
from loopgen.tables import write_table


def synthetic_shards(folder, n_loops: int = 6, bars: int = 2, n_test_loops: int = 2, seed: int = 0) -> dict:
    """Drum loops rendered by loopgen.audio.synth, cut into 1-bar segments with real activations and
    envelopes (the audio stage's functions) and random global features, written as one segment
    shard, one feature shard and feature_stats.json in `folder`. Returns their paths."""
    from loopgen.audio.features import BandFluxTranscriber, envelope, feature_stats, normalise_by_max
    from loopgen.audio.segments import segment_table
    from loopgen.audio.synth import drum_loop

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    ids, loops, bar_index, splits, pcm, feature_rows = [], [], [], [], [], []
    for loop in range(n_loops):
        patterns = ["".join(rng.choice(list("k..."))) + "".join(rng.choice(list(".h"), 15)) for _ in range(bars)]
        patterns = [p[:4] + "s" + p[5:12] + "s" + p[13:] for p in patterns]
        audio = drum_loop(patterns, 130.0, SAMPLE_RATE, seed=seed * 1000 + loop) * float(rng.uniform(0.5, 1.0))
        split = "test" if loop < n_test_loops else "train"
        for bar in range(bars):
            segment = np.zeros(N_SAMPLES, np.float32)
            piece = audio[int(round(bar * N_SAMPLES)) :][:N_SAMPLES]
            segment[: len(piece)] = piece
            segment_id = f"loop{loop:03d}:{bar}"
            drums = normalise_by_max(BandFluxTranscriber().activations(segment, SAMPLE_RATE, FEATURE_HOP))
            feature_rows.append(
                {
                    "segment_id": segment_id,
                    "loop_id": f"loop{loop:03d}",
                    "split": split,
                    **{name: drums[i].tolist() for i, name in enumerate(("kick", "snare", "hihat"))},
                    "envelope": envelope(segment, FEATURE_HOP, 1024).tolist(),
                    "hpcp": rng.uniform(0, 1, 12).tolist(),
                    "timbre": rng.uniform(10, 90, 21).tolist(),
                }
            )
            ids.append(segment_id), loops.append(f"loop{loop:03d}"), bar_index.append(bar), splits.append(split)
            pcm.append(to_pcm(segment))
    paths = {
        "segments": folder / "segments.parquet",
        "features": folder / "features.parquet",
        "stats": folder / "feature_stats.json",
    }
    write_segments(segment_table(ids, loops, bar_index, splits, np.stack(pcm)), paths["segments"])
    write_table(feature_rows, paths["features"], FEATURE_SCHEMA)
    train = [r for r in feature_rows if r["split"] == "train"]
    stats = feature_stats(np.array([r["hpcp"] for r in train]), np.array([r["timbre"] for r in train]))
    paths["stats"].write_text(json.dumps(stats))
    return paths
