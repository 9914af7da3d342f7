"""Training rows of the open-domain corpus for a pretrained ChatML base, in the engine's own windows.

`rows(tok, split, seed, block)` yields `(ids, mask)` rows of at most `block` tokens, one example
each (variable length: the trainer pads), built only through the tokenizer's renderers. Mask 0 is
context, 1 a text target, 2 a key target; the key targets of every row are exactly the notes the
model writes and the answers it gives from them. Kinds (`DEFAULT_MIX`, fractions of tokens):

- `reading`: prose of one style with document facts, each followed by its note
  (`render_reading`); now and then a `<|mem|>` block of other document notes in front, as
  `generate` windows have. No system turn: the engine reads documents without one.
- `fact_free`: a stretch of prose with no fact, all text targets (where *not* to open a note).
- `chat`: one window of a chat as the engine builds it for a turn (`memgpt.window`):
  `system_prefix + <|mem|>block + the last tokens of the conversation`, then the assistant's turn.
  The block holds, for every key told before the first whole turn of the window (earlier
  sessions' memory included), its latest note (chat notes supersede), plus notes of other facts
  the user told elsewhere; the window's recent text is the stream's tail cut at any token, as
  `pack` cuts it (a cut-off turn at its start is context). Every assistant turn in the window is
  a target: notes (key), answers to questions (key), other replies (acknowledgements, replies to
  pasted text and the base model's own small-talk replies from `smalltalk_replies.json`: text).
  The window's last turn is chosen so that most rows end with a question whose fact was told
  before the window and is answered from the block, or an update whose old note is in the block.
- `answering`: `system_prefix + <|mem|>block (needed notes among distractors) + recent prose +
  questions and answers` (an `ask` window).
- `bench_*`: the benchmark families of `training/data.py` (passkey, RULER niah_*, bAbI qa1-3,
  chat) rendered with this tokenizer, one example per row: `bench_reading` (filler with facts
  and notes), `bench_answering`, `bench_tracking`, `bench_windowed` (the answering examples of
  data.py's packed rows, split at their `<|endoftext|>` separators) and `bench_chat`; those
  asked in chat or ask windows get the system turn in front.

`split="train"` draws only trained relation types, train values, training prose and the
training small-talk prompts; `split="test"` draws the held-out relation types (`which`), test
values, the held-out prose style and the held-out prompts. Deterministic in `seed`.

    python -m memgpt.training.open_data replies        # the base's small-talk replies, once
    python -m memgpt.training.open_data stats --n 200  # token counts per kind, decoded rows
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from memgpt.tokenizer import CONTEXT, KEY, TEXT, Tokenizer
from memgpt.training.open_corpus import (SMALLTALK_PROMPTS, answering_example, chat_example, default_prose,
                                         fact_free_example, fill_replies, reading_example, smalltalk_key,
                                         smalltalk_prompts)
from memgpt.training.prose import Prose
from memgpt.training.relations import draw_fact, relations_for
from memgpt.window import fit_memory, memory_budget, window_limit

Rendered = tuple[list[int], list[int]]

DEFAULT_BLOCK = 768
DEFAULT_MIX: dict[str, float] = {
    "reading": 0.22, "fact_free": 0.14, "chat": 0.33, "answering": 0.16,
    "bench_reading": 0.04, "bench_answering": 0.04, "bench_windowed": 0.03, "bench_tracking": 0.02, "bench_chat": 0.02,
}
RETRIEVE_K = 16  # notes the engine asks of the store per window (EngineConfig.retrieve_k)

# ---------------------------------------------------------------------------------------------
# small-talk replies: the base model's own, generated once and cached

REPLIES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smalltalk_replies.json")
REPLY_MODEL = "smollm2-base"
REPLY_SETTINGS = {"temperature": 0, "max_new_tokens": 64}


def _write_json(path: str, obj: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def generate_replies(path: str = REPLIES_PATH, model: str = REPLY_MODEL, prompts: Sequence[str] = SMALLTALK_PROMPTS,
                     device: str = "cpu", log=print) -> dict:
    """The base model's greedy reply to every small-talk prompt (train and held-out), each on a
    fresh conversation (`reset()`, an empty note store), cached in `path` by
    `smalltalk_key(prompt)` with the prompt, the reply as `chat` returned it, the tokens sampled
    and whether it ended before `max_new_tokens`. Resumable: replies already in the file are
    kept; the file is rewritten after every reply."""
    import memgpt

    data: dict[str, Any] = {"model": model, "settings": dict(REPLY_SETTINGS), "replies": {}}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if old.get("model") == model and old.get("settings") == REPLY_SETTINGS:
            data["replies"] = old.get("replies", {})
    todo = [p for p in prompts if smalltalk_key(p) not in data["replies"]]
    log(f"{len(prompts) - len(todo)} replies cached, {len(todo)} to generate with {model}")
    if not todo:
        return data
    bot = memgpt.load(model, device=device)
    tok = bot.tokenizer
    t0 = time.time()
    for i, p in enumerate(todo):
        bot.reset()
        before = len(bot.engine.history)
        reply = bot.chat(p, **REPLY_SETTINGS)
        sampled = len(bot.engine.history) - before - len(tok.render_prompt_for_reply(p)) - len(tok.turn_end)
        if len(bot.memory):
            raise RuntimeError(f"the base filed notes while replying to {p!r}; its replies would not be its own")
        data["replies"][smalltalk_key(p)] = {"prompt": p, "reply": reply, "tokens": sampled,
                                            "finished": sampled < REPLY_SETTINGS["max_new_tokens"]}
        _write_json(path, data)
        log(f"[{i + 1}/{len(todo)} {time.time() - t0:.0f}s] {p!r} -> {reply!r}")
    return data


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def training_reply(entry: Mapping[str, Any]) -> str:
    """A cached reply as the corpus uses it: stripped; one cut off by `max_new_tokens` ends at
    its last complete sentence (so the model does not learn to stop mid-sentence), if it has one."""
    reply = entry["reply"].strip()
    if not entry.get("finished", True):
        ends = [m.end() for m in _SENTENCE_END.finditer(reply)]
        if ends:
            reply = reply[:ends[-1]]
    return reply


# the base's replies that disown the conversation ("I'm sorry for your loss ... I'm a chatbot" to
# "My phone battery died"; "as a chatbot, I don't ..."): 22 of the 209 cached; training on them
# taught that voice, misplaced, to replies to statements
_DISOWNING = re.compile(r"as an ai\b|as a chatbot|i'?m a chatbot|i am a chatbot|i'?m an ai\b|i am an ai\b|"
                        r"language model|sorry for your loss|not a substitute for", re.I)


def usable_reply(reply: str) -> bool:
    """A cached small-talk reply the corpus may train on: not empty, and not one that disowns the
    conversation (an AI disclaimer, condolences for a flat battery)."""
    return bool(reply.strip()) and not _DISOWNING.search(reply)


@functools.lru_cache(maxsize=4)
def load_replies(path: str = REPLIES_PATH) -> dict[str, str]:
    """key -> the reply the corpus trains on (`training_reply`), from the cache file."""
    with open(path) as f:
        data = json.load(f)
    return {k: training_reply(v) for k, v in data["replies"].items()}


# ---------------------------------------------------------------------------------------------
# rows


@dataclass
class Row:
    """One training row and what it holds (for checks and the stats command)."""
    ids: list[int]
    mask: list[int]
    kind: str
    info: dict = field(default_factory=dict)


@dataclass
class Context:
    """What row generators share within a process: the tokenizer, the split, the block, the
    prose, the small-talk replies and the relation types drawn."""
    tok: Tokenizer
    split: str
    block: int
    prose: Prose
    replies: Mapping[str, str]
    relations: tuple
    user_rels: tuple
    doc_rels: tuple
    prompts: tuple = ()  # small-talk prompts with a usable reply


def _assistant(tok: Tokenizer, reply: str, notes: Sequence[str], answer: bool) -> Rendered:
    """The assistant's turn: notes (key), then the reply: key when it answers a question from
    the notes or the window, text otherwise (acknowledgements, small talk) but for its first token."""
    ids, mask = tok.render_assistant(reply, notes)
    if answer:
        return ids, mask
    start = len(tok.assistant_prefix) + sum(len(tok.render_note(n)[0]) for n in notes)
    # the reply's first token is where the model decides "no (more) notes": a key target always
    return ids, mask[:start + 1] + [TEXT if m == KEY else m for m in mask[start + 1:]]


def _cut_reading(ids: list[int], mask: list[int], limit: int, tok: Tokenizer) -> Rendered:
    """The first `limit` tokens, not ending inside a note (a note cut off is left out whole)."""
    if len(ids) <= limit:
        return ids, mask
    ids, mask = ids[:limit], mask[:limit]
    if tok.scratch in ids:
        last_open = len(ids) - 1 - ids[::-1].index(tok.scratch)
        if tok.scratch_end not in ids[last_open:]:
            ids, mask = ids[:last_open], mask[:last_open]
    return ids, mask


def _doc_notes(ctx: Context, rng: random.Random, n: int, avoid: set[str]) -> list[str]:
    out = []
    for _ in range(4 * n):
        if len(out) >= n or not ctx.doc_rels:
            break
        f = draw_fact(rng, ctx.split, relations=ctx.doc_rels)
        if f.key not in avoid:
            avoid.add(f.key)
            out.append(f.note)
    return out


def reading_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """Prose with document facts and their notes; sometimes (a `generate` window) a block of
    other documents' notes in front."""
    tok, block = ctx.tok, ctx.block
    ex = reading_example(rng, ctx.split, ctx.prose, ctx.doc_rels, n_chars=(2 * block, 4 * block))
    mem: Rendered = ([], [])
    if rng.random() < 0.15:
        keys = {f["key"] for f in ex["facts"]}
        mem = tok.render_memory(_doc_notes(ctx, rng, rng.randint(1, 8), keys))
    ids, mask = tok.render_reading(ex["segments"])
    ids, mask = _cut_reading(ids, mask, block - len(mem[0]), tok)
    notes = [n for _, n in ex["segments"] if n is not None]
    return [Row(mem[0] + ids, mem[1] + mask, "reading",
                {"style": ex["style"], "notes": notes, "block": len(mem[0]), "facts": ex["facts"]})]


def fact_free_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """A stretch of prose with no fact: text targets only, from the start of a passage or (as an
    ingest window) from anywhere in it."""
    block = ctx.block
    ex = fact_free_example(rng, ctx.split, ctx.prose, n_chars=(3 * block, 5 * block))
    ids, mask = ctx.tok.render_reading(ex["segments"])
    start = rng.randint(0, len(ids) - block) if len(ids) > block and rng.random() < 0.5 else 0
    return [Row(ids[start:start + block], mask[start:start + block], "fact_free", {"style": ex["style"]})]


@dataclass
class _Pair:
    """One user turn and the assistant's, rendered."""
    user: Rendered
    assistant: Rendered
    notes: list[str]
    asks: str | None       # the key a question asks (None: not a question)
    kind: str              # "question", "unknown", "facts", "update", "smalltalk", "paste"


def _pairs(ctx: Context, ex: dict) -> list[_Pair]:
    """The chat's turns, rendered, one pair per user turn (`chat_example` makes exactly one)."""
    tok = ctx.tok
    turns = ex["turns"]
    out = []
    for t, (u, a) in enumerate(zip(turns[::2], turns[1::2])):
        told = [f for f in ex["facts"] if f["turn"] == t]
        asks = a.get("asks")
        if asks is not None:
            kind = "question" if any(f["key"] == asks and f["turn"] < t for f in ex["facts"]) else "unknown"
        elif a.get("reply_key") is not None:
            kind = "smalltalk"
        elif any(f["source"] == "paste" for f in told) or not told:
            kind = "paste"
        else:
            kind = "update" if any(f["update"] for f in told) else "facts"
        notes = list(a.get("notes", ()))
        out.append(_Pair(tok.render_user(u["content"]), _assistant(tok, a["content"], notes, asks is not None),
                         notes, asks, kind))
    return out


def _block_at(ctx: Context, ex: dict, pairs: list[_Pair], s: int, e: int, distract: list[str]) -> tuple[list[int], list[str], list[str]]:
    """The `<|mem|>` block of a window whose first whole turn is `s` and last is `e`: the latest
    note of every key told before turn `s` (earlier sessions' memory first), and distractors,
    at most `RETRIEVE_K` notes within the memory budget; the notes that the window's questions
    need come first. Returns (ids, notes in the block, needed notes)."""
    latest: dict[str, tuple[int, int, str]] = {}  # key -> (turn, order, note)
    for order, f in enumerate(ex["facts"]):
        if f["turn"] < s:
            latest[f["key"]] = (f["turn"], order, f["note"])
    asked = {p.asks for p in pairs[s:e + 1] if p.kind == "question"}
    told_inside = {f["key"] for f in ex["facts"] if s <= f["turn"] <= e}
    needed, others = [], []
    for key, (turn, order, note) in latest.items():
        # needed: asked in the window before being told again there (or asked and never retold)
        (needed if key in asked else others).append((turn, order, note))
    updated = [x for x in others if x[2].split(": ", 1)[0] in told_inside]
    rest = [x for x in others if x not in updated]
    ranked = sorted(needed) + sorted(updated) + sorted(rest, reverse=True)  # the more recent first
    ranked += [(-2, -len(distract) + i, n) for i, n in enumerate(distract)]
    ranked = ranked[:RETRIEVE_K]
    ids, chosen = fit_memory(ctx.tok, ranked, memory_budget(ctx.block), text=lambda x: x[2], chrono=lambda x: x[:2])
    return ids, [x[2] for x in chosen], [x[2] for x in needed]


def _window(ctx: Context, ex: dict, pairs: list[_Pair], e: int, distract: list[str]) -> dict | None:
    """The engine's window for turn `e`: system turn, block, the stream's tail that fits
    `window_limit(block)` positions up to the assistant's prefix; then the assistant's turn
    (decoded). None when turn `e` does not fit."""
    tok = ctx.tok
    sys_ids = tok.system_prefix
    limit = window_limit(ctx.block)
    starts, stream, smask = [], [], []
    for p in pairs[:e]:
        starts.append(len(stream))
        stream += p.user[0] + p.assistant[0]
        smask += p.user[1] + p.assistant[1]
    starts.append(len(stream))
    stream += pairs[e].user[0]
    smask += pairs[e].user[1]
    npre = len(tok.assistant_prefix)
    tail_ids, tail_mask = pairs[e].assistant[0][npre:], pairs[e].assistant[1][npre:]
    stream += pairs[e].assistant[0][:npre]
    smask += pairs[e].assistant[1][:npre]
    s, mem, notes, needed = 0, *_block_at(ctx, ex, pairs, 0, e, distract)
    while True:
        room = limit - len(sys_ids) - len(mem)
        cut = max(0, len(stream) - room)
        s_new = next((i for i, st in enumerate(starts) if st >= cut), None)
        if s_new is None:
            return None  # the last user turn alone overflows the window
        if s_new <= s:
            # a larger s can give a smaller block (its notes are ranked anew): keep the turns from
            # s whole and at most the end of the turn before, never a whole turn the block holds
            cut = max(cut, starts[s - 1] + 1) if s > 0 else cut
            break
        s = s_new
        mem, notes, needed = _block_at(ctx, ex, pairs, s, e, distract)
    if any(n not in notes for n in needed):
        return None
    recent, rmask = stream[cut:], smask[cut:]
    frag = starts[s] - cut  # a turn cut off at the window's start: context
    rmask = [CONTEXT] * frag + rmask[frag:]
    ids = sys_ids + mem + recent + tail_ids
    mask = [CONTEXT] * (len(sys_ids) + len(mem)) + rmask + tail_mask
    if len(ids) > ctx.block:
        return None
    return {"ids": ids, "mask": mask, "s": s, "e": e, "cut": cut, "block_notes": notes, "needed": needed,
            "recent_start": len(sys_ids) + len(mem), "visible": s - 1 if frag > 0 else s}


def chat_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """One window of a chat (see the module docstring)."""
    # a third of the chats are a new user's: an empty store (no block), as in the engine's first turns
    new_user = rng.random() < 0.35
    for _ in range(8):
        ex = fill_replies(chat_example(rng, ctx.split, ctx.prose, ctx.relations, prompts=ctx.prompts or None,
                                       **({"memory_facts": (0, 0)} if new_user else {})), ctx.replies)
        pairs = _pairs(ctx, ex)
        taken = {f["key"] for f in ex["facts"]} | {p.asks for p in pairs if p.asks}
        distract: list[str] = []
        k = 0 if new_user else rng.randint(0, 8)
        for _ in range(3 * k):  # other facts this user told in other sessions
            if len(distract) >= k:
                break
            f = draw_fact(rng, ctx.split, relations=ctx.user_rels if rng.random() < 0.75 else ctx.relations)
            if f.key not in taken:
                taken.add(f.key)
                distract.append(f.note)
        # Which turn ends the window: weighted by what it teaches, judged first by the widest
        # window the turn could have (no block); then the engine's window for it, exactly.
        tok, room0 = ctx.tok, window_limit(ctx.block) - len(ctx.tok.system_prefix)
        starts, total = [], 0
        for p in pairs:
            starts.append(total)
            total += len(p.user[0]) + len(p.assistant[0])
        weights = []
        for e, p in enumerate(pairs):
            end = starts[e] + len(p.user[0]) + len(tok.assistant_prefix)
            s0 = next((i for i in range(e + 1) if starts[i] >= end - room0), e + 1)  # the window starts at s0 or later
            if p.kind == "question":
                weight = 6.0 if not _told_in(ex, p.asks, s0, e) else 2.0
            elif p.kind == "update":
                weight = 3.0 if not any(_told_in(ex, n.split(": ", 1)[0], s0, e) for n in p.notes) else 1.5
            else:
                weight = 1.0
            weights.append(weight * (3.0 if new_user and s0 == 0 else 1.0))  # a new user's first turns
        w = None
        while w is None and any(weights):
            e = rng.choices(range(len(pairs)), weights=weights)[0]
            weights[e] = 0.0
            w = _window(ctx, ex, pairs, e, distract)
        if w is None:
            continue
        p = pairs[w["e"]]
        # answered from the block: its fact was told before the window, not even in a cut-off turn
        w["from_block"] = p.kind == "question" and not _told_in(ex, p.asks, w["visible"], w["e"])
        info = {"last": p.kind, "asks": p.asks, "notes": p.notes, "block_notes": w["block_notes"],
                "needed": w["needed"], "recent_start": w["recent_start"], "first_turn": w["s"], "last_turn": w["e"],
                "turns": len(pairs), "from_block": w["from_block"], "facts": ex["facts"]}
        return [Row(w["ids"], w["mask"], "chat", info)]
    return []


def _told_in(ex: dict, key: str | None, s: int, e: int) -> bool:
    return any(f["key"] == key and s <= f["turn"] < e for f in ex["facts"])


def answering_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """An `ask` window: system turn, the needed notes among distractors, recent prose, questions
    and their answers."""
    tok = ctx.tok
    ex = answering_example(rng, ctx.split, ctx.prose, ctx.relations)
    keep = {f["note"] for f in ex["facts"]}
    memory = list(ex["memory"])
    budget = memory_budget(ctx.block)
    while len(memory) > RETRIEVE_K or len(tok.render_memory(memory)[0]) > budget:
        spare = [i for i, n in enumerate(memory) if n not in keep]
        if not spare:
            return []
        del memory[rng.choice(spare)]
    mem = tok.render_memory(memory)
    qa_ids, qa_mask = tok.render_answering([], "", ex["qa"])
    ctx_ids = tok.encode_text(ex["context"])
    room = ctx.block - len(tok.system_prefix) - len(mem[0]) - len(qa_ids)
    if room < 0:
        return []
    ctx_ids = ctx_ids[len(ctx_ids) - min(room, len(ctx_ids)):]  # the recent text's tail, as `pack` cuts it
    ids = tok.system_prefix + mem[0] + ctx_ids + qa_ids
    mask = [CONTEXT] * (len(tok.system_prefix) + len(mem[0])) + [TEXT] * len(ctx_ids) + qa_mask
    return [Row(ids, mask, "answering", {"block_notes": memory, "qa": ex["qa"], "facts": ex["facts"]})]


# ---- the benchmark families (training/data.py) -------------------------------------------------

def _bench_rng(ctx: Context, rng: random.Random):
    from memgpt.synth.facts import LETTER_START_SHARE
    from memgpt.training.data import CorpusRandom, word_pieces
    return CorpusRandom(rng.getrandbits(63), word_pieces(ctx.tok), LETTER_START_SHARE)


def _split_packed(tok: Tokenizer, ids: list[int], mask: list[int]) -> list[Rendered]:
    """The examples of a packed data.py row (separated by a context `<|endoftext|>`): every one
    followed by a separator is whole; the last one is kept if it ends with a turn end (the row
    was cut after one of its answers at worst)."""
    out, start = [], 0
    for i in range(len(ids) + 1):
        if i == len(ids) or (ids[i] == tok.eot and mask[i] == CONTEXT):
            piece = ids[start:i], mask[start:i]
            if piece[0] and (i < len(ids) or piece[0][-len(tok.turn_end):] == tok.turn_end):
                out.append(piece)
            start = i + 1
    return out


def _bench_packed(kind: str, fn_name: str):
    def gen(ctx: Context, rng: random.Random) -> list[Row]:
        from memgpt.training import data
        tok = ctx.tok
        sys_ids = tok.system_prefix
        ids, mask = getattr(data, fn_name)(tok, _bench_rng(ctx, rng), ctx.block - len(sys_ids), ctx.split)
        return [Row(sys_ids + i, [CONTEXT] * len(sys_ids) + m, kind) for i, m in _split_packed(tok, ids, mask)]
    gen.__name__ = f"{kind}_rows"
    return gen


def bench_reading_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """data.py's reading row (filler with passkey, niah, chat and bAbI facts and their notes): one
    stream, no system turn."""
    from memgpt.training import data
    ids, mask = data.reading_row(ctx.tok, _bench_rng(ctx, rng), ctx.block, ctx.split)
    ids, mask = _cut_reading(ids, mask, ctx.block, ctx.tok)
    return [Row(ids, mask, "bench_reading")]


def _turn_spans(tok: Tokenizer, ids: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """(user start, user end, assistant start, assistant end) of each whole user/assistant pair:
    the user's text `ids[us:ue]`, the assistant's turn after its prefix up to and including its
    end token `ids[a0:a1]` (a1 is len(ids) for a turn cut off by the row's end)."""
    up, ap = tok.user_prefix, tok.assistant_prefix
    out, i, n = [], 0, len(ids)
    while i < n:
        if list(ids[i:i + len(up)]) != up:
            i += 1
            continue
        us = i + len(up)
        ue = next((j for j in range(us, n) if ids[j] == tok.end), n)
        a0 = ue + len(tok.turn_end)
        if ue >= n or list(ids[ue:a0]) != tok.turn_end or list(ids[a0:a0 + len(ap)]) != ap:
            break
        a0 += len(ap)
        a1 = next((j + 1 for j in range(a0, n) if ids[j] == tok.end), n)
        out.append((us, ue, a0, a1))
        i = a1
    return out


def bench_chat_rows(ctx: Context, rng: random.Random) -> list[Row]:
    """data.py's chat row (the benchmark's chat slots), after the system turn. data.py weights
    every reply as a key target; here only answers to its fact questions are, other replies
    (acknowledgements, small talk, replies to pasted text) are text targets, as in `chat`."""
    from memgpt.training import data
    tok = ctx.tok
    sys_ids = tok.system_prefix
    ids, mask = data.chat_row(tok, _bench_rng(ctx, rng), ctx.block - len(sys_ids), ctx.split)
    smalltalk = {q for q, _ in data._SMALLTALK}
    mask = list(mask)
    for us, ue, a0, a1 in _turn_spans(tok, ids):
        user = tok.decode(ids[us:ue])
        if user.rstrip().endswith("?") and user not in smalltalk:
            continue  # a question about a fact: the answer stays a key target
        inside = False
        for j in range(a0, a1):
            inside = (ids[j] == tok.scratch) or (inside and ids[j - 1] != tok.scratch_end)
            if not inside and mask[j] == KEY:
                mask[j] = TEXT
    return [Row(sys_ids + ids, [CONTEXT] * len(sys_ids) + mask, "bench_chat")]


GENERATORS = {
    "reading": reading_rows, "fact_free": fact_free_rows, "chat": chat_rows, "answering": answering_rows,
    "bench_reading": bench_reading_rows, "bench_answering": _bench_packed("bench_answering", "answering_row"),
    "bench_tracking": _bench_packed("bench_tracking", "tracking_row"),
    "bench_windowed": _bench_packed("bench_windowed", "windowed_row"), "bench_chat": bench_chat_rows,
}


def make_context(tok: Tokenizer, split: str = "train", block: int = DEFAULT_BLOCK, prose: Prose | None = None,
                 replies: Mapping[str, str] | None = None, which: str | None = None) -> Context:
    """`which`: the relation types drawn ("trained" for train; "heldout" by default for test)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if tok.chat != "chatml":
        raise ValueError("open-domain rows are for a ChatML base's tokenizer (tok.chat == 'chatml')")
    if block < 128:
        raise ValueError(f"block {block} is too small for a chat window")
    which = which or ("trained" if split == "train" else "heldout")
    rels = relations_for(split, which)
    replies = {k: v for k, v in (replies if replies is not None else load_replies()).items() if usable_reply(v)}
    prompts = tuple(p for p in smalltalk_prompts(split) if smalltalk_key(p) in replies)
    return Context(tok, split, block, prose or default_prose(split), replies,
                   rels, tuple(r for r in rels if r.is_user), tuple(r for r in rels if not r.is_user), prompts)


def rows(tok: Tokenizer, split: str = "train", seed: int = 0, block: int = DEFAULT_BLOCK,
         mix: Mapping[str, float] | None = None, prose: Prose | None = None, replies: Mapping[str, str] | None = None,
         which: str | None = None, n: int | None = None, detail: bool = False) -> Iterator:
    """Rows `(ids, mask)` (or `Row`s with `detail`), at most `block` tokens each, forever (or `n`).

    Kinds are drawn so that each one's share of the *tokens* approaches `mix` (weights: share
    over the kind's mean tokens per draw so far; a packed benchmark row gives several rows). Row group i is drawn from its own rng
    (`random.Random(f"{seed}:{split}:{i}")`), so the stream is deterministic in the seed."""
    mix = dict(DEFAULT_MIX if mix is None else mix)
    unknown = [k for k in mix if k not in GENERATORS]
    if unknown or not mix or sum(mix.values()) <= 0 or any(v < 0 for v in mix.values()):
        raise ValueError(f"a mix maps kinds ({', '.join(GENERATORS)}) to weights >= 0; got {mix}")
    ctx = make_context(tok, split, block, prose, replies, which)
    kinds = [k for k, v in mix.items() if v > 0]
    tokens = {k: 0 for k in kinds}
    counts = {k: 0 for k in kinds}
    made = 0
    i = 0
    while n is None or made < n:
        rng = random.Random(f"{seed}:{split}:{i}")
        i += 1
        weights = [mix[k] * (counts[k] + 1) / (tokens[k] + block / 2) for k in kinds]  # a smoothed mean
        kind = rng.choices(kinds, weights=weights)[0]
        group = GENERATORS[kind](ctx, rng)  # one example, or several (the packed benchmark rows)
        counts[kind] += 1
        tokens[kind] += sum(len(r.ids) for r in group)
        for row in group:
            assert len(row.ids) == len(row.mask) <= block, (kind, len(row.ids))
            yield row if detail else (row.ids, row.mask)
            made += 1
            if n is not None and made >= n:
                return


# ---------------------------------------------------------------------------------------------
# stats


def show(tok: Tokenizer, ids: Sequence[int], mask: Sequence[int]) -> str:
    """A row decoded for reading: ⟦key targets⟧, ⟨text targets⟩, context plain."""
    out, i = [], 0
    marks = {KEY: ("⟦", "⟧"), TEXT: ("⟨", "⟩"), CONTEXT: ("", "")}
    while i < len(ids):
        j = i
        while j < len(ids) and mask[j] == mask[i]:
            j += 1
        a, b = marks[mask[i]]
        out.append(a + tok.decode(ids[i:j]) + b)
        i = j
    return "".join(out)


def stats(tok: Tokenizer, n: int = 200, split: str = "train", seed: int = 0, block: int = DEFAULT_BLOCK,
          mix: Mapping[str, float] | None = None, shown: int = 2, out=print, **kw) -> dict:
    """Rows, tokens, text and key targets per kind of `n` rows, generation speed, and `shown`
    decoded rows per kind."""
    mix = dict(DEFAULT_MIX if mix is None else mix)
    per: dict[str, dict[str, int]] = {}
    examples: dict[str, list[Row]] = {}
    t0 = time.time()
    ctx = make_context(tok, split, block, **{k: v for k, v in kw.items() if k in ("prose", "replies", "which")})
    for style in ctx.prose.styles:  # loaded once per process (what a trainer pays once)
        ctx.prose.paragraphs(style)
    if any(k.startswith("bench_") and v > 0 for k, v in mix.items()):
        from memgpt.training.data import word_pieces
        word_pieces(tok)
    loading = time.time() - t0
    t1 = time.time()
    for row in rows(tok, split, seed, block, mix, n=n, detail=True, **kw):
        d = per.setdefault(row.kind, {"rows": 0, "tokens": 0, "text": 0, "key": 0})
        d["rows"] += 1
        d["tokens"] += len(row.ids)
        d["text"] += row.mask.count(TEXT)
        d["key"] += row.mask.count(KEY)
        ex = examples.setdefault(row.kind, [])
        if len(ex) < shown:
            ex.append(row)
    dt = time.time() - t1
    total = sum(d["tokens"] for d in per.values())
    out(f"{n} rows, split {split}, block {block}, seed {seed}: {total} tokens in {dt:.1f}s "
        f"({total / max(dt, 1e-9):.0f} tokens/s), after {loading:.1f}s loading the prose once")
    out(f"{'kind':16} {'mix':>5} {'rows':>5} {'tokens':>8} {'share':>6} {'mean':>5} {'text':>7} {'key':>6}")
    for k in mix:
        d = per.get(k, {"rows": 0, "tokens": 0, "text": 0, "key": 0})
        out(f"{k:16} {mix[k]:5.2f} {d['rows']:5d} {d['tokens']:8d} {d['tokens'] / max(total, 1):6.2f} "
            f"{d['tokens'] / max(d['rows'], 1):5.0f} {d['text']:7d} {d['key']:6d}")
    out("\nrows decoded: ⟦key target⟧ ⟨text target⟩ context plain")
    for k, ex in examples.items():
        for r in ex:
            extra = {x: r.info[x] for x in ("last", "asks", "from_block", "style") if x in r.info}
            out(f"\n===== {k} ({len(r.ids)} tokens) {extra if extra else ''}")
            out(show(tok, r.ids, r.mask))
    return {"tokens": total, "seconds": dt, "loading_seconds": loading, "per_kind": per}


def _tokenizer(name: str) -> Tokenizer:
    from memgpt.models import load_model
    return load_model(name, "cpu")[1]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memgpt.training.open_data", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replies", help="generate the base model's small-talk replies once (cached, resumable)")
    r.add_argument("--out", default=REPLIES_PATH)
    r.add_argument("--device", default="cpu")
    s = sub.add_parser("stats", help="token counts per kind and a few decoded rows")
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--split", default="train", choices=("train", "test"))
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    s.add_argument("--shown", type=int, default=2, help="decoded rows per kind")
    s.add_argument("--model", default=REPLY_MODEL, help="the model whose tokenizer renders the rows")
    args = ap.parse_args(argv)
    if args.cmd == "replies":
        generate_replies(args.out, device=args.device, log=lambda x: print(x, flush=True))
    else:
        stats(_tokenizer(args.model), args.n, args.split, args.seed, args.block, shown=args.shown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
