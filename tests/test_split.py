"""SplitScorer: the inverted-list search gives the flat search's exact results."""

import numpy as np
import pytest

from memgpt.memory import index as index_mod
from memgpt.memory import split as split_mod
from memgpt.memory.index import FlatIndex
from memgpt.memory.split import SplitScorer

SPARSE, DENSE = 256, 16


def _vecs(rng: np.random.Generator, n: int) -> np.ndarray:
    v = np.zeros((n, SPARSE + DENSE), dtype=np.float32)
    for row in v:
        cols = rng.choice(SPARSE, size=rng.integers(1, 12), replace=False)
        row[cols] = rng.normal(size=len(cols))
    v[:, SPARSE:] = rng.normal(size=(n, DENSE))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute(ids, vecs, q, k, allowed=None):
    s = vecs @ q
    order = [i for i in np.argsort(-s, kind="stable") if allowed is None or ids[i] in allowed]
    return [int(ids[i]) for i in order[:k]], s


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(split_mod, "MERGE_ROWS", 50)  # many seals, merges and compactions in a small test


@pytest.fixture(params=["float32", "int8"])
def scan(request, monkeypatch):
    """Both dense scans: float32 alone, and int8 first with exact rescoring (forced on, whatever
    the CPU: emulated bf16 is slow, not wrong). Yields a counter of int8 scans."""
    calls = [0]
    if request.param == "int8":
        import torch

        if not hasattr(torch, "_weight_int8pack_mm"):
            pytest.skip("this torch has no int8 weight-only kernel")
        monkeypatch.setattr(split_mod, "INT8_FROM", 1)
        monkeypatch.setattr(split_mod, "_INT8", [True])
        real = SplitScorer._int8_scores

        def counted(self, qd, n):
            calls[0] += 1
            return real(self, qd, n)
        monkeypatch.setattr(SplitScorer, "_int8_scores", counted)
    else:
        monkeypatch.setattr(split_mod, "_INT8", [False])
    yield request.param, calls


def test_matches_brute_force_through_adds_removes_and_merges(small_segments, scan):
    rng = np.random.default_rng(0)
    sc = SplitScorer(SPARSE + DENSE, SPARSE)
    live: dict[int, np.ndarray] = {}
    next_id = 0
    for rnd in range(12):
        n = int(rng.integers(1, 80))
        v = _vecs(rng, n)
        ids = np.arange(next_id, next_id + n)
        next_id += n
        sc.add(ids, v)
        live.update(zip(ids.tolist(), v))
        gone = rng.choice(list(live), size=min(len(live), int(rng.integers(0, 40))), replace=False)
        sc.remove(gone)
        for g in gone.tolist():
            del live[g]
        assert sc.ntotal == len(live)
        ids_arr = np.array(list(live))
        mat = np.stack([live[i] for i in ids_arr])
        for q in _vecs(rng, 5):
            want, s = _brute(ids_arr, mat, q, 7)
            got = sc.search(q, 7)
            assert set(i for i, _ in got) <= set(live) and got[0][0] == want[0]
            assert np.allclose([x for _, x in got], np.sort(s)[::-1][:7], atol=1e-5)  # scores are exact
            allowed = rng.choice(ids_arr, size=min(10, len(ids_arr)), replace=False)
            got = sc.search(q, 3, allowed)
            assert {i for i, _ in got} <= set(allowed.tolist()) and len(got) == min(3, len(allowed))
            want_a, _ = _brute(ids_arr, mat, q, 3, set(allowed.tolist()))
            assert np.allclose([x for _, x in got], [float(live[i] @ q) for i in want_a], atol=1e-5)
    assert sc._sealed > 0 and 1 <= len(sc._lists) <= 1 + np.log2(next_id / 50)  # sealed, merged as they grow
    assert (scan[1][0] > 0) == (scan[0] == "int8")  # the int8 scan ran where it was asked for
    with pytest.raises(ValueError, match="already"):
        sc.add(np.array([next(iter(live))]), _vecs(rng, 1))


def test_flat_index_switches_to_the_scorer_with_the_same_results(monkeypatch, small_segments):
    monkeypatch.setattr(index_mod, "SPLIT_FROM", 100)
    rng = np.random.default_rng(1)
    v = _vecs(rng, 300)
    plain, split = FlatIndex(SPARSE + DENSE), FlatIndex(SPARSE + DENSE, sparse_dims=SPARSE)
    for idx in (plain, split):
        idx.add(np.arange(300), v)
        idx.remove([5, 17, 250])
        idx.add(np.arange(300, 310), _vecs(np.random.default_rng(2), 10))
    for q in _vecs(rng, 10):
        a, b = plain.search(q, 5), split.search(q, 5)
        assert [i for i, _ in a] == [i for i, _ in b] and np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
    assert split._split is not None and split._split.ntotal == plain.ntotal == 307
    assert plain._split is None  # without sparse columns the FAISS scan stays


def test_a_store_with_the_default_embedder_uses_the_lexical_columns():
    from memgpt.memory.embed import get_embedder

    assert get_embedder().sparse_dims == 2048 and get_embedder("hash").sparse_dims == 2048
    assert get_embedder("static").__dict__.get("sparse_dims", 0) == 0
    with pytest.raises(ValueError):
        SplitScorer(10, 0)


def test_a_store_searched_by_the_scorer_hides_superseded_deleted_and_edited_notes(monkeypatch, tmp_path):
    from memgpt.memory.store import NoteStore

    monkeypatch.setattr(index_mod, "SPLIT_FROM", 4)
    texts = [f"project {w} owner: {n}" for w, n in zip("alpha beta gamma delta epsilon".split(), "Ada Bo Cy Di Ed".split())]
    with NoteStore(str(tmp_path / "s")) as st:
        st.add_many(texts, source="import")
        assert st.search("who owns project gamma?", k=1)[0][0].text == texts[2]
        assert st._index._split is not None  # the scorer answered
        new = st.add("user city: Lisbon", source="chat", supersede=True)
        newer = st.add("user city: Oslo", source="chat", supersede=True)
        assert [n.id for n, _ in st.search("which city do I live in?", k=2) if "city" in n.text] == [newer.id]
        st.delete(st.search("who owns project beta?", k=1)[0][0].id)
        assert all("beta" not in n.text for n, _ in st.search("who owns project beta?", k=10))
        st.update(newer.id, "user city: Porto")
        hits = [n.text for n, _ in st.search("which city do I live in?", k=10)]
        assert "user city: Porto" in hits and "user city: Oslo" not in hits and "user city: Lisbon" not in hits
    with NoteStore(str(tmp_path / "s")) as st:  # reopened: the scorer is rebuilt from the file
        assert st.search("who owns project gamma?", k=1)[0][0].text == texts[2]
        assert st._index._split is not None and st._index._split.ntotal == len(st._index.labels())


def test_ties_and_duplicate_vectors_come_back_as_faiss_returns_them(monkeypatch, small_segments):
    monkeypatch.setattr(index_mod, "SPLIT_FROM", 100)
    rng = np.random.default_rng(3)
    distinct = _vecs(rng, 5)
    v = distinct[rng.integers(0, 5, 400)]  # the same note in many sessions: identical vectors
    plain, split = FlatIndex(SPARSE + DENSE), FlatIndex(SPARSE + DENSE, sparse_dims=SPARSE)
    for idx in (plain, split):
        idx.add(np.arange(400), v)
        idx.remove(np.arange(0, 400, 3))  # enough dead rows to compact the scorer
    for q in list(distinct) + [np.zeros(SPARSE + DENSE, np.float32)]:  # a zero query ties every row
        a, b = split.search(q, 5), plain.search(q, 5)  # the same set (FAISS lists a tie's ids newest first)
        assert sorted(i for i, _ in a) == sorted(i for i, _ in b) and np.allclose([s for _, s in a], [s for _, s in b])
        allowed = np.arange(100, 200)
        a, b = split.search(q, 4, allowed), plain.search(q, 4, allowed)
        assert sorted(i for i, _ in a) == sorted(i for i, _ in b)


def test_a_lexical_only_embedder_and_a_refused_duplicate(monkeypatch):
    monkeypatch.setattr(index_mod, "SPLIT_FROM", 10)
    rng = np.random.default_rng(4)
    v = _vecs(rng, 50)[:, :SPARSE]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = FlatIndex(SPARSE, sparse_dims=SPARSE)  # the hash embedder: every column lexical
    idx.add(np.arange(50), v)
    assert idx.search(v[7], 1)[0][0] == 7 and idx._split is not None
    with pytest.raises(ValueError, match="already"):
        idx.add(np.array([7]), v[:1])
    assert idx.ntotal == 50  # nothing added to FAISS either; the scorer is rebuilt when next needed
    assert idx.search(v[9], 1)[0][0] == 9 and idx._split.ntotal == 50


def test_the_int8_scan_returns_the_float32_order_among_near_ties(scan):
    """Scores closer together than int8's rounding (many near-duplicate rows): the coarse scan
    narrows, the float32 rescoring decides, so the top k is the float32 scan's, in its order."""
    rng = np.random.default_rng(5)
    base = _vecs(rng, 40)
    v = np.repeat(base, 50, axis=0) + rng.normal(scale=1e-4, size=(2000, SPARSE + DENSE)).astype(np.float32)
    v[:, :SPARSE] = np.repeat(base[:, :SPARSE], 50, axis=0)  # lexical columns stay sparse
    sc = SplitScorer(SPARSE + DENSE, SPARSE)
    sc.add(np.arange(2000), v)
    for q in _vecs(rng, 20):
        want, s = _brute(np.arange(2000), v, q, 10)
        got = sc.search(q, 10)
        assert [i for i, _ in got] == want
        assert np.allclose([x for _, x in got], s[want], atol=1e-6)
    assert (scan[1][0] > 0) == (scan[0] == "int8")
