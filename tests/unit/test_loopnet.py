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
    torch.nn.init.normal_(model.head.weight, std=0.5)  # a trained head (an untrained one outputs silence)
    frames = torch.rand(3, 4, 116)
    extras = {"variant": variant, "feature_stats": {}}
    synth = loopnet.LoopNet(model, extras, "cpu", griffin_lim_iters=2)
    audio = synth.synthesize(frames.numpy(), np.random.default_rng(0).random((3, 33), dtype=np.float32))
    assert audio.shape == (3, 29538) and audio.dtype == np.float32
    assert np.abs(audio).max() <= 1.0 and np.abs(audio).max() > 0
    assert config.in_channels == (36 if variant == "MULTI_NOENV" else 37)


def test_synthesize_test_in_chunks_equals_one_pass_over_the_set(monkeypatch):
    """synthesize_test turns a chunk at a time into int16 (issue 13: memory); the batches, and so
    the STFT variant's seeded Griffin-Lim phases, must be those of one pass."""
    from loopgen.audio.segments import to_pcm
    from loopgen.loopnet import synth

    config, _ = loopnet.variant_setup("STFT", {"base_filters": 4, "griffin_lim_iters": 2})
    model = WaveUNet(config).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)
    stats = {name: {"min": [0.0] * size, "max": [1.0] * size} for name, size in (("hpcp", 12), ("timbre", 21))}
    net = loopnet.LoopNet(model, {"variant": "STFT", "feature_stats": stats}, "cpu", griffin_lim_iters=2)
    rng = np.random.default_rng(0)
    n = 11
    test = loopnet.SegmentSet(
        [f"s{i}" for i in range(n)],
        ["l"] * n,
        rng.random((n, 4, 116), dtype=np.float32),
        rng.random((n, 33), dtype=np.float32),
        None,
        None,
    )
    whole = to_pcm(net.synthesize(test.frames, net.scaler.scale(test.global_raw), 2))
    monkeypatch.setattr(synth, "SYNTH_CHUNK", 4)
    chunked = loopnet.synthesize_test(net, test, batch_size=2)
    assert chunked.dtype == np.int16 and chunked.shape == (n, config.n_samples)
    np.testing.assert_array_equal(chunked, whole)


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
    for config in (
        LoopNetConfig(n_samples=3001, base_filters=4),
        LoopNetConfig(n_samples=3001, base_filters=4, head="stft"),
    ):
        model = WaveUNet(config)
        torch.nn.init.normal_(model.head.weight, std=0.5)
        time_varying, global_features = _inputs(config)
        with torch.no_grad():
            fast = model(time_varying, global_features)
            literal = model.forward_stacked(model.stack_inputs(time_varying, global_features))
        assert fast.shape == literal.shape
        torch.testing.assert_close(fast, literal, atol=1e-5, rtol=1e-4)


def test_gradients_reach_the_bottleneck_at_initialisation():
    """With a normalisation after every conv, the gradient norm of the deepest encoder conv is within
    ~2 orders of magnitude of the first conv's (9e-3 measured at base 8); without it the deepest layer
    gets ~1e-5 of it (reviews/loopnet-2026-11.md A3: the network then stalls at output silence). The
    head is given a random init, as after its first Adam step (at init it is zero, so no gradient flows)."""

    def ratio(norm):
        torch.manual_seed(0)
        model = WaveUNet(LoopNetConfig(base_filters=8, norm=norm, dc_block=norm != "none")).train()
        torch.nn.init.kaiming_uniform_(model.head.weight, a=5**0.5)
        generator = torch.Generator().manual_seed(0)
        time_varying, global_features = (
            torch.rand(4, 4, 29538, generator=generator),
            torch.rand(4, 33, generator=generator),
        )
        target = 0.1 * torch.randn(4, 29538, generator=generator)
        (model(time_varying, global_features) - target).abs().mean().backward()
        return float(model.encoder[-1].weight.grad.norm() / model.encoder[0].weight.grad.norm())

    assert ratio("batch") > 1e-3
    assert ratio("group") > 1e-3
    assert ratio("none") < 1e-4  # what the first implementation had


def test_untrained_waveform_output_is_silence_not_a_dc_offset():
    config = LoopNetConfig(n_samples=3001, base_filters=4)
    model = WaveUNet(config).eval()
    with torch.no_grad():
        assert float(model(*_inputs(config)).abs().max()) == 0.0
        torch.nn.init.normal_(model.head.weight, std=0.5)
        torch.nn.init.constant_(model.head.bias, 0.3)  # a head that would add a DC offset
        out = model(*_inputs(config))
    assert float(out.abs().max()) > 0.01
    torch.testing.assert_close(out.mean(dim=-1), torch.zeros(2), atol=1e-6, rtol=0)


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
    spectral = [
        float(loopnet.multi_resolution_stft_loss(target + level * noise, target, spec.resolutions))
        for level in (0.001, 0.01, 0.1)
    ]
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


def test_spectral_term_is_the_papers_unscaled_l1_of_magnitudes(train):
    """spectral_l1 = mean | |STFT(a)| - |STFT(b)| |, checked against numpy's FFT of Hann-windowed,
    reflect-padded frames (no 1/sqrt(n_fft) factor: L Eq. 2 sums the terms unweighted)."""
    a, b = loopnet.from_pcm(train.pcm[:1])[0], loopnet.from_pcm(train.pcm[1:2])[0]
    n_fft, hop = 512, 128
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann (torch.hann_window)

    def magnitudes(x):
        padded = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect")
        frames = [padded[i : i + n_fft] * window for i in range(0, len(padded) - n_fft + 1, hop)]
        return np.abs(np.fft.rfft(np.array(frames), axis=-1))

    expected = np.mean(np.abs(magnitudes(a) - magnitudes(b)))
    found = float(loopnet.spectral_l1(torch.from_numpy(a[None]), torch.from_numpy(b[None]), n_fft, hop))
    assert found == pytest.approx(expected, rel=1e-4)


def test_a_nearly_right_bar_costs_far_less_than_silence_under_the_multi_loss(train):
    """The loss must reward getting the spectrum right even before the phase is exact, or silence is
    the easy optimum: the real bar 64 samples (4 ms) late costs 0.29 of silence under the paper's
    sum (measured), 0.70 under the first implementation's 1/sqrt(n_fft) scaling."""
    _, spec = loopnet.variant_setup("MULTI")
    bars = torch.from_numpy(loopnet.from_pcm(train.pcm))
    late = torch.roll(bars, 64, dims=-1)
    ratios = [
        float(loopnet.variant_loss(late[i : i + 1], bars[i : i + 1], spec))
        / float(loopnet.variant_loss(torch.zeros_like(bars[i : i + 1]), bars[i : i + 1], spec))
        for i in range(len(bars))
    ]
    assert np.median(ratios) < 0.4, ratios


def test_weights_and_the_log_term_come_from_the_config(train):
    target = torch.from_numpy(loopnet.from_pcm(train.pcm[:1]))
    output = 0.5 * torch.roll(target, 100, dims=-1)
    _, plain = loopnet.variant_setup("WAVSPEC")
    _, weighted = loopnet.variant_setup(
        "WAVSPEC", {"waveform_weight": 2.0, "spectral_weight": 3.0, "log_spectral_weight": 0.5}
    )
    l1 = float((output - target).abs().mean())
    spectral = float(loopnet.spectral_l1(output, target, 1024, 512))
    log_term = float(loopnet.log_spectral_l1(output, target, 1024, 512))
    assert float(loopnet.variant_loss(output, target, plain)) == pytest.approx(l1 + spectral, rel=1e-5)
    assert float(loopnet.variant_loss(output, target, weighted)) == pytest.approx(
        2 * l1 + 3 * spectral + 0.5 * log_term, rel=1e-5
    )
    # The gates leave the log term out (silence is infinitely far under it).
    assert float(loopnet.variant_loss(output, target, weighted, with_log=False)) == pytest.approx(
        2 * l1 + 3 * spectral, rel=1e-5
    )


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
    values = [
        loopnet.spectral_convergence(loopnet.griffin_lim(magnitude, 1024, 256, n, x.shape[-1]), magnitude, 1024, 256)
        for n in (0, 4, 16)
    ]
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
    path.write_text(
        json.dumps({"hpcp": {"min": [0] * 12, "max": [1] * 12}, "timbre": {"min": [0] * 20, "max": [1] * 20}})
    )
    with pytest.raises(ValueError, match="timbre"):
        loopnet.GlobalScaler.from_file(path)


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------
def test_training_resumes_and_the_model_travels_with_its_settings(train, scaler, tmp_path):
    section = {"epochs": 2, "base_filters": 4, "batch_size": 4, "lr": 3e-3, "probe_segments": 4}
    torch.set_num_threads(1)
    model, history = loopnet.train_loopnet(
        train, scaler, "MULTI", section, seed=0, checkpoint_dir=tmp_path / "ck", device="cpu"
    )
    assert len(history["probe_loss"]) == 3 and len(history["train_loss"]) == 2
    # The silence reference: the untrained network outputs exactly silence.
    assert history["silence_probe_loss"] == pytest.approx(history["probe_loss"][0])
    # Asking for one more epoch resumes from the checkpoint instead of starting again.
    more, resumed = loopnet.train_loopnet(
        train, scaler, "MULTI", {**section, "epochs": 3}, seed=0, checkpoint_dir=tmp_path / "ck", device="cpu"
    )
    assert resumed["probe_loss"][:3] == history["probe_loss"] and len(resumed["train_loss"]) == 3
    audio = {
        "segments": {"sample_rate": 16000, "target_bpm": 130, "beats_per_bar": 4, "crispness": 4},
        "features": {**loopnet.transfer.DEFAULT_AUDIO["features"], "kick_hz": [30, 120]},
    }
    loopnet.save_loopnet(tmp_path / "model", more, "MULTI", section, scaler, resumed, audio)
    loaded = loopnet.LoopNet.load(tmp_path / "model")
    assert loaded.variant == "MULTI" and loaded.config.base_filters == 4 and loaded.config.norm == "batch"
    assert loaded.audio_settings == audio
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["loss"]["spectral_weight"] == 1.0 and meta["loss"]["log_spectral_weight"] == 0.0
    extractor = loopnet.transfer.feature_extractor(loaded.audio_settings)
    assert extractor.segments["crispness"] == 4 and extractor.transcriber.bands_hz["kick"] == (30, 120)
    for name, tensor in more.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)


def test_training_is_deterministic(train, scaler, tmp_path):
    section = {"epochs": 1, "base_filters": 4, "batch_size": 4, "probe_segments": 4}
    torch.set_num_threads(1)
    _, first = loopnet.train_loopnet(train, scaler, "WAV", section, seed=3, checkpoint_dir=tmp_path / "a", device="cpu")
    _, second = loopnet.train_loopnet(
        train, scaler, "WAV", section, seed=3, checkpoint_dir=tmp_path / "b", device="cpu"
    )
    assert first["probe_loss"] == second["probe_loss"]


def test_a_short_real_training_run_beats_silence_on_held_out_clips():
    """The gate the demo checks, at unit-test size: 100 Adam steps (batch 8) of the base-8 network
    on 0.5-s clips with two kick-like hits at random onsets, the kick activation marking them.
    On 8 held-out clips the MULTI loss must be <= 0.8 x the loss of silence (measured: 0.68 after
    100 steps, 0.59 after 150; the first implementation's network sat at 0.98-1.0 of silence).
    This replaces a test that passed by quieting the random initial output."""
    n, hop = 8192, 256
    t = np.arange(2048) / 16000
    noise = np.random.default_rng(9).standard_normal(2048)
    hit = (0.6 * np.sin(2 * np.pi * 70 * t) * np.exp(-t / 0.05) + 0.3 * noise * np.exp(-t / 0.004)).astype(np.float32)

    def clips(count, seed):
        rng = np.random.default_rng(seed)
        audio, frames = np.zeros((count, n), np.float32), np.zeros((count, 4, 1 + n // hop), np.float32)
        for i in range(count):
            for onset in rng.choice(np.arange(0, n - 2048, hop), size=2, replace=False):
                gain = rng.uniform(0.5, 1.0)
                audio[i, onset : onset + 2048] += gain * hit
                frames[i, 0, onset // hop] = gain
            level = np.sqrt(np.convolve(audio[i] ** 2, np.ones(hop) / hop, "same"))[::hop]
            frames[i, 3, : len(level)] = level[: frames.shape[-1]]
        return torch.from_numpy(audio), torch.from_numpy(frames)

    def inputs(frames):
        return loopnet.frames_to_samples(loopnet.normalise_activations(frames), n_samples=n, hop=hop), torch.zeros(
            len(frames), 33
        )

    torch.set_num_threads(1)
    torch.manual_seed(0)
    _, spec = loopnet.variant_setup("MULTI")
    model = WaveUNet(LoopNetConfig(n_samples=n, base_filters=8))
    optimiser = torch.optim.Adam(model.parameters(), 1e-3)
    train_audio, train_frames = clips(32, seed=0)
    test_audio, test_frames = clips(8, seed=1)
    for _ in range(100):
        index = torch.randint(0, 32, (8,))
        loss = loopnet.variant_loss(model(*inputs(train_frames[index])), train_audio[index], spec)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        output = model(*inputs(test_frames))
    ratio = float(loopnet.variant_loss(output, test_audio, spec)) / float(
        loopnet.variant_loss(torch.zeros_like(output), test_audio, spec)
    )
    assert ratio <= 0.8, ratio
    level_db = 20 * np.log10(float(output.std()) / float(test_audio.std()))
    assert abs(level_db) <= 6, level_db
