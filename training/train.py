"""Train a note-taking GPT on the scratchpad corpus. CPU or CUDA, single process or DDP.

    memgpt train --data runs/data --out runs/default            # or python -m memgpt.training.train
    torchrun --nproc_per_node 8 -m memgpt.training.train --data ... --out ... --device cuda

Every field of `TrainConfig` and of its `ModelShape` is a command-line flag (`--max-tokens 2e7`;
the old `--max_tokens` spelling is still accepted). The shape applies to a model trained from
scratch only: a run from a checkpoint keeps that model's shape, which its `config.json` records,
so the run settings saved beside a checkpoint (`meta.json`) hold no shape to contradict it.
A run directory holds `config.json` (the run settings, the model's config and the git commit),
`metrics.jsonl`, `last/` (checkpoint plus
`train_state.pt` for exact resume) and `best/` (lowest validation loss). Running the same command
again resumes from `last/`. Batches are drawn by a generator seeded with (seed, step, rank, micro
step), so a resumed run sees exactly the rows the uninterrupted run would have.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from memgpt.checkpoint import load_checkpoint, save_checkpoint
from memgpt.model import GPT, GPTConfig, amp_context
from memgpt.tokenizer import KEY, TEXT, Tokenizer
from memgpt.training.data import train_shard_path
from memgpt.training.grow import grow, grown_blocks


@dataclass
class ModelShape:
    """The shape of a model trained from scratch. A checkpoint (or GPT-2) brings its own shape:
    its config.json is the one record of it."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0


@dataclass
class TrainConfig:
    """The run settings, and the shape of a model trained from scratch (`shape`)."""

    data: str = "runs/data"          # shards from memgpt.training.data (holds tokenizer/)
    out: str = "runs/default"
    init_from: str = "scratch"       # scratch | <checkpoint dir> | gpt2
    shape: ModelShape = field(default_factory=ModelShape)  # init_from scratch only
    block_size: int = 256            # tokens per training row (a scratch model's block; at most a checkpoint's)
    # optimisation
    batch_size: int = 16             # rows per micro step per process
    grad_accum: int = 1
    max_tokens: float = 15e6         # training tokens in total (all processes)
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_tokens: float = 3e5
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    key_weight: float = 5.0          # loss weight of notes and answers (mask 2)
    # with a checkpoint init: n more blocks, copies of the top n with zeroed outputs (training/grow.py)
    grow_layers: int = 0
    grow_lr_mult: float = 1.0        # learning-rate multiplier of the grown blocks
    # system
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    dtype: str = "bfloat16"          # bfloat16 | float32 (autocast on CPU and CUDA)
    compile: bool = False
    threads: int = 0                 # torch CPU threads; 0 = torch's default
    seed: int = 1337
    # bookkeeping
    eval_every: int = 200            # optimiser steps
    eval_rows: int = 256
    ckpt_every: int = 200
    log_every: int = 10
    progress: bool = True
    stop_after: int = 0              # stop this process after N optimiser steps (0 = run to the end); resume later
    # > 0: the corpus is still being built (scripts/gpu_stage.sh): step s draws from the first
    # 1 + s // shard_every train shards of meta.json's n_shards, waiting for each to be finished
    shard_every: int = 0
    shard_wait: float = 600.0        # seconds to wait for one shard before giving up


def _flag_fields() -> list[dataclasses.Field]:
    """The fields that are flags: the shape's, then the run settings'."""
    return dataclasses.fields(ModelShape) + tuple(f for f in dataclasses.fields(TrainConfig) if f.name != "shape")


def _boolean(s: str) -> bool:
    return s.lower() in ("1", "true", "yes", "on")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`memgpt train`: a --kebab-case flag per field (the --snake_case spelling is a hidden alias)."""
    ap.description = "Train a memgpt note-taker."
    for f in _flag_fields():
        typ = _boolean if f.type in ("bool", bool) else {"int": int, "float": float}.get(str(f.type), str)
        flag = "--" + f.name.replace("_", "-")
        what = " (a model trained from scratch)" if f.name in {g.name for g in dataclasses.fields(ModelShape)} else ""
        ap.add_argument(flag, dest=f.name, type=typ, default=f.default, metavar="BOOL" if typ is _boolean else None,
                        help=f"default: %(default)s{what}")
        if "_" in f.name:
            ap.add_argument(f"--{f.name}", dest=f.name, type=typ, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    shape = {f.name for f in dataclasses.fields(ModelShape)}
    values = vars(args)
    return TrainConfig(shape=ModelShape(**{k: values[k] for k in shape}),
                       **{f.name: values[f.name] for f in _flag_fields() if f.name not in shape})


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    ap = argparse.ArgumentParser(prog="memgpt train")
    add_arguments(ap)
    return config_from_args(ap.parse_args(argv))


def run_settings(cfg: TrainConfig) -> dict:
    """The config without the shape: what a checkpoint's meta.json records (its config.json holds
    the model's real shape)."""
    d = dataclasses.asdict(cfg)
    d.pop("shape")
    return d


def git_commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Shards:
    """Memory-mapped token rows; `batch(key)` draws rows with a generator seeded by `key`."""

    def __init__(self, files: list[str]):
        if not files:
            raise FileNotFoundError("no shards found")
        self.ids = [np.load(f + ".ids.npy", mmap_mode="r") for f in files]
        self.mask = [np.load(f + ".mask.npy", mmap_mode="r") for f in files]
        self.sizes = np.array([len(a) for a in self.ids])
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)])  # first global row of each shard
        self.length = self.ids[0].shape[1]

    def rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shard = np.searchsorted(self.starts[1:], index, side="right")
        local = index - self.starts[shard]
        ids = np.stack([self.ids[s][r] for s, r in zip(shard, local)]).astype(np.int64)
        mask = np.stack([self.mask[s][r] for s, r in zip(shard, local)])
        return ids, mask

    def batch(self, key: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows(np.random.default_rng(key).integers(0, int(self.starts[-1]), n))


def await_file(path: str, timeout: float) -> None:
    t0 = time.time()
    while not os.path.exists(path):
        if time.time() - t0 > timeout:
            raise TimeoutError(f"{path} not written after {timeout:.0f} s; is the corpus build running?")
        time.sleep(0.2)


def await_shards(data_dir: str, n: int, timeout: float) -> Shards:
    """The first `n` train shards of a corpus still being built, once the builder has finished
    them (a shard is finished when its mask file exists: it is written last, whole)."""
    for i in range(n):
        await_file(train_shard_path(data_dir, i) + ".mask.npy", timeout)
    return Shards([train_shard_path(data_dir, i) for i in range(n)])


def shards_due(cfg: TrainConfig, step: int, n_shards: int) -> int:
    """Train shards that step `step` draws from: all of them, or while following a build, one
    more every `shard_every` steps (a function of the step alone, so a resumed run draws as the
    uninterrupted one did)."""
    return n_shards if cfg.shard_every <= 0 else min(n_shards, 1 + step // cfg.shard_every)


def to_tensors(ids: np.ndarray, mask: np.ndarray, key_weight: float, device: torch.device, block: int):
    ids, mask = ids[:, : block + 1], mask[:, : block + 1]
    x = torch.from_numpy(ids[:, :-1].copy())
    y = torch.from_numpy(ids[:, 1:].copy())
    wmap = np.zeros(256, dtype=np.float32)
    wmap[TEXT], wmap[KEY] = 1.0, key_weight
    w = torch.from_numpy(wmap[mask[:, 1:]])
    return x.to(device), y.to(device), w.to(device)


def lr_at(cfg: TrainConfig, tokens: float) -> float:
    """Linear warmup, then cosine decay to min_lr, as a function of tokens seen."""
    if tokens < cfg.warmup_tokens:
        return cfg.lr * (tokens + 1) / cfg.warmup_tokens
    frac = min(1.0, (tokens - cfg.warmup_tokens) / max(1.0, cfg.max_tokens - cfg.warmup_tokens))
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * frac)) * (cfg.lr - cfg.min_lr)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_model(cfg: TrainConfig, tok: Tokenizer, device: torch.device) -> tuple[GPT, dict]:
    """A fresh model, or weights from a checkpoint / GPT-2 (returns the checkpoint's meta)."""
    if cfg.init_from == "scratch":
        mc = GPTConfig(block_size=cfg.block_size, vocab_size=-(-tok.n_vocab // 64) * 64, n_layer=cfg.shape.n_layer,
                       n_head=cfg.shape.n_head, n_embd=cfg.shape.n_embd, dropout=cfg.shape.dropout)
        return GPT(mc).to(device), {}
    if cfg.shape != ModelShape():
        raise ValueError(f"--n-layer, --n-head, --n-embd and --dropout shape a model trained from scratch; "
                         f"--init-from {cfg.init_from} keeps its own shape")
    if cfg.init_from == "gpt2":
        from memgpt.training.gpt2 import from_hf_gpt2

        return from_hf_gpt2("gpt2", tok.n_vocab).to(device), {}
    model, ck_tok, meta = load_checkpoint(cfg.init_from, device)
    if ck_tok.n_vocab != tok.n_vocab or ck_tok.specials != tok.specials:
        raise ValueError(f"{cfg.init_from}: its tokenizer differs from the data's ({cfg.data}/tokenizer)")
    model.train()
    return model, meta


def evaluate(model, shards: Shards, cfg: TrainConfig, device, ctx) -> dict:
    """Validation loss on fixed rows: overall (weighted) and on key tokens only."""
    model.eval()
    ids, mask = shards.rows(np.arange(min(cfg.eval_rows, int(shards.sizes.sum()))))
    tot, key_loss, key_n = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(ids), cfg.batch_size):
            x, y, w = to_tensors(ids[i:i + cfg.batch_size], mask[i:i + cfg.batch_size], cfg.key_weight, device, cfg.block_size)
            with ctx:
                logits, loss = model(x, y, w)
            tot += loss.item() * len(x)
            ce = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")
            k = w == cfg.key_weight
            key_loss += ce[k].sum().item()
            key_n += int(k.sum())
    model.train()
    return {"val_loss": tot / len(ids), "val_key_loss": key_loss / max(1, key_n)}


def train(cfg: TrainConfig) -> dict:
    ddp = int(os.environ.get("RANK", -1)) != -1
    rank, world = 0, 1
    device = pick_device(cfg.device)
    if ddp:
        import torch.distributed as dist

        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
            torch.cuda.set_device(device)
    master = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + rank)

    if cfg.shard_every > 0:  # following a build: meta.json and the tokenizer come before any shard
        meta_path = os.path.join(cfg.data, "meta.json")
        await_file(meta_path, cfg.shard_wait)
        with open(meta_path) as f:
            n_shards = json.load(f)["n_shards"]
        await_file(os.path.join(cfg.data, "val_0000.mask.npy"), cfg.shard_wait)  # the build's first shard
        train_shards, n_open = None, 0
    else:
        train_files = [f[:-8] for f in sorted(glob.glob(os.path.join(cfg.data, "train_*.ids.npy")))]
        if not train_files:
            raise FileNotFoundError(f"{cfg.data}: no train_*.ids.npy shards (build them with memgpt.training.data)")
        train_shards, n_shards = Shards(train_files), len(train_files)
        n_open = n_shards
    tok = Tokenizer.load(os.path.join(cfg.data, "tokenizer"))
    val_files = [f[:-8] for f in sorted(glob.glob(os.path.join(cfg.data, "val_*.ids.npy")))]
    val_shards = Shards(val_files) if val_files else None

    last_dir, best_dir = os.path.join(cfg.out, "last"), os.path.join(cfg.out, "best")
    state_path = os.path.join(last_dir, "train_state.pt")
    resume = os.path.exists(state_path)
    if resume:  # the run's own last checkpoint wins over --init-from
        model, _, meta = load_checkpoint(last_dir, device)
        model.train()
    else:
        if cfg.grow_layers and cfg.init_from == "scratch":
            raise ValueError("--grow-layers grows a trained model: give --init-from a checkpoint (or gpt2)")
        model, meta = build_model(cfg, tok, device)
        if cfg.grow_layers:
            model = grow(model, cfg.grow_layers)
    if model.config.block_size < cfg.block_size:
        raise ValueError(f"model block size {model.config.block_size} < requested {cfg.block_size}")
    new_blocks = grown_blocks(model.config.n_layer, cfg.grow_layers)
    optimizer = model.configure_optimizers(cfg.weight_decay, cfg.lr, (cfg.beta1, cfg.beta2), device.type,
                                           {f"transformer.h.{i}.": cfg.grow_lr_mult for i in new_blocks})
    step, tokens, best = 0, 0, float("inf")
    if resume:
        st = torch.load(state_path, map_location=device, weights_only=True)
        optimizer.load_state_dict(st["optimizer"])
        step, tokens, best = st["step"], st["tokens"], st["best_val"]
    raw = model
    if cfg.compile:
        model = torch.compile(model)
    if ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    ctx = amp_context(device.type, cfg.dtype)
    tokens_per_step = cfg.batch_size * cfg.grad_accum * cfg.block_size * world
    total_steps = math.ceil(cfg.max_tokens / tokens_per_step)

    if master:
        os.makedirs(cfg.out, exist_ok=True)
        run_info = {"config": run_settings(cfg), "git_commit": git_commit(), "world_size": world,
                    "model": raw.config.to_dict(), "params": raw.num_params(), "resumed_at_step": step}
        with open(os.path.join(cfg.out, "config.json" if not resume else f"config.resume{step}.json"), "w") as f:
            json.dump(run_info, f, indent=1)
    metrics_f = open(os.path.join(cfg.out, "metrics.jsonl"), "a") if master else None
    bar = None
    if master and cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, desc="train", unit="step", dynamic_ncols=True)

    def save(directory: str, extra: dict) -> None:
        m = {"step": step, "tokens": tokens, "config": run_settings(cfg), "git_commit": git_commit(),
             "params": raw.num_params(), **extra}
        save_checkpoint(directory, raw, tok, m)

    t0, tok_t0, last = time.time(), tokens, {}
    stop_at = min(total_steps, step + cfg.stop_after) if cfg.stop_after else total_steps
    while step < stop_at:
        lr = lr_at(cfg, tokens)
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)  # states saved before lr_mult existed have none
        due = shards_due(cfg, step, n_shards)
        if due != n_open:
            n_open, train_shards = due, await_shards(cfg.data, due, cfg.shard_wait)
        loss_acc = 0.0
        for micro in range(cfg.grad_accum):
            ids, mask = train_shards.batch([cfg.seed, step, rank, micro], cfg.batch_size)
            x, y, w = to_tensors(ids, mask, cfg.key_weight, device, cfg.block_size)
            if ddp:  # sync gradients only on the last micro step
                model.require_backward_grad_sync = micro == cfg.grad_accum - 1
            with ctx:
                _, loss = model(x, y, w)
            (loss / cfg.grad_accum).backward()
            loss_acc += loss.item() / cfg.grad_accum
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens += tokens_per_step
        if not master:
            continue
        if step % cfg.log_every == 0 or step == total_steps:
            dt = time.time() - t0
            last = {"step": step, "tokens": tokens, "loss": round(loss_acc, 4), "lr": lr,
                    "tok_per_s": round((tokens - tok_t0) / max(dt, 1e-9), 1), "time": time.time()}
            metrics_f.write(json.dumps(last) + "\n")
            metrics_f.flush()
            if bar is not None:
                bar.set_postfix(loss=f"{loss_acc:.3f}", tps=f"{last['tok_per_s']:.0f}")
        if bar is not None:
            bar.update(1)
        if val_shards is not None and (step % cfg.eval_every == 0 or step == total_steps):
            ev = evaluate(raw, val_shards, cfg, device, ctx)
            metrics_f.write(json.dumps({"step": step, "tokens": tokens, **ev, "time": time.time()}) + "\n")
            metrics_f.flush()
            last.update(ev)
            if ev["val_loss"] < best:
                best = ev["val_loss"]
                save(best_dir, {"val": ev})
        if step % cfg.ckpt_every == 0 or step == stop_at:
            save(last_dir, {"last_metrics": last})
            torch.save({"optimizer": optimizer.state_dict(), "step": step, "tokens": tokens, "best_val": best}, state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
    if bar is not None:
        bar.close()
    if metrics_f:
        metrics_f.close()
    if ddp:
        import torch.distributed as dist

        dist.destroy_process_group()
    return {"step": step, "tokens": tokens, "best_val": best, **last}


def command(args: argparse.Namespace) -> int:
    """`memgpt train` (also `python -m memgpt.training.train`, which torchrun runs)."""
    out = train(config_from_args(args))
    if int(os.environ.get("RANK", 0)) == 0:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    from memgpt.cli import run_command

    sys.exit(run_command("train"))
