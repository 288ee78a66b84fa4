"""The raw loop dump: metadata rows, the files on disk, and loading one file as mono audio.

A dump is a folder with audio files (anywhere below it) and `metadata.csv` with the columns
file, bpm, key, genre, category, where `file` is relative to the folder (e.g. audio/x.wav).
Every file and every metadata row ends up in exactly one row of loops.parquet; the problems found
here are the reasons of the rejected ones.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.shards import list_files

AUDIO_SUFFIXES = (".wav", ".aif", ".aiff", ".flac", ".ogg", ".mp3")
METADATA_COLUMNS = ("file", "bpm", "key", "genre", "category")

# One row per file in the dump and per metadata row (see pipeline.check_loops for the columns' meaning).
LOOP_SCHEMA = pa.schema(
    [
        ("file", pa.string()),  # relative to the dump folder, or the metadata value as written
        ("loop_id", pa.string()),  # md5 of the file's bytes (null when unread)
        ("shard", pa.int32()),
        ("annotated_bpm", pa.float32()),  # as in metadata.csv
        ("bpm", pa.float32()),  # the tempo checked (annotated, or doubled when that option is on)
        ("key", pa.string()),
        ("genre", pa.string()),
        ("category", pa.string()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("duration_s", pa.float32()),
        ("beats", pa.float32()),  # estimated duration in beats of the best-scoring span
        ("n_beats", pa.int32()),  # the nearest whole number of beats
        ("confidence", pa.float32()),
        ("trim", pa.string()),  # which span scored best: none | leading | trailing | both
        ("start_sample", pa.int64()),  # that span, in samples of the file
        ("end_sample", pa.int64()),
        ("n_segments", pa.int32()),
        ("split", pa.string()),  # train | test (accepted loops)
        ("status", pa.string()),  # accepted | rejected
        ("reason", pa.string()),
        ("note", pa.string()),  # what was done to the audio: down-mix, resampling
    ]
)


class AudioError(ValueError):
    """A file that cannot be used as audio; the message is the reason a person reads."""


@dataclass
class Audio:
    samples: np.ndarray  # mono float32
    sr: int
    channels: int
    loop_id: str  # md5 of the file's bytes

    @property
    def note(self) -> str:
        return f"{self.channels} channels down-mixed to mono" if self.channels > 1 else ""


def read_metadata(path: str | os.PathLike) -> list[dict]:
    """Rows of metadata.csv as dicts of strings (missing cells are ''); header must name `file` and `bpm`."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [c for c in ("file", "bpm") if c not in header]
        if missing:
            raise ValueError(f"{path}: metadata has no column {missing[0]!r} (header: {', '.join(header)})")
        reader.fieldnames = header
        return [{c: (row.get(c) or "").strip() for c in METADATA_COLUMNS} for row in reader]


def member_path(name: str) -> str | None:
    """`name` (a metadata file value) as a '/'-separated path inside the dump, or None if it would
    leave the dump folder (absolute, or climbing with '..')."""
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or normal == ".":
        return None
    return normal


def parse_bpm(text: str) -> tuple[float | None, str | None]:
    """(bpm, None) or (None, reason) for a metadata bpm cell."""
    if not text:
        return None, "bpm missing in metadata"
    try:
        bpm = float(text)
    except ValueError:
        return None, f"bpm not a number in metadata: {text[:40]!r}"
    if not math.isfinite(bpm) or bpm <= 0:
        return None, f"bpm not a positive number in metadata: {text[:40]!r}"
    return bpm, None


def audio_files(raw_dir: str | os.PathLike) -> list[str]:
    return list_files(raw_dir, AUDIO_SUFFIXES)


def load_audio(path: str | os.PathLike) -> Audio:
    """Read a file as mono float32 at its own sample rate; AudioError with the reason otherwise."""
    import soundfile

    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise AudioError("unreadable audio: empty file (0 bytes)")
    try:
        with soundfile.SoundFile(path) as f:
            samples = f.read(dtype="float32", always_2d=True)
            sr, channels = f.samplerate, f.channels
    except Exception as error:  # noqa: BLE001 -- libsndfile's errors have no common base class worth naming
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = message.split("': ", 1)[-1]  # drop libsndfile's "Error opening '<path>': "
        raise AudioError(f"unreadable audio: {message}") from None
    if len(samples) == 0:
        raise AudioError("unreadable audio: no samples")
    if not np.isfinite(samples).all():
        raise AudioError("unreadable audio: samples are not finite")
    return Audio(samples.mean(axis=1), sr, channels, hashlib.md5(data).hexdigest())
