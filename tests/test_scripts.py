"""The lab tools in scripts/: measure_recall and bench_index, on small inputs."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from memgpt.synth import facts
from memgpt.synth.notes import note_subjects

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "scripts")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", os.path.join(SCRIPTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_recall_asks_in_the_models_wording():
    """The store holds notes worded as the model writes them (memgpt.synth: "user favourite
    colour", not a hand-written "favorite color"), no distractor shares a subject with a target,
    and the hash embedder finds nearly every target among them."""
    mr = load_script("measure_recall")
    keyed, unique, distractors = mr.build(2000, 100, seed=1)
    chat_keys = {note.split(": ")[0] for _, _, note, _, _ in facts.CHAT_SLOTS}
    user_notes = [n for n in distractors if n.startswith("user ")]
    assert user_notes and all(n.split(": ")[0] in chat_keys for n in user_notes)
    assert any(n.startswith("user favourite colour: ") for n in distractors)
    targets = [n for _, _, notes in keyed + unique for n in notes]
    taken = set().union(*map(note_subjects, targets))
    assert not any(note_subjects(n) & taken for n in distractors)
    keyed_subjects = [set().union(*map(note_subjects, notes)) for _, _, notes in keyed]
    assert sum(map(len, keyed_subjects)) == len(set().union(*keyed_subjects))  # keyed targets: one subject each
    assert {f for f, _, _ in keyed} == {"niah", "multivalue", "multiquery", "babi"}
    assert {f for f, _, _ in unique} == {"passkey", "name"}
    assert mr.measure(n_distractors=1000, n_questions=60, verbose=False) >= 0.95


def test_bench_index_hash_data_embeds_synthetic_notes():
    bi = load_script("bench_index")
    x = bi.make_data("hash", 50, 0, seed=0)
    assert x.shape == (50, 2048) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(x, bi.make_data("hash", 50, 0, seed=0))  # seeded


def test_demo_conversation_states_heldout_facts_among_smalltalk_and_asks_in_other_words():
    from memgpt.training.relations import HELDOUT
    d = load_script("demo_conversation")
    turns, questions = d.script(0, 10, 20)
    assert (turns, questions) == d.script(0, 10, 20) and d.script(1, 10, 20) != (turns, questions)
    stated = [t for t in turns if "fact" in t]
    assert len(turns) == 30 and len(stated) == 10 and len(questions) == 10
    assert {q["relation"] for q in questions} <= HELDOUT and len({q["relation"] for q in questions}) == 10
    assert {q["note"] for q in questions} == {t["fact"] for t in stated}
    for q in questions:  # asked in other words: never the statement itself
        assert all(q["question"] != t["user"] for t in turns)
    # the check is the evaluation's: the value at word boundaries, normalised
    assert d.answer_contains("You pay €1,489 a month.", ["€1,489"]) and not d.answer_contains("You pay 1,48", ["€1,489"])


def test_calibration_table_counts_true_and_false_openings():
    c = load_script("calibrate_note_threshold")
    # (p, argmax, true): two true openings (one sure, one hesitant), one false argmax, text elsewhere
    points = [(0.99, True, True), (0.6, True, True), (0.7, True, False)] + [(0.01, False, False)] * 9997
    rows = {r["threshold"]: r for r in c.table(points, (0.5, 0.65, 0.8))}
    assert rows[0.5] == {"threshold": 0.5, "true_kept": 1.0, "false_per_10k": 1.0}
    assert rows[0.65]["true_kept"] == 0.5 and rows[0.65]["false_per_10k"] == 1.0
    assert rows[0.8] == {"threshold": 0.8, "true_kept": 0.5, "false_per_10k": 0.0}
