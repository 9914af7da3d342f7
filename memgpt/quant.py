"""Weight-only quantized inference on the CPU.

    quantize(model)   # in place: block projections int4, the output head int8; returns model

Decoding one token reads every weight once, so on a CPU its speed is the bytes per weight:
float32 SmolLM2-135M reads 540 MB a token, these 4-bit projections and 8-bit head ~100 MB
(docs/measurements.md). Reading many tokens at once (a prefill, ingest) is bound by arithmetic
instead, where the packed kernels are slow and a bfloat16 matmul is fastest: each layer keeps a
bfloat16 copy of its weights for inputs of DENSE_FROM rows or more. The weights are what change: the
residual stream and norms stay float32; each matmul takes its input rounded to bfloat16 (what
the kernels take) and returns float32; the KV cache and attention run in bfloat16.

The base's GGUF stores its projections as Q4_1 (blocks of 32 weights, each `d*q + m` with q in
0..15), so int4 in groups of 32 holds the same values, re-packed rather than re-rounded; the
head (Q8_0 in the GGUF) becomes int8 with one scale per row. A LoRA adapter is kept beside the
packed weights, unmerged, in float32: merging it first would round its small deltas onto the
4-bit grid.

Training never sees these modules (`memgpt finetune` loads float32 weights).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from memgpt.cpu import has_bf16 as cpu_has_bf16  # noqa: F401 (quant.cpu_has_bf16: models and tests use it)
from memgpt.model import GPT

GROUP = 32         # int4 weights per (scale, offset) pair: Q4_1's block
INNER_K_TILES = 2  # the CPU kernel's packing layout
DENSE_FROM = 8     # rows of input from which the bfloat16 copy is faster (measured on AMX)
ROWS = 4096        # weight rows converted at a time (bounds the temporaries, hence peak memory)


def available() -> bool:
    """torch has the CPU weight-only kernels (int4 packed groups, int8 rows)."""
    return hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu") and hasattr(torch, "_weight_int8pack_mm")


class _WeightOnly(nn.Module):
    """A linear layer with packed weights (for few rows) and a bfloat16 copy (for many); `(x A^T)
    B^T` of an unmerged LoRA added in float32."""

    def __init__(self, weight: torch.Tensor, lora: tuple[torch.Tensor, torch.Tensor] | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("dense", weight.detach().to(torch.bfloat16).t().contiguous())  # (in, out)
        a, b = lora if lora is not None else (None, None)
        self.register_buffer("lora_a", None if a is None else a.detach().float().t().contiguous())  # (in, rank)
        self.register_buffer("lora_b", None if b is None else b.detach().float().t().contiguous())  # (rank, out), scaled

    def _mm(self, x: torch.Tensor) -> torch.Tensor:  # (n, in) bfloat16 -> (n, out)
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        xb = flat.to(torch.bfloat16)
        y = (self._mm(xb) if flat.shape[0] < DENSE_FROM else xb @ self.dense).float()
        if self.lora_a is not None:
            y = torch.addmm(y, flat.float() @ self.lora_a, self.lora_b)
        if x.dtype != torch.float32:
            y = y.to(x.dtype)
        return y.view(*x.shape[:-1], self.out_features)


class Int4Linear(_WeightOnly):
    """Weights as 4-bit codes in groups of GROUP along the input, `(q - 8) * scale + zero`."""

    def __init__(self, weight: torch.Tensor, lora: tuple[torch.Tensor, torch.Tensor] | None = None):
        n, k = weight.shape
        if k % GROUP:
            raise ValueError(f"int4 groups of {GROUP} need in_features divisible by {GROUP}, got {k}")
        w = weight.detach().float().view(n, k // GROUP, GROUP)
        lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        scale = ((hi - lo) / 15).clamp(min=1e-12)
        q = ((w - lo) / scale).round().clamp(0, 15).to(torch.int32).view(n, k)
        zero = lo + 8 * scale  # the kernel's codes are centred on 8
        super().__init__(weight, lora)
        self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, INNER_K_TILES))
        self.register_buffer("scales_zeros", torch.cat([scale, zero], -1).transpose(0, 1).contiguous().to(torch.bfloat16))

    def _mm(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, GROUP, self.scales_zeros)


class Int8Linear(_WeightOnly):
    """Weights as int8 with one scale per output row."""

    def __init__(self, weight: torch.Tensor, lora: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(weight, lora)
        w = weight.detach().float()
        scale = (torch.cat([w[r:r + ROWS].abs().amax(1) for r in range(0, len(w), ROWS)]) / 127).clamp(min=1e-12)
        q = torch.empty(w.shape, dtype=torch.int8)
        for r in range(0, len(w), ROWS):  # a head of 49k rows: keep the float temporaries small
            q[r:r + ROWS] = (w[r:r + ROWS] / scale[r:r + ROWS, None]).round_().clamp_(-127, 127)
        self.register_buffer("q", q)
        self.register_buffer("scale", scale.to(torch.bfloat16))

    def _mm(self, x: torch.Tensor) -> torch.Tensor:
        return torch._weight_int8pack_mm(x, self.q, self.scale)


def _packed(module: nn.Module) -> _WeightOnly:
    """The packed replacement of an nn.Linear or a LoRA-wrapped one (int4; int8 where the input
    width does not split into groups)."""
    from memgpt.lora import LoRALinear  # lora imports the model, as this module does: no cycle
    lora = None
    if isinstance(module, LoRALinear):
        lora = (module.lora_a, module.lora_b * module.scale)
        module = module.base
    if not isinstance(module, nn.Linear) or module.bias is not None:
        raise TypeError(f"cannot pack {type(module).__name__} (bias-free nn.Linear layers only)")
    kind = Int4Linear if module.in_features % GROUP == 0 else Int8Linear
    return kind(module.weight, lora)


@torch.no_grad()
def quantize(model: GPT) -> GPT:
    """Pack `model`'s block projections (int4) and output head (int8) in place, for inference on
    the CPU; the token embedding keeps its float32 rows (untied from the head). Returns model.

    Raises:
        RuntimeError: not on the CPU, or this torch lacks the kernels.
    """
    if not available():
        raise RuntimeError(f"torch {torch.__version__} lacks the CPU weight-only kernels")
    if model.lm_head.weight.device.type != "cpu":
        raise RuntimeError("weight-only quantization runs on the CPU; on a GPU use bfloat16")
    for block in model.transformer.h:
        for parent in (block.attn, block.mlp):
            for leaf in ("c_attn", "c_fc", "c_proj"):
                if hasattr(parent, leaf):
                    setattr(parent, leaf, _packed(getattr(parent, leaf)))
    # the token embedding keeps the (tied) float32 table for its lookups; the head gets a packed copy
    model.lm_head = Int8Linear(model.lm_head.weight)
    # keys and values in bfloat16 too: at 2k tokens of context they are as many bytes a step as
    # the packed weights, and AMX attention in bfloat16 makes prefill ~1.7x faster
    model.config.kv_cache_dtype = "bfloat16"
    model.quantized = "int4"
    return model.eval().requires_grad_(False)
