"""The four methods, each a way to put one `Sample` through the same model and engine.

    window   no memory: the engine with `mem_budget=0` (never a <|mem|> block) reads the tail of
             the document (`tail_blocks` x block_size tokens: only the last block can reach the
             window, so reading the rest would change nothing) and answers from the last T tokens.
             Chat: the whole conversation, with no memory block in any reply.
    rag      the raw document split into sentences (a sentence over `chunk_tokens` is cut),
             exact-duplicate chunks stored once, filed in a fresh NoteStore (same embedder) as
             source "user"; the engine retrieves them for the question into the <|mem|> block
             through its usual path (`Engine._memory` -> `render_memory`). The recent window is
             the window method's: the tail is read by the same engine and the notes the model
             writes while reading it are deleted, so no model-written note is ever retrieved.
             Chat: each user message is chunked into the store after its turn, and the model's
             own chat notes are deleted after each turn.
    notes    ours: `bot.ingest(document)` then `bot.ask(question)`; chat: `bot.chat` every turn,
             then `bot.ask`.
    oracle   the ceiling: a fresh engine with `mem_budget=0` reads only the supporting sentences
             (chat: replays only the asked fact's turn), then answers, so they sit in the window
             right before the question.

Every answer is `bot.ask(question)`: greedy, from the engine. `retrieval_hit` is read from the
engine's record of the last window's <|mem|> block (`bot.injected`): the fraction of needed facts
whose note or chunk was in it (None for window and oracle, which inject nothing).
"""
from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Any

from memgpt.api import MemGPT
from memgpt.controller import EngineConfig
from memgpt.memory.embed import get_embedder
from memgpt.memory.note import Note
from memgpt.memory.store import NoteStore
from memgpt.model import GPT
from memgpt.tokenizer import Tokenizer

from .score import score
from .tasks import METHODS, REPLY_TOKENS, Sample

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Setup:
    """What every method shares: one loaded model, its tokenizer and the engine settings."""

    model: GPT
    tokenizer: Tokenizer
    config: EngineConfig          # base engine settings (device set); window and oracle zero its mem_budget
    embedder: str = "hash"        # embedder of every NoteStore (notes and rag chunks alike)
    tail_blocks: int = 2          # window/rag read this many blocks of the document's end
    chunk_tokens: int = 48        # rag: longest chunk (also capped to fit the <|mem|> budget twice)
    reply_tokens: int = REPLY_TOKENS  # chat: tokens per assistant reply

    def __post_init__(self) -> None:
        self._embedder = get_embedder(self.embedder)  # one instance for every store (a neural one loads once)

    def bot(self, memory: bool = True) -> MemGPT:
        """A fresh engine and in-memory store on the shared model; memory=False: no <|mem|> block ever."""
        if memory:
            return MemGPT(self.model, self.tokenizer, NoteStore(embedder=self._embedder), self.config, owns_memory=True)
        cfg = dataclasses.replace(self.config, mem_budget=0)
        return MemGPT(self.model, self.tokenizer, NoteStore(), cfg, owns_memory=True)  # notes filed, never injected


def needles_hit(sample: Sample, texts: list[str]) -> float:
    """Fraction of the sample's needed facts whose identifying strings all occur in one text."""
    low = [t.casefold() for t in texts]
    hits = sum(any(all(s.casefold() in t for s in needle) for t in low) for needle in sample.needles)
    return hits / len(sample.needles) if sample.needles else 0.0


def chunk_text(text: str, tok: Tokenizer, max_tokens: int) -> list[str]:
    """Sentences of `text` in order (a sentence over `max_tokens` is cut into pieces), each
    distinct chunk once, at its last occurrence (later text wins, as later notes do)."""
    last: dict[str, int] = {}
    for i, s in enumerate(_SENTENCE_END.split(text)):
        s = s.strip()
        if s:
            last.pop(s, None)
            last[s] = i
    out: list[str] = []
    for s in last:  # dict order = order of last occurrence
        ids = tok.encode_text(s)
        if len(ids) <= max_tokens:
            out.append(s)
        else:
            out += [p for p in (tok.decode(ids[j:j + max_tokens]).strip() for j in range(0, len(ids), max_tokens)) if p]
    return out


def tail_text(text: str, tok: Tokenizer, n_tokens: int) -> str:
    """About the last `n_tokens` tokens of `text` (encodes only its end)."""
    chars = text[-n_tokens * 12:]
    ids = tok.encode_text(chars)
    return text if len(chars) == len(text) and len(ids) <= n_tokens else tok.decode(ids[-n_tokens:])


def run_method(method: str, sample: Sample, setup: Setup) -> dict[str, Any]:
    """Put `sample` through `method`; returns the measured fields of its result record."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    bot = setup.bot(memory=method in ("rag", "notes"))
    written: list[Note] = []
    bot.on_note(written.append)
    try:
        t0 = time.perf_counter()
        read = _converse(method, sample, setup, bot, written) if sample.is_chat else _read(method, sample, setup, bot)
        t1 = time.perf_counter()
        answer = bot.ask(sample.question, max_new_tokens=sample.answer_tokens)
        t2 = time.perf_counter()
        injected = [n.text for n in bot.injected]
        memory_items = len(bot.memory) if method in ("rag", "notes") else None
    finally:
        bot.close()
    return {
        "correct": score(answer, sample.expected, last_sentence=sample.task.startswith("qa")),
        "answer": answer,
        "notes_written": len(written),
        "retrieval_hit": needles_hit(sample, injected) if method in ("rag", "notes") else None,
        "injected": injected,
        "memory_items": memory_items,
        "read_seconds": round(t1 - t0, 4),
        "answer_seconds": round(t2 - t1, 4),
        **read,
    }


def _read(method: str, sample: Sample, setup: Setup, bot: MemGPT) -> dict[str, Any]:
    """Document tasks: what the method reads before the question; ingest figures."""
    T = setup.model.config.block_size
    if method == "notes":
        text = sample.document
    elif method == "oracle":
        text = " ".join(sample.support)
    else:
        text = tail_text(sample.document, setup.tokenizer, setup.tail_blocks * T)
    notes = bot.ingest(text)
    stats = bot.last_ingest
    if method == "rag":
        for n in notes:  # the model's own notes on the tail: a RAG baseline must not use them
            bot.memory.delete(n.id)
        cap = max(8, min(setup.chunk_tokens, (bot.engine.budget - 2) // 2))
        chunks = chunk_text(sample.document, setup.tokenizer, cap)
        bot.memory.add_many(chunks, source="user", position=list(range(len(chunks))),
                            session=setup.config.session)
    return {
        "read_tokens": stats.tokens if stats else 0,
        "ingest_tokens_per_s": round(stats.tokens_per_s, 2) if stats and stats.seconds > 0 else None,
        "ingest_seconds": round(stats.seconds, 4) if stats else 0.0,
        "ingest_forward_tokens": stats.forward_tokens if stats else 0,
    }


def _converse(method: str, sample: Sample, setup: Setup, bot: MemGPT, written: list[Note]) -> dict[str, Any]:
    """Chat: the user turns (oracle: only the asked fact's), each answered greedily."""
    turns = sample.support if method == "oracle" else sample.turns
    start = bot.engine.position
    cap = max(8, min(setup.chunk_tokens, (bot.engine.budget - 2) // 2))
    stored: dict[str, int] = {}  # rag: chunk text -> note id
    t0 = time.perf_counter()
    for msg in turns:
        mark = len(written)
        bot.chat(msg, max_new_tokens=setup.reply_tokens, temperature=0.0)
        if method == "rag":  # keep only raw user text in the store
            for n in written[mark:]:
                bot.memory.delete(n.id)
            chunks = chunk_text(msg, setup.tokenizer, cap)
            for c in chunks:  # a repeated chunk moves to its latest occurrence, as in chunk_text
                if c in stored:
                    bot.memory.delete(stored.pop(c))
            for n in bot.memory.add_many(chunks, source="user", session=setup.config.session):
                stored[n.text] = n.id
    seconds = time.perf_counter() - t0
    tokens = bot.engine.position - start
    return {
        "read_tokens": tokens,  # stream tokens the conversation took (user turns, replies, notes)
        "ingest_tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else None,
        "ingest_seconds": round(seconds, 4),
        "ingest_forward_tokens": None,
    }
