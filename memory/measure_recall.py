"""Retrieval recall@k of an embedder on benchmark-style notes and questions.

    python -m memgpt.memory.measure_recall [--distractors 10000] [--questions 500] [--embedder hash]

Builds an in-memory NoteStore holding `--distractors` notes of the benchmark families
(RULER magic numbers with random-letter and random-word keys, bAbI locations and possessions
with random names, chat facts such as "user city: ..."), adds the target notes and asks
benchmark-style questions. A question counts as a hit when every target note it needs is among
the top k results.

Questions whose text names no key ("What is the pass key?", "What is my name?") can only be
answered if their note is the one note of its kind in scope (one passkey per document, one name
per chat session), so each such target is added, searched for and deleted on its own, among the
same distractors. Keys and names are unique per store: which of two "Mary is in ..." notes is
current is the engine's business (recency), not the embedder's.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from collections import defaultdict

import faiss

from .embed import get_embedder
from .store import NoteStore

NOUNS = """apple river stone cloud piano garden window mountain rocket silver forest candle
ocean bridge castle engine feather harbor island jacket kettle ladder lemon marble meadow
mirror needle orange pepper pillow planet pocket puzzle rabbit ribbon saddle shadow shovel
spider spoon summer sunset table tiger tunnel violin wagon walnut whistle winter wizard yellow
anchor badge barrel basket beacon blanket bottle bucket button cactus camera canyon carpet
cherry chimney circus coffee comet copper cotton crystal dagger desert dolphin dragon eagle
falcon fabric fountain galaxy glacier goblet granite guitar hammer helmet honey horizon insect
jungle lantern lizard magnet mango meteor monkey mosaic napkin nectar oyster paddle palace
panther parrot pebble pencil pirate portal prism quartz quiver radar raven salmon satchel
scarlet shelter signal sponge statue sugar thunder timber tomato trumpet tulip turtle velvet
vessel volcano wallet wheat willow zephyr""".split()
ADJECTIVES = """able ancient angry bitter bold brave brief bright broad busy calm careful cheap clever
cloudy cold crazy curly curved damp dark deep dizzy dry dusty eager early empty famous fancy
fast fierce flat fluffy foggy fragile fresh friendly frozen fuzzy gentle giant glossy golden
grumpy happy heavy hollow humble hungry icy jolly kind large lazy lively lonely loud lucky
mellow messy mighty modern muddy narrow neat nervous noisy odd old pale plain polite proud
quick quiet rapid rare rich rough round royal rusty sad salty scary shaggy sharp shiny short
shy silent silly simple sleepy slow small smooth soft sour spicy steep sticky stormy strange
strict sunny sweet swift tall tame tender thick thin tidy tiny tough vast warm weak wet wide
wild windy wise witty wooden young zany""".split()
PLACES = "bathroom kitchen garden hallway bedroom office garage cellar attic balcony library park".split()
OBJECTS = "football apple milk key book umbrella phone wallet hat ball".split()
ATTRS = {
    "city": ["Paris", "Lima", "Oslo", "Cairo", "Quito", "Dakar", "Hanoi", "Perth"],
    "job": ["baker", "pilot", "nurse", "welder", "teacher", "chemist"],
    "pet": ["dog", "cat", "parrot", "hamster", "iguana"],
    "favorite color": ["teal", "crimson", "amber", "violet"],
    "favorite food": ["ramen", "tacos", "paella", "curry"],
    "hobby": ["chess", "climbing", "pottery", "archery"],
    "age": [str(a) for a in range(18, 90)],
}
SYLL = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + [c + v + "r" for c in "bdgkpt" for v in "aeo"]


class Gen:
    """Random keys, names and values. Keys and names of targets (`reserve=True`) are unique
    and never reused by distractors; distractors may repeat among themselves."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.used: set[str] = set()
        self.reserve = True

    def _fresh(self, make) -> str:
        while True:
            s = make()
            if s not in self.used:
                if self.reserve:
                    self.used.add(s)
                return s

    def letters(self) -> str:
        r = self.r
        return self._fresh(lambda: "-".join("".join(r.choices(string.ascii_lowercase, k=r.randint(4, 8)))
                                            for _ in range(r.choice((1, 2)))))

    def words(self) -> str:
        # RULER-style word keys: adjective-noun, e.g. "rusty-lantern".
        return self._fresh(lambda: f"{self.r.choice(ADJECTIVES)}-{self.r.choice(NOUNS)}")

    def name(self) -> str:
        return self._fresh(lambda: "".join(self.r.choices(SYLL, k=self.r.randint(2, 3))).capitalize())

    def value(self, digits: int = 7) -> str:
        return str(self.r.randint(10 ** (digits - 1), 10**digits - 1))


def distractor(g: Gen) -> str:
    kind = g.r.random()
    if kind < 0.25:
        return f"magic number for {g.letters()}: {g.value()}"
    if kind < 0.45:
        return f"magic number for {g.words()}: {g.value()}"
    if kind < 0.65:
        return f"{g.name()} is in the {g.r.choice(PLACES)}"
    if kind < 0.75:
        return f"{g.name()} has the {g.r.choice(OBJECTS)}"
    attr = g.r.choice(list(ATTRS))
    return f"user {attr}: {g.r.choice(ATTRS[attr])}"


def build_questions(g: Gen, n: int) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str, str, str]]]:
    """(family, question, target notes) for keyed questions, (family, question, note) for
    questions that need their note to be unique in scope."""
    keyed, unique = [], []
    shares = {"niah_letters": 0.28, "niah_words": 0.14, "multivalue": 0.08, "multiquery": 0.06,
              "babi": 0.24, "passkey": 0.10, "name": 0.10}
    for fam, share in shares.items():
        for _ in range(round(share * n)):
            if fam in ("niah_letters", "niah_words"):
                key = g.letters() if fam == "niah_letters" else g.words()
                keyed.append((fam, f"What is the special magic number for {key} mentioned in the provided text?",
                              [f"magic number for {key}: {g.value()}"]))
            elif fam == "multivalue":
                key = g.r.choice((g.letters, g.words))()
                keyed.append((fam, f"What are all the special magic numbers for {key} mentioned in the provided text?",
                              [f"magic number for {key}: {g.value()}" for _ in range(g.r.randint(2, 4))]))
            elif fam == "multiquery":
                make = g.r.choice((g.letters, g.words))  # one key type per question, as in RULER
                keys = [make() for _ in range(g.r.randint(2, 4))]
                ks = ", ".join(keys[:-1]) + " and " + keys[-1]
                keyed.append((fam, f"What are all the special magic numbers for {ks} mentioned in the provided text?",
                              [f"magic number for {k}: {g.value()}" for k in keys]))
            elif fam == "babi":
                name = g.name()
                keyed.append((fam, f"Where is {name}?", [f"{name} is in the {g.r.choice(PLACES)}"]))
            elif fam == "passkey":
                q = g.r.choice(("What is the pass key?", "What is the passkey?", "What is the pass key? The pass key is"))
                unique.append((fam, q, f"pass key: {g.value(5)}"))
            else:
                q = g.r.choice(("What is my name?", "What's my name?", "Do you remember my name?"))
                unique.append((fam, q, f"user name: {g.name()}"))
    return keyed, unique


def measure(n_distractors: int = 10_000, n_questions: int = 500, k: int = 5, embedder: str = "hash",
            seed: int = 0, verbose: bool = True, index: str = "flat") -> float:
    """Recall@k over all questions; prints a per-family table when verbose."""
    g = Gen(seed)
    keyed, unique = build_questions(g, n_questions)
    g.reserve = False  # from here on: distractors, which must not reuse a target's key
    store = NoteStore(embedder=get_embedder(embedder), index=index)
    t0 = time.perf_counter()
    store.add_many([distractor(g) for _ in range(n_distractors)], source="ingest")
    want: list[tuple[str, str, set[int]]] = []
    for fam, q, notes in keyed:
        ids = {n.id for n in store.add_many(notes, source="ingest")}
        want.append((fam, q, ids))
    t_build = time.perf_counter() - t0
    hits: dict[str, list[int]] = defaultdict(list)
    misses: list[str] = []
    t0 = time.perf_counter()
    for fam, q, ids in want:
        got = {n.id for n, _ in store.search(q, k=k)}
        hits[fam].append(int(ids <= got))
        if not ids <= got:
            misses.append(f"{fam}: {q!r} -> {[n.text for n, _ in store.search(q, k=k)]}")
    for fam, q, text in unique:
        note = store.add(text, source="chat")
        got = [n.id for n, _ in store.search(q, k=k)]
        hits[fam].append(int(note.id in got))
        if note.id not in got:
            misses.append(f"{fam}: {q!r} -> {[n.text for n, _ in store.search(q, k=k)]}")
        store.delete(note.id)
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--distractors", type=int, default=10_000)
    p.add_argument("--questions", type=int, default=500)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--embedder", default="hash")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", choices=("flat", "hnsw"), default="flat")
    a = p.parse_args(argv)
    # One query at a time gains nothing from OpenMP threads, and on a shared machine their
    # spin-waiting makes FAISS several times slower.
    faiss.omp_set_num_threads(1)
    measure(a.distractors, a.questions, a.k, a.embedder, a.seed, index=a.index)


if __name__ == "__main__":
    main()
