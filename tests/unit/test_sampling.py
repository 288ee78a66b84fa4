"""Sampling modes, code generation, decoding to packed rolls and rejection sampling."""

import json

import numpy as np
import pytest
import torch

from loopgen.models.lstm_prior import LSTMPrior, PriorConfig
from loopgen.models.vqvae import VQVAE, VQVAEConfig
from loopgen.roll import pack_rolls, packed_column, unpack_rolls
from loopgen.sampling import (
    SamplingMode,
    decode_codes,
    next_code_probs,
    pack_active,
    released_top_p_mask,
    sample_codes,
    top_k_mask,
    top_p_mask,
    unpack_batch,
)
from loopgen.symbolic import SAMPLE_SCHEMA, LoopSampler, packed_to_arrow, rejection_sample, sample_loops, sample_table

pytestmark = pytest.mark.usefixtures("one_thread")


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.randn(6, 512)
    logits[0] = 0.0  # all tied
    logits[1, :40] = 5.0  # 40 tied at the top
    keep = top_k_mask(logits, 30)
    assert keep.sum(dim=1).tolist() == [30] * 6
    kept_min = logits.masked_fill(~keep, float("inf")).min(dim=1).values
    dropped_max = logits.masked_fill(keep, float("-inf")).max(dim=1).values
    assert torch.all(kept_min >= dropped_max)  # the kept ones are the largest


def _logits(probs):
    return torch.log(torch.tensor(probs, dtype=torch.float64))[None]


@pytest.mark.parametrize(
    "p, kept",
    [(0.08, {2}), (0.5, {2}), (0.6, {2, 3}), (0.95, {1, 2, 3}), (0.96, {0, 1, 2, 3}), (1.0, {0, 1, 2, 3})],
)
def test_top_p_keeps_the_smallest_sorted_set_reaching_p(p, kept):
    # Unsorted order on purpose: summing the unsorted softmax (the released code's bug) would keep
    # codes 0, 1, 2 for p = 0.6 instead of the two most likely ones.
    probs = [0.05, 0.15, 0.5, 0.3]
    keep = top_p_mask(_logits(probs), p)[0]
    assert set(torch.nonzero(keep).flatten().tolist()) == kept


def test_top_p_keeps_the_most_likely_code_when_it_alone_exceeds_p():
    logits = torch.randn(100, 512) * 3
    keep = top_p_mask(logits, 1e-9)
    assert torch.equal(keep.sum(1), torch.ones(100, dtype=torch.long))
    assert torch.equal(torch.nonzero(keep)[:, 1], logits.argmax(1))


# The released filter (utils/model.py, LSTM.forward), worked by hand for probs [0.05, 0.15, 0.5, 0.3]:
#   cumsum in code order    [0.05, 0.20, 0.70, 1.00]
#   p = 0.08: > p           [F, T, T, T] -> shifted right [F, F, T, T], read as ranks: keep ranks 0, 1
#   descending order        codes [2, 3, 1, 0] -> keep codes 2 and 3 (the sorted nucleus keeps only 2)
#   p = 0.5:  > p [F, F, T, T] -> [F, F, F, T] -> ranks 0-2 -> codes {2, 3, 1}
#   p = 0.04: > p [T, T, T, T] -> [F, T, T, T] -> rank 0   -> code {2}
#   p = 0.75: > p [F, F, F, T] -> [F, F, F, F] -> every code
# and for [0.01, 0.02, 0.03, 0.04, 0.9], p = 0.08: cumsum [.01, .03, .06, .10, 1] -> > p [F, F, F, T, T]
#   -> [F, F, F, F, T] -> ranks 0-3 -> codes {4, 3, 2, 1}: four codes where the nucleus keeps one.
@pytest.mark.parametrize(
    "probs, p, kept",
    [
        ([0.05, 0.15, 0.5, 0.3], 0.08, {2, 3}),
        ([0.05, 0.15, 0.5, 0.3], 0.5, {1, 2, 3}),
        ([0.05, 0.15, 0.5, 0.3], 0.04, {2}),
        ([0.05, 0.15, 0.5, 0.3], 0.75, {0, 1, 2, 3}),
        ([0.01, 0.02, 0.03, 0.04, 0.9], 0.08, {1, 2, 3, 4}),
    ],
)
def test_the_released_top_p_filter_keeps_what_the_released_code_kept(probs, p, kept):
    keep = released_top_p_mask(_logits(probs), p)[0]
    assert set(torch.nonzero(keep).flatten().tolist()) == kept


def test_the_released_filter_is_a_named_mode_option_then_the_temperature():
    probs = next_code_probs(_logits([0.05, 0.15, 0.5, 0.3]), SamplingMode(0.7, top_p=0.08, top_p_filter="released"))[0]
    expected = np.array([0, 0, 0.5 ** (1 / 0.7), 0.3 ** (1 / 0.7)])
    np.testing.assert_allclose(probs.numpy(), expected / expected.sum(), rtol=1e-6)
    sorted_probs = next_code_probs(_logits([0.05, 0.15, 0.5, 0.3]), SamplingMode(0.7, top_p=0.08))[0]
    assert sorted_probs.tolist() == [0, 0, 1, 0]
    with pytest.raises(ValueError, match="top_p_filter"):
        SamplingMode(top_p=0.08, top_p_filter="unsorted")


def test_temperature_towards_zero_approaches_argmax():
    torch.manual_seed(0)
    logits = torch.stack([torch.randperm(512) * 0.01 for _ in range(50)])  # neighbours 0.01 apart
    top = logits.argmax(1, keepdim=True)
    p_top = [
        next_code_probs(logits, SamplingMode(temperature=t)).gather(1, top).mean().item()
        for t in (1.0, 0.7, 0.3, 0.1, 0.01, 0.001)
    ]
    assert p_top == sorted(p_top)
    assert p_top[-1] > 0.999


def test_modes_combine_filter_then_temperature():
    logits = torch.randn(8, 512)
    probs = next_code_probs(logits, SamplingMode(temperature=0.7, top_k=30))
    assert torch.equal(probs > 0, top_k_mask(logits, 30))
    assert torch.allclose(probs.sum(1), torch.ones(8))
    with pytest.raises(ValueError):
        SamplingMode(temperature=0.0)
    with pytest.raises(ValueError):
        SamplingMode(top_p=1.5)


def tiny_prior(seed=0):
    torch.manual_seed(seed)
    return LSTMPrior(PriorConfig(embed_dim=8, hidden=16, n_layers=1)).eval()


@pytest.mark.parametrize("mode", [SamplingMode(0.7), SamplingMode(0.7, top_k=30), SamplingMode(0.7, top_p=0.08)])
def test_sampled_sequences_have_32_codes_below_k(mode):
    prior = tiny_prior()
    first = torch.full((512,), 1 / 512)
    codes = sample_codes(prior, first, 37, mode, torch.Generator().manual_seed(0), batch_size=16)
    assert codes.shape == (37, 32)
    assert codes.min() >= 0 and codes.max() < 512


def test_first_code_follows_the_first_code_distribution():
    first = torch.zeros(512)
    first[7], first[300] = 0.25, 0.75
    codes = sample_codes(tiny_prior(), first, 400, SamplingMode(), torch.Generator().manual_seed(1))
    assert set(codes[:, 0].tolist()) == {7, 300}
    assert 0.6 < (codes[:, 0] == 300).float().mean() < 0.9


def test_same_seed_same_codes_other_seed_other_codes():
    prior, first = tiny_prior(), torch.full((512,), 1 / 512)
    draw = lambda seed: sample_codes(prior, first, 20, SamplingMode(), torch.Generator().manual_seed(seed), 8)
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_top_1_is_greedy_whatever_the_seed():
    prior, first = tiny_prior(), torch.zeros(512)
    first[11] = 1.0
    draw = lambda seed: sample_codes(prior, first, 4, SamplingMode(top_k=1), torch.Generator().manual_seed(seed))
    assert torch.equal(draw(0), draw(1))
    with torch.no_grad():
        logits, _ = prior(draw(0)[:1, :-1])
    assert torch.equal(logits.argmax(-1)[0], draw(0)[0, 1:])


def test_pack_and_unpack_match_the_roll_module():
    rolls = np.random.default_rng(0).random((5, 128, 57)) < 0.1
    packed = pack_rolls(rolls)
    x = unpack_batch(torch.from_numpy(packed))
    assert x.shape == (5, 57, 128)
    assert np.array_equal(x.numpy().transpose(0, 2, 1).astype(bool), rolls)
    logits = torch.from_numpy(np.where(rolls, 1.0, -1.0)).float().transpose(1, 2)
    assert np.array_equal(pack_active(logits).numpy(), packed)


def test_decode_codes_gives_the_decoders_thresholded_roll():
    model = VQVAE(VQVAEConfig(channels=16, codebook_size=512)).eval()
    codes = torch.randint(0, 512, (6, 32))
    packed = decode_codes(model, codes, batch_size=4)
    with torch.no_grad():
        expected = torch.sigmoid(model.decode_codes(codes)) >= 0.5
    assert packed.shape == (6, 912)
    assert np.array_equal(unpack_rolls(packed), expected.numpy().transpose(0, 2, 1))


def test_packed_rolls_survive_the_arrow_column():
    packed = pack_rolls(np.random.default_rng(2).random((7, 128, 57)) < 0.2)
    assert np.array_equal(packed_column(packed_to_arrow(packed)), packed)


def fake_sampler(seed=0):
    torch.manual_seed(seed)
    vqvae = VQVAE(VQVAEConfig(channels=8, codebook_size=512)).eval()
    return LoopSampler(vqvae, tiny_prior(), torch.full((512,), 1 / 512), torch.Generator().manual_seed(seed), 16)


def density_score(packed):
    """A stand-in for the detector: fraction of active cells (known, cheap)."""
    return unpack_rolls(packed).mean(axis=(1, 2)).astype(np.float32)


def test_sample_loops_writes_the_contract_columns():
    table = sample_loops(fake_sampler(), 40, SamplingMode(top_k=30), density_score, "top_k")
    assert table.schema == SAMPLE_SCHEMA and table.num_rows == 40
    assert table.column("sample_id")[0].as_py() == "top_k-0000000"
    packed = packed_column(table.column("roll"))
    assert np.allclose(table.column("loop_score").to_numpy(), density_score(packed))
    again = sample_loops(fake_sampler(), 40, SamplingMode(top_k=30), density_score, "top_k")
    assert again.equals(table)  # fixed seed: identical samples on CPU


def test_rejection_keeps_only_loops_below_the_limit_and_counts_tries():
    sampler = fake_sampler()
    all_scores = density_score(sampler.draw(64, SamplingMode()))
    limit = float(np.quantile(all_scores, 0.5))
    packed, scores, stats = rejection_sample(fake_sampler(), SamplingMode(), density_score, limit, 10, 1000)
    assert len(packed) == 10 and np.all(scores < limit)
    assert np.allclose(density_score(packed), scores)
    # Same seed, no limit: the stream of loops the sweep examined, in order.
    replay = fake_sampler()
    stream = np.concatenate([replay.draw(16, SamplingMode()) for _ in range(-(-stats["tried"] // 16))])[
        : stats["tried"]
    ]
    stream_scores = density_score(stream)
    assert stream_scores[-1] < limit  # the last loop tried is the one that completed the target
    assert (stream_scores < limit).sum() == 10
    assert stats["kept"] == 10 and stats["acceptance_rate"] == 10 / stats["tried"]
    assert json.loads(json.dumps(stats)) == stats  # plain numbers: the rule writes them as JSON


def test_rejection_stops_at_max_tries_and_no_limit_keeps_everything():
    packed, _scores, stats = rejection_sample(fake_sampler(), SamplingMode(), density_score, -1.0, 10, 40)
    assert len(packed) == 0 and stats["tried"] == 40 and stats["acceptance_rate"] == 0
    packed, _scores, stats = rejection_sample(fake_sampler(), SamplingMode(), density_score, None, 20, 1000)
    assert len(packed) == 20 and stats["tried"] == 20 and stats["acceptance_rate"] == 1


def read_back_roll(path):
    """The roll loopgen.midi reads from a written file (thresholds off: every 8-bar window counts)."""
    from loopgen.midi import MidiParams, extract_phrases

    windows = extract_phrases(path.read_bytes(), MidiParams(min_drum_cells=0, min_bass_steps=0)).windows
    assert windows.start_bar[0] == 0
    return unpack_rolls(windows.packed[:1])[0]


def lowest_bass(roll):
    """The roll as the MIDI reader sees it: of several bass pitches at one step only the lowest
    (SPEC section 1). A decoder may light several; the loops it was trained on never do."""
    bass = roll[:, 9:]
    lowest = np.zeros_like(bass)
    steps = np.flatnonzero(bass.any(axis=1))
    lowest[steps, bass[steps].argmax(axis=1)] = True
    return np.concatenate([roll[:, :9], lowest], axis=1)


def test_listening_files_open_in_pretty_midi_and_mido_and_read_back_to_the_decoded_roll(tmp_path):
    import mido
    import pretty_midi
    import soundfile

    from loopgen.symbolic import loop_seconds, write_listening_files

    # An untrained decoder lights about half the cells: every bar, drum column and many pitches.
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig(channels=8, codebook_size=512)).eval()
    packed = decode_codes(vqvae, torch.randint(0, 512, (3, 32)))
    rolls = unpack_rolls(packed)
    assert rolls[:, -16:].any() and rolls[:, :, :9].any() and rolls[:, :, 9:].any()
    table = sample_table(packed, np.zeros(3, np.float32), "top_k")

    paths = write_listening_files(table, tmp_path, n=2, tempo_bpm=120, render_wav=False)
    assert [p.name for p in paths] == ["top_k-0000000.mid", "top_k-0000001.mid"]
    for path, roll in zip(paths, rolls):
        midi = pretty_midi.PrettyMIDI(str(path))
        assert {i.is_drum for i in midi.instruments} == {True, False}
        assert mido.MidiFile(str(path)).length == pytest.approx(loop_seconds(120), abs=0.5)
        assert np.array_equal(read_back_roll(path), lowest_bass(roll))

    write_listening_files(table, tmp_path / "wav", n=1, tempo_bpm=120, render_wav=True)
    audio, rate = soundfile.read(tmp_path / "wav" / "top_k-0000000.wav")
    assert len(audio) == round(loop_seconds(120) * rate) and np.abs(audio).max() > 0
