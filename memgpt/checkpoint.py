"""Checkpoints: one directory that rebuilds its own model and tokenizer.

    config.json      model config (GPTConfig) and format version
    tokenizer.json   tokenizer name, split pattern, control-token ids
    tokenizer.bpe    BPE ranks (absent for named encodings such as gpt2)
    model.pt         weights (state dict; loaded with weights_only=True). They may be stored
                     in float16 to halve the file (`export_checkpoint`); loading always
                     rebuilds float32 parameters.
    meta.json        training metadata: step, tokens seen, config, git commit, metrics, and
                     `weights_sha256`, the SHA-256 of model.pt (written by `save_checkpoint`)

Every failure to load names the file at fault. Loading checks model.pt against `weights_sha256`
(a checkpoint saved before the checksum existed has none and loads unchecked) and refuses weights
that are not finite (NaN or infinity): damaged bytes in a tensor load as valid floats otherwise.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import torch

from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer, TokenizerError

FORMAT = 1
CONFIG_FILE, WEIGHTS_FILE, META_FILE = "config.json", "model.pt", "meta.json"
CHECKSUM_KEY = "weights_sha256"  # in meta.json


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


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _cast_weights(sd: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Floating tensors in `dtype`; refuses a cast that overflows (float16 tops out at 65504)."""
    out = {}
    for k, v in sd.items():
        if v.is_floating_point():
            c = v.to(dtype)
            if not torch.isfinite(c).all() and torch.isfinite(v).all():
                raise ValueError(f"{k}: values overflow {dtype} (largest |x| = {v.abs().max().item():.4g})")
            v = c
        out[k] = v
    return out


def save_checkpoint(directory: str, model: GPT, tokenizer: Tokenizer, meta: dict | None = None,
                    weights_dtype: torch.dtype | None = None) -> dict:
    """Write a complete checkpoint; each file is replaced atomically. Returns the meta written.

    `weights_dtype` (e.g. torch.float16) stores the weights in that dtype: half the bytes, with
    each weight rounded once. Loading upcasts them to the model's float32 parameters. meta.json
    gets `weights_sha256`, the checksum of the model.pt written (replacing any in `meta`)."""
    raw = getattr(model, "_orig_mod", model)
    raw = getattr(raw, "module", raw)
    sd = clean_state_dict(raw.state_dict())
    sd.pop("lm_head.weight", None)  # tied to wte; saved once
    if weights_dtype is not None:
        sd = _cast_weights(sd, weights_dtype)  # before any file is written: a refused cast writes nothing
    os.makedirs(directory, exist_ok=True)
    tokenizer.save(directory)
    _atomic_write(os.path.join(directory, CONFIG_FILE), lambda f: f.write(_json_bytes({"format": FORMAT, "model": raw.config.to_dict()})))
    wpath = os.path.join(directory, WEIGHTS_FILE)
    _atomic_write(wpath, lambda f: torch.save(sd, f))
    meta = {**(meta or {}), CHECKSUM_KEY: file_sha256(wpath)}
    _atomic_write(os.path.join(directory, META_FILE), lambda f: f.write(_json_bytes(meta)))
    return meta


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
    expected = meta.get(CHECKSUM_KEY) if isinstance(meta, dict) else None
    if expected is not None and file_sha256(wpath) != expected:
        raise CheckpointError(f"{wpath}: damaged or replaced: its SHA-256 is not the {CHECKSUM_KEY} "
                              f"recorded in {META_FILE}")
    try:
        sd = torch.load(wpath, map_location=device, weights_only=True)
    except Exception as e:  # torch raises several types for truncated zip/pickle data
        raise CheckpointError(f"{wpath}: corrupt or truncated weights ({type(e).__name__}: {e})") from None
    if not isinstance(sd, dict):
        raise CheckpointError(f"{wpath}: not a state dict")
    sd = clean_state_dict(sd)
    bad = sorted({str(v.dtype) for v in sd.values() if isinstance(v, torch.Tensor) and v.is_floating_point()
                  and v.dtype not in WEIGHT_DTYPES.values()})
    if bad:
        raise CheckpointError(f"{wpath}: unsupported weight dtype {', '.join(bad)}")
    nonfinite = [k for k, v in sd.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
                 and not torch.isfinite(v).all()]
    if nonfinite:
        raise CheckpointError(f"{wpath}: damaged weights: {', '.join(nonfinite[:3])}"
                              f"{' ...' if len(nonfinite) > 3 else ''} hold NaN or infinite values")
    model = GPT(config)  # float32 parameters; load_state_dict upcasts float16/bfloat16 weights
    sd.setdefault("lm_head.weight", sd.get("transformer.wte.weight"))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{wpath}: weights do not match {CONFIG_FILE} ({str(e).splitlines()[0]} ...)") from None
    model.to(device).eval()
    return model, tokenizer, meta


def export_checkpoint(src: str, dst: str, weights_dtype: str = "float16") -> dict:
    """Copy checkpoint `src` to `dst` with its weights stored in `weights_dtype`.

    Returns the new meta: the old one plus `weights_dtype` and `exported_from` (and the new
    `weights_sha256`). A model loaded
    from `dst` computes with float32 parameters equal to the rounded weights, so evaluate `dst`
    itself: its answers may differ from `src`'s where a logit margin is below the rounding."""
    if weights_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weights dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {weights_dtype!r}")
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ValueError(f"{dst}: export into a different directory than the source")
    model, tokenizer, meta = load_checkpoint(src)
    meta = {**meta, "weights_dtype": weights_dtype, "exported_from": src}
    return save_checkpoint(dst, model, tokenizer, meta, WEIGHT_DTYPES[weights_dtype])


def default_checkpoint_dir() -> str:
    """The checkpoint bundled with the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")
