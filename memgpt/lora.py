"""Adapters for a pretrained base: LoRA on the attention and MLP projections, plus the rows of the
tokens the base never had (memgpt's `<|scratch|>` … `<|/mem|>`).

    add_lora(model, rank=16, alpha=32)            # wraps c_attn, c_proj, c_fc in every block
    train_new_rows(model, n_base)                 # wte rows >= n_base learn; base rows stay exact
    save_adapter(dir, model, n_base, info) / load_adapter(dir, model)
    merge_lora(model)                             # fold B @ A into the weights: no cost at run time

An adapter is small (rank-16 matrices and a few embedding rows: ~16 MB for SmolLM2-135M), so the
project ships it and takes the base from its package. Loading merges it, so a fine-tuned model
decodes exactly as fast as its base.
"""
from __future__ import annotations

import json
import math
import os

import torch
import torch.nn as nn

from memgpt.checkpoint import _atomic_write, file_sha256
from memgpt.model import GPT

TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
ADAPTER_FILE, ADAPTER_META = "adapter.pt", "adapter.json"


class LoRALinear(nn.Module):
    """`base(x) + scale * (x A^T) B^T`; A (rank, in) random, B (out, rank) zero, so training starts
    at the base's own function."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base, self.rank, self.scale = base, rank, alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    @property
    def weight(self) -> torch.Tensor:  # for code that reads .weight (dtype, device, shape)
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t().to(x.dtype)) @ (self.lora_b.t() * self.scale).to(x.dtype)

    def delta(self) -> torch.Tensor:
        return (self.lora_b @ self.lora_a) * self.scale


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def add_lora(model: GPT, rank: int = 16, alpha: float = 32.0, targets: tuple[str, ...] = TARGETS) -> list[nn.Parameter]:
    """Freeze every parameter and wrap the `targets` projections of every block in LoRA.
    Returns the new trainable parameters."""
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for block in model.transformer.h:
        for t in targets:
            parent_name, _, leaf = t.rpartition(".")
            parent = block.get_submodule(parent_name) if parent_name else block
            lin = getattr(parent, leaf)
            if isinstance(lin, LoRALinear):
                raise ValueError(f"{t} already has LoRA")
            wrapped = LoRALinear(lin, rank, alpha)
            setattr(parent, leaf, wrapped)
            params += [wrapped.lora_a, wrapped.lora_b]
    return params


def train_new_rows(model: GPT, n_base: int) -> nn.Parameter:
    """Let the (tied) token embedding learn, but only its rows >= n_base: the base's rows get a
    zero gradient, so with no weight decay their values never move."""
    wte = model.transformer.wte.weight
    wte.requires_grad_(True)

    def keep_base(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:n_base] = 0
        return grad

    wte.register_hook(keep_base)
    return wte


def merge_lora(model: nn.Module) -> None:
    """Fold every LoRA delta into its base weight and unwrap (inference: no extra matmuls)."""
    for name, m in list(lora_modules(model).items()):
        with torch.no_grad():
            m.base.weight += m.delta().to(m.base.weight.dtype)
        parent_name, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent_name), leaf, m.base)


def adapter_state(model: nn.Module, n_base: int) -> dict[str, torch.Tensor]:
    """LoRA matrices and the new embedding rows: everything an adapter holds."""
    sd = {f"{n}.lora_a": m.lora_a.detach().clone() for n, m in lora_modules(model).items()}
    sd.update({f"{n}.lora_b": m.lora_b.detach().clone() for n, m in lora_modules(model).items()})
    sd["new_rows"] = model.transformer.wte.weight[n_base:].detach().clone()
    return sd


def save_adapter(directory: str, model: nn.Module, n_base: int, info: dict, dtype: torch.dtype = torch.float32) -> None:
    """Write adapter.pt (weights) and adapter.json (`info`: base name, rank, alpha, targets, ...,
    plus the weights' sha256), each replaced atomically."""
    os.makedirs(directory, exist_ok=True)
    sd = {k: v.to(dtype) for k, v in adapter_state(model, n_base).items()}
    wpath = os.path.join(directory, ADAPTER_FILE)
    _atomic_write(wpath, lambda f: torch.save(sd, f))
    meta = {**info, "n_base": n_base, "weights_sha256": file_sha256(wpath)}
    _atomic_write(os.path.join(directory, ADAPTER_META), lambda f: f.write(json.dumps(meta, indent=1).encode()))


class AdapterError(ValueError):
    """An adapter is missing, damaged, or made for another base."""


def read_adapter(directory: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(weights, meta) of an adapter directory, checked: the sha256 in adapter.json must match the
    weights, and every tensor must be finite."""
    mpath, wpath = os.path.join(directory, ADAPTER_META), os.path.join(directory, ADAPTER_FILE)
    try:
        with open(mpath) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise AdapterError(f"{mpath}: missing adapter file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AdapterError(f"{mpath}: corrupt adapter metadata ({e})") from None
    if not os.path.isfile(wpath):
        raise AdapterError(f"{wpath}: missing adapter file")
    if meta.get("weights_sha256") != file_sha256(wpath):
        raise AdapterError(f"{wpath}: weights do not match the checksum in {ADAPTER_META} (damaged or replaced)")
    sd = torch.load(wpath, map_location="cpu", weights_only=True)
    bad = [k for k, v in sd.items() if not torch.isfinite(v).all()]
    if bad:
        raise AdapterError(f"{wpath}: non-finite weights in {', '.join(bad[:3])}")
    return sd, meta


def apply_adapter(model: GPT, sd: dict[str, torch.Tensor], meta: dict, merge: bool = True) -> GPT:
    """Put an adapter read by `read_adapter` on `model` (its base): LoRA (merged unless `merge`
    is False, e.g. to go on training) and the new token rows."""
    n_base = int(meta["n_base"])
    new_rows = sd["new_rows"]
    wte = model.transformer.wte.weight
    if new_rows.shape != (wte.shape[0] - n_base, wte.shape[1]):
        raise AdapterError(f"adapter rows {tuple(new_rows.shape)} do not fit this base "
                           f"({wte.shape[0] - n_base} new rows of {wte.shape[1]})")
    add_lora(model, int(meta["rank"]), float(meta["alpha"]), tuple(meta["targets"]))
    mods = lora_modules(model)
    missing = [n for n in mods if f"{n}.lora_a" not in sd or f"{n}.lora_b" not in sd]
    if missing:
        raise AdapterError(f"adapter lacks LoRA weights for {', '.join(missing[:3])}")
    with torch.no_grad():
        for n, m in mods.items():
            m.lora_a.copy_(sd[f"{n}.lora_a"])
            m.lora_b.copy_(sd[f"{n}.lora_b"])
        wte[n_base:] = new_rows.to(wte.dtype)
    if merge:
        merge_lora(model)
        for p in model.parameters():
            p.requires_grad_(False)
    return model
