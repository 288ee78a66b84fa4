"""The audio stage's steps as the workflow runs them (one function per rule).

check_loops   the whole dump -> loops.parquet rows (every file and metadata row) + bar_corr rows
segment_shard accepted loops of one shard -> stretched 1-bar segments (16 kHz int16)
extract_shard segments of one shard -> features (timbre from the loop at its own sample rate)
stats_of_shards feature shards -> train-split min/max of the global features

Config sections arrive as plain dicts (`tempo`, `segments`, `bar_corr`, `features`: the keys of
config.yaml's `audio` section, described in workflow/schemas/config.schema.yaml).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from loopgen.audio import dump
from loopgen.audio.bar_corr import loop_bar_correlation
from loopgen.audio.features import (
    FEATURE_SCHEMA,
    BandFluxTranscriber,
    Hpcp,
    TimbreBands,
    envelope,
    feature_stats,
    normalise_by_max,
)
from loopgen.audio.segments import (
    bar_length,
    cut_bars,
    from_pcm,
    n_segments,
    pcm_array,
    segment_table,
    split_of,
    to_pcm,
)
from loopgen.audio.stretch import beats_to_samples, resample, stretch_to_beats
from loopgen.audio.tempo import check_tempo
from loopgen.shards import shard_of
from loopgen.tables import read_tables

log = logging.getLogger("loopgen.audio")


def _progress(items, what: str):
    return tqdm(items, desc=what, mininterval=10)


def _row(file: str, **values) -> dict:
    row = {name: None for name in dump.LOOP_SCHEMA.names}
    row.update(file=file, n_segments=0, status="rejected", reason="", note="")
    row.update(values)
    return row


def _inventory(raw_dir: Path, metadata_name: str) -> tuple[list[dict], list[tuple[str, dict]]]:
    """(rows rejected before reading any audio, [(member path, metadata row)] to read)."""
    on_disk = dump.audio_files(raw_dir)
    metadata_path = raw_dir / metadata_name
    if metadata_path.is_file():
        metadata = dump.read_metadata(metadata_path)
    else:
        log.warning("%s: no metadata file; every audio file is rejected", metadata_path)
        metadata = []
    root = raw_dir.resolve()
    rejected, to_read, listed = [], [], set()
    for meta in metadata:
        member = dump.member_path(meta["file"])
        if member is not None and not (raw_dir / member).resolve().is_relative_to(root):
            member = None  # a symbolic link pointing out of the dump
        extra = {"key": meta["key"], "genre": meta["genre"], "category": meta["category"]}
        if member is None:
            rejected.append(_row(meta["file"], reason="path leaves the dump folder", **extra))
        elif member in listed:
            rejected.append(_row(member, reason="duplicate metadata row for this file", **extra))
        elif not (raw_dir / member).is_file():
            listed.add(member)
            rejected.append(_row(member, reason="file listed in metadata but missing", **extra))
        else:
            listed.add(member)
            to_read.append((member, meta))
    for member in on_disk:
        if member not in listed:
            rejected.append(_row(member, reason="no metadata row"))
    return rejected, sorted(to_read, key=lambda pair: pair[0])


def _check_one(raw_dir: Path, member: str, meta: dict, tempo: dict, seen: dict) -> tuple[dict, dump.Audio | None]:
    """The loops row of one listed file (not yet range- or confidence-judged) and its audio."""
    row = _row(member, key=meta["key"], genre=meta["genre"], category=meta["category"])
    bpm, problem = dump.parse_bpm(meta["bpm"])
    row["annotated_bpm"] = bpm
    if problem:
        return {**row, "reason": problem}, None
    try:
        audio = dump.load_audio(raw_dir / member)
    except dump.AudioError as error:
        return {**row, "reason": str(error)}, None
    row.update(
        loop_id=audio.loop_id,
        sample_rate=audio.sr,
        channels=audio.channels,
        duration_s=len(audio.samples) / audio.sr,
        note=audio.note,
    )
    if np.abs(audio.samples).max() < 10.0 ** (tempo["silent_db"] / 20.0):
        return {**row, "reason": "silent"}, None
    if audio.loop_id in seen:
        return {**row, "reason": f"duplicate of {seen[audio.loop_id]}"}, None
    seen[audio.loop_id] = member
    if tempo["double_slow"] and tempo["bpm_min"] / 2 <= bpm <= tempo["bpm_max"] / 2:
        bpm *= 2
        row["note"] = "; ".join(filter(None, [row["note"], "bpm doubled"]))
    check = check_tempo(audio.samples, audio.sr, bpm, tempo["max_beats"], tempo["tolerance_beats"], tempo["silence_db"])
    row.update(
        bpm=bpm,
        beats=check.beats,
        n_beats=check.n_beats,
        confidence=check.confidence,
        trim=check.trim,
        start_sample=check.start,
        end_sample=check.end,
    )
    return row, audio


def _judge(row: dict, tempo: dict, segments: dict, seed: int, n_shards: int) -> dict:
    """Accept or reject a checked row: tempo range, confidence, length; then shard and split."""
    if not tempo["bpm_min"] <= row["bpm"] <= tempo["bpm_max"]:
        return {**row, "reason": f"bpm {row['bpm']:g} outside {tempo['bpm_min']:g}–{tempo['bpm_max']:g}"}
    if not row["confidence"] > tempo["confidence_min"]:
        return {**row, "reason": f"tempo confidence {row['confidence']:.3f} ≤ {tempo['confidence_min']:g}"}
    count = n_segments(
        beats_to_samples(row["n_beats"], segments["target_bpm"], segments["sample_rate"]),
        bar_length(segments["target_bpm"], segments["sample_rate"], segments["beats_per_bar"]),
        segments["min_tail_bars"],
    )
    if segments["max_per_loop"] is not None:
        count = min(count, segments["max_per_loop"])
    if count == 0:
        return {**row, "reason": f"{row['n_beats']} beats: shorter than {segments['min_tail_bars']:g} bar"}
    if row["sample_rate"] != segments["sample_rate"]:
        row["note"] = "; ".join(
            filter(None, [row["note"], f"resampled {row['sample_rate']} -> {segments['sample_rate']} Hz"])
        )
    return {
        **row,
        "status": "accepted",
        "n_segments": count,
        "shard": shard_of(row["file"], n_shards),
        "split": split_of(row["loop_id"], seed, segments["test_fraction"]),
    }


def check_loops(
    raw_dir, metadata_name: str, tempo: dict, segments: dict, bar_corr: dict, seed: int, n_shards: int
) -> tuple[list[dict], list[dict]]:
    """(loops rows, bar_corr rows). Bar correlations are for the accepted loops (tempo in range and
    confident) that are exactly bar_corr['n_bars'] bars long. The range matters here too: a 4-bar
    loop annotated at double its tempo is confidently "8 bars" of half-bars."""
    raw_dir = Path(raw_dir)
    rows, to_read = _inventory(raw_dir, metadata_name)
    corr_rows, seen = [], {}
    bar_beats = bar_corr["n_bars"] * segments["beats_per_bar"]
    mel = {k: bar_corr[k] for k in ("n_mels", "n_fft", "hop", "log")}
    for member, meta in _progress(to_read, "check_loops"):
        row, audio = _check_one(raw_dir, member, meta, tempo, seen)
        if audio is not None:
            row = _judge(row, tempo, segments, seed, n_shards)
            if row["status"] == "accepted" and row["n_beats"] == bar_beats:
                span = audio.samples[row["start_sample"] : row["end_sample"]]
                corr = loop_bar_correlation(span, audio.sr, bar_corr["n_bars"], **mel)
                corr_rows.append({"loop_id": audio.loop_id, "file": member, "corr": corr.tolist()})
        rows.append(row)
    for row in rows:
        if row["status"] == "rejected":
            log.warning("%s: %s", row["file"], row["reason"])
    rows.sort(key=lambda r: (r["file"], r["reason"]))
    accepted = [r for r in rows if r["status"] == "accepted"]
    log.info(
        "%d files/metadata rows: %d accepted (%d test), %d rejected; %d segments; %d loops of %d bars for the detector",
        len(rows),
        len(accepted),
        sum(r["split"] == "test" for r in accepted),
        len(rows) - len(accepted),
        sum(r["n_segments"] for r in accepted),
        len(corr_rows),
        bar_corr["n_bars"],
    )
    return rows, corr_rows


def stretched_loop(raw_dir, row: dict, segments: dict) -> tuple[np.ndarray, int]:
    """An accepted loop's checked span stretched to whole beats at the target tempo, at the file's
    own sample rate; scaled down (never up) so it does not clip."""
    audio = dump.load_audio(Path(raw_dir) / row["file"])
    span = audio.samples[row["start_sample"] : row["end_sample"]]
    stretched = stretch_to_beats(span, audio.sr, row["n_beats"], segments["target_bpm"], segments["crispness"])
    peak = np.abs(stretched).max()
    return (stretched / peak if peak > 1.0 else stretched), audio.sr


def loop_segments(raw_dir, row: dict, segments: dict) -> np.ndarray:
    """(n, segment length) float32 bars of one accepted loop at the target sample rate."""
    native, sr = stretched_loop(raw_dir, row, segments)
    target_sr = segments["sample_rate"]
    audio = resample(native, sr, target_sr, n=beats_to_samples(row["n_beats"], segments["target_bpm"], target_sr))
    bar = bar_length(segments["target_bpm"], target_sr, segments["beats_per_bar"])
    return cut_bars(audio, bar, segments["min_tail_bars"], segments["max_per_loop"])


def _accepted_in_shard(loops: pa.Table, shard: int) -> list[dict]:
    return [r for r in loops.to_pylist() if r["status"] == "accepted" and r["shard"] == shard]


def segment_shard(raw_dir, loops: pa.Table, shard: int, segments: dict) -> pa.Table:
    ids, loop_ids, bars, splits, pcm = [], [], [], [], []
    for row in _progress(_accepted_in_shard(loops, shard), f"segment shard {shard}"):
        cut = to_pcm(loop_segments(raw_dir, row, segments))
        if len(cut) != row["n_segments"]:  # the file changed since check_loops
            log.error("%s: %d segments, loops.parquet says %d", row["file"], len(cut), row["n_segments"])
        ids += [f"{row['loop_id']}:{b}" for b in range(len(cut))]
        loop_ids += [row["loop_id"]] * len(cut)
        bars += list(range(len(cut)))
        splits += [row["split"]] * len(cut)
        pcm.append(cut)
    length = int(bar_length(segments["target_bpm"], segments["sample_rate"], segments["beats_per_bar"]))
    pcm_all = np.concatenate(pcm) if pcm else np.zeros((0, length), np.int16)
    log.info("shard %d: %d loops -> %d segments", shard, len(pcm), len(pcm_all))
    return segment_table(ids, loop_ids, bars, splits, pcm_all)


class SegmentFeatures:
    """Computes one segment's feature row; holds the algorithms (and one TimbreBands per sample rate)."""

    def __init__(self, segments: dict, features: dict, transcriber=None):
        self.segments, self.features = segments, features
        self.sr = segments["sample_rate"]
        self.transcriber = transcriber or BandFluxTranscriber(
            bands_hz={name: tuple(features[f"{name}_hz"]) for name in ("kick", "snare", "hihat")},
            n_fft=features["n_fft"],
        )
        self.hpcp = Hpcp(self.sr, features["hpcp_frame"], features["hpcp_hop"])
        self._timbre: dict[int, TimbreBands] = {}

    def timbre_bands(self, sr: int) -> TimbreBands:
        if sr not in self._timbre:
            keys = ("lowpass_hz", "bandpass_hz", "bandpass_octaves", "highpass_hz")
            self._timbre[sr] = TimbreBands(sr, *(self.features[k] for k in keys))
        return self._timbre[sr]

    def frame_features(self, audio: np.ndarray) -> dict:
        hop = self.features["hop"]
        drums = normalise_by_max(self.transcriber.activations(audio, self.sr, hop))
        out = {name: drums[i] for i, name in enumerate(self.transcriber.names)}
        out["envelope"] = envelope(audio, hop, self.features["n_fft"])
        return out

    def native_bar(self, native: np.ndarray, sr: int, bar: int) -> np.ndarray:
        """Bar `bar` of the stretched loop at its own rate, cut like the 16 kHz segment."""
        exact = bar_length(self.segments["target_bpm"], sr, self.segments["beats_per_bar"])
        start, length = int(round(bar * exact)), int(exact)
        piece = native[start : start + length]
        return np.pad(piece, (0, length - len(piece)))


def extract_shard(raw_dir, loops: pa.Table, segment_table_: pa.Table, segments: dict, features: dict) -> pa.Table:
    """Feature rows of one segment shard (same order)."""
    extractor = SegmentFeatures(segments, features)
    rows_by_loop = {r["loop_id"]: r for r in loops.to_pylist() if r["status"] == "accepted"}
    meta = segment_table_.select(["segment_id", "loop_id", "bar", "split"]).to_pylist()
    pcm = pcm_array(segment_table_)
    out, native_cache = [], {}
    for i, seg in enumerate(_progress(meta, "features")):
        row = rows_by_loop[seg["loop_id"]]
        if seg["loop_id"] not in native_cache:
            native_cache = {seg["loop_id"]: stretched_loop(raw_dir, row, segments)}  # segments come loop by loop
            bands = extractor.timbre_bands(native_cache[seg["loop_id"]][1])
            if bands.missing_bands:
                log.warning(
                    "%s: %d Hz audio: timbre of %s left empty (NaN): above Nyquist",
                    row["file"],
                    bands.sr,
                    ", ".join(bands.missing_bands),
                )
        native, sr = native_cache[seg["loop_id"]]
        audio = from_pcm(pcm[i])
        timbre_values, problems = extractor.timbre_bands(sr)(extractor.native_bar(native, sr, seg["bar"]))
        for problem in problems:
            if "Nyquist" not in problem:
                log.warning("%s bar %d: timbre %s", row["file"], seg["bar"], problem)
        out.append({**seg, **extractor.frame_features(audio), "hpcp": extractor.hpcp(audio), "timbre": timbre_values})
    for row in out:
        del row["bar"]
    log.info("%d segments -> feature rows", len(out))
    return pa.Table.from_pylist(
        [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in out],
        schema=FEATURE_SCHEMA,
    )


def stats_of_shards(paths: list[str | os.PathLike]) -> dict:
    """feature_stats over the train rows of the feature shards."""
    table = read_tables(paths, FEATURE_SCHEMA, columns=["split", "hpcp", "timbre"])
    train = table.filter(pc.equal(table.column("split"), "train"))
    hpcp = np.array(train.column("hpcp").to_pylist(), dtype=np.float64).reshape(-1, 12)
    timbre_values = np.array(train.column("timbre").to_pylist(), dtype=np.float64).reshape(len(hpcp), -1)
    stats = feature_stats(hpcp, timbre_values)
    log.info("feature statistics from %d train segments (%d in all)", stats["n_segments"], len(table))
    return stats


def confusion_against_labels(loops: list[dict], labels: list[dict], tempo: dict) -> dict:
    """How the tempo check recovers the demo generator's truth (resources/demo/labels/audio_loops.parquet).

    A file *should* be accepted when it is intact audio (defect none or stereo_44k), its annotated
    BPM is the true one (bpm_label 'correct') and that lies in [bpm_min, bpm_max]. Returns the four
    counts and, per (bpm_label, defect), how many of those files were accepted and rejected.
    """
    accepted = {r["file"] for r in loops if r["status"] == "accepted"}
    counts = {
        "accepted_should_accept": 0,
        "rejected_should_accept": 0,
        "accepted_should_reject": 0,
        "rejected_should_reject": 0,
        "by_label": {},
    }
    for label in labels:
        should = (
            label["defect"] in ("none", "stereo_44k")
            and label["bpm_label"] == "correct"
            and tempo["bpm_min"] <= label["true_bpm"] <= tempo["bpm_max"]
        )
        got = label["file"] in accepted
        counts[f"{'accepted' if got else 'rejected'}_should_{'accept' if should else 'reject'}"] += 1
        key = f"{label['bpm_label']}/{label['defect']}"
        counts["by_label"].setdefault(key, {"accepted": 0, "rejected": 0})["accepted" if got else "rejected"] += 1
    return counts
