"""The window: what the model sees before it writes, built by one set of rules.

Every window the engine builds, every answering window the corpus trains on and every window
the evaluation asks in is

    <|mem|>note\\nnote\\n...<|/mem|>   notes, at most `memory_budget` tokens, markers included
    recent tokens                    the latest tokens of the stream, as many as fit
    question                         the user turn and <|assistant|>, when there is one

in at most `fill` positions: `window_limit(block_size)` for the engine (the rest of the block is
room to decode, so a rebuild is amortised), less where an answer needs more room
(`answer_fill`). The block is never cut: the recent text gives way first.

Pure: token ids and note texts in, token ids out; no torch and no model, so the corpus builder
uses these rules without importing the engine.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from memgpt.tokenizer import Tokenizer, clean_note

N = TypeVar("N")

MEM_MARKERS = 2  # <|mem|> and <|/mem|>: a budget of this or less holds no note


def window_limit(block_size: int) -> int:
    """Positions a (re)built window fills at most, memory block included: the rest of the block
    is room to decode."""
    return block_size - max(1, block_size // 4)


def memory_budget(block_size: int, mem_budget: int | None = None) -> int:
    """Tokens of the `<|mem|>` block, markers included: `mem_budget`, or half the block when None.
    It must leave the window room for recent text (below `window_limit`)."""
    budget = block_size // 2 if mem_budget is None else mem_budget
    limit = window_limit(block_size)
    if not 0 <= budget < limit:
        raise ValueError(f"mem_budget {budget} must be in [0, {limit}) for block size {block_size}")
    return budget


def answer_fill(block_size: int, answer_tokens: int, space: int | None = None) -> int:
    """Positions a window before an answer fills: at most `window_limit(block_size)`, and fewer
    where `answer_tokens` would not fit after it in `space` positions (default: the block)."""
    return min(window_limit(block_size), (block_size if space is None else space) - answer_tokens)


def recent_room(fill: int, mem_tokens: int, question_tokens: int = 0) -> int:
    """Recent tokens that fit a `fill`-position window beside the block and the question."""
    return max(0, fill - mem_tokens - question_tokens)


def pack(mem: Sequence[int], recent: Sequence[int], question: Sequence[int], fill: int) -> list[int]:
    """The window: the whole block, the last recent tokens that fit `fill` positions, the question.
    Block and question are kept whole even when they alone overflow `fill` (the caller's check)."""
    room = recent_room(fill, len(mem), len(question))
    return [*mem, *recent[max(0, len(recent) - room):], *question]


def fit_memory(tok: Tokenizer, ranked: Sequence[N], budget: int, text: Callable[[N], str] = str,
               chrono: Callable[[N], object] | None = None) -> tuple[list[int], list[N]]:
    """The `<|mem|>` block of the best notes that fit `budget` tokens.

    `ranked` is best first; a note is taken if its tokens (and a separator) still fit, so a long
    note gives way to shorter, weaker ones; no text twice; empty notes never. The block lists the
    taken notes in `chrono` order (a sort key; None: rank order). Returns (ids, notes in the
    block's order); nothing when no note fits."""
    if budget <= MEM_MARKERS:
        return [], []
    chosen: list[N] = []  # in rank order
    seen: set[str] = set()
    used = MEM_MARKERS
    for note in ranked:
        t = clean_note(text(note))
        if not t or t in seen:
            continue
        cost = len(tok.encode_text(t)) + (1 if chosen else 0)  # + the newline separator
        if used + cost > budget:
            continue
        chosen.append(note)
        seen.add(t)
        used += cost
    while chosen:
        ordered = sorted(chosen, key=chrono) if chrono is not None else list(chosen)
        ids = tok.render_memory([text(n) for n in ordered])[0]
        if len(ids) <= budget:
            return ids, ordered
        chosen.pop()  # BPE across a separator cost more than counted: drop the weakest
    return [], []
