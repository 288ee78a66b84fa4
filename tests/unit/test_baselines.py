"""The three baselines (S appendix A): the networks' defining facts, a short training run that beats
the trivial column-density model, and seeded, well-formed samples through the uniform entry point."""

import numpy as np
import pytest
import torch

from loopgen import baselines
from loopgen.baselines import musegan as musegan_training
from loopgen.baselines.common import trivial_bce
from loopgen.models.cnn_vae import CNNVAE, CNNVAEConfig
from loopgen.models.musegan import MuseGAN, MuseGANConfig
from loopgen.models.music_transformer import (
    MusicTransformer,
    MusicTransformerConfig,
    RelativeGlobalAttention,
)
from loopgen.roll import PACKED_BYTES, pack_rolls, unpack_rolls
from loopgen.symbolic import LoopSet
from loopgen.training import save_model

pytestmark = pytest.mark.usefixtures("one_thread")
SPLIT = {"val_fraction": 0.25, "split_by": "song"}


def patterned_loops(n=96, n_patterns=6, n_songs=12, seed=0) -> LoopSet:
    """Loops that repeat one of a few random one-bar patterns 8 times: structure a model can learn
    (time: each bar repeats; across loops: few patterns), which a column-density model cannot."""
    rng = np.random.default_rng(seed)
    bars = rng.random((n_patterns, 16, 57)) < 0.08
    rolls = np.tile(bars[rng.integers(n_patterns, size=n)], (1, 8, 1))
    files = np.array([f"song{i % n_songs}" for i in range(n)], dtype=object)
    return LoopSet(np.array([f"{f}:{i}" for i, f in enumerate(files)], dtype=object), files, pack_rolls(rolls))


# --- networks


def test_cnn_vae_has_the_released_size_and_shapes():
    model = CNNVAE(CNNVAEConfig())
    assert sum(p.numel() for p in model.parameters()) == 6_962_745  # research note: 4,513,920 + 2,448,825
    assert model.decoder[-1].kernel_size == (7,)
    x = torch.zeros(2, 57, 128)
    logits, mu, std = model(x)
    assert logits.shape == (2, 57, 128) and mu.shape == std.shape == (2, 512) and (std > 0).all()


def explicit_relative_logits(q, er):
    """S_rel[i, j] = q_i . Er[L-1-(i-j)] for j <= i, by a plain double loop."""
    length = q.shape[-2]
    out = torch.zeros(*q.shape[:-2], length, length)
    for i in range(length):
        for j in range(i + 1):
            out[..., i, j] = (q[..., i, :] * er[length - 1 - (i - j)]).sum(-1)
    return out


def test_skewed_relative_attention_equals_the_explicit_gather():
    from loopgen.models.music_transformer import skew

    torch.manual_seed(0)
    q, er = torch.randn(2, 3, 10, 4), torch.randn(10, 4)
    skewed = skew(q @ er.t())
    lower = torch.ones(10, 10, dtype=torch.bool).tril()
    assert torch.allclose(skewed[..., lower], explicit_relative_logits(q, er)[..., lower], atol=1e-5)


def test_attention_is_causal_and_the_cached_step_matches():
    torch.manual_seed(0)
    model = MusicTransformer(MusicTransformerConfig(n_layers=2, d_model=32, n_heads=2, d_ff=16, max_len=128)).eval()
    frames = (torch.rand(2, 40, 57) < 0.1).float()
    changed = frames.clone()
    changed[:, 21:] = 1 - changed[:, 21:]  # perturb frames 21..39
    a, b = model(frames), model(changed)
    assert torch.allclose(a[:, :21], b[:, :21], atol=1e-5)  # outputs up to 20 never see the future
    assert not torch.allclose(a[:, 21:], b[:, 21:])
    caches = [{} for _ in model.blocks]
    stepped = torch.stack([model.step(frames[:, t], caches) for t in range(40)], dim=1)
    assert torch.allclose(stepped, a, atol=1e-4)
    attention = RelativeGlobalAttention(model.config)
    assert isinstance(attention.relative, torch.nn.Parameter)  # learned, and saved in the state dict
    assert any(k.endswith("attention.relative") for k in model.state_dict())


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_grows_otherwise():
    torch.manual_seed(0)
    real, fake = torch.randn(16, 128, 9), torch.randn(16, 128, 9)
    w = torch.randn(128 * 9)

    def linear_critic(scale):
        return lambda x: x.flatten(1) @ (scale * w / w.norm())  # gradient norm = scale everywhere

    assert musegan_training.gradient_penalty(linear_critic(1.0), real, fake).item() == pytest.approx(0, abs=1e-8)
    assert musegan_training.gradient_penalty(linear_critic(3.0), real, fake).item() == pytest.approx(4.0, rel=1e-4)
    assert musegan_training.gradient_penalty(linear_critic(0.0), real, fake).item() == pytest.approx(1.0)


def test_musegan_tracks_share_no_parameters():
    model = MuseGAN(MuseGANConfig(g_channels=16, d_channels=8))
    assert len(model.generators) == len(model.critics) == 2
    groups = [list(model.generators[i].parameters()) + list(model.critics[i].parameters()) for i in range(2)]
    assert not {id(p) for p in groups[0]} & {id(p) for p in groups[1]}
    noise = model.eval().noise(3)
    out = model.generate(noise)
    assert out.shape == (3, 128, 57) and out.abs().max() < 1
    changed = noise.clone()
    changed[:, 1] += 1  # the bass noise moves the bass, never the drums
    out2 = model.generate(changed)
    assert torch.equal(out[:, :, :9], out2[:, :, :9]) and not torch.equal(out[:, :, 9:], out2[:, :, 9:])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.critics.modules())


def test_musegan_rejects_pitch_factors_that_do_not_multiply_to_the_columns():
    with pytest.raises(ValueError, match="multiply to 12, not 48"):
        MuseGANConfig(tracks=[["drums", 9, [3, 3]], ["bass", 48, [12]]])


# --- short training on patterned loops


def split_of(loops):
    from loopgen.baselines.common import split_loops

    is_val = split_loops(loops, SPLIT["val_fraction"], SPLIT["split_by"], seed=1)
    return loops.packed[~is_val], loops.packed[is_val]


@pytest.fixture(scope="module")
def loops():
    return patterned_loops()


def test_cnn_vae_beats_the_trivial_model(loops, tmp_path):
    section = {"epochs": 25, "batch_size": 16, "lr": 3e-3, "channels": 16, "latent_dim": 32}
    trained = baselines.module("cnn_vae").train(loops, section, SPLIT, 1, tmp_path / "ckpt")
    train, val = split_of(loops)
    last = trained.history[-1]
    assert last["trivial_bce"] == pytest.approx(trivial_bce(train, val))
    assert (
        trained.extras["val_nelbo"] < 0.8 * trained.extras["trivial_bce"]
    )  # a bound on its BCE, below the trivial BCE
    assert trained.extras["val_hamming"] < last["zeros_hamming"]
    best = min(trained.history, key=lambda r: r["val_hamming"])
    assert trained.extras["best_epoch"] == best["epoch"]


def test_music_transformer_beats_the_trivial_model(loops, tmp_path):
    section = {"epochs": 10, "batch_size": 16, "lr": 3e-3, "n_layers": 2, "d_model": 32, "d_ff": 32}
    trained = baselines.module("music_transformer").train(loops, section, SPLIT, 1, tmp_path / "ckpt")
    assert trained.extras["val_loss"] < 0.8 * trained.extras["trivial_bce"]
    assert sum(trained.extras["first_frame_counts"]) == len(split_of(loops)[0])


def test_musegan_moves_its_column_densities_towards_the_data(loops, tmp_path):
    section = {"steps": 40, "log_every": 20, "n_critic": 5, "batch_size": 16, "g_channels": 32, "d_channels": 32}
    trained = baselines.module("musegan").train(loops, section, SPLIT, 1, tmp_path / "ckpt")
    untrained, last = trained.history[0], trained.history[-1]
    assert untrained["step"] == 0 and last["step"] == 40
    # Sampled in eval mode, the untrained generator is silent or near it; the trained one puts notes
    # where the data has them: its column densities are nearer the data's than silence is.
    assert last["density_l1"] < min(untrained["density_l1"], untrained["silent_density_l1"]) - 0.5
    assert np.isfinite(last["val_wasserstein"])


# --- sampling


@pytest.mark.parametrize(
    "name,config",
    [
        ("cnn_vae", CNNVAEConfig(channels=8, latent_dim=16)),
        ("musegan", MuseGANConfig(g_channels=16, d_channels=8)),
        ("music_transformer", MusicTransformerConfig(n_layers=1, d_model=16, d_ff=16)),
    ],
)
def test_samples_are_packed_rolls_and_seed_reproducible(name, config, tmp_path):
    model_class = {"cnn_vae": CNNVAE, "musegan": MuseGAN, "music_transformer": MusicTransformer}[name]
    torch.manual_seed(0)
    model = model_class(config).eval()
    if name == "musegan":  # BatchNorm statistics of real activations, else eval mode ignores the noise
        with torch.no_grad():
            for _ in range(30):
                model.train().generate(model.noise(64))
        model.eval()
    extras = {"first_frames": [[0, 10], []], "first_frame_counts": [3, 1]} if name == "music_transformer" else {}
    save_model(tmp_path, model, config, extras)
    a = baselines.sample_rolls(name, tmp_path, 7, seed=5, batch_size=4)
    b = baselines.sample_rolls(name, tmp_path, 7, seed=5, batch_size=4)
    c = baselines.sample_rolls(name, tmp_path, 7, seed=6, batch_size=4)
    assert a.shape == (7, PACKED_BYTES) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    if name == "music_transformer":  # first frames come from the saved training first frames
        first = unpack_rolls(a)[:, 0]
        assert all(set(np.flatnonzero(f)) in ({0, 10}, set()) for f in first)


def test_unknown_baseline_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown baseline 'gan'"):
        baselines.module("gan")


def test_music_transformer_first_frames_are_the_loops_first_rows():
    from loopgen.baselines.music_transformer import first_frames

    rolls = np.random.default_rng(0).random((50, 128, 57)) < 0.3
    rolls[:10, 0] = rolls[10, 0]  # one first frame 11 times
    frames, counts = first_frames(pack_rolls(rolls))
    expected: dict[tuple, int] = {}
    for row in rolls[:, 0]:
        key = tuple(np.flatnonzero(row))
        expected[key] = expected.get(key, 0) + 1
    assert {tuple(f): n for f, n in zip(frames, counts)} == expected and max(counts) == 11


def test_musegan_resumes_where_it_stopped(loops, tmp_path):
    """Killed after its first checkpoint, a rerun continues from it and ends with the weights of an
    uninterrupted run."""
    from loopgen.baselines.musegan import GANSettings, GANTrainer

    train, val = split_of(loops)
    settings = GANSettings(steps=4, log_every=2, n_critic=1, batch_size=8, seed=3)
    config = MuseGANConfig(g_channels=8, d_channels=8)

    def trainer(folder):
        torch.manual_seed(0)
        return GANTrainer(MuseGAN(config), settings, train, val, folder, "same-run", "cpu")

    whole = trainer(tmp_path / "whole")
    whole.run()

    class Killed(Exception):
        pass

    interrupted = trainer(tmp_path / "cut")
    save = interrupted._save

    def save_then_die():
        save()
        raise Killed

    interrupted._save = save_then_die
    with pytest.raises(Killed):
        interrupted.run()
    assert interrupted.step == 2
    resumed = trainer(tmp_path / "cut")
    resumed.run()
    assert resumed.step == 4 and [r["step"] for r in resumed.history] == [0, 2, 4]
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
