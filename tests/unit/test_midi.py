"""Phrase extraction (SPEC section 1) on small hand-built MIDI files whose rolls are known.

Every file is also run through the paper's pipeline (loopgen.midi_reference): our path must give
the same phrases, bit for bit.
"""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from loopgen.midi import MidiError, MidiParams, extract_phrases
from loopgen.midi_reference import reference_phrases
from loopgen.roll import DRUM_NOTE_TO_COLUMN, N_DRUM, bar_correlation, unpack_rolls

TPB = 480
STEP = TPB // 4  # ticks per 16th-note step
BAR = 16 * STEP
LOOSE = MidiParams(min_drum_cells=0, min_bass_steps=0)  # every window, to look at rolls


def midi_file(*tracks, tpb=TPB) -> bytes:
    """A type-1 file from tracks of (tick, mido message) pairs in any order."""
    f = mido.MidiFile(ticks_per_beat=tpb)
    for events in tracks:
        track, last = mido.MidiTrack(), 0
        for tick, message in sorted(events, key=lambda e: e[0]):
            track.append(message.copy(time=tick - last))
            last = tick
        f.tracks.append(track)
    buffer = io.BytesIO()
    f.save(file=buffer)
    return buffer.getvalue()


def meta(time_signatures=((0, 4, 4),), tempos=((0, 120.0),)):
    events = [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in time_signatures]
    return events + [(t, mido.MetaMessage("set_tempo", tempo=round(6e7 / bpm))) for t, bpm in tempos]


def notes(channel, program, spans, velocity=100):
    """Note events from (start_tick, end_tick, pitch)."""
    events = [(0, mido.Message("program_change", channel=channel, program=program))]
    for start, end, pitch in spans:
        events.append((start, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        events.append((end, mido.Message("note_off", channel=channel, note=pitch)))
    return events


def drums(hits, channel=9):
    """Drum events from (step, pitch): one short hit each."""
    return notes(channel, 0, [(s * STEP, s * STEP + STEP // 2, p) for s, p in hits])


def bass(spans, program=33, channel=0):
    """Bass events from (first_step, last_step, pitch), in steps."""
    return notes(channel, program, [(a * STEP, (b + 1) * STEP, p) for a, b, p in spans])


def song(drum_hits, bass_spans, **meta_args) -> bytes:
    return midi_file(meta(**meta_args), drums(drum_hits), bass(bass_spans))


def both(data: bytes, params: MidiParams = LOOSE):
    """Our phrases, after checking that the reference gives the same (or the same rejection)."""
    try:
        ours = extract_phrases(data, params)
    except MidiError as error:
        with pytest.raises(MidiError) as ref_error:
            reference_phrases(data, params)
        assert str(ref_error.value).split(":")[0] == str(error).split(":")[0]
        raise
    ref = reference_phrases(data, params)
    assert np.array_equal(ours.windows.start_bar, ref.windows.start_bar)
    assert np.array_equal(ours.windows.packed, ref.windows.packed)
    assert np.array_equal(ours.tempo_bpm, ref.tempo_bpm)
    assert np.array_equal(ours.windows.n_drum_cells, ref.windows.n_drum_cells)
    assert np.array_equal(ours.windows.n_bass_steps, ref.windows.n_bass_steps)
    return ours


def first_roll(data: bytes, params: MidiParams = LOOSE) -> np.ndarray:
    phrases = both(data, params)
    assert phrases.windows.start_bar[0] == 0
    return unpack_rolls(phrases.windows.packed[:1])[0]


LAST_STEP = (127, 127, 40)  # a bass note in the last step, so the file spans 8 bars


def lit(roll, cols=slice(None)):
    return sorted(map(tuple, np.argwhere(roll[:, cols]).tolist()))


# ---- drums ---------------------------------------------------------------------------------


def test_each_drum_note_lands_in_its_column_and_others_are_dropped():
    mapped = sorted(DRUM_NOTE_TO_COLUMN)
    unmapped = [54, 56, 60, 34, 81]
    hits = [(2 * i, note) for i, note in enumerate(mapped)] + [(2 * i + 1, note) for i, note in enumerate(unmapped)]
    roll = first_roll(song(hits, [LAST_STEP]))
    assert lit(roll, slice(0, N_DRUM)) == [(2 * i, DRUM_NOTE_TO_COLUMN[note]) for i, note in enumerate(mapped)]


def test_drum_notes_of_one_column_merge_by_or():
    hits = [(0, 35), (0, 36), (4, 42), (4, 44), (4, 42), (8, 49), (8, 55), (8, 57)]
    roll = first_roll(song(hits, [LAST_STEP]))
    assert lit(roll, slice(0, N_DRUM)) == [(0, 0), (4, 2), (8, 6)]


def test_drums_are_onsets_even_when_held():
    held = midi_file(meta(), notes(9, 0, [(0, 4 * STEP, 36)]), bass([LAST_STEP]))
    assert lit(first_roll(held), slice(0, N_DRUM)) == [(0, 0)]


def test_only_the_first_drum_track_counts():
    second = drums([(3, 38)])
    data = midi_file(meta(), drums([(0, 36)]), second, bass([LAST_STEP]))
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0)]


# ---- bass ----------------------------------------------------------------------------------


def test_bass_keeps_the_lowest_of_simultaneous_pitches_in_range():
    spans = [(0, 7, 45), (4, 11, 40), (16, 19, 23), (16, 19, 50), (20, 23, 72), LAST_STEP]
    roll = first_roll(song([(0, 36)], spans))
    bass_cells = [(t, c + 24) for t, c in lit(roll, slice(N_DRUM, None))]
    expected = [(t, 45) for t in range(0, 4)] + [(t, 40) for t in range(4, 12)] + [(t, 50) for t in range(16, 20)]
    assert bass_cells == expected + [(127, 40)]  # 23 and 72 are out of range: dropped, not "lowest"
    assert (roll[:, N_DRUM:].sum(axis=1) <= 1).all()


def test_first_bass_program_track_only_and_other_instruments_ignored():
    piano = notes(1, 0, [(0, BAR, 36)])  # program 0: not bass, though low
    second_bass = notes(2, 34, [(0, BAR, 30)])
    data = midi_file(meta(), drums([(0, 36)]), piano, bass([(0, 3, 50), LAST_STEP]), second_bass)
    roll = first_roll(data)
    assert lit(roll, slice(N_DRUM, None)) == [(t, 50 - 24) for t in range(4)] + [(127, 40 - 24)]


def test_bass_program_is_the_one_at_the_note_off():
    # pretty_midi files a note under the program current when it ends
    events = notes(0, 33, [(0, STEP, 40)]) + [(STEP // 2, mido.Message("program_change", channel=0, program=0))]
    data = midi_file(meta(), drums([(0, 36)]), events, bass([LAST_STEP], channel=1))
    roll = first_roll(data)
    assert lit(roll, slice(N_DRUM, None)) == [(127, 40 - 24)]


# ---- time signatures, first beat, grid -----------------------------------------------------


@pytest.mark.parametrize(
    "time_signatures, reason",
    [
        ((), "no time signature"),
        (((0, 3, 4),), "time signature 3/4 at bar 1"),
        (((0, 4, 4), (4 * BAR, 6, 8)), "time signature 6/8 at bar 5"),
    ],
)
def test_the_4_4_rule(time_signatures, reason):
    data = song([(0, 36)], [LAST_STEP], time_signatures=time_signatures)
    with pytest.raises(MidiError, match=reason):
        both(data)


def test_files_without_time_signature_pass_when_assumed_4_4():
    data = song([(0, 36), (5, 38)], [LAST_STEP], time_signatures=())
    params = MidiParams(min_drum_cells=0, min_bass_steps=0, assume_4_4_without_time_signature=True)
    assert lit(first_roll(data, params), slice(0, N_DRUM)) == [(0, 0), (5, 1)]


def test_repeated_4_4_signatures_are_fine():
    data = song([(0, 36)], [LAST_STEP], time_signatures=((0, 4, 4), (BAR, 4, 4), (5 * BAR, 4, 4)))
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0)]


def test_a_later_time_signature_restarts_the_beat_grid_at_its_tick():
    # a 4/4 event one 16th after bar 2's downbeat: pretty_midi moves beat 5 onto it (beat 4 is
    # cut short), so a hit there is step 20, not 17
    ts = ((0, 4, 4), (BAR + STEP, 4, 4))
    hits = [(16, 36), (17, 38), (17 + 4, 42)]  # ticks 1920, 2040, 2520
    data = song(hits, [(131, 131, 40)], time_signatures=ts)
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(16, 0), (20, 1), (24, 2)]


def test_first_beat_is_the_first_time_signature():
    # meter starts one beat in: a hit there is step 0; an earlier hit is dropped
    first = TPB
    hits = [(0, 49), (4, 36), (5, 38)]  # steps of the raw file: tick 0, 480, 600
    data = midi_file(meta(time_signatures=((first, 4, 4),)), drums(hits), bass([(131, 131, 40)]))
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0), (1, 1)]


def test_onsets_floor_to_steps_after_rounding_to_1_24_beat():
    # 24 cells per beat, then floor to 4 per beat: ticks 0..99 -> step 0; within 1/48 beat of
    # step 1 (tick >= 110 at 480 per beat) the onset rounds up to cell 6 = step 1.
    ticks = {0: 0, 60: 0, 99: 0, 109: 0, 111: 1, 119: 1, 120: 1}
    for tick, step in ticks.items():
        data = midi_file(meta(), notes(9, 0, [(tick, tick + 30, 36)]), bass([LAST_STEP]))
        assert lit(first_roll(data), slice(0, N_DRUM)) == [(step, 0)], tick


def test_steps_follow_beats_not_seconds_across_tempo_changes():
    tempos = ((0, 120.0), (2 * BAR, 60.0), (4 * BAR + 2 * STEP, 200.0))
    hits = [(s, 36) for s in range(0, 160, 4)]
    data = song(hits, [(0, 159, 40)], tempos=tempos)
    phrases = both(data)
    for bar, roll in zip(phrases.windows.start_bar, unpack_rolls(phrases.windows.packed)):
        assert lit(roll, slice(0, 1)) == [(s, 0) for s in range(0, 128, 4)], bar
    # the tempo at each window's first beat; the change inside bar 4 counts from bar 5 on
    assert phrases.windows.start_bar.tolist() == [0, 1, 2]
    assert phrases.tempo_bpm == pytest.approx([120.0, 120.0, 60.0], abs=1e-3)


def test_inside_a_beat_with_a_tempo_change_positions_are_in_seconds():
    # tempo halves half-way through beat 0; a hit 3/4 through the beat in ticks is 2/3 through it
    # in seconds: cell 16 of 24, step 2 (pretty_midi + pypianoroll), not step 3
    tempos = ((0, 120.0), (TPB // 2, 60.0))
    data = midi_file(meta(tempos=tempos), notes(9, 0, [(3 * TPB // 4, TPB, 36)]), bass([LAST_STEP]))
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(2, 0)]


def test_the_last_beat_of_a_song_keeps_the_length_of_the_one_before():
    # pypianoroll measures notes in the song's last beat against an extrapolated beat as long as
    # the one before. The tempo halves half-way through the last beat (step 124, tick 14880); a hit
    # at tick 15180 is 3/4 of the extrapolated beat (step 127), not 1/2 of the real one (step 126).
    tempos = ((0, 120.0), (15120, 60.0))
    hits = notes(9, 0, [(0, 60, 36), (15180, 15240, 36)])
    data = midi_file(meta(tempos=tempos), hits, bass([(0, 126, 40)]))  # the song ends at tick 15240
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0), (127, 0)]


def cc(tick, channel):
    return (tick, mido.Message("control_change", channel=channel, control=7, value=100))


@pytest.mark.parametrize(
    "in_drum_track, extra_track, step",
    [
        ([], [], 127),
        ([cc(15400, 9)], [], 126),  # a controller of the drum instrument extends the song past the beat
        ([], [cc(15400, 9)], 127),  # the same channel in another track has no instrument: it does not
        # controllers before a track's first note are "stragglers" its first instrument adopts; from
        # then on the channel's controllers count, whatever the program
        (
            [],
            [
                cc(100, 5),
                *notes(5, 0, [(150, 200, 60)])[1:],
                (300, mido.Message("program_change", channel=5, program=7)),
                cc(15400, 5),
            ],
            126,
        ),
        ([], [(15400, mido.MetaMessage("text", text="fin"))], 126),  # text events on any track count
        ([], [(15400, mido.MetaMessage("key_signature", key="C"))], 127),  # key signatures only on track 1
    ],
)
def test_where_the_song_ends_follows_pretty_midi(in_drum_track, extra_track, step):
    # As above, but events after the last note can push the song's end past the next beat, which
    # then is real: the hit is half-way through it (step 126).
    tempos = ((0, 120.0), (15120, 60.0))
    hits = notes(9, 0, [(0, 60, 36), (15180, 15240, 36)]) + in_drum_track
    # Where the hit lands at step 126, a bass note up to the song's end keeps step 127 in the roll
    # (the roll ends at the last lit step; a phrase needs all 128).
    tail = [(15240, 15400, 41)] if step == 126 else []
    data = midi_file(meta(tempos=tempos), hits, notes(0, 33, [(0, 127 * STEP, 40), *tail]), extra_track)
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0), (step, 0)]


# ---- windows -------------------------------------------------------------------------------


END_OF_ROLL = (20, 127)  # a bass pitch below the roll's range: ends the roll, adds no cell


def dense_song(n_bars, drum_hits_per_bar=4, bass_steps_per_bar=4):
    """n_bars whole bars: a bass note below the roll's range sounds in the last step."""
    hits = [(b * 16 + 4 * i, 36) for b in range(n_bars) for i in range(drum_hits_per_bar)]
    spans = [(b * 16, b * 16 + bass_steps_per_bar - 1, 40) for b in range(n_bars)]
    last = n_bars * 16 - 1
    return song(hits, spans + [(last, last, END_OF_ROLL[0])])


def test_windows_slide_by_one_bar_over_the_whole_file():
    phrases = both(dense_song(11), MidiParams())
    assert phrases.windows.start_bar.tolist() == [0, 1, 2, 3]
    assert (phrases.windows.n_drum_cells == 32).all() and (phrases.windows.n_bass_steps == 32).all()


@pytest.mark.parametrize("threshold", ["min_drum_cells", "min_bass_steps"])
def test_window_thresholds_are_inclusive(threshold):
    data = dense_song(8)  # exactly 32 drum cells and 32 bass steps
    assert both(data, MidiParams()).windows.start_bar.tolist() == [0]
    with pytest.raises(MidiError, match="no 8-bar window passes the thresholds"):
        both(data, MidiParams(**{threshold: 33}))


def test_window_counts_and_hop():
    data = song([(s, 36) for s in range(0, 16 * 12, 2)], [(0, 16 * 12 - 1, 40)])
    phrases = both(data, MidiParams(hop_bars=2))
    assert phrases.windows.start_bar.tolist() == [0, 2, 4]
    assert phrases.windows.n_drum_cells.tolist() == [64] * 3 and phrases.windows.n_bass_steps.tolist() == [128] * 3


# ---- where the roll ends (SPEC section 1, "roll end"): as the released notebook ---------------
# The roll ends at the last lit step of the drum or the bass track (any pitch); a window is a phrase
# only when all 128 of its steps lie inside it. Before issue 11 a partial last bar was padded with
# zeros and kept, one extra window at the end of most songs.


def four_on_the_floor(n_bars, last_bar_steps=16):
    """Kicks every 4 steps over n_bars bars, the last bar cut after `last_bar_steps` steps."""
    return [(s, 36) for s in range(0, 16 * (n_bars - 1) + last_bar_steps, 4)]


def test_drums_that_stop_mid_bar_end_the_roll_there():
    # 9th bar: kicks on steps 0 and 4 only; bass through bar 8 -> the roll is 8 bars + 5 steps
    data = song(four_on_the_floor(9, last_bar_steps=5), [(0, 127, 40)])
    assert both(data).windows.start_bar.tolist() == [0]


def test_bass_that_outlasts_the_drums_ends_the_roll():
    drums_8_bars = four_on_the_floor(8)
    assert both(song(drums_8_bars, [(0, 159, 40)])).windows.start_bar.tolist() == [0, 1, 2]  # to a bar line
    assert both(song(drums_8_bars, [(0, 150, 40)])).windows.start_bar.tolist() == [0, 1]  # 6 steps into bar 10


def test_a_last_note_that_ends_on_a_bar_line_completes_its_bar():
    drums_8_bars = four_on_the_floor(8)
    # a note off exactly at tick 128 * STEP: the offset cell is not lit, the last lit step is 127
    assert both(song(drums_8_bars, [(0, 127, 40)])).windows.start_bar.tolist() == [0]
    # one 1/24 beat (one fine cell) later, step 128 is lit: still 8 whole bars
    late = midi_file(meta(), drums(drums_8_bars), notes(0, 33, [(0, 128 * STEP + TPB // 24, 40)]))
    assert both(late).windows.start_bar.tolist() == [0]


def test_a_trailing_tempo_change_does_not_lengthen_the_roll():
    # the tempo change 4 bars after the last note moves the song's end, not the roll's
    data = song(four_on_the_floor(9, last_bar_steps=5), [(0, 127, 40)], tempos=((0, 120.0), (13 * BAR, 90.0)))
    assert both(data).windows.start_bar.tolist() == [0]


def test_unmapped_drum_notes_and_out_of_range_bass_count_for_the_roll_end():
    drums_8_bars = four_on_the_floor(8)
    with pytest.raises(MidiError, match="span only 7 bars"):
        both(song(drums_8_bars[:-1], [(0, 120, 40)]))  # last kick at step 124, bass to step 120
    assert both(song(drums_8_bars[:-1] + [(127, 54)], [(0, 120, 40)])).windows.start_bar.tolist() == [0]  # tambourine
    assert both(song(drums_8_bars[:-1], [(0, 120, 40), (127, 127, 80)])).windows.start_bar.tolist() == [0]  # high bass


def test_the_reference_shares_no_roll_window_or_threshold_code_with_the_fast_path():
    import loopgen.midi as fast
    import loopgen.midi_reference as reference

    shared = {
        name
        for name, value in vars(reference).items()
        if (getattr(value, "__module__", None) or "").startswith(fast.__name__) and getattr(fast, name, None) is value
    }
    assert shared <= {"FilePhrases", "Windows", "MidiError", "MidiParams", "_programs_text"}, shared


def test_short_file_is_rejected_with_its_length():
    with pytest.raises(MidiError, match="span only 7 bars"):
        both(song([(0, 36)], [(100, 111, 40)]))


def test_notes_that_end_by_the_first_beat_are_dropped():
    data = midi_file(
        meta(time_signatures=((BAR, 4, 4),)), drums([(0, 36), (8, 38), (16, 42)]), bass([(0, 15, 40), (143, 143, 40)])
    )
    roll = first_roll(data)
    assert lit(roll) == [(0, 2), (127, N_DRUM + 40 - 24)]


def test_a_later_drum_track_silent_after_the_first_beat_is_harmless():
    # pypianoroll itself fails on such a track; the reference works around it (midi_reference)
    data = midi_file(meta(time_signatures=((BAR, 4, 4),)), drums([(16, 36)]), bass([(143, 143, 40)]), drums([(0, 38)]))
    assert lit(first_roll(data), slice(0, N_DRUM)) == [(0, 0)]


def test_a_file_that_ends_at_its_first_beat_is_rejected():
    data = midi_file(meta(time_signatures=((BAR, 4, 4),)), drums([(0, 36)]), bass([(0, 15, 40)]))
    with pytest.raises(MidiError, match="shorter than two beats"):
        extract_phrases(data, LOOSE)
    with pytest.raises(MidiError):
        reference_phrases(data, LOOSE)


def test_a_note_sounding_across_the_first_beat_starts_there():
    # meter from bar 1 on; a bass note from the pickup's last beat into bar 1 starts at step 0
    data = midi_file(meta(time_signatures=((BAR, 4, 4),)), drums([(16, 36)]), bass([(12, 19, 40), (143, 143, 40)]))
    assert lit(first_roll(data), slice(N_DRUM, None)) == [(t, 40 - 24) for t in range(4)] + [(127, 40 - 24)]


def test_identical_bars_correlate_to_one_and_a_silent_bar_to_zero():
    bar_hits = [(0, 36), (4, 38), (8, 36), (12, 38), (2, 42), (6, 42), (10, 42), (14, 42)]
    hits = [(b * 16 + s, p) for b in range(8) for s, p in bar_hits]
    spans = [(b * 16, b * 16 + 7, 40) for b in range(8)] + [(127, 127, END_OF_ROLL[0])]
    phrases = both(song(hits, spans))
    corr = bar_correlation(phrases.windows.packed)[0]
    assert np.allclose(corr, 1.0)

    silent_bar_3 = [(s, p) for s, p in hits if s // 16 != 3]
    phrases = both(song(silent_bar_3, [sp for sp in spans if sp[0] // 16 != 3]))
    corr = bar_correlation(phrases.windows.packed)[0]
    pairs_with_3 = [k for k, (i, j) in enumerate((i, j) for i in range(8) for j in range(i + 1, 8)) if 3 in (i, j)]
    assert np.allclose(corr[pairs_with_3], 0.0, atol=1e-6) and np.allclose(np.delete(corr, pairs_with_3), 1.0)


# ---- pretty_midi's note rules and broken files ---------------------------------------------


def test_overlapping_zero_length_and_unclosed_notes_follow_pretty_midi():
    on = lambda t, p: (t, mido.Message("note_on", channel=0, note=p, velocity=90))
    off = lambda t, p: (t, mido.Message("note_off", channel=0, note=p))
    events = [(0, mido.Message("program_change", channel=0, program=33))]
    events += [on(0, 40), on(2 * STEP, 40), off(4 * STEP, 40), off(8 * STEP, 40)]  # one off closes both
    events += [on(16 * STEP, 45), off(16 * STEP, 45)]  # zero length: no note
    events += [on(20 * STEP, 50)]  # never closed: no note
    events += [on(127 * STEP, 40), off(128 * STEP, 40)]
    zero_length_hit = [
        (5 * STEP, mido.Message("note_on", channel=9, note=38, velocity=90)),
        (5 * STEP, mido.Message("note_off", channel=9, note=38)),
    ]
    data = midi_file(meta(), drums([(0, 36)]) + zero_length_hit, events)
    roll = first_roll(data)
    assert lit(roll, slice(N_DRUM, None)) == [(t, 40 - 24) for t in range(4)] + [(127, 40 - 24)]
    assert lit(roll, slice(0, N_DRUM)) == [(0, 0)]


def test_a_repeated_note_erases_the_fine_cell_before_it_as_pypianoroll_does():
    # At 24 cells per beat a cell is 20 ticks. A lasts one cell, the last of step 3; B, same pitch,
    # starts at step 4. pypianoroll clears the cell before B's onset, so A leaves no trace.
    a = (4 * STEP - 20, 4 * STEP, 40)
    b = (4 * STEP, 8 * STEP, 40)
    data = midi_file(meta(), drums([(0, 36)]), notes(0, 33, [a, b, (127 * STEP, 128 * STEP, 40)]))
    assert lit(first_roll(data), slice(N_DRUM, None)) == [(t, 40 - 24) for t in (4, 5, 6, 7, 127)]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"hello, this is text" * 10, "not a MIDI file"),
        (b"RIFF" + b"\0" * 100, "not a MIDI file"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(data, reason):
    with pytest.raises(MidiError, match=reason):
        both(data)


def test_truncated_file_is_rejected():
    data = dense_song(10)
    with pytest.raises(MidiError, match="truncated MIDI file"):
        extract_phrases(data[: len(data) - 40], MidiParams())
    with pytest.raises(MidiError):
        reference_phrases(data[: len(data) - 40], MidiParams())


@pytest.mark.parametrize(
    "tracks, reason",
    [
        ((drums([(0, 36)]),), "no bass track \\(programs 32–39\\)"),
        ((bass([LAST_STEP]),), "no drum track"),
        ((notes(0, 0, [(0, BAR, 40)]),), "no drum track and no bass track"),
    ],
)
def test_missing_tracks_are_named(tracks, reason):
    with pytest.raises(MidiError, match=reason):
        both(midi_file(meta(), *tracks))


def test_bass_programs_come_from_config():
    data = midi_file(meta(), drums([(0, 36)]), bass([LAST_STEP], program=0))
    with pytest.raises(MidiError, match="no bass track"):
        both(data)
    assert len(both(data, MidiParams(min_drum_cells=0, min_bass_steps=0, bass_programs=(0,))).windows.start_bar) == 1
