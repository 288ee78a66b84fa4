"""The demo's Looperman-shaped audio dump (`audio/<name>.wav` + `metadata.csv`) and its labels.

Each loop is a drum + bass (+ sometimes chords) pattern of 1, 2, 4 or 8 bars rendered through
FluidSynth (loopgen.render), cut to exactly n_bars * 4 * 60 / bpm seconds with its release tails
wrapped onto its start, as a DAW exports a seamless loop. The dump has what a scrape has: uploader
BPMs that are wrong (half, double, a few BPM off), missing or not numbers; loops with silence
before or after them; corrupt files (empty, not audio, truncated), silent files, a few stereo
files; a metadata row for a file that does not exist and a file with no metadata row. The truth
about every file goes to a separate Parquet file (AUDIO_LOOP_SCHEMA).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopgen.demo import patterns as pt
from loopgen.demo.plans import shuffled_plan
from loopgen.tables import temporary_path, write_table

log = logging.getLogger(__name__)

AUDIO_LOOP_SCHEMA = pa.schema(
    [
        ("file", pa.string()),  # 'audio/<name>.wav', relative to the dump folder (as in metadata.csv)
        ("true_bpm", pa.float64()),  # the tempo the loop was rendered at
        ("n_bars", pa.int32()),  # 4/4 bars in the loop (1, 2, 4 or 8)
        ("annotated_bpm", pa.float64()),  # the uploader's BPM as a number; null when missing or garbage
        ("bpm_label", pa.string()),  # correct | half | double | off | missing | garbage
        ("defect", pa.string()),  # none | zero_bytes | not_audio | silent | stereo_44k | truncated
        ("leading_silence_s", pa.float64()),  # deliberate silence before the loop's first beat
        ("trailing_silence_s", pa.float64()),  # deliberate silence after its last bar
    ]
)
METADATA_COLUMNS = ("file", "bpm", "key", "genre", "category")
SAMPLE_RATE = 44100

BAR_SHARES = {8: 0.40, 4: 0.25, 2: 0.20}  # the rest are 1-bar loops; 8-bar loops train the detector
DEFECT_SHARES = {"zero_bytes": 0.004, "not_audio": 0.0125, "truncated": 0.0125, "silent": 0.0125, "stereo_44k": 0.03}
BPM_LABEL_SHARES = {"half": 0.05, "double": 0.05, "off": 0.08, "missing": 0.05, "garbage": 0.04}
TEMPO_SHARES = {"slow": 0.125, "fast": 0.125}  # 110-119 and 141-150 BPM; the rest 120-140
SILENCE_SHARE = 0.12  # of loops with leading silence, and (independently) with trailing silence

GENRES = (
    "Hip Hop",
    "Trap",
    "House",
    "Techno",
    "Pop",
    "Rock",
    "Funk",
    "R&B",
    "Electronic",
    "Lo-Fi",
    "Boom Bap",
    "Dubstep",
)
GARBAGE_BPMS = ("fast", "n/a", "???", "120-140", "bpm", "tempo?")
WORDS = ("dark", "chill", "hard", "smooth", "dirty", "deep", "bouncy", "melodic", "groovy", "raw", "sunny", "night")
BASS_SOUNDS = (33, 34, 35, 36, 38, 39)  # fingered, picked, fretless, slap, synth basses: audible on TimGM6mb
CHORD_SOUNDS = (0, 4, 5, 16, 48, 50, 81, 88, 89)


def loop_score(rng: np.random.Generator, n_bars: int, chords: bool):
    """A drum + bass (+ chords) loop on the step grid: a 1-, 2- or 4-bar pattern repeated to n_bars,
    an 8-bar loop sometimes ending in a fill (still one loop, as uploaded)."""
    key = pt.random_key(rng)
    period = int(rng.choice([p for p in (1, 2, 4) if p <= n_bars]))
    groove = pt.random_groove(rng)
    grooves = [groove if k == 0 or rng.random() < 0.5 else pt.mutate(groove, rng) for k in range(period)]
    degrees = pt.progression(rng, key, period)
    rhythm = pt.random_bass_rhythm(rng)
    bars = [pt.bass_bar(rng, key, d, rhythm, 0) for d in degrees]
    drum_bars = [g.notes(0, rng) for g in grooves]
    style = ("pad", "stabs", "arp")[rng.integers(3)]
    tracks = {"drums": [], "bass": [], "chords": []}
    for bar in range(n_bars):
        start = 16 * bar
        fill = n_bars == 8 and bar == 7 and rng.random() < 0.25
        tracks["drums"] += (
            pt.fill(grooves[bar % period], start, rng) if fill else pt.shifted(drum_bars[bar % period], start)
        )
        tracks["bass"] += pt.shifted(bars[bar % period], start)
        if chords:
            tracks["chords"] += pt.chord_bar(rng, key, degrees[bar % period], start, 16, style)
    return key, tracks


def to_pretty_midi(tracks: dict, bpm: float, rng: np.random.Generator):
    import pretty_midi

    seconds_per_step = 60.0 / bpm / pt.STEPS_PER_BEAT
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    programs = {"drums": 0, "bass": int(rng.choice(BASS_SOUNDS)), "chords": int(rng.choice(CHORD_SOUNDS))}
    for name, notes in tracks.items():
        if not notes:
            continue
        instrument = pretty_midi.Instrument(program=programs[name], is_drum=name == "drums", name=name)
        for note in notes:
            end = note.start + 0.5 if name == "drums" else note.end
            start, end = note.start * seconds_per_step, end * seconds_per_step
            instrument.notes.append(pretty_midi.Note(note.velocity, note.pitch, start, end))
        pm.instruments.append(instrument)
    return pm


def render_loop(tracks: dict, bpm: float, n_bars: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo float audio of exactly n_bars at bpm (frames = round(n_bars * 240 / bpm * 44100))."""
    from loopgen.render import render

    audio = render(to_pretty_midi(tracks, bpm, rng), SAMPLE_RATE, duration=n_bars * 4 * 60.0 / bpm, wrap_tail=True)
    return audio * (rng.uniform(0.5, 0.95) / max(float(np.abs(audio).max()), 1e-9))


def wav_bytes(audio: np.ndarray, channels: int) -> bytes:
    import soundfile

    from loopgen.render import to_int16

    buffer = io.BytesIO()
    soundfile.write(buffer, to_int16(audio, channels), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def not_audio(name: str, rng: np.random.Generator) -> bytes:
    """What a scrape saves under a .wav name when the download failed."""
    if rng.random() < 0.5:
        return f"<!DOCTYPE html>\n<html><body><p>Please log in to download {name}.</p></body></html>\n".encode()
    return f'{{"error": "rate limited", "file": "{name}"}}\n'.encode()


def annotation(bpm: float, label: str, rng: np.random.Generator) -> tuple[str, float | None]:
    """The uploader's BPM field (a string, as in the CSV) and its value as a number, if it is one."""
    off_by = int(rng.choice((-4, -3, -2, -1, 1, 2, 3, 4)))
    value = {"correct": bpm, "half": bpm / 2, "double": bpm * 2, "off": bpm + off_by}.get(label)
    if value is None:
        return ("" if label == "missing" else str(rng.choice(GARBAGE_BPMS))), None
    text = f"{value:g}" if rng.random() < 0.8 else f"{value:.1f}"
    return text, float(value)


def tempo(rng: np.random.Generator, band: str) -> float:
    low, high = {"slow": (110, 119), "fast": (141, 150)}.get(band, (120, 140))
    return float(rng.integers(low, high + 1))


class _Plans:
    """Per-file choices with exact shares, each drawn from its own seeded stream."""

    def __init__(self, n: int, seed: int):
        rng = lambda k: np.random.default_rng([seed, 3, k])
        self.n_bars = [int(b) for b in shuffled_plan(n, {str(k): v for k, v in BAR_SHARES.items()}, "1", rng(0))]
        self.defect = shuffled_plan(n, DEFECT_SHARES, "none", rng(1), at_most={"zero_bytes": 1})
        self.bpm_label = shuffled_plan(n, BPM_LABEL_SHARES, "correct", rng(2))
        self.tempo_band = shuffled_plan(n, TEMPO_SHARES, "core", rng(3))
        self.leading = shuffled_plan(n, {"yes": SILENCE_SHARE}, "no", rng(4))
        self.trailing = shuffled_plan(n, {"yes": SILENCE_SHARE}, "no", rng(5))
        self.loop_ids = rng(6).choice(9_000_000, size=n, replace=False) + 1_000_000
        # One clean file gets no metadata row (and one row names a file that is not there).
        clean = [i for i in range(n) if self.defect[i] == "none"]
        self.without_row = int(rng(7).choice(clean)) if clean else None


def loop_name(user_id: int, loop_id: int, *words: str) -> str:
    """A Looperman-style file name: 'looperman-l-0120686-2530041-bouncy-rnb-full-mix.wav'."""
    slug = "-".join(w.lower().replace("&", "n").replace(" ", "-") for w in words)
    return f"looperman-l-{user_id:07d}-{loop_id:07d}-{slug}.wav"


def make_loop(index: int, seed: int, plans: _Plans) -> tuple[bytes, dict, dict]:
    """File bytes, metadata row and label row of loop `index`."""
    rng = np.random.default_rng([seed, 2, index])
    n_bars, defect, bpm = plans.n_bars[index], plans.defect[index], tempo(rng, plans.tempo_band[index])
    genre = str(rng.choice(GENRES))
    chords = bool(rng.random() < 0.4)
    category = str(rng.choice(("Piano", "Synth", "Full Mix") if chords else ("Drums", "Bass", "Full Mix")))
    name = loop_name(
        int(rng.integers(100000, 9999999)), int(plans.loop_ids[index]), str(rng.choice(WORDS)), genre, category
    )
    file = f"audio/{name}"
    key, tracks = loop_score(rng, n_bars, chords)
    audible = defect in ("none", "stereo_44k")
    lead = round(rng.uniform(0.05, 0.6) * SAMPLE_RATE) if audible and plans.leading[index] == "yes" else 0
    trail = round(rng.uniform(0.2, 1.5) * SAMPLE_RATE) if audible and plans.trailing[index] == "yes" else 0
    audio = render_loop(tracks, bpm, n_bars, rng)
    audio = np.concatenate([np.zeros((lead, 2), np.float32), audio, np.zeros((trail, 2), np.float32)])
    data = _file_bytes(defect, audio, name, rng)
    text, annotated = annotation(bpm, plans.bpm_label[index], rng)
    has_row = index != plans.without_row
    metadata = {
        "file": file,
        "bpm": text,
        "key": key.name if rng.random() < 0.9 else "",
        "genre": genre,
        "category": category,
    }
    label = {
        "file": file,
        "true_bpm": bpm,
        "n_bars": n_bars,
        "annotated_bpm": annotated if has_row else None,
        "bpm_label": plans.bpm_label[index] if has_row else "missing",
        "defect": defect,
        "leading_silence_s": lead / SAMPLE_RATE,
        "trailing_silence_s": trail / SAMPLE_RATE,
    }
    return data, (metadata if has_row else None), label


def _file_bytes(defect: str, audio: np.ndarray, name: str, rng: np.random.Generator) -> bytes:
    if defect == "zero_bytes":
        return b""
    if defect == "not_audio":
        return not_audio(name, rng)
    if defect == "silent":
        return wav_bytes(np.zeros_like(audio), 1)
    data = wav_bytes(audio, 2 if defect == "stereo_44k" else 1)
    if defect == "truncated":  # the header still promises every frame
        return data[: int(len(data) * rng.uniform(0.3, 0.7))]
    return data


def write_audio_corpus(dump: str | os.PathLike, labels_path: str | os.PathLike, n_files: int, seed: int) -> dict:
    """Write the Looperman-shaped dump and its labels; return counts for the log.

    Built beside its final name and renamed at the end; `dump` must not exist or be empty.
    """
    dump = Path(dump)
    if dump.exists() and any(dump.iterdir()):
        raise FileExistsError(f"{dump}: demo audio dump exists and is not empty; remove it first")
    staging = temporary_path(dump)  # also clears the staging folders of killed runs
    (staging / "audio").mkdir(parents=True)
    plans = _Plans(n_files, seed)
    metadata, labels = [], []
    for index in range(n_files):
        data, row, label = make_loop(index, seed, plans)
        (staging / label["file"]).write_bytes(data)
        labels.append(label)
        if row is not None:
            metadata.append(row)
    metadata.append(_ghost_row(seed))
    _write_metadata(staging / "metadata.csv", sorted(metadata, key=lambda r: r["file"]))
    write_table(labels, labels_path, AUDIO_LOOP_SCHEMA)
    if dump.exists():
        dump.rmdir()
    staging.rename(dump)
    summary = {
        "files": n_files,
        "metadata_rows": len(metadata),
        "n_bars": dict(sorted(Counter(label["n_bars"] for label in labels).items())),
        "defects": dict(sorted(Counter(label["defect"] for label in labels).items())),
        "bpm_labels": dict(sorted(Counter(label["bpm_label"] for label in labels).items())),
    }
    log.info(
        "demo audio: %d files, %d metadata rows; bars %s; defects %s; bpm labels %s",
        n_files,
        len(metadata),
        summary["n_bars"],
        summary["defects"],
        summary["bpm_labels"],
    )
    return summary


def _ghost_row(seed: int) -> dict:
    """A metadata row whose file was never downloaded."""
    rng = np.random.default_rng([seed, 4])
    name = loop_name(int(rng.integers(100000, 9999999)), 1, "deleted", "loop")
    return {"file": f"audio/{name}", "bpm": "128", "key": "Am", "genre": "House", "category": "Drums"}


def _write_metadata(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METADATA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
