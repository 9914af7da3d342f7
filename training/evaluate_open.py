"""Open-domain evaluation of a note-taker (issue 26, item 4), measured through the public API.

    python -m memgpt.training.evaluate_open --model smollm2-notes [--n N] [--seed S] [--out DIR]
        [--parts notes,falsenotes,chat,update,docs,bench,kept,latency]

Everything runs through `memgpt.load` / `ingest` / `chat` / `ask` (greedy), on the held-out
relation types (`relations.HELDOUT`, with test values) and the held-out prose style (`fortunes`),
except where a part names otherwise. Parts, each with its figures and the issue's bars:

- `notes`: held-out-style prose with held-out document facts inserted at sentence boundaries
  (`open_corpus.reading_example`, split "test") is read by `ingest`. Recall = facts with a note
  whose key and value are right; precision = notes that are one of the document's facts.
  Key = the text before the first ": "; keys and values compared after `normalise` (case,
  whitespace, punctuation), a multi-valued value as a set of its parts. A key is right when it
  names the fact's subject and relation: the catalog's wording or another wording of that
  relation (`training/key_aliases.json`, written blind to any model's notes: "main act" for
  "headliner"), since a held-out type's catalog wording is in only a quarter of its statement
  forms. Recall and precision with the catalog's wording alone are reported beside them. Bars:
  both >= 0.95.
  Misses are counted per domain and by kind (no note, wrong value, value under another key).
- `falsenotes`: notes per 10k tokens of fact-free prose read by `ingest`, per style never trained
  on: `fortunes` (held out of the open corpus), `legal` (the tiny model's held-out filler:
  Python's licence and Debian's common-licenses) and `comments` (Python standard-library code
  comments: the corpus reads the stdlib's docstrings, never its `#` comments; licence and
  copyright comments are left out, as they are `legal`). Bar: <= 1 per 10k tokens on each, on
  >= 3 styles.
- `chat`: a conversation: user facts stated in natural words (2 held-out and 2 trained relation
  types per chat, test values), `--turns` turns of held-out small talk, then each fact asked in
  other words. Correct when the reply contains the value (normalised, at word boundaries).
  Reported per relation split (bars: trained >= 0.95, held-out >= 0.90), with every miss put
  down to: no right note written / written but not in the `<|mem|>` block (`bot.injected`) /
  in the block but not answered. Also how many facts were asked from beyond the window.
- `update`: a fact, small talk, an update ("Actually, ..."), small talk, the question: the reply
  must hold the new value. Bar: >= 0.90.
- `docs`: facts (held-out document relations) at random depths of `--doc-lengths`-token
  held-out-style prose, read by `ingest`, each asked with `ask` in other words. Bar per length:
  >= 0.90. Retrieval misses as in `chat`.
- `bench`: `memgpt.bench.run` (method `notes`) on passkey, the RULER niah tasks it has, qa1 and
  chat at `--bench-lengths`; bar per task and length: >= 0.95. RULER's eight niah configurations
  are listed against the tasks that stand for them (all eight, UUID keys and values included).
- `kept`: 50 prompts (held-out small-talk prompts of the open corpus and general-knowledge
  questions written here) answered greedily by `--base` and by the model; side by side in
  `kept.md`; the mean log-likelihood per token, under the base, of the model's replies against
  the base's own replies. Bar: at most 10% lower.
- `latency`: seconds per chat turn (notes, retrieval and a ~30-token reply together) in one
  growing conversation, after a warm-up turn. Bar: p50 <= 3 s.

Output in --out: `results.json` (every figure with its bar and pass flag, per part),
`summary.md` (printed too), `records.jsonl` (one line per example, to read the misses),
`kept.md` (the side-by-side replies) and `bench/` (the benchmark runner's own output).
Deterministic in --seed (example i of a part comes from its own seeded generator; decoding is
greedy); only the timings vary.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import random
import re
import sys
import time
import traceback
import unicodedata
from typing import Any, Callable, Iterable, Sequence

PARTS = ("notes", "falsenotes", "chat", "update", "docs", "bench", "kept", "latency")

# the bars: (operator, threshold)
BARS: dict[str, tuple[str, float]] = {
    "notes_recall": (">=", 0.95), "notes_precision": (">=", 0.95),
    "false_notes_per_10k": ("<=", 1.0), "false_note_styles": (">=", 3),
    "chat_trained": (">=", 0.95), "chat_heldout": (">=", 0.90),
    "update": (">=", 0.90),
    "docs": (">=", 0.90),
    "bench": (">=", 0.95), "ruler_configs": (">=", 8),
    "kept_loglik_drop": ("<=", 0.10),
    "latency_p50_s": ("<=", 3.0),
}

# examples per part when --n is not given
DEFAULT_N = {"notes": 40, "falsenotes": 10, "chat": 10, "update": 20, "docs": 10, "bench": 5, "kept": 50,
             "latency": 20}
KEPT_PROMPTS = 50
FALSE_STYLES = ("fortunes", "shakespeare", "wordnet", "legal", "comments")  # none trained on
DOC_FACTS = 4          # facts per `docs` document
CHAT_FACTS = (2, 2)    # held-out and trained relation types per `chat` conversation
UPDATE_GAP = 5         # small-talk turns between fact, update and question
ANSWER_TOKENS = 48     # tokens decoded for an answer
LATENCY_REPLY = 30     # reply tokens of a latency turn
BENCH_TASKS = ("passkey", "niah_single", "niah_single_2", "niah_single_3", "niah_multikey", "niah_multikey_2",
               "niah_multikey_3", "niah_multivalue", "niah_multiquery", "qa1", "chat")

# RULER's published niah configurations and the memgpt.bench task that stands for each (None: none yet;
# RULER's "essay" haystack, Paul Graham's essays, is held-out prose here: see memgpt.bench.tasks)
RULER_CONFIGS: tuple[tuple[str, str | None, str], ...] = (
    ("niah_single_1", "niah_single", "noise haystack, word key, number value"),
    ("niah_single_2", "niah_single_2", "essay haystack, word key, number value"),
    ("niah_single_3", "niah_single_3", "essay haystack, word key, UUID value"),
    ("niah_multikey_1", "niah_multikey", "essay haystack, 4 keys, word keys, number values"),
    ("niah_multikey_2", "niah_multikey_2", "haystack of other keys' needles, word keys, number values"),
    ("niah_multikey_3", "niah_multikey_3", "haystack of other keys' needles, UUID keys and UUID values"),
    ("niah_multivalue", "niah_multivalue", "essay haystack, 4 values of one key"),
    ("niah_multiquery", "niah_multiquery", "essay haystack, 4 keys asked at once"),
)

# general-knowledge prompts for `kept` (the held-out small-talk prompts come from open_corpus)
GENERAL_KNOWLEDGE: tuple[str, ...] = (
    "What is the boiling point of water at sea level?", "Who wrote Pride and Prejudice?",
    "What is the largest planet in the solar system?", "How many continents are there?",
    "What gas do plants take in from the air?", "Who painted the Mona Lisa?", "What is the chemical symbol for gold?",
    "Which ocean is the largest?", "What does DNA stand for?", "Who was the first person to walk on the moon?",
    "What is the capital of Canada?", "How many sides does a hexagon have?", "What is the main ingredient in guacamole?",
    "Why do we have seasons?", "What is an atom made of?", "What does the heart do in the body?",
    "What is the difference between a noun and a verb?", "How many minutes are there in a day?",
    "What language is spoken in Brazil?", "Who developed the theory of relativity?",
    "What is the smallest prime number?", "What are the three states of matter?",
    "Which planet is known as the Red Planet?", "What is the freezing point of water in Fahrenheit?",
    "Roughly how fast does sound travel in air?",
)


# =============================================================================================
# scoring (pure)

_NON_WORD = re.compile(r"[^\w\s]|_")
_PARTS_SPLIT = re.compile(r",|;| and | & ")


def normalise(text: str) -> str:
    """Case, whitespace and punctuation normalised: NFKC, casefolded, every punctuation mark a
    space, runs of whitespace one space, no space at the ends ("Tulip-4421 " -> "tulip 4421")."""
    t = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", t).split())


def split_note(text: str) -> tuple[str, str]:
    """(key, value): the text before the first ": " and after it; ("text", "") without one."""
    key, sep, value = text.partition(": ")
    return (key.strip(), value.strip()) if sep else (text.strip(), "")


def value_parts(value: str) -> list[str]:
    """A note value as the sorted list of its normalised parts ("Jonah, Mateo" = "Mateo and Jonah")."""
    parts = [normalise(p) for p in _PARTS_SPLIT.split(value)]
    return sorted(p for p in parts if p)


@functools.lru_cache(maxsize=4096)
def _keys(expected_key: str, strict: bool) -> frozenset[str]:
    from memgpt.training.relations import accepted_keys
    return frozenset(normalise(k) for k in ((expected_key,) if strict else accepted_keys(expected_key)))


def key_matches(written: str, expected: str, strict: bool = False) -> bool:
    """The written note's key names the expected relation of the expected subject: the catalog's
    key, or (unless `strict`) one of its relation's other wordings (`relations.accepted_keys`)."""
    return normalise(split_note(written)[0]) in _keys(split_note(expected)[0], strict)


def value_matches(written: str, expected: str) -> bool:
    w, e = value_parts(split_note(written)[1]), value_parts(split_note(expected)[1])
    return bool(e) and w == e


def note_matches(written: str, expected: str, strict: bool = False) -> bool:
    """A written note is the expected one: key and value right after normalisation."""
    return key_matches(written, expected, strict) and value_matches(written, expected)


def classify_fact(written: Sequence[str], expected: str, strict: bool = False) -> str:
    """What became of one expected note among the written ones: "ok", "wrong_value" (its key
    with another value), "wrong_key" (its value under another key) or "missing"."""
    if any(note_matches(w, expected, strict) for w in written):
        return "ok"
    if any(key_matches(w, expected, strict) for w in written):
        return "wrong_value"
    if any(value_matches(w, expected) for w in written):
        return "wrong_key"
    return "missing"


def match_notes(written: Sequence[str], expected: Sequence[str], strict: bool = False) -> dict:
    """Recall and precision counts of one document: facts with a right note (`found`), notes
    that are one of the facts (`correct`), and the misses and false notes themselves. `strict`:
    only the catalog's own key wording counts."""
    kinds = [classify_fact(written, e, strict) for e in expected]
    false = [w for w in written if not any(note_matches(w, e, strict) for e in expected)]
    return {"facts": len(expected), "found": kinds.count("ok"), "notes": len(written),
            "correct": len(written) - len(false), "kinds": kinds, "false_notes": false}


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when there is nothing to divide by."""
    return num / den if den else None


def recall_precision(matches: Iterable[dict]) -> tuple[float | None, float | None]:
    """Pooled (recall, precision) over documents' `match_notes` counts; None where undefined
    (no facts; no notes written)."""
    ms = list(matches)
    return (ratio(sum(m["found"] for m in ms), sum(m["facts"] for m in ms)),
            ratio(sum(m["correct"] for m in ms), sum(m["notes"] for m in ms)))


def per_10k(notes: int, tokens: int) -> float | None:
    """Notes per 10,000 tokens read."""
    return ratio(notes * 10_000, tokens)


def answer_contains(answer: str, values: Sequence[str]) -> bool:
    """Every value is in the answer, normalised, at word boundaries ("Leo" is not in "Leon")."""
    a = f" {normalise(answer)} "
    vs = [normalise(v) for v in values]
    return bool(vs) and all(v and f" {v} " in a for v in vs)


def loglik_drop(model_logp: float, model_tokens: int, base_logp: float, base_tokens: int) -> float | None:
    """How much lower the mean log-likelihood per token of the model's replies is than that of
    the base's own replies, as a fraction of the latter's size (0.1: 10% lower; negative: higher)."""
    m, b = ratio(model_logp, model_tokens), ratio(base_logp, base_tokens)
    if m is None or b is None or b == 0:
        return None
    return (b - m) / abs(b)


def percentile(xs: Sequence[float], q: float) -> float | None:
    """The q-quantile (0-1) by linear interpolation; p50 is the median."""
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def passes(value: float | None, bar: tuple[str, float] | None) -> bool | None:
    """Whether a figure meets its bar (None without a bar; False without a value)."""
    if bar is None:
        return None
    if value is None:
        return False
    op, t = bar
    return value >= t if op == ">=" else value <= t


def figure(name: str, value: float | None, bar: str | tuple[str, float] | None = None, n: int | None = None,
           **extra: Any) -> dict:
    """One reported figure: its value, its bar ("op threshold") and whether it passes."""
    b = BARS[bar] if isinstance(bar, str) else bar
    out = {"name": name, "value": None if value is None else round(float(value), 6),
           "bar": None if b is None else f"{b[0]} {b[1]:g}", "pass": passes(value, b)}
    if n is not None:
        out["n"] = n
    return {**out, **extra}


def part_result(figures: list[dict], details: dict | None = None) -> dict:
    """A part: its figures, pass when every barred figure passes (and there is one), details."""
    barred = [f for f in figures if f["bar"] is not None]
    return {"figures": figures, "pass": bool(barred) and all(f["pass"] for f in barred), "details": details or {}}


# =============================================================================================
# prose never trained on


def _prose_like(p: str, min_words: int = 8, min_alpha: float = 0.72) -> bool:
    chars = [c for c in p if not c.isspace()]
    if not chars or len(p.split()) < min_words or p.rstrip()[-1] not in ".!?\"')":
        return False
    if sum(c.isalpha() for c in chars) / len(chars) < min_alpha:
        return False
    return sum(p.count(c) for c in "(){}[]=_<>|`") <= 4


_LEGALISH = re.compile(r"copyright|licen[cs]e|warrant|\(c\)|all rights reserved|spdx", re.IGNORECASE)
_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "pydoc_data", "lib2to3", "__pycache__", "turtledemo"}


@functools.lru_cache(maxsize=None)
def comment_paragraphs(root: str | None = None) -> tuple[str, ...]:
    """Prose paragraphs of the Python standard library's `#` comments (never its docstrings, which
    the corpus reads; never licence or copyright lines, which are the `legal` style): runs of
    whole-line comments, split at empty comment lines, that read as sentences."""
    import sysconfig

    from memgpt.training.prose import is_forbidden
    root = root or sysconfig.get_paths()["stdlib"]
    seen: set[str] = set()
    out: list[str] = []

    def flush(block: list[str]) -> None:
        p = " ".join(" ".join(block).split())
        block.clear()
        if p and p not in seen and _prose_like(p) and not _LEGALISH.search(p) and not is_forbidden(p):
            seen.add(p)
            out.append(p)

    for dirpath, dirnames, filenames in os.walk(root):  # dirnames pruned and sorted in place: a fixed order
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for fn in sorted(f for f in filenames if f.endswith(".py")):
            try:
                with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                    lines = f.read().split("\n")
            except (OSError, UnicodeDecodeError):
                continue
            block: list[str] = []
            for line in lines:
                s = line.strip()
                if s.startswith("#") and not s.startswith("#!") and "-*-" not in s:
                    text = s.lstrip("#").strip()
                    if text:
                        block.append(text)
                    else:
                        flush(block)
                else:
                    flush(block)
            flush(block)
    return tuple(out)


def style_paragraphs(style: str) -> tuple[str, ...]:
    """The paragraphs of a fact-free style: `comments` (above), or a style of `training.prose`
    (raises ProseSourceMissing when its source is not installed). `legal` is read sentence by
    sentence through `memgpt.synth.filler` instead (see `fact_free_text`)."""
    if style == "comments":
        paras = comment_paragraphs()
        if not paras:
            raise RuntimeError("no prose found in the standard library's comments")
        return paras
    from memgpt.training.prose import paragraphs
    return paragraphs(style)


def fact_free_text(style: str, rng: random.Random, tok, tokens: int) -> str:
    """At least `tokens` tokens of one style's prose: consecutive paragraphs from a random start
    (`legal`: consecutive sentences of the filler, five to a paragraph)."""
    if style == "legal":
        from memgpt.synth import filler
        sents = filler.passage("legal", rng, max(10, tokens // 4))  # licence sentences run ~25 tokens
        paras = [" ".join(sents[i:i + 5]) for i in range(0, len(sents), 5)]
        start = 0
    else:
        paras = list(style_paragraphs(style))
        start = rng.randrange(len(paras))
    out: list[str] = []
    total = 0
    for i in range(len(paras)):
        p = paras[(start + i) % len(paras)]
        out.append(p)
        total += len(tok.encode_text(p)) + 1
        if total >= tokens:
            break
    return "\n\n".join(out)


# =============================================================================================
# the runs


@dataclasses.dataclass
class Settings:
    model: str
    base: str = "smollm2-base"
    n: int | None = None
    seed: int = 0
    out: str = "eval_open"
    parts: tuple[str, ...] = PARTS
    turns: int = 30                       # small-talk turns between stating and asking (chat)
    reply_tokens: int = 64                # tokens of a small-talk / statement reply
    doc_lengths: tuple[int, ...] = (8000, 64000)
    false_styles: tuple[str, ...] = FALSE_STYLES
    false_tokens: int = 2000              # tokens per fact-free passage
    notes_chars: tuple[int, int] = (1500, 4000)
    bench_tasks: tuple[str, ...] = BENCH_TASKS
    bench_lengths: tuple[int, ...] = (4000,)
    device: str | None = None
    progress: bool = True
    note_threshold: float | None = None   # the engine's (EngineConfig.note_threshold) for reading; None: its default

    def count(self, part: str) -> int:
        n = self.n if self.n is not None else DEFAULT_N[part]
        return min(n, KEPT_PROMPTS) if part == "kept" else n


class Run:
    """A loaded model, the settings and the records sink shared by the parts."""

    def __init__(self, settings: Settings, bot, sink):
        self.s, self.bot, self.sink = settings, bot, sink
        self.tok = bot.tokenizer

    def rng(self, part: str, i: int | str) -> random.Random:
        return random.Random(f"evaluate_open|{self.s.seed}|{part}|{i}")

    def record(self, part: str, **rec: Any) -> dict:
        rec = {"part": part, **rec}
        self.sink.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        self.sink.flush()
        return rec

    def bar(self, it: Iterable, part: str, total: int | None = None):
        from tqdm.auto import tqdm
        return tqdm(it, desc=part, total=total, disable=not self.s.progress, dynamic_ncols=True, leave=False)

    def fresh(self) -> None:
        """A new conversation with an empty notebook (the loaded model is kept)."""
        self.bot.reset()
        self.bot.memory.delete_all()

    def notes(self) -> list[str]:
        m = self.bot.memory
        return [n.text for n in m.list(limit=max(1, len(m)))]

    def chat(self, message: str, max_new_tokens: int) -> str:
        return self.bot.chat(message, temperature=0, max_new_tokens=max_new_tokens)


def _heldout_doc_relations():
    from memgpt.training.relations import relations_for
    return relations_for("test", which="heldout", user=False)


def _heldout_prose():
    from memgpt.training.prose import HELDOUT_STYLES, Prose
    return Prose(styles=HELDOUT_STYLES)


# ---- notes ------------------------------------------------------------------------------------

def part_notes(run: Run) -> dict:
    from memgpt.training.open_corpus import reading_example
    prose, rels = _heldout_prose(), _heldout_doc_relations()
    matches, strict, by_domain = [], [], {}
    miss_kinds = {"missing": 0, "wrong_value": 0, "wrong_key": 0}
    tokens = 0
    for i in run.bar(range(run.s.count("notes")), "notes"):
        ex = reading_example(run.rng("notes", i), "test", prose=prose, relations=rels, n_facts=(1, 6),
                             n_chars=run.s.notes_chars, style=prose.styles[0])
        text = "".join(t for t, _ in ex["segments"])
        run.fresh()
        written = [n.text for n in run.bot.ingest(text)]
        tokens += run.bot.last_ingest.tokens
        expected = [f["note"] for f in ex["facts"]]
        m = match_notes(written, expected)
        matches.append(m)
        strict.append(match_notes(written, expected, strict=True))
        for f, kind in zip(ex["facts"], m["kinds"]):
            d = by_domain.setdefault(f["domain"], {"facts": 0, "missed": 0})
            d["facts"] += 1
            if kind != "ok":
                d["missed"] += 1
                miss_kinds[kind] += 1
        run.record("notes", index=i, style=ex["style"], tokens=run.bot.last_ingest.tokens,
                   facts=[{"note": f["note"], "relation": f["relation"], "domain": f["domain"],
                           "statement": f["statement"], "result": k} for f, k in zip(ex["facts"], m["kinds"])],
                   written=written, false_notes=m["false_notes"])
    recall, precision = recall_precision(matches)
    nf, nn = sum(m["facts"] for m in matches), sum(m["notes"] for m in matches)
    strict_recall, strict_precision = recall_precision(strict)
    figs = [figure("recall", recall, "notes_recall", nf), figure("precision", precision, "notes_precision", nn),
            figure("recall, the catalog's own key wording only", strict_recall, None, nf),
            figure("precision, the catalog's own key wording only", strict_precision, None, nn),
            figure("false notes per 10k tokens (documents with facts)",
                   per_10k(sum(len(m["false_notes"]) for m in matches), tokens), None, tokens)]
    return part_result(figs, {"per_domain": dict(sorted(by_domain.items())), "miss_kinds": miss_kinds,
                              "documents": len(matches), "tokens": tokens})


# ---- falsenotes -------------------------------------------------------------------------------

def part_falsenotes(run: Run) -> dict:
    figs, details = [], {}
    measured = 0
    for style in run.s.false_styles:
        try:
            fact_free_text(style, random.Random(0), run.tok, 1)
        except Exception as e:  # a source missing on this machine: said, not hidden
            details[style] = {"missing": str(e)}
            figs.append(figure(f"{style}: notes per 10k tokens", None, "false_notes_per_10k", 0, missing=str(e)))
            continue
        notes = tokens = 0
        for i in run.bar(range(run.s.count("falsenotes")), f"falsenotes {style}"):
            text = fact_free_text(style, run.rng(f"falsenotes-{style}", i), run.tok, run.s.false_tokens)
            run.fresh()
            written = [n.text for n in run.bot.ingest(text)]
            notes += len(written)
            tokens += run.bot.last_ingest.tokens
            run.record("falsenotes", style=style, index=i, tokens=run.bot.last_ingest.tokens, notes=written,
                       text_start=text[:200])
        measured += 1
        details[style] = {"notes": notes, "tokens": tokens}
        figs.append(figure(f"{style}: notes per 10k tokens", per_10k(notes, tokens), "false_notes_per_10k", tokens))
    figs.append(figure("styles measured", measured, "false_note_styles"))
    return part_result(figs, details)


# ---- chat and update --------------------------------------------------------------------------

def _smalltalk(rng: random.Random, k: int) -> list[str]:
    from memgpt.training.open_corpus import smalltalk_prompts
    pool = list(smalltalk_prompts("test"))
    out: list[str] = []
    while len(out) < k:
        p = rng.choice(pool)
        if not out or p != out[-1]:
            out.append(p)
    return out


def _statement(rng: random.Random, f) -> str:
    """A fact as a user would say it: its statement, now and then after a greeting."""
    from memgpt.training.open_corpus import GREETINGS
    from memgpt.training.relations import statement_after_lead
    if rng.random() < 0.3:
        g = rng.choice(GREETINGS)
        return g + (f.statement if g.endswith((". ", "! ", ": ")) else statement_after_lead(f))
    return f.statement


def _question(rng: random.Random, questions: Sequence[str]) -> str:
    """One of a fact's questions (other words than its statement), now and then after a lead."""
    from memgpt.training.open_corpus import QUESTION_LEADS
    q, lead = rng.choice(list(questions)), rng.choice(QUESTION_LEADS)
    if lead and not lead.endswith(("? ", ": ")) and not q.startswith(("I ", "I'")):
        q = q[:1].lower() + q[1:]
    return lead + q


def _user_facts(rng: random.Random, which: str, k: int, taken: set[str]) -> list:
    from memgpt.training.relations import draw_fact, relations_for
    rels = relations_for("test", which=which, user=True)
    out = []
    for _ in range(50 * max(k, 1)):
        if len(out) == k:
            break
        f = draw_fact(rng, "test", relations=rels)
        if f.key not in taken:
            taken.add(f.key)
            out.append(f)
    return out


def _ask_and_check(run: Run, question: str, note: str, values: Sequence[str], use_ask: bool = False) -> dict:
    """Ask; then: correct, was the right note written (and how), was it in the <|mem|> block."""
    reply = run.bot.ask(question, max_new_tokens=ANSWER_TOKENS) if use_ask else run.chat(question, ANSWER_TOKENS)
    injected = [n.text for n in run.bot.injected]
    stored = run.notes()
    written = classify_fact(stored, note)
    retrieved = any(note_matches(w, note) for w in injected)
    correct = answer_contains(reply, values)
    miss = None if correct else ("not_written" if written != "ok" else "not_retrieved" if not retrieved else "answer")
    return {"question": question, "expected": list(values), "note": note, "answer": reply, "correct": correct,
            "written": written, "retrieved": retrieved, "miss": miss, "injected": injected}


def _miss_counts(recs: Sequence[dict]) -> dict:
    out = {"not_written": 0, "not_retrieved": 0, "answer": 0}
    for r in recs:
        if r["miss"]:
            out[r["miss"]] += 1
    return out


def part_chat(run: Run) -> dict:
    results: dict[str, list[dict]] = {"trained": [], "heldout": []}
    chat_notes = smalltalk_turns = false_chat_notes = 0
    for i in run.bar(range(run.s.count("chat")), "chat"):
        rng = run.rng("chat", i)
        taken: set[str] = set()
        facts = [(f, "heldout") for f in _user_facts(rng, "heldout", CHAT_FACTS[0], taken)]
        facts += [(f, "trained") for f in _user_facts(rng, "trained", CHAT_FACTS[1], taken)]
        rng.shuffle(facts)
        run.fresh()
        stated_at, said = {}, {}
        turns = []
        for f, _ in facts:
            said[f.key] = msg = _statement(rng, f)
            reply = run.chat(msg, run.s.reply_tokens)
            stated_at[f.key] = run.bot.engine.position
            turns.append({"user": msg, "reply": reply})
        before = len(run.bot.memory)
        for p in _smalltalk(rng, run.s.turns):
            turns.append({"user": p, "reply": run.chat(p, run.s.reply_tokens)})
        small_notes = run.notes()[before:]
        smalltalk_turns += run.s.turns
        false_chat_notes += len(small_notes)
        order = list(facts)
        rng.shuffle(order)
        for f, which in order:
            q = _question(rng, f.questions)
            since = run.bot.engine.position - stated_at[f.key]
            r = _ask_and_check(run, q, f.note, f.values)
            r.update(relation=f.relation.name, domain=f.relation.domain, which=which, statement=said[f.key],
                     tokens_since_stated=since, beyond_window=since >= run.bot.window.block_size)
            results[which].append(r)
            run.record("chat", index=i, **r)
        stored = run.notes()
        chat_notes += len(stored)
        run.record("chat_conversation", index=i, turns=turns, notes=stored, smalltalk_notes=small_notes)
    figs = []
    for which, bar in (("trained", "chat_trained"), ("heldout", "chat_heldout")):
        rs = results[which]
        figs.append(figure(f"{which} relation types: answers", ratio(sum(r["correct"] for r in rs), len(rs)), bar,
                           len(rs)))
    for which in ("trained", "heldout"):
        rs = results[which]
        figs.append(figure(f"{which}: right note written", ratio(sum(r["written"] == "ok" for r in rs), len(rs)),
                           None, len(rs)))
        wr = [r for r in rs if r["written"] == "ok"]
        figs.append(figure(f"{which}: written note in the <|mem|> block", ratio(sum(r["retrieved"] for r in wr), len(wr)),
                           None, len(wr)))
    allr = results["trained"] + results["heldout"]
    figs.append(figure("facts asked from beyond the window", ratio(sum(r["beyond_window"] for r in allr), len(allr)),
                       None, len(allr)))
    figs.append(figure("notes written per small-talk turn", ratio(false_chat_notes, smalltalk_turns), None,
                       smalltalk_turns))
    return part_result(figs, {"misses": {w: _miss_counts(results[w]) for w in results}, "notes_in_chats": chat_notes})


def part_update(run: Run) -> dict:
    from memgpt.training.relations import update_of
    recs = []
    for i in run.bar(range(run.s.count("update")), "update"):
        rng = run.rng("update", i)
        which = "heldout" if i % 2 == 0 else "trained"
        f = _user_facts(rng, which, 1, set())[0]
        u = update_of(f, rng, "test")
        run.fresh()
        turns = [(_statement(rng, f), run.s.reply_tokens)]
        turns += [(p, run.s.reply_tokens) for p in _smalltalk(rng, UPDATE_GAP)]
        turns += [(u.statement, run.s.reply_tokens)]
        turns += [(p, run.s.reply_tokens) for p in _smalltalk(rng, UPDATE_GAP)]
        log = [{"user": m, "reply": run.chat(m, k)} for m, k in turns]
        r = _ask_and_check(run, _question(rng, u.questions), u.note, u.values)
        old_only = set(f.values) - set(u.values)
        r.update(which=which, relation=f.relation.name, old_note=f.note, update=u.statement,
                 old_value_in_answer=bool(old_only) and answer_contains(r["answer"], sorted(old_only)),
                 old_note_injected=any(note_matches(w, f.note) for w in r["injected"]))
        recs.append(r)
        run.record("update", index=i, turns=log, **r)
    figs = [figure("new value answered", ratio(sum(r["correct"] for r in recs), len(recs)), "update", len(recs))]
    for which in ("heldout", "trained"):
        rs = [r for r in recs if r["which"] == which]
        figs.append(figure(f"{which} relation types", ratio(sum(r["correct"] for r in rs), len(rs)), None, len(rs)))
    figs.append(figure("old value in the answer", ratio(sum(r["old_value_in_answer"] for r in recs), len(recs)),
                       None, len(recs)))
    figs.append(figure("updated note written", ratio(sum(r["written"] == "ok" for r in recs), len(recs)), None,
                       len(recs)))
    return part_result(figs, {"misses": _miss_counts(recs)})


# ---- docs -------------------------------------------------------------------------------------

def build_document(rng_key: str, tok, tokens: int, n_facts: int, prose, relations) -> tuple[str, list[dict], int]:
    """Held-out-style prose of about `tokens` tokens with `n_facts` facts at random sentence
    boundaries (open_corpus.reading_example, sized to the tokenizer in up to three tries)."""
    from memgpt.training.open_corpus import reading_example
    chars, got, text, ex = 4 * tokens, 0, "", None
    for _ in range(3):
        ex = reading_example(random.Random(rng_key), "test", prose=prose, relations=relations,
                             n_facts=(n_facts, n_facts), n_chars=(chars, chars), update_share=0.0,
                             style=prose.styles[0])
        text = "".join(t for t, _ in ex["segments"])
        got = len(tok.encode_text(text))
        if abs(got - tokens) <= 0.05 * tokens:
            break
        chars = max(100, int(chars * tokens / max(got, 1)))
    return text, ex["facts"], got


def _docs_count(run: Run, length: int) -> int:
    n = run.s.count("docs")
    return n if length <= 16000 else max(1, n // 5)  # long documents: fewer (slow on a CPU)


def part_docs(run: Run) -> dict:
    from memgpt.bench.tasks import format_length
    prose, rels = _heldout_prose(), _heldout_doc_relations()
    figs, details = [], {}
    all_recs = []
    for L in run.s.doc_lengths:
        recs, false_notes, tokens = [], 0, 0
        for i in run.bar(range(_docs_count(run, L)), f"docs {format_length(L)}"):
            key = f"evaluate_open|{run.s.seed}|docs|{L}|{i}"
            text, facts, _ = build_document(key, run.tok, L, DOC_FACTS, prose, rels)
            run.fresh()
            written = [n.text for n in run.bot.ingest(text, progress=run.s.progress)]
            tokens += run.bot.last_ingest.tokens
            false_notes += len(match_notes(written, [f["note"] for f in facts])["false_notes"])
            rng = run.rng(f"docs-{L}", i)
            for f in facts:
                r = _ask_and_check(run, _question(rng, f["questions"]), f["note"], f["values"], use_ask=True)
                r.update(length=L, doc_tokens=run.bot.last_ingest.tokens, relation=f["relation"],
                         depth=round(text.find(f["statement"]) / max(1, len(text)), 3))
                recs.append(r)
                run.record("docs", index=i, **r)
        name = format_length(L)
        figs.append(figure(f"{name}: answers", ratio(sum(r["correct"] for r in recs), len(recs)), "docs", len(recs)))
        figs.append(figure(f"{name}: right note written", ratio(sum(r["written"] == "ok" for r in recs), len(recs)),
                           None, len(recs)))
        details[name] = {"misses": _miss_counts(recs), "false_notes_per_10k": per_10k(false_notes, tokens),
                         "tokens": tokens}
        all_recs += recs
    return part_result(figs, details)


# ---- bench ------------------------------------------------------------------------------------

def part_bench(run: Run) -> dict:
    import memgpt.bench
    from memgpt.bench.tasks import TASKS, format_length
    tasks = [t for t in run.s.bench_tasks if t in TASKS]
    res = memgpt.bench.run(tasks=tasks, lengths=list(run.s.bench_lengths), methods="notes",
                           samples=run.s.count("bench"), seed=run.s.seed, out=os.path.join(run.s.out, "bench"),
                           checkpoint=run.s.model, device=run.s.device, progress=run.s.progress, plots=False,
                           gemm_size=256)
    figs = []
    for t in tasks:
        for L in run.s.bench_lengths:
            rs = [r for r in res["records"] if r["task"] == t and r["length"] == L]
            figs.append(figure(f"{t} {format_length(L)}", ratio(sum(r["correct"] for r in rs), len(rs)), "bench",
                               len(rs), retrieval_hit=ratio(sum(r.get("retrieval_hit") or 0 for r in rs), len(rs))))
    for r in res["records"]:
        run.record("bench", **{k: r.get(k) for k in ("task", "length", "index", "depth", "question", "expected",
                                                    "answer", "correct", "notes_written", "retrieval_hit")})
    ruler = [{"config": c, "task": t, "what": w, "exists": t is not None and t in TASKS, "measured": t in tasks}
             for c, t, w in RULER_CONFIGS]
    figs.append(figure("RULER niah configurations in the runner", sum(r["exists"] for r in ruler), "ruler_configs",
                       missing=[r["config"] for r in ruler if not r["exists"]]))
    return part_result(figs, {"ruler": ruler, "bench_out": os.path.join(run.s.out, "bench")})


# ---- kept -------------------------------------------------------------------------------------

def kept_prompts(n: int = KEPT_PROMPTS) -> list[str]:
    """Held-out small-talk prompts (up to 30) and general-knowledge questions, interleaved; n of them."""
    from memgpt.training.open_corpus import smalltalk_prompts
    st = list(smalltalk_prompts("test"))[:30]
    gk = [q for q in GENERAL_KNOWLEDGE if q not in st][:KEPT_PROMPTS - len(st)]
    out = []
    for i in range(max(len(st), len(gk))):
        out += ([st[i]] if i < len(st) else []) + ([gk[i]] if i < len(gk) else [])
    return out[:n]


def reply_logprob(bot, prompt: str, reply: str) -> tuple[float, int]:
    """(sum of log p, tokens) of `reply` under `bot`'s model, after the chat window the engine
    builds for `prompt` in a fresh conversation (the system turn, the user turn, the assistant's
    prefix)."""
    import torch

    from memgpt.model import amp_context
    tok, model = bot.tokenizer, bot.model
    ctx = list(tok.system_prefix) + tok.render_prompt_for_reply(prompt)
    ids = tok.encode_text(reply)
    T = model.config.block_size
    ids = ids[:T - 1]
    ctx = ctx[-(T - len(ids)):]
    if not ids:
        return 0.0, 0
    dev = bot.engine.device
    x = torch.tensor([ctx + ids], dtype=torch.long, device=dev)
    with torch.no_grad(), amp_context(dev.type, "bfloat16" if dev.type == "cuda" else "float32"):
        logits = model(x[:, :-1])[0][0, len(ctx) - 1:].float()
    lp = torch.log_softmax(logits, -1).gather(1, x[0, len(ctx):, None].to(logits.device))
    return float(lp.sum()), len(ids)


def kept_markdown(rows: Sequence[dict], model: str, base: str, summary: dict) -> str:
    lines = [f"# Conversation kept: `{base}` and `{model}` side by side", "",
             f"{len(rows)} prompts (held-out small-talk prompts of the open corpus and general-knowledge questions), "
             "each in a fresh conversation, greedy replies of at most "
             f"{summary['reply_tokens']} tokens. Mean log-likelihood per token under the base: base's own replies "
             f"{_fmt(summary['base_loglik'])}, the model's {_fmt(summary['model_loglik'])} "
             f"({_fmt(summary['drop'], pct=True)} lower; bar: at most 10%).", ""]
    for i, r in enumerate(rows, 1):
        lines += [f"## {i}. {r['prompt']}", "", f"**{base}** ({r['base_tokens']} tokens, "
                  f"{_fmt(r['base_loglik'])} per token):", "", _quote(r["base_reply"]), "",
                  f"**{model}** ({r['model_tokens']} tokens, {_fmt(r['model_loglik'])} per token):", "",
                  _quote(r["model_reply"]), ""]
        if r["model_notes"]:
            lines += ["Notes the model wrote: " + "; ".join(f"`{n}`" for n in r["model_notes"]), ""]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return "\n".join("> " + ln for ln in (text.strip() or "(empty reply)").split("\n"))


def part_kept(run: Run) -> dict:
    import memgpt
    base = memgpt.load(run.s.base, device=run.s.device)
    rows = []
    for i, p in enumerate(run.bar(kept_prompts(run.s.count("kept")), "kept")):
        replies = {}
        notes: list[str] = []
        for who, b in (("base", base), ("model", run.bot)):
            b.reset()
            b.memory.delete_all()
            replies[who] = b.chat(p, temperature=0, max_new_tokens=run.s.reply_tokens)
            if who == "model":
                notes = run.notes()
        (bl, bn), (ml, mn) = reply_logprob(base, p, replies["base"]), reply_logprob(base, p, replies["model"])
        row = {"prompt": p, "base_reply": replies["base"], "model_reply": replies["model"], "model_notes": notes,
               "base_logprob": bl, "base_tokens": bn, "model_logprob": ml, "model_tokens": mn,
               "base_loglik": ratio(bl, bn), "model_loglik": ratio(ml, mn)}
        rows.append(row)
        run.record("kept", index=i, **row)
    base.close()
    sums = {k: sum(r[k] for r in rows) for k in ("base_logprob", "base_tokens", "model_logprob", "model_tokens")}
    drop = loglik_drop(sums["model_logprob"], sums["model_tokens"], sums["base_logprob"], sums["base_tokens"])
    summary = {"reply_tokens": run.s.reply_tokens, "base_loglik": ratio(sums["base_logprob"], sums["base_tokens"]),
               "model_loglik": ratio(sums["model_logprob"], sums["model_tokens"]), "drop": drop}
    path = os.path.join(run.s.out, "kept.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(kept_markdown(rows, run.s.model, run.s.base, summary) + "\n")
    figs = [figure("log-likelihood per token under the base: how much lower than the base's own", drop,
                   "kept_loglik_drop", len(rows)),
            figure("model's replies: mean log-likelihood per token", summary["model_loglik"], None, sums["model_tokens"]),
            figure("base's replies: mean log-likelihood per token", summary["base_loglik"], None, sums["base_tokens"]),
            figure("empty model replies", sum(not r["model_reply"].strip() for r in rows), None, len(rows)),
            figure("notes written on these prompts", sum(len(r["model_notes"]) for r in rows), None, len(rows))]
    return part_result(figs, {"side_by_side": path, "base": run.s.base})


# ---- latency ----------------------------------------------------------------------------------

def part_latency(run: Run) -> dict:
    import torch
    rng = run.rng("latency", 0)
    n = run.s.count("latency")
    facts = _user_facts(rng, "heldout", max(1, n // 4), set())
    talk = _smalltalk(rng, n + 1)
    msgs: list[tuple[str, str | None]] = []
    told: list = []
    for i in range(n + 1):  # the first turn warms up and is not counted
        kind = i % 4
        if kind == 1 and facts:
            f = facts.pop()
            told.append(f)
            msgs.append((_statement(rng, f), f.note))
        elif kind == 3 and told:
            msgs.append((_question(rng, rng.choice(told).questions), None))
        else:
            msgs.append((talk[i], None))
    run.fresh()
    secs, recs = [], []
    for i, (m, note) in enumerate(run.bar(msgs, "latency")):
        budget = LATENCY_REPLY + (len(run.tok.encode_text(note)) + 2 if note else 0)  # the note's room, then ~30
        before = len(run.bot.memory)
        t0 = time.perf_counter()
        reply = run.chat(m, budget)
        dt = time.perf_counter() - t0
        r = {"index": i, "message": m, "reply": reply, "seconds": round(dt, 4), "budget": budget,
             "reply_tokens": len(run.tok.encode_text(reply)), "notes": len(run.bot.memory) - before,
             "warmup": i == 0}
        recs.append(r)
        run.record("latency", **r)
        if i:
            secs.append(dt)
    figs = [figure("p50 seconds per chat turn", percentile(secs, 0.5), "latency_p50_s", len(secs)),
            figure("p90 seconds per chat turn", percentile(secs, 0.9), None, len(secs)),
            figure("mean reply tokens", ratio(sum(r["reply_tokens"] for r in recs[1:]), len(recs) - 1), None)]
    return part_result(figs, {"device": str(run.bot.engine.device), "torch_threads": torch.get_num_threads()})


PART_FNS: dict[str, Callable[[Run], dict]] = {
    "notes": part_notes, "falsenotes": part_falsenotes, "chat": part_chat, "update": part_update,
    "docs": part_docs, "bench": part_bench, "kept": part_kept, "latency": part_latency,
}
assert set(PART_FNS) == set(PARTS)


# =============================================================================================
# report


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{100 * x:.1f}%" if pct else f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)


def summary_markdown(result: dict) -> str:
    lines = [f"# memgpt open-domain evaluation: `{result['model']}`", "",
             f"seed {result['seed']}, n {result['n'] if result['n'] is not None else 'per-part defaults'}, "
             f"device {result['device']}, {result['seconds']:.0f} s. Held-out relation types and the held-out "
             "prose style; every figure through the public API (greedy).", "",
             "| part | figure | value | n | bar | pass |", "|---|---|---:|---:|---|---|"]
    for part, res in result["parts"].items():
        if "error" in res:
            lines.append(f"| {part} | **error**: {res['error']} | | | | **FAIL** |")
            continue
        for f in res["figures"]:
            p = "" if f["pass"] is None else "pass" if f["pass"] else "**FAIL**"
            lines.append(f"| {part} | {f['name']} | {_fmt(f['value'])} | {_fmt(f.get('n'))} | {f['bar'] or ''} | {p} |")
    lines += ["", "Parts: " + ", ".join(f"{p} {'pass' if r.get('pass') else 'FAIL'} ({r.get('seconds', 0):.0f} s)"
                                      for p, r in result["parts"].items()), ""]
    d = result["parts"]
    if "notes" in d and "details" in d["notes"]:
        pd = d["notes"]["details"]
        lines += ["## notes: misses per domain", "", "| domain | facts | missed |", "|---|---:|---:|"]
        lines += [f"| {k} | {v['facts']} | {v['missed']} |" for k, v in pd.get("per_domain", {}).items()]
        lines += ["", "Misses by kind: " + ", ".join(f"{k} {v}" for k, v in pd.get("miss_kinds", {}).items()), ""]
    for part in ("chat", "update"):
        if part in d and "details" in d[part]:
            m = d[part]["details"].get("misses", {})
            if part == "chat":
                lines += ["## chat: why answers were missed", ""]
                lines += [f"- {w}: " + ", ".join(f"{k} {v}" for k, v in c.items()) for w, c in m.items()]
            else:
                lines += ["## update: why answers were missed", "", "- " + ", ".join(f"{k} {v}" for k, v in m.items())]
            lines.append("")
    if "docs" in d and "details" in d["docs"]:
        lines += ["## docs", ""]
        lines += [f"- {L}: misses " + ", ".join(f"{k} {v}" for k, v in v["misses"].items())
                  + f"; false notes per 10k tokens {_fmt(v['false_notes_per_10k'])} ({v['tokens']} tokens)"
                  for L, v in d["docs"]["details"].items()]
        lines.append("")
    if "bench" in d and "details" in d["bench"]:
        lines += ["## bench: RULER's niah configurations", "", "| RULER | memgpt.bench task | what | measured |",
                  "|---|---|---|---|"]
        lines += [f"| {r['config']} | {r['task'] or '(none)'} | {r['what']} | {_fmt(r['measured'])} |"
                  for r in d["bench"]["details"].get("ruler", [])]
        lines.append("")
    if "kept" in d and "details" in d["kept"]:
        lines += [f"Side-by-side replies: `{d['kept']['details'].get('side_by_side')}`.", ""]
    lines.append(f"Overall: {'PASS' if result['pass'] else 'FAIL'} (every bar of the parts run).")
    return "\n".join(lines)


# =============================================================================================
# entry points


def evaluate(settings: Settings) -> dict:
    """Run the requested parts; writes results.json, summary.md, records.jsonl (and kept.md,
    bench/) in `settings.out` and returns the results."""
    import memgpt
    for p in settings.parts:
        if p not in PART_FNS:
            raise ValueError(f"unknown part {p!r}; choose from {', '.join(PARTS)}")
    os.makedirs(settings.out, exist_ok=True)
    t0 = time.perf_counter()
    config = None
    if settings.note_threshold is not None:
        from memgpt.controller import EngineConfig
        config = EngineConfig(note_threshold=settings.note_threshold)
    bot = memgpt.load(settings.model, device=settings.device, config=config)
    result: dict[str, Any] = {"model": settings.model, "base": settings.base, "seed": settings.seed, "n": settings.n,
                              "device": str(bot.engine.device), "note_threshold": bot.engine.cfg.note_threshold,
                              "settings": dataclasses.asdict(settings), "parts": {}}
    with open(os.path.join(settings.out, "records.jsonl"), "w", encoding="utf-8") as sink:
        run = Run(settings, bot, sink)
        for p in settings.parts:
            t1 = time.perf_counter()
            try:
                res = PART_FNS[p](run)
            except Exception as e:  # one part failing must not lose the others' figures
                traceback.print_exc()
                res = {"error": f"{type(e).__name__}: {e}", "figures": [], "pass": False}
            res["seconds"] = round(time.perf_counter() - t1, 2)
            result["parts"][p] = res
    bot.close()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    result["pass"] = bool(result["parts"]) and all(r.get("pass") for r in result["parts"].values())
    with open(os.path.join(settings.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False, default=str)
    summary = summary_markdown(result)
    with open(os.path.join(settings.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary + "\n")
    result["summary"] = summary
    return result


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _lengths(value: str) -> tuple[int, ...]:
    from memgpt.bench.tasks import parse_length
    return tuple(parse_length(v) for v in _csv(value))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`python -m memgpt.training.evaluate_open`'s arguments (`memgpt eval --suite open` shares
    --model, --n, --seed and --out with the templates suite and adds `add_open_arguments`)."""
    ap.description = "Open-domain evaluation of a note-taker (held-out relation types and prose styles)."
    ap.add_argument("--model", default="default", help="model name or path (default, tiny, smollm2-base, "
                                                        "smollm2-notes, a .gguf, ...; default: %(default)s)")
    ap.add_argument("--n", type=int, default=None, help=N_HELP)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="eval_open", help="output directory (default: %(default)s)")
    add_open_arguments(ap)


N_HELP = ("examples per part (default: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_N.items()) +
          "; kept at most 50, 64k documents a fifth)")


def add_open_arguments(ap) -> None:
    """The open suite's own flags (`ap`: a parser or an argument group)."""
    ap.add_argument("--base", default="smollm2-base", help="the base the `kept` part compares with (default: %(default)s)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated, of: " + ",".join(PARTS))
    ap.add_argument("--turns", type=int, default=30, help="small-talk turns between stating and asking (chat)")
    ap.add_argument("--reply-tokens", type=int, default=64, help="tokens of a small-talk or statement reply, and of kept's")
    ap.add_argument("--doc-lengths", default="8k,64k", help="document lengths in tokens (docs; default: %(default)s)")
    ap.add_argument("--false-styles", default=",".join(FALSE_STYLES), help="fact-free styles (default: %(default)s)")
    ap.add_argument("--false-tokens", type=int, default=2000, help="tokens per fact-free passage (default: %(default)s)")
    ap.add_argument("--bench-tasks", default=",".join(BENCH_TASKS), help="benchmark tasks (default: %(default)s)")
    ap.add_argument("--bench-lengths", default="4k", help="benchmark lengths (default: %(default)s; the bar: 4k,64k)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    ap.add_argument("--note-threshold", type=float, default=None,
                    help="the engine's note threshold while reading (EngineConfig.note_threshold; default: the engine's)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--strict", action="store_true", help="exit with status 1 when a bar is not met")


def settings_from(args: argparse.Namespace) -> Settings:
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    return Settings(model=args.model, base=args.base, n=args.n, seed=args.seed, out=args.out, parts=_csv(args.parts),
                    turns=args.turns, reply_tokens=args.reply_tokens, doc_lengths=_lengths(args.doc_lengths),
                    false_styles=_csv(args.false_styles), false_tokens=args.false_tokens,
                    bench_tasks=_csv(args.bench_tasks), bench_lengths=_lengths(args.bench_lengths), device=args.device,
                    progress=not args.no_progress, note_threshold=args.note_threshold)


def side_by_side_table(results: dict[str, dict]) -> str:
    """Every figure with its bar, one column per model (`results`: name -> `evaluate`'s dict)."""
    from memgpt.side_by_side import markdown_table
    keys: list[tuple] = []
    for res in results.values():
        for part, r in res["parts"].items():
            keys += [k for k in ((part, f["name"], f["bar"] or "") for f in r.get("figures", ())) if k not in keys]
    rows = []
    for part, name, bar in keys:
        cells = []
        for res in results.values():
            f = next((f for f in res["parts"].get(part, {}).get("figures", ()) if f["name"] == name), None)
            cells.append("–" if f is None else _fmt(f["value"]) + ("" if f["pass"] is None else " ✓" if f["pass"] else " ✗"))
        rows.append([part, name, bar, *cells])
    return markdown_table(["part", "figure", "bar", *results], rows)


def command(args: argparse.Namespace) -> int:
    """Run the evaluation from parsed arguments and print the summary. Returns 0 (with --strict:
    1 when a bar is not met; a failed bar is a finding, not an error). With `--model a,b`, each
    model into OUT/<model>/ and a side-by-side table (`memgpt.side_by_side`)."""
    from memgpt.side_by_side import model_names, model_out, write
    names = model_names(args.model)
    results = {}
    for name in names:
        out = args.out if len(names) == 1 else model_out(args.out, name)
        res = results[name or "default"] = evaluate(settings_from(argparse.Namespace(**{**vars(args), "model": name,
                                                                                         "out": out})))
        print(res["summary"])
        print(f"results in {out}", file=sys.stderr)
    if len(names) > 1:
        table = side_by_side_table(results)
        print(table)
        print(f"side by side: {write(args.out, 'memgpt eval --suite open: models side by side', table)}", file=sys.stderr)
    return 1 if args.strict and not all(r["pass"] for r in results.values()) else 0


parser = argparse.ArgumentParser(prog="python -m memgpt.training.evaluate_open")
add_arguments(parser)

if __name__ == "__main__":
    sys.exit(command(parser.parse_args()))
