"""Embedders: text -> L2-normalised float32 vectors for the note store.

All are offline and deterministic across processes and machines:
- `HashEmbedder` ("hash"): hashed lexical features (words, word pairs, character 3-grams) with
  stopword down-weighting; exact keys, names and codes ("magic number for xqzvbt-plorin").
- `StaticEmbedder` ("static"): a weighted mean of per-token vectors read from a table file (a
  byte-level BPE vocabulary and one vector per token); words in other words ("mum" and
  "mother", "who do I report to?" and "manager"). The bundled table is built by
  `python -m memgpt.training.static_table` (see there); this module knows nothing of its origin.
- `HybridEmbedder`: several embedders side by side, so a cosine is a weighted sum of theirs.
  The default ("default"): the hash features plus a first-person feature (`person`), beside
  the static table.
`SentenceTransformerEmbedder` ("minilm") is an optional neural alternative (needs the
`sentence-transformers` package and its model in the local cache).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything with a `dim` and an `embed` method can back a NoteStore.

    `embed(texts)` returns a float32 array of shape (len(texts), dim) whose rows have unit L2
    norm. An optional `name` attribute identifies the embedding space: a store re-embeds its
    notes when opened with an embedder of a different name.
    """

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def embedder_name(e: Embedder) -> str:
    """A stable identifier of an embedder's vector space (stored in the note store's meta)."""
    return getattr(e, "name", None) or f"{type(e).__name__}-{e.dim}"


# Words that carry (almost) no information about *which* note is meant. IDF without a fitted
# corpus: these get a tiny weight, everything else full weight.
_STOP = frozenset(
    """
    a an the and or but if then so of to in on at by for with from into onto about as than
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must it its it's this that these those there here
    i me my mine myself we us our you your yours he him his she her hers they them their
    what what's whats which who who's whom whose where where's when why how
    not no yes any all some each every other such very just also only own same
    s t d ll m re ve please tell know remember recall say said
    mentioned provided given text passage document above following context question answer
    """.split()
)
# Boilerplate of benchmark questions: informative about the *kind* of note, not about which
# one, so they get a reduced (not tiny) weight.
_GENERIC = frozenset(
    """
    special magic number numbers value values one
    """.split()
)
_STOP_W, _GENERIC_W, _DIGIT_W, _PAIR_W = 0.05, 0.25, 0.2, 1.0
# The speaker in the first person. Notes about the person talking are keyed "user ..." ("user
# allergy: peanuts"), questions say "What am I allergic to?": with `person` > 0 a text in the
# first person also carries the word "user".
FIRST_PERSON = frozenset("i me my mine myself we us our ours ourselves".split())

_PART = re.compile(r"[^\W_]+")  # a word: letters and digits of any script
_JOINER = re.compile(r"\s+|[-_.'\u2019]")  # what may separate two words that form a pair


@lru_cache(maxsize=1 << 18)
def _slots(feature: str, dim: int, hashes: int) -> tuple[tuple[int, float], ...]:
    """Stable (index, sign) pairs of a feature: blake2b, never Python's salted hash().

    Several slots per feature: a chance collision with another note's feature then shares
    only 1/hashes of the weight instead of all of it.
    """
    d = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8 * hashes).digest()
    out = []
    for i in range(hashes):
        h = int.from_bytes(d[8 * i : 8 * i + 8], "little")
        out.append((h % dim, 1.0 if (h >> 63) & 1 else -1.0))
    return tuple(out)


def _pairable(w: str) -> bool:
    return w not in _STOP and not w.isdigit()


def _word_weight(w: str) -> float:
    if w in _STOP:
        return _STOP_W
    if w in _GENERIC:
        return _GENERIC_W
    if w.isdigit():
        return _DIGIT_W
    return 1.0


def note_parts(text: str) -> tuple[str, str] | None:
    """(key, value) of a note ("user allergy: peanuts": split at the first ": "), or None for
    other text. A question is not a note, whatever its colons ("Quick question: what's my
    address?" ends with "?")."""
    key, sep, value = text.partition(": ")
    if not sep or not key.strip() or not value.strip() or text.rstrip().endswith("?"):
        return None
    return key, value


class HashEmbedder:
    """Signed feature hashing of words, adjacent word pairs and character 3-grams.

    Features per text (casefolded), each hashed with blake2b to `hashes` signed slots of `dim`
    (two by default: a chance collision then carries half a feature, not all of it):
      - each word: weight 1, or 0.05 for stopwords and question words, 0.25 for benchmark
        boilerplate ("magic", "number", ...), 0.2 for pure digits (values are rarely asked by);
      - each pair of adjacent content words separated by a space or one of - _ . ' as one
        concatenated word ("pass key" -> "passkey", "xqzvbt-plorin" -> "xqzvbtplorin"),
        weight 1 x the lesser word weight: matches spelling variants and rewards whole keys;
      - character 3-grams of each non-stopword word and pair with boundary marks, together
        carrying `ngram_weight` of the word's mass, so near-misses (plurals, typos) still score.
    Term frequency is sublinear (1 + log tf); rows are L2-normalised. A stopword list plays
    the role of IDF, so nothing is fitted and the embedding of a text never changes.

    With `person` > 0, a text with a first-person word (`FIRST_PERSON`: I, my, we, ...) also
    carries the word "user" at that weight, so "Who do I report to?" shares a word with
    "user manager: ..." (the default embedder uses 1.0; "hash" keeps 0, today's features).

    Any change to the features must change `name` (stores re-embed their notes on a new name).
    Measured with `python scripts/measure_recall.py` (notes worded as the model writes them):
    recall@5 = 0.998 over 500 benchmark questions among 10k distractor notes, 0.984 among 100k;
    the misses are "What is my name?" ranking "user pet name: ..." notes above "user name: ...",
    and one multiquery key. (With an earlier hand-written note generator that wrote no pet names:
    1.000 at 10k and 100k; one slot per feature instead of two: 0.95 at 100k, bAbI names lost
    to collisions.)
    """

    def __init__(self, dim: int = 2048, ngram: int = 3, ngram_weight: float = 0.5, hashes: int = 2,
                 person: float = 0.0, value_cap: float = 0.0):
        if dim < 16:
            raise ValueError("dim must be >= 16")
        if not 1 <= hashes <= 8:
            raise ValueError("hashes must be in 1..8")
        if person < 0 or value_cap < 0:
            raise ValueError("person and value_cap must be >= 0")
        self.dim = int(dim)
        self.hashes = int(hashes)
        self.ngram = int(ngram)
        self.ngram_weight = float(ngram_weight)
        self.person = float(person)
        self.value_cap = float(value_cap)
        self.sparse_dims = self.dim  # a text sets ~50 of its columns: the store searches them as inverted lists
        self.name = f"hash-v1-d{self.dim}-n{self.ngram}-g{self.ngram_weight:g}-h{self.hashes}"
        if self.person:
            self.name += f"-p{self.person:g}"
        if self.value_cap:  # "q": a text ending in "?" is a question, never capped as a note
            self.name += f"-v{self.value_cap:g}q"

    def note_features(self, text: str) -> dict[str, float]:
        """`features`, with a note's value ("key: value", `note_parts`) weighing at most
        `value_cap` times its key: a long value (a UUID, an address) otherwise outweighs the key
        it is asked by."""
        parts = note_parts(text) if self.value_cap else None
        if parts is None:
            return self.features(text)
        key, value = parts
        fk, fv = self.features(key), self.features(value)
        nk, nv = math.sqrt(sum(w * w for w in fk.values())), math.sqrt(sum(w * w for w in fv.values()))
        scale = min(1.0, self.value_cap * nk / nv) if nv > 0 else 1.0
        for f, w in fv.items():
            fk[f] = fk.get(f, 0.0) + scale * w
        return fk

    def features(self, text: str) -> dict[str, float]:
        """The weighted features of one text (before hashing); useful for debugging retrieval."""
        text = text.casefold()
        feats: Counter[str] = Counter()
        weight: dict[str, float] = {}
        prev: str | None = None
        prev_end = 0
        first_person = False
        for m in _PART.finditer(text):
            p = m.group()
            first_person = first_person or p in FIRST_PERSON
            feats["w:" + p] += 1
            weight["w:" + p] = _word_weight(p)
            # Adjacent content words also count as one word, so "pass key", "pass-key" and
            # "passkey" share a feature, and "xqzvbt-plorin" matches as a whole. Only across
            # a space or a joiner (- _ . '): a comma or colon separates different things.
            if prev is not None and _JOINER.fullmatch(text[prev_end : m.start()]) and _pairable(prev) and _pairable(p):
                f = "w:" + prev + p
                feats[f] += 1
                weight[f] = max(weight.get(f, 0.0), _PAIR_W * min(_word_weight(prev), _word_weight(p)))
            prev, prev_end = p, m.end()
        out: dict[str, float] = {}
        for f, tf in feats.items():
            out[f] = out.get(f, 0.0) + weight[f] * (1.0 + math.log(tf))
        if self.ngram_weight > 0:
            for f, tf in feats.items():
                word = f[2:]
                if not f.startswith("w:") or word in _STOP or word.isdigit():
                    continue
                padded = f"<{word}>"
                grams = [padded[i : i + self.ngram] for i in range(max(1, len(padded) - self.ngram + 1))]
                # Spread the n-gram mass so long words don't dominate through many grams.
                gw = self.ngram_weight * weight[f] * (1.0 + math.log(tf)) / math.sqrt(len(grams))
                for g in grams:
                    out["g:" + g] = out.get("g:" + g, 0.0) + gw
        if self.person and first_person:
            out["w:user"] = out.get("w:user", 0.0) + self.person
        if not out:
            # No word characters at all (e.g. "!!!"): fall back to the raw string so the vector
            # is still unit-norm and identical texts still match.
            out["r:" + text.strip()] = 1.0
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit rows."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            row = out[i]
            for f, w in self.note_features(t).items():
                for j, s in _slots(f, self.dim, self.hashes):
                    row[j] += s * w
            n = float(np.linalg.norm(row))
            if n > 0:
                row /= n
            else:  # every feature cancelled by collision (vanishingly rare): keep unit norm
                row[_slots("r:" + t, self.dim, 1)[0][0]] = 1.0
        return out


STATIC_TABLE = "static-v2.npz"  # the bundled table, in memgpt/assets/retrieval/


def bundled_table() -> str:
    """Path of the bundled static table (shipped inside the memgpt package: no download)."""
    return os.fspath(resources.files("memgpt") / "assets" / "retrieval" / STATIC_TABLE)


@lru_cache(maxsize=4)
def _read_table(path: str, size: int, mtime_ns: int):
    """(table float32, weights, tiktoken encoding, name) of a table file (cached by path and stamp)."""
    import tiktoken

    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with np.load(path, allow_pickle=False) as z:
        vocab, offsets, ranks = z["vocab"].tobytes(), z["offsets"], z["ranks"]
        table = z["table"].astype(np.float32) * z["scale"].astype(np.float32)[:, None]
        weight = z["weight"].astype(np.float32)
        pattern = str(z["pattern"])
        label = str(z["name"])
    if len(table) != len(weight) or len(offsets) != len(ranks) + 1:
        raise ValueError(f"{path}: inconsistent static table")
    table.setflags(write=False)
    weight.setflags(write=False)
    mergeable = {vocab[offsets[i]:offsets[i + 1]]: int(r) for i, r in enumerate(ranks)}
    enc = tiktoken.Encoding(name=f"static-{digest[:8]}", pat_str=pattern, mergeable_ranks=mergeable, special_tokens={})
    return table, weight, enc, f"static-{label}-{digest[:12]}"


class StaticEmbedder:
    """A static sentence embedding: the weighted mean of per-token vectors, read from a table file.

    The file (`np.savez`, written by `save_table`) holds a byte-level BPE vocabulary (`vocab`:
    the tokens' bytes back to back, `offsets`, their `ranks`, the pre-tokenizer `pattern`), one
    vector per token id (`table`, int8 with a float32 `scale` per row), and one pooling weight per
    token id (`weight`: near zero for stopwords, none for ids without a vector). Text is cased
    down and read after a space, so "Mother" and " mother" are one token. The text's vector is
    sum(weight * vector) / sum(weight), L2-normalised; a text of no weighted token gets a unit
    vector hashed from its raw string (identical texts still match).

    The name carries the table's SHA-256, so a new table makes stores re-embed their notes.
    Tokenizing needs `tiktoken` (a dependency of memgpt); nothing is downloaded.
    """

    def __init__(self, path: str | os.PathLike | None = None, value_cap: float = 0.0):
        if value_cap < 0:
            raise ValueError("value_cap must be >= 0")
        self.path = os.path.abspath(os.fspath(path) if path is not None else bundled_table())
        st = os.stat(self.path)
        # one copy of a table per process, however many stores (sessions) use it
        self.table, self.weight, self._enc, self.name = _read_table(self.path, st.st_size, st.st_mtime_ns)
        self.value_cap = float(value_cap)
        if self.value_cap:
            self.name += f"-v{self.value_cap:g}"
        self.n_rows = len(self.table)
        self.dim = int(self.table.shape[1])

    def token_ids(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(" " + text.casefold())

    def pooling(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, their pooling weights) of a text. With `value_cap`, a note's value tokens
        weigh at most `value_cap` times its key's in all (as `HashEmbedder.note_features`)."""
        return pooling(self._enc, self.weight, text, self.value_cap)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit rows."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for i, t in enumerate(texts):
            a, w = self.pooling(t)
            total = float(w.sum())
            if total > 0:
                out[i] = (w @ self.table[a]) / total
            n = float(np.linalg.norm(out[i]))
            if n > 0:
                out[i] /= n
            else:  # nothing weighted (empty or punctuation only): a stable unit vector of the text
                out[i, _slots("r:" + t, self.dim, 1)[0][0]] = 1.0
        return out


def pooling(enc, weight: np.ndarray, text: str, value_cap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, pooling weights) of `text` under a static table's encoding and weights (ids
    beyond the table dropped); a note's value capped at `value_cap` times its key (0: no cap).
    The static table's training pools its texts with this too."""
    parts = note_parts(text) if value_cap else None
    pieces = [text] if parts is None else list(parts)
    ids = [np.fromiter((j for j in enc.encode_ordinary(" " + p.casefold()) if j < len(weight)), dtype=np.int64)
           for p in pieces]
    ws = [weight[a].astype(np.float32) for a in ids]
    if parts is not None:
        key_w, value_w = float(ws[0].sum()), float(ws[1].sum())
        if value_w > value_cap * key_w:
            ws[1] = ws[1] * np.float32(value_cap * key_w / value_w)
    return np.concatenate(ids), np.concatenate(ws)


def save_table(path: str | os.PathLike, name: str, tokens: dict[bytes, int], pattern: str, table: np.ndarray,
               weight: np.ndarray) -> None:
    """Write a `StaticEmbedder` table: `tokens` (bytes -> id, a byte-level BPE vocabulary in rank
    order), the pre-tokenizer regex, one vector (rows of `table`) and one weight per id."""
    table = np.asarray(table, dtype=np.float32)
    if len(table) != len(weight):
        raise ValueError("one weight per table row")
    items = sorted(tokens.items(), key=lambda kv: kv[1])
    vocab = b"".join(t for t, _ in items)
    offsets = np.cumsum([0] + [len(t) for t, _ in items]).astype(np.int64)
    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(table / scale[:, None]), -127, 127).astype(np.int8)
    np.savez_compressed(path, vocab=np.frombuffer(vocab, dtype=np.uint8), offsets=offsets,
                        ranks=np.array([r for _, r in items], dtype=np.int64), pattern=np.array(pattern),
                        table=q, scale=scale.astype(np.float32), weight=np.asarray(weight, dtype=np.float16),
                        name=np.array(name))


class HybridEmbedder:
    """Embedders side by side: the vector is [sqrt(w1) v1, sqrt(w2) v2, ...] with the weights
    summing to 1, so it has unit norm and its cosine with another is sum(wi * cos_i).

    The default embedder is `HybridEmbedder([(HashEmbedder(person=1, value_cap=0.5), 0.5),
    (StaticEmbedder(value_cap=0.5), 0.5)])`:
    the lexical part keeps exact keys and codes, the static part links other words.
    """

    def __init__(self, parts: Sequence[tuple[Embedder, float]]):
        if not parts:
            raise ValueError("a hybrid needs at least one part")
        total = float(sum(w for _, w in parts))
        if total <= 0 or any(w < 0 for _, w in parts):
            raise ValueError("weights must be >= 0 with a positive sum")
        self.parts = [(e, float(w) / total) for e, w in parts]
        self.dim = int(sum(e.dim for e, _ in self.parts))
        # leading columns that are mostly zeros (a lexical first part), for the store's search
        first = self.parts[0][0]
        self.sparse_dims = int(first.dim) if getattr(first, "sparse_dims", 0) == first.dim else 0
        self.name = "hybrid(" + ",".join(f"{embedder_name(e)}*{w:.4g}" for e, w in self.parts) + ")"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit rows."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        cols = [e.embed(texts) * np.float32(math.sqrt(w)) for e, w in self.parts]
        return np.ascontiguousarray(np.concatenate(cols, axis=1), dtype=np.float32)


DEFAULT_WEIGHTS = (0.5, 0.5)  # lexical, static: chosen on validation relation types (docs/measurements.md)
VALUE_CAP = 0.5  # a note's value weighs at most half its key, in both halves (docs/measurements.md)


def default_embedder(table: str | os.PathLike | None = None) -> HybridEmbedder:
    """The default for new stores: hash features with the first-person feature, beside the
    bundled static table (or `table`, a file of `save_table`'s, to measure another)."""
    e = HybridEmbedder([(HashEmbedder(person=1.0, value_cap=VALUE_CAP), DEFAULT_WEIGHTS[0]),
                        (StaticEmbedder(table, value_cap=VALUE_CAP), DEFAULT_WEIGHTS[1])])
    # The score below which a hit is not worth showing a person (NoteStore.relevance_floor). On the
    # paraphrase set, a question and an unrelated note score 0.15 at the 99th percentile; a
    # question and its own note 0.30 at the 5th percentile (median 0.57; static-v2, 2026-12-08).
    e.relevance_floor = 0.2
    return e


class SentenceTransformerEmbedder:
    """A sentence-transformers model (default all-MiniLM-L6-v2, 384-d), loaded lazily.

    Requires the optional `sentence-transformers` package; the model is downloaded on first use
    unless it is already in the local cache.
    """

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", device: str | None = None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SentenceTransformerEmbedder needs the optional 'sentence-transformers' package: "
                "pip install 'memgpt[minilm]' (or: pip install sentence-transformers). "
                "The default get_embedder('default') needs nothing extra."
            ) from e
        self.model = SentenceTransformer(model_name, device=device)
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.name = f"st-{model_name}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit rows."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(v, dtype=np.float32)


def get_embedder(name: str | Embedder | None = "default") -> Embedder:
    """Embedder by name:
      "default" (also "" and None): the hybrid of `default_embedder()`, offline;
      "hash" (also "lexical"): today's lexical `HashEmbedder`, unchanged (its stores keep their
          vectors); "hash-person": the same with the first-person feature;
      "static": the bundled static table alone;
      "minilm": sentence-transformers' all-MiniLM-L6-v2 (optional package, cached model).

    An object that already is an Embedder is returned unchanged.
    """
    if name is None:
        name = "default"
    if not isinstance(name, str):
        if isinstance(name, Embedder):
            return name
        raise TypeError(f"not an embedder name or Embedder: {name!r}")
    key = name.strip().lower()
    if key in ("default", ""):
        return default_embedder()
    if key in ("hash", "lexical"):
        return HashEmbedder()
    if key in ("hash-person", "hash-p"):
        return HashEmbedder(person=1.0)
    if key == "static":
        return StaticEmbedder()
    if key in ("minilm", "all-minilm-l6-v2", "sentence-transformers", "st"):
        return SentenceTransformerEmbedder()
    raise ValueError(f"unknown embedder {name!r}; choose 'default', 'hash', 'hash-person', 'static' or 'minilm'")
