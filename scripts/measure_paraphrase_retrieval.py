"""Recall of embedders on questions asked in other words than their notes (a script).

    python scripts/measure_paraphrase_retrieval.py [--candidates hash,hash-person,static,default]
        [--per-relation 3] [--distractors 10000] [--seed 0] [--timing] [--search-notes 100000]

The set is `memgpt.training.paraphrase_set` (every relation type of the catalog, its questions
against its note form, test-split values, among `--distractors` notes; see there). A question
is a hit at k when its note is among the k best-scoring notes in its scope, ties counted against
it; exact inner products (what the store's flat index computes). Reported for the held-out
relation types (`relations.HELDOUT`: never fine-tuned on, never used to fit or choose the static
table) and the trained ones apart.

Candidates (comma-separated):
  hash, hash-person, static, default     `memgpt.memory.embed.get_embedder(name)`
  lexical       the default's lexical half (hash-person with the value cap)
  smol-raw      SmolLM2's token embeddings, weighted mean (the static table before its map)
  hidden:L      SmolLM2-135M's hidden states after L blocks, mean-pooled (`memgpt.retrieval`)
  wordllama     WordLlama l2_supercat 256-d (`--wordllama DIR`: an unpacked wordllama wheel)
  minilm-dir    all-MiniLM-L6-v2 from a directory of its files (`--minilm-dir DIR`, transformers)
  A*w+B*w       a hybrid of any of the above (score = sum of w x cosine, weights normalised),
                e.g. "hash-person*0.5+wordllama*0.5"

`--hnsw` instead builds a store-sized index of real notes (one pair per relation type among
`--search-notes` distractors) and reports recall@5, exact and through the store's HNSW index,
with the HNSW search p50.

`--store` instead fills an in-memory `NoteStore` (the candidate as its embedder: `default` or
`hash`) with the same real notes and reports recall@5 and the p50/p95 of `NoteStore.search`
itself (embed the question, search the store's index, read the notes back): the store's own
search path, which at this size scores the lexical columns as inverted lists (`memory/split.py`).

`--timing` adds, per candidate: seconds to embed 1,000 notes (the set's first distractors, after a
warm-up), and the p50 of one search (embed the question + FAISS flat search for 5) over
`--search-notes` notes (the set's embedded notes tiled with a little noise: a flat search costs
the same whatever the vectors). Time it alone (`/work/alone.sh`); recall needs no quiet machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from memgpt.training.paraphrase_set import ParaphraseSet, build


def _smol_raw():
    import tempfile

    from memgpt.memory.embed import StaticEmbedder, save_table
    from memgpt.training.static_table import base_table, pooling_weights

    E, tokens, pattern = base_table()
    path = os.path.join(tempfile.mkdtemp(), "smol-raw.npz")
    save_table(path, "smollm2-raw", tokens, pattern, E - E.mean(0), pooling_weights(tokens, len(E)))
    return StaticEmbedder(path)


class _WordLlama:
    """WordLlama's 256-d table and tokenizer from an unpacked wheel: a plain mean of token vectors."""

    def __init__(self, root: str):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.E = load_file(os.path.join(root, "wordllama/weights/l2_supercat_256.safetensors"))["embedding.weight"]
        self.E = self.E.astype(np.float32)
        self.tk = Tokenizer.from_file(os.path.join(root, "wordllama/tokenizers/l2_supercat_tokenizer_config.json"))
        self.tk.no_padding()
        self.tk.no_truncation()
        self.dim, self.name = 256, "wordllama-l2-supercat-256"

    def embed(self, texts):
        enc = self.tk.encode_batch([t.lower() for t in texts], add_special_tokens=False)
        v = np.stack([self.E[e.ids].mean(0) if e.ids else np.zeros(self.dim, np.float32) for e in enc])
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


class _MiniLMDir:
    """all-MiniLM-L6-v2 read from a directory (config, tokenizer, safetensors) with transformers."""

    def __init__(self, root: str):
        from transformers import AutoModel, AutoTokenizer

        self.tk, self.m = AutoTokenizer.from_pretrained(root), AutoModel.from_pretrained(root).eval()
        self.dim, self.name = 384, "minilm-l6-v2-dir"

    def embed(self, texts):
        import torch

        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts])
        with torch.inference_mode():
            for s in range(0, len(texts), 128):
                idx = order[s:s + 128]
                b = self.tk([texts[j] for j in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
                h = self.m(**b).last_hidden_state
                m = b["attention_mask"].unsqueeze(-1).float()
                out[idx] = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
        return out


_MODEL = None


def make(name: str, args):
    """One (non-hybrid) candidate embedder by name."""
    global _MODEL
    if name == "smol-raw":
        return _smol_raw()
    if name.startswith("hidden:"):
        from memgpt.models import load_model
        from memgpt.retrieval import HiddenStateEmbedder

        if _MODEL is None:
            _MODEL = load_model("smollm2-base", "cpu")[:2]
        return HiddenStateEmbedder(*_MODEL, layer=int(name.split(":", 1)[1]))
    if name == "wordllama":
        if not args.wordllama:
            raise SystemExit("wordllama needs --wordllama DIR (an unpacked wordllama wheel)")
        return _WordLlama(args.wordllama)
    if name == "minilm-dir":
        if not args.minilm_dir:
            raise SystemExit("minilm-dir needs --minilm-dir DIR")
        return _MiniLMDir(args.minilm_dir)
    from memgpt.memory import embed as E

    if name == "lexical":  # the default's lexical half (first person, value cap)
        return E.HashEmbedder(person=1.0, value_cap=E.VALUE_CAP)
    if args.table and name == "static":  # a table file other than the bundled one
        return E.StaticEmbedder(args.table)
    if args.table and name == "default":
        return E.default_embedder(args.table)
    return E.get_embedder(name)


def parts_of(candidate: str) -> list[tuple[str, float]]:
    if "+" not in candidate:
        return [(candidate, 1.0)]
    parts = []
    for p in candidate.split("+"):
        name, _, w = p.rpartition("*")
        parts.append((name, float(w)) if name else (p, 1.0))
    total = sum(w for _, w in parts)
    return [(n, w / total) for n, w in parts]


def texts(s: ParaphraseSet) -> tuple[list[str], int, int]:
    """All texts to embed (in-scope notes, profile notes, questions), the number of always-in-
    scope notes and of notes per profile."""
    base = list(s.distractors) + list(s.doc_notes)
    return base + [n for p in s.profiles for n in p] + [p.question for p in s.pairs], len(base), len(s.profiles[0])


def ranks(s: ParaphraseSet, vecs: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Rank of each pair's note among its scope (0 = first), ties against it."""
    _, nb, npf = texts(s)
    qoff = nb + npf * len(s.profiles)
    score = lambda a, b: sum(w * (X[a[0]:a[1]] @ X[b[0]:b[1]].T) for w, X in vecs)  # noqa: E731
    base = score((qoff, qoff + len(s.pairs)), (0, nb))
    where = {t: i for i, t in enumerate(list(s.distractors) + list(s.doc_notes))}
    out = np.zeros(len(s.pairs), dtype=np.int64)
    for i, p in enumerate(s.pairs):
        row = base[i]
        if p.is_user:
            o = nb + npf * p.profile
            prof = score((qoff + i, qoff + i + 1), (o, o + npf))[0]
            target = prof[s.profiles[p.profile].index(p.note)]
            row = np.concatenate([row, prof])
        else:
            target = row[where[p.note]]
        out[i] = int((row > target).sum() + (row == target).sum() - 1)
    return out


def timing(embedders: list[tuple[object, float]], s: ParaphraseSet, vecs: np.ndarray, n_search: int,
           queries: int = 100) -> tuple[float, float]:
    """(seconds to embed 1,000 notes, p50 ms of embed question + flat search over n_search notes)."""
    import faiss

    from memgpt.memory.embed import _slots
    from memgpt.memory.index import FlatIndex

    faiss.omp_set_num_threads(1)  # one query at a time, as the store serves them
    notes = list(s.distractors[:1000])

    def embed(t):
        return np.concatenate([e.embed(t) * np.float32(np.sqrt(w)) for e, w in embedders], axis=1)

    embed(notes[:50])
    _slots.cache_clear()  # the hash embedder's feature cache: cold, as for notes never seen
    t0 = time.perf_counter()
    embed(notes)
    t_embed = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    base = vecs[: len(s.distractors) + len(s.doc_notes)]
    reps = -(-n_search // len(base))
    big = np.tile(base, (reps, 1))[:n_search]
    big = big + rng.normal(0, 1e-3, big.shape).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    index = FlatIndex(big.shape[1])
    index.add(np.arange(len(big)), big)
    del big
    qs = [p.question for p in s.pairs[:queries]]
    ts = []
    for q in qs:
        t0 = time.perf_counter()
        index.search(embed([q])[0], 5)
        ts.append(time.perf_counter() - t0)
    return t_embed, 1000 * float(np.median(ts[10:]))


def hnsw_check(candidate: str, args) -> None:
    """Recall@5 and search p50 of one candidate in a store-sized index of real notes: the set with
    one pair per relation type (one profile, so every note lives in one index) among
    `--search-notes` distractors, exact (numpy) against the store's HNSW (M 16, efConstruction
    40, efSearch 128)."""
    import faiss

    from memgpt.memory.index import HNSWIndex

    faiss.omp_set_num_threads(1)
    s = build(args.seed, 1, args.search_notes)
    notes = list(s.distractors) + list(s.doc_notes) + list(s.profiles[0])
    parts = [(make(n, args), w) for n, w in parts_of(candidate)]

    def embed(t):
        return np.concatenate([e.embed(t) * np.float32(np.sqrt(w)) for e, w in parts], axis=1)

    t0 = time.perf_counter()
    V = embed(notes)
    Q = embed([p.question for p in s.pairs])
    t_embed = time.perf_counter() - t0
    where = {n: i for i, n in enumerate(notes)}
    target = np.array([where[p.note] for p in s.pairs])
    held = np.array([p.heldout for p in s.pairs])
    S = Q @ V.T
    exact = np.array([(S[i] > S[i, t]).sum() + (S[i] == S[i, t]).sum() - 1 for i, t in enumerate(target)]) < 5
    t0 = time.perf_counter()
    index = HNSWIndex(V.shape[1])
    index.add(np.arange(len(V)), V)
    t_build = time.perf_counter() - t0
    hits, ts = [], []
    for i, q in enumerate(Q):
        t0 = time.perf_counter()
        got = index.search(q, 5)
        ts.append(time.perf_counter() - t0)
        hits.append(int(target[i]) in {j for j, _ in got})
    hits = np.array(hits)
    print(f"{candidate} among {len(notes)} notes ({len(s.pairs)} questions; embedded in {t_embed:.0f}s, "
          f"HNSW built in {t_build:.0f}s): recall@5 exact held-out {exact[held].mean():.3f} trained "
          f"{exact[~held].mean():.3f}; HNSW held-out {hits[held].mean():.3f} trained {hits[~held].mean():.3f}; "
          f"HNSW search p50 {1000 * float(np.median(ts)):.2f} ms", flush=True)


def store_check(candidate: str, args) -> None:
    """Search p50 and recall@5 through `NoteStore.search` itself (the question embedded, the
    store's index searched, notes read back), for a store of `--search-notes` real notes: the
    set with one pair per relation type among that many distractors, in one in-memory store.
    Where the split scorer may scan its dense half in int8 first, that and the float32 scan are
    timed side by side: `--rounds` rounds over every question, alternating, in one process."""
    import faiss

    from memgpt.memory import index as index_mod
    from memgpt.memory import split
    from memgpt.memory.store import NoteStore

    faiss.omp_set_num_threads(1)
    if args.faiss_scan:
        index_mod.SPLIT_FROM = 1 << 62  # the store's flat FAISS scan, as before memory/split.py
    s = build(args.seed, 1, args.search_notes)
    notes = list(dict.fromkeys(list(s.distractors) + list(s.doc_notes) + list(s.profiles[0])))
    store = NoteStore(None, embedder=candidate)
    t0 = time.perf_counter()
    for i in range(0, len(notes), 5000):
        store.add_many(notes[i:i + 5000], source="import")
    t_add = time.perf_counter() - t0
    held = np.array([p.heldout for p in s.pairs])
    for q in [p.question for p in s.pairs[:10]]:
        store.search(q, k=5)  # warm: the first search builds the in-memory search structure
    scorer = store._index._split
    int8 = (scorer is not None and scorer.dim > scorer.sparse_dims and len(notes) >= split.INT8_FROM
            and split._int8_scan())
    scans = ["int8 first", "float32"] if int8 else ["as built"]
    ts: dict[str, list[float]] = {m: [] for m in scans}
    found: dict[str, list[bool]] = {m: [] for m in scans}
    for _ in range(args.rounds):
        for m in scans:
            if int8:
                split._INT8[0] = m == "int8 first"
            for p in s.pairs:
                t0 = time.perf_counter()
                got = store.search(p.question, k=5)
                ts[m].append(time.perf_counter() - t0)
                found[m].append(p.note in {n.text for n, _ in got})
    how = " (FAISS scan)" if args.faiss_scan else ""
    for m in scans:
        hits = np.array(found[m][: len(s.pairs)])
        print(f"{candidate}{how}, dense scan {m}: NoteStore of {len(store)} notes (added in {t_add:.0f}s), "
              f"{len(s.pairs)} questions x {args.rounds}: recall@5 held-out {hits[held].mean():.3f} trained "
              f"{hits[~held].mean():.3f}; search p50 {1000 * float(np.median(ts[m])):.2f} ms, "
              f"p95 {1000 * float(np.percentile(ts[m], 95)):.2f} ms", flush=True)
    split._INT8[0] = None
    store.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidates", default="hash,hash-person,static,default")
    p.add_argument("--per-relation", type=int, default=3)
    p.add_argument("--distractors", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timing", action="store_true", help="also time embedding and search (run alone)")
    p.add_argument("--search-notes", type=int, default=100_000)
    p.add_argument("--wordllama", help="an unpacked wordllama wheel (for the wordllama candidate)")
    p.add_argument("--minilm-dir", help="a directory holding all-MiniLM-L6-v2's files")
    p.add_argument("--table", help="a static table file for the static and default candidates (static_table's --out)")
    p.add_argument("--fold", type=int,
                   help="report validation fold N's relation types (static_table.fold_of; unseen by a table built "
                        "with --fold N) instead of the held-out ones, and the other trained types without them")
    p.add_argument("--misses", type=int, default=0, help="print this many held-out (with --fold: validation) misses per candidate")
    p.add_argument("--hnsw", action="store_true",
                   help="instead: each candidate's recall@5 and search p50 in an HNSW index of --search-notes real notes")
    p.add_argument("--store", action="store_true",
                   help="instead: search p50 and recall@5 through NoteStore.search with --search-notes real notes")
    p.add_argument("--faiss-scan", action="store_true", help="with --store: search by FAISS's flat scan (before)")
    p.add_argument("--rounds", type=int, default=3, help="with --store: timed rounds over the questions")
    a = p.parse_args(argv)
    if a.store:
        for cand in a.candidates.split(","):
            store_check(cand, a)
        return 0
    if a.hnsw:
        for cand in a.candidates.split(","):
            hnsw_check(cand, a)
        return 0

    s = build(a.seed, a.per_relation, a.distractors)
    all_texts, nb, npf = texts(s)
    held = np.array([x.heldout for x in s.pairs])
    from memgpt.training.static_table import fold_of
    val = np.array([not x.heldout and a.fold is not None and fold_of(x.relation) == a.fold for x in s.pairs])
    print(f"{len(s.pairs)} pairs over {len(s.relation_types)} relation types "
          f"({len({x.relation for x in s.pairs if x.heldout})} held out: {int(held.sum())} pairs); "
          f"in scope: {nb} notes + {npf} of the asker's profile", flush=True)
    cache: dict[str, tuple[object, np.ndarray]] = {}
    rows = []
    for cand in a.candidates.split(","):
        parts = parts_of(cand)
        for name, _ in parts:
            if name not in cache:
                e = make(name, a)
                cache[name] = (e, e.embed(all_texts))
        vecs = [(w, cache[n][1]) for n, w in parts]
        r = ranks(s, vecs)
        rec = lambda m, k: float((r[m] < k).mean())  # noqa: E731
        row = {"candidate": cand, "held_r1": rec(held, 1), "held_r5": rec(held, 5),
               "trained_r1": rec(~held, 1), "trained_r5": rec(~held, 5)}
        if a.fold is not None:  # choosing on validation types: the held-out ones stay unseen, here too
            row = {"candidate": cand, "val_r1": rec(val, 1), "val_r5": rec(val, 5),
                   "trained_r1": rec(~held & ~val, 1), "trained_r5": rec(~held & ~val, 5)}
        if a.timing:
            joined = np.concatenate([X * np.float32(np.sqrt(w)) for w, X in vecs], axis=1)
            row["embed_1000_s"], row["search_p50_ms"] = timing([(cache[n][0], w) for n, w in parts], s, joined,
                                                               a.search_notes)
        rows.append(row)
        print(" | ".join(f"{k} {v:.3f}" if isinstance(v, float) else str(v) for k, v in row.items()), flush=True)
        if a.misses:
            qoff = len(all_texts) - len(s.pairs)
            for i in [i for i in range(len(r)) if (val if a.fold is not None else held)[i] and r[i] >= 5][: a.misses]:
                print(f"   miss (rank {r[i]}): {s.pairs[i].question!r} -> {s.pairs[i].note!r}")
            del qoff
    print()
    group = "validation" if a.fold is not None else "held-out"
    cols = f"| candidate | {group} r@1 | {group} r@5 | trained r@1 | trained r@5 |"
    if a.timing:
        cols += " embed 1,000 notes (s) | search p50 at %dk (ms) |" % (a.search_notes // 1000)
    print(cols)
    print("|" + "---|" * (cols.count("|") - 1))
    for row in rows:
        g = "val" if a.fold is not None else "held"
        line = (f"| {row['candidate']} | {row[g + '_r1']:.3f} | {row[g + '_r5']:.3f} | {row['trained_r1']:.3f} "
                f"| {row['trained_r5']:.3f} |")
        if a.timing:
            line += f" {row['embed_1000_s']:.2f} | {row['search_p50_ms']:.1f} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
