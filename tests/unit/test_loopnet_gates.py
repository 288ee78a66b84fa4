"""Gates against trivial outputs (gates.csv) and the per-split segment layout."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from loopgen import loopnet
from loopgen.audio.segments import segment_table, write_segments
from loopgen.audio.synth import drum_loop

N = 29538


@pytest.fixture(scope="module")
def bars():
    """Six rendered drum bars from three loops (two bars each)."""
    patterns = ["k...s...k.k.s...", "k.h.s.h.k.h.s.hh", "kh.hsh.hkh.hshhh"]
    out = [drum_loop([p, p], 130.0, 16000, seed=i)[: 2 * N].reshape(2, N) for i, p in enumerate(patterns)]
    return np.concatenate(out).astype(np.float32), ["a", "a", "b", "b", "c", "c"]


def test_the_real_bars_themselves_pass_and_silence_fails(bars):
    audio, loops = bars
    _, spec = loopnet.variant_setup("MULTI")
    perfect = loopnet.gate_row("MULTI", spec, audio, audio, loops)
    assert perfect["test_loss"] == pytest.approx(0.0, abs=1e-6) and perfect["loss_ratio"] == pytest.approx(
        0.0, abs=1e-6
    )
    assert perfect["rms_db_diff"] == pytest.approx(0.0, abs=1e-6) and perfect["passes"]
    assert perfect["mrstft_to_target"] == pytest.approx(0.0, abs=1e-6) and perfect["mrstft_other_real"] > 1.0
    assert perfect["share_closer"] == 1.0
    silent = loopnet.gate_row("MULTI", spec, np.zeros_like(audio), audio, loops)
    assert (
        silent["loss_ratio"] == pytest.approx(1.0) and not silent["passes_loss_gate"] and not silent["passes_rms_gate"]
    )


def test_loudness_is_measured_in_db_without_the_dc(bars):
    """Half the amplitude is 20 log10(0.5) = -6.02 dB; an added DC offset is not loudness."""
    audio, loops = bars
    _, spec = loopnet.variant_setup("WAV")
    row = loopnet.gate_row("WAV", spec, 0.5 * audio + 0.2, audio, loops)
    assert row["rms_db_diff"] == pytest.approx(-6.0206, abs=1e-3)
    assert not row["passes_rms_gate"]  # 6.02 dB is just outside the default 6 dB


def test_the_other_real_bar_comes_from_another_loop():
    assert loopnet.gates.other_loop_index(["a", "a", "b", "c", "c"]).tolist() == [2, 2, 3, 0, 0]
    assert loopnet.gates.other_loop_index(["a", "a"]).tolist() == [0, 1]  # none: itself


def test_the_stft_variant_is_judged_on_log_magnitudes_of_its_waveform(bars):
    audio, loops = bars
    _, spec = loopnet.variant_setup("STFT")
    rolled = np.roll(audio, 32, axis=-1)  # same magnitudes, nearly
    row = loopnet.gate_row("STFT", spec, rolled, audio, loops)
    assert row["loss_ratio"] < 0.2 and row["passes"]


def test_segment_shards_hold_one_row_group_per_split_and_a_split_reads_alone(tmp_path, caplog):
    pcm = (np.arange(5 * N, dtype=np.int64) % 2000 - 1000).astype(np.int16).reshape(5, N)
    table = segment_table(
        ["b:1", "a:0", "c:0", "b:0", "d:0"],
        ["b", "a", "c", "b", "d"],
        [1, 0, 0, 0, 0],
        ["train", "test", "train", "train", "test"],
        pcm,
    )
    write_segments(table, tmp_path / "shard.parquet")
    file = pq.ParquetFile(tmp_path / "shard.parquet")
    groups = [set(file.read_row_group(g, columns=["split"])["split"].to_pylist()) for g in range(file.num_row_groups)]
    assert groups == [{"test"}, {"train"}]
    test = loopnet.read_segment_audio([tmp_path / "shard.parquet"], split="test")
    assert test.segment_id == ["a:0", "d:0"]
    np.testing.assert_array_equal(test.pcm, pcm[[1, 4]])
    train = loopnet.read_segment_audio([tmp_path / "shard.parquet"], split="train")
    assert train.segment_id == ["b:0", "b:1", "c:0"] and train.bar.tolist() == [0, 1, 0]
    np.testing.assert_array_equal(train.pcm, pcm[[3, 0, 2]])


def test_gates_of_int16_pcm_are_those_of_its_float_bars(bars):
    """The workflow passes int16 sets (half the memory of float32) and gate_row converts a batch
    at a time; every number must be that of the float bars."""
    from loopgen.audio.segments import from_pcm, to_pcm

    audio, loops = bars
    output, target = to_pcm(0.5 * np.roll(audio, 100, axis=1)), to_pcm(audio)
    _, spec = loopnet.variant_setup("MULTI")
    from_ints = loopnet.gate_row("MULTI", spec, output, target, loops, batch_size=4)
    from_floats = loopnet.gate_row("MULTI", spec, from_pcm(output), from_pcm(target), loops)
    assert from_ints.keys() == from_floats.keys()
    for key, value in from_floats.items():
        if isinstance(value, float):
            assert from_ints[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
        else:
            assert from_ints[key] == value, key
