"""Benchmark samples in the published formats, at a length in tokens and a depth.

Every sample is a pure function of (task, length, index, depth, seed): the same document, the
same chat turns and the same question reach every method. Facts come from the test pools of
`memgpt.synth.facts` (never trained on); natural filler is the held-out `legal` style.

Tasks (DESIGN §6):
    passkey            Mohtashami & Jaggi (2023): "The pass key is K. Remember it. K is the pass
                       key." in the repeated "The grass is green. ..." filler, after their preamble
    passkey_natural    the same needle in held-out natural text (`legal` filler)
    niah_*             RULER's eight NIAH configurations (its synthetic.yaml), needle "One of the
                       special magic numbers for KEY is: VALUE." (uuids: "One of the special magic
                       uuids for KEY is: VALUE."), keys fresh words, values 7-digit numbers or
                       uuids. RULER's "essay" haystack (Paul Graham's essays) is the held-out
                       `legal` prose here, its "noise" haystack the grass filler repeated:
    niah_single        niah_single_1: noise haystack, word key, number
    niah_single_2      essay haystack, word key, number
    niah_single_3      essay haystack, word key, uuid
    niah_multikey      niah_multikey_1: the needle plus 3 needles of other keys in the essay
                       haystack (the noise haystack until BENCH_VERSION 3)
    niah_multikey_2    the haystack is made of other keys' needles only; word keys, numbers
    niah_multikey_3    the same needle haystack with uuid keys and uuid values
    niah_multivalue    one key, 4 values (RULER num_needle_v=4), all must be answered; essay
    niah_multiquery    4 keys, one value each (RULER num_needle_q=4), asked in one question; essay
    qa1, qa2, qa3      bAbI (BabiWorld with bAbI's vocabulary and rules): one, two, three
                       supporting facts, the latest state; the story is woven into natural filler
                       at sentence boundaries (BABILong)
    chat               personal facts stated by the user in a chat, asked after filler turns

Length: document tokens of the model's tokenizer (the question is not counted); for `chat`, the
planned tokens of the conversation: user turns as rendered plus REPLY_PLAN tokens per reply (the
replies are the model's, capped at REPLY_TOKENS, so the turns are fixed in advance and identical
for every method; each record's `read_tokens` is what the stream really took). Lengths parse with k = 1000 and M = 10^6 (decimal,
as in "4k context"); "4ki" = 4096 where binary sizes are wanted.

Depth (0-1): where the needed fact sits, as RULER counts it: the fraction of the document's other
tokens that come before it (0 = first, right after the passkey preamble; 1 = last). For several
needed facts the depth is that of the first one asked about (multivalue, multiquery) or of the
last supporting fact (bAbI: earlier events come before it, later events after it); other needles
are spread uniformly. For `chat` the asked fact's turn sits at that depth of the filler turns,
after two other personal facts stated in the first turns (depth 0 = the contract's "stated in
the first turns").
"""
from __future__ import annotations

import hashlib
import random
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from memgpt.synth import facts, filler
from memgpt.tokenizer import Tokenizer

SPLIT = "test"
NATURAL = filler.HELDOUT_STYLES[0]  # "legal": never seen in training
NOISE = "grass"

PASSKEY_PREAMBLE = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                    "I will quiz you about the important information there.")
NIAH_KEYS = 4      # niah_multikey: the asked key plus 3 distractor keys
NIAH_VALUES = 4    # niah_multivalue
NIAH_QUERIES = 4   # niah_multiquery
BABI_EVENTS = {"qa1": 8, "qa2": 10, "qa3": 14}
CHAT_FACTS = 3     # personal facts stated per chat; one is asked
REPLY_TOKENS = 32  # most tokens per assistant reply in `chat` (notes included)
REPLY_PLAN = 16    # tokens a reply is counted as when the chat is planned to a length

# RULER's NIAH configurations: (haystack, key kind, value kind); the needle counts are the tasks'
NIAH_CONFIGS = {
    "niah_single": ("noise", "word", "number"),  # RULER niah_single_1
    "niah_single_2": ("essay", "word", "number"),
    "niah_single_3": ("essay", "word", "uuid"),
    "niah_multikey": ("essay", "word", "number"),  # RULER niah_multikey_1
    "niah_multikey_2": ("needle", "word", "number"),
    "niah_multikey_3": ("needle", "uuid", "uuid"),
    "niah_multivalue": ("essay", "word", "number"),
    "niah_multiquery": ("essay", "word", "number"),
}
NIAH_TASKS = tuple(NIAH_CONFIGS)
UUID_ANSWER_TOKENS = 64  # a uuid is 32-36 tokens of the bundled and SmolLM2 tokenizers

DOCUMENT_TASKS = ("passkey", "passkey_natural", *NIAH_TASKS, "qa1", "qa2", "qa3")
TASKS = DOCUMENT_TASKS + ("chat",)
METHODS = ("window", "rag", "notes", "oracle")  # implemented in memgpt.bench.methods

_SMALLTALK = ("How are you today?", "Thanks!", "Tell me something nice.", "Good morning.", "Can you help me?",
              "What can you do?", "That's interesting.", "Let's keep going.")
_CHAT_LEADS = ("", "I was reading this: ", "Here is a passage: ", "What do you make of this? ")


# ---- lengths ----------------------------------------------------------------------------------
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def parse_length(value: str | int) -> int:
    """Tokens from "1000", "1k" (1000), "64k", "1M" (10^6), "10M", "1.5k", "4ki" (4096)."""
    if isinstance(value, bool):
        raise TypeError("length must be a str or int")
    if isinstance(value, int):
        n = value
    else:
        m = _LENGTH.match(str(value).replace("_", ""))
        if not m:
            raise ValueError(f"bad length {value!r}: use a token count like 1000, 4k, 64k, 1M")
        n = round(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])
    if n < 1:
        raise ValueError(f"length must be at least 1 token, got {value!r}")
    return n


def format_length(n: int) -> str:
    """1000 -> "1k", 64000 -> "64k", 10**6 -> "1M"; other counts as they are."""
    for unit, size in (("M", 10**6), ("k", 10**3)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


# ---- samples ----------------------------------------------------------------------------------
@dataclass
class Sample:
    """One question about one document (or chat), shared by every method."""

    task: str
    length: int                 # requested tokens
    index: int                  # sample number within (task, length)
    depth: float                # requested depth of the needed fact
    question: str
    expected: str               # comma-separated values (RULER scoring)
    support: list[str]          # the supporting sentences (chat: user messages), in order: the oracle's window
    needles: list[list[str]]    # per needed fact, strings that together identify its note or chunk
    document: str = ""          # document tasks: the text to read
    turns: list[str] = field(default_factory=list)  # chat: the user messages, in order
    tokens: int = 0             # document tokens (chat: planned conversation tokens)
    fact_offset: int = 0        # token offset of the fact at `depth`
    fact_tokens: int = 0        # its tokens (chat: its turn's)
    answer_tokens: int = 32     # answer length limit (multi-value answers need more)

    @property
    def is_chat(self) -> bool:
        return self.task == "chat"

    @property
    def actual_depth(self) -> float:
        """Tokens before the fact / all tokens but the fact's (RULER's depth: 1.0 = at the end)."""
        rest = self.tokens - self.fact_tokens
        return self.fact_offset / rest if rest > 0 else 0.0

    def digest(self) -> str:
        """A short hash of everything a method sees: equal digests = identical samples."""
        h = hashlib.sha1()
        for part in (self.task, self.document, *self.turns, self.question, self.expected):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return h.hexdigest()[:16]


class TokenCounter:
    """Token counts of sentences as they appear mid-text (with their leading space), cached.
    With the GPT-2-style split pattern, the count of " ".join(sentences) is the sum of these."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self._cache: dict[str, int] = {}

    def __call__(self, sentence: str) -> int:
        n = self._cache.get(sentence)
        if n is None:
            n = len(self.tok.encode_text(" " + sentence))
            if len(self._cache) < 200_000:
                self._cache[sentence] = n
        return n


_counters: dict[int, TokenCounter] = {}


def _counter(tok: Tokenizer) -> TokenCounter:
    c = _counters.get(id(tok))
    if c is None or c.tok is not tok:
        c = _counters[id(tok)] = TokenCounter(tok)
    return c


def filler_sentences(style: str, rng: random.Random) -> Iterator[str]:
    """Endless filler: the grass sentences in their published order, or prose read in order
    from random starts (filler.passage)."""
    if style == NOISE:
        i = 0
        while True:
            yield filler.GRASS[i % len(filler.GRASS)]
            i += 1
    while True:
        yield from filler.passage(style, rng, 256)


def _truncate(sentence: str, budget: int, count: TokenCounter, from_end: bool = False) -> str:
    """The longest word prefix (suffix, `from_end`) of `sentence` costing at most `budget` tokens
    (may be "")."""
    words = sentence.split(" ")
    best = ""
    for k in range(1, len(words) + 1):
        part = " ".join(words[-k:] if from_end else words[:k])
        if len(count.tok.encode_text(" " + part)) > budget:
            break
        best = part
    return best


def weave(tok: Tokenizer, sentences: Iterator[str], total: int, needles: Sequence[tuple[float, str]],
          head: Sequence[str] = ()) -> tuple[str, list[int]]:
    """A document of about `total` tokens: `head`, then filler with each needle (depth, sentence)
    inserted at the sentence boundary nearest its depth (the fraction of the document's other tokens
    that come before it, so 1.0 is the very end; a needle cannot go before the head or before
    needles of smaller depth). Needles at one boundary keep their
    given order. Returns (text, token offset of each needle, in the order given).
    Filler is counted incrementally (cached per sentence); the last filler sentence drawn is cut
    at a word so the total lands within a token or two of `total`, and its end opens the filler,
    as if the document were cut from a longer text: every needle then follows a sentence's end.
    (Cut at the document's end, a needle due at depth 1.0 came after the fragment and read as
    part of it: "... or a legal entity Sandra travelled to the office.")"""
    count = _counter(tok)
    head_tokens = sum(count(s) for s in head)
    budget = max(0, total - head_tokens - sum(count(s) for _, s in needles))
    fill: list[str] = []
    cum = [0]  # tokens of filler before boundary i
    while cum[-1] < budget:
        s = next(sentences)
        c = count(s)
        if cum[-1] + c > budget:
            s = _truncate(s, budget - cum[-1], count, from_end=True)
            if s:  # every boundary moves on by the fragment's tokens
                c = count(s)
                fill.insert(0, s)
                cum = [0] + [c + x for x in cum]
            break
        fill.append(s)
        cum.append(cum[-1] + c)
    at: dict[int, list[int]] = {}  # boundary -> needle indices, in insertion order
    total_tokens = head_tokens + cum[-1] + sum(count(s) for _, s in needles)
    earlier = 0  # tokens of the needles placed before this one
    for i, (d, _) in sorted(enumerate(needles), key=lambda x: (x[1][0], x[0])):
        # the filler offset that puts this needle at depth d of the rest of the document
        rest = total_tokens - count(needles[i][1])
        target = min(max(min(max(d, 0.0), 1.0) * rest - head_tokens - earlier, 0), cum[-1])
        earlier += count(needles[i][1])
        b = bisect_left(cum, target)
        if b > 0 and (b == len(cum) or target - cum[b - 1] <= cum[b] - target):
            b -= 1
        at.setdefault(b, []).append(i)
    parts = list(head)
    offsets = [0] * len(needles)
    pos = head_tokens
    for b in range(len(fill) + 1):
        for i in at.get(b, ()):
            offsets[i] = pos
            parts.append(needles[i][1])
            pos += count(needles[i][1])
        if b < len(fill):
            parts.append(fill[b])
            pos += cum[b + 1] - cum[b]
    return " ".join(parts), offsets


# ---- the task generators -------------------------------------------------------------------------
def _doc_sample(tok: Tokenizer, task: str, length: int, index: int, depth: float, haystack: Iterator[str],
                needles: list[tuple[float, str]], question: str, expected: str, support: list[str],
                ids: list[list[str]], main: int = 0, head: Sequence[str] = (), answer_tokens: int = 32) -> Sample:
    """Weave `needles` into `haystack`; `main` is the needle whose depth the sample reports."""
    text, offsets = weave(tok, haystack, length, needles, head)
    return Sample(task, length, index, depth, question, expected, support, ids, document=text,
                  tokens=len(tok.encode_text(text)), fact_offset=offsets[main],
                  fact_tokens=_counter(tok)(needles[main][1]), answer_tokens=answer_tokens)


def _passkey(tok, task, length, index, depth, rng, style):
    f = facts.passkey_fact(rng, SPLIT)
    k = f.qa[0][1]
    return _doc_sample(tok, task, length, index, depth, filler_sentences(style, rng), [(depth, f.sentence)],
                       "What is the pass key?", k, [f.sentence], [[k]], head=[PASSKEY_PREAMBLE])


def _keys(rng: random.Random, n: int, exclude: Sequence[str] = (), kind: str = "word") -> list[str]:
    """n distinct fresh RULER keys of `kind`, none of them in `exclude`."""
    keys: list[str] = []
    while len(keys) < n:
        k = facts.niah_key(rng, SPLIT, kind)
        if k not in keys and k not in exclude:
            keys.append(k)
    return keys


def _haystack(kind: str, rng: random.Random, key: str, key_kind: str, value_kind: str) -> Iterator[str]:
    if kind == "needle":
        return _needle_haystack(rng, key, key_kind, value_kind)
    return filler_sentences(NATURAL if kind == "essay" else NOISE, rng)


def _niah(tok, task, length, index, depth, rng):
    haystack, key_kind, kind = NIAH_CONFIGS[task]
    if task not in ("niah_multivalue", "niah_multiquery"):
        key = _keys(rng, 1, kind=key_kind)[0]
        f = facts.niah_fact(rng, SPLIT, key, kind)
        q, v = f.qa[0]
        needles = [(depth, f.sentence)]
        if task == "niah_multikey":  # distractor needles of other keys, at random depths
            needles += [(rng.random(), facts.niah_fact(rng, SPLIT, k, kind).sentence)
                        for k in _keys(rng, NIAH_KEYS - 1, [key], key_kind)]
        return _doc_sample(tok, task, length, index, depth, _haystack(haystack, rng, key, key_kind, kind), needles,
                           q, v, [f.sentence], [[v]], answer_tokens=UUID_ANSWER_TOKENS if kind == "uuid" else 32)
    if task == "niah_multivalue":
        key = _keys(rng, 1)[0]
        fs = _distinct_values(rng, [key] * NIAH_VALUES)
        question = facts.multivalue_question(key)
    else:
        keys = _keys(rng, NIAH_QUERIES)
        fs = _distinct_values(rng, keys)
        question = facts.multiquery_question(keys)
    # the first needle asked about sits at the depth, the others anywhere
    needles = [(depth if i == 0 else rng.random(), f.sentence) for i, f in enumerate(fs)]
    vals = [f.qa[0][1] for f in fs]
    order = sorted(range(len(fs)), key=lambda i: (needles[i][0], i))  # document order, for the oracle
    return _doc_sample(tok, task, length, index, depth, _haystack(haystack, rng, "", key_kind, kind), needles,
                       question, ", ".join(vals), [fs[i].sentence for i in order], [[v] for v in vals],
                       answer_tokens=facts.MULTIQUERY_REPLY_TOKENS if task == "niah_multiquery" else 64)


def _distinct_values(rng: random.Random, keys: list[str]) -> list[facts.Fact]:
    """One needle per key, all values different (a repeated value would be scored twice)."""
    fs: list[facts.Fact] = []
    while len(fs) < len(keys):
        f = facts.niah_fact(rng, SPLIT, keys[len(fs)])
        if all(f.qa[0][1] != g.qa[0][1] for g in fs):
            fs.append(f)
    return fs


def _needle_haystack(rng: random.Random, key: str, key_kind: str = "word", kind: str = "number") -> Iterator[str]:
    """Endless needles of other keys (RULER's "needle" haystack); a key is never reused."""
    used = {key}
    while True:
        k = facts.niah_key(rng, SPLIT, key_kind)
        if k in used:
            continue
        used.add(k)
        yield facts.niah_fact(rng, SPLIT, k, kind).sentence


def _babi_story(rng: random.Random, task: str) -> tuple[list[facts.Fact], str, str, list[int]]:
    """Events of a bAbI world and one question about its final state:
    (events, question, answer, indices of the supporting events)."""
    kinds = "move" if task == "qa1" else "all"
    while True:
        w = facts.BabiWorld(rng, SPLIT, babi_vocab=True)
        events: list[facts.Fact] = []
        last_move: dict[str, int] = {}
        last_get: dict[str, int] = {}
        support_now: dict[str, list[int]] = {}      # object -> events fixing its current place
        support_hist: dict[str, list[list[int]]] = {}  # object -> support of each place entered
        for e in range(BABI_EVENTS[task]):
            before = {o: len(h) for o, h in w.obj_hist.items()}
            f = w.step(kinds)
            events.append(f)
            words = f.note.split()
            who = words[0]
            if " is in the " in f.note:
                last_move[who] = e
                for o, h in w.holder.items():
                    if h == who:
                        support_now[o] = sorted({last_get[o], e})
            else:
                o = words[-1]
                if " has the " in f.note:
                    last_get[o] = e
                support_now[o] = sorted({last_move[who], e})
            for o, h in w.obj_hist.items():
                if len(h) > before.get(o, 0):
                    support_hist.setdefault(o, []).append(support_now[o])
        qs = w.questions()[task]
        if not qs:
            continue
        q, a = rng.choice(qs)
        if task == "qa1":
            sup = [last_move[q[len("Where is "):-1]]]
        else:
            o = q.split(" the ", 1)[1].split()[0].rstrip("?")
            sup = support_now[o] if task == "qa2" else sorted(set(support_hist[o][-2]) | set(support_hist[o][-1]))
        return events, q, a, sup


def _babi(tok, task, length, index, depth, rng):
    events, q, a, sup = _babi_story(rng, task)
    last = max(sup)
    before = sorted(rng.uniform(0, depth) for _ in range(last))
    after = sorted(rng.uniform(depth, 1) for _ in range(len(events) - last - 1))
    depths = before + [depth] + after
    needles = list(zip(depths, (f.sentence for f in events)))
    ids = []
    for i in sup:
        words = events[i].note.split()
        ids.append([words[0], words[-1]])  # person and place, or person and object
    return _doc_sample(tok, task, length, index, depth, filler_sentences(NATURAL, rng), needles, q, a,
                       [events[i].sentence for i in sup], ids, main=last, answer_tokens=facts.BABI_REPLY_TOKENS)


def _chat(tok, task, length, index, depth, rng):
    slots = rng.sample([s[0] for s in facts.CHAT_SLOTS], CHAT_FACTS)
    stated = [facts.chat_fact(rng, SPLIT, s) for s in slots]
    asked, others = stated[0], stated[1:]
    value = asked.note.split(": ", 1)[1]
    question = rng.choice(asked.qa)[0]

    def cost(msg: str) -> int:  # the user turn as rendered, <|assistant|>, the reply and its <|end|>
        return len(tok.render_prompt_for_reply(msg)) + REPLY_PLAN + 1

    head = [f.sentence for f in others]
    budget = max(0, length - sum(cost(m) for m in head) - cost(asked.sentence))
    fill: list[str] = []
    cum = [0]
    prose = filler_sentences(NATURAL, rng)
    while True:
        if rng.random() < 0.2:
            msg = rng.choice(_SMALLTALK)
        else:
            msg = rng.choice(_CHAT_LEADS) + " ".join(next(prose) for _ in range(rng.randint(1, 3)))
        c = cost(msg)
        if cum[-1] + c > budget:  # the last turn: cut it at a word to land on the length
            room = budget - cum[-1] - (c - len(tok.encode_text(msg)))
            msg = _truncate(msg, room, _counter(tok)) if room >= 4 else ""
            if not msg:
                break
            c = cost(msg)
        fill.append(msg)
        cum.append(cum[-1] + c)
        if cum[-1] >= budget:
            break
    target = depth * cum[-1]
    b = min(range(len(cum)), key=lambda i: abs(cum[i] - target))
    turns = head + fill[:b] + [asked.sentence] + fill[b:]
    offset = sum(cost(m) for m in head) + cum[b]
    return Sample(task, length, index, depth, question, value, [asked.sentence], [[value]], turns=turns,
                  tokens=sum(cost(m) for m in turns), fact_offset=offset, fact_tokens=cost(asked.sentence))


_GENERATORS: dict[str, Callable[..., Sample]] = {
    "passkey": lambda tok, t, L, i, d, rng: _passkey(tok, t, L, i, d, rng, NOISE),
    "passkey_natural": lambda tok, t, L, i, d, rng: _passkey(tok, t, L, i, d, rng, NATURAL),
    **{t: _niah for t in NIAH_TASKS},
    **{t: _babi for t in ("qa1", "qa2", "qa3")},
    "chat": _chat,
}
assert set(_GENERATORS) == set(TASKS)


def make_sample(tok: Tokenizer, task: str, length: int | str, index: int = 0, depth: float = 0.5,
                seed: int = 0) -> Sample:
    """The sample `index` of `task` at `length` tokens with its fact at `depth`: deterministic in
    (task, length, index, depth, seed) and independent of every other sample."""
    if task not in _GENERATORS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be in [0, 1], got {depth}")
    length = parse_length(length)
    rng = random.Random(f"memgpt-bench|{seed}|{task}|{length}|{index}|{depth:.6f}")  # str seeds hash stably
    return _GENERATORS[task](tok, task, length, index, float(depth), rng)


def sample_depths(samples: int, depths: Sequence[float] | None = None) -> list[float]:
    """The depth of each sample index: `depths` in turn, or spread evenly over [0, 1]."""
    if depths:
        return [float(depths[i % len(depths)]) for i in range(samples)]
    if samples == 1:
        return [0.5]
    return [round(i / (samples - 1), 4) for i in range(samples)]
