"""Cost figures of a benchmark run: is reading flat in the document length, and how close does
it run to the machine's matrix-multiply speed?

    ingest tokens/s per length      `notes` on document tasks (the engine's IngestStats)
    flatness                        tokens/s at the longest length / at the shortest (1.0 = flat)
    GEMM FLOP/s                     best of several N x N fp32 torch.mm on the model's device
    ingest FLOP/s                   the model's own forward estimate per token position,
                                    GPT.estimate_flops_per_token() / 3 = 2 N + 4 L T d (training's
                                    6 N + 12 L T d without the backward pass), times the token
                                    positions the engine actually ran per second (document,
                                    carried context and note decoding: IngestStats.forward_tokens);
                                    also 2 N x document tokens/s (the useful work); both as a
                                    fraction of GEMM FLOP/s
    peak RSS                        resource.getrusage of this process (all of the run so far)
    notes stored, retrieval hits    per method, from the records
"""
from __future__ import annotations

import resource
import sys
import time
from statistics import mean
from typing import Any, Sequence

import torch


def gemm_flops(n: int = 2048, repeats: int = 5, device: str | torch.device = "cpu") -> float:
    """FLOP/s of the best of `repeats` n x n fp32 matrix products (2 n^3 FLOPs each)."""
    dev = torch.device(device)
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    torch.mm(a, b)  # warm up
    sync()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10  # bytes on macOS, KiB on Linux


def _mean(xs: Sequence[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return mean(xs) if xs else None


def figures(records: Sequence[dict[str, Any]], model: torch.nn.Module, device: str | torch.device = "cpu",
            gemm_size: int = 2048, gemm_repeats: int = 5) -> dict[str, Any]:
    """The cost figures of a run (see the module docstring) as a JSON-ready dict."""
    reading = [r for r in records if r["method"] == "notes" and r["task"] != "chat"
               and r.get("ingest_seconds") and r.get("ingest_tokens_per_s")]
    by_len: dict[int, list[dict]] = {}
    for r in reading:
        by_len.setdefault(r["length"], []).append(r)
    tps = {L: sum(r["read_tokens"] for r in rs) / sum(r["ingest_seconds"] for r in rs)
           for L, rs in sorted(by_len.items())}
    fwd = {L: sum(r["ingest_forward_tokens"] for r in rs) / sum(r["ingest_seconds"] for r in rs)
           for L, rs in sorted(by_len.items())}
    lengths = sorted(tps)
    flat = tps[lengths[-1]] / tps[lengths[0]] if len(lengths) > 1 else None

    gemm = gemm_flops(gemm_size, gemm_repeats, device)
    n_params = model.num_params() if hasattr(model, "num_params") else sum(p.numel() for p in model.parameters())
    per_pos = model.estimate_flops_per_token() / 3 if hasattr(model, "estimate_flops_per_token") else 2 * n_params
    all_s = sum(r["ingest_seconds"] for r in reading)
    doc_tps = sum(r["read_tokens"] for r in reading) / all_s if all_s else None
    fwd_tps = sum(r["ingest_forward_tokens"] for r in reading) / all_s if all_s else None
    executed = per_pos * fwd_tps if fwd_tps else None
    useful = 2 * n_params * doc_tps if doc_tps else None

    methods = sorted({r["method"] for r in records})
    return {
        "ingest_tokens_per_s_by_length": {str(L): round(v, 2) for L, v in tps.items()},
        "forward_tokens_per_s_by_length": {str(L): round(v, 2) for L, v in fwd.items()},
        "flatness_longest_over_shortest": round(flat, 4) if flat is not None else None,
        "gemm": {"n": gemm_size, "dtype": "float32", "device": str(device), "repeats": gemm_repeats,
                 "flop_per_s": gemm},
        "model_params": n_params,
        "forward_flops_per_position": per_pos,
        "ingest_flop_per_s_executed": executed,
        "ingest_flop_per_s_useful": useful,
        "ingest_over_gemm_executed": executed / gemm if executed else None,
        "ingest_over_gemm_useful": useful / gemm if useful else None,
        "flops_estimate": ("executed = GPT.estimate_flops_per_token()/3 (2N + 4·n_layer·block·n_embd) × forward "
                           "positions/s; useful = 2N × document tokens/s"),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "notes_stored_mean": {m: _mean([r.get("memory_items") for r in records if r["method"] == m])
                              for m in methods if m in ("notes", "rag")},
        "notes_written_mean": {m: _mean([r.get("notes_written") for r in records if r["method"] == m]) for m in methods},
        "retrieval_hit_rate": {m: _mean([r.get("retrieval_hit") for r in records if r["method"] == m])
                               for m in methods if m in ("notes", "rag")},
    }
