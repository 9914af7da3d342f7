"""Retrieval recall@k of an embedder on the benchmarks' notes and questions (a script).

    python scripts/measure_recall.py [--distractors 10000] [--questions 500] [--embedder hash]

Builds an in-memory NoteStore holding `--distractors` notes of every fact family, worded as the
model writes them (`memgpt.synth`, the test pools the benchmarks draw from: RULER magic numbers,
bAbI places and possessions, pass keys, personal chat facts), adds the target notes and asks the
benchmarks' questions. A question counts as a hit when every target note it needs is among the
top k results.

Questions whose text names no key ("What is the pass key?", "What is my name?") can only be
answered if their note is the one note of its kind in scope (one pass key per document, one name
per chat session), so each such target is added, searched for and deleted on its own, among the
same distractors. No two notes in the store share a subject with a target (`note_subjects`):
which of two "Mary is in ..." notes is current is the engine's business (recency), not the
embedder's.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict

from memgpt.memory.embed import get_embedder
from memgpt.memory.store import NoteStore
from memgpt.synth import facts
from memgpt.synth.notes import distractor_notes, note_subjects

SPLIT = "test"  # the benchmarks' pools
# share of the questions per family; the keyed ones live in the store together, the others one at a time
SHARES = {"niah": 0.42, "multivalue": 0.08, "multiquery": 0.06, "babi": 0.24, "passkey": 0.10, "name": 0.10}
UNIQUE = ("passkey", "name")


def _question(fam: str, rng: random.Random) -> tuple[str, list[str]]:
    """(question, target notes) of one family, from the benchmarks' generators."""
    if fam == "niah":
        f = facts.niah_fact(rng, SPLIT)
        return f.qa[0][0], [f.note]
    if fam == "multivalue":
        key = facts.niah_key(rng, SPLIT)
        fs = [facts.niah_fact(rng, SPLIT, key) for _ in range(rng.randint(2, 4))]
        return facts.multivalue_question(key), [f.note for f in fs]
    if fam == "multiquery":
        fs = [facts.niah_fact(rng, SPLIT) for _ in range(rng.randint(2, 4))]
        return facts.multiquery_question([facts.niah_note_key(f.note) for f in fs]), [f.note for f in fs]
    if fam == "babi":
        w = facts.BabiWorld(rng, SPLIT, n_people=1)
        f = w.step("move")
        return w.questions()["qa1"][0][0], [f.note]
    if fam == "passkey":
        f = facts.passkey_fact(rng, SPLIT)
        return f.qa[0][0], [f.note]
    if fam == "name":
        f = facts.chat_fact(rng, SPLIT, "name")
        return rng.choice(f.qa)[0], [f.note]
    raise ValueError(fam)


def build(n_distractors: int, n_questions: int, seed: int = 0):
    """(keyed, unique, distractors): (family, question, target notes) for the questions asked of
    the whole store and for those asked with their note alone in scope, and the distractor notes."""
    rng = random.Random(seed)
    keyed: list[tuple[str, str, list[str]]] = []
    unique: list[tuple[str, str, list[str]]] = []
    taken: set[str] = set()  # subjects of the keyed targets: unique per store
    for fam, share in SHARES.items():
        for _ in range(round(share * n_questions)):
            while True:
                q, notes = _question(fam, rng)
                subjects = set().union(*map(note_subjects, notes))
                if fam in UNIQUE or not subjects & taken:
                    break
            if fam in UNIQUE:
                unique.append((fam, q, notes))
            else:
                taken |= subjects
                keyed.append((fam, q, notes))
    targets = [n for _, _, notes in keyed + unique for n in notes]
    return keyed, unique, distractor_notes(rng, SPLIT, n_distractors, targets)


def measure(n_distractors: int = 10_000, n_questions: int = 500, k: int = 5, embedder: str = "hash",
            seed: int = 0, verbose: bool = True, index: str = "flat") -> float:
    """Recall@k over all questions; prints a per-family table when verbose."""
    keyed, unique, distractors = build(n_distractors, n_questions, seed)
    store = NoteStore(embedder=get_embedder(embedder), index=index)
    t0 = time.perf_counter()
    store.add_many(distractors, source="ingest")
    want: list[tuple[str, str, set[int]]] = []
    for fam, q, notes in keyed:
        want.append((fam, q, {n.id for n in store.add_many(notes, source="ingest")}))
    t_build = time.perf_counter() - t0
    hits: dict[str, list[int]] = defaultdict(list)
    misses: list[str] = []

    def ask(fam: str, q: str, ids: set[int]) -> None:
        got = store.search(q, k=k)
        ok = ids <= {n.id for n, _ in got}
        hits[fam].append(int(ok))
        if not ok:
            misses.append(f"{fam}: {q!r} -> {[n.text for n, _ in got]}")

    t0 = time.perf_counter()
    for fam, q, ids in want:
        ask(fam, q, ids)
    for fam, q, notes in unique:
        added = store.add_many(notes, source="chat")
        ask(fam, q, {n.id for n in added})
        for n in added:
            store.delete(n.id)
    t_search = time.perf_counter() - t0
    total = sum(sum(v) for v in hits.values()) / sum(len(v) for v in hits.values())
    if verbose:
        print(f"embedder={getattr(store.embedder, 'name', embedder)} index={index} "
              f"notes={len(store)} questions={sum(len(v) for v in hits.values())} "
              f"(build {t_build:.1f}s, search {t_search:.1f}s)")
        for fam, v in hits.items():
            print(f"  {fam:<13} recall@{k} = {sum(v) / len(v):.3f}  ({sum(v)}/{len(v)})")
        print(f"recall@{k} = {total:.4f}")
        for m in misses[:10]:
            print("  miss", m)
    store.close()
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--distractors", type=int, default=10_000)
    p.add_argument("--questions", type=int, default=500)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--embedder", default="hash")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", choices=("flat", "hnsw"), default="flat")
    a = p.parse_args(argv)
    import faiss

    # One query at a time gains nothing from OpenMP threads, and on a shared machine their
    # spin-waiting makes FAISS several times slower.
    faiss.omp_set_num_threads(1)
    measure(a.distractors, a.questions, a.k, a.embedder, a.seed, index=a.index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
