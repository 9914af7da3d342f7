"""WordNet 3.0's synsets, read from the Debian package `wordnet-base` (/usr/share/wordnet).

One line of a `data.{noun,verb,adj,adv}` file is one synset: its lemmas ("babysitter",
"baby-sitter", "sitter"), its pointers to other synsets ("@" hypernym, "+" derivation, ...) and
its gloss ("a person engaged to care for children when the parents are not home"). Two readers
use them: `prose` (glosses as a held-out prose style for the note-taker) and `static_table`
(word senses as paraphrase pairs for the retrieval table, which never writes notes).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

ROOT = "/usr/share/wordnet"
POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
FILES = ("noun", "verb", "adj", "adv")


@dataclass(frozen=True)
class Synset:
    key: str                                  # "n:09829305": part of speech and byte offset
    lemmas: tuple[str, ...]                   # "babysitter", "baby-sitter", "sitter"
    pointers: tuple[tuple[str, str], ...]     # (symbol, target key): ("@", "n:10229498")
    gloss: str                                # the definition, then any quoted examples

    @property
    def definition(self) -> str:
        """The gloss without its quoted examples."""
        return self.gloss.split('; "', 1)[0].strip().rstrip(";").strip()


def parse(line: str) -> Synset | None:
    """A data file's line as a Synset (None for the licence header and malformed lines)."""
    if line.startswith("  ") or " | " not in line:
        return None
    head, gloss = line.split(" | ", 1)
    f = head.split()
    try:
        n = int(f[3], 16)
        p_at = 4 + 2 * n
        n_ptr = int(f[p_at])
    except (IndexError, ValueError):
        return None
    ss = "a" if f[2] == "s" else f[2]
    lemmas = tuple(re.sub(r"\(.*\)$", "", f[4 + 2 * i]).replace("_", " ") for i in range(n))
    ptrs = []
    for i in range(n_ptr):
        sym, off, pos = f[p_at + 1 + 4 * i: p_at + 4 + 4 * i]
        ptrs.append((sym, f"{'a' if pos == 's' else pos}:{off}"))
    return Synset(f"{ss}:{f[0]}", lemmas, tuple(ptrs), gloss.strip())


def read(root: str | None = None) -> dict[str, Synset]:
    """Every synset of the four data files, by key. FileNotFoundError names the package."""
    root = root or ROOT
    out: dict[str, Synset] = {}
    for name in FILES:
        path = os.path.join(root, f"data.{name}")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: WordNet comes from the Debian package wordnet-base "
                                    "(apt-get install wordnet-base)")
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = parse(line)
                if s is not None:
                    out[s.key] = s
    return out
