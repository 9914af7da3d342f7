"""`memgpt bench` and `memgpt.bench.run`: every task x length x sample through every method.

    memgpt bench --tasks passkey,niah_single,qa1 --lengths 1k,4k,64k --methods window,rag,notes,oracle \\
                 --samples 5 --seed 0 --out bench/
    memgpt bench --quick --model runs/default/best --out /tmp/bench   # CI smoke run

Output in --out:
    results.jsonl   one line per finished (task, length, sample, method), appended as it finishes;
                    a rerun with the same arguments (and the same checkpoint step) skips those
    results.json    the records of this run's grid, regenerated at the end
    summary.md      accuracy table task x length x method, retrieval hits, cost figures
    cost.json       the cost figures (memgpt.bench.cost)
    config.json     the arguments, the checkpoint's step, the git commit, torch and the device
    *.png           accuracy vs length per task; length x depth heatmaps of `notes`

Samples are generated once per (task, length, index) and given to every method, so all methods
see the same documents and questions (`doc_sha` in each record shows it).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from typing import Any, Sequence

from .tasks import METHODS, TASKS, format_length, make_sample, parse_length, sample_depths

# Bump when samples, methods or scoring change meaning: old results are then not resumed.
# 2: bAbI answers get 40 tokens and are scored on their last sentence.
# 3: niah_multikey, niah_multivalue and niah_multiquery read RULER's essay haystack (the held-out
#    prose), not the noise one; niah_single_2, niah_single_3 and niah_multikey_3 are new.
BENCH_VERSION = 3
QUICK = {"tasks": ("passkey", "niah_single", "qa1"), "lengths": ("1k", "4k"), "samples": 2}
DEFAULT_LENGTHS = ("1k", "4k")
DEFAULT_SAMPLES = 5


def _names(value: str | Sequence[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    if value is None:
        return list(allowed)
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    items = [v for v in items if v]
    if items == ["all"]:
        return list(allowed)
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(f"unknown {what} {', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)} or all")
    return list(dict.fromkeys(items))


def _lengths(value: str | int | Sequence[str | int]) -> list[int]:
    items = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    out = [parse_length(v) for v in items if str(v).strip()]
    if not out:
        raise ValueError("no lengths given")
    return sorted(dict.fromkeys(out))


def record_key(task: str, length: int, index: int, depth: float, method: str) -> str:
    """A sample is a function of (task, length, index, depth) and the configuration fingerprint."""
    return f"{task}|{length}|{index}|{depth:.4f}|{method}"


def load_records(path: str, fingerprint: str) -> dict[str, dict]:
    """Finished records of this configuration from a results.jsonl (a torn last line is ignored)."""
    done: dict[str, dict] = {}
    if not os.path.exists(path):
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict) and r.get("fingerprint") == fingerprint and "key" in r:
                done[r["key"]] = r
    return done


def _end_line(path: str) -> None:
    """End a torn last line (a run killed mid-write) so the next record starts on its own line."""
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _git_commit() -> str | None:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run(tasks: str | Sequence[str] | None = None, lengths: str | Sequence[str | int] | None = None,
        methods: str | Sequence[str] | None = None, samples: int | None = None, seed: int = 0,
        out: str | os.PathLike = "bench", checkpoint: str | os.PathLike | None = None, *,
        device: str | None = None, depths: Sequence[float] | None = None, quick: bool = False,
        embedder: str = "hash", engine_config: Any = None, progress: bool = True, plots: bool = True,
        gemm_size: int = 2048) -> dict[str, Any]:
    """Run the benchmark grid; see the module docstring for what lands in `out`.

    Args:
        tasks: names (list or comma-separated), "all" or None for all of `TASKS`.
        lengths: token lengths ("1k", "64k", "1M", 4000, ...); None: 1k,4k.
        methods: of window, rag, notes, oracle; None for all.
        samples: samples per (task, length), spread over depths 0..1; None: 5.
        seed: the samples are a function of (seed, task, length, index, depth).
        out: output directory (created); results.jsonl there makes the run resumable.
        checkpoint: a model name (tiny, smollm2-base, default), a checkpoint directory or a .gguf
            file, or None for the default model (as `memgpt.load` takes them).
        device: "cpu", "cuda", ...; None: cuda if available.
        depths: explicit depths, cycled over the sample indices (instead of an even spread).
        quick: CI smoke defaults for whatever is not given: passkey,niah_single,qa1 x 1k,4k x 2.
        embedder: NoteStore embedder for notes and rag chunks ("hash", "minilm").
        engine_config: an `EngineConfig` for every method (window and oracle zero its mem_budget).
        progress: show a tqdm bar.
        plots: write the PNG plots (needs matplotlib).
        gemm_size: N of the N x N GEMM the cost figures compare against.

    Returns a dict: records (this grid's), evaluated (units run now), skipped (resumed), cost,
    and paths of results/summary/plots.
    """
    import torch
    from tqdm.auto import tqdm

    from memgpt.api import load
    from memgpt.controller import EngineConfig

    from . import cost as cost_mod
    from .methods import Setup, run_method

    if quick:
        tasks = QUICK["tasks"] if tasks is None else tasks
        lengths = QUICK["lengths"] if lengths is None else lengths
        samples = QUICK["samples"] if samples is None else samples
    task_list = _names(tasks, TASKS, "task")
    method_list = _names(methods, METHODS, "method")
    length_list = _lengths(DEFAULT_LENGTHS if lengths is None else lengths)
    samples = DEFAULT_SAMPLES if samples is None else samples
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if depths is not None:
        depths = [float(d) for d in depths]
        if not depths or any(not 0.0 <= d <= 1.0 for d in depths):
            raise ValueError(f"depths must be in [0, 1], got {depths}")
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)

    base = load(checkpoint, device=device)  # raises CheckpointError for a bad checkpoint
    base.close()
    model, tok = base.model, base.tokenizer
    dev = str(base.engine.device)
    cfg = dataclasses.replace(engine_config or EngineConfig(), device=dev)
    setup = Setup(model, tok, cfg, embedder=embedder)
    ckpt = _model_id(checkpoint)
    ident = {"bench_version": BENCH_VERSION, "seed": seed, "checkpoint": ckpt, "step": base.meta.get("step"),
             "tokens": base.meta.get("tokens"), "embedder": embedder,
             "engine": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "device"},
             "setup": {"tail_blocks": setup.tail_blocks, "chunk_tokens": setup.chunk_tokens,
                       "reply_tokens": setup.reply_tokens}}
    fingerprint = hashlib.sha1(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"tasks": task_list, "lengths": length_list, "methods": method_list, "samples": samples,
                   "fingerprint": fingerprint, **ident, "device": dev, "git_commit": _git_commit(),
                   "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "started": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=1, default=str)

    jsonl = os.path.join(out, "results.jsonl")
    done = load_records(jsonl, fingerprint)
    depth_of = sample_depths(samples, depths)
    cells = list(itertools.product(task_list, length_list, range(samples)))
    grid = [(t, L, i, depth_of[i], m) for t, L, i in cells for m in method_list]
    evaluated = skipped = 0
    _end_line(jsonl)
    with open(jsonl, "a", encoding="utf-8") as sink, \
            tqdm(total=len(grid), desc="bench", unit="run", disable=not progress, dynamic_ncols=True) as bar:
        for t, L, i in cells:
            todo = [m for m in method_list if record_key(t, L, i, depth_of[i], m) not in done]
            skipped += len(method_list) - len(todo)
            bar.update(len(method_list) - len(todo))
            if not todo:
                continue
            sample = make_sample(tok, t, L, i, depth_of[i], seed)  # one sample for every method
            for m in todo:
                bar.set_postfix_str(f"{t} {format_length(L)} #{i} {m}")
                t0 = time.perf_counter()
                rec = {"key": record_key(t, L, i, sample.depth, m), "fingerprint": fingerprint, "task": t,
                       "method": m, "length": L, "index": i, "depth": sample.depth,
                       "actual_depth": round(sample.actual_depth, 4), "doc_tokens": sample.tokens,
                       "doc_sha": sample.digest(), "question": sample.question, "expected": sample.expected,
                       **run_method(m, sample, setup)}
                rec["seconds"] = round(time.perf_counter() - t0, 3)
                sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
                sink.flush()
                done[rec["key"]] = rec
                evaluated += 1
                bar.update(1)

    records = [done[record_key(*g)] for g in grid]
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
    costs = cost_mod.figures(records, model, dev, gemm_size=gemm_size)
    with open(os.path.join(out, "cost.json"), "w") as f:
        json.dump(costs, f, indent=1)
    summary = os.path.join(out, "summary.md")
    with open(summary, "w", encoding="utf-8") as f:
        f.write(summary_markdown(records, task_list, length_list, method_list, costs,
                                 {"checkpoint": ckpt, "step": base.meta.get("step"), "seed": seed, "samples": samples,
                                  "device": dev, "fingerprint": fingerprint}))
    pngs = []
    if plots:
        from .plots import write_plots
        pngs = write_plots(records, task_list, method_list, out)
    return {"records": records, "evaluated": evaluated, "skipped": skipped, "cost": costs,
            "results": os.path.join(out, "results.json"), "summary": summary, "plots": pngs}


# ---- summary.md --------------------------------------------------------------------------------
def _cell(xs: list[float | None]) -> str:
    xs = [x for x in xs if x is not None]
    return f"{sum(xs) / len(xs):.2f}" if xs else "–"


def _table(records: Sequence[dict], tasks: Sequence[str], lengths: Sequence[int], methods: Sequence[str],
           field: str) -> list[str]:
    lines = ["| task | length | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for t in tasks:
        for L in lengths:
            rs = [r for r in records if r["task"] == t and r["length"] == L]
            if rs:
                cells = [_cell([r[field] for r in rs if r["method"] == m]) for m in methods]
                lines.append(f"| {t} | {format_length(L)} | " + " | ".join(cells) + " |")
    cells = [_cell([r[field] for r in records if r["method"] == m]) for m in methods]
    lines.append("| **all** | | " + " | ".join(f"**{c}**" for c in cells) + " |")
    return lines


def _num(x: float | None, fmt: str = "{:.3g}") -> str:
    return "–" if x is None else fmt.format(x)


def summary_markdown(records: Sequence[dict], tasks: Sequence[str], lengths: Sequence[int], methods: Sequence[str],
                     costs: dict, info: dict) -> str:
    n = {(r["task"], r["length"]) for r in records}
    lines = ["# memgpt bench", "",
             f"checkpoint `{info['checkpoint']}` (step {info['step']}), device {info['device']}, seed {info['seed']}, "
             f"{info['samples']} samples per task and length ({len(n)} task × length cells), "
             f"configuration {info['fingerprint']}.", "",
             "## Accuracy", "",
             "Mean score (fraction of the expected values in the answer, RULER's metric; bAbI: in the answer's "
             "last sentence), same samples for every method.", "", *_table(records, tasks, lengths, methods, "correct"), ""]
    hit_methods = [m for m in methods if m in ("rag", "notes")]
    if hit_methods:
        lines += ["## Retrieval", "",
                  "Fraction of the needed facts whose note (notes) or chunk (rag) was in the `<|mem|>` block when "
                  "the question was answered.", "", *_table(records, tasks, lengths, hit_methods, "retrieval_hit"), ""]
    c = costs
    tps = c["ingest_tokens_per_s_by_length"]
    lines += ["## Cost", ""]
    if tps:
        lines += ["| length | ingest tokens/s (notes, documents) | forward positions/s |", "|---:|---:|---:|"]
        lines += [f"| {format_length(int(L))} | {v:,.0f} | {c['forward_tokens_per_s_by_length'][L]:,.0f} |"
                  for L, v in tps.items()]
        lines.append("")
    g = c["gemm"]

    def scaled(x: float | None, k: float, fmt: str) -> str:
        return _num(None if x is None else x * k, fmt)

    def per_method(d: dict, fmt: str) -> str:
        return ", ".join(f"{m} {_num(v, fmt)}" for m, v in d.items()) or "–"

    lines += [
        "- flatness (ingest tokens/s at the longest length / at the shortest): "
        + _num(c["flatness_longest_over_shortest"], "{:.2f}"),
        f"- GEMM: {g['n']}×{g['n']} {g['dtype']} torch.mm on {g['device']}, best of {g['repeats']}: "
        f"{g['flop_per_s'] / 1e9:.1f} GFLOP/s",
        f"- ingest FLOP/s executed: {scaled(c['ingest_flop_per_s_executed'], 1e-9, '{:.3g}')} GFLOP/s = "
        f"{scaled(c['ingest_over_gemm_executed'], 100, '{:.2f}')}% of GEMM; useful: "
        f"{scaled(c['ingest_flop_per_s_useful'], 1e-9, '{:.3g}')} GFLOP/s = "
        f"{scaled(c['ingest_over_gemm_useful'], 100, '{:.2f}')}% ({c['flops_estimate']}; N = {c['model_params']:,})",
        f"- peak RSS: {c['peak_rss_mb']:.0f} MiB",
        "- notes stored per sample (mean; rag: chunks): " + per_method(c["notes_stored_mean"], "{:.1f}"),
        "- notes the model wrote per sample (mean): " + per_method(c["notes_written_mean"], "{:.1f}"),
        "- retrieval hit rate: " + per_method(c["retrieval_hit_rate"], "{:.2f}"),
        "", "Chat tasks are left out of the ingest rates (a conversation is decoded, not read in bulk).", ""]
    return "\n".join(lines)


# ---- command line ------------------------------------------------------------------------------
def _model_id(checkpoint: str | os.PathLike | None) -> str:
    """How config.json (and the resume fingerprint) name the model: "default", a registry name,
    or the absolute path."""
    from memgpt.models import NAMES

    if checkpoint is None or checkpoint == "default":
        return "default"
    return checkpoint if checkpoint in NAMES else os.path.abspath(checkpoint)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`memgpt bench`'s arguments (the subcommand is wired in memgpt.cli)."""
    from memgpt.cli import add_model_argument

    p.description = ("Run every task x length x sample through every method (window, rag, notes, oracle) with the "
                     "same model and the same samples; results.jsonl in --out makes reruns resume.")
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--tasks", default=None, help=f"comma-separated, or all (default: all): {', '.join(TASKS)}")
    p.add_argument("--lengths", default=None,
                   help="comma-separated token lengths, k = 1000, M = 10^6 (default: 1k,4k; e.g. 1k,4k,64k,1M)")
    p.add_argument("--methods", default=None, help=f"comma-separated, or all (default: all): {', '.join(METHODS)}")
    p.add_argument("--samples", type=int, default=None, help=f"samples per task and length, spread over depths "
                                                             f"0..1 (default: {DEFAULT_SAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default: %(default)s)")
    p.add_argument("--out", default="bench", help="output directory; reruns resume from it (default: %(default)s)")
    add_model_argument(p)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available, else cpu)")
    p.add_argument("--depths", default=None, help="comma-separated depths in [0, 1], cycled over the samples "
                                                  "(default: spread evenly)")
    p.add_argument("--embedder", default="hash", help="note-store embedder for notes and rag (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: passkey,niah_single,qa1 x 1k,4k x 2 samples (unless given)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--gemm-size", type=int, default=2048, help="N of the N x N fp32 GEMM reference (default: %(default)s)")


def side_by_side_table(results: dict[str, dict]) -> str:
    """Mean score per task, length and method, one column per model (`results`: name -> `run`'s dict)."""
    from memgpt.side_by_side import markdown_table
    keys: list[tuple] = []
    for res in results.values():
        keys += [k for k in dict.fromkeys((r["task"], r["length"], r["method"]) for r in res["records"]) if k not in keys]
    rows = []
    for t, L, m in keys:
        cells = []
        for res in results.values():
            xs = [r["correct"] for r in res["records"] if (r["task"], r["length"], r["method"]) == (t, L, m)]
            cells.append(_cell(xs) if xs else "–")
        rows.append([t, f"{L:,}", m, *cells])
    return markdown_table(["task", "length", "method", *results], rows)


def command(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments and print the summary (`memgpt bench`); with
    `--model a,b`, each model into OUT/<model>/ and a side-by-side table (`memgpt.side_by_side`)."""
    from memgpt.side_by_side import model_names, model_out, write
    depths = [float(d) for d in args.depths.split(",") if d.strip()] if args.depths else None
    names = model_names(args.model)
    results = {}
    for name in names:
        out = args.out if len(names) == 1 else model_out(args.out, name)
        res = run(args.tasks, args.lengths, args.methods, args.samples, args.seed, out, name,
                  device=args.device, depths=depths, quick=args.quick, embedder=args.embedder,
                  progress=not args.no_progress, plots=not args.no_plots, gemm_size=args.gemm_size)
        with open(res["summary"], encoding="utf-8") as f:
            print(f.read())
        print(f"{res['evaluated']} runs now, {res['skipped']} resumed; results in {out}", file=sys.stderr)
        results[name or "default"] = res
    if len(names) > 1:
        table = side_by_side_table(results)
        print(table)
        print(f"side by side: {write(args.out, 'memgpt bench: models side by side', table)}", file=sys.stderr)
    return 0
