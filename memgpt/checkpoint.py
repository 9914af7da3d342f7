"""Checkpoints: one directory that rebuilds its own model and tokenizer.

    config.json      model config (GPTConfig) and format version
    tokenizer.json   tokenizer name, split pattern, control-token ids
    tokenizer.bpe    BPE ranks (absent for named encodings such as gpt2)
    model.pt         weights (state dict; loaded with weights_only=True)
    meta.json        training metadata: step, tokens seen, config, git commit, metrics

Every failure to load names the file at fault.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import torch

from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer, TokenizerError

FORMAT = 1
CONFIG_FILE, WEIGHTS_FILE, META_FILE = "config.json", "model.pt", "meta.json"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or does not match its config."""


def _atomic_write(path: str, write) -> None:
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; checkpoints are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, default=str).encode()


def clean_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrappers' prefixes (torch.compile's `_orig_mod.`, DDP's `module.`)."""
    out = {}
    for k, v in sd.items():
        for prefix in ("_orig_mod.", "module."):
            while k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def save_checkpoint(directory: str, model: GPT, tokenizer: Tokenizer, meta: dict | None = None) -> None:
    """Write a complete checkpoint; each file is replaced atomically."""
    os.makedirs(directory, exist_ok=True)
    raw = getattr(model, "_orig_mod", model)
    raw = getattr(raw, "module", raw)
    tokenizer.save(directory)
    _atomic_write(os.path.join(directory, CONFIG_FILE), lambda f: f.write(_json_bytes({"format": FORMAT, "model": raw.config.to_dict()})))
    sd = clean_state_dict(raw.state_dict())
    sd.pop("lm_head.weight", None)  # tied to wte; saved once
    _atomic_write(os.path.join(directory, WEIGHTS_FILE), lambda f: torch.save(sd, f))
    _atomic_write(os.path.join(directory, META_FILE), lambda f: f.write(_json_bytes(meta or {})))


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing checkpoint file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated JSON ({e})") from None


def load_config(directory: str) -> GPTConfig:
    path = os.path.join(directory, CONFIG_FILE)
    cfg = _read_json(path)
    try:
        if cfg.get("format") != FORMAT:
            raise CheckpointError(f"{path}: unsupported checkpoint format {cfg.get('format')!r} (expected {FORMAT})")
        return GPTConfig(**cfg["model"])
    except (KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path}: malformed config ({e})") from None


def load_checkpoint(directory: str, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer, dict]:
    """Rebuild (model in eval mode, tokenizer, meta) from a checkpoint directory."""
    if not os.path.isdir(directory):
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    config = load_config(directory)
    try:
        tokenizer = Tokenizer.load(directory)
    except TokenizerError as e:
        raise CheckpointError(str(e)) from None
    if tokenizer.n_vocab > config.vocab_size:
        raise CheckpointError(f"{os.path.join(directory, CONFIG_FILE)}: vocab_size {config.vocab_size} is smaller "
                              f"than the tokenizer's {tokenizer.n_vocab} tokens")
    meta = _read_json(os.path.join(directory, META_FILE))
    wpath = os.path.join(directory, WEIGHTS_FILE)
    if not os.path.exists(wpath):
        raise CheckpointError(f"{wpath}: missing checkpoint file")
    try:
        sd = torch.load(wpath, map_location=device, weights_only=True)
    except Exception as e:  # torch raises several types for truncated zip/pickle data
        raise CheckpointError(f"{wpath}: corrupt or truncated weights ({type(e).__name__}: {e})") from None
    if not isinstance(sd, dict):
        raise CheckpointError(f"{wpath}: not a state dict")
    sd = clean_state_dict(sd)
    model = GPT(config)
    sd.setdefault("lm_head.weight", sd.get("transformer.wte.weight"))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{wpath}: weights do not match {CONFIG_FILE} ({str(e).splitlines()[0]} ...)") from None
    model.to(device).eval()
    return model, tokenizer, meta


def default_checkpoint_dir() -> str:
    """The checkpoint bundled with the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")
