"""Device choice (loopgen.device) and code that must run with tensors off the CPU.

No GPU is needed: on CUDA, `np.asarray(tensor)` goes through `Tensor.__array__`, which calls
`.numpy()` and raises for any tensor not on the CPU, as a `meta` tensor shows here. The fixture
`like_cuda` makes every tensor's `__array__` raise that way, so device code that converts a tensor
to numpy without `.cpu()` fails on these CPU-only machines as it would on a GPU node.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from loopgen import detector
from loopgen.device import NoCudaError, autocast, rule_device, select_device


def _refuse_numpy_conversion(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy (simulated: Tensor.__array__)")

    monkeypatch.setattr(torch.Tensor, "__array__", refuse)


@pytest.fixture
def like_cuda(monkeypatch):
    _refuse_numpy_conversion(monkeypatch)


def test_numpy_conversion_of_a_non_cpu_tensor_fails_like_cuda():
    with pytest.raises((TypeError, NotImplementedError, RuntimeError)):
        np.asarray(torch.zeros(3, device="meta"), dtype=np.float32)


def test_train_detector_never_converts_a_device_tensor_with_numpy(like_cuda, one_thread, tmp_path):
    rng = np.random.default_rng(0)
    corr = (1 - rng.random((40, detector.N_CORR)) * 0.1).astype(np.float32)
    settings = detector.TrainSettings(epochs=2, batch_size=16, seed=1)
    trained = detector.train_detector(corr, settings, tmp_path / "ckpt", device="cpu")
    assert np.isfinite(trained.threshold) and trained.scores.shape == (40,)


def test_correlation_scores_takes_tensors_and_arrays_alike(one_thread, monkeypatch):
    from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig

    model = LoopDetector(LoopDetectorConfig())
    corr = np.random.default_rng(1).random((5, detector.N_CORR)).astype(np.float32)
    from_array = detector.correlation_scores(model, corr)
    _refuse_numpy_conversion(monkeypatch)  # the tensor path must not need Tensor.__array__
    from_tensor = detector.correlation_scores(model, torch.from_numpy(corr).double())
    np.testing.assert_allclose(from_tensor, from_array, rtol=1e-6)


# --- device follows the declared resources ------------------------------------------------------


@pytest.mark.parametrize("preference", ["auto", "cpu", "cuda"])
def test_rules_without_a_gpu_run_on_the_cpu_whatever_device_says(preference):
    assert select_device(preference, gpus=0, cuda_available=True) == torch.device("cpu")


@pytest.mark.parametrize("preference", ["auto", "cuda"])
def test_gpu_rules_use_cuda_when_present(preference):
    assert select_device(preference, gpus=1, cuda_available=True) == torch.device("cuda")


@pytest.mark.parametrize("preference", ["auto", "cuda"])
def test_gpu_rule_without_cuda_stops_with_one_line(preference):
    with pytest.raises(NoCudaError) as error:
        select_device(preference, gpus=1, cuda_available=False)
    message = str(error.value)
    assert "\n" not in message and "gpu: 1" in message and "device: cpu" in message


def test_explicit_cpu_trains_gpu_rules_on_the_cpu():
    assert select_device("cpu", gpus=1, cuda_available=False) == torch.device("cpu")


def test_rule_device_reads_the_job_and_logs_the_device(caplog, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    job = SimpleNamespace(rule="train_vqvae", params=SimpleNamespace(device="auto"), resources=SimpleNamespace(gpu=1))
    with pytest.raises(SystemExit) as stop:
        rule_device(job)
    assert str(stop.value).startswith("train_vqvae: this rule declares gpu: 1")
    cpu_job = SimpleNamespace(rule="score_phrases", params=SimpleNamespace(device="cuda"), resources=SimpleNamespace())
    with caplog.at_level("INFO", logger="loopgen"):
        assert rule_device(cpu_job) == torch.device("cpu")
    assert "device cpu" in caplog.text and "declares no gpu" in caplog.text


def test_bad_preference_is_an_error():
    with pytest.raises(ValueError, match="device must be one of"):
        select_device("gpu", gpus=1)


# --- bf16 ---------------------------------------------------------------------------------------


def test_bf16_autocast_runs_matmuls_in_bf16_and_fp32_leaves_them_alone():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        autocast("cpu", "fp16")


def test_conda_env_puts_pip_options_on_their_own_lines():
    """pip ignores an option written after a requirement on its line (its req_file.py)."""
    from pathlib import Path

    import yaml

    env = yaml.safe_load((Path(__file__).resolve().parents[2] / "envs" / "loopgen.yaml").read_text())
    pip_lines = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    for line in pip_lines:
        if not line.startswith("-"):
            assert " -" not in line, f"option on a requirement line is ignored by pip: {line!r}"
    torch_pins = [line for line in pip_lines if line.startswith("torch==")]
    assert torch_pins == ["torch==2.13.0+cpu"]
    assert any(line.startswith("--extra-index-url https://download.pytorch.org/whl/cpu") for line in pip_lines)


def test_loopnet_trains_in_bf16_without_converting_device_tensors(like_cuda, one_thread, tmp_path):
    from loopgen import loopnet

    shards = loopnet.synthetic_shards(tmp_path / "data", n_loops=3, bars=1, n_test_loops=1, seed=0)
    train = loopnet.load_segments([shards["segments"]], [shards["features"]], split="train")
    scaler = loopnet.GlobalScaler.from_file(shards["stats"])
    section = {"epochs": 1, "base_filters": 4, "batch_size": 2, "probe_segments": 2}
    _, fp32 = loopnet.train_loopnet(
        train, scaler, "MULTI", section, seed=0, checkpoint_dir=tmp_path / "a", device="cpu"
    )
    _, bf16 = loopnet.train_loopnet(
        train, scaler, "MULTI", section, seed=0, checkpoint_dir=tmp_path / "b", device="cpu", precision="bf16"
    )
    assert np.isfinite(bf16["train_loss"]).all() and bf16["probe_loss"][0] == fp32["probe_loss"][0]
    # bf16 keeps ~3 significant digits: the first epoch's loss agrees with fp32 to about 1 %.
    assert bf16["train_loss"][0] == pytest.approx(fp32["train_loss"][0], rel=0.05)


def test_symbolic_trainers_run_in_bf16_and_report_epoch_means_without_numpy_of_device_tensors(
    like_cuda, one_thread, tmp_path
):
    from loopgen.models.lstm_prior import PriorConfig
    from loopgen.models.vqvae import VQVAEConfig
    from loopgen.roll import pack_rolls
    from loopgen.symbolic import LoopSet, TrainSettings, train_prior, train_vqvae

    rng = np.random.default_rng(0)
    files = np.array([f"song{i % 8}" for i in range(48)], dtype=object)
    packed = pack_rolls(rng.random((48, 128, 57)) < 0.05)
    loops = LoopSet(np.array([f"{f}:{i}" for i, f in enumerate(files)], dtype=object), files, packed)
    settings = TrainSettings(epochs=1, batch_size=16, val_fraction=0.25, seed=5)
    config = VQVAEConfig(channels=8, codebook_size=16)
    _, fp32, _, _ = train_vqvae(loops, config, settings, tmp_path / "a")
    _, bf16, _, _ = train_vqvae(loops, config, settings, tmp_path / "b", precision="bf16")
    assert np.isfinite(bf16[0]["train_loss"]) and bf16[0]["train_loss"] == pytest.approx(
        fp32[0]["train_loss"], rel=0.05
    )
    assert 0 <= bf16[0]["train_hamming"] <= 1

    codes = rng.integers(0, 16, (48, 32))
    prior = PriorConfig(codebook_size=16, embed_dim=8, hidden=16, n_layers=1, seq_len=32)
    _, history, _, _ = train_prior(codes, files, prior, settings, tmp_path / "p", precision="bf16")
    assert np.isfinite(history[0]["train_loss"]) and 0 <= history[0]["train_accuracy"] <= 1
