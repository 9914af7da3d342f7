"""Embedders: shape, determinism, and retrieval of benchmark-style notes."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from memgpt.memory.embed import Embedder, HashEmbedder, get_embedder


@pytest.fixture(scope="module")
def emb():
    return HashEmbedder()


def test_shape_dtype_unit_norm(emb):
    texts = ["pass key: 48213", "Mary is in the bathroom", "!!!", "日本語のメモ", "a\x00b\x07c"]
    v = emb.embed(texts)
    assert v.shape == (len(texts), emb.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert emb.embed([]).shape == (0, emb.dim)
    assert isinstance(emb, Embedder)


def test_rejects_single_string(emb):
    with pytest.raises(TypeError):
        emb.embed("not a list")


def test_deterministic_across_processes(emb):
    # Python's hash() is salted per process; the embedder must not depend on it.
    code = ("import sys; from memgpt.memory.embed import HashEmbedder;"
            "sys.stdout.write(HashEmbedder().embed(['magic number for xqzvbt-plorin: 7429183'])[0].tobytes().hex())")
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1
    assert outs.pop() == emb.embed(["magic number for xqzvbt-plorin: 7429183"])[0].tobytes().hex()


DISTRACTORS = [
    "magic number for plorin-xqzvbt: 1111111",
    "magic number for xqzvbt-glamp: 2222222",
    "magic number for rusty-lantern: 3333333",
    "John is in the bathroom",
    "Sandra is in the kitchen",
    "Daniel has the football",
    "Mary's brother is in the garden",
    "user city: Lima",
    "user favorite color: teal",
    "the text mentioned a special number",
]

CASES = [
    ("What is the special magic number for xqzvbt-plorin mentioned in the provided text?",
     "magic number for xqzvbt-plorin: 7429183"),
    ("Where is Mary?", "Mary is in the bathroom"),
    ("What is the pass key?", "pass key: 48213"),
    ("What is the passkey?", "pass key: 48213"),
    ("What is my name?", "user name: Zorblat"),
    ("What's my name?", "user name: Zorblat"),
]


@pytest.mark.parametrize("question,target", CASES)
def test_benchmark_questions_rank_their_note_first(emb, question, target):
    notes = DISTRACTORS + [t for _, t in CASES if t != target] + [target]
    notes = list(dict.fromkeys(notes))
    v = emb.embed(notes)
    q = emb.embed([question])[0]
    ranked = [notes[i] for i in np.argsort(-(v @ q))]
    assert ranked[0] == target, ranked[:3]


def test_same_entity_notes_outrank_others(emb):
    # Which of two notes about Mary answers "Where is Mary?" is the reader's job; retrieval
    # must put both ahead of everything else.
    notes = DISTRACTORS + ["Mary has the football", "Mary is in the bathroom"]
    v = emb.embed(notes)
    ranked = [notes[i] for i in np.argsort(-(v @ emb.embed(["Where is Mary?"])[0]))]
    assert set(ranked[:2]) == {"Mary has the football", "Mary is in the bathroom"}, ranked[:3]


def test_value_cap_keeps_a_long_value_from_outweighing_its_key():
    notes = ["user API key: bf6f9b3f-bf8c-bb1c-2697-1b7c3127b26e", "pass key: 3105", "user car key: glovebox"]
    q = "What's my API key?"
    plain, capped = HashEmbedder(person=1.0), HashEmbedder(person=1.0, value_cap=0.5)
    s_plain = plain.embed(notes) @ plain.embed([q])[0]
    s_cap = capped.embed(notes) @ capped.embed([q])[0]
    assert s_cap[0] > s_plain[0] + 0.1 and s_cap[0] == s_cap.max()
    # text that is not "key: value" (a question, a sentence) embeds as before; the name differs
    assert np.array_equal(capped.embed([q, "Mary is in the bathroom"]), plain.embed([q, "Mary is in the bathroom"]))
    assert capped.name != plain.name and "-v0.5" in capped.name
    assert get_embedder().parts[0][0].value_cap == 0.5
    # a question with a colon is still a question: its words after the lead are not capped
    lead = "Quick question: what's my API key?"
    assert np.array_equal(capped.embed([lead]), plain.embed([lead]))


def test_note_parts_tells_notes_from_questions():
    from memgpt.memory.embed import note_parts

    assert note_parts("user allergy: peanuts") == ("user allergy", "peanuts")
    assert note_parts("archive door code: 7319: old") == ("archive door code", "7319: old")
    for other in ("Quick question: what's my address?", "Mary is in the bathroom", "user allergy: ", ": peanuts"):
        assert note_parts(other) is None, other


def test_static_value_cap_weighs_the_key_not_the_long_value():
    """The static half pools a note's value at most `value_cap` times its key, so a long value
    (an address, a UUID) no longer pulls the note away from questions about its key."""
    from memgpt.memory.embed import StaticEmbedder

    plain, capped = StaticEmbedder(), StaticEmbedder(value_cap=0.25)
    note = "user thermostat setting: nineteen and a half degrees in the living room and the hallway"
    ids, w = capped.pooling(note)
    key_ids, key_w = capped.pooling("user thermostat setting")
    assert w[: len(key_ids)].sum() == pytest.approx(key_w.sum())
    assert w[len(key_ids):].sum() == pytest.approx(0.25 * key_w.sum(), rel=1e-5)  # the value capped
    q = capped.embed(["What is the thermostat set to?"])[0]
    assert capped.embed([note])[0] @ q > plain.embed([note])[0] @ q
    # other text pools as before; the name says which
    s = ["What is the thermostat set to?", "Mary is in the bathroom"]
    assert np.array_equal(capped.embed(s), plain.embed(s)) and capped.name == plain.name + "-v0.25"
    with pytest.raises(ValueError):
        StaticEmbedder(value_cap=-1)


def test_get_embedder():
    from memgpt.memory.embed import HybridEmbedder

    assert isinstance(get_embedder(), HybridEmbedder)  # the default: lexical beside the static table
    assert isinstance(get_embedder("hash"), HashEmbedder) and get_embedder("hash").person == 0
    e = HashEmbedder(dim=512)
    assert get_embedder(e) is e
    with pytest.raises(ValueError):
        get_embedder("no-such-embedder")


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is not None,
                    reason="sentence-transformers is installed")
def test_minilm_missing_extra_has_clear_error():
    with pytest.raises(ImportError, match="sentence-transformers"):
        get_embedder("minilm")
