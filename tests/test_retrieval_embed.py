"""The default embedder (lexical hash + person feature beside the bundled static table), the static
table format, the hybrid, and the paraphrase retrieval set. Offline: no test here may reach a network."""
from __future__ import annotations

import socket

import numpy as np
import pytest

from memgpt.memory.embed import (FIRST_PERSON, HashEmbedder, HybridEmbedder, StaticEmbedder, bundled_table,
                                 default_embedder, embedder_name, get_embedder, save_table)


@pytest.fixture(scope="module")
def default():
    return default_embedder()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def cos(e, a: str, b: str) -> float:
    v = e.embed([a, b])
    return float(v[0] @ v[1])


def test_default_contract(default):
    assert get_embedder("default").name == default.name == get_embedder(None).name == get_embedder("").name
    static = StaticEmbedder()
    assert default.dim == 2048 + static.dim
    texts = ["user allergy: peanuts", "What am I allergic to?", "", "!!!", "magic number for xqzvbt-plorin: 4821"]
    v = default.embed(texts)
    assert v.shape == (len(texts), default.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, default_embedder().embed(texts))  # deterministic, a fresh instance alike
    np.testing.assert_array_equal(v[1], default.embed(["What am I allergic to?"])[0])  # batch-independent
    assert default.embed([]).shape == (0, default.dim)
    with pytest.raises(TypeError):
        default.embed("one string")
    assert static.name in default.name and "-p1" in default.name
    assert StaticEmbedder().table is static.table  # one copy per process, however many stores


def test_lexical_names_unchanged():
    # stores embedded with today's lexical embedder keep their vectors when opened with "hash"
    assert get_embedder("hash").name == "hash-v1-d2048-n3-g0.5-h2"
    assert get_embedder("hash-person").name == "hash-v1-d2048-n3-g0.5-h2-p1"
    assert embedder_name(get_embedder("static")).startswith("static-smollm2-")


def test_offline(no_network, tmp_path):
    e = default_embedder()
    assert e.embed(["Who do I report to?"]).shape == (1, e.dim)
    assert bundled_table().endswith(".npz")


PARAPHRASES = [  # (question, its note, an unrelated note of the same kind)
    ("What am I allergic to?", "user allergy: peanuts", "user car: Volvo V40"),
    ("What's my mum called?", "user mother: Ana", "user employer: Brazou Robotics"),
    ("Who do I report to?", "user manager: Jo Meyer", "user dentist: Dr. Alma Rossi"),
    ("What do I do for a living?", "user job: surgeon", "user favourite colour: teal"),
    ("When is the north archive room open?", "north archive room opening hours: 9 to 5",
     "Project Vellan budget: €40,000"),
]


@pytest.mark.parametrize("question,note,other", PARAPHRASES)
def test_paraphrase_beats_unrelated(default, question, note, other):
    assert cos(default, question, note) > cos(default, question, other)


def test_static_links_words_the_hash_cannot(default):
    static, lexical = default.parts[1][0], get_embedder("hash")  # the shipped static half (values capped)
    assert isinstance(static, StaticEmbedder) and static.value_cap == 0.5
    # no shared word between question and note: the hash scores them as it scores anything else
    gain = [cos(static, q, n) - cos(static, q, o) for q, n, o in PARAPHRASES[:3]]
    assert min(gain) > 0
    assert abs(cos(lexical, "What's my mum called?", "user mother: Ana")) < 0.1


def test_first_person_feature():
    plain, person = HashEmbedder(), HashEmbedder(person=1.0)
    assert "w:user" in person.features("What am I allergic to?")
    assert "w:user" not in plain.features("What am I allergic to?")
    assert "w:user" not in person.features("What is the pass key?")
    assert cos(person, "Who is my dentist?", "user dentist: Dr. Alma Rossi") > cos(
        plain, "Who is my dentist?", "user dentist: Dr. Alma Rossi")
    assert {"i", "my", "we", "our"} <= FIRST_PERSON
    with pytest.raises(ValueError):
        HashEmbedder(person=-1)


def test_codes_stay_exact(default):
    """Keys and codes are matched by their spelling: the right magic number ranks first among
    notes whose keys differ by a letter or a part."""
    target = "magic number for xqzvbt-plorin: 4821937"
    others = ["magic number for xqzvbt-plorim: 1111111", "magic number for xqzvbt: 2222222",
              "magic number for plorin-xqzvbt-a: 3333333", "magic number for brimwel-dastro: 4444444",
              "pass key: 5555555", "user passport number: XQZVBT1", "Project Plorin budget: €4,000"]
    notes = [target] + others
    q = default.embed(["What is the special magic number for xqzvbt-plorin mentioned in the provided text?"])[0]
    scores = default.embed(notes) @ q
    assert int(np.argmax(scores)) == 0
    q = default.embed(["What is the pass key?"])[0]
    assert int(np.argmax(default.embed(notes) @ q)) == notes.index("pass key: 5555555")


def test_hybrid_is_weighted_cosine():
    a, b = HashEmbedder(dim=64), HashEmbedder(dim=32, ngram_weight=0)
    h = HybridEmbedder([(a, 3.0), (b, 1.0)])
    x, y = "user city: Oslo", "Where do I live? Oslo"
    expect = 0.75 * cos(a, x, y) + 0.25 * cos(b, x, y)
    assert cos(h, x, y) == pytest.approx(expect, abs=1e-5)
    assert h.dim == 96 and "*0.75" in h.name
    with pytest.raises(ValueError):
        HybridEmbedder([])
    with pytest.raises(ValueError):
        HybridEmbedder([(a, 0.0)])


def test_static_table_round_trip(tmp_path):
    """A tiny byte-level table written by save_table reads back: tokens, weights, pooling."""
    tokens = {bytes([b]): b for b in range(256)}
    tokens[b" c"] = 256
    tokens[b" ca"] = 257
    tokens[b" cat"] = 258
    rng = np.random.default_rng(0)
    table = rng.normal(size=(259, 8)).astype(np.float32)
    weight = np.ones(259, dtype=np.float32)
    weight[ord(" ")] = 0.0
    path = tmp_path / "t.npz"
    save_table(path, "tiny", tokens, r"""'s|'t| ?\w+| ?[^\s\w]+|\s+""", table, weight)
    e = StaticEmbedder(path)
    assert e.dim == 8 and e.name.startswith("static-tiny-")
    assert e.token_ids("CAT") == [258]
    v = e.embed(["cat", "Cat", "dog", ""])
    np.testing.assert_allclose(v[0], v[1])
    np.testing.assert_allclose(v[0], table[258] / np.linalg.norm(table[258]), atol=0.02)  # int8 rows
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    save_table(path, "tiny", tokens, r"""'s|'t| ?\w+| ?[^\s\w]+|\s+""", table * 2, weight)
    assert StaticEmbedder(path).name != e.name  # another table, another name: stores re-embed


def test_paraphrase_set_shape():
    from memgpt.training import relations as R
    from memgpt.training.paraphrase_set import build

    s = build(seed=0, per_relation=3, n_distractors=300)
    assert len(s.pairs) >= 500 and len(s.relation_types) >= 100
    held = {p.relation for p in s.pairs if p.heldout}
    assert len(held) >= 30 and held <= R.HELDOUT
    assert len(s.distractors) == 300
    s2 = build(seed=0, per_relation=3, n_distractors=300)
    assert s2.pairs == s.pairs and s2.distractors == s.distractors
    for p in s.pairs[::37]:
        scope = s.scope(p)
        key = p.note.split(": ", 1)[0]
        assert scope.count(p.note) == 1
        assert sum(n.split(": ", 1)[0] == key for n in scope if ": " in n) == 1  # one answer in scope


def test_measure_script_ranks_a_small_set():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "scripts", "measure_paraphrase_retrieval.py")
    spec = importlib.util.spec_from_file_location("scripts_measure_paraphrase_retrieval", path)
    mp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mp)
    assert mp.parts_of("hash-person*3+static*1") == [("hash-person", 0.75), ("static", 0.25)]
    assert mp.parts_of("default") == [("default", 1.0)]
    from memgpt.training.paraphrase_set import build

    s = build(seed=1, per_relation=1, n_distractors=200)
    texts, nb, npf = mp.texts(s)
    assert len(texts) == nb + npf + len(s.pairs)
    r_hash = mp.ranks(s, [(1.0, get_embedder("hash").embed(texts))])
    r_default = mp.ranks(s, [(1.0, default_embedder().embed(texts))])
    assert r_hash.shape == (len(s.pairs),) and r_hash.min() >= 0
    assert (r_default < 5).mean() > (r_hash < 5).mean()  # the default finds more notes asked in other words


_WN_LINE = ("09829305 18 n 03 babysitter 0 baby-sitter 0 sitter 0 002 @ 10229498 n 0000 + 02456270 v 0302 | "
            'a person engaged to care for children when the parents are not home; "she sat for the Wilsons"  ')


def test_wordnet_line_parses_into_lemmas_pointers_and_gloss():
    from memgpt.training import wordnet

    s = wordnet.parse(_WN_LINE)
    assert s.key == "n:09829305" and s.lemmas == ("babysitter", "baby-sitter", "sitter")
    assert s.pointers == (("@", "n:10229498"), ("+", "v:02456270"))
    assert s.definition == "a person engaged to care for children when the parents are not home"
    assert wordnet.parse("  1 This software and database is being provided") is None  # the licence header


def test_sense_pairs_name_synonyms_and_hypernyms_and_skip_proper_names():
    import random

    from memgpt.training import wordnet
    from memgpt.training.static_table import sense_pairs

    sitter = wordnet.parse(_WN_LINE)
    person = wordnet.Synset("n:10229498", ("keeper",), (), "someone in charge of other people")
    city = wordnet.Synset("n:1", ("Oslo",), (("@i", "n:2"),), "the capital of Norway")
    pairs = dict(sense_pairs(random.Random(0), {s.key: s for s in (sitter, person, city)}))
    assert "Oslo" not in pairs and set(pairs) <= {"babysitter", "baby-sitter", "sitter", "keeper"}
    word = next(w for w in pairs if w in sitter.lemmas)
    sense = pairs[word]
    assert word not in sense.split(";")[0].split(", ")  # the other lemmas, not the word itself
    assert "keeper" in sense and sense.endswith("when the parents are not home")


def test_validation_folds_split_the_trained_types_and_never_hold_a_heldout_one():
    from memgpt.training import relations as R
    from memgpt.training.static_table import FOLDS, fold_of, training_relations

    trained = {r.name for r in R.TRAIN_RELATIONS}
    left_out = [trained - {r.name for r in training_relations(f)} for f in range(FOLDS)]
    assert all(left_out) and set().union(*left_out) == trained  # every trained type validates once
    assert sum(len(x) for x in left_out) == len(trained)
    assert not set().union(*left_out) & set(R.HELDOUT)
    assert {r.name for r in training_relations(None)} == trained and fold_of("user allergy") in range(FOLDS)
