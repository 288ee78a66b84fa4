"""LoopNet's data: the audio stage's segment + feature shards joined by segment_id, global
features scaled to [0, 1] with the train-split statistics, frame-rate controls interpolated to
the sample rate (the network's inputs)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.audio.features import FEATURE_SCHEMA
from loopgen.audio.segments import SEGMENT_SCHEMA
from loopgen.loopnet.variants import FEATURE_HOP, N_SAMPLES, TIME_VARYING

log = logging.getLogger("loopgen.loopnet")


@dataclass
class SegmentSet:
    """Segments of one split, joined with their features, in a stable order (sorted segment_id)."""

    segment_id: list[str]
    loop_id: list[str]
    frames: np.ndarray  # (N, 4, F) float32: kick, snare, hihat, envelope at frame rate
    global_raw: np.ndarray  # (N, 33) float32: HPCP (12) then timbre (21), unscaled
    pcm: np.ndarray | None = None  # (N, N_SAMPLES) int16
    bar: np.ndarray | None = None  # (N,) int

    def __len__(self) -> int:
        return len(self.segment_id)

    def subset(self, index) -> SegmentSet:
        index = np.asarray(index)
        return SegmentSet(
            segment_id=[self.segment_id[i] for i in index],
            loop_id=[self.loop_id[i] for i in index],
            frames=self.frames[index],
            global_raw=self.global_raw[index],
            pcm=None if self.pcm is None else self.pcm[index],
            bar=None if self.bar is None else self.bar[index],
        )


def _read_split(paths, schema, columns: list[str], split: str | None) -> pa.Table | None:
    """Concatenate shards (checked against `schema`), keep one split, remember each row's file."""
    import pyarrow.compute as pc

    from loopgen.tables import read_table

    tables = []
    for path in paths:
        table = read_table(path, schema, columns)
        if split is not None:
            table = table.filter(pc.equal(table["split"], split))
        tables.append(table.append_column("source", pa.array([str(path)] * table.num_rows, pa.string())))
    return pa.concat_tables(tables) if tables else None


def _drop_bad_lengths(table: pa.Table, lengths: dict[str, int]) -> pa.Table:
    """Leave out rows whose list columns do not have the expected lengths, one warning line each."""
    import pyarrow.compute as pc

    ok = np.ones(table.num_rows, dtype=bool)
    for column, expected in lengths.items():
        found = np.asarray(pc.fill_null(pc.list_value_length(table[column]), -1))
        for i in np.flatnonzero((found != expected) & ok):
            log.warning(
                "%s: segment %s: %s has %d values, expected %d; left out",
                table["source"][i].as_py(),
                table["segment_id"][i].as_py(),
                column,
                found[i],
                expected,
            )
        ok &= found == expected
    return table.filter(pa.array(ok))


def _matrix(column: pa.ChunkedArray, length: int, dtype=np.float32) -> np.ndarray:
    """A list column whose rows all have `length` values -> (N, length) array."""
    if len(column) == 0:
        return np.zeros((0, length), dtype)
    return np.asarray(column.combine_chunks().flatten(), dtype=dtype).reshape(-1, length)


def _common_length(column: pa.ChunkedArray) -> int:
    """The most frequent list length of a column (the frame count every segment should have)."""
    import pyarrow.compute as pc

    lengths = np.asarray(pc.fill_null(pc.list_value_length(column), -1))
    values, counts = np.unique(lengths[lengths >= 0], return_counts=True)
    return int(values[np.argmax(counts)]) if len(values) else 0


@dataclass
class SegmentAudio:
    """The audio of segments (sorted by segment_id), as read from the segment shards."""

    segment_id: list[str]
    loop_id: list[str]
    bar: np.ndarray  # (N,) int
    pcm: np.ndarray  # (N, N_SAMPLES) int16
    source: list[str]  # the shard each row came from (for messages)

    def __len__(self) -> int:
        return len(self.segment_id)


READ_BATCH = 256  # segments decoded at a time (~15 MB of audio)


def _row_groups_of_split(path, split: str | None):
    """(row group index, boolean mask of its rows in `split`) for the row groups that hold any.
    Only the small `split` column is read here; the audio stage writes one row group per split
    (loopgen.audio.segments.write_segments), so a reader of the test split never decodes the
    training audio."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    for group in range(file.num_row_groups):
        if split is None:
            yield group, None
            continue
        splits = np.asarray(file.read_row_group(group, columns=["split"])["split"].to_pylist(), dtype=object)
        mask = splits == split
        if mask.any():
            yield group, mask


def read_segment_audio(segment_paths, split: str | None = None) -> SegmentAudio:
    """Segments of one split ('train' | 'test' | None = all), sorted by segment_id, wrong-length
    rows left out with a warning.

    Memory: the audio is copied batch by batch into one preallocated (N, N_SAMPLES) int16 array
    (two passes: ids and lengths first, then the audio), so the peak is the split's PCM plus one
    batch of READ_BATCH segments, not every shard's audio and its copies (reviews/paper-scale-2026-11.md,
    risk 9)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from loopgen.tables import SchemaMismatch

    meta_columns = ["segment_id", "loop_id", "bar", "split"]
    places = []  # (path, row group, kept rows of each batch) in reading order
    ids, loops, bars, sources = [], [], [], []
    for path in segment_paths:
        file_schema = pq.read_schema(path)  # the footer only
        for name in [*meta_columns, "pcm"]:
            if name not in file_schema.names or file_schema.field(name).type != SEGMENT_SCHEMA.field(name).type:
                raise SchemaMismatch(f"{path}: column {name!r} missing or not {SEGMENT_SCHEMA.field(name).type}")
        file = pq.ParquetFile(path, buffer_size=1 << 22, pre_buffer=False)  # stream pages, not whole column chunks
        for group, _ in _row_groups_of_split(path, split):
            kept = []
            for batch in file.iter_batches(READ_BATCH, row_groups=[group], columns=[*meta_columns, "pcm"]):
                lengths = np.asarray(pc.fill_null(pc.list_value_length(batch["pcm"]), -1))
                in_split = (
                    np.ones(len(lengths), bool)
                    if split is None
                    else np.asarray(batch["split"].to_pylist(), object) == split
                )
                for i in np.flatnonzero(in_split & (lengths != N_SAMPLES)):
                    log.warning(
                        "%s: segment %s: pcm has %d values, expected %d; left out",
                        path,
                        batch["segment_id"][int(i)].as_py(),
                        lengths[i],
                        N_SAMPLES,
                    )
                rows = np.flatnonzero(in_split & (lengths == N_SAMPLES))
                kept.append(rows)
                for name, out in (("segment_id", ids), ("loop_id", loops), ("bar", bars)):
                    values = batch[name].to_pylist()
                    out += [values[i] for i in rows]
                sources += [str(path)] * len(rows)
            places.append((path, group, kept))
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable") if ids else np.zeros(0, int)
    position = np.empty(len(ids), dtype=np.int64)
    position[order] = np.arange(len(ids))
    pcm = np.empty((len(ids), N_SAMPLES), np.int16)
    done = 0
    for path, group, kept in places:
        batches = pq.ParquetFile(path, buffer_size=1 << 22, pre_buffer=False).iter_batches(
            READ_BATCH, row_groups=[group], columns=["pcm"]
        )
        for batch, rows in zip(batches, kept):
            if len(rows):
                column = batch["pcm"]
                values, offsets = np.asarray(column.values, np.int16), np.asarray(column.offsets)
                for k, row in enumerate(rows):
                    pcm[position[done + k]] = values[offsets[row] : offsets[row] + N_SAMPLES]
            done += len(rows)
    return SegmentAudio(
        segment_id=[ids[i] for i in order],
        loop_id=[loops[i] for i in order],
        bar=np.asarray(bars, dtype=int)[order] if bars else np.zeros(0, int),
        pcm=pcm,
        source=[sources[i] for i in order],
    )


def load_segments(segment_paths, feature_paths, split: str | None = None, with_pcm: bool = True) -> SegmentSet:
    """Segments of one split joined with their features on segment_id, sorted by segment_id.

    Rows with wrong-length lists, and segments without a feature row, are left out with a warning
    line each that names the file and the segment. with_pcm=False reads only the features."""
    feats = _read_split(
        feature_paths, FEATURE_SCHEMA, ["segment_id", "loop_id", "split", *TIME_VARYING, "hpcp", "timbre"], split
    )
    if feats is None or feats.num_rows == 0:
        return _empty_set(with_pcm)
    n_frames = _common_length(feats["kick"])
    if n_frames != 1 + N_SAMPLES // FEATURE_HOP:
        raise ValueError(
            f"{feature_paths[0]}: {n_frames} feature frames a segment; LoopNet expects "
            f"{1 + N_SAMPLES // FEATURE_HOP} (hop {FEATURE_HOP}, config audio.features.hop)"
        )
    feats = _drop_bad_lengths(feats, {**{name: n_frames for name in TIME_VARYING}, "hpcp": 12, "timbre": 21})
    feature_ids = feats["segment_id"].to_pylist()
    feature_row = {sid: i for i, sid in enumerate(feature_ids)}
    frames = np.stack([_matrix(feats[name], n_frames) for name in TIME_VARYING], axis=1)
    global_raw = np.concatenate([_matrix(feats["hpcp"], 12), _matrix(feats["timbre"], 21)], axis=1)
    loop_of = feats["loop_id"].to_pylist()
    if not with_pcm:
        ids = sorted(feature_ids)
        rows = np.array([feature_row[sid] for sid in ids], dtype=int)
        return SegmentSet(ids, [loop_of[r] for r in rows], frames[rows], global_raw[rows])
    audio = read_segment_audio(segment_paths, split)
    keep = []
    for i, (sid, source) in enumerate(zip(audio.segment_id, audio.source)):
        if sid in feature_row:
            keep.append(i)
        else:
            log.warning("%s: segment %s has no feature row; left out", source, sid)
    rows = np.array([feature_row[audio.segment_id[i]] for i in keep], dtype=int)
    every = len(keep) == len(audio)  # the usual case: no copy of the audio
    return SegmentSet(
        segment_id=[audio.segment_id[i] for i in keep],
        loop_id=[audio.loop_id[i] for i in keep],
        frames=frames[rows],
        global_raw=global_raw[rows],
        pcm=audio.pcm if every else audio.pcm[keep],
        bar=audio.bar if every else audio.bar[keep],
    )


def _empty_set(with_pcm: bool) -> SegmentSet:
    return SegmentSet(
        [],
        [],
        np.zeros((0, 4, 1), np.float32),
        np.zeros((0, 33), np.float32),
        np.zeros((0, N_SAMPLES), np.int16) if with_pcm else None,
        np.zeros(0, int) if with_pcm else None,
    )


@dataclass
class GlobalScaler:
    """[0, 1] scaling of the 33 global features (12 HPCP + 21 timbre) with the audio stage's
    train-split statistics (feature_stats.json), clipped as loopgen.audio.features.scale_global
    does. A NaN (a timbral model that failed, e.g. on a silent band) becomes 0: nothing in that band."""

    stats: dict

    def scale(self, raw: np.ndarray) -> np.ndarray:
        from loopgen.audio.features import scale_global

        raw = np.asarray(raw, dtype=np.float64)
        scaled = np.concatenate(
            [scale_global(raw[:, :12], self.stats, "hpcp"), scale_global(raw[:, 12:], self.stats, "timbre")], axis=1
        )
        return np.nan_to_num(scaled, nan=0.0).astype(np.float32)

    @classmethod
    def from_file(cls, path) -> GlobalScaler:
        stats = json.loads(Path(path).read_text())
        for name, size in (("hpcp", 12), ("timbre", 21)):
            entry = stats.get(name)
            if not isinstance(entry, dict) or len(entry.get("min", ())) != size or len(entry.get("max", ())) != size:
                raise ValueError(f"{path}: expected '{name}' with {size} min and max values")
        return cls({name: {"min": stats[name]["min"], "max": stats[name]["max"]} for name in ("hpcp", "timbre")})


def normalise_activations(frames):
    """Divide each drum activation (channels 0-2) by its per-segment max (SPEC §6); keep the envelope."""
    import torch

    activations = frames[:, :3] / frames[:, :3].amax(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.cat([activations, frames[:, 3:]], dim=1)


def frames_to_samples(frames, n_samples: int = N_SAMPLES, hop: int = FEATURE_HOP):
    """(B, C, F) frame-rate values -> (B, C, n_samples), linear interpolation.

    Frame f describes the sample f * hop (a centred analysis); samples past the last frame keep
    its value. (The paper used a spline; linear interpolation cannot overshoot below zero.)"""
    import torch

    n_frames = frames.shape[-1]
    position = torch.arange(n_samples, device=frames.device, dtype=frames.dtype) / hop
    left = position.floor().long().clamp(max=n_frames - 1)
    right = (left + 1).clamp(max=n_frames - 1)
    weight = (position - left.to(frames.dtype)).clamp(0, 1)
    return frames[..., left] * (1 - weight) + frames[..., right] * weight


def network_inputs(frames, global_scaled, use_envelope: bool):
    """Frame-rate controls (B, 4, F) + scaled globals (B, 33) -> the WaveUNet's two inputs."""
    time_varying = frames_to_samples(normalise_activations(frames))
    if not use_envelope:
        time_varying = time_varying[:, :3]
    return time_varying, global_scaled
