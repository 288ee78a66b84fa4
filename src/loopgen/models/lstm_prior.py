"""Autoregressive prior over VQ-VAE code sequences (SPEC section 3; S section 3.3.2).

Embedding(512 -> 128) -> 4-layer LSTM (hidden 512) -> Linear -> logits of the next code.
There is no start token: the first code of a sequence is drawn from the empirical distribution of
first codes in the training set (saved with the model), and the LSTM predicts codes 2..S.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class PriorConfig:
    codebook_size: int = 512  # K: vocabulary
    embed_dim: int = 128
    hidden: int = 512
    n_layers: int = 4
    seq_len: int = 32  # S: codes per loop


class LSTMPrior(nn.Module):
    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.codebook_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden, num_layers=config.n_layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.codebook_size)

    def forward(self, codes: torch.Tensor, state=None):
        """codes (B, T) long -> (logits (B, T, K) of the code after each position, LSTM state)."""
        out, state = self.lstm(self.embed(codes), state)
        return self.head(out), state

    def teacher_forcing(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole sequences (B, S) -> (logits (B, S-1, K) predicting codes 1.., targets (B, S-1))."""
        logits, _ = self(codes[:, :-1])
        return logits, codes[:, 1:]
