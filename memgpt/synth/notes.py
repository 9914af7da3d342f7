"""Notes of every fact family as they fill a `<|mem|>` block: distractors about other subjects,
and the needed notes placed among them in time order. The training corpus, the evaluation and
`scripts/measure_recall.py` draw them here, so every note has the wording the model writes."""
from __future__ import annotations

import random
from typing import Callable, Iterable

from memgpt.synth.facts import BabiWorld, chat_fact, niah_fact, passkey_fact


def note_subjects(note: str) -> set[str]:
    """What a note is about: "pass key", "user job", "magic number for K", or a bAbI person
    (and object). Two notes with a common subject answer the same question."""
    if ": " in note:
        return {note.rsplit(": ", 1)[0]}
    words = note.split()
    return {words[0]} if " is in the " in note else {words[0], words[-1]}


def any_note(rng: random.Random, split: str) -> str:
    """A note of any family: the usual distractor."""
    r = rng.random()
    if r < 0.15:
        return passkey_fact(rng, split).note
    if r < 0.55:
        return niah_fact(rng, split).note
    if r < 0.8:
        return chat_fact(rng, split).note
    return BabiWorld(rng, split).step("all").note


def distractor_notes(rng: random.Random, split: str, n: int, needed: Iterable[str] = (),
                     draw: Callable[[random.Random, str], str] = any_note) -> list[str]:
    """`n` notes drawn by `draw`, none sharing a subject with the `needed` notes: a second
    pass key or another "Mary is in ..." would make the question unanswerable, and the model
    would learn to guess instead of to copy."""
    taken = set().union(*map(note_subjects, needed)) if needed else set()
    notes: list[str] = []
    while len(notes) < n:
        note = draw(rng, split)
        if not note_subjects(note) & taken:
            notes.append(note)
    return notes


def interleave_notes(rng: random.Random, distractors: list[str], needed: list[str]) -> list[str]:
    """Needed notes at random places among the distractors, keeping their own order (stale
    before latest), as a chronological `<|mem|>` block would hold them."""
    notes = list(distractors)
    for n in needed:
        notes.insert(rng.randint(0, len(notes)), n)
    pos = sorted(i for i, n in enumerate(notes) if n in needed)  # the places they took, in order
    for p, n in zip(pos, needed):
        notes[p] = n
    return notes
