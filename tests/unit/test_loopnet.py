"""LoopNet: Wave-U-Net shapes, the variants' losses, Griffin-Lim, data loading, training."""

import json

import numpy as np
import pytest
import torch

from loopgen import loopnet
from loopgen.models.wave_unet import LoopNetConfig, WaveUNet


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Six rendered drum loops of two bars (two loops in the test split) as audio-stage shards."""
    return loopnet.synthetic_shards(tmp_path_factory.mktemp("loopnet"), n_loops=6, bars=2, n_test_loops=2, seed=0)


@pytest.fixture(scope="module")
def train(shards):
    return loopnet.load_segments([shards["segments"]], [shards["features"]], split="train")


@pytest.fixture(scope="module")
def scaler(shards):
    return loopnet.GlobalScaler.from_file(shards["stats"])


def _inputs(config, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    time_varying = torch.rand(batch, config.n_time_varying, config.n_samples, generator=generator)
    return time_varying, torch.rand(batch, config.n_global, generator=generator)


# ---------------------------------------------------------------------------------------------------
# Architecture
# ---------------------------------------------------------------------------------------------------
def test_encoder_follows_the_paper_text():
    config = LoopNetConfig()
    assert config.level_lengths() == [29538, 14769, 7385, 3693, 1847, 924, 462, 231, 116, 58, 29]
    model = WaveUNet(config)
    assert [conv.out_channels for conv in model.encoder] == [32, 32, 32, 64, 64, 64, 128, 128, 128, 256]
    assert all(conv.kernel_size == (5,) and conv.stride == (2,) for conv in model.encoder)
    assert model.encoder[0].in_channels == 3 + 1 + 12 + 21
    assert len(model.decoder) == 10 and all(conv.kernel_size == (5,) for conv in model.decoder)


@pytest.mark.parametrize("variant", loopnet.VARIANTS)
def test_every_variant_maps_controls_to_one_bar_of_audio(variant):
    """(B, channels, 29538) -> (B, 29538), through Griffin-Lim for the STFT variant."""
    config, _ = loopnet.variant_setup(variant, {"base_filters": 4, "griffin_lim_iters": 2})
    model = WaveUNet(config).eval()
    frames = torch.rand(3, 4, 116)
    extras = {"variant": variant, "feature_stats": {}}
    synth = loopnet.LoopNet(model, extras, "cpu", griffin_lim_iters=2)
    audio = synth.synthesize(frames.numpy(), np.random.default_rng(0).random((3, 33), dtype=np.float32))
    assert audio.shape == (3, 29538) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1.0 and np.abs(audio).max() > 0
    assert config.in_channels == (36 if variant == "MULTI_NOENV" else 37)


@pytest.mark.parametrize("n_samples", [29538, 1001, 777, 64])
def test_skips_line_up_for_odd_lengths(n_samples):
    config = LoopNetConfig(n_samples=n_samples, base_filters=4)
    model = WaveUNet(config)
    with torch.no_grad():
        out = model.forward_stacked(model.stack_inputs(*_inputs(config)))
    assert out.shape == (2, n_samples)


def test_broadcast_free_forward_equals_the_literal_network():
    """forward() folds the constant global channels into matmuls; it must equal the plain convs
    over the stacked input, edges included, for both heads."""
    torch.manual_seed(0)
    for config in (LoopNetConfig(n_samples=3001, base_filters=4), LoopNetConfig(n_samples=3001, base_filters=4, head="stft")):
        model = WaveUNet(config)
        torch.nn.init.normal_(model.head.weight, std=0.5)
        time_varying, global_features = _inputs(config)
        with torch.no_grad():
            fast = model(time_varying, global_features)
            literal = model.forward_stacked(model.stack_inputs(time_varying, global_features))
        assert fast.shape == literal.shape
        torch.testing.assert_close(fast, literal, atol=1e-5, rtol=1e-4)


def test_stft_head_outputs_one_column_per_stft_frame():
    config = LoopNetConfig(head="stft", n_fft=1024, hop=256)
    assert config.stft_level() == 8 and config.n_frames == 116
    model = WaveUNet(config)
    with torch.no_grad():
        out = model(*_inputs(config, batch=1))
    frames = loopnet.stft(torch.zeros(1, 29538), 1024, 256)
    assert out.shape == frames.shape == (1, 513, 116)


# ---------------------------------------------------------------------------------------------------
# Losses and Griffin-Lim
# ---------------------------------------------------------------------------------------------------
def test_multi_resolution_loss_is_zero_for_identical_signals_and_grows_with_noise(train):
    target = torch.from_numpy(loopnet.from_pcm(train.pcm[:2]))
    _, spec = loopnet.variant_setup("MULTI")
    assert [n for n, _ in spec.resolutions] == [2048, 1024, 512, 256, 128, 64]
    assert float(loopnet.variant_loss(target, target, spec)) == 0.0
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(target.shape, generator=generator)
    losses = [float(loopnet.variant_loss(target + level * noise, target, spec)) for level in (0.001, 0.01, 0.1, 0.5)]
    assert all(b > a for a, b in zip(losses, losses[1:])), losses
    spectral = [float(loopnet.multi_resolution_stft_loss(target + level * noise, target, spec.resolutions)) for level in (0.001, 0.01, 0.1)]
    assert all(b > a for a, b in zip(spectral, spectral[1:])), spectral


def test_variant_losses_differ_as_the_paper_says(train):
    target = torch.from_numpy(loopnet.from_pcm(train.pcm[:1]))
    shifted = torch.roll(target, 40, dims=-1)  # same spectrum, different waveform
    wav, wavspec, multi = (loopnet.variant_setup(v)[1] for v in ("WAV", "WAVSPEC", "MULTI"))
    assert wavspec.resolutions == ((1024, 512),)
    l1 = float((shifted - target).abs().mean())
    assert float(loopnet.variant_loss(shifted, target, wav)) == pytest.approx(l1)
    assert float(loopnet.variant_loss(shifted, target, wavspec)) > l1
    assert float(loopnet.variant_loss(shifted, target, multi)) > float(loopnet.variant_loss(shifted, target, wavspec))


def test_griffin_lim_recovers_a_real_segments_magnitude(train):
    """Spectral convergence of Griffin-Lim from a rendered drum bar's |STFT| stays below 0.2
    (0.13-0.15 measured at 32 iterations; a random phase gives ~0.9)."""
    x = torch.from_numpy(loopnet.from_pcm(train.pcm[:1]))
    magnitude = loopnet.stft(x, 1024, 256).abs()
    rebuilt = loopnet.griffin_lim(magnitude, 1024, 256, n_iter=32, length=x.shape[-1])
    assert rebuilt.shape == x.shape
    converged = loopnet.spectral_convergence(rebuilt, magnitude, 1024, 256)
    random_phase = loopnet.griffin_lim(magnitude, 1024, 256, n_iter=0, length=x.shape[-1])
    assert converged < 0.2
    assert loopnet.spectral_convergence(random_phase, magnitude, 1024, 256) > 3 * converged


def test_griffin_lim_improves_with_iterations(train):
    """The phase estimate converges (each iteration projects onto consistent spectrograms): more
    iterations, lower spectral convergence."""
    x = torch.from_numpy(loopnet.from_pcm(train.pcm[1:2]))
    magnitude = loopnet.stft(x, 1024, 256).abs()
    values = [loopnet.spectral_convergence(loopnet.griffin_lim(magnitude, 1024, 256, n, x.shape[-1]), magnitude, 1024, 256)
              for n in (0, 4, 16)]
    assert values[0] > values[1] > values[2]


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------
def test_segments_join_their_features_and_scale_to_unit_range(shards, train, scaler):
    test = loopnet.load_segments([shards["segments"]], [shards["features"]], split="test")
    assert len(train) == 8 and len(test) == 4
    assert not set(train.loop_id) & set(test.loop_id)
    assert train.segment_id == sorted(train.segment_id)
    assert train.pcm.shape == (8, 29538) and train.frames.shape == (8, 4, 116)
    scaled = scaler.scale(train.global_raw)
    assert scaled.min() == 0.0 and scaled.max() == 1.0  # train min/max map to 0 and 1
    assert np.all((scaler.scale(test.global_raw) >= 0) & (scaler.scale(test.global_raw) <= 1))


def test_nan_timbre_scales_to_zero(scaler):
    raw = np.full((1, 33), 50.0, np.float32)
    raw[0, 20] = np.nan
    scaled = scaler.scale(raw)
    assert scaled[0, 20] == 0.0 and np.isfinite(scaled).all()


def test_frames_are_interpolated_to_samples_at_the_hop():
    frames = torch.tensor([[[0.0, 1.0, 0.0, 2.0]]])
    samples = loopnet.frames_to_samples(frames, n_samples=1000, hop=256)
    assert samples.shape == (1, 1, 1000)
    assert float(samples[0, 0, 0]) == 0.0 and float(samples[0, 0, 256]) == 1.0 and float(samples[0, 0, 128]) == 0.5
    assert float(samples[0, 0, 768]) == 2.0 and float(samples[0, 0, 999]) == 2.0  # held past the last frame


def test_activations_are_divided_by_their_max_but_the_envelope_is_not():
    frames = torch.tensor([[[0.0, 2.0], [0.0, 0.5], [0.0, 0.0], [0.1, 0.3]]])
    out = loopnet.normalise_activations(frames)
    torch.testing.assert_close(out, torch.tensor([[[0.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.1, 0.3]]]))


def test_a_wrong_length_segment_is_left_out_with_a_message(tmp_path, caplog):
    from loopgen.audio.segments import SEGMENT_SCHEMA, segment_table
    from loopgen.tables import write_table

    good = segment_table(["a:0"], ["a"], [0], ["test"], np.zeros((1, 29538), np.int16))
    short = segment_table(["b:0"], ["b"], [0], ["test"], np.zeros((1, 100), np.int16))
    import pyarrow as pa

    path = tmp_path / "shard-0.parquet"
    write_table(pa.concat_tables([good, short]), path, SEGMENT_SCHEMA)
    audio = loopnet.read_segment_audio([path], split="test")
    assert audio.segment_id == ["a:0"]
    assert "b:0" in caplog.text and "shard-0.parquet" in caplog.text and "100 values" in caplog.text


def test_feature_stats_file_is_checked(tmp_path):
    path = tmp_path / "feature_stats.json"
    path.write_text(json.dumps({"hpcp": {"min": [0] * 12, "max": [1] * 12}, "timbre": {"min": [0] * 20, "max": [1] * 20}}))
    with pytest.raises(ValueError, match="timbre"):
        loopnet.GlobalScaler.from_file(path)


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------
def test_short_training_lowers_the_multi_loss_and_resumes(train, scaler, tmp_path):
    section = {"epochs": 2, "base_filters": 4, "batch_size": 4, "lr": 3e-3, "probe_segments": 4}
    torch.set_num_threads(1)
    model, history = loopnet.train_loopnet(train, scaler, "MULTI", section, seed=0, checkpoint_dir=tmp_path / "ck", device="cpu")
    assert len(history["probe_loss"]) == 3 and len(history["train_loss"]) == 2
    # Four Adam steps already halve the loss (mostly by quieting the random initial output).
    assert history["probe_loss"][-1] < 0.6 * history["probe_loss"][0], history["probe_loss"]
    # Asking for one more epoch resumes from the checkpoint instead of starting again.
    more, resumed = loopnet.train_loopnet(train, scaler, "MULTI", {**section, "epochs": 3}, seed=0,
                                         checkpoint_dir=tmp_path / "ck", device="cpu")
    assert resumed["probe_loss"][:3] == history["probe_loss"] and len(resumed["train_loss"]) == 3
    loopnet.save_loopnet(tmp_path / "model", more, "MULTI", section, scaler, resumed)
    loaded = loopnet.LoopNet.load(tmp_path / "model")
    assert loaded.variant == "MULTI" and loaded.config.base_filters == 4
    for name, tensor in more.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)


def test_training_is_deterministic(train, scaler, tmp_path):
    section = {"epochs": 1, "base_filters": 4, "batch_size": 4, "probe_segments": 4}
    torch.set_num_threads(1)
    _, first = loopnet.train_loopnet(train, scaler, "WAV", section, seed=3, checkpoint_dir=tmp_path / "a", device="cpu")
    _, second = loopnet.train_loopnet(train, scaler, "WAV", section, seed=3, checkpoint_dir=tmp_path / "b", device="cpu")
    assert first["probe_loss"] == second["probe_loss"]
