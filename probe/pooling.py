"""Poolers: token states of every layer -> one vector per sentence.

A small registry, because users add poolers. Each pooler takes the stacked hidden states
``(n_layers, batch, seq, dim)``, the attention mask and the special-tokens mask
``(batch, seq)`` and returns ``(n_layers, batch, dim)`` float32.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch

Pooler = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
POOLERS: dict[str, Pooler] = {}


def register_pooler(name: str) -> Callable[[Pooler], Pooler]:
    def deco(fn: Pooler) -> Pooler:
        POOLERS[name] = fn
        return fn

    return deco


def get_pooler(name: str) -> Pooler:
    if name not in POOLERS:
        near = difflib.get_close_matches(name, POOLERS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown pooling {name!r}: expected one of {sorted(POOLERS)}{hint}")
    return POOLERS[name]


def _masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(torch.float32).unsqueeze(-1)  # (batch, seq, 1)
    summed = (states.to(torch.float32) * weights).sum(dim=-2)  # (n_layers, batch, dim)
    return summed / weights.sum(dim=-2).clamp(min=1.0)


@register_pooler("mean")
def mean_pool(states: torch.Tensor, attention: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
    """Mean over the attention mask, special tokens included (XTREME and jiant do this)."""
    return _masked_mean(states, attention)


@register_pooler("mean_nospecial")
def mean_nospecial_pool(
    states: torch.Tensor, attention: torch.Tensor, special: torch.Tensor
) -> torch.Tensor:
    """Mean over real tokens only: ``<s>``, ``</s>`` and padding excluded."""
    return _masked_mean(states, attention * (1 - special))


@register_pooler("cls")
def cls_pool(states: torch.Tensor, attention: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
    """The first token (``<s>``) of every sentence."""
    return states[:, :, 0].to(torch.float32)
