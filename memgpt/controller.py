"""The decoding controller: windows, note interception, memory re-injection, ingest.

The model never sees more than `block_size` tokens. Every window the engine builds is

    <|mem|>note\\nnote\\n...<|/mem|>   notes retrieved for the recent text, oldest first,
                                     within `mem_budget` tokens (nothing when none fit)
    recent tokens of the stream      the conversation or document so far, as many as fit

by the rules of `memgpt.window` (budget, window limit, packing), which the training corpus and
the evaluation use too.

In `chat` and `ask`, a base with a default system turn (ChatML's) gets it first in every window,
as its chat template would write it. The window is prefilled into a KV cache with one
multi-token forward; decoding then goes one token at a time. When the cache is full the window is rebuilt (re-retrieved, the oldest quarter
of it dropped, so the rebuild is amortised) and prefilled again.

Decoding is a small state machine (nanochat's RowState habit, see `_Run`): when the model samples
`<|scratch|>` the following tokens are a note; `<|/scratch|>` closes it and the engine files its
text in the note store. Notes come only from the model's own sampled tokens: nothing here
extracts facts from text or answers questions by lookup (DESIGN §1).

Decisions worth knowing:
- An unterminated note (another control token, or more than `max_note_tokens` tokens, before
  `<|/scratch|>`) is discarded: not filed, its tokens dropped from the stream, a warning logged,
  and decoding resumes from just before `<|scratch|>` with that token banned for one step (so
  greedy decoding cannot reopen the same runaway note forever). An empty note is discarded too.
- The model owns `<|scratch|>`, `<|/scratch|>` and `<|end|>`. Any other control token it samples
  (`<|mem|>`, `<|user|>`, ...) ends the turn, as does `<|end|>`/`<|endoftext|>`; the engine never
  copies controller-owned tokens into the stream.
- Notes are filed only from what the model reads (DESIGN §7). In chat, the notes the assistant
  turn writes before its reply text begins (notes about the user's message) are filed as "chat",
  and a newer chat note with a note's key supersedes it (`NoteStore.add(..., supersede=True)`);
  a `<|scratch|>` sampled once reply text has begun is refused like an over-the-bound one (the
  model's next choice taken), logged and counted in `notes_late`. `generate()` files the notes
  written while reading its prompt (as "ingest") and none in its output, where every opening is
  refused and counted the same way.
- `ask()` reads the stream but does not change it and files no notes, so a benchmark can ask many
  questions about one reading.
- Retrieval queries: `ask` uses the question; `chat` the user message plus the last
  `query_tokens` tokens before it; `generate` the last `query_tokens` tokens of the stream
  (re-read at every window rebuild). The block takes the best-scoring notes that fit the budget,
  near-ties (within `tie_margin`) going to the more recent note, no text twice.
- `ingest()` reads a document as B parallel contiguous streams with batched full-window forwards
  (no `<|mem|>` block: notes are written from the text itself); work per token is flat in the
  document length. Its notes are filed at the end in document order, so store chronology is
  reading order. `generate()` reads its prompt the same way, so facts in a prompt get notes.
- `max_new_tokens` bounds every sampled token, notes included, so the work of a call is bounded.
- Notes are bounded whatever the model does. A note is cut at `max_note_tokens` in every path
  (decoding and ingest). A chat turn (or a generation) files at most `max_notes_per_turn` notes:
  past that, a sampled `<|scratch|>` is refused and the model's next choice taken instead. Ingest
  opens at most `max_notes_per_1k` notes, and of those at most `max_failed_notes_per_1k` that came
  to nothing (unterminated or empty), in any 1000 consecutive document tokens: past that, the
  model's openings are read as plain text. Each opening costs a window and a note's decode, so
  this bounds ingest's work per token (a model that opened a note at every token and never
  closed it cost ~200 positions per token, 1.1 normally). Refused openings are counted
  (`notes_dropped`, `IngestStats.notes_dropped`) and logged once per call. The defaults sit above
  what a good model writes: RULER's niah_multikey_2 (a haystack of needles) earns ~43 notes per
  1000 tokens, bAbI qa3 14 in a 1k document, a chat turn one or two.
- `Note.position` is the note's offset in the engine's stream (chat/generate), or for ingest the
  stream offset where the document began plus the document-token offset right after the fact.
"""
from __future__ import annotations

import bisect
import codecs
import inspect
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from memgpt.memory.note import Note, note_key
from memgpt.model import KVCache, amp_context
from memgpt.tokenizer import MAX_NOTE_TOKENS, Tokenizer, clean_note
from memgpt.window import MEM_MARKERS, fit_memory, memory_budget, pack, window_limit

log = logging.getLogger("memgpt.controller")


@dataclass
class EngineConfig:
    """Knobs of the engine. Defaults suit a block of 256 tokens; token counts scale with it."""

    mem_budget: int | None = None     # tokens for the <|mem|> block, markers included; None: block_size // 2
    retrieve_k: int = 16              # notes asked of the store per retrieval
    tie_margin: float = 0.02          # scores this close are a tie: the more recent note ranks first
    min_score: float = 0.0            # notes scoring at or below this are not injected
    query_tokens: int = 48            # recent stream tokens that form the retrieval query
    ingest_batch: int = 8             # parallel streams (batch rows) in ingest
    ingest_carry: int | None = None   # context tokens carried from one ingest window to the next; None: min(24, block_size // 4)
    note_threshold: float = 0.5       # ingest opens a note where <|scratch|> is the argmax (as greedy decoding
                                      # would) or p(<|scratch|>) > this; below 0.5 it costs a softmax per position;
                                      # above 0.5, only where p(<|scratch|>) > this (a stricter reader)
    max_note_tokens: int = MAX_NOTE_TOKENS  # longest note; capped at block_size // 2 - 2 for tiny blocks
    max_notes_per_turn: int | None = 8      # notes a chat turn (or a generation's continuation) may file; None: no bound
    max_notes_per_1k: int | None = 64       # notes ingest may open in any 1000 document tokens; None: no bound
    max_failed_notes_per_1k: int | None = 4  # of those, unterminated or empty ones (a runaway costs the most)
    session: str = "default"          # notebook that notes are filed in and retrieved from
    seed: int = 0                     # seed of the sampling generator
    device: str | None = None         # None: the model's device
    dtype: str | None = None          # autocast dtype; None: bfloat16 on cuda, float32 elsewhere
    audit: bool = False               # keep (sampled token ids, Note) of every filed note in Engine.audit

    def memory_budget(self, block_size: int) -> int:
        """Tokens of the `<|mem|>` block, markers included (`memgpt.window.memory_budget`)."""
        return memory_budget(block_size, self.mem_budget)


@dataclass
class WindowInfo:
    """What the model saw in the last window (for "memory used" displays and a window gauge)."""

    notes: list[Note]   # notes injected in the <|mem|> block at the last (re)build, oldest first
    mem_tokens: int     # tokens of the <|mem|> block
    tokens: int         # positions of the window in use (memory + recent + generated)
    block_size: int

    @property
    def fill(self) -> float:
        """Fraction of the block in use."""
        return self.tokens / self.block_size


@dataclass
class IngestStats:
    """Figures of the last `ingest` call."""

    tokens: int
    notes: int
    seconds: float
    forward_tokens: int  # token positions run through the model (work done)
    notes_dropped: int = 0  # note openings refused by the bounds (`max_notes_per_1k`, `max_failed_notes_per_1k`)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Run:
    """State of one decoding run (nanochat's RowState): the stream it extends and its open note."""

    stream: list[int]             # token ids the run appends to (the engine's history, or a copy for ask)
    query: Callable[[], str]      # retrieval query for the next window
    source: str | None            # note source to file under; None: intercept notes but file nothing
    prefix: Sequence[int] = ()    # fixed start of every window (a chat's system turn)
    note_start: int = -1          # stream index of the open <|scratch|>; -1: no note open
    note_pos: int = 0             # cache position before <|scratch|> (to rewind on discard)
    note_epoch: int = -1          # window epoch when the note opened (a rebuild forbids the rewind)
    note_logits: torch.Tensor | None = None  # logits that produced <|scratch|> (to resume from)
    stop: int | None = None       # the control token that ended the run, if one did
    filed: list[Note] = field(default_factory=list)
    dropped: int = 0              # <|scratch|> samples refused by `max_notes_per_turn`
    notes_until_text: bool = False  # refuse notes once the run's text has begun (chat: notes are about what was read)
    text_begun: bool = False      # a visible non-whitespace token was sampled (generate: its whole output is text)
    late: int = 0                 # <|scratch|> samples refused because the text had begun


@dataclass
class _Stream:
    """One contiguous segment of a document being ingested."""

    cursor: int       # next document token to read
    stop: int         # end of the segment
    tail: list[int]   # the most recent tokens of this stream (document and notes), at most 2 blocks


NOTE_SPAN = 1000  # document tokens over which ingest's note bounds count
HEAD_CHUNK = 1024  # positions whose logits exist at once while reading (49k vocabulary: 200 MB)


@dataclass
class _NoteBounds:
    """Document offsets where one ingest opened notes (all of them; those that failed), sorted."""

    opened: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dropped: int = 0


def fits(marks: Sequence[int], p: int, cap: int | None, span: int = NOTE_SPAN) -> bool:
    """Whether one more mark at `p` keeps every `span` consecutive positions at `cap` marks or
    fewer (`marks` sorted). Streams mark out of document order, so both sides of `p` count."""
    if cap is None:
        return True
    near = list(marks[bisect.bisect_right(marks, p - span):bisect.bisect_left(marks, p + span)])
    bisect.insort(near, p)
    for i, a in enumerate(near):  # the fullest span holding p starts at one of these marks
        if a > p:
            break
        if bisect.bisect_left(near, a + span) - i > cap:
            return False
    return True


def rank_hits(hits: Sequence[tuple[Note, float]], margin: float) -> list[tuple[Note, float]]:
    """Best first; scores within `margin` of a group's best are a tie, ordered most recent first
    (state tracking: when two notes match equally, the latest one wins the budget)."""
    hits = sorted(hits, key=lambda h: -h[1])
    out: list[tuple[Note, float]] = []
    i = 0
    while i < len(hits):
        j = i
        while j < len(hits) and hits[i][1] - hits[j][1] <= margin:
            j += 1
        out += sorted(hits[i:j], key=lambda h: (h[0].created_at, h[0].id), reverse=True)
        i = j
    return out


def _last(xs: list[int], n: int) -> list[int]:
    """The last n items (none for n <= 0; xs[-0:] would be all of them)."""
    return xs[-n:] if n > 0 else []


class Engine:
    """Runs a GPT over a stream with an external note store (see the module docstring).

    Args:
        model: a `GPT` (or anything with its `forward(idx, cache=...)` and `.config`).
        tokenizer: the model's `Tokenizer`.
        store: a `NoteStore` (add/add_many, search).
        config: an `EngineConfig`.

    Attributes a UI may read: `window` (WindowInfo of the last window), `note_listeners`
    (callables run with each filed Note), `last_ingest` (IngestStats), `history` (stream tail).
    Not thread-safe: one engine per conversation.
    """

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, store, config: EngineConfig | None = None):
        self.model, self.tok, self.store = model, tokenizer, store
        self.cfg = cfg = config or EngineConfig()
        self.T = T = model.config.block_size
        self.budget = cfg.memory_budget(T)  # checked against the window limit there
        # 24 carried tokens hold a whole fact sentence (passkey/RULER facts are 25-29 tokens; the
        # first words carry no key), at 10% extra work for a block of 256 (T / (T - carry)).
        self.carry = min(24, T // 4) if cfg.ingest_carry is None else cfg.ingest_carry
        self.max_note = max(1, min(cfg.max_note_tokens, T // 2 - 2))
        self.limit = window_limit(T)
        if not 0 <= self.carry < T:
            raise ValueError(f"ingest_carry {self.carry} must be in [0, {T})")
        if cfg.ingest_batch < 1:
            raise ValueError("ingest_batch must be at least 1")
        for name in ("max_notes_per_turn", "max_notes_per_1k", "max_failed_notes_per_1k"):
            v = getattr(cfg, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"{name} must be None or an int >= 0, got {v!r}")
        if cfg.device is not None:
            self.device = torch.device(cfg.device)
        else:
            p = next(model.parameters(), None)
            self.device = p.device if p is not None else torch.device("cpu")
        dtype = cfg.dtype or ("bfloat16" if self.device.type == "cuda" else "float32")
        self._amp = lambda: amp_context(self.device.type, dtype)
        self.controls = tokenizer.control_ids
        self._last_only = "last_only" in inspect.signature(model.forward).parameters
        # a model with `hidden` and a separate `lm_head` (memgpt.model.GPT): ingest applies the head in chunks
        self._chunked_head = callable(getattr(model, "hidden", None)) and isinstance(getattr(model, "lm_head", None), nn.Module)
        self._invalid = torch.zeros(model.config.vocab_size, dtype=torch.bool)
        self._invalid[tokenizer.n_vocab:] = True  # padded vocabulary rows: never a real token
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.cache = KVCache(model.config, 1, self.device)
        self.history: list[int] = []   # tail of the stream (conversation/document so far, notes included)
        self._base = 0                 # stream offset of history[0]
        self._epoch = 0                # bumped at every window (re)build
        self._busy = False
        self.window = WindowInfo([], 0, 0, T)
        self.note_listeners: list[Callable[[Note], None]] = []
        self.audit: list[tuple[tuple[int, ...], Note]] = []
        self.last_ingest: IngestStats | None = None
        self.forward_tokens = 0        # token positions run through the model, ever
        self.notes_dropped = 0         # note openings refused by the bounds on notes, ever
        self.notes_late = 0            # note openings refused after reply text began (or in generate's output), ever

    # ---- public ------------------------------------------------------------------------
    @property
    def position(self) -> int:
        """Tokens in the stream so far (document, conversation and notes)."""
        return self._base + len(self.history)

    def reset(self) -> None:
        """Forget the window and the stream; keep the notes (and the stream offset)."""
        with self._exclusive():
            self._base += len(self.history)
            self.history = []
            self.cache.reset()
            self.window = WindowInfo([], 0, 0, self.T)

    def ingest(self, text: str, progress: bool = False) -> list[Note]:
        """Read `text` (any length) and return the notes the model wrote, in document order."""
        ids = self.tok.encode_text(text)
        with self._exclusive():
            notes = self._read(ids, progress)
            self._finish()
        return notes

    def ask(self, question: str, max_new_tokens: int = 32) -> str:
        """Greedy answer from retrieved notes + the recent stream. Changes neither the stream
        nor the store (notes written while answering are left out of the answer, not filed)."""
        prompt = self.tok.render_prompt_for_reply(question)
        with self._exclusive():
            run = _Run(_last(self.history, self.T) + prompt, query=lambda: question, source=None,
                       prefix=self.tok.system_prefix)
            ids = list(self._decode(run, max_new_tokens, 0.0, None))
            if run.note_start >= 0:
                self._abandon_note(run, "answer ended inside a note", resume=False)
            self._finish()
        return self.tok.decode(ids).strip()

    def chat(self, message: str, max_new_tokens: int = 256, temperature: float = 0.7,
             top_k: int | None = 50, seed: int | None = None) -> str:
        """One chat turn; returns the reply without note markup. See `chat_stream`."""
        return "".join(self.chat_stream(message, max_new_tokens, temperature, top_k, seed))

    def chat_stream(self, message: str, max_new_tokens: int = 256, temperature: float = 0.7,
                    top_k: int | None = 50, seed: int | None = None) -> Iterator[str]:
        """One chat turn, yielding reply text as it is decoded (complete UTF-8 only).
        The user turn and the reply (notes included) join the stream; the notes written before
        the reply text are filed as "chat" (superseding older chat notes on their keys); one
        opened after the reply text began is refused (`notes_late`).
        The turn is closed with <|end|> even when the iterator is abandoned early."""
        user = self.tok.render_prompt_for_reply(message)
        return self._chat(message, user, max_new_tokens, temperature, top_k, seed)

    def generate(self, prompt: str, max_new_tokens: int = 128, temperature: float = 0.8,
                 top_k: int | None = 50, seed: int | None = None) -> str:
        """Continue `prompt`; returns the continuation without note markup. See `generate_stream`."""
        return "".join(self.generate_stream(prompt, max_new_tokens, temperature, top_k, seed))

    def generate_stream(self, prompt: str, max_new_tokens: int = 128, temperature: float = 0.8,
                        top_k: int | None = 50, seed: int | None = None) -> Iterator[str]:
        """Read `prompt` as document text (like `ingest`, so facts in it get notes, filed as
        "ingest"), then continue it with memory injection, yielding text pieces. The continuation
        is the model's own output: a note opened in it is refused (`notes_late`), not filed."""
        ids = self.tok.encode_text(prompt)
        return self._generate(ids, max_new_tokens, temperature, top_k, seed)

    # ---- turns ---------------------------------------------------------------------------
    def _chat(self, message: str, user: list[int], max_new_tokens: int, temperature: float,
              top_k: int | None, seed: int | None) -> Iterator[str]:
        with self._exclusive():
            self._reseed(seed)
            query = f"{message} {self._recent_text()}"  # the message, plus a little recent context
            self.history += user
            run = _Run(self.history, query=lambda: query, source="chat", prefix=self.tok.system_prefix,
                       notes_until_text=True)
            try:
                yield from self._texts(self._decode(run, max_new_tokens, temperature, top_k))
            finally:
                if run.note_start >= 0:
                    self._abandon_note(run, "reply ended inside a note", resume=False)
                self._report_dropped(run)
                self.history += self.tok.turn_end  # the controller closes the turn, whatever stopped it
                self._finish()

    def _generate(self, ids: list[int], max_new_tokens: int, temperature: float,
                  top_k: int | None, seed: int | None) -> Iterator[str]:
        with self._exclusive():
            self._reseed(seed)
            self._read(ids, progress=False)
            # The continuation is the model's own text, not something it read: no note is filed.
            run = _Run(self.history, query=self._recent_text, source=None, notes_until_text=True, text_begun=True)
            try:
                yield from self._texts(self._decode(run, max_new_tokens, temperature, top_k))
            finally:
                if run.note_start >= 0:
                    self._abandon_note(run, "generation ended inside a note", resume=False)
                self._report_dropped(run)
                if run.stop == self.tok.eot:
                    self.history.append(self.tok.eot)  # a document boundary is the model's to write
                self._finish()

    @contextmanager
    def _exclusive(self):
        # Streams are lazy: two interleaved iterators would corrupt one history.
        if self._busy:
            raise RuntimeError("the engine is busy with another generation; finish or close that iterator first")
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def _reseed(self, seed: int | None) -> None:
        if seed is not None:
            self.gen.manual_seed(seed)

    def _finish(self) -> None:
        """Bound the stored stream (only the tail can reach a window) and note the fill."""
        self._trim(keep=self.T)
        self.window.tokens = self.cache.pos

    def _trim(self, keep: int) -> None:
        drop = len(self.history) - keep
        if drop > 0:
            del self.history[:drop]
            self._base += drop

    def _recent_text(self) -> str:
        ids = [t for t in _last(self.history, self.cfg.query_tokens) if t not in self.controls]
        return self.tok.decode(ids)

    def _texts(self, ids: Iterator[int]) -> Iterator[str]:
        """Token ids -> text pieces; a multi-byte character split over tokens waits until complete."""
        dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for t in ids:
            s = dec.decode(self.tok.decode_bytes([t]))
            if s:
                yield s
        s = dec.decode(b"", final=True)
        if s:
            yield s

    # ---- the decoding state machine -----------------------------------------------------
    def _decode(self, run: _Run, max_new_tokens: int, temperature: float, top_k: int | None) -> Iterator[int]:
        """Sample up to `max_new_tokens` tokens (notes included), yielding visible ones."""
        if max_new_tokens <= 0:
            return
        logits = self._prefill(run)
        ban = False
        for _ in range(max_new_tokens):
            t = self._sample(logits, temperature, top_k, ban_scratch=ban)
            ban = False
            if t == self.tok.scratch and run.note_start < 0:
                late = run.notes_until_text and run.text_begun  # not about what the model read
                if late or not self._may_open(run):  # (or the turn has filed its notes)
                    if late:
                        run.late += 1
                    else:
                        run.dropped += 1
                    t = self._sample(logits, temperature, top_k, ban_scratch=True)  # the model's next choice
            if run.note_start >= 0:  # inside a note
                if t == self.tok.scratch_end and self._close_note(run):
                    pass  # filed; <|/scratch|> is fed below
                elif t in self.controls or self._note_len(run) >= self.max_note:
                    logits = self._abandon_note(run, self._why_unterminated(t))
                    ban = True
                    continue
                else:
                    run.stream.append(t)
            elif t == self.tok.scratch:
                run.note_start, run.note_pos = len(run.stream), self.cache.pos
                run.note_epoch, run.note_logits = self._epoch, logits
                run.stream.append(t)
            elif t in self.controls:
                run.stop = t
                return
            else:
                run.stream.append(t)
                if not run.text_begun and self.tok.decode_bytes([t]).strip():
                    run.text_begun = True
                yield t
            logits = self._step(run, t)

    def _may_open(self, run: _Run) -> bool:
        """Whether the run may open another note (`max_notes_per_turn`; a run that files none may)."""
        cap = self.cfg.max_notes_per_turn
        return run.source is None or cap is None or len(run.filed) < cap

    def _report_dropped(self, run: _Run) -> None:
        if run.dropped:
            self.notes_dropped += run.dropped
            log.warning("memgpt: refused %d note(s) beyond max_notes_per_turn=%d in one turn",
                        run.dropped, self.cfg.max_notes_per_turn)
        if run.late:
            self.notes_late += run.late
            log.warning("memgpt: refused %d note(s) opened after the %s's text began (not filed: notes come "
                        "only from what the model reads)", run.late, "reply" if run.source else "generation")

    def _note_len(self, run: _Run) -> int:
        return len(run.stream) - run.note_start - 1

    def _why_unterminated(self, t: int) -> str:
        if t == self.tok.scratch_end:
            return "empty note"
        if t in self.controls:
            return f"control token {self.tok.decode([t])} inside a note"
        return f"longer than {self.max_note} tokens"

    def _close_note(self, run: _Run) -> bool:
        """`<|/scratch|>` sampled: file the note (unless this run files none). False if it is empty."""
        ids = run.stream[run.note_start + 1:]
        text = clean_note(self.tok.decode(ids))
        if not text:
            return False
        if run.source is not None:  # filing runs extend the engine's history: offsets are absolute
            pos = self._base + run.note_start
            run.filed += self._file([(pos, text, [self.tok.scratch, *ids, self.tok.scratch_end])], run.source,
                                    run.filed)
        run.stream.append(self.tok.scratch_end)
        run.note_start = -1
        return True

    def _abandon_note(self, run: _Run, reason: str, resume: bool = True) -> torch.Tensor | None:
        """Discard the open note; with `resume`, return logits from just before its <|scratch|>."""
        text = self.tok.decode(run.stream[run.note_start + 1:])
        log.warning("memgpt: discarded an unterminated note (%s): %r", reason, text[:80])
        del run.stream[run.note_start:]
        run.note_start = -1
        if not resume:
            return None
        if self._epoch == run.note_epoch:
            self.cache.rewind(run.note_pos)
            return run.note_logits
        return self._prefill(run)  # the window slid meanwhile: rebuild it without the note

    def _step(self, run: _Run, t: int) -> torch.Tensor:
        """Feed token t (already in the stream); slide the window when the cache is full."""
        if self.cache.pos >= self.T:
            if run.note_start < 0 and run.stream is self.history and len(self.history) > 4 * self.T:
                self._trim(keep=self.T)  # a long generation keeps a bounded stream
            return self._prefill(run)
        x = torch.tensor([[t]], dtype=torch.long, device=self.device)
        logits = self._forward(x, self.cache)[0, -1]
        self.window.tokens = self.cache.pos  # live, for window gauges
        return logits

    def _prefill(self, run: _Run) -> torch.Tensor:
        """Build the window (memory block + recent stream) and prefill it; logits of its last position."""
        mem_ids, notes = self._memory(run.query())
        window = [*run.prefix, *pack(mem_ids, run.stream, (), self.limit - len(run.prefix))]
        if not window:
            window = [self.tok.eot]  # nothing to condition on: start as at a document boundary
        self.cache.reset()
        x = torch.tensor([window], dtype=torch.long, device=self.device)
        logits = self._forward(x, self.cache, last_only=True)[0, -1]
        self._epoch += 1
        self.window = WindowInfo(notes, len(mem_ids), len(window), self.T)
        return logits

    def _memory(self, query: str) -> tuple[list[int], list[Note]]:
        """The <|mem|> block for `query`: best notes first (ties to the recent), deduplicated by
        text, within the token budget, rendered oldest first."""
        if self.budget <= MEM_MARKERS or not query.strip():
            return [], []
        hits = [h for h in self.store.search(query, k=self.cfg.retrieve_k, session=self.cfg.session)
                if h[1] > self.cfg.min_score]
        return fit_memory(self.tok, [n for n, _ in rank_hits(hits, self.cfg.tie_margin)], self.budget,
                          text=lambda n: n.text, chrono=lambda n: (n.created_at, n.id))

    def _sample(self, logits: torch.Tensor, temperature: float, top_k: int | None, ban_scratch: bool = False) -> int:
        x = logits.detach().float().cpu().clone()
        x[self._invalid] = -math.inf
        if ban_scratch:
            x[self.tok.scratch] = -math.inf
        if temperature <= 0:
            return int(x.argmax())
        x = x / temperature
        if top_k and top_k < x.numel():
            kth = torch.topk(x, top_k).values[-1]
            x[x < kth] = -math.inf
        return int(torch.multinomial(torch.softmax(x, -1), 1, generator=self.gen))

    def _forward(self, x: torch.Tensor, cache: KVCache | None, last_only: bool = False) -> torch.Tensor:
        """Logits (B, t, vocab), or with `last_only` (B, 1, vocab) where the model can skip the rest."""
        self.forward_tokens += x.numel()
        with torch.no_grad(), self._amp():
            if last_only and self._last_only:
                return self.model(x, cache=cache, last_only=True)[0]
            return self.model(x, cache=cache)[0]

    def _file(self, found: list[tuple[int, str, list[int]]], source: str, turn: Sequence[Note] = ()) -> list[Note]:
        """File notes (position, text, sampled ids) in one store transaction when possible.
        `turn`: the notes this chat turn has filed already."""
        if not found:
            return []
        texts = [text for _, text, _ in found]
        positions = [pos for pos, _, _ in found]
        # A conversation's newer note on a key replaces the older one; a reader's notes never do,
        # and neither do notes of one turn: "I speak Punjabi, Russian and Irish" may come as three
        # notes on one key, all current (an update is said in a later message).
        same_turn = {n.key for n in turn} - {None}
        supersede = source == "chat" and not any(note_key(t) in same_turn for t in texts)
        kw = {"supersede": True} if supersede else {}
        add_many = getattr(self.store, "add_many", None)
        if add_many is not None:
            notes = add_many(texts, source=source, position=positions, session=self.cfg.session, **kw)
        else:
            notes = [self.store.add(t, source=source, position=p, session=self.cfg.session, **kw)
                     for t, p in zip(texts, positions)]
        for note, (_, _, ids) in zip(notes, found):
            if self.cfg.audit:
                self.audit.append((tuple(ids), note))
            for fn in self.note_listeners:
                fn(note)
        return notes

    # ---- ingest ------------------------------------------------------------------------
    def _read(self, ids: list[int], progress: bool) -> list[Note]:
        """Read document tokens as parallel streams; the stream continues after the document.

        Notes are filed at the end, in document order (one transaction), so the store's
        chronology is reading order even though streams read far-apart segments at once: the
        <|mem|> block is ordered by it and near-ties go to the later note. If reading is
        interrupted, the notes found so far are still filed."""
        if not ids:
            return []
        t0, work0 = time.perf_counter(), self.forward_tokens
        base = self.position
        streams = self._split(ids)
        bounds = _NoteBounds()
        found: list[tuple[int, str, list[int]]] = []  # (position, text, ids)
        try:
            with tqdm(total=len(ids), unit="tok", desc="ingest", disable=not progress, dynamic_ncols=True) as bar:
                while active := [s for s in streams if s.cursor < s.stop]:
                    found += self._read_step(ids, active, base, bar, bounds)
        finally:
            found.sort(key=lambda f: f[0])
            filed = self._file(found, "ingest")
            if bounds.dropped:
                self.notes_dropped += bounds.dropped
                log.warning("memgpt: ingest refused %d note opening(s) beyond max_notes_per_1k=%s "
                            "(max_failed_notes_per_1k=%s) in %d tokens", bounds.dropped, self.cfg.max_notes_per_1k,
                            self.cfg.max_failed_notes_per_1k, len(ids))
        self.history = _last(streams[-1].tail, self.T)
        self._base = base + len(ids) + sum(len(f[2]) for f in found) - len(self.history)
        self.last_ingest = IngestStats(len(ids), len(filed), time.perf_counter() - t0, self.forward_tokens - work0,
                                       bounds.dropped)
        return filed

    def _read_step(self, ids: list[int], active: list[_Stream], base: int, bar: tqdm,
                   bounds: _NoteBounds) -> list[tuple[int, str, list[int]]]:
        """One batched forward over every active stream's window; each stream accepts document
        tokens up to where the model would open a note (and the bounds let it), and writes that
        note there."""
        windows = [self._ingest_window(ids, s) for s in active]
        states = self._forward_windows([w for w, _ in windows])
        found = []
        for s, (w, c), opens in zip(active, windows, self._openings(states, windows)):
            j = self._admit(s, c, opens, bounds)
            end = len(w) if j < 0 else j + 1
            s.tail += w[c:end]
            s.cursor += end - c
            bar.update(end - c)
            note = self._write_note(w[:end]) if j >= 0 else None
            if j >= 0 and note is None:
                bisect.insort(bounds.failed, s.cursor)
            if note is not None:
                s.tail += note[1]  # the note follows its fact inline, as in training
                found.append((base + s.cursor, *note))
            if len(s.tail) > 2 * self.T:
                del s.tail[:-self.T]
        return found

    def _split(self, ids: list[int]) -> list[_Stream]:
        """Contiguous segments, one per stream, each at least one window of new tokens long.
        A stream starts with the tokens before its segment as context."""
        n = len(ids)
        k = max(1, min(self.cfg.ingest_batch, math.ceil(n / (self.T - self.carry))))
        seg = math.ceil(n / k)
        return [_Stream(start, min(start + seg, n), _last(self.history, self.T) if start == 0 else ids[max(0, start - self.T):start])
                for start in range(0, n, seg)]

    def _ingest_window(self, ids: list[int], s: _Stream) -> tuple[list[int], int]:
        """(window, number of carried tokens): the stream's last tokens, then new document tokens."""
        carry = _last(s.tail, self.carry)
        return carry + ids[s.cursor:min(s.cursor + self.T - len(carry), s.stop)], len(carry)

    def _forward_windows(self, windows: list[list[int]]) -> torch.Tensor:
        """One batched forward of right-padded windows (padding comes after, so it is never seen).
        No KV cache: writing one costs more (~10% on CPU) than re-prefilling the rare note context.
        Returns the final hidden states (B, L, C) where the model has a separate output head, so
        that `_openings` applies it a chunk of positions at a time (8 windows of 2048 over a 49k
        vocabulary would be 3.2 GB of logits at once), else the logits (B, L, V)."""
        L = max(len(w) for w in windows)
        x = torch.zeros(len(windows), L, dtype=torch.long)
        for i, w in enumerate(windows):
            x[i, :len(w)] = torch.tensor(w, dtype=torch.long)
        if not self._chunked_head:
            return self._forward(x.to(self.device), None)
        self.forward_tokens += x.numel()
        with torch.no_grad(), self._amp():
            return self.model.hidden(x.to(self.device))

    def _admit(self, s: _Stream, c: int, opens: list[int], bounds: _NoteBounds) -> int:
        """The first of a window's openings (`opens`, window indices; `c` carried tokens) that the
        bounds on notes admit, marked as opened; -1 if none. Refused ones are counted."""
        for j in opens:
            p = s.cursor + j + 1 - c  # document offset right after the opening token
            if fits(bounds.opened, p, self.cfg.max_notes_per_1k) and fits(bounds.failed, p, self.cfg.max_failed_notes_per_1k):
                bisect.insort(bounds.opened, p)
                return j
            bounds.dropped += 1
        return -1

    def _openings(self, states: torch.Tensor, windows: list[tuple[list[int], int]]) -> list[list[int]]:
        """Per row, the new positions after which the model would open a note, in order.
        `states`: `_forward_windows`' output (hidden states or logits)."""
        start = min(c for _, c in windows)  # carried positions were checked in the previous window
        B, L = states.size(0), states.size(1) - start
        flat = states[:, start:].reshape(B * L, -1)
        opened = torch.zeros(B * L, dtype=torch.bool, device=states.device)
        for i in range(0, B * L, HEAD_CHUNK):
            opened[i:i + HEAD_CHUNK] = self._opens(flat[i:i + HEAD_CHUNK])
        opened = opened.view(B, L)
        pos = torch.arange(start, start + L, device=states.device)
        lo = torch.tensor([c for _, c in windows], device=states.device)
        hi = torch.tensor([len(w) for w, _ in windows], device=states.device)
        opened &= (pos >= lo[:, None]) & (pos < hi[:, None])  # only new tokens, never padding
        out: list[list[int]] = [[] for _ in windows]
        for row, j in opened.nonzero().tolist():  # row-major: each row's positions in order
            out[row].append(j + start)
        return out

    def _opens(self, states: torch.Tensor) -> torch.Tensor:
        """For positions (N, C or V): would the model open a note after each (a bool per row)."""
        if self._chunked_head:
            with torch.no_grad(), self._amp():
                logits = self.model.lm_head(states)
        else:
            logits = states
        s = logits[..., self.tok.scratch].float()
        top = torch.amax(logits[..., :self.tok.n_vocab], -1).float()  # padded vocabulary rows never win
        opened = s >= top  # <|scratch|> is the argmax
        thr = self.cfg.note_threshold
        if thr > 0.5 and opened.any():  # stricter: of the argmax positions, those with p > thr
            lse = torch.logsumexp(logits[opened].float(), -1)
            opened[opened.clone()] = s[opened] - lse > math.log(thr)
        elif 0 < thr < 0.5:  # p > 0.5 implies the argmax: nothing more to check
            # p(scratch) <= exp(s - max): only where that bound passes is the full softmax needed
            # (a logsumexp over every position would cost ~20% of the forward on CPU).
            maybe = ~opened & (s - top > math.log(thr))
            if maybe.any():
                lse = torch.logsumexp(logits[maybe].float(), -1)
                opened[maybe] = s[maybe] - lse > math.log(thr)
        return opened

    def _write_note(self, context: list[int]) -> tuple[str, list[int]] | None:
        """Prefill `context`, force <|scratch|> and decode greedily to <|/scratch|>.
        Returns (text, note ids with markers), or None for an unterminated or empty note."""
        room = self.T - self.max_note - 1  # positions the context may use, leaving room for the note
        c = KVCache(self.model.config, 1, self.device)
        self._forward(torch.tensor([context[-room:]], dtype=torch.long, device=self.device), c, last_only=True)
        t, out = self.tok.scratch, []
        while True:
            logits = self._forward(torch.tensor([[t]], dtype=torch.long, device=self.device), c)[0, -1]
            t = self._sample(logits, 0.0, None)
            if t == self.tok.scratch_end:
                break
            if t in self.controls or len(out) >= self.max_note:
                log.warning("memgpt: discarded an unterminated note while reading: %r", self.tok.decode(out)[:80])
                return None
            out.append(t)
        text = clean_note(self.tok.decode(out))
        return (text, [self.tok.scratch, *out, self.tok.scratch_end]) if text else None
