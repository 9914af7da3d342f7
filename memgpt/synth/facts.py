"""The fact families of every benchmark task (DESIGN §6), in their published wording.

Each generator returns the fact's sentence, the note a note-taker should write after reading it,
and questions with answers. Keys, names and values are fresh random strings from a vast space, or
drawn from finite pools split into disjoint train and test parts, so copying is the only strategy
that works. The benchmark draws its samples from the test parts; the training corpus
(`memgpt.training.data`) draws from the train parts with the very same functions, so the two can
never disagree on a format.
"""
from __future__ import annotations

import functools
import random
import re
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

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
    lead: tuple[str, ...] = ()      # lower-case word starts
    cont: tuple[str, ...] = ()      # continuations
    names: tuple[str, ...] = ()     # capitalised word starts
    letters: tuple[str, ...] = ()   # the one-letter ones among `lead` (" a" of "amber")
    capitals: tuple[str, ...] = ()  # the one-letter ones among `names` (" M" of "Mary")
    # the tokenizer's first piece of " " + word, without the space; None: not checked
    first_piece: Callable[[str], str] | None = None
    # cumulative draw weights of `lead` and `names` (None: uniform), favouring the starts that
    # the rest of the corpus seldom holds, so that each one is written often enough to be copied
    lead_weights: tuple[float, ...] | None = None
    name_weights: tuple[float, ...] | None = None


NO_PIECES = Pieces()


PIECE_SHARE = 0.8  # of fresh words spelt from vocabulary pieces, where the rng carries them
# of piece-spelt words that start with a one-letter piece. A word the tokenizer never saw is cut
# into short pieces: 60% of the held-out pool words start with one letter (bAbI's "hallway" is
# " h" + "all" + "w" + "ay", every bAbI name too), the train pools' words 0.5%, and fresh words
# 12% (1.5% of the vocabulary's starts are one letter). The model then dropped that letter when
# copying ("John is in theallway.", "Your favourite colour ismber."). The cost: each multi-letter
# start is rarer, and stage 17, trained at 0.6, lost " bur" of "burritos" (README, stage 17);
# `memgpt data --letter-start-share` sets it per corpus.
LETTER_START_SHARE = 0.6


def pseudo_word(rng: random.Random, split: str, syllables: tuple[int, int] = (2, 3)) -> str:
    """A fresh pronounceable word from a space of ~10^8 (train and test parts disjoint). With a
    `CorpusRandom`, `PIECE_SHARE` of them are spelt from the vocabulary's pieces instead."""
    pieces = getattr(rng, "pieces", NO_PIECES)  # a plain rng (the evaluation's) has none
    if pieces.lead and pieces.cont and rng.random() < PIECE_SHARE:
        return _spell(rng, split, pieces.lead, pieces.letters, pieces.cont, syllables[1], pieces.first_piece,
                      pieces.lead_weights)
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
        return _spell(rng, split, pieces.names, pieces.capitals, pieces.cont, 3, pieces.first_piece,
                      pieces.name_weights)
    return pseudo_word(rng, split).capitalize()


def _spell(rng: random.Random, split: str, starts: tuple[str, ...], letters: tuple[str, ...],
           cont: tuple[str, ...], parts: int, first_piece: Callable[[str], str] | None = None,
           weights: tuple[float, ...] | None = None) -> str:
    """A word of one start piece (a one-letter one for the rng's `letter_share` of them,
    `LETTER_START_SHARE` by default) and up to `parts - 1` continuations, at least 4 letters.

    With `first_piece`, the tokenizer must cut the word after that start piece: BPE merges a start
    with what follows ("gold" + "era" is cut " g" + "ol" + "der" + "a"), and unchecked, a start
    that often merges away is seldom a target (" bur" began half as many words). `weights`
    (cumulative) draw the multi-letter starts unevenly (see `Pieces`)."""
    share = getattr(rng, "letter_share", LETTER_START_SHARE)
    while True:
        first = (rng.choice(letters) if letters and rng.random() < share
                 else rng.choice(starts) if weights is None else rng.choices(starts, cum_weights=weights)[0])
        for _ in range(8):  # continuations that keep this start whole; failing that, another start
            w = first + "".join(rng.choice(cont) for _ in range(rng.randint(0, parts - 1)))
            if len(w) >= 4 and _split_ok(w, split) and (first_piece is None or first_piece(w) == first):
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


def niah_key(rng: random.Random, split: str, kind: str = "word") -> str:
    """A RULER key: `kind` "word" (fresh words, as RULER's word keys) or "uuid" (niah_multikey_3)."""
    if kind == "uuid":
        return uuid_value(rng, split)
    if kind != "word":
        raise ValueError(f"unknown key kind {kind!r}; choose from word, uuid")
    r = rng.random()
    if r < 0.5:  # RULER's word-pair keys, with fresh words
        return f"{pseudo_word(rng, split)}-{pseudo_word(rng, split)}"
    if r < 0.8:
        return pseudo_word(rng, split, (2, 4))
    return letter_string(rng, split)


def uuid_value(rng: random.Random, split: str) -> str:
    """A uuid4-shaped string ("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed") from the rng's bits, as
    RULER's uuid keys and values; train and test parts disjoint (`_is_test`)."""
    while True:
        s = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if _split_ok(s, split):
            return s


# What a RULER value is called in its needle, note and question, by kind: "One of the special
# magic uuids for KEY is: VALUE.", "magic uuid for KEY: VALUE".
NIAH_KINDS = {"number": "number", "uuid": "uuid"}


def niah_value(rng: random.Random, split: str, kind: str = "number") -> str:
    if kind == "number":
        return digits(rng, 6, 7)
    if kind == "uuid":
        return uuid_value(rng, split)
    raise ValueError(f"unknown value kind {kind!r}; choose from {', '.join(NIAH_KINDS)}")


def niah_fact(rng: random.Random, split: str, key: str | None = None, kind: str = "number",
              key_kind: str = "word") -> Fact:
    """A RULER needle: a magic number (7-digit) or, `kind="uuid"`, a magic uuid for `key` (else a
    fresh key of `key_kind`). Numbers draw from the rng exactly as they always have."""
    if kind not in NIAH_KINDS:
        raise ValueError(f"unknown value kind {kind!r}; choose from {', '.join(NIAH_KINDS)}")
    key = key or niah_key(rng, split, key_kind)
    v = niah_value(rng, split, kind)
    name = NIAH_KINDS[kind]
    q = f"What is the special magic {name} for {key} mentioned in the provided text?"
    return Fact("niah", f"One of the special magic {name}s for {key} is: {v}.", f"magic {name} for {key}: {v}",
                [(q, v)])


_NIAH_NOTE = re.compile(r"magic (number|uuid) for (.+): (\S+)")


def parse_niah_note(note: str) -> tuple[str, str, str] | None:
    """(kind, KEY, VALUE) of a "magic number for KEY: VALUE" or "magic uuid for KEY: VALUE"
    note, or None for any other note."""
    m = _NIAH_NOTE.search(note)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def niah_note_key(note: str) -> str:
    """The KEY of a "magic number for KEY: VALUE" or "magic uuid for KEY: VALUE" note."""
    parsed = parse_niah_note(note)
    if parsed is None:
        raise ValueError(f"not a magic number or uuid note: {note!r}")
    return parsed[1]


def multivalue_question(key: str, kind: str = "number") -> str:
    return f"What are all the special magic {NIAH_KINDS[kind]}s for {key} mentioned in the provided text?"


def multiquery_question(keys: list[str], kind: str = "number") -> str:
    ks = ", ".join(keys[:-1]) + f" and {keys[-1]}" if len(keys) > 1 else keys[0]
    return f"What are all the special magic {NIAH_KINDS[kind]}s for {ks} mentioned in the provided text?"


MULTIQUERY_REPLY_TOKENS = 96  # decoding budget for a multiquery reply: four keys run to 80 tokens


def multiquery_reply(keys: list[str], values: list[str]) -> str:
    """The training answer to a multiquery question: each key restated before its value, in the
    order asked ("For KEY: VALUE; for KEY: VALUE."). " for KEY: VALUE" is the tail of that key's
    note, so each value is copied from the one note that holds the key just written, as a
    single-key question's is, instead of the model tracking which key of the question comes next.
    Scoring reads only the values (`score`), so a restated key earns nothing by itself."""
    if len(keys) != len(values) or not keys:
        raise ValueError(f"{len(keys)} keys for {len(values)} values")
    body = "; ".join(f"for {k}: {v}" for k, v in zip(keys, values))
    return "F" + body[1:] + "."


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
