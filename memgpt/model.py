"""The transformer of both model families, with a KV cache.

One `GPTConfig` describes both: the tiny GPT (nanoGPT-shaped: LayerNorm, learned positions,
GELU MLP, one key/value head per query head) and the Llama family of pretrained bases such as
SmolLM2 (RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP). The families differ in
four small places (norm, positions, kv heads, MLP); the module names are shared, so adapters,
checkpoints and the engine treat both alike. Query, key and value are one fused projection
(`c_attn`), as are the SwiGLU gate and up projections (`c_fc`): one matmul each.

The cache supports what the controller needs: multi-token prefill, one-token decode, and
rewinding to an earlier position (drop the tail, e.g. to re-decode from a branch point).
"""
from __future__ import annotations

import contextlib
import inspect
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 256
    vocab_size: int = 4160  # tokenizer vocab padded up to a multiple of 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0
    bias: bool = False
    gelu_approx: str = "none"  # "tanh" for GPT-2 weights
    # Llama family (the defaults are the tiny GPT's, so older checkpoints load unchanged)
    norm: str = "layernorm"         # "layernorm" | "rmsnorm"
    norm_eps: float = 1e-5
    pos: str = "learned"            # "learned" (a wpe table) | "rope" (rotary, rotate-half layout)
    rope_theta: float = 10000.0
    n_kv_head: int | None = None    # key/value heads (grouped-query attention); None: n_head
    mlp: str = "gelu"               # "gelu" | "swiglu"
    mlp_hidden: int | None = None   # MLP width; None: 4 * n_embd
    tie_embeddings: bool = True
    kv_cache_dtype: str | None = None  # e.g. "bfloat16" (set for packed inference); None: the activations'

    def __post_init__(self) -> None:
        for name, allowed in (("norm", ("layernorm", "rmsnorm")), ("pos", ("learned", "rope")), ("mlp", ("gelu", "swiglu"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GPTConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head or self.n_head % self.kv_heads:
            raise ValueError(f"n_embd {self.n_embd}, n_head {self.n_head} and n_kv_head {self.kv_heads} do not divide")

    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def hidden(self) -> int:
        return 4 * self.n_embd if self.mlp_hidden is None else self.mlp_hidden

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Keys and values for every layer, preallocated to the block size. `pos` is the number of
    positions filled; `rewind(p)` forgets everything from position p on."""

    def __init__(self, config: GPTConfig, batch_size: int = 1, device: str | torch.device = "cpu"):
        self.config, self.batch_size, self.device = config, batch_size, device
        self.k: torch.Tensor | None = None  # (n_layer, B, n_kv, T, hs), allocated on first write
        self.v: torch.Tensor | None = None
        self.pos = 0

    def dtype_for(self, activations: torch.dtype) -> torch.dtype:
        """The dtype keys and values are kept in: the config's `kv_cache_dtype`, else the activations'."""
        name = self.config.kv_cache_dtype
        return getattr(torch, name) if name else activations

    def _alloc(self, dtype: torch.dtype) -> None:
        c = self.config
        shape = (c.n_layer, self.batch_size, c.kv_heads, c.block_size, c.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=self.device)
        self.v = torch.zeros(shape, dtype=dtype, device=self.device)

    def rewind(self, pos: int) -> None:
        if not 0 <= pos <= self.pos:
            raise ValueError(f"cannot rewind to {pos}: cache holds {self.pos} positions")
        self.pos = pos

    def reset(self) -> None:
        self.pos = 0


def rope_tables(config: GPTConfig, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (block_size, head_dim) of rotary positions, rotate-half layout (the layout of
    Hugging Face's Llama; llama.cpp's GGUF stores q/k rows interleaved, undone at load)."""
    hs = config.head_dim
    inv = 1.0 / (config.rope_theta ** (torch.arange(0, hs, 2, dtype=torch.float64, device=device) / hs))
    ang = torch.outer(torch.arange(config.block_size, dtype=torch.float64, device=device), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, nh, t, hs) by the angles of its positions (cos/sin: (t, hs))."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos.to(x.dtype) + torch.cat([-x2, x1], dim=-1) * sin.to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_kv, self.hs = config.n_head, config.kv_heads, config.head_dim
        self.c_attn = nn.Linear(config.n_embd, (self.n_head + 2 * self.n_kv) * self.hs, bias=config.bias)  # q, k, v fused
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_embd, self.dropout = config.n_embd, config.dropout
        self.gqa = self.n_kv != self.n_head

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        B, t, C = x.shape
        q, k, v = self.c_attn(x).split([self.n_head * self.hs, self.n_kv * self.hs, self.n_kv * self.hs], dim=2)
        q = q.view(B, t, self.n_head, self.hs).transpose(1, 2)  # (B, nh, t, hs)
        k = k.view(B, t, self.n_kv, self.hs).transpose(1, 2)    # (B, n_kv, t, hs)
        v = v.view(B, t, self.n_kv, self.hs).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        drop = self.dropout if self.training else 0.0
        gqa = {"enable_gqa": True} if self.gqa else {}
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True, **gqa)
        else:
            kv_dtype = cache.dtype_for(k.dtype)
            if cache.k is None or cache.k.dtype != kv_dtype:
                cache._alloc(kv_dtype)
            p = cache.pos
            cache.k[layer, :B, :, p:p + t] = k
            cache.v[layer, :B, :, p:p + t] = v
            K, V = cache.k[layer, :B, :, :p + t], cache.v[layer, :B, :, :p + t]  # (B, n_kv, p+t, hs)
            q = q.to(kv_dtype)  # attention in the cache's dtype (a no-op unless kv_cache_dtype is set)
            if t == 1:  # one new token sees everything cached
                y = F.scaled_dot_product_attention(q, K, V, **gqa)
            elif p == 0:
                y = F.scaled_dot_product_attention(q, K, V, is_causal=True, **gqa)
            else:  # new token i (absolute p+i) sees positions <= p+i
                mask = torch.ones(t, p + t, dtype=torch.bool, device=x.device).tril(diagonal=p)
                y = F.scaled_dot_product_attention(q, K, V, attn_mask=mask, **gqa)
        y = y.to(x.dtype).transpose(1, 2).contiguous().view(B, t, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """GELU MLP (tiny GPT) or SwiGLU (Llama: c_fc holds the gate and up projections, fused)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.swiglu = config.mlp == "swiglu"
        self.c_fc = nn.Linear(config.n_embd, (2 if self.swiglu else 1) * config.hidden, bias=config.bias)
        self.c_proj = nn.Linear(config.hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.approx = config.gelu_approx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        if self.swiglu:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h, approximate=self.approx)
        return self.dropout(self.c_proj(h))


def make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer, rope)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        layers = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.pos == "learned":
            layers["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        layers.update(drop=nn.Dropout(config.dropout), h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                      ln_f=make_norm(config))
        self.transformer = nn.ModuleDict(layers)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.transformer.wte.weight = self.lm_head.weight
        if config.pos == "rope":  # not parameters: rebuilt from the config, never saved
            cos, sin = rope_tables(config)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding and "wpe" in self.transformer else n

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """idx (B, t) -> final normed hidden states (B, t, n_embd), before the output head.
        With a cache, the t tokens continue from `cache.pos` and the cache advances."""
        B, t = idx.shape
        p = cache.pos if cache is not None else 0
        if p + t > self.config.block_size:
            raise ValueError(f"sequence of {p + t} positions exceeds block size {self.config.block_size}")
        x = self.transformer.wte(idx)
        rope = None
        if self.config.pos == "rope":
            rope = (self.rope_cos[p:p + t], self.rope_sin[p:p + t])
        else:
            x = x + self.transformer.wpe(torch.arange(p, p + t, dtype=torch.long, device=idx.device))
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i, rope)
        if cache is not None:
            cache.pos = p + t
        return self.transformer.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, weights: torch.Tensor | None = None,
                cache: KVCache | None = None, last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, t) -> logits (B, t, vocab) and, with targets, the loss.
        `weights` (B, t) scales each target's loss (0 = not a target); the loss is the weighted
        mean. With a cache, the t tokens continue from `cache.pos` and the cache advances.
        `last_only` gives the last position's logits alone (B, 1, vocab): a prefill needs no more,
        and a large vocabulary's head would cost more than the rest of a long window."""
        x = self.hidden(idx, cache)
        if last_only:
            x = x[:, -1:]
        logits = self.lm_head(x)
        if targets is None:
            return logits, None
        ce = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1), reduction="none")
        if weights is None:
            return logits, ce.mean()
        w = weights.reshape(-1).float()
        return logits, (ce * w).sum() / w.sum().clamp(min=1.0)

    def configure_optimizers(self, weight_decay: float, learning_rate: float, betas: tuple[float, float],
                             device_type: str, lr_mults: dict[str, float] | None = None) -> torch.optim.AdamW:
        """AdamW; every group carries an `lr_mult` (1 unless a name prefix in `lr_mults` sets it)
        that the training loop applies to the scheduled learning rate."""
        groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            mult = next((m for pre, m in (lr_mults or {}).items() if name.startswith(pre)), 1.0)
            # matrices and embeddings decay; norms and biases don't
            groups.setdefault((p.dim() >= 2, mult), []).append(p)
        param_groups = [{"params": ps, "weight_decay": weight_decay if decay else 0.0, "lr_mult": mult}
                        for (decay, mult), ps in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))]
        fused = device_type == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters
        return torch.optim.AdamW(param_groups, lr=learning_rate, betas=betas, **({"fused": True} if fused else {}))

    def estimate_flops_per_token(self) -> int:
        """Training FLOPs per token (PaLM appendix B): 6N + 12 L T d."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.block_size * c.n_embd


def amp_context(device_type: str, dtype: str | torch.dtype):
    """bf16/fp16 autocast where asked for, a no-op context for fp32."""
    dt = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if dt == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dt)
