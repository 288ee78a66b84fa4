"""Fréchet Audio Distance: the distance itself, VGGish loading, the default embedding's behaviour."""

import numpy as np
import pytest
import scipy.linalg
import torch

from loopgen.audio.synth import drum_loop
from loopgen.evaluation import fad
from loopgen.models.vggish import VGGishConfig, load_vggish, log_mel_examples, mel_matrix, random_vggish

SR = 16000
PATTERNS = ["k...s...k.k.s...", "k.h.s.h.k.h.s.hh", "k..ks...k...s..s", "kh.hsh.hkh.hshhh"]


def _loops(n, seed, seconds=0.98):
    """Short rendered drum clips (one VGGish example each), random patterns and gains."""
    rng = np.random.default_rng(seed)
    clips = [
        drum_loop([PATTERNS[rng.integers(len(PATTERNS))]], 130, SR, seed=int(rng.integers(1 << 30))) for _ in range(n)
    ]
    return np.stack([c[: int(seconds * SR)] * rng.uniform(0.4, 1.0) for c in clips]).astype(np.float32)


@pytest.fixture(scope="module")
def embedding():
    torch.set_num_threads(1)
    return fad.default_embedding(seeds=(0,))


def test_frechet_distance_matches_the_direct_scipy_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(loc=0.5, size=(250, 12)) @ rng.normal(size=(12, 12))
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    direct = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real)
    )
    assert fad.fad_from_embeddings(a, b) == pytest.approx(direct, rel=1e-8)
    assert fad.fad_from_embeddings(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_stays_real_for_singular_covariances():
    """Fewer samples than dimensions (a small test set): no complex noise, no negative result."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 128)), rng.normal(size=(20, 128))
    value = fad.fad_from_embeddings(a, b)
    assert np.isfinite(value) and value > 0


def test_mel_front_end_follows_vggish():
    config = VGGishConfig()
    assert (config.window, config.hop, config.n_fft) == (400, 160, 512)
    weights = mel_matrix(config)
    assert weights.shape == (257, 64) and np.all(weights[0] == 0)
    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(SR) / SR)[None]
    examples, owner = log_mel_examples(tone, config, example_hop_frames=48)
    assert examples.shape == (1, 1, 96, 64) and owner.tolist() == [0]  # 1 s: room for one 0.96 s example
    loudest_band = int(examples[0, 0].mean(0).argmax())
    centres = np.argmax(weights, axis=0) * SR / 512
    assert abs(centres[loudest_band] - 1000) < 60


def test_a_bar_gives_two_examples_at_the_default_hop():
    examples, owner = log_mel_examples(torch.zeros(3, 29538), VGGishConfig(), example_hop_frames=48)
    assert examples.shape == (6, 1, 96, 64) and owner.tolist() == [0, 0, 1, 1, 2, 2]


def test_vggish_loads_a_user_checkpoint(tmp_path):
    """A state dict in the torchvggish layout (with its PCA parameters beside the network) loads,
    and gives the saved network's embeddings: 128-d, before the last ReLU (so some negative)."""
    original = random_vggish(seed=5)
    state = {
        **original.state_dict(),
        "pproc._pca_matrix": torch.zeros(128, 128),
        "pproc._pca_means": torch.zeros(128, 1),
    }
    path = tmp_path / "vggish.pth"
    torch.save(state, path)
    loaded = load_vggish(str(path))
    examples = torch.randn(2, 1, 96, 64)
    with torch.no_grad():
        expected, got = original(examples), loaded(examples)
    torch.testing.assert_close(got, expected)
    assert got.shape == (2, 128) and (got < 0).any()
    embedding = fad.make_embedding(str(path), seeds=(0,), example_hop_s=0.48)
    assert embedding.name.startswith("VGGish (") and str(path) in embedding.name


def test_a_wrong_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a VGGish state dict"):
        load_vggish(str(path))


def test_fad_is_zero_against_itself_and_large_against_noise(embedding):
    clean = _loops(12, seed=0)
    other = _loops(12, seed=1)
    noise = np.random.default_rng(0).normal(scale=0.3, size=clean.shape).astype(np.float32)
    rows = {r["set"]: r for r in fad.fad_sets(embedding, clean, {"same": clean, "other": other, "noise": noise})}
    assert abs(rows["same"]["fad"]) < 1e-6 * rows["other"]["fad"]
    assert rows["noise"]["fad"] > 20 * rows["other"]["fad"] > 0
    assert all(r["embedding"] == embedding.name and "random weights" in r["embedding"] for r in rows.values())


def test_default_embedding_ranks_rising_damage_worse(embedding):
    """FAD against clean drum clips rises with the noise level and as the band limit narrows."""
    reference, audio = _loops(12, seed=2), _loops(12, seed=3)
    rows, monotonic = fad.degradation_check(
        embedding, reference, audio, snrs_db=(40, 20, 10), cutoffs_hz=(4000, 1000, 500)
    )
    assert monotonic, [(r["set"], round(r["fad"], 2)) for r in rows]
    assert [r["set"] for r in rows][:3] == ["noise 40 dB SNR", "noise 20 dB SNR", "noise 10 dB SNR"]


def test_peak_normalisation_follows_the_papers_fad_code():
    """x / max(0.1, max|x|): loud clips to peak 1, quiet ones raised by at most 20 dB."""
    audio = np.array([[0.5, -0.25, 0.0], [0.02, -0.05, 0.01], [0.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(
        fad.peak_normalise(audio), [[1.0, -0.5, 0.0], [0.2, -0.5, 0.1], [0.0, 0.0, 0.0]], rtol=1e-6
    )


def test_a_quieter_copy_of_the_real_set_scores_near_zero_with_peak_normalisation(embedding):
    """A copy 8 dB quieter (peaks stay above the 0.1 floor) is the same set after normalisation;
    without it, it scores like different audio (reviews A4: at -16 dB, worse than noise)."""
    clean, other = _loops(12, seed=0), _loops(12, seed=1)
    assert np.abs(0.4 * clean).max(axis=-1).min() > 0.1
    quiet = {"quiet": 0.4 * clean, "other": other}
    rows = {r["set"]: r["fad"] for r in fad.fad_sets(embedding, clean, quiet)}
    assert rows["quiet"] < 1e-6 * rows["other"]
    raw = fad.Embedding(embedding.name, embedding.networks, peak_normalise=False)
    raw_rows = {r["set"]: r["fad"] for r in fad.fad_sets(raw, clean, quiet)}
    assert raw_rows["quiet"] > 0.1 * raw_rows["other"]


def test_bootstrap_interval_brackets_the_fad_and_reference_rows_are_bad(embedding):
    clean, other = _loops(12, seed=4), _loops(12, seed=5)
    rows = fad.fad_sets(embedding, clean, {"other": other, **fad.reference_sets(clean)}, bootstrap=50)
    other_row = rows[0]
    assert other_row["fad_low"] < other_row["fad"] < other_row["fad_high"]
    names = [r["set"] for r in rows[1:]]
    assert names == ["white noise at the real bars' RMS", "real bars low-passed at 1000 Hz"]
    assert all(r["fad"] > other_row["fad_high"] for r in rows[1:])
    noise = fad.reference_sets(clean)["white noise at the real bars' RMS"]
    rms = lambda x: np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1))
    np.testing.assert_allclose(rms(noise), rms(clean), rtol=0.05)


def test_cdpam_weights_load_without_running_code_and_give_unit_embeddings():
    import importlib.util

    if importlib.util.find_spec("cdpam") is None:  # located, never imported (it imports resampy)
        pytest.skip("the cdpam wheel (pip install --no-deps cdpam==0.0.6) carries the weights")
    from loopgen.models import cdpam

    encoder = cdpam.load_cdpam()
    assert sum(p.numel() for p in encoder.parameters()) > 10_000_000
    with torch.inference_mode():
        acoustic, content = encoder(torch.randn(1, 22050) * 3000)
    assert acoustic.shape == content.shape == (1, 512)
    torch.testing.assert_close(acoustic.norm(dim=1), torch.ones(1))
    # The restricted reader refuses any global beyond tensors and dicts.
    import io
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        cdpam._TensorsOnly(io.BytesIO(pickle.dumps(Evil()))).load()


def test_reference_sets_made_in_row_chunks_are_those_of_one_whole_array_pass():
    """The chunked construction (issue 13: memory) gives exactly the whole-array noise and
    low-pass, computed here with numpy and scipy directly; int16 PCM gives what its floats give."""
    from scipy.signal import butter, sosfiltfilt

    from loopgen.audio.segments import from_pcm, to_pcm

    audio = _loops(7, seed=6)
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True))
    noise = (np.random.default_rng(0).standard_normal(audio.shape) * rms).astype(np.float32)
    low = sosfiltfilt(butter(8, 1000.0, "lowpass", fs=SR, output="sos"), audio, axis=-1).astype(np.float32)
    chunked = list(fad.reference_sets(audio, rows=3).values())
    np.testing.assert_array_equal(chunked[0], noise)
    np.testing.assert_array_equal(chunked[1], low)
    pcm = to_pcm(audio)
    for a, b in zip(fad.reference_sets(pcm, rows=2).values(), fad.reference_sets(from_pcm(pcm)).values()):
        np.testing.assert_array_equal(a, b)


def test_embedding_int16_pcm_equals_embedding_its_float_clips(embedding):
    from loopgen.audio.segments import from_pcm, to_pcm

    pcm = to_pcm(_loops(6, seed=7))
    for a, b in zip(embedding.embed(pcm), embedding.embed(from_pcm(pcm))):
        np.testing.assert_array_equal(a, b)
    # Normalised a batch at a time: the same clips, up to float32 convolution rounding by batch size.
    small_batches = fad.Embedding(embedding.name, embedding.networks, batch_size=4)
    for a, b in zip(small_batches.embed(pcm), embedding.embed(from_pcm(pcm))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_cdpam_embedding_chunks_a_bar_into_its_first_and_last_second_and_splits_the_halves(monkeypatch):
    """One encoder pass gives both halves (the benchmark embeds once for both); embed() returns the
    asked half. A small random encoder stands in for the weights (the chunking is what is tested)."""
    from loopgen.models import cdpam

    torch.manual_seed(0)
    small = cdpam.CdpamEncoder(cdpam.CdpamConfig(n_layers=4, base_filters=4, kernel_size=3)).eval()
    seen = []

    def encoder(x):
        seen.append(x.clone())
        return small(x)

    monkeypatch.setattr(cdpam, "load_cdpam", lambda device="cpu": encoder)
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 29538)).astype(np.float32)
    acoustic = fad.CdpamEmbedding("acoustic", batch_size=4)
    halves = acoustic.embed_halves(clips)
    chunks = torch.cat(seen)
    assert chunks.shape == (6, cdpam.SAMPLE_RATE)  # two 1-s chunks a 1.85-s bar, at 22.05 kHz
    # Chunk 2i is bar i's first second, 2i+1 its last: they overlap by ~0.15 s of the bar.
    overlap = 2 * cdpam.SAMPLE_RATE - -(-29538 * cdpam.SAMPLE_RATE // 16000)  # resample_poly's length: ceil
    torch.testing.assert_close(chunks[0, -overlap + 50 : -50], chunks[1, 50 : overlap - 50])
    assert float(chunks.abs().max()) > 16000  # peak-normalised to 1, then int16 scale
    assert halves[0].shape == halves[1].shape == (6, 4)  # 8 channels after 4 layers, split in two
    np.testing.assert_allclose(acoustic.embed(clips)[0], halves[0])
    np.testing.assert_allclose(fad.CdpamEmbedding("content", batch_size=4).embed(clips)[0], halves[1])
    assert not np.allclose(halves[0], halves[1])
