"""Speed of the pretrained base on this CPU, side by side in one run: memgpt's own model code
(in several settings) against transformers fp32 and llama.cpp on the same GGUF.

    python scripts/measure_base_speed.py --threads 2 --out docs/base_speed.json

Decode: tokens/s of one-token steps through the KV cache after a context of 64, 512 and 2048
tokens: REPEATS rounds that time every implementation in turn, the best round counting (the
machine drifts over minutes; interleaving shares the drift between the rows). Prefill: tokens/s reading 2048 tokens in 512-token chunks through the cache, with the
last position's logits (as llama.cpp's eval and the engine's window prefill), and with every
position's logits (what ingest needs: it looks for `<|scratch|>` at every position). Peak RSS is measured in a fresh process that only loads the base.
llama.cpp needs `llama-cpp-python` (built from PyPI's source distribution); a missing one is
reported, not fatal. Run it alone on the machine: timings of concurrent jobs mean nothing.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable

import torch

from memgpt.gguf import load_gguf, smollm2_path
from memgpt.model import KVCache
from memgpt.quant import quantize

CONTEXTS = (64, 512, 2048)
PACKED = "memgpt int4 packed (the default on the CPU)"
PREFILL, CHUNK = 2048, 512
REPEATS = 3  # decode rounds per context (the best counts: this machine is noisy)


def corpus_ids(tok, n: int) -> list[int]:
    """Real text (this script's own source and Python's), tokenized, at least n tokens."""
    import sysconfig
    ids: list[int] = []
    for name in sorted(os.listdir(sysconfig.get_paths()["stdlib"])):
        if name.endswith(".py"):
            with open(os.path.join(sysconfig.get_paths()["stdlib"], name), encoding="utf-8", errors="replace") as f:
                ids += tok.encode_text(f.read())
        if len(ids) >= n:
            return ids[:n]
    raise RuntimeError("not enough text")


def timed(fn: Callable[[], None], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# ---- the implementations, each as a decoder: start(context ids), step(token), prefill ----------
class Ours:
    """memgpt's model (any variant of it) through its KV cache."""

    def __init__(self, model, threads: int | None = None):
        self.model, self.threads = model, threads

    @torch.inference_mode()
    def start(self, ids: list[int]) -> None:
        self.cache = KVCache(self.model.config)
        self.model(torch.tensor([ids]), cache=self.cache, last_only=True)

    @torch.inference_mode()
    def step(self, token: int) -> None:
        self.model(torch.tensor([[token]]), cache=self.cache)

    @torch.inference_mode()
    def prefill(self, ids: list[int], all_logits: bool) -> None:
        cache = KVCache(self.model.config)
        for i in range(0, len(ids), CHUNK):
            self.model(torch.tensor([ids[i:i + CHUNK]]), cache=cache, last_only=not all_logits)


def unfused(model):
    """The same model with q, k, v (and gate, up) as separate matmuls, to measure the fusion."""
    import copy
    import torch.nn as nn
    import torch.nn.functional as F
    from memgpt.model import apply_rope
    m = copy.deepcopy(model)
    for block in m.transformer.h:
        a, mlp = block.attn, block.mlp
        sizes = [a.n_head * a.hs, a.n_kv * a.hs, a.n_kv * a.hs]
        ws = a.c_attn.weight.split(sizes)
        a.q, a.k, a.v = (nn.Linear(w.shape[1], w.shape[0], bias=False) for w in ws)
        for lin, w in zip((a.q, a.k, a.v), ws):
            lin.weight = nn.Parameter(w.clone())
        g, u = mlp.c_fc.weight.chunk(2)
        mlp.g, mlp.u = nn.Linear(g.shape[1], g.shape[0], bias=False), nn.Linear(u.shape[1], u.shape[0], bias=False)
        mlp.g.weight, mlp.u.weight = nn.Parameter(g.clone()), nn.Parameter(u.clone())
        del a.c_attn, mlp.c_fc

        def attn_fwd(x, cache=None, layer=0, rope=None, a=a):
            B, t, C = x.shape
            q = a.q(x).view(B, t, a.n_head, a.hs).transpose(1, 2)
            k = a.k(x).view(B, t, a.n_kv, a.hs).transpose(1, 2)
            v = a.v(x).view(B, t, a.n_kv, a.hs).transpose(1, 2)
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
            p = cache.pos
            if cache.k is None:
                cache._alloc(k.dtype)
            cache.k[layer, :B, :, p:p + t], cache.v[layer, :B, :, p:p + t] = k, v
            K, V = cache.k[layer, :B, :, :p + t], cache.v[layer, :B, :, :p + t]
            mask = None if t == 1 else torch.ones(t, p + t, dtype=torch.bool).tril(diagonal=p)
            y = F.scaled_dot_product_attention(q, K, V, attn_mask=mask, enable_gqa=True)
            return a.c_proj(y.transpose(1, 2).reshape(B, t, C))

        a.forward = attn_fwd
        mlp.forward = lambda x, mlp=mlp: mlp.c_proj(F.silu(mlp.g(x)) * mlp.u(x))
    return m


# ---- transformers --------------------------------------------------------------------------------
class Transformers:
    """transformers' LlamaForCausalLM, fp32, from the same GGUF."""
    threads = None

    def __init__(self):
        from transformers import AutoModelForCausalLM
        path = smollm2_path()
        self.hf = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                       torch_dtype=torch.float32).eval()

    @torch.inference_mode()
    def start(self, ids: list[int]) -> None:
        from transformers import DynamicCache
        self.cache = DynamicCache()
        self.hf(torch.tensor([ids]), past_key_values=self.cache, use_cache=True, logits_to_keep=1)

    @torch.inference_mode()
    def step(self, token: int) -> None:
        self.hf(torch.tensor([[token]]), past_key_values=self.cache, use_cache=True)

    @torch.inference_mode()
    def prefill(self, ids: list[int], all_logits: bool) -> None:
        from transformers import DynamicCache
        cache = DynamicCache()
        for i in range(0, len(ids), CHUNK):
            self.hf(torch.tensor([ids[i:i + CHUNK]]), past_key_values=cache, use_cache=True,
                    logits_to_keep=0 if all_logits else 1)


# ---- llama.cpp -------------------------------------------------------------------------------------
class LlamaCpp:
    """llama-cpp-python on the GGUF as shipped (Q4_1); its eval keeps the last logits only."""
    threads = None

    def __init__(self, threads: int):
        from llama_cpp import Llama
        self.llm = Llama(model_path=smollm2_path(), n_ctx=4096, n_threads=threads, n_threads_batch=threads,
                         n_batch=CHUNK, verbose=False)
        self.version = __import__("llama_cpp").__version__

    def start(self, ids: list[int]) -> None:
        self.llm.reset()
        self.llm.eval(ids)

    def step(self, token: int) -> None:
        self.llm.eval([token])

    def prefill(self, ids: list[int], all_logits: bool) -> None:
        if all_logits:
            raise NotImplementedError
        self.llm.reset()
        self.llm.eval(ids)  # n_batch = 512: chunks of 512


def decode_rates(decoders: dict, ids: list[int], steps: int) -> dict[str, dict]:
    """Decode tokens/s per decoder and context: REPEATS rounds, each timing every decoder in turn
    from a fresh prefill of the same context, the best round counting. Interleaving shares the
    machine's drift between the rows (timings here vary by up to +-25% over minutes)."""
    out: dict[str, dict] = {name: {} for name in decoders}
    for ctx in CONTEXTS:
        for _ in range(REPEATS):
            for name, d in decoders.items():
                if isinstance(out[name], str):
                    continue
                default = torch.get_num_threads()
                torch.set_num_threads(d.threads or default)
                try:
                    d.start(ids[:ctx])
                    d.step(ids[ctx])  # warm-up steps
                    d.step(ids[ctx + 1])
                    t = time.perf_counter()
                    for tok in ids[ctx + 2:ctx + 2 + steps]:
                        d.step(tok)
                    rate = steps / (time.perf_counter() - t)
                    key = f"decode@{ctx}"
                    out[name][key] = max(out[name].get(key, 0.0), rate)
                except Exception as e:  # a setting that does not work here is a finding, not a crash
                    out[name] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
                finally:
                    torch.set_num_threads(default)
        print(f"  decode@{ctx}: " + ", ".join(f"{n} {r.get(f'decode@{ctx}', 0):.1f}" for n, r in out.items()
                                             if isinstance(r, dict)), file=sys.stderr, flush=True)
    return out


def prefill_rates(d, ids: list[int]) -> dict:
    """Prefill tokens/s of PREFILL tokens in CHUNK-token chunks, last logits (best of 2) and, where
    the implementation gives them, every position's."""
    default = torch.get_num_threads()
    torch.set_num_threads(d.threads or default)
    try:
        d.prefill(ids[:PREFILL], False)  # warm-up
        out = {"prefill": PREFILL / timed(lambda: d.prefill(ids[:PREFILL], False), 2)}
        try:
            out["prefill, all logits"] = PREFILL / timed(lambda: d.prefill(ids[:PREFILL], True), 1)
        except NotImplementedError:
            pass
        return out
    finally:
        torch.set_num_threads(default)


@torch.inference_mode()
def quality(model, tok, n: int = 1000) -> dict:
    """Mean next-token loss on the first n tokens of the README, and greedy top-1 agreement with
    fp32, for bf16 weights and the packed model: read at once (the packed model's bfloat16 copy)
    and one token at a time through the cache (its packed kernels, as decoding runs)."""
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")) as f:
        ids = tok.encode_text(f.read())[:n]
    x, y = torch.tensor([ids[:-1]]), torch.tensor(ids[1:])

    def score(logits: torch.Tensor, ref: torch.Tensor | None) -> dict:
        logits = logits.reshape(-1, logits.size(-1)).float()
        out = {"loss": torch.nn.functional.cross_entropy(logits, y).item()}
        if ref is not None:
            out["top1 agreement with fp32"] = (logits.argmax(-1) == ref.argmax(-1)).float().mean().item()
        return out

    ref = model(x)[0].reshape(len(ids) - 1, -1)
    res = {"tokens": len(ids), "fp32": score(ref, None)}
    res["bf16 weights"] = score(copy.deepcopy(model).to(torch.bfloat16)(x)[0], ref)
    packed = quantize(copy.deepcopy(model))
    res["int4 packed, read at once"] = score(packed(x)[0], ref)
    cache = KVCache(packed.config)
    steps = torch.cat([packed(x[:, i:i + 1], cache=cache)[0] for i in range(x.size(1))], dim=1)
    res["int4 packed, one token at a time"] = score(steps, ref)
    return res


def peak_rss_mb() -> float:
    """Peak RSS of a fresh process that loads the base through memgpt.load (VmHWM: getrusage's
    maxrss would carry this process's own peak across fork and exec)."""
    code = ("import memgpt; b = memgpt.load('smollm2-base'); "
            "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=32, help="decode steps timed per context (default: %(default)s)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--skip", default="", help="comma-separated words: rows whose name holds one are skipped "
                    "(e.g. compile,transformers,llama.cpp; 'memgpt' skips all of memgpt's own)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    model, tok, _ = load_gguf(smollm2_path(), block_size=max(CONTEXTS) + args.steps + 8)
    ids = corpus_ids(tok, max(PREFILL, max(CONTEXTS) + args.steps + 4))
    decoders: dict = {}
    rows: dict[str, dict | str] = {}
    order: list[str] = []

    def add(name: str, make: Callable[[], object]) -> None:
        if any(word in name for word in skip):
            return
        order.append(name)
        print(f"loading {name} ...", file=sys.stderr, flush=True)
        try:
            decoders[name] = make()
        except Exception as e:  # a setting that does not work here is a finding, not a crash
            rows[name] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"

    add("memgpt fp32", lambda: Ours(model))
    add("memgpt fp32, unfused qkv/gate-up", lambda: Ours(unfused(model)))
    if args.threads > 1:
        add("memgpt fp32, 1 thread", lambda: Ours(model, threads=1))
    add("memgpt bf16", lambda: Ours(copy.deepcopy(model).to(torch.bfloat16)))
    add(PACKED, lambda: Ours(quantize(copy.deepcopy(model))))
    add("memgpt int8 dynamic (Linear layers)", lambda: Ours(
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)))  # a copy
    add("transformers", Transformers)
    add("llama.cpp", lambda: LlamaCpp(args.threads))
    add("compile", lambda: Ours(torch.compile(copy.deepcopy(model), dynamic=True)))
    print("measuring decode, interleaved ...", file=sys.stderr, flush=True)
    rows.update(decode_rates(decoders, ids, args.steps))
    for name, d in decoders.items():
        if isinstance(rows[name], dict):
            print(f"measuring prefill: {name} ...", file=sys.stderr, flush=True)
            try:
                rows[name].update(prefill_rates(d, ids))
            except Exception as e:
                rows[name]["prefill"] = float("nan")
                print(f"  failed: {e}", file=sys.stderr)
            if isinstance(d, LlamaCpp):
                rows[name]["version"] = d.version
    del decoders
    rows = {name: rows[name] for name in order}
    if "quality" not in skip:
        print("measuring quality ...", file=sys.stderr, flush=True)
        rows_quality = quality(model, tok)
        print(json.dumps(rows_quality, indent=1))
    rss = peak_rss_mb()

    cols = [f"decode@{c}" for c in CONTEXTS] + ["prefill", "prefill, all logits"]
    print(f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"{args.steps} decode steps, prefill {PREFILL} tokens in {CHUNK}-token chunks; tokens/s")
    print("| setting | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, r in rows.items():
        cells = [f"{r[c]:.1f}" if c in r else "" for c in cols] if isinstance(r, dict) else [r] + [""] * (len(cols) - 1)
        print(f"| {name} | " + " | ".join(cells) + " |")
    ratios = {}
    for mine in ("memgpt fp32", PACKED):
        for label in ("llama.cpp", "transformers"):
            base, other = rows.get(mine), rows.get(label)
            if isinstance(base, dict) and isinstance(other, dict):
                r = ratios[f"{mine} / {label}"] = {c: base[c] / other[c] for c in cols if c in other}
                print(f"{mine} / {label}: " + ", ".join(f"{c} {v:.2f}x" for c, v in r.items()))
    print(f"peak RSS of memgpt.load('smollm2-base'): {rss:.0f} MB")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"threads": args.threads, "steps": args.steps, "rows": rows, "ratios": ratios,
                       "quality": rows_quality if "quality" not in skip else None,
                       "peak_rss_mb": rss, "torch": torch.__version__}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
