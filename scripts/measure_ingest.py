"""Measure ingest throughput (a script, not a test).

(a) overhead: ingest tokens/s against a plain batched forward of the same model over the same
    text (non-overlapping block windows, same batch size), measured in the same run, alternating
    the two so that machine noise hits both alike. Goal: overhead <= 15%.
(b) flatness: ingest tokens/s on a text of `--large` blocks against one of `--small` blocks.
    Goal: ratio >= 0.9.

    python scripts/measure_ingest.py                                  # random 4x256 model, block 256
    python scripts/measure_ingest.py --large 100                      # a shorter run
    python scripts/measure_ingest.py --model runs/default/last   # the trained model (writes notes)

A random model opens no notes, so it measures the pure reading machinery (windows, context
carry, note detection); the trained model adds note writing. Each figure is the best of
`--repeats` runs (the least disturbed by other processes). On CPU the default clock is the
process's CPU time (`--clock cpu`), which other processes on a busy machine barely disturb;
on GPU it is wall time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from memgpt.checkpoint import load_checkpoint
from memgpt.controller import Engine, EngineConfig
from memgpt.memory.store import NoteStore
from memgpt.model import GPT, GPTConfig, amp_context
from memgpt.synth import filler
from memgpt.tokenizer import Tokenizer


def held_out_text(tok: Tokenizer, n_tokens: int, style: str, seed: int) -> str:
    """Filler prose of about n_tokens tokens."""
    rng = random.Random(seed)
    ids: list[int] = []
    while len(ids) < n_tokens:
        ids += tok.encode_text(" ".join(filler.passage(style, rng, 50)) + " ")
    return tok.decode(ids[:n_tokens])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_forward_rate(model: GPT, ids: list[int], batch: int, device: torch.device, dtype: str, clock) -> float:
    """Tokens/s of plain forwards over non-overlapping block windows, `batch` windows at a time."""
    T = model.config.block_size
    n = len(ids) // T * T
    x = torch.tensor(ids[:n], dtype=torch.long).view(-1, T)
    sync(device)
    t0 = clock()
    with torch.no_grad(), amp_context(device.type, dtype):
        for i in range(0, x.size(0), batch):
            model(x[i:i + batch].to(device))
    sync(device)
    return n / (clock() - t0)


def ingest_run(model: GPT, tok: Tokenizer, text: str, cfg: EngineConfig, clock) -> tuple[float, int, float]:
    """(tokens/s, notes written, forward positions per document token) of one ingest
    (tokenization excluded, as the plain forward gets its tokens for free)."""
    eng = Engine(model, tok, NoteStore(), cfg)
    ids = tok.encode_text(text)
    sync(eng.device)
    t0 = clock()
    with eng._exclusive():
        eng._read(ids, progress=False)
    sync(eng.device)
    seconds = clock() - t0
    s = eng.last_ingest
    return s.tokens / seconds, s.notes, s.forward_tokens / s.tokens


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", "--checkpoint", dest="checkpoint", default=None, help="checkpoint directory (default: a random 4x256 model, block 256)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=8, help="ingest streams = plain forward batch (default: %(default)s)")
    p.add_argument("--carry", type=int, default=None, help="ingest context carry (default: the engine's, block // 8)")
    p.add_argument("--small", type=int, default=10, help="short text, in blocks (default: %(default)s)")
    p.add_argument("--large", type=int, default=1000, help="long text, in blocks (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best counts (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--style", default="legal", help="filler style of the text (default: %(default)s)")
    p.add_argument("--clock", choices=("cpu", "wall"), default=None,
                   help="cpu: process CPU time (default on CPU); wall: elapsed time (default on GPU)")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = "bfloat16" if device.type == "cuda" else "float32"
    clock_name = args.clock or ("wall" if device.type == "cuda" else "cpu")
    clock = time.perf_counter if clock_name == "wall" else time.process_time
    if args.checkpoint:
        model, tok, _ = load_checkpoint(args.checkpoint, device)
        what = args.checkpoint
    else:
        tok = Tokenizer.load("memgpt/assets/default")
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=4160, n_layer=4, n_head=4, n_embd=256, block_size=256)).to(device).eval()
        what = "random init 4 layers x 256, block 256"
    T = model.config.block_size
    cfg = EngineConfig(ingest_batch=args.batch, ingest_carry=args.carry, device=str(device), dtype=dtype)
    carry = Engine(model, tok, NoteStore(), cfg).carry

    large = held_out_text(tok, args.large * T, args.style, seed=0)
    small = held_out_text(tok, args.small * T, args.style, seed=1)
    large_ids = tok.encode_text(large)
    print(f"model: {what}; device {device} ({torch.get_num_threads()} threads), {dtype}, {clock_name} clock; batch {args.batch}, "
          f"carry {carry}; texts: {len(large_ids)} tokens ({args.large} blocks) and "
          f"{len(tok.encode_text(small))} tokens ({args.small} blocks) of '{args.style}' filler")

    ingest_run(model, tok, small, cfg, clock)  # warm-up (allocations, kernels)
    plain, ing_large, ing_small = [], [], []
    for r in range(args.repeats):  # alternate so that background load hits every figure alike
        plain.append(plain_forward_rate(model, large_ids, args.batch, device, dtype, clock))
        ing_large.append(ingest_run(model, tok, large, cfg, clock))
        ing_small.append(ingest_run(model, tok, small, cfg, clock))
        print(f"  run {r + 1}: plain {plain[-1]:.0f} tok/s; ingest {ing_large[-1][0]:.0f} tok/s "
              f"({ing_large[-1][1]} notes) at {args.large} blocks, {ing_small[-1][0]:.0f} tok/s at {args.small} blocks")
    best_plain = max(plain)
    best_large = max(ing_large)
    best_small = max(ing_small)
    overhead = best_plain / best_large[0] - 1
    ratio = best_large[0] / best_small[0]
    # paired figures (each run's plain and ingest ran back to back): robust to slow drifts in load
    paired_overhead = statistics.median(p / i[0] - 1 for p, i in zip(plain, ing_large))
    paired_ratio = statistics.median(a[0] / b[0] for a, b in zip(ing_large, ing_small))
    print(f"(a) plain forward {best_plain:.0f} tok/s, ingest {best_large[0]:.0f} tok/s (best of {args.repeats}): "
          f"overhead {overhead:+.1%}, median of paired runs {paired_overhead:+.1%} (goal <= 15%)")
    print(f"    work: {best_large[2]:.3f} model positions per document token at {args.large} blocks, "
          f"{best_small[2]:.3f} at {args.small} (the context carry alone: {T / (T - carry):.3f}); "
          f"notes written {best_large[1]}")
    print(f"(b) ingest {best_large[0]:.0f} tok/s at {args.large} blocks vs {best_small[0]:.0f} tok/s at "
          f"{args.small} blocks: ratio {ratio:.3f}, median of paired runs {paired_ratio:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
