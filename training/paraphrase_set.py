"""A paraphrase retrieval set: questions in other words than their notes, among distractor notes.

Every relation type of `memgpt.training.relations` gives `per_relation` pairs (question -> note):
the note in its one note form ("user allergy: avocado", "north archive room door code: 7319"), the
question one of the relation's own ways of asking ("What can't I eat?"), sometimes after a
conversational lead ("Remind me, what can't I eat?"). Values and subjects come from the test
part of their spaces, so no value of the set is ever trained on; relation types are marked
`heldout` when the fine-tune never sees them (`relations.HELDOUT`).

What is in scope when a question is asked (`scope`):
- the distractors: notes of the benchmarks' families worded as the model writes them
  (`memgpt.synth`: RULER magic numbers, bAbI places, pass keys, chat facts) and document facts of
  every relation type about other subjects; none shares a key with a pair's note;
- every document pair's note, and for each of them `siblings` other facts about the same subject
  ("north archive room opening hours: ...") -- the hard negatives of a document question;
- for a user question, the notes of its profile only: profile i holds the i-th fact of every
  user relation, one note per key, as one person's notebook would ("What's my name?" has exactly
  one right answer in scope). The other profiles' notes are not in scope.

Pure Python, seeded: the same arguments give the same set on any machine.

    python -m memgpt.training.paraphrase_set [--per-relation 3] [--distractors 10000] [--show 20]
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass

from memgpt.synth.notes import distractor_notes
from memgpt.training import relations as R

SPLIT = "test"  # values and subjects never trained on
LEADS = ("", "", "", "Remind me, ", "Quick question: ", "Hey, ", "Do you know: ", "Sorry, I forgot: ",
         "Can you check: ", "One more thing: ")
_QWORDS = ("What", "What's", "Who", "Who's", "Whose", "Where", "Where's", "When", "When's", "Which", "How",
           "Do", "Does", "Did", "Is", "Are", "Can", "Have", "Has", "Should", "Was", "Were", "Am")
DOC_DISTRACTOR_SHARE = 0.5  # of the distractors: document facts (the rest: the benchmarks' notes)


@dataclass(frozen=True)
class Pair:
    question: str
    note: str
    relation: str   # relation type name
    heldout: bool   # the relation type is never fine-tuned on
    profile: int    # user facts: the profile whose notes are in scope; -1 for document facts

    @property
    def is_user(self) -> bool:
        return self.profile >= 0


@dataclass(frozen=True)
class ParaphraseSet:
    pairs: tuple[Pair, ...]
    distractors: tuple[str, ...]          # notes always in scope (benchmark notes, other subjects' facts)
    doc_notes: tuple[str, ...]            # document pairs' notes and their siblings, always in scope
    profiles: tuple[tuple[str, ...], ...]  # user notes, one tuple per profile

    def scope(self, pair: Pair) -> list[str]:
        """Every note in scope when `pair.question` is asked (its note among them)."""
        out = list(self.distractors) + list(self.doc_notes)
        if pair.is_user:
            out += self.profiles[pair.profile]
        return out

    @property
    def relation_types(self) -> set[str]:
        return {p.relation for p in self.pairs}


def _with_lead(question: str, rng: random.Random) -> str:
    lead = rng.choice(LEADS)
    if not lead:
        return question
    first = question.split(" ", 1)[0]
    return lead + (question[:1].lower() + question[1:] if first in _QWORDS else question)


def _question(fact: R.OpenFact, rng: random.Random) -> str:
    return _with_lead(rng.choice(fact.questions), rng)


def build(seed: int = 0, per_relation: int = 3, n_distractors: int = 10_000, siblings: int = 2,
          relations: tuple[R.Relation, ...] = R.RELATIONS) -> ParaphraseSet:
    """The set: `per_relation` pairs of every relation type among `n_distractors` distractor notes
    (+ the document pairs' notes and `siblings` facts about each of their subjects)."""
    rng = random.Random(f"paraphrase-set:{seed}")
    users = [r for r in relations if r.is_user]
    docs = [r for r in relations if not r.is_user]
    by_subject_kind: dict[str, list[R.Relation]] = {}
    for r in R.RELATIONS:
        if not r.is_user:
            by_subject_kind.setdefault(r.subject, []).append(r)

    pairs: list[Pair] = []
    profiles: list[tuple[str, ...]] = []
    for i in range(per_relation):
        notes = []
        for r in users:
            f = R.draw_fact(rng, SPLIT, r)
            notes.append(f.note)
            pairs.append(Pair(_question(f, rng), f.note, r.name, r.name in R.HELDOUT, i))
        profiles.append(tuple(notes))

    doc_notes: list[str] = []
    keys: set[str] = set()  # keys of every note in doc_notes: unique
    for r in docs:
        made = 0
        while made < per_relation:
            f = R.draw_fact(rng, SPLIT, r)
            if f.key in keys:
                continue  # the same subject drawn twice for one relation: one answer per key
            same_subject = [s for s in by_subject_kind[r.subject] if s.key != r.key]
            sibs = []
            for s in rng.sample(same_subject, min(siblings, len(same_subject))):
                g = R.draw_fact(rng, SPLIT, s, subject=f.subject)
                if g.key not in keys and g.key != f.key:
                    sibs.append(g)
            keys.update([f.key] + [g.key for g in sibs])
            doc_notes += [f.note] + [g.note for g in sibs]
            pairs.append(Pair(_question(f, rng), f.note, r.name, r.name in R.HELDOUT, -1))
            made += 1

    # Distractors: none may share a key with a note in scope (a second "user allergy" note, or
    # the same room's door code twice, would make the question unanswerable).
    user_keys = {R.parse_note(n)[0] for p in profiles for n in p}
    n_doc = round(DOC_DISTRACTOR_SHARE * n_distractors)
    doc_d: list[str] = []
    while len(doc_d) < n_doc:
        f = R.draw_fact(rng, SPLIT, rng.choice(R.RELATIONS))
        if f.relation.is_user or f.key in keys:
            continue
        keys.add(f.key)
        doc_d.append(f.note)
    # The benchmarks' notes, minus those with a key of ours ("user name: ..." from the chat family).
    needed = sorted(user_keys | keys)
    bench_d = distractor_notes(rng, SPLIT, n_distractors - n_doc, [k + ": x" for k in needed])
    distractors = doc_d + bench_d
    rng.shuffle(distractors)
    return ParaphraseSet(tuple(pairs), tuple(distractors), tuple(doc_notes), tuple(profiles))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-relation", type=int, default=3)
    p.add_argument("--distractors", type=int, default=10_000)
    p.add_argument("--show", type=int, default=20, help="print this many pairs")
    a = p.parse_args(argv)
    s = build(a.seed, a.per_relation, a.distractors)
    held = [x for x in s.pairs if x.heldout]
    print(f"{len(s.pairs)} pairs over {len(s.relation_types)} relation types "
          f"({len({x.relation for x in held})} held out, {len(held)} pairs); "
          f"{len(s.distractors)} distractors + {len(s.doc_notes)} document notes "
          f"+ {len(s.profiles[0]) if s.profiles else 0} user notes per profile in scope")
    for x in random.Random(a.seed).sample(s.pairs, min(a.show, len(s.pairs))):
        print(f"  {'H' if x.heldout else 'T'} {x.question!r} -> {x.note!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
