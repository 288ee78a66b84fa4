"""LoopNet training (resumable, deterministic) and the saved model (DESIGN model contract)."""

from __future__ import annotations

import logging
import time

import numpy as np

from loopgen.audio.segments import from_pcm
from loopgen.loopnet.data import GlobalScaler, SegmentSet, network_inputs
from loopgen.loopnet.losses import variant_loss
from loopgen.loopnet.variants import FEATURE_HOP, SAMPLE_RATE, TRAINING_KEYS, settings, variant_setup

log = logging.getLogger("loopgen.loopnet")


def _batch(data: SegmentSet, scaler: GlobalScaler, index, device, use_envelope: bool):
    """Network inputs and target waveform of the segments at `index`, on `device`."""
    import torch

    frames = torch.from_numpy(data.frames[index]).to(device)
    global_scaled = torch.from_numpy(scaler.scale(data.global_raw[index])).to(device)
    target = torch.from_numpy(from_pcm(data.pcm[index])).to(device)
    time_varying, global_scaled = network_inputs(frames, global_scaled, use_envelope)
    return time_varying, global_scaled, target


def _probe_loss(model, data, scaler, spec, probe, device, batch_size, silence: bool = False) -> float:
    """Mean loss on a fixed set of training segments, in eval mode (comparable across epochs).
    silence=True: the same loss for an all-zero output (the trivial answer the model must beat)."""
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(probe), batch_size):
            index = probe[start : start + batch_size]
            time_varying, global_scaled, target = _batch(data, scaler, index, device, model.config.use_envelope)
            output = model(time_varying, global_scaled)
            total += float(variant_loss(torch.zeros_like(output) if silence else output, target, spec)) * len(index)
    model.train()
    return total / max(len(probe), 1)


def train_loopnet(
    data: SegmentSet,
    scaler: GlobalScaler,
    variant: str,
    section: dict,
    seed: int,
    checkpoint_dir,
    device,
    run_key: str = "",
    precision: str = "fp32",
) -> tuple[object, dict]:
    """Train one variant on `data` (the train split); resumable from `checkpoint_dir` when the
    variant, the settings that shape training, the seed and `run_key` (the workflow passes its
    code hash) are those of the checkpoint; otherwise training starts over.

    Returns (model, history) where history holds the probe loss before training and after each
    epoch, and the mean training loss of each epoch."""
    import torch
    from tqdm import tqdm

    from loopgen.device import autocast
    from loopgen.models.wave_unet import WaveUNet
    from loopgen.training import Checkpoint, rng_state, seed_everything, set_rng_state

    s = settings(section)
    config, spec = variant_setup(variant, s)
    generator = seed_everything(seed)
    model = WaveUNet(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=s["lr"])
    probe = np.arange(min(s["probe_segments"], len(data)))
    checkpoint = Checkpoint(checkpoint_dir)
    state = checkpoint.load()
    # A checkpoint is resumed only when what shapes training is unchanged (more epochs: go on).
    resumable = {"seed": seed, "run_key": run_key, **{key: s[key] for key in TRAINING_KEYS}}
    if state is not None and state.get("variant") == variant and state.get("settings") == resumable:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        history = state["history"]
        log.info("%s: resumed from %s at epoch %d", variant, checkpoint.path, len(history["train_loss"]))
    else:
        if state is not None:
            log.info(
                "%s: %s holds another run (variant, settings, seed or code differ); starting over",
                variant,
                checkpoint.path,
            )
        history = {
            "probe_loss": [_probe_loss(model, data, scaler, spec, probe, device, s["batch_size"])],
            "train_loss": [],
            "seconds": [],
            "silence_probe_loss": _probe_loss(model, data, scaler, spec, probe, device, s["batch_size"], True),
        }
        log.info(
            "%s: %d training segments, %d parameters, probe loss before training %.4f (silence: %.4f)",
            variant,
            len(data),
            sum(p.numel() for p in model.parameters()),
            history["probe_loss"][0],
            history["silence_probe_loss"],
        )
    model.train()
    for epoch in range(len(history["train_loss"]), s["epochs"]):
        started = time.perf_counter()
        order = torch.randperm(len(data), generator=generator).numpy()
        losses = []
        for start in tqdm(range(0, len(order), s["batch_size"]), desc=f"{variant} epoch {epoch + 1}", mininterval=30):
            index = np.sort(order[start : start + s["batch_size"]])
            time_varying, global_scaled, target = _batch(data, scaler, index, device, config.use_envelope)
            with autocast(device, precision):
                output = model(time_varying, global_scaled)
            loss = variant_loss(output.float(), target, spec)  # STFT losses in fp32
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.detach())  # no .item() here: it would wait for the GPU every step
        history["train_loss"].append(float(torch.stack(losses).mean()))
        history["probe_loss"].append(_probe_loss(model, data, scaler, spec, probe, device, s["batch_size"]))
        history["seconds"].append(time.perf_counter() - started)
        log.info(
            "%s epoch %d/%d: train loss %.4f, probe loss %.4f (%.3f of silence's) (%.1f s, %.1f segments/s)",
            variant,
            epoch + 1,
            s["epochs"],
            history["train_loss"][-1],
            history["probe_loss"][-1],
            history["probe_loss"][-1] / history["silence_probe_loss"],
            history["seconds"][-1],
            len(data) / history["seconds"][-1],
        )
        checkpoint.save(
            {
                "variant": variant,
                "settings": resumable,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "generator": generator.get_state(),
                "rng": rng_state(),
                "history": history,
            }
        )
    return model.eval(), history


def save_loopnet(
    folder, model, variant: str, section: dict, scaler: GlobalScaler, history: dict, audio_settings: dict | None = None
) -> None:
    """DESIGN model contract, with what synthesis needs beside the weights: variant, loss, scaler,
    and `audio` = the audio stage's segments + features settings the training data was made with
    (so `loopgen synth` re-extracts controls the same way)."""
    from dataclasses import asdict

    from loopgen.training import save_model

    s = settings(section)
    _, spec = variant_setup(variant, s)
    extras = {
        "variant": variant,
        "loss": asdict(spec),
        "audio": audio_settings,
        "feature_hop": FEATURE_HOP,
        "sample_rate": SAMPLE_RATE,
        "history": history,
        "feature_stats": scaler.stats,
    }
    save_model(folder, model, model.config, extras)
