"""Speed of the audio stage, step by step, on one core (issue 3).

Prints segments/s of each step over the demo dump (load + tempo check, stretch, segment, and each
feature family), the projected wall time for the paper's 49,045 segments on 16 cores, the step
that dominates, and the peak memory of one shard job (segment_loops + extract_features).
Timbre, the slow family, is timed with both engines on the same segments, interleaved: 'fast'
(timbre_fast.py, what the stage runs) and 'reference' (timbral_models itself through the shims);
it prints both side by side with the ratio, the whole stage's rate under each, and the largest
relative difference per feature between them.

    .venv/bin/python benchmarks/bench_audio.py [--dump resources/demo/looperman] [--timbre-segments 12]

Without a dump (the demo not generated yet) it renders a small one of its own and says so.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core
os.environ["TQDM_DISABLE"] = "1"  # the stage's progress bars are for rule logs

import argparse
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from loopgen.audio import dump, pipeline, synth
from loopgen.audio.dump import LOOP_SCHEMA
from loopgen.audio.features import BandFluxTranscriber, Hpcp, TimbreBands, envelope
from loopgen.audio.segments import bar_length, cut_bars, from_pcm, to_pcm
from loopgen.audio.stretch import beats_to_samples, resample, stretch_to_beats
from loopgen.config import load_schema, validate

PAPER_SEGMENTS, CORES = 49_045, 16


def audio_config() -> dict:
    config = {"midi": {"raw_dir": "x"}, "audio": {"raw_dir": "x"}}
    return validate(config, load_schema(REPO / "workflow/schemas/config.schema.yaml"), demo_dirs=("x",))["audio"]


def rendered_dump(root: Path) -> Path:
    rng = np.random.default_rng(0)
    grooves = ["k...s...k.k.s...", "k.h.s.h.k.hks.h.", "khhhshhhkhhhshhh"]
    rows = []
    for i in range(16):
        bpm, bars = float(rng.integers(120, 141)), int(rng.choice([2, 4, 8]))
        audio = synth.drum_loop([grooves[(i + b) % 3] for b in range(bars)], bpm, 44100, seed=i)
        audio += synth.chord((48 + i % 5, 55 + i % 5, 64 + i % 5), len(audio) / 44100 + 0.1, 44100)[: len(audio)]
        synth.write_wav(root / f"audio/loop{i:02d}.wav", audio, 44100)
        rows.append({"file": f"audio/loop{i:02d}.wav", "bpm": f"{bpm:g}"})
    synth.write_metadata(root / "metadata.csv", rows)
    return root


def cpu_time() -> float:
    """CPU seconds of this process and its finished children (rubberband runs as a subprocess).
    CPU time, not wall time, because the machine may be shared; numpy/BLAS/numba are held to one
    thread above, so this is one core's time."""
    return sum(os.times()[:4])


def timed(fn, *args, **kwargs):
    start = cpu_time()
    out = fn(*args, **kwargs)
    return out, cpu_time() - start


def timbre_engines(natives: list[tuple[np.ndarray, int]]) -> tuple[dict, dict]:
    """CPU seconds per segment of each timbre engine on the same native-rate bars (run one after
    the other per segment, so both see the same machine load), and the largest relative
    difference of each of the 7 features between them."""
    from loopgen.audio.timbre import ENGINES, TIMBRE_MODELS

    bands = {engine: {} for engine in ENGINES}  # engine -> rate -> TimbreBands
    for engine in ENGINES:  # warm-up: imports, numba compilation (cached after the first run)
        TimbreBands(44100, engine=engine)(natives[0][0][:44100])
    seconds, worst = dict.fromkeys(ENGINES, 0.0), np.zeros(len(TIMBRE_MODELS))
    for audio, rate in natives:
        values = {}
        for engine in ENGINES:
            (values[engine], _), dt = timed(bands[engine].setdefault(rate, TimbreBands(rate, engine=engine)), audio)
            seconds[engine] += dt
        with np.errstate(all="ignore"):
            relative = np.abs(values["fast"] - values["reference"]) / np.abs(values["reference"])
        relative[np.isnan(values["fast"]) & np.isnan(values["reference"])] = 0.0
        worst = np.fmax(worst, np.nan_to_num(relative, nan=np.inf).reshape(3, -1).max(axis=0))
    return {engine: s / len(natives) for engine, s in seconds.items()}, dict(zip(TIMBRE_MODELS, worst))


def shard_job(raw_dir, loops_path, shard, config, queue):
    """One shard's segment_loops + extract_features in a fresh process (for its peak memory)."""
    loops = pq.read_table(loops_path)
    cap = config["segments"]["max_per_loop"]
    if cap is not None:  # loops.parquet was written without the cap
        capped = [min(n, cap) for n in loops.column("n_segments").to_pylist()]
        loops = loops.set_column(loops.schema.get_field_index("n_segments"), "n_segments", pa.array(capped, pa.int32()))
    segments = pipeline.segment_shard(raw_dir, loops, shard, config["segments"])
    pipeline.extract_shard(raw_dir, loops, segments, config["segments"], config["features"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((segments.num_rows, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", default=str(REPO / "resources/demo/looperman"))
    parser.add_argument(
        "--timbre-segments",
        type=int,
        default=12,
        help="segments timed for the timbre step (both engines: ~2 s per segment)",
    )
    parser.add_argument(
        "--memory-cap",
        type=int,
        default=None,
        help="segments per loop in the peak-memory shard job (default: all; a cap shortens it)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the per-file rejection lines are for rule logs
    config = audio_config()
    seg, feat = config["segments"], config["features"]
    workdir = Path(tempfile.mkdtemp(prefix="bench_audio-"))
    raw = Path(args.dump)
    if not (raw / config["metadata"]).is_file():
        print(f"no dump at {raw}: rendering a 16-loop one in {workdir}")
        raw = rendered_dump(workdir / "dump")
    print(f"machine: {os.cpu_count()} cores visible, one used; dump {raw}")

    (rows, _corr), t_check = timed(
        pipeline.check_loops,
        raw,
        config["metadata"],
        config["tempo"],
        seg,
        config["bar_corr"],
        seed=1,
        n_shards=config["n_shards"],
    )
    accepted = [r for r in rows if r["status"] == "accepted"]
    n_seg = sum(r["n_segments"] for r in accepted)
    print(f"{len(rows)} rows, {len(accepted)} accepted loops, {n_seg} segments")

    t_load = t_stretch = t_segment = 0.0
    pieces, natives = [], []
    for row in accepted:
        audio, dt = timed(dump.load_audio, raw / row["file"])
        t_load += dt
        span = audio.samples[row["start_sample"] : row["end_sample"]]
        native, dt = timed(stretch_to_beats, span, audio.sr, row["n_beats"], seg["target_bpm"], seg["crispness"])
        t_stretch += dt
        start = cpu_time()
        at16k = resample(
            native,
            audio.sr,
            seg["sample_rate"],
            n=beats_to_samples(row["n_beats"], seg["target_bpm"], seg["sample_rate"]),
        )
        bars = to_pcm(cut_bars(at16k, bar_length(seg["target_bpm"], seg["sample_rate"]), seg["min_tail_bars"]))
        t_segment += cpu_time() - start
        pieces += [from_pcm(b) for b in bars]
        exact = bar_length(seg["target_bpm"], audio.sr)
        natives += [
            (native[int(round(i * exact)) : int(round(i * exact)) + int(exact)], audio.sr) for i in range(len(bars))
        ]

    sr = seg["sample_rate"]
    transcriber, hpcp = BandFluxTranscriber(n_fft=feat["n_fft"]), Hpcp(sr, feat["hpcp_frame"], feat["hpcp_hop"])
    _, t_act = timed(lambda: [transcriber.activations(p, sr, feat["hop"]) for p in pieces])
    _, t_env = timed(lambda: [envelope(p, feat["hop"], feat["n_fft"]) for p in pieces])
    _, t_hpcp = timed(lambda: [hpcp(p) for p in pieces])
    picks = np.linspace(0, len(natives) - 1, min(args.timbre_segments, len(natives))).astype(int)
    t_engine, deviation = timbre_engines([natives[i] for i in picks])
    t_timbre = t_engine["fast"]

    per_segment = {  # seconds per segment
        "load + tempo check": t_check / n_seg,
        "stretch (rubberband)": t_stretch / n_seg,
        "segment (resample + cut)": t_segment / n_seg,
        "activations": t_act / len(pieces),
        "envelope": t_env / len(pieces),
        "hpcp": t_hpcp / len(pieces),
        f"timbre (21 values, fast engine, {len(picks)} seg)": t_timbre,
    }
    print(f"\n{'step (one core, CPU time)':42s} {'seg/s':>9s} {'ms/seg':>9s}")
    for step, s in per_segment.items():
        print(f"{step:42s} {1 / s:9.2f} {1000 * s:9.1f}")
    total = sum(per_segment.values())
    print(f"{'whole stage':42s} {1 / total:9.2f} {1000 * total:9.1f}   (goal >= 2 segments/s per core)")
    dominant = max(per_segment, key=per_segment.get)
    print(f"dominant step: {dominant} ({100 * per_segment[dominant] / total:.0f}% of the time)")
    print(
        f"projected: {PAPER_SEGMENTS} segments on {CORES} cores: {PAPER_SEGMENTS * total / CORES / 3600:.2f} h wall "
        f"(perfect scaling over >= {CORES} shards)"
    )

    rest = total - t_timbre
    print(f"\ntimbre engines, same {len(picks)} segments interleaved (one core, CPU time):")
    print(f"{'engine':42s} {'s/seg':>9s} {'seg/s':>9s} {'stage seg/s':>12s}")
    for engine, s in t_engine.items():
        print(f"{engine:42s} {s:9.3f} {1 / s:9.2f} {1 / (rest + s):12.2f}")
    print(f"{'ratio reference / fast':42s} {t_engine['reference'] / t_engine['fast']:9.2f}x")
    print("largest |fast - reference| / |reference| per feature over its 3 bands (both NaN: equal; one NaN: inf):")
    print("  " + ", ".join(f"{name} {value:.1e}" for name, value in deviation.items()))

    # Peak memory of one shard job, in a fresh process (the largest shard, every segment).
    loops_path = workdir / "loops.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=LOOP_SCHEMA), loops_path)
    counts = {}
    for r in accepted:
        counts[r["shard"]] = counts.get(r["shard"], 0) + r["n_segments"]
    shard = max(counts, key=counts.get)
    config["segments"]["max_per_loop"] = args.memory_cap
    queue = multiprocessing.get_context("spawn").Queue()
    job = multiprocessing.get_context("spawn").Process(target=shard_job, args=(raw, loops_path, shard, config, queue))
    start = time.perf_counter()
    job.start()
    n_rows, peak_mb, cpu = queue.get()
    job.join()
    print(
        f"shard job (shard {shard}, {n_rows} segments): {cpu:.0f} s CPU, {time.perf_counter() - start:.0f} s wall, "
        f"peak memory {peak_mb:.0f} MB (goal < 2000 MB)"
    )


if __name__ == "__main__":
    main()
