"""The synthetic scratchpad corpus: reading, answering and chat rows, packed densely.

Every fact family the benchmarks use has a generator returning the fact's sentence (published
wording), the note the model should write after reading it, and questions with answers.
Keys, names and values are fresh random strings from a vast space, or drawn from finite pools
split into disjoint train and test parts, so copying is the only strategy that works.

Rows are exactly `block_size + 1` tokens with no padding: examples are appended until the row is
full and the last one is cut. Every sequence is built by the renderers in `memgpt.tokenizer`, the
same functions the engine uses at inference.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from memgpt.tokenizer import CONTEXT, Tokenizer
from memgpt.training import filler

# ---------------------------------------------------------------------------------------------
# vocabularies and train/test splits

_CONS = "b c d f g h j k l m n p r s t v w z br cr dr fl gr kl pl pr st tr ch sh th".split()
_VOW = "a e i o u a e i o u ai ea ou io".split()


def _is_test(s: str) -> bool:
    """A stable 1-in-5 hash split, plus the benchmark's bAbI words: test strings never appear in
    training (not even as a fresh word spelt from pieces, such as "gard" + "en")."""
    return zlib.crc32(s.lower().encode()) % 5 == 0 or s.lower() in _BABI_WORDS


def _split_ok(s: str, split: str) -> bool:
    return _is_test(s) == (split == "test")


class Pieces(NamedTuple):
    """The vocabulary's letter pieces (see `word_pieces`), written without their leading space."""
    lead: tuple[str, ...] = ()   # lower-case word starts
    cont: tuple[str, ...] = ()   # continuations
    names: tuple[str, ...] = ()  # capitalised word starts


NO_PIECES = Pieces()


class CorpusRandom(random.Random):
    """The corpus generator's rng, carrying the tokenizer's word pieces (see `word_pieces`)."""

    def __init__(self, seed: int, pieces: Pieces = NO_PIECES):
        super().__init__(seed)
        self.pieces = pieces


@functools.lru_cache(maxsize=4)
def word_pieces(tok: Tokenizer) -> Pieces:
    """The vocabulary's letter pieces: lower-case and capitalised word starts, continuations.
    A held-out word such as "garden" can be spelt with pieces no syllable generator produces; a
    piece never seen in training keeps an untrained embedding and cannot be copied. Fresh words
    spelt from these pieces make every one of them a copy target."""
    lead, cont, names = [], [], []
    for i in range(tok.n_vocab):
        if i in tok.control_ids:
            continue
        s = tok.decode_bytes([i]).decode("utf-8", "replace")
        # one-letter pieces too: held-out "amber" is " a" + "mber", and a syllable word never
        # starts with a vowel piece, so without them " a" is only ever the article
        if re.fullmatch(r" [a-z]+", s):
            lead.append(s[1:])
        elif re.fullmatch(r"[a-z]+", s):
            cont.append(s)
        elif re.fullmatch(r" [A-Z][a-z]*", s):
            names.append(s[1:])
    return Pieces(tuple(lead), tuple(cont), tuple(names))


PIECE_SHARE = 0.8  # of fresh words spelt from vocabulary pieces, where the rng carries them


def pseudo_word(rng: random.Random, split: str, syllables: tuple[int, int] = (2, 3)) -> str:
    """A fresh pronounceable word from a space of ~10^8 (train and test parts disjoint). With a
    `CorpusRandom`, `PIECE_SHARE` of them are spelt from the vocabulary's pieces instead."""
    pieces = getattr(rng, "pieces", NO_PIECES)  # a plain rng (the evaluation's) has none
    if pieces.lead and pieces.cont and rng.random() < PIECE_SHARE:
        return _spell(rng, split, pieces.lead, pieces.cont, syllables[1])
    while True:
        w = "".join(rng.choice(_CONS) + rng.choice(_VOW) for _ in range(rng.randint(*syllables)))
        if rng.random() < 0.5:
            w += rng.choice("nrstlmkx")
        if _split_ok(w, split):
            return w


def name_word(rng: random.Random, split: str) -> str:
    """A fresh capitalised word (a name, a city). With a `CorpusRandom`, `PIECE_SHARE` of them are
    spelt from the vocabulary's capitalised pieces: held-out names such as "Greta" start with a
    piece (" Gret") that no capitalised lower-case word yields."""
    pieces = getattr(rng, "pieces", NO_PIECES)
    if pieces.names and pieces.cont and rng.random() < PIECE_SHARE:
        return _spell(rng, split, pieces.names, pieces.cont, 3)
    return pseudo_word(rng, split).capitalize()


def _spell(rng: random.Random, split: str, starts: tuple[str, ...], cont: tuple[str, ...], parts: int) -> str:
    """A word of one start piece and up to `parts - 1` continuations, at least 4 letters."""
    while True:
        w = rng.choice(starts) + "".join(rng.choice(cont) for _ in range(rng.randint(0, parts - 1)))
        if len(w) >= 4 and _split_ok(w, split):
            return w


def letter_string(rng: random.Random, split: str) -> str:
    while True:
        s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 9)))
        if _split_ok(s, split):
            return s


def digits(rng: random.Random, lo: int, hi: int) -> str:
    n = rng.randint(lo, hi)
    return str(rng.randint(10 ** (n - 1), 10 ** n - 1))


@functools.lru_cache(maxsize=None)
def _pool(words: str, split: str) -> list[str]:
    """A finite pool's part for `split` (the bAbI words are all in the test part)."""
    return [w for w in words.split() if _split_ok(w, split)]


BABI_PEOPLE = ("Mary", "John", "Sandra", "Daniel")
BABI_PLACES = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
BABI_OBJECTS = ("football", "apple", "milk")
_BABI_WORDS = frozenset(w.lower() for w in BABI_PEOPLE + BABI_PLACES + BABI_OBJECTS)
_PEOPLE = ("Mary John Sandra Daniel Alice Bob Carol David Emma Frank Grace Henry Irene Jack Karen Leo Maria Nina Oscar "
           "Paula Quinn Rosa Sam Tina Umar Vera Walter Xena Yusuf Zoe Aaron Bella Chris Diana Ethan Fiona George Hannah "
           "Ivan Julia Kevin Laura Mike Nora Owen Peter Rachel Steve Tom Ursula Victor Wendy Amir Bianca Carlos Dmitri "
           "Elena Farid Greta Hugo Ines Jonas Kira Lars Mina Nils Olga Pavel Rita Sven Talia Ugo Vito Wanda Yara Zack")
_PLACES = ("bathroom hallway garden office bedroom kitchen cellar attic garage library balcony studio pantry lobby "
           "porch basement workshop nursery classroom laboratory chapel courtyard greenhouse gym lounge museum stable "
           "terrace tower warehouse bakery barn cabin clinic corridor dining veranda")
_OBJECTS = ("football apple milk book lamp key cup hat ball box pen coin bottle ring shoe bag umbrella scarf phone "
            "candle brush knife plate spoon wallet camera guitar kite map rope shell stone watch")
COLOURS = ("red blue green yellow purple orange pink black white grey brown teal navy maroon olive "
                           "lime cyan magenta violet indigo turquoise beige ivory crimson scarlet amber gold silver "
                           "bronze lavender coral salmon")
_FOODS = ("pizza pasta sushi curry tacos ramen lasagne paella risotto dumplings pancakes waffles burgers noodles "
          "falafel hummus couscous goulash pierogi kimchi tempura burritos nachos omelettes porridge chowder gumbo "
          "moussaka souvlaki biryani samosas tiramisu cheesecake brownies croissants bagels pretzels")
_JOBS = ("teacher nurse engineer plumber architect pilot chef dentist lawyer farmer baker carpenter electrician "
         "librarian pharmacist journalist photographer programmer accountant firefighter gardener mechanic "
         "translator veterinarian surgeon designer musician painter sculptor scientist astronomer geologist "
         "economist historian barber tailor butcher florist potter welder")
_PETS = "dog cat parrot rabbit hamster turtle goldfish lizard ferret horse snake pony canary gecko tortoise"
_MONTHS = "January February March April May June July August September October November December".split()


def people(split: str) -> list[str]:
    return _pool(_PEOPLE, split)


def places(split: str) -> list[str]:
    return _pool(_PLACES, split)


def objects(split: str) -> list[str]:
    return _pool(_OBJECTS, split)


def person(rng: random.Random, split: str) -> str:
    """A finite-pool name or, half the time, a fresh one (copying must beat memorising)."""
    return rng.choice(people(split)) if rng.random() < 0.5 else name_word(rng, split)


def place(rng: random.Random, split: str) -> str:
    """Mostly fresh words: with a small pool's words as answers, the model learns the pool and
    answers held-out places (bAbI's own) with memorised ones instead of copying."""
    return rng.choice(places(split)) if rng.random() < 0.3 else pseudo_word(rng, split)


def thing(rng: random.Random, split: str) -> str:
    return rng.choice(objects(split)) if rng.random() < 0.3 else pseudo_word(rng, split)


# ---------------------------------------------------------------------------------------------
# fact families


@dataclass
class Fact:
    """A sentence to read, the note it deserves, and questions answerable from that note."""
    family: str
    sentence: str
    note: str
    qa: list[tuple[str, str]] = field(default_factory=list)


def passkey_fact(rng: random.Random, split: str) -> Fact:
    k = digits(rng, 4, 7)
    q = rng.choice(["What is the pass key?", "What is the pass key? The pass key is"])
    return Fact("passkey", f"The pass key is {k}. Remember it. {k} is the pass key.", f"pass key: {k}",
                [(q, k)])


def niah_key(rng: random.Random, split: str) -> str:
    r = rng.random()
    if r < 0.5:  # RULER's word-pair keys, with fresh words
        return f"{pseudo_word(rng, split)}-{pseudo_word(rng, split)}"
    if r < 0.8:
        return pseudo_word(rng, split, (2, 4))
    return letter_string(rng, split)


def niah_fact(rng: random.Random, split: str, key: str | None = None) -> Fact:
    key = key or niah_key(rng, split)
    v = digits(rng, 6, 7)
    q = f"What is the special magic number for {key} mentioned in the provided text?"
    return Fact("niah", f"One of the special magic numbers for {key} is: {v}.", f"magic number for {key}: {v}",
                [(q, v)])


def niah_note_key(note: str) -> str:
    """The KEY of a "magic number for KEY: VALUE" note."""
    return note.split("magic number for ", 1)[1].rsplit(":", 1)[0]


def multivalue_question(key: str) -> str:
    return f"What are all the special magic numbers for {key} mentioned in the provided text?"


def multiquery_question(keys: list[str]) -> str:
    ks = ", ".join(keys[:-1]) + f" and {keys[-1]}" if len(keys) > 1 else keys[0]
    return f"What are all the special magic numbers for {ks} mentioned in the provided text?"


_MOVE = ["moved to", "went to", "journeyed to", "travelled to", "went back to"]
_GET = ["picked up", "got", "grabbed", "took"]
_DROP = ["dropped", "discarded", "put down", "left"]


class BabiWorld:
    """bAbI's simulation: people move between places and carry objects; the latest state wins.
    Each event yields its sentence and note; questions are answered from the state so far."""

    def __init__(self, rng: random.Random, split: str, babi_vocab: bool = False, n_people: int = 4,
                 n_objects: int = 3):
        self.rng = rng
        if babi_vocab:
            self.people, self.places, self.objects = list(BABI_PEOPLE), list(BABI_PLACES), list(BABI_OBJECTS)
        else:
            self.people = list(dict.fromkeys(person(rng, split) for _ in range(n_people)))
            self.places = list(dict.fromkeys(place(rng, split) for _ in range(6)))
            self.objects = list(dict.fromkeys(thing(rng, split) for _ in range(n_objects)))
        self.loc: dict[str, str] = {}
        self.holder: dict[str, str | None] = {}
        self.obj_hist: dict[str, list[str]] = {}  # distinct successive places of each object
        self.last_holder: dict[str, str] = {}  # object -> who picked it up last (and may have dropped it)

    def _obj_moved(self, o: str, where: str) -> None:
        h = self.obj_hist.setdefault(o, [])
        if not h or h[-1] != where:
            h.append(where)

    def step(self, kinds: str = "move") -> Fact:
        """One event. kinds: 'move' (qa1) or 'all' (moves, pick-ups and drops for qa2/qa3)."""
        rng = self.rng
        r = rng.random()
        placed = [p for p in self.people if p in self.loc]
        if kinds == "all" and placed and r < 0.45:
            p = rng.choice(placed)
            held = [o for o, h in self.holder.items() if h == p]
            free = [o for o in self.objects if self.holder.get(o) is None]
            if held and (rng.random() < 0.5 or not free):
                o = rng.choice(held)
                self.holder[o] = None
                self._obj_moved(o, self.loc[p])
                return Fact("babi", f"{p} {rng.choice(_DROP)} the {o}.", f"{p} dropped the {o}")
            if free:
                o = rng.choice(free)
                self.holder[o] = p
                self._obj_moved(o, self.loc[p])
                self.last_holder[o] = p
                return Fact("babi", f"{p} {rng.choice(_GET)} the {o}.", f"{p} has the {o}")
        p = rng.choice(self.people)
        choices = [x for x in self.places if x != self.loc.get(p)]
        self.loc[p] = rng.choice(choices)
        for o, h in self.holder.items():
            if h == p:
                self._obj_moved(o, self.loc[p])
        return Fact("babi", f"{p} {rng.choice(_MOVE)} the {self.loc[p]}.", f"{p} is in the {self.loc[p]}")

    def object_place(self, o: str) -> str | None:
        h = self.obj_hist.get(o)
        return h[-1] if h else None

    def questions(self) -> dict[str, list[tuple[str, str]]]:
        """Answerable questions now, by bAbI task."""
        qs: dict[str, list[tuple[str, str]]] = {"qa1": [], "qa2": [], "qa3": []}
        for p, l in self.loc.items():
            qs["qa1"].append((f"Where is {p}?", l))
        for o, h in self.obj_hist.items():
            qs["qa2"].append((f"Where is the {o}?", h[-1]))
            if len(h) >= 2:
                qs["qa3"].append((f"Where was the {o} before the {h[-1]}?", h[-2]))
        return qs

    def reply(self, question: str, place: str) -> str:
        """The training reply to one of `questions()` now: `babi_reply`'s sentence, and for
        "Where is the O?" first the two notes it chains, one per line ("Daniel has the milk.",
        "Daniel is in the office.", "The milk is in the office."), so that each step is a lookup
        in one note. Lines, not spaces: " Sandra" is spelt with other pieces than the note's
        "Sandra" (" S"-"and"-"ra" against "S"-"and"-"ra"), "\nSandra" with the same ones."""
        final = babi_reply(question, place)
        if not question.startswith("Where is the "):
            return final
        o = question[len("Where is the "):-1]
        p = self.last_holder[o]
        held = self.holder.get(o) == p  # else p dropped it, where it still lies: `place`
        return f"{p} {'has' if held else 'dropped'} the {o}.\n{p} {'is' if held else 'was'} in the {place}.\n{final}"


BABI_REPLY_TOKENS = 40  # decoding budget for a bAbI reply: qa2's chained one runs to 34 tokens


def babi_reply(question: str, place: str) -> str:
    """The training answer to a bAbI question: a sentence ending "... in the PLACE.", as the note
    does. A bare "garden" is spelt with other pieces than " garden" (g-ard-en against gard-en), so
    a bare answer would make the model respell the word it should copy."""
    if question.startswith("Where was the "):
        return f"The {question[len('Where was the '):].split(' before ')[0]} was in the {place}."
    if question.startswith("Where is the "):
        return f"The {question[len('Where is the '):-1]} is in the {place}."
    return f"{question[len('Where is '):-1]} is in the {place}."


def _babi_case(rng: random.Random, w: BabiWorld, kinds: str, events: tuple[int, int],
               questions: tuple[int, int]) -> tuple[list[Fact], list[tuple[str, str]]]:
    """A story of `events` steps of `w` (stale notes included) and `questions` questions about
    its final state, answered in sentences (`BabiWorld.reply`)."""
    fs = [w.step(kinds) for _ in range(rng.randint(*events))]
    qs = w.questions()
    pool = qs["qa1"] + (qs["qa2"] + qs["qa3"] if kinds == "all" else [])
    return fs, [(q, w.reply(q, a)) for q, a in rng.sample(pool, min(len(pool), rng.randint(*questions)))]


# personal chat facts: (slot, statements, note, questions, answer), {v} is the value
CHAT_SLOTS: list[tuple[str, list[str], str, list[str], str]] = [
    ("name", ["My name is {v}.", "I'm {v}.", "Call me {v}.", "You can call me {v}."], "user name: {v}",
     ["What is my name?", "What's my name?", "Do you remember my name?"], "Your name is {v}."),
    ("city", ["I live in {v}.", "I'm from {v}.", "My home town is {v}."], "user city: {v}",
     ["Where do I live?", "Which city do I live in?", "Where am I from?"], "You live in {v}."),
    ("job", ["I work as a {v}.", "I'm a {v} by trade.", "My job is {v}."], "user job: {v}",
     ["What do I do for a living?", "What is my job?", "What's my job?"], "You work as a {v}."),
    ("pet", ["I have a {v}.", "My pet is a {v}."], "user pet: {v}",
     ["What pet do I have?", "What kind of pet do I have?"], "You have a {v}."),
    ("pet_name", ["My pet is called {v}.", "My pet's name is {v}."], "user pet name: {v}",
     ["What is my pet called?", "What's my pet's name?"], "Your pet is called {v}."),
    ("colour", ["My favourite colour is {v}.", "I love the colour {v}.", "My favorite color is {v}."],
     "user favourite colour: {v}",
     ["What is my favourite colour?", "What's my favorite color?", "Which colour do I like best?"],
     "Your favourite colour is {v}."),
    ("food", ["My favourite food is {v}.", "I love eating {v}.", "I could eat {v} every day."],
     "user favourite food: {v}", ["What is my favourite food?", "What food do I love?", "What's my favorite food?"],
     "Your favourite food is {v}."),
    ("birthday", ["My birthday is {v}.", "I was born on {v}."], "user birthday: {v}",
     ["When is my birthday?", "When was I born?"], "Your birthday is {v}."),
    ("partner", ["My partner is {v}.", "I'm married to {v}.", "My partner's name is {v}."], "user partner: {v}",
     ["Who is my partner?", "What is my partner's name?", "Who am I married to?"], "Your partner is {v}."),
]


def chat_value(slot: str, rng: random.Random, split: str) -> str:
    if slot in ("name", "pet_name", "partner"):
        return person(rng, split) if slot != "pet_name" else name_word(rng, split)
    if slot == "city":
        return name_word(rng, split)
    if slot in ("job", "pet", "colour"):
        # small pools invite memorising their words; fresh ones in training make copying pay.
        # The test split keeps to its held-out pool words.
        if split == "train" and rng.random() < 0.7:
            return pseudo_word(rng, split)
        return rng.choice(_pool({"job": _JOBS, "pet": _PETS, "colour": COLOURS}[slot], split))
    if slot == "food":
        return rng.choice(_pool(_FOODS, split)) if rng.random() < 0.5 else pseudo_word(rng, split)
    if slot == "birthday":
        return f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}"
    raise ValueError(slot)


def chat_fact(rng: random.Random, split: str, slot: str | None = None, value: str | None = None) -> Fact:
    slot_def = next(s for s in CHAT_SLOTS if s[0] == slot) if slot else rng.choice(CHAT_SLOTS)
    name, statements, note, questions, answer = slot_def
    v = value or chat_value(name, rng, split)
    return Fact(f"chat_{name}", rng.choice(statements).format(v=v), note.format(v=v),
                [(q, answer.format(v=v)) for q in questions])


_SMALLTALK = [("How are you today?", "I'm doing well, thank you."), ("Tell me something nice.", "You are doing great."),
              ("Thanks!", "You're welcome."), ("Can you help me?", "Of course, what do you need?"),
              ("Good morning.", "Good morning to you too."), ("What can you do?", "I can chat and remember what you tell me."),
              ("That's all for now.", "Alright, talk to you later.")]
_ACKS = ["Nice to meet you, {v}.", "Got it.", "Noted.", "Thanks for telling me.", "I'll remember that.", "Okay."]


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


def _random_fact(rng: random.Random, split: str) -> Fact:
    r = rng.random()
    if r < 0.25:
        return passkey_fact(rng, split)
    if r < 0.6:
        return niah_fact(rng, split)
    return chat_fact(rng, split)


def note_subjects(note: str) -> set[str]:
    """What a note is about: "pass key", "user job", "magic number for K", or a bAbI person
    (and object). Two notes with a common subject answer the same question."""
    if ": " in note:
        return {note.rsplit(": ", 1)[0]}
    words = note.split()
    return {words[0]} if " is in the " in note else {words[0], words[-1]}


def _distractor_notes(rng: random.Random, split: str, n: int, needed: Iterable[str] = ()) -> list[str]:
    """`n` notes about other things. None shares a subject with the `needed` notes: a second
    pass key or another "Mary is in ..." would make the question unanswerable, and the model
    would learn to guess instead of to copy."""
    taken = set().union(*map(note_subjects, needed)) if needed else set()
    notes: list[str] = []
    while len(notes) < n:
        r = rng.random()
        if r < 0.15:
            note = passkey_fact(rng, split).note
        elif r < 0.55:
            note = niah_fact(rng, split).note
        elif r < 0.8:
            note = chat_fact(rng, split).note
        else:
            note = BabiWorld(rng, split).step("all").note
        if not note_subjects(note) & taken:
            notes.append(note)
    return notes


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


MULTI_NEEDLES = 4  # most values (multivalue) or keys (multiquery) asked at once: RULER asks 4


def _multi_needle(rng: random.Random, split: str, multivalue: bool) -> tuple[list[Fact], list[tuple[str, str]]]:
    """Several magic numbers asked at once: for one key (multivalue) or for several (multiquery)."""
    if multivalue:
        key = niah_key(rng, split)
        fs = [niah_fact(rng, split, key) for _ in range(rng.randint(2, MULTI_NEEDLES))]
        return fs, [(multivalue_question(key), ", ".join(f.qa[0][1] for f in fs))]
    fs = [niah_fact(rng, split) for _ in range(rng.randint(2, MULTI_NEEDLES))]
    keys = [niah_note_key(f.note) for f in fs]
    return fs, [(multiquery_question(keys), ", ".join(f.qa[0][1] for f in fs))]


def _qa_for_mem(rng: random.Random, split: str) -> tuple[list[Fact], list[tuple[str, str]]]:
    """The needed facts (their notes go in the block) and the questions they answer (all families)."""
    r = rng.random()
    if r < 0.15:
        f = passkey_fact(rng, split)
        return [f], f.qa
    if r < 0.35:
        f = niah_fact(rng, split)
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
    if r < 0.25:
        return _multi_needle(rng, split, multivalue=r < 0.15)
    kinds = "move" if rng.random() < 0.4 else "all"
    return _babi_case(rng, BabiWorld(rng, split, n_people=rng.randint(2, 5)), kinds, (4, 14), (2, 5))


def interleave_notes(rng: random.Random, distractors: list[str], needed: list[str]) -> list[str]:
    """Needed notes at random places among the distractors, keeping their own order (stale
    before latest), as a chronological `<|mem|>` block would hold them."""
    notes = list(distractors)
    for n in needed:
        notes.insert(rng.randint(0, len(notes)), n)
    pos = sorted(i for i, n in enumerate(notes) if n in needed)  # the places they took, in order
    for p, n in zip(pos, needed):
        notes[p] = n
    return notes


def _answering_piece(tok: Tokenizer, mem: list[str], segs: list[tuple[str, str | None]],
                     qa: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
    """`<|mem|>` block, recent text (facts in it followed by their notes), questions and answers."""
    ids, mask = tok.render_memory(mem)
    r_ids, r_mask = tok.render_reading([(t if k == 0 else " " + t, n) for k, (t, n) in enumerate(segs)])
    q_ids, q_mask = tok.render_answering([], "", qa)
    return ids + r_ids + q_ids, mask + r_mask + q_mask


def answering_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
                  styles: tuple[str, ...] = filler.TRAIN_STYLES, window_share: float = 0.2,
                  cases: Callable = _qa_for_mem, max_distractors: int = 12) -> tuple[list[int], list[int]]:
    """`<|mem|>` (needed notes among distractors, chronological), recent text without the fact,
    then questions answered from the block. In `window_share` of the examples the facts (and
    their notes) are in the recent text instead, as when a fact is asked soon after it was read.
    `cases(rng, split)` draws each example's facts and questions."""
    row = RowBuilder(length)
    while not row.full():
        if row.ids:  # one <|mem|> block per example, as at inference
            row.add(([tok.eot], [CONTEXT]))
        facts, qa = cases(rng, split)
        needed = [f.note for f in facts]
        distract = _distractor_notes(rng, split, rng.randint(0, max_distractors), needed)
        sents = filler.passage(rng.choice(styles), rng, rng.randint(0, 4))
        if rng.random() < window_share:  # the facts were read in the recent window, not filed
            at = set(rng.sample(range(len(sents) + len(facts)), len(facts)))  # facts keep their order
            fi, si = iter(facts), iter(sents)
            segs = [((f := next(fi)).sentence, f.note) if k in at else (next(si), None)
                    for k in range(len(sents) + len(facts))]
            mem = distract
        else:
            segs = [(t, None) for t in sents]
            mem = interleave_notes(rng, distract, needed)
        # A long example must not run past the row's end, or its questions (the point of it)
        # are cut off: like the engine, drop the oldest recent text first, then distractors.
        while True:
            piece = _answering_piece(tok, mem, segs, qa)
            if len(piece[0]) <= row.room():
                break
            filler_at = next((k for k, (_, n) in enumerate(segs) if n is None), None)
            if filler_at is not None:
                segs = segs[:filler_at] + segs[filler_at + 1:]
                continue
            spare_at = next((k for k, n in enumerate(mem) if n not in needed), None)
            if spare_at is None:
                break  # too long even bare: it runs to the end of the row, cut there
            mem = mem[:spare_at] + mem[spare_at + 1:]
        row.add(piece)
    return row.done()


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
        if r < 0.4:  # state 1-2 facts
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


ROW_KINDS: dict[str, Callable] = {"reading": reading_row, "answering": answering_row, "chat": chat_row,
                                  "tracking": tracking_row}
DEFAULT_MIX = {"reading": 0.4, "answering": 0.3, "chat": 0.12, "tracking": 0.18}


def make_row(tok: Tokenizer, rng: random.Random, length: int, split: str = "train",
             mix: dict[str, float] = DEFAULT_MIX) -> tuple[list[int], list[int]]:
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    return ROW_KINDS[kind](tok, rng, length, split)


def rows(tok: Tokenizer, seed: int, length: int, split: str = "train") -> Iterator[tuple[list[int], list[int]]]:
    rng = CorpusRandom(seed, word_pieces(tok))
    while True:
        yield make_row(tok, rng, length, split)


# ---------------------------------------------------------------------------------------------
# shards on disk


def write_shard(tok: Tokenizer, path: str, n_rows: int, length: int, seed: int, split: str = "train") -> None:
    """`path.ids.npy` (n_rows, length) uint16 and `path.mask.npy` uint8; deterministic in seed."""
    if tok.n_vocab > 65535:
        raise ValueError("uint16 shards need a vocabulary under 65536 tokens")
    ids = np.zeros((n_rows, length), dtype=np.uint16)
    mask = np.zeros((n_rows, length), dtype=np.uint8)
    it = rows(tok, seed, length, split)
    for r in range(n_rows):
        i, m = next(it)
        ids[r], mask[r] = i, m
    np.save(path + ".ids.npy", ids)
    np.save(path + ".mask.npy", mask)


def build_shards(tok: Tokenizer, out_dir: str, n_tokens: int, length: int, seed: int = 0,
                 rows_per_shard: int = 4096, workers: int = 1) -> list[str]:
    """Write enough shards for `n_tokens` training tokens (plus one validation shard)."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    os.makedirs(out_dir, exist_ok=True)
    n_shards = max(1, -(-n_tokens // (rows_per_shard * length)))
    jobs = [(os.path.join(out_dir, f"train_{i:04d}"), seed * 100_003 + i, "train") for i in range(n_shards)]
    jobs.append((os.path.join(out_dir, "val_0000"), seed * 100_003 + 99_991, "train"))
    todo = [j for j in jobs if not os.path.exists(j[0] + ".mask.npy")]  # resumable
    tok_dir = os.path.join(out_dir, "tokenizer")
    tok.save(tok_dir)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        futs = [ex.submit(_shard_job, tok_dir, p, rows_per_shard, length, s, sp) for p, s, sp in todo]
        for f in tqdm(futs, desc="shards"):
            f.result()
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump({"length": length, "rows_per_shard": rows_per_shard, "seed": seed, "n_shards": n_shards}, f)
    return [j[0] for j in jobs]


def _shard_job(tok_dir: str, path: str, n_rows: int, length: int, seed: int, split: str) -> None:
    write_shard(Tokenizer.load(tok_dir), path, n_rows, length, seed, split)


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build token shards of the scratchpad corpus.")
    ap.add_argument("--tokenizer", required=True, help="directory holding tokenizer.json/tokenizer.bpe")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=float, default=20e6)
    ap.add_argument("--length", type=int, default=257, help="row length = block_size + 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    build_shards(Tokenizer.load(args.tokenizer), args.out, int(args.tokens), args.length, args.seed,
                 workers=args.workers)


if __name__ == "__main__":
    main()
