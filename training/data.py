"""The synthetic scratchpad corpus: reading, answering and chat rows, packed densely.

The facts, notes and filler come from `memgpt.synth`, the generators the benchmarks use, drawn
from their train parts; this module weaves them into filler, `<|mem|>` blocks and chats.

Rows are exactly `block_size + 1` tokens with no padding: examples are appended until the row is
full and the last one is cut. Every sequence is built by the renderers in `memgpt.tokenizer`, the
same functions the engine uses at inference.
"""
from __future__ import annotations

import argparse
import collections
import functools
import itertools
import json
import math
import os
import random
import re
import sys
from typing import Callable, Iterator

import numpy as np

from memgpt.bench.tasks import NIAH_QUERIES, NIAH_VALUES
from memgpt.synth import filler
from memgpt.synth.facts import (CHAT_SLOTS, LETTER_START_SHARE, NO_PIECES, BabiWorld, Fact, Pieces, chat_fact, multiquery_question,
                                multiquery_reply, multivalue_question, niah_fact, niah_key, niah_note_key, passkey_fact)
from memgpt.synth.notes import any_note, distractor_notes, interleave_notes
from memgpt.tokenizer import CONTEXT, Tokenizer
from memgpt.window import answer_fill, memory_budget, pack, recent_room

# ---------------------------------------------------------------------------------------------
# the corpus rng


class CorpusRandom(random.Random):
    """The corpus generator's rng, carrying the tokenizer's word pieces (see `word_pieces`) and
    the share of piece-spelt words that start with a one-letter piece."""

    def __init__(self, seed: int, pieces: Pieces = NO_PIECES, letter_share: float = LETTER_START_SHARE):
        super().__init__(seed)
        if not 0.0 <= letter_share <= 1.0:
            raise ValueError(f"letter_share must be in [0, 1], got {letter_share}")
        self.pieces = pieces
        self.letter_share = letter_share


@functools.lru_cache(maxsize=4)
def word_pieces(tok: Tokenizer) -> Pieces:
    """The vocabulary's letter pieces: lower-case and capitalised word starts, continuations.
    A held-out word such as "garden" can be spelt with pieces no syllable generator produces; a
    piece never seen in training keeps an untrained embedding and cannot be copied. Fresh words
    spelt from these pieces make every one of them a copy target."""
    seen = _filler_counts(tok)
    lead, cont, names, lead_f, name_f = [], [], [], [], []
    for i in range(tok.n_vocab):
        if i in tok.control_ids:
            continue
        s = tok.decode_bytes([i]).decode("utf-8", "replace")
        # one-letter pieces too: held-out "amber" is " a" + "mber", and a syllable word never
        # starts with a vowel piece, so without them " a" is only ever the article
        if re.fullmatch(r" [a-z]+", s):
            lead.append(s[1:])
            lead_f.append(seen.get(i, 0.0))
        elif re.fullmatch(r"[a-z]+", s):
            cont.append(s)
        elif re.fullmatch(r" [A-Z][a-z]*", s):
            names.append(s[1:])
            name_f.append(seen.get(i, 0.0))
    return Pieces(tuple(lead), tuple(cont), tuple(names), tuple(s for s in lead if len(s) == 1),
                  tuple(s for s in names if len(s) == 1), functools.partial(_first_piece, tok),
                  _rarity_weights(lead_f), _rarity_weights(name_f))


FILLER_SAMPLE = 1000  # sentences per training filler style counted for `_rarity_weights`


@functools.lru_cache(maxsize=4)
def _filler_counts(tok: Tokenizer) -> dict[int, float]:
    """Occurrences per million tokens of each token in a fixed sample of the training filler."""
    rng, counts, n = random.Random(0), collections.Counter(), 0
    for style in filler.TRAIN_STYLES:
        ids = tok.encode_text(" ".join(filler.passage(style, rng, FILLER_SAMPLE)))
        counts.update(ids)
        n += len(ids)
    return {t: c * 1e6 / n for t, c in counts.items()}


def _rarity_weights(freqs: list[float]) -> tuple[float, ...]:
    """Cumulative draw weights 1 / (1 + f/10), f = each start's occurrences per million filler
    tokens. Drawn uniformly, each of ~1,800 starts began a fresh word a few times per million
    corpus tokens, and the 351 that the filler never holds (" gold", " bur") only then: the
    model forgot how to write them between stages ("Your favourite colour is that." for "gold").
    Weighted, those get about three times the draws; starts the filler is full of, fewer."""
    return tuple(itertools.accumulate(1.0 / (1.0 + f / 10.0) for f in freqs))


def _first_piece(tok: Tokenizer, word: str) -> str:
    """The text of the first token the tokenizer cuts " " + word into, without the space."""
    return tok.decode_bytes(tok.encode_text(" " + word)[:1]).decode("utf-8", "replace")[1:]


def _babi_case(rng: random.Random, w: BabiWorld, kinds: str, events: tuple[int, int],
               questions: tuple[int, int]) -> tuple[list[Fact], list[tuple[str, str]]]:
    """A story of `events` steps of `w` (stale notes included) and `questions` questions about
    its final state, answered in sentences (`BabiWorld.reply`)."""
    fs = [w.step(kinds) for _ in range(rng.randint(*events))]
    qs = w.questions()
    pool = qs["qa1"] + (qs["qa2"] + qs["qa3"] if kinds == "all" else [])
    return fs, [(q, w.reply(q, a)) for q, a in rng.sample(pool, min(len(pool), rng.randint(*questions)))]


_SMALLTALK = [("How are you today?", "I'm doing well, thank you."), ("Tell me something nice.", "You are doing great."),
              ("Thanks!", "You're welcome."), ("Can you help me?", "Of course, what do you need?"),
              ("Good morning.", "Good morning to you too."), ("What can you do?", "I can chat and remember what you tell me."),
              ("That's all for now.", "Alright, talk to you later.")]
_ACKS = ["Nice to meet you, {v}.", "Got it.", "Noted.", "Thanks for telling me.", "I'll remember that.", "Okay."]
# A user may paste text into a chat; it holds nothing about them, so the reply takes no note.
_PASSAGE_LEADS = ["", "I was reading this: ", "Here is a passage: ", "What do you make of this? ", "Look at this: ",
                  "Someone wrote: ", "Can you read this? "]
_PASSAGE_REPLIES = ["Thanks for sharing.", "Interesting.", "I see.", "That's a lot of detail.", "Thanks, I read it."]


# ---------------------------------------------------------------------------------------------
# rows


class RowBuilder:
    """Accumulates rendered pieces until the row holds `length` tokens."""

    def __init__(self, length: int):
        self.length = length
        self.ids: list[int] = []
        self.mask: list[int] = []

    def full(self) -> bool:
        return len(self.ids) >= self.length

    def room(self) -> int:
        return self.length - len(self.ids)

    def add(self, piece: tuple[list[int], list[int]]) -> None:
        self.ids += piece[0]
        self.mask += piece[1]

    def done(self) -> tuple[list[int], list[int]]:
        return self.ids[: self.length], self.mask[: self.length]


# RULER's uuid configurations (niah_single_3: uuid values; niah_multikey_3: uuid keys and values):
# the model scored 0% there while it had only ever copied 7-digit numbers. UUID_SHARE of the
# corpus's NIAH facts (needles read, needed notes, distractor notes) hold a uuid value, and
# UUID_KEY_SHARE of those a uuid key too, except in multivalue and multiquery cases (word keys, as
# RULER's). The values come from the train part of the uuid space (`uuid_value`).
UUID_SHARE = 0.25
UUID_KEY_SHARE = 0.4
_ANY_NOTE_NIAH = 0.4  # the share of magic-number notes among `any_note`'s


def _niah_kinds(rng: random.Random, uuid_keys: bool = True) -> tuple[str, str]:
    """(value kind, key kind) of one NIAH fact or case: ("number", "word"), ("uuid", "word") or
    ("uuid", "uuid")."""
    if rng.random() >= UUID_SHARE:
        return "number", "word"
    return "uuid", "uuid" if uuid_keys and rng.random() < UUID_KEY_SHARE else "word"


def _niah_fact(rng: random.Random, split: str, key: str | None = None,
               kinds: tuple[str, str] | None = None) -> Fact:
    """A RULER needle of the corpus's mix of kinds (`_niah_kinds`), or of the kinds given."""
    kind, key_kind = kinds or _niah_kinds(rng)
    return niah_fact(rng, split, key, kind, key_kind)


def _any_note(rng: random.Random, split: str) -> str:
    """`any_note` with UUID_SHARE of its magic notes uuid ones (any_note's are all numbers)."""
    p = UUID_SHARE * _ANY_NOTE_NIAH / (1 - UUID_SHARE + UUID_SHARE * _ANY_NOTE_NIAH)
    if rng.random() < p:
        return _niah_fact(rng, split, kinds=("uuid", "uuid" if rng.random() < UUID_KEY_SHARE else "word")).note
    return any_note(rng, split)


_distractor_notes = functools.partial(distractor_notes, draw=_any_note)


def _random_fact(rng: random.Random, split: str) -> Fact:
    r = rng.random()
    if r < 0.25:
        return passkey_fact(rng, split)
    if r < 0.6:
        return _niah_fact(rng, split)
    return chat_fact(rng, split)


def _magic_note(rng: random.Random, split: str) -> str:
    """Three in four another key's magic number (or uuid), else any note: the notes a multivalue
    answer confuses with its key's own."""
    return _niah_fact(rng, split).note if rng.random() < 0.75 else _any_note(rng, split)


def reading_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
                styles: tuple[str, ...] = filler.TRAIN_STYLES, fact_rate: float = 0.3) -> tuple[list[int], list[int]]:
    """Filler with facts woven in at sentence boundaries, each followed by its note.
    `fact_rate` is the chance that the next sentence is a fact (~6 facts per 256 tokens at 0.3)."""
    row = RowBuilder(length)
    if rng.random() < 0.2:  # the engine may read with a <|mem|> block in front: stay robust to it
        row.add(tok.render_memory(_distractor_notes(rng, split, rng.randint(1, 6))))
    style = rng.choice(styles)
    world = BabiWorld(rng, split) if rng.random() < 0.4 else None
    sents = filler.passage(style, rng, 64)
    i = 0
    first = True
    while not row.full():
        if rng.random() < fact_rate:
            if world is not None and rng.random() < 0.5:
                f = world.step("all" if rng.random() < 0.5 else "move")
            else:
                f = _random_fact(rng, split)
            text, note = f.sentence, f.note
        else:
            text, note = sents[i % len(sents)], None
            i += 1
        row.add(tok.render_reading([(text if first else " " + text, note)]))
        first = False
    return row.done()


def _multi_needle(rng: random.Random, split: str, multivalue: bool) -> tuple[list[Fact], list[tuple[str, str]]]:
    """Several magic numbers (or uuids) asked at once: for one key (multivalue) or for several
    (multiquery); word keys."""
    kind = _niah_kinds(rng, uuid_keys=False)[0]
    if multivalue:
        key = niah_key(rng, split)
        fs = [niah_fact(rng, split, key, kind) for _ in range(rng.randint(2, NIAH_VALUES))]  # up to the benchmark's count
        return fs, [(multivalue_question(key, kind), ", ".join(f.qa[0][1] for f in fs))]
    fs = [niah_fact(rng, split, None, kind) for _ in range(rng.randint(2, NIAH_QUERIES))]
    # Asked in any order, as the benchmark asks them (its needles lie at random depths), so the
    # n-th key asked is not the n-th note; the reply restates each key before its value.
    asked = rng.sample(fs, len(fs))
    keys, values = [niah_note_key(f.note) for f in asked], [f.qa[0][1] for f in asked]
    return fs, [(multiquery_question(keys, kind), multiquery_reply(keys, values))]


def _multikey(rng: random.Random, split: str) -> tuple[list[Fact], list[tuple[str, str]]]:
    """One magic number asked among 1-3 other keys' (RULER's multikey): with only the mixed
    distractors, a block held ~2 other magic numbers, and the model picked a wrong key's value
    when it held 7 (niah_multikey 93% on the evaluation, every miss another key's value)."""
    kinds = _niah_kinds(rng)  # the other keys' needles are of the same kinds, as in RULER's haystacks
    asked = _niah_fact(rng, split, kinds=kinds)
    fs, keys, n = [asked], {niah_note_key(asked.note)}, 1 + rng.randint(1, 3)
    while len(fs) < n:
        f = _niah_fact(rng, split, kinds=kinds)
        if niah_note_key(f.note) not in keys:
            fs.append(f)
            keys.add(niah_note_key(f.note))
    return rng.sample(fs, len(fs)), asked.qa


def _qa_for_mem(rng: random.Random, split: str) -> tuple[list[Fact], list[tuple[str, str]]]:
    """The needed facts (their notes go in the block) and the questions they answer (all families)."""
    r = rng.random()
    if r < 0.15:
        f = passkey_fact(rng, split)
        return [f], f.qa
    if r < 0.35:
        if rng.random() < 0.5:
            return _multikey(rng, split)
        f = _niah_fact(rng, split)
        return [f], f.qa
    if r < 0.52:
        return _multi_needle(rng, split, multivalue=r < 0.45)
    if r < 0.8:  # bAbI with stale notes: the latest state wins
        kinds = "move" if rng.random() < 0.5 else "all"
        return _babi_case(rng, BabiWorld(rng, split, babi_vocab=False), kinds, (2, 10), (1, 3))
    f = chat_fact(rng, split)
    return [f], [rng.choice(f.qa)]


def _tracking_for_mem(rng: random.Random, split: str) -> tuple[list[Fact], list[tuple[str, str]]]:
    """Harder cases, densely asked: one bAbI world with many stale notes and several questions
    about it (the latest note about the person or object wins; qa2 and qa3 chain two notes),
    or several magic numbers to keep apart (multivalue, multiquery)."""
    r = rng.random()
    if r < 0.3:  # multivalue the most: it stops early or repeats a value (85% on the evaluation)
        return _multi_needle(rng, split, multivalue=r < 0.2)
    kinds = "move" if rng.random() < 0.4 else "all"
    return _babi_case(rng, BabiWorld(rng, split, n_people=rng.randint(2, 5)), kinds, (4, 14), (2, 5))


def _read_with_facts(rng: random.Random, sents: list[str], facts: list[Fact]) -> list[tuple[str, str | None]]:
    """Filler sentences with the facts (each followed by its note) at random places among them,
    keeping their order: a read whose facts are in the recent window, not yet filed."""
    at = set(rng.sample(range(len(sents) + len(facts)), len(facts)))
    fi, si = iter(facts), iter(sents)
    return [((f := next(fi)).sentence, f.note) if k in at else (next(si), None)
            for k in range(len(sents) + len(facts))]


def _answering_piece(tok: Tokenizer, mem: list[str], segs: list[tuple[str, str | None]],
                     qa: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
    """`<|mem|>` block, recent text (facts in it followed by their notes), questions and answers."""
    ids, mask = tok.render_memory(mem)
    r_ids, r_mask = tok.render_reading([(t if k == 0 else " " + t, n) for k, (t, n) in enumerate(segs)])
    q_ids, q_mask = tok.render_answering([], "", qa)
    return ids + r_ids + q_ids, mask + r_mask + q_mask


def answering_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
                  styles: tuple[str, ...] = filler.TRAIN_STYLES, window_share: float = 0.2,
                  cases: Callable = _qa_for_mem, max_distractors: int = 12, min_distractors: int = 0,
                  distractors: Callable = _distractor_notes) -> tuple[list[int], list[int]]:
    """`<|mem|>` (needed notes among distractors, chronological), recent text without the fact,
    then questions answered from the block. In `window_share` of the examples the facts (and
    their notes) are in the recent text instead, as when a fact is asked soon after it was read.
    `cases(rng, split)` draws each example's facts and questions; a row's first example must
    hold its first whole answer (a case too long for the row, such as several uuid notes in a
    257-token row, is drawn again, up to `REDRAWS` times)."""
    row = RowBuilder(length)
    redraws = 0
    while not row.full():
        if row.ids:  # one <|mem|> block per example, as at inference
            row.add(([tok.eot], [CONTEXT]))
        facts, qa = cases(rng, split)
        needed = [f.note for f in facts]
        distract = distractors(rng, split, rng.randint(min_distractors, max_distractors), needed)
        sents = filler.passage(rng.choice(styles), rng, rng.randint(0, 4))
        if rng.random() < window_share:  # the facts were read in the recent window, not filed
            segs = _read_with_facts(rng, sents, facts)
            mem = distract
        else:
            segs = [(t, None) for t in sents]
            mem = interleave_notes(rng, distract, needed)
        # A long example must not run past the row's end, or its questions (the point of it)
        # are cut off: like the engine, drop the oldest recent text first (facts read there go to
        # the block as notes), then distractors.
        while True:
            piece = _answering_piece(tok, mem, segs, qa)
            if len(piece[0]) <= row.room():
                break
            filler_at = next((k for k, (_, n) in enumerate(segs) if n is None), None)
            if filler_at is not None:
                segs = segs[:filler_at] + segs[filler_at + 1:]
                continue
            if segs:  # the facts read in the window do not fit it: file them, as the engine would have
                segs, mem = [], interleave_notes(rng, mem, needed)
                continue
            spare_at = next((k for k, n in enumerate(mem) if n not in needed), None)
            if spare_at is None:
                break  # too long even bare: it runs to the end of the row, cut there
            mem = mem[:spare_at] + mem[spare_at + 1:]
        if not row.ids and redraws < REDRAWS and _first_answer_end(tok, piece[0]) > row.room():
            redraws += 1
            continue
        row.add(piece)
    return row.done()


REDRAWS = 20  # cases an answering row may draw again for its first example


def _first_answer_end(tok: Tokenizer, ids: list[int]) -> int:
    """Tokens up to and including the end of the first assistant turn in `ids` (len(ids) + 1
    where none ends)."""
    p = tok.assistant_prefix
    for i in range(len(ids) - len(p) + 1):
        if ids[i:i + len(p)] == p:
            return ids.index(tok.end, i + len(p)) + 1 if tok.end in ids[i + len(p):] else len(ids) + 1
    return len(ids) + 1


def user_statement(rng: random.Random, sentences: list[str]) -> str:
    """Two statements as a user says them: one after the other, or in one sentence joined by
    "and" ("My name is Ada and I live in Lisbon."), which still deserves a note for each."""
    if len(sentences) == 2 and rng.random() < 0.4:
        return f"{sentences[0][:-1]} and {mid_sentence(sentences[1])}"
    return " ".join(sentences)


def mid_sentence(s: str) -> str:
    """A statement as it reads after "and" or "By the way,": "my pet is ...", but "I live ..."."""
    return s if s.startswith(("I ", "I'm ")) else s[0].lower() + s[1:]


def chat_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train") -> tuple[list[int], list[int]]:
    """A chat: earlier facts in the `<|mem|>` block, new facts stated (assistant notes them), and
    questions answered from the block or from what was said in the window."""
    row = RowBuilder(length)
    # one value per slot: a restated slot replaces the old fact (the latest wins)
    known = {f.family: f for f in (chat_fact(rng, split) for _ in range(rng.randint(0, 5)))}
    memory = [f.note for f in known.values()]
    memory += _distractor_notes(rng, split, rng.randint(0, 4), memory)
    rng.shuffle(memory)
    turns: list[dict] = []
    while True:
        r = rng.random()
        if r < 0.15:  # paste a passage: no note (chats with pasted text had drawn notes like "user city: IMMMM")
            msg = rng.choice(_PASSAGE_LEADS) + " ".join(filler.passage(rng.choice(filler.TRAIN_STYLES), rng,
                                                                      rng.randint(1, 3)))
            turns += [{"role": "user", "content": msg}, {"role": "assistant", "content": rng.choice(_PASSAGE_REPLIES)}]
        elif r < 0.45:  # state 1-2 facts
            fs = [chat_fact(rng, split, slot[0]) for slot in rng.sample(CHAT_SLOTS, rng.randint(1, 2))]
            msg = user_statement(rng, [f.sentence for f in fs])
            if rng.random() < 0.3:
                lead = rng.choice(["Hi! ", "Hello. ", "By the way, ", "Oh, and "])
                msg = lead + (msg if lead.endswith(("! ", ". ")) else mid_sentence(msg))
            name = next((f for f in fs if f.family == "chat_name"), None)
            if name is not None and rng.random() < 0.5:
                ack = _ACKS[0].format(v=name.note.split(": ", 1)[1])
            else:
                ack = rng.choice(_ACKS[1:])
            turns += [{"role": "user", "content": msg}, {"role": "assistant", "content": ack, "notes": [f.note for f in fs]}]
            known.update((f.family, f) for f in fs)
        elif r < 0.8 and known:
            f = rng.choice(list(known.values()))
            q, a = rng.choice(f.qa)
            turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        else:
            q, a = rng.choice(_SMALLTALK)
            turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        ids, mask = tok.render_chat(turns, memory)
        if len(ids) >= length:
            return ids[:length], mask[:length]


def tracking_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train") -> tuple[list[int], list[int]]:
    """Answering rows of the hard cases only (`_tracking_for_mem`): picking the latest of several
    stale notes, chaining two, keeping several values apart. Mixed answering rows hold too few
    of them for a small model to learn it (qa1 stayed near 45% even on training-pool words)."""
    return answering_row(tok, rng, length, split, cases=_tracking_for_mem, max_distractors=8)


_multivalue_cases = functools.partial(_multi_needle, multivalue=True)


def multivalue_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train") -> tuple[list[int], list[int]]:
    """Answering rows of multivalue cases only (2-4 magic numbers for one key among distractors):
    for a stage aimed at the family that stays under its bar (the reply drops, skips or repeats a
    value), drawn only when a mix names it."""
    return answering_row(tok, rng, length, split, cases=_multivalue_cases)


def multivalue_hard_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train") -> tuple[list[int], list[int]]:
    """Multivalue cases filed in a block of 4-12 distractors, three in four other keys' magic
    numbers: with its key's notes alone the model answers 99.9% of the evaluation's multivalue
    questions, beside the usual distractors 97%, repeating or skipping a value. Drawn only when
    a mix names it."""
    return answering_row(tok, rng, length, split, window_share=0.0, min_distractors=4,
                         cases=_multivalue_cases, distractors=functools.partial(distractor_notes, draw=_magic_note))


def windowed_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
                 styles: tuple[str, ...] = filler.TRAIN_STYLES, window_share: float = 0.3) -> tuple[list[int], list[int]]:
    """Answering examples in the windows the engine builds for `ask` (`memgpt.window`): the
    `<|mem|>` block (at most `memory_budget` tokens), then the last tokens of a long read and the
    question, cut at any token so the window holds at most `window_limit` positions, then the
    answer. Answering rows
    start their recent text at a sentence and end a grass passage before "There and back
    again."; the engine's windows do neither (stage 27 misread pass keys after a window that
    began with a lone "."). Facts read before the cut are in the block, as the engine filed
    them. The recent text is context, not a target: it may begin inside a note."""
    budget = memory_budget(length - 1)
    row = RowBuilder(length)
    while not row.full():
        if row.ids:
            row.add(([tok.eot], [CONTEXT]))
        facts, qa = _qa_for_mem(rng, split)
        needed = [f.note for f in facts]
        distract = _distractor_notes(rng, split, rng.randint(0, 12), needed)
        sents = filler.passage(rng.choice(styles), rng, rng.randint(1, 30))
        placed = rng.random() < window_share
        reading, starts = [], []  # the read's tokens; where each fact's sentence starts in them
        segs = _read_with_facts(rng, sents, facts) if placed else [(t, None) for t in sents]
        for k, (text, note) in enumerate(segs):
            if note is not None:
                starts.append(len(reading))
            reading += tok.render_reading([(text if k == 0 else " " + text, note)])[0]
        q_ids, q_mask = tok.render_answering([], "", qa)
        n_prompt = len(tok.render_prompt_for_reply(qa[0][0]))  # the first question is in the window
        fill = answer_fill(length - 1, len(q_ids) - n_prompt, space=row.room())  # the answers must fit the row
        if rng.random() < 0.3:  # early in a read the stream is shorter than the window
            drop = len(reading) - rng.randint(1, len(reading))
            reading, starts = reading[drop:], [s - drop for s in starts]
        filed = [] if placed else list(needed)
        while True:
            mem_ids = tok.render_memory(interleave_notes(rng, list(distract), filed))[0]
            if (len(mem_ids) > budget or len(mem_ids) + n_prompt > fill) and distract:
                distract.pop()  # the engine's budget holds fewer notes
                continue
            cut = max(0, len(reading) - recent_room(fill, len(mem_ids), n_prompt))  # reading before it is left out
            late = [n for n, s in zip(needed, starts) if s < cut and n not in filed]  # none unless placed
            if not late:
                break
            filed = [n for n in needed if n in filed or n in late]  # read before the cut: filed, in order
        window = pack(mem_ids, reading, q_ids[:n_prompt], fill)
        row.add((window + q_ids[n_prompt:], [CONTEXT] * len(window) + q_mask[n_prompt:]))
    return row.done()


ROW_KINDS: dict[str, Callable] = {"reading": reading_row, "answering": answering_row, "chat": chat_row,
                                  "tracking": tracking_row, "multivalue": multivalue_row, "windowed": windowed_row,
                                  "multivalue_hard": multivalue_hard_row}
DEFAULT_MIX = {"reading": 0.4, "answering": 0.3, "chat": 0.12, "tracking": 0.18}


def make_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
             mix: dict[str, float] = DEFAULT_MIX) -> tuple[list[int], list[int]]:
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    return ROW_KINDS[kind](tok, rng, length, split)


def rows(tok: Tokenizer, seed: int, length: int, split: str = "train", letter_share: float = LETTER_START_SHARE,
         mix: dict[str, float] = DEFAULT_MIX) -> Iterator[tuple[list[int], list[int]]]:
    rng = CorpusRandom(seed, word_pieces(tok), letter_share)
    while True:
        yield make_row(tok, rng, length, split, mix)


def parse_mix(text: str) -> dict[str, float]:
    """"reading=0.3,tracking=0.4": the row kinds drawn and their weights (kinds not named: none)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, eq, weight = part.partition("=")
        kind = kind.strip()
        if not eq or kind not in ROW_KINDS:
            raise ValueError(f"mix entries are KIND=WEIGHT with KIND one of {', '.join(ROW_KINDS)}; got {part!r}")
        try:
            w = float(weight)
        except ValueError:
            raise ValueError(f"mix weight of {kind!r} is not a number: {weight!r}") from None
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"mix weight of {kind!r} must be finite and >= 0, got {weight!r}")
        mix[kind] = w
    if not mix or sum(mix.values()) <= 0:
        raise ValueError(f"a mix needs a positive weight for at least one row kind, got {text!r}")
    return mix


# ---------------------------------------------------------------------------------------------
# shards on disk


def write_shard(tok: Tokenizer, path: str, n_rows: int, length: int, seed: int, split: str = "train",
                letter_share: float = LETTER_START_SHARE, mix: dict[str, float] = DEFAULT_MIX) -> None:
    """`path.ids.npy` (n_rows, length) uint16 and `path.mask.npy` uint8; deterministic in seed."""
    if tok.n_vocab > 65535:
        raise ValueError("uint16 shards need a vocabulary under 65536 tokens")
    ids = np.zeros((n_rows, length), dtype=np.uint16)
    mask = np.zeros((n_rows, length), dtype=np.uint8)
    it = rows(tok, seed, length, split, letter_share, mix)
    for r in range(n_rows):
        i, m = next(it)
        ids[r], mask[r] = i, m
    np.save(path + ".ids.npy", ids)
    with open(path + ".mask.tmp", "wb") as f:  # the mask lands last, whole: a shard's "finished" mark
        np.save(f, mask)
    os.replace(path + ".mask.tmp", path + ".mask.npy")


def train_shard_path(out_dir: str, i: int) -> str:
    """Shard i of a corpus, without its `.ids.npy` / `.mask.npy` suffix."""
    return os.path.join(out_dir, f"train_{i:04d}")


def build_shards(tok: Tokenizer, out_dir: str, n_tokens: int, length: int, seed: int = 0,
                 rows_per_shard: int = 4096, workers: int = 1,
                 letter_share: float = LETTER_START_SHARE, mix: dict[str, float] = DEFAULT_MIX) -> list[str]:
    """Write enough shards for `n_tokens` training tokens (plus one validation shard, first).
    `meta.json` is written before the shards, so a trainer can follow the build (`--shard-every`):
    a shard is finished once its `.mask.npy` exists."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    os.makedirs(out_dir, exist_ok=True)
    n_shards = max(1, -(-n_tokens // (rows_per_shard * length)))
    jobs = [(os.path.join(out_dir, "val_0000"), seed * 100_003 + 99_991, "train")]
    jobs += [(train_shard_path(out_dir, i), seed * 100_003 + i, "train") for i in range(n_shards)]
    todo = [j for j in jobs if not os.path.exists(j[0] + ".mask.npy")]  # resumable
    tok_dir = os.path.join(out_dir, "tokenizer")
    tok.save(tok_dir)
    meta = os.path.join(out_dir, "meta.json")
    with open(meta + ".tmp", "w") as f:  # lands whole: a trainer following the build reads it once it exists
        json.dump({"length": length, "rows_per_shard": rows_per_shard, "seed": seed, "n_shards": n_shards,
                   "letter_share": letter_share, "mix": mix}, f)
    os.replace(meta + ".tmp", meta)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = [ex.submit(_shard_job, tok_dir, p, rows_per_shard, length, s, sp, letter_share, mix)
                for p, s, sp in todo]
        for f in tqdm(futs, desc="shards"):
            f.result()
    return [j[0] for j in jobs]


def _shard_job(tok_dir: str, path: str, n_rows: int, length: int, seed: int, split: str, letter_share: float,
               mix: dict[str, float]) -> None:
    write_shard(Tokenizer.load(tok_dir), path, n_rows, length, seed, split, letter_share, mix)


def tokenizer_training_text(n_chars: int, seed: int = 0) -> Iterator[str]:
    """Corpus-shaped raw text for BPE training (filler, facts, notes, questions, answers)."""
    rng = random.Random(seed)
    total = 0
    while total < n_chars:
        parts = filler.passage(rng.choice(filler.TRAIN_STYLES), rng, 8)
        for _ in range(3):
            f = _random_fact(rng, "train")
            parts += [f.sentence, f.note] + [x for qa in f.qa[:1] for x in qa]
        w = BabiWorld(rng, "train")
        parts += [w.step("all").sentence for _ in range(3)] + [f"Where is {p}?" for p in w.people[:1]]
        t = " ".join(parts)
        total += len(t)
        yield t


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`memgpt data`'s arguments (the subcommand is wired in memgpt.cli)."""
    ap.description = "Build token shards of the scratchpad corpus."
    ap.add_argument("--tokenizer", required=True, help="directory holding tokenizer.json/tokenizer.bpe")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=float, default=20e6)
    ap.add_argument("--length", type=int, default=257, help="row length = block_size + 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--letter-start-share", type=float, default=LETTER_START_SHARE,
                    help="share of fresh words spelt from pieces that start with a one-letter piece "
                         "(default: %(default)s)")
    ap.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()),
                    help="row kinds and their weights; kinds not named are not drawn (default: %(default)s)")


def command(args: argparse.Namespace) -> int:
    """`memgpt data`: write the shards."""
    if not 0.0 <= args.letter_start_share <= 1.0:
        raise ValueError(f"--letter-start-share must be in [0, 1], got {args.letter_start_share}")
    mix = parse_mix(args.mix)
    build_shards(Tokenizer.load(args.tokenizer), args.out, int(args.tokens), args.length, args.seed,
                 workers=args.workers, letter_share=args.letter_start_share, mix=mix)
    return 0


if __name__ == "__main__":
    from memgpt.cli import run_command

    sys.exit(run_command("data"))
