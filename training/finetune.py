"""Fine-tune a pretrained base to keep notes: LoRA on attention and MLP, plus the new token rows.

    memgpt finetune --out runs/ft1 --tokens 2000000          # resumes when runs/ft1/state.pt exists

Rows come from the open-domain corpus (`memgpt.training.open_data.rows`, one example per row,
in the engine's own windows); each optimizer step takes rows until `step_tokens` targets-or-context
tokens are in, one row per forward (no padding). Loss per token: 0 on context, 1 on text, and
`key_weight` on notes and answers. The base's weights never change: LoRA matrices learn at `lr`,
the rows of memgpt's tokens (which the base never had) at `new_rows_lr` (they start at the mean
embedding and must become distinct tokens quickly).

The run directory holds `last/` (the adapter: adapter.pt + adapter.json, what ships), `state.pt`
(optimizer, step, rows read: resume is exact), `config.json` and `metrics.jsonl` (one line per
step: loss, key loss, learning rate, tokens/s; validation loss on held-out relation types every
`eval_every` steps, with the rate of would-be note openings in held-out prose with no fact).
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from memgpt.lora import TARGETS, adapter_state, add_lora, lora_modules, save_adapter, train_new_rows
from memgpt.model import amp_context
from memgpt.models import load_model
from memgpt.quant import cpu_has_bf16
from memgpt.tokenizer import KEY, TEXT

Row = tuple[list[int], list[int]]


@dataclass
class FinetuneConfig:
    base: str = "smollm2-base"       # model name or .gguf path of the base
    out: str = "runs/ft"             # run directory
    tokens: int = 2_000_000          # tokens to train on (rows' lengths summed)
    block: int = 768                 # longest row
    step_tokens: int = 8192          # tokens per optimizer step
    rank: int = 16
    alpha: float = 32.0
    lr: float = 3e-4                 # LoRA matrices
    new_rows_lr: float = 3e-3        # memgpt's token rows
    min_lr_frac: float = 0.1         # cosine decay to this fraction of each learning rate
    warmup_steps: int = 10
    key_weight: float = 3.0          # loss weight of notes and answers (text: 1, context: 0)
    no_note_weight: float = 2.0      # weight of -log(1 - p(<|scratch|>)) on every text target (see row_loss)
    mix: str = ""                    # kind=fraction,... for the corpus (empty: its default mix)
    seed: int = 0
    save_every: int = 20             # steps between saves of last/ and state.pt
    eval_every: int = 50             # steps between validation losses (0: never)
    eval_rows: int = 40              # held-out rows in the validation set
    false_rows: int = 24             # held-out fact-free rows (fortunes, shakespeare, wordnet) for would-be openings
    threads: int = 2                 # torch threads on a CPU
    device: str = "auto"
    init_adapter: str = ""           # a new run starts from this adapter (e.g. the shipped one), not from zero
    dtype: str = "auto"              # float32 | bfloat16 (autocast) | auto: bfloat16 where the chip has it natively


def resolve_dtype(dtype: str, device_type: str) -> str:
    """`FinetuneConfig.dtype` for this device: auto is bfloat16 on CUDA and on CPUs with native
    bf16 (1.6-1.9x the fp32 steps/s on an AMX Xeon, docs/smollm2_notes.md), else float32."""
    if dtype not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"dtype must be auto, float32 or bfloat16, got {dtype!r}")
    if dtype != "auto":
        return dtype
    return "bfloat16" if device_type == "cuda" or (device_type == "cpu" and cpu_has_bf16()) else "float32"


def _rows_source(cfg: FinetuneConfig, tok, split: str, seed: int) -> Iterator[Row]:
    from memgpt.training.open_data import rows
    mix = dict((k, float(v)) for k, v in (kv.split("=") for kv in cfg.mix.split(",") if kv)) or None
    kwargs = {"mix": mix} if mix else {}
    return rows(tok, split=split, seed=seed, block=cfg.block, **kwargs)


def weights_of(mask: list[int], key_weight: float) -> list[float]:
    return [key_weight if m == KEY else 1.0 if m == TEXT else 0.0 for m in mask]


def lr_scale(cfg: FinetuneConfig, step: int, total_steps: int) -> float:
    """Warmup, then cosine decay to `min_lr_frac`."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac))


def row_loss(model, ids: list[int], mask: list[int], key_weight: float, device,
             n_base: int | None = None, scratch: int | None = None,
             no_note_weight: float = 0.0) -> tuple[torch.Tensor, float, float, int]:
    """(weighted loss summed over the row, its weight, key-token loss sum, key tokens).
    With `n_base`, the (tied) output head's first `n_base` rows are constants: the same loss and
    gradients for the new rows, without the head's weight gradient over 49k rows (by arithmetic
    ~1/10 of a step's; not timed alone).
    With `scratch` and `no_note_weight`, every text target also adds `no_note_weight` x
    -log(1 - p(<|scratch|>)): the decision *not* to open a note there. A text target's
    cross-entropy alone weighs it 1 while a note's opening (a key target) weighs `key_weight`,
    which taught the reader to open notes on ordinary sentences."""
    x = torch.tensor([ids[:-1]], device=device)
    w = torch.tensor(weights_of(mask[1:], key_weight), device=device)
    keep = w > 0  # the output head (49k rows) runs only where there is a target
    h = model.hidden(x)[0][keep]
    if n_base is None:
        logits = model.lm_head(h)
    else:
        head = model.lm_head.weight
        logits = torch.cat([F.linear(h, head[:n_base].detach()), F.linear(h, head[n_base:])], dim=-1)
    y = torch.tensor(ids[1:], device=device)[keep]
    logp = F.log_softmax(logits.float(), -1)
    ce = -logp.gather(1, y[:, None])[:, 0]
    key = torch.tensor([m == KEY for m in mask[1:]], device=device)[keep]
    loss = (ce * w[keep]).sum()
    if scratch is not None and no_note_weight > 0:
        text = torch.tensor([m == TEXT for m in mask[1:]], device=device)[keep] & (y != scratch)
        p = logp[text, scratch].exp().clamp(max=1 - 1e-6)
        loss = loss + no_note_weight * -torch.log1p(-p).sum()
    return loss, float(w.sum()), float(ce.detach()[key].sum()), int(key.sum())


@torch.no_grad()
def validate(model, rows: list[Row], cfg: FinetuneConfig, device, ctx) -> dict:
    model.eval()
    tot = wt = ksum = kn = 0.0
    with ctx():
        for ids, mask in rows:
            l, w, k, n = row_loss(model, ids, mask, cfg.key_weight, device)
            tot, wt, ksum, kn = tot + float(l), wt + w, ksum + k, kn + n
    model.train()
    return {"val_loss": tot / max(wt, 1.0), "val_key_loss": ksum / max(kn, 1.0)}


@torch.no_grad()
def false_opens(model, rows: list[Row], scratch: int, device, ctx) -> dict:
    """Where the model would open a note (p(<|scratch|>) > 0.5) in prose that holds no fact
    (held-out styles), per 10k tokens: the junk-note rate, watched while a run trains (the loss
    alone hides it: one wrong opening among thousands of text targets barely moves it)."""
    model.eval()
    opens = n = 0
    with ctx():
        for ids, _ in rows:
            p = torch.softmax(model(torch.tensor([ids], device=device))[0][0].float(), -1)[:, scratch]
            opens, n = opens + int((p > 0.5).sum()), n + len(ids)
    model.train()
    return {"val_false_opens_10k": 1e4 * opens / max(n, 1)}


def _put_adapter(model, sd: dict, n_base: int) -> None:
    """Copy adapter weights (`adapter_state`'s keys) into the trainable LoRA matrices and new rows."""
    with torch.no_grad():
        for n, m in lora_modules(model).items():
            m.lora_a.copy_(sd[f"{n}.lora_a"])
            m.lora_b.copy_(sd[f"{n}.lora_b"])
        model.transformer.wte.weight[n_base:] = sd["new_rows"]


def _atomic_torch_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


CHUNK_ROWS = 128  # the training stream is seeded afresh every CHUNK_ROWS rows


def train_stream(cfg: FinetuneConfig, tok, rows_fn, start: int) -> Iterator[Row]:
    """The training rows from row `start` on: chunks of `CHUNK_ROWS` rows, each from its own seed,
    so an exact resume regenerates at most one chunk's rows (not every row read before)."""
    chunk, skip = divmod(start, CHUNK_ROWS)
    while True:
        rows = itertools.islice(rows_fn(cfg, tok, "train", cfg.seed * 1_000_003 + chunk), CHUNK_ROWS)
        yield from itertools.islice(rows, skip, None)
        chunk, skip = chunk + 1, 0


def finetune(cfg: FinetuneConfig, rows_fn: Callable[[FinetuneConfig, object, str, int], Iterator[Row]] = _rows_source,
             progress: bool = True) -> dict:
    """Run (or resume) a fine-tune; returns the last metrics line."""
    from memgpt.training.train import git_commit, pick_device
    device = pick_device(cfg.device)
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model, tok, meta = load_model(cfg.base, str(device), shared=False)
    n_base = int(meta.get("base_tokens", 0))
    if not n_base or model.config.pos != "rope":
        raise ValueError(f"{cfg.base}: fine-tuning takes a pretrained Llama-family base (a .gguf or 'smollm2-base')")
    lora = add_lora(model, cfg.rank, cfg.alpha)
    rows_param = train_new_rows(model, n_base)
    opt = torch.optim.AdamW([{"params": lora, "lr": cfg.lr, "base_lr": cfg.lr, "weight_decay": 0.0},
                             {"params": [rows_param], "lr": cfg.new_rows_lr, "base_lr": cfg.new_rows_lr, "weight_decay": 0.0}],
                            betas=(0.9, 0.99))
    dtype = resolve_dtype(cfg.dtype, device.type)
    ctx = lambda: amp_context(device.type, dtype)  # noqa: E731
    print(f"{cfg.out}: {device.type}, {dtype}", file=sys.stderr)
    os.makedirs(cfg.out, exist_ok=True)
    state_path = os.path.join(cfg.out, "state.pt")
    step, tokens, rows_read = 0, 0, 0
    if os.path.exists(state_path):
        st = torch.load(state_path, map_location=device, weights_only=False)
        if st["config"]["base"] != cfg.base or st["config"]["rank"] != cfg.rank:
            raise ValueError(f"{state_path}: a run of another base or rank; use another --out")
        _put_adapter(model, st["adapter"], n_base)
        opt.load_state_dict(st["opt"])
        step, tokens, rows_read = st["step"], st["tokens"], st["rows_read"]
        print(f"resuming {cfg.out} at step {step} ({tokens:,} tokens)", file=sys.stderr)
    elif cfg.init_adapter:
        from memgpt.lora import AdapterError, read_adapter
        try:
            sd, ameta = read_adapter(cfg.init_adapter)
        except AdapterError as e:
            raise ValueError(f"--init-adapter: {e}") from None
        if ameta.get("rank") != cfg.rank or int(ameta.get("n_base", -1)) != n_base:
            raise ValueError(f"--init-adapter {cfg.init_adapter}: rank {ameta.get('rank')} over {ameta.get('n_base')} "
                             f"base tokens; this run has rank {cfg.rank} over {n_base}")
        _put_adapter(model, sd, n_base)
        print(f"starting {cfg.out} from the adapter in {cfg.init_adapter} "
              f"(its {int(ameta.get('tokens', 0)):,} tokens)", file=sys.stderr)
    info = {"base": cfg.base, "base_name": meta.get("name", ""), "rank": cfg.rank, "alpha": cfg.alpha,
            "targets": list(TARGETS), "block_size": model.config.block_size}
    commit = git_commit()  # the code this process runs: the checkout may move on while it trains
    with open(os.path.join(cfg.out, "config.json"), "w") as f:
        json.dump({"config": dataclasses.asdict(cfg), "git_commit": commit, "adapter": info}, f, indent=1)
    total_steps = max(1, cfg.tokens // cfg.step_tokens)
    source = train_stream(cfg, tok, rows_fn, rows_read)
    val = list(itertools.islice(rows_fn(cfg, tok, "test", cfg.seed + 1), cfg.eval_rows)) if cfg.eval_every else []
    free = (list(itertools.islice(rows_fn(dataclasses.replace(cfg, mix="fact_free=1"), tok, "test", cfg.seed + 2),
                                  max(1, cfg.false_rows))) if cfg.eval_every else [])
    model.train()
    bar = tqdm(total=cfg.tokens, initial=min(tokens, cfg.tokens), unit="tok", unit_scale=True,
               disable=not progress, desc="finetune")
    metrics_path = os.path.join(cfg.out, "metrics.jsonl")
    last: dict = {}

    def save() -> None:
        save_adapter(os.path.join(cfg.out, "last"), model, n_base,
                     {**info, "step": step, "tokens": tokens, "git_commit": commit})
        _atomic_torch_save({"adapter": adapter_state(model, n_base), "opt": opt.state_dict(), "step": step,
                            "tokens": tokens, "rows_read": rows_read, "config": dataclasses.asdict(cfg)}, state_path)

    while tokens < cfg.tokens:
        scale = lr_scale(cfg, step, total_steps)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * scale
        t0, got, wsum, lsum, ksum, kn = time.perf_counter(), 0, 0.0, 0.0, 0.0, 0
        batch: list[Row] = []
        while got < cfg.step_tokens:
            ids, mask = next(source)
            rows_read += 1
            if len(ids) < 2 or not any(mask[1:]):
                continue
            batch.append((ids, mask))
            got += len(ids)
        for ids, mask in batch:
            with ctx():
                loss, w, k, n = row_loss(model, ids, mask, cfg.key_weight, device, n_base, tok.scratch,
                                         cfg.no_note_weight)
            (loss / cfg.step_tokens).backward()
            lsum, wsum, ksum, kn = lsum + loss.item(), wsum + w, ksum + k, kn + n
        torch.nn.utils.clip_grad_norm_(lora + [rows_param], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step, tokens = step + 1, tokens + got
        dt = time.perf_counter() - t0
        last = {"step": step, "tokens": tokens, "loss": lsum / max(wsum, 1.0), "key_loss": ksum / max(kn, 1),
                "lr": opt.param_groups[0]["lr"], "tok_per_s": got / dt, "rows_read": rows_read}
        if cfg.eval_every and step % cfg.eval_every == 0:
            last.update(validate(model, val, cfg, device, ctx))
            last.update(false_opens(model, free, tok.scratch, device, ctx))
        with open(metrics_path, "a") as f:
            f.write(json.dumps(last) + "\n")
        bar.update(got)
        bar.set_postfix(loss=f"{last['loss']:.3f}", key=f"{last['key_loss']:.3f}", tps=f"{last['tok_per_s']:.0f}")
        if step % cfg.save_every == 0:
            save()
    bar.close()
    save()
    return last


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`memgpt finetune`: a --kebab-case flag per FinetuneConfig field."""
    ap.description = "Fine-tune a pretrained base (LoRA + new token rows) to keep notes; resumable."
    for f in dataclasses.fields(FinetuneConfig):
        typ = {"int": int, "float": float}.get(str(f.type), str)
        ap.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=typ, default=f.default,
                        help="default: %(default)s")


def command(args: argparse.Namespace) -> int:
    cfg = FinetuneConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(FinetuneConfig)})
    print(json.dumps(finetune(cfg)))
    return 0


if __name__ == "__main__":
    from memgpt.cli import run_command

    sys.exit(run_command("finetune"))
