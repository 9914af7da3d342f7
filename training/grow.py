"""Growing a trained model deeper without changing what it computes.

Each of the top n blocks gets a copy placed right after it. The copy's two residual output
projections (attention and MLP `c_proj`) start at zero, so it adds nothing to the residual
stream and the grown model's outputs equal the original's. The copies then learn, usually with a
larger learning rate than the trained blocks (`TrainConfig.grow_lr_mult`).
"""
from __future__ import annotations

import copy
import dataclasses

import torch

from memgpt.model import GPT


def grown_blocks(n_layer: int, n: int) -> list[int]:
    """Indices of the new blocks in a model of `n_layer` blocks that was grown by n."""
    if not 0 <= n <= n_layer // 2:
        raise ValueError(f"cannot have grown {n} of {n_layer} blocks (at most half are new)")
    base = n_layer - 2 * n
    return [base + 2 * k + 1 for k in range(n)]


def grow(model: GPT, n: int) -> GPT:
    """`model` with n more blocks (copies of its top n, outputs zeroed): same function, deeper."""
    old = model.config.n_layer
    if not 1 <= n <= old:
        raise ValueError(f"can grow by 1 to {old} blocks (the model's depth), not {n}")
    blocks = list(model.transformer.h)
    new_blocks = blocks[:old - n]
    for b in blocks[old - n:]:
        twin = copy.deepcopy(b)
        with torch.no_grad():
            for lin in (twin.attn.c_proj, twin.mlp.c_proj):
                lin.weight.zero_()
                if lin.bias is not None:
                    lin.bias.zero_()
        new_blocks += [b, twin]
    model.transformer.h = torch.nn.ModuleList(new_blocks)
    model.config = dataclasses.replace(model.config, n_layer=old + n)
    return model
