"""Training and sampling of the MuseGAN baseline (loopgen.models.musegan; S appendix A.3).

Two independent WGAN-GP games, one per track: each track's critic takes `n_critic` steps (real
loops of the training songs, mapped to {-1, 1}, against its generator's output) per step of its
generator; gradient penalty lambda = 10 on random interpolates; Adam(lr, beta = (0.5, 0.9)) for
every network, batch 64 (MuseGAN's current release; the appendix: lr 1e-3, 5 critic steps).
A GAN has no validation loss: the last step is kept. Every `log_every` generator steps the history
records the losses, each critic's Wasserstein estimate on validation loops, and how far the
generated column densities are from the training loops' (L1), beside an all-silent generator's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from loopgen import symbolic
from loopgen.baselines.common import TrainedBaseline, split_loops, split_metadata
from loopgen.models.musegan import MuseGAN, MuseGANConfig
from loopgen.roll import pack_rolls
from loopgen.sampling import unpack_batch
from loopgen.symbolic.trainer import run_fingerprint, settings_from
from loopgen.symbolic.vqvae_training import column_density
from loopgen.training import (
    Checkpoint,
    load_model,
    rng_state,
    seed_everything,
    set_rng_state,
)

log = logging.getLogger("loopgen.baselines.musegan")

PANELS = {
    "critic loss": ["d_loss"],
    "generator loss": ["g_loss"],
    "Wasserstein estimate (validation)": ["val_wasserstein"],
    "column density L1": ["density_l1", "silent_density_l1"],
}


@dataclass
class GANSettings:
    steps: int = 50_000  # generator updates (MuseGAN's src/ default)
    batch_size: int = 64
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.9
    n_critic: int = 5  # critic updates per generator update
    gp_weight: float = 10.0  # lambda
    log_every: int = 500  # generator steps per history row and checkpoint
    val_fraction: float = 0.2
    split_by: str = "song"
    seed: int = 1234


def gradient_penalty(
    critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean of (||grad critic(x_hat)|| - 1)^2 at random points
    x_hat = a * real + (1 - a) * fake, a ~ U(0, 1) per loop."""
    alpha = torch.rand(len(real), *([1] * (real.dim() - 1)), generator=generator, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def to_signed(packed: torch.Tensor) -> torch.Tensor:
    """Packed rolls (B, 912) -> (B, 128, 57) in {-1, 1}."""
    return unpack_batch(packed).transpose(1, 2) * 2 - 1


class GANTrainer:
    def __init__(
        self, model: MuseGAN, settings: GANSettings, train_packed, val_packed, checkpoint_dir, fingerprint, device
    ):
        self.model, self.settings, self.device = model, settings, device
        self.train_packed = torch.from_numpy(train_packed).to(device)
        self.val_packed = torch.from_numpy(val_packed[:1024]).to(device)
        betas = (settings.beta1, settings.beta2)
        self.g_opts = [torch.optim.Adam(g.parameters(), lr=settings.lr, betas=betas) for g in model.generators]
        self.d_opts = [torch.optim.Adam(d.parameters(), lr=settings.lr, betas=betas) for d in model.critics]
        self.rng = seed_everything(settings.seed)
        self.train_density = column_density(train_packed)  # from up to 20,000 loops
        self.checkpoint, self.fingerprint = Checkpoint(checkpoint_dir), fingerprint
        self.history: list[dict] = []
        self.step = 0

    def _real_batch(self) -> torch.Tensor:
        index = torch.randint(len(self.train_packed), (self.settings.batch_size,), generator=self.rng)
        return to_signed(self.train_packed[index.to(self.device)])

    def _noise(self, n: int) -> torch.Tensor:
        return self.model.noise(n, device=self.device)

    def run(self) -> list[dict]:
        self._resume()
        s, model = self.settings, self.model
        if not self.history:  # the untrained generator, for the curves and the tests
            self.history.append(
                {"step": 0, "epoch": 0.0, "d_loss": float("nan"), "g_loss": float("nan"), **self.evaluate()}
            )
        sums, started = {"d_loss": 0.0, "g_loss": 0.0}, time.perf_counter()
        while self.step < s.steps:
            model.train()
            for _ in range(s.n_critic):
                real, fake = self._real_batch(), model.generate(self._noise(s.batch_size)).detach()
                for track, (critic, opt) in enumerate(zip(model.critics, self.d_opts)):
                    cols = model.track_slices[track]
                    loss = (
                        critic(fake[:, :, cols]).mean()
                        - critic(real[:, :, cols]).mean()
                        + s.gp_weight * gradient_penalty(critic, real[:, :, cols], fake[:, :, cols], self.rng)
                    )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sums["d_loss"] += loss.item() / s.n_critic
            # The tracks' generator losses are summed for one backward pass: no parameter is shared,
            # so each generator still receives the gradient of its own critic only.
            fake = model.generate(self._noise(s.batch_size))
            losses = [-critic(fake[:, :, cols]).mean() for critic, cols in zip(model.critics, model.track_slices)]
            for opt in self.g_opts:
                opt.zero_grad(set_to_none=True)
            sum(losses).backward()
            for opt in self.g_opts:
                opt.step()
            sums["g_loss"] += sum(loss.item() for loss in losses)
            self.step += 1
            if self.step % s.log_every == 0 or self.step == s.steps:
                n = s.log_every if self.step % s.log_every == 0 else self.step % s.log_every
                row = {
                    "step": self.step,
                    "epoch": self.step * s.n_critic * s.batch_size / len(self.train_packed),
                    **{k: v / n for k, v in sums.items()},
                    **self.evaluate(),
                    "seconds": time.perf_counter() - started,
                }
                self.history.append(row)
                self._save()
                log.info(
                    "musegan step %d/%d: %s", self.step, s.steps, ", ".join(f"{k}={v:.4g}" for k, v in row.items())
                )
                sums, started = {"d_loss": 0.0, "g_loss": 0.0}, time.perf_counter()
        self.model.eval()
        return self.history

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation: Wasserstein estimate (sum over tracks) and the column-density distance."""
        self.model.eval()
        fake = self.model.generate(self._noise(512))
        density = (fake > 0).float().mean(dim=(0, 1)).cpu()
        row = {
            "density_l1": (density - self.train_density).abs().sum().item(),
            "silent_density_l1": self.train_density.abs().sum().item(),
        }
        if len(self.val_packed):
            real = to_signed(self.val_packed)
            row["val_wasserstein"] = sum(
                (c(real[:, :, cols]).mean() - c(fake[:, :, cols]).mean()).item()
                for c, cols in zip(self.model.critics, self.model.track_slices)
            )
        self.model.train()
        return row

    def _save(self) -> None:
        self.checkpoint.save(
            {
                "fingerprint": self.fingerprint,
                "step": self.step,
                "history": self.history,
                "model": self.model.state_dict(),
                "g_opts": [o.state_dict() for o in self.g_opts],
                "d_opts": [o.state_dict() for o in self.d_opts],
                "generator": self.rng.get_state(),
                "rng": rng_state(),
            }
        )

    def _resume(self) -> None:
        state = self.checkpoint.load()
        if state is None or state.get("fingerprint") != self.fingerprint:
            return
        self.model.load_state_dict(state["model"])
        for opt, saved in zip([*self.g_opts, *self.d_opts], [*state["g_opts"], *state["d_opts"]]):
            opt.load_state_dict(saved)
        self.rng.set_state(state["generator"])
        set_rng_state(state["rng"])
        self.history, self.step = state["history"], state["step"]
        log.info("resuming musegan from %s after step %d", self.checkpoint.path, self.step)


def train(
    loops: symbolic.LoopSet, section: dict, split: dict, seed: int, checkpoint_dir, device="cpu", run_key: str = ""
) -> TrainedBaseline:
    config, settings = settings_from(section, MuseGANConfig, seed, GANSettings, **split)
    is_val = split_loops(loops, settings.val_fraction, settings.split_by, seed)
    log.info("MuseGAN: %d training loops, %d validation loops", (~is_val).sum(), is_val.sum())
    seed_everything(settings.seed)
    model = MuseGAN(config).to(device)
    model.init_output_bias(column_density(loops.packed[~is_val]).to(device))
    fingerprint = run_fingerprint([loops.packed, is_val], config, settings, run_key=run_key)
    trainer = GANTrainer(
        model, settings, loops.packed[~is_val], loops.packed[is_val], checkpoint_dir, fingerprint, device
    )
    history = trainer.run()
    last = history[-1] if history else {}
    return TrainedBaseline(
        model.cpu().eval(),
        history,
        {
            **split_metadata(settings, is_val, None, "last step (a GAN has no validation loss)"),
            "density_l1": last.get("density_l1"),
            "val_wasserstein": last.get("val_wasserstein"),
        },
    )


class Sampler:
    """Each track's generator (eval mode: BatchNorm running statistics) on its own noise; on when > 0."""

    def __init__(self, model: MuseGAN):
        self.model = model

    @classmethod
    def load(cls, model_dir, device="cpu") -> Sampler:
        model, _config, _meta = load_model(model_dir, MuseGAN, MuseGANConfig, device=device)
        return cls(model)

    @torch.inference_mode()
    def draw(self, n: int, generator: torch.Generator) -> np.ndarray:
        device = next(self.model.parameters()).device
        rolls = self.model.generate(self.model.noise(n, generator, device)) > 0
        return pack_rolls(rolls.cpu().numpy())
