"""The demo's LMD-shaped MIDI tree: shape, determinism, broken files and labels that match the files."""

import functools
import hashlib
import re
import warnings

import numpy as np
import pretty_midi
import pypianoroll
import pytest

from loopgen.demo import midi_corpus as mc
from loopgen.demo.patterns import Key, Note
from loopgen.demo.songs import Song, Track
from loopgen.roll import BASS_HIGH, BASS_LOW, DRUM_NOTE_TO_COLUMN, N_COLS, N_DRUM
from loopgen.tables import read_table

N_FILES, SEED = 24, 11  # >= 20 files: every kind of file is present


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_midi")
    summary = mc.write_midi_corpus(root / "lmd", root / "labels" / "midi_windows.parquet", N_FILES, SEED)
    labels = read_table(root / "labels" / "midi_windows.parquet", mc.MIDI_WINDOW_SCHEMA).to_pandas()
    return root / "lmd", labels, summary


def read_midi(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi warns about meter/tempo events off track 0
        return pretty_midi.PrettyMIDI(str(path))


@functools.cache
def roll_from_file(path) -> np.ndarray:
    """The stage's roll, computed independently from pretty_midi: ticks from the first time
    signature, floor to 16ths; first drum track's mapped onsets; first bass track's lowest pitch."""
    pm = read_midi(path)
    step_ticks = pm.resolution // 4
    origin = pm.time_to_tick(pm.time_signature_changes[0].time) if pm.time_signature_changes else 0

    def step(seconds):
        return (pm.time_to_tick(seconds) - origin) // step_ticks

    drums = next(i for i in pm.instruments if i.is_drum)
    bass = next(i for i in pm.instruments if not i.is_drum and 32 <= i.program <= 39)
    n_steps = max(step(n.end) for i in pm.instruments for n in i.notes) + 1
    roll = np.zeros((n_steps, N_COLS), dtype=bool)
    for note in drums.notes:
        if note.pitch in DRUM_NOTE_TO_COLUMN and step(note.start) >= 0:
            roll[step(note.start), DRUM_NOTE_TO_COLUMN[note.pitch]] = True
    lowest = np.full(n_steps, 128)
    for note in (n for n in bass.notes if BASS_LOW <= n.pitch <= BASS_HIGH):
        span = slice(max(step(note.start), 0), step(note.end))
        lowest[span] = np.minimum(lowest[span], note.pitch)
    active = np.flatnonzero(lowest < 128)
    roll[active, N_DRUM + lowest[active] - BASS_LOW] = True
    return roll


@functools.cache
def files_by_kind(root):
    """{kind: [path]} via the corpus plan (which file index has which kind)."""
    kinds = {}
    for index, kind in enumerate(mc.file_plan(N_FILES, SEED)):
        data, _ = mc.make_file(kind, index, SEED)
        md5 = hashlib.md5(data).hexdigest()
        kinds.setdefault(kind, []).append(root / md5[0] / f"{md5}.mid")
    return kinds


def test_tree_is_shaped_like_lmd_and_named_by_content(corpus):
    root, _, _ = corpus
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(paths) == N_FILES
    for path in paths:
        relpath = path.relative_to(root).as_posix()
        assert re.fullmatch(r"[0-9a-f]/[0-9a-f]{32}\.mid", relpath), relpath
        assert path.stem == hashlib.md5(path.read_bytes()).hexdigest()
        assert path.parent.name == path.stem[0]


def test_same_seed_gives_byte_identical_files_and_labels(corpus, tmp_path):
    root, labels, _ = corpus
    mc.write_midi_corpus(tmp_path / "lmd", tmp_path / "labels.parquet", N_FILES, SEED)
    first = {p.relative_to(root): p.read_bytes() for p in root.rglob("*.mid")}
    again = {p.relative_to(tmp_path / "lmd"): p.read_bytes() for p in (tmp_path / "lmd").rglob("*.mid")}
    assert first == again
    assert read_table(tmp_path / "labels.parquet", mc.MIDI_WINDOW_SCHEMA).to_pandas().equals(labels)
    other = tmp_path / "other"
    mc.write_midi_corpus(other / "lmd", other / "labels.parquet", N_FILES, SEED + 1)
    shared = set(first) & {p.relative_to(other / "lmd") for p in (other / "lmd").rglob("*.mid")}
    empty = hashlib.md5(b"").hexdigest()
    assert {p.as_posix() for p in shared} <= {f"{empty[0]}/{empty}.mid"}  # only the zero-byte file


def test_every_kind_of_file_is_there_and_is_what_it_claims(corpus):
    root, _, summary = corpus
    kinds = files_by_kind(root)
    assert set(kinds) == set(mc.SPECIAL_KINDS) | {"song"}
    assert summary["kinds"] == {k: len(v) for k, v in sorted(kinds.items())}
    meters = lambda pm: [(t.numerator, t.denominator) for t in pm.time_signature_changes]
    basses = lambda pm: [i for i in pm.instruments if not i.is_drum and 32 <= i.program <= 39]
    for path in kinds["three_four"]:
        assert set(meters(read_midi(path))) == {(3, 4)}
    for path in kinds["six_eight"]:
        assert set(meters(read_midi(path))) == {(6, 8)}
    for path in kinds["meter_change"]:
        assert meters(read_midi(path))[0] == (4, 4) and (3, 4) in meters(read_midi(path))
    for path in kinds["no_time_signature"]:
        assert meters(read_midi(path)) == []
    for path in kinds["no_bass"]:
        assert basses(read_midi(path)) == [] and any(i.is_drum for i in read_midi(path).instruments)
    for path in kinds["no_drums"]:
        assert not any(i.is_drum for i in read_midi(path).instruments) and basses(read_midi(path))
    for path in kinds["two_bass"]:
        assert len(basses(read_midi(path))) == 2
    for path in kinds["song"]:
        pm = read_midi(path)
        assert set(meters(pm)) == {(4, 4)} and len(basses(pm)) == 1 and sum(i.is_drum for i in pm.instruments) == 1


@pytest.mark.parametrize("kind", mc.BROKEN_KINDS)
def test_broken_files_are_really_broken(corpus, kind):
    root, _, _ = corpus
    for path in files_by_kind(root)[kind]:
        with pytest.raises(Exception):  # noqa: B017 -- broken files fail with many types
            read_midi(path)
    if kind == "zero_bytes":
        assert path.stat().st_size == 0


def test_songs_use_gm_conventions_and_the_demo_tempo_range(corpus):
    root, _, _ = corpus
    readable = [p for kind, paths in files_by_kind(root).items() if kind not in mc.BROKEN_KINDS for p in paths]
    tempo_changes = 0
    for path in readable:
        pm = read_midi(path)
        times, tempos = pm.get_tempo_changes()
        assert ((79.9 < tempos) & (tempos < 160.1)).all(), path
        tempo_changes += len(tempos) > 1
        for instrument in pm.instruments:
            # pretty_midi marks notes on channel 10 (index 9) as drums
            assert instrument.is_drum == (instrument.name == "Drums"), (path, instrument.name)
            if "bass" in instrument.name.lower():
                assert 32 <= instrument.program <= 39
    assert tempo_changes >= 2


def test_labels_cover_every_window_of_every_readable_4_4_song(corpus):
    root, labels, _ = corpus
    kinds = files_by_kind(root)
    labelled = {p.relative_to(root).as_posix() for k in ("song", "two_bass", "no_time_signature") for p in kinds[k]}
    assert set(labels.relpath) == labelled
    assert (labels.file_id == labels.relpath.str.slice(2, 34)).all()
    # every window the paper's pipeline cuts from the file (thresholds off), and no other: the
    # awkward endings (a partial last bar) get no label
    from loopgen.midi import MidiParams
    from loopgen.midi_reference import reference_phrases

    every_window = MidiParams(min_drum_cells=0, min_bass_steps=0, assume_4_4_without_time_signature=True)
    for relpath, windows in labels.groupby("relpath"):
        reference = reference_phrases((root / relpath).read_bytes(), every_window)
        assert list(windows.start_bar) == reference.windows.start_bar.tolist(), relpath


def test_labels_agree_with_the_files_read_back_by_pretty_midi(corpus):
    root, labels, _ = corpus
    checked = {True: 0, False: 0}
    for relpath, windows in labels.groupby("relpath"):
        bars = roll_from_file(root / relpath)
        bars = bars[: len(bars) // 16 * 16].reshape(-1, 16, N_COLS)
        for start, is_loop in zip(windows.start_bar, windows.is_loop):
            window = bars[start : start + 8]
            repeats = any(all((window[i] == window[i % period]).all() for i in range(8)) for period in (1, 2, 4))
            assert repeats == is_loop, (relpath, start)
            checked[bool(is_loop)] += 1
    assert checked[True] > 50 and checked[False] > 50


def reference_roll(path) -> np.ndarray:
    """The paper's own pipeline: pypianoroll 'strict' at 24 per beat, then floor to 4 per beat."""
    multitrack = pypianoroll.from_pretty_midi(read_midi(path), resolution=24, algorithm="strict")
    multitrack.set_resolution(4, rounding="floor")
    drums = next(t for t in multitrack.tracks if t.is_drum).pianoroll > 0
    bass = next(t for t in multitrack.tracks if not t.is_drum and 32 <= t.program <= 39).pianoroll > 0
    roll = np.zeros((max(len(drums), len(bass)), N_COLS), dtype=bool)
    for note, column in DRUM_NOTE_TO_COLUMN.items():
        roll[: len(drums), column] |= drums[:, note]
    in_range = bass[:, BASS_LOW : BASS_HIGH + 1]
    active = np.flatnonzero(in_range.any(axis=1))
    roll[active, N_DRUM + in_range[active].argmax(axis=1)] = True  # the lowest sounding pitch
    return roll


def test_files_give_the_papers_reference_pipeline_the_rolls_the_labels_assume(corpus):
    root, labels, _ = corpus
    compared = 0
    for relpath, windows in labels.groupby("relpath"):
        if not read_midi(root / relpath).time_signature_changes:
            continue  # 'strict' needs a time signature; those files are labelled for the 4/4 option
        n_steps = 16 * (windows.start_bar.max() + 8)
        reference = reference_roll(root / relpath)
        reference = np.pad(reference, ((0, max(0, n_steps - len(reference))), (0, 0)))[:n_steps]
        assert np.array_equal(reference, roll_from_file(root / relpath)[:n_steps]), relpath
        compared += 1
    assert compared >= 10


def test_loop_windows_are_a_sizeable_minority_and_dense_enough(corpus):
    root, labels, _ = corpus
    assert 0.15 <= labels.is_loop.mean() <= 0.45
    dense = []
    for relpath, windows in labels.groupby("relpath"):
        roll = roll_from_file(root / relpath)
        for start in windows.start_bar[windows.is_loop]:
            window = roll[16 * start : 16 * (start + 8)]
            dense.append(window[:, :N_DRUM].sum() >= 32 and window[:, N_DRUM:].any(axis=1).sum() >= 32)
    assert np.mean(dense) > 0.9  # loop windows pass the MIDI stage's thresholds (bar breakdowns)


def test_window_is_loop_on_known_rolls():
    rng = np.random.default_rng(0)
    pattern = rng.random((2 * 16, N_COLS)) < 0.2
    roll = np.tile(pattern, (6, 1))  # 12 bars of a 2-bar pattern
    assert mc.window_is_loop(roll).tolist() == [True] * 5
    roll[16 * 9 + 3, 0] ^= True  # one cell changed in bar 9: windows 2..5 contain it
    assert mc.window_is_loop(roll).tolist() == [True, True, False, False, False]
    eight_bar_pattern = rng.random((8 * 16, N_COLS)) < 0.2
    assert mc.window_is_loop(eight_bar_pattern).tolist() == [False]


def test_song_roll_keeps_lowest_bass_note_first_tracks_and_mapped_drums():
    song = Song(
        title="t",
        key=Key(0, "major"),
        bar_steps=[16] * 8,
        time_signatures=[(0, 4, 4)],
        tempos=[(0, 120.0)],
        tracks=[
            Track("Drums", 0, True, [Note(0, 1, 36, 100), Note(0, 1, 54, 100), Note(4, 5, 40, 100)]),
            Track("Bass", 33, False, [Note(0, 4, 40, 100), Note(2, 4, 28, 100), Note(8, 10, 80, 100)]),
            Track("Bass 2", 34, False, [Note(12, 16, 30, 100)]),
        ],
    )
    roll = mc.song_roll(song)
    assert np.flatnonzero(roll[0, :N_DRUM]).tolist() == [0]  # kick; tambourine (54) is dropped
    assert roll[4, 1]  # 40 (electric snare) merges into the snare column
    bass = roll[:, N_DRUM:]
    assert [np.flatnonzero(bass[s]).tolist() for s in range(4)] == [[40 - BASS_LOW]] * 2 + [[28 - BASS_LOW]] * 2
    assert not bass[8:].any()  # 80 is above the roll; the second bass track is ignored
