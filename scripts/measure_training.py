"""Training tokens/s: memgpt's GPT vs a plain nanoGPT-style reference (same config, same run),
and bf16 autocast vs fp32 on this machine.

    python scripts/measure_training.py [--layers 4 --width 256 --block 256 --batch 16 --steps 5]

The reference is written the plain way on purpose: attention as explicit matmuls with a mask and
softmax, no fused kernels. Timings interleave the variants and keep each one's best step, since
the machine is noisy.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

from memgpt.model import GPT, GPTConfig, amp_context


class RefBlock(nn.Module):
    def __init__(self, d, nh, T):
        super().__init__()
        self.nh = nh
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(B, T, self.nh, C // self.nh).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = F.softmax(att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class RefGPT(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c.vocab_size, c.n_embd), nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.ModuleList([RefBlock(c.n_embd, c.n_head, c.block_size) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.wte.weight = self.head.weight

    def forward(self, idx, targets, weights=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    cfg = GPTConfig(block_size=args.block, vocab_size=4160, n_layer=args.layers, n_head=4, n_embd=args.width)
    torch.manual_seed(0)
    variants = {"reference fp32": (RefGPT(cfg), "float32"), "memgpt fp32": (GPT(cfg), "float32"),
                "memgpt bf16": (GPT(cfg), "bfloat16")}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, (m, _) in variants.items()}
    x = torch.randint(0, 4104, (args.batch, args.block))
    y = torch.randint(0, 4104, (args.batch, args.block))
    w = torch.ones(args.batch, args.block)
    best = {k: 0.0 for k in variants}
    for step in range(args.steps + 1):
        for k, (m, dt) in variants.items():
            t = time.perf_counter()
            with amp_context("cpu", dt):
                _, loss = m(x, y, w)
            loss.backward()
            opts[k].step()
            opts[k].zero_grad(set_to_none=True)
            if step:  # the first step warms up allocators and kernels
                best[k] = max(best[k], x.numel() / (time.perf_counter() - t))
    print(f"{args.layers} layers, {args.width} wide, block {args.block}, batch {args.batch}, "
          f"torch threads {torch.get_num_threads()}, best of {args.steps} steps")
    for k, v in best.items():
        print(f"{k:>15}: {v:8.0f} tokens/s")
    print(f"memgpt fp32 / reference fp32: {best['memgpt fp32'] / best['reference fp32']:.2f}x")
    print(f"memgpt bf16 / memgpt fp32:    {best['memgpt bf16'] / best['memgpt fp32']:.2f}x")


if __name__ == "__main__":
    main()
