"""Offline filler text in several styles, cut into sentences.

Every source ships with Python itself (or is generated), so a fresh clone can build the same
corpus anywhere without downloads. One style, `legal`, is held out of training: evaluation and
benchmarks use it to check that note-taking generalises to text the model never saw.
"""
from __future__ import annotations

import ast
import functools
import os
import random
import re
import sysconfig

TRAIN_STYLES = ("docs", "docstrings", "grass", "story", "logs")
HELDOUT_STYLES = ("legal",)
STYLES = TRAIN_STYLES + HELDOUT_STYLES

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_WS = re.compile(r"\s+")


def _sentences_from(texts: list[str], min_len: int = 20, max_len: int = 300) -> list[str]:
    out = []
    for t in texts:
        t = _WS.sub(" ", t).strip()
        for s in _SENT_SPLIT.split(t):
            s = s.strip()
            # drop code-like fragments and very long run-ons: filler should read as prose
            if min_len <= len(s) <= max_len and s[-1] in ".!?" and s.count("(") < 3 and ">>>" not in s:
                out.append(s)
    return out


@functools.lru_cache(maxsize=None)
def _docs() -> tuple[str, ...]:
    import pydoc_data.topics as topics  # the Python reference manual, shipped with CPython

    return tuple(_sentences_from(list(topics.topics.values())))


@functools.lru_cache(maxsize=None)
def _docstrings() -> tuple[str, ...]:
    root = sysconfig.get_paths()["stdlib"]
    texts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "idle_test", "site-packages", "pydoc_data", "lib2to3"))
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            texts += file_docstrings(os.path.join(dirpath, fn))
    return tuple(_sentences_from(texts))


def file_docstrings(path: str) -> list[str]:
    """The docstrings of a Python source file (module, classes, functions), in `ast.walk` order;
    none for a file that does not parse."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
        return []
    return [doc for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and (doc := ast.get_docstring(node))]


@functools.lru_cache(maxsize=None)
def _legal() -> tuple[str, ...]:
    paths = [os.path.join(sysconfig.get_paths()["stdlib"], "LICENSE.txt")]
    lic_dir = "/usr/share/common-licenses"  # Debian's licence texts, where present
    if os.path.isdir(lic_dir):
        paths += [os.path.join(lic_dir, n) for n in sorted(os.listdir(lic_dir))]
    texts = []
    for p in paths:
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
    return tuple(_sentences_from(texts))


# Mohtashami & Jaggi (2023) passkey filler.
GRASS = ("The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again.")

_ADJ = "old quiet bright tired small curious patient young brave gentle clever busy".split()
_PEOPLE = "baker sailor teacher farmer painter doctor miller weaver tailor poet merchant gardener".split()
_VERBS = ["admired", "repaired", "painted", "counted", "studied", "polished", "carried", "described", "ignored", "sketched"]
_THINGS = "lantern fence boat letter basket clock bridge window song map ladder kettle".split()
_ADV = "slowly carefully happily quietly eagerly calmly proudly briefly".split()
_TIME = ["In the morning", "Later that day", "After a while", "By evening", "Once again", "Meanwhile", "At noon"]
_WEATHER = ["The wind rose over the hills.", "Rain fell softly on the roofs.", "The river ran high that season.",
            "A cold fog covered the valley.", "The stars were bright above the town."]


def _story_sentence(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return rng.choice(_WEATHER)
    who = f"the {rng.choice(_ADJ)} {rng.choice(_PEOPLE)}"
    s = f"{who} {rng.choice(_ADV)} {rng.choice(_VERBS)} the {rng.choice(_THINGS)}."
    if r < 0.5:
        s = f"{rng.choice(_TIME)}, {s}"
    return s[0].upper() + s[1:]


_LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARNING", "ERROR"]
_EVENTS = ["worker {a} finished job {b} in {c} ms.", "cache hit ratio is {c} percent.", "request {b} served with status 200.",
           "retrying upload {b} after {a} attempts.", "disk usage at {c} percent on volume {a}.",
           "queue length is {c} items.", "user session {b} expired after {c} minutes."]


def _log_sentence(rng: random.Random) -> str:
    ts = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    ev = rng.choice(_EVENTS).format(a=rng.randint(1, 16), b=rng.randint(100, 99999), c=rng.randint(1, 999))
    return f"{ts} {rng.choice(_LEVELS)} {ev[0].upper()}{ev[1:]}"


def sentence(style: str, rng: random.Random) -> str:
    """One filler sentence of the given style."""
    if style == "grass":
        return rng.choice(GRASS)
    if style == "story":
        return _story_sentence(rng)
    if style == "logs":
        return _log_sentence(rng)
    pool = {"docs": _docs, "docstrings": _docstrings, "legal": _legal}.get(style)
    if pool is None:
        raise ValueError(f"unknown filler style {style!r}; choose from {STYLES}")
    sents = pool()
    if not sents:
        raise RuntimeError(f"filler style {style!r} found no text on this machine")
    return rng.choice(sents)


def passage(style: str, rng: random.Random, n_sentences: int) -> list[str]:
    """A run of consecutive-looking sentences. Text sources are read in order from a random start,
    so a passage reads like real prose; generated styles draw each sentence afresh."""
    if style in ("docs", "docstrings", "legal"):
        sents = {"docs": _docs, "docstrings": _docstrings, "legal": _legal}[style]()
        start = rng.randrange(len(sents))
        return [sents[(start + i) % len(sents)] for i in range(n_sentences)]
    if style == "grass":  # the published filler repeats its five sentences in order
        return [GRASS[i % len(GRASS)] for i in range(n_sentences)]
    return [sentence(style, rng) for _ in range(n_sentences)]
