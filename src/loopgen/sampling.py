"""Drawing code sequences from the LSTM prior and decoding them to packed rolls (SPEC section 3).

Three modes, each a `SamplingMode`: temperature (0.7), top-k (k = 30) and nucleus/top-p
(p = 0.08). As in the released code, the top-k / top-p cut is made on the model's own
distribution and the temperature is then applied to what is left (config: every mode has a
temperature; the paper's 0.7 is the default of all three). Top-p keeps the smallest set of most
likely codes whose **sorted** cumulative probability reaches p (the released code summed the
unsorted softmax, a bug: see SPEC). That released filter is kept as an option
(`top_p_filter: released`, released_top_p_mask), because the paper's top-p row was presumably made
with it: at p = 0.08 the sorted filter keeps little more than the most likely code.

The first code of each sequence comes from the empirical first-code distribution of the training
set; the prior predicts the other S - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from loopgen.models.lstm_prior import LSTMPrior
from loopgen.models.vqvae import VQVAE
from loopgen.roll import PACKED_BYTES, ROLL_SHAPE

# On CPU the decoder runs fastest on chunks whose activations (chunk x 128 channels x 128 steps)
# stay in cache: 256 loops decode ~1.6x faster per CPU second than 1024 (benchmarks/bench_sampling.py).
CPU_DECODE_CHUNK = 256
# Bit weights of one packed byte, most significant first (np.packbits order).
_BIT_WEIGHTS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


@dataclass
class SamplingMode:
    temperature: float = 0.7
    top_k: int | None = None  # keep the k most likely codes
    top_p: float | None = None  # keep the smallest sorted set whose probability reaches p
    top_p_filter: str = "sorted"  # sorted (SPEC) | released (the released code's unsorted cumsum)

    def __post_init__(self):
        if self.top_p_filter not in TOP_P_FILTERS:
            raise ValueError(f"top_p_filter must be one of {', '.join(TOP_P_FILTERS)}, got {self.top_p_filter!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def top_k_mask(logits: torch.Tensor, k: int) -> torch.Tensor:
    """True for exactly k entries per row: the k largest (ties broken by torch.topk)."""
    k = min(k, logits.shape[-1])
    keep = torch.zeros_like(logits, dtype=torch.bool)
    return keep.scatter_(-1, logits.topk(k, dim=-1).indices, True)


def top_p_mask(logits: torch.Tensor, p: float) -> torch.Tensor:
    """True for the smallest set of most likely entries whose sorted cumulative probability
    reaches p. An entry is kept when the probability of everything more likely is still below p,
    so the most likely entry is always kept."""
    probs = logits.softmax(dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs
    keep_sorted = before < p
    return torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)


def released_top_p_mask(logits: torch.Tensor, p: float) -> torch.Tensor:
    """The released code's top-p filter (LSTM.forward in utils/model.py), reproduced operation by
    operation: the cumulative sum runs over the softmax in *code order* (unsorted), `> p` marks
    removals, the marks are shifted right by one, and the result is scattered through the
    descending sort order. So the r-th most likely code is kept when the codes with index below r
    hold at most p of the probability -- a set unrelated to the nucleus (at least one code is kept,
    the most likely)."""
    probs = logits.softmax(dim=-1)
    _, order = logits.sort(dim=-1, descending=True)
    remove = probs.cumsum(dim=-1) > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    return ~remove.scatter(-1, order, remove)


TOP_P_FILTERS = {"sorted": top_p_mask, "released": released_top_p_mask}


def next_code_probs(logits: torch.Tensor, mode: SamplingMode) -> torch.Tensor:
    """Logits (B, K) -> sampling distribution (B, K) of the mode."""
    keep = torch.ones_like(logits, dtype=torch.bool)
    if mode.top_k is not None:
        keep &= top_k_mask(logits, mode.top_k)
    if mode.top_p is not None:
        keep &= TOP_P_FILTERS[mode.top_p_filter](logits, mode.top_p)
    return (logits / mode.temperature).masked_fill(~keep, float("-inf")).softmax(dim=-1)


@torch.inference_mode()
def sample_codes(
    prior: LSTMPrior,
    first_code_probs: torch.Tensor,
    n: int,
    mode: SamplingMode,
    generator: torch.Generator,
    batch_size: int = 4096,
) -> torch.Tensor:
    """n code sequences (n, S) long, on the prior's device, drawn batch by batch.

    `generator` lives on the prior's device; the same seed gives the same sequences (on CPU).
    """
    device = next(prior.parameters()).device
    first_code_probs = torch.as_tensor(first_code_probs, dtype=torch.float32, device=device)
    batches = [
        _sample_batch(prior, first_code_probs, min(batch_size, n - start), mode, generator)
        for start in range(0, n, batch_size)
    ]
    return torch.cat(batches) if batches else torch.zeros(0, prior.config.seq_len, dtype=torch.long, device=device)


def _sample_batch(prior, first_code_probs, n, mode, generator) -> torch.Tensor:
    codes = torch.empty(n, prior.config.seq_len, dtype=torch.long, device=first_code_probs.device)
    codes[:, 0] = torch.multinomial(first_code_probs, n, replacement=True, generator=generator)
    state = None
    for t in range(1, prior.config.seq_len):
        logits, state = prior(codes[:, t - 1 : t], state)
        probs = next_code_probs(logits[:, -1], mode)
        codes[:, t] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    return codes


@torch.inference_mode()
def decode_codes(vqvae: VQVAE, codes: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Code sequences (N, S) -> packed rolls (N, 912) uint8 (a cell is on when sigmoid >= 0.5).

    Packing happens on the model's device, so only 912 bytes per loop cross to the host.
    """
    device = next(vqvae.parameters()).device
    if device.type == "cpu":
        batch_size = min(batch_size, CPU_DECODE_CHUNK)
    out = np.empty((len(codes), PACKED_BYTES), dtype=np.uint8)
    for start in range(0, len(codes), batch_size):
        logits = vqvae.decode_codes(codes[start : start + batch_size].to(device))
        out[start : start + len(logits)] = pack_active(logits).cpu().numpy()
    return out


def pack_active(logits: torch.Tensor) -> torch.Tensor:
    """Decoder logits (B, 57, 128) -> packed rolls (B, 912) uint8, same layout as roll.pack_rolls
    (row-major (128, 57) roll, most significant bit first)."""
    bits = (logits >= 0).transpose(1, 2).reshape(len(logits), PACKED_BYTES, 8)
    return (bits.to(torch.uint8) * _BIT_WEIGHTS.to(logits.device)).sum(-1, dtype=torch.uint8)


def unpack_batch(packed: torch.Tensor) -> torch.Tensor:
    """Packed rolls (B, 912) uint8 tensor -> float (B, 57, 128) model input, on packed's device.

    Unpacking per batch (on the GPU when there is one) keeps the dataset packed in memory: the
    paper's 752k loops are 0.7 GB packed, 22 GB as float."""
    bits = (packed.unsqueeze(-1) & _BIT_WEIGHTS.to(packed.device)) != 0
    return bits.reshape(len(packed), *ROLL_SHAPE).transpose(1, 2).float()
