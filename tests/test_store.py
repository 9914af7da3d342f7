"""NoteStore: CRUD, sessions, persistence, index rebuilds, secure delete, Unicode."""

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memgpt.memory import HashEmbedder, Note, NoteStore
from memgpt.memory.index import HNSWIndex

LOGGER = "memgpt.memory"


def _rebuild_logs(caplog):
    return [r for r in caplog.records if r.name == LOGGER and "rebuilt" in r.getMessage()]


def _sql_ids(path):
    with sqlite3.connect(os.path.join(path, "notes.sqlite")) as db:
        return sorted(r[0] for r in db.execute("SELECT id FROM notes"))


def _files_bytes(path):
    out = {}
    for name in os.listdir(path):
        with open(os.path.join(path, name), "rb") as f:
            out[name] = f.read()
    return out


@pytest.fixture(params=["flat", "hnsw"])
def store(request):
    with NoteStore(index=request.param) as s:
        yield s


# ---------------------------------------------------------------- CRUD and validation


def test_note_dict_round_trip():
    n = Note(id=3, text="x", created_at=1.5, source="chat", position=7, session="s")
    assert Note.from_dict(n.to_dict()) == n
    assert Note.from_dict({"id": 1, "text": "t", "created_at": 0, "source": "user"}).session == "default"
    with pytest.raises(ValueError):
        Note.from_dict({"text": "t"})


def test_crud(store):
    a = store.add("pass key: 48213", source="ingest", position=120, session="default")
    assert isinstance(a, Note) and a.text == "pass key: 48213" and a.source == "ingest" and a.position == 120
    assert store.get(a.id) == a
    b = store.add("Mary is in the bathroom")
    assert (b.source, b.position, b.session) == ("user", 0, "default")
    assert len(store) == 2 and b.id > a.id

    u = store.update(b.id, "Mary is in the kitchen")
    assert u.text == "Mary is in the kitchen" and u.id == b.id and u.created_at == b.created_at
    top, score = store.search("kitchen", k=1)[0]
    assert top.id == b.id and 0 < score <= 1.0001
    assert all(n.text != "Mary is in the bathroom" for n, _ in store.search("bathroom", k=5))

    assert store.delete(a.id) is True
    assert store.delete(a.id) is False
    assert store.get(a.id) is None and len(store) == 1
    assert all(n.id != a.id for n, _ in store.search("pass key", k=5))
    c = store.add("another note")
    assert c.id > b.id  # ids are never reused
    with pytest.raises(KeyError):
        store.update(a.id, "gone")


@pytest.mark.parametrize("bad", [None, 5, b"bytes", ["x"], "", "   ", "\n\t "])
def test_bad_text_rejected(store, bad):
    with pytest.raises(ValueError):
        store.add(bad)
    with pytest.raises(ValueError):
        store.add_many(["fine", bad])
    assert len(store) == 0  # all or nothing
    n = store.add("ok")
    with pytest.raises(ValueError):
        store.update(n.id, bad)


def test_bad_meta_rejected(store):
    with pytest.raises(ValueError):
        store.add("x", source="robot")
    with pytest.raises(TypeError):
        store.add("x", colour="red")
    with pytest.raises(ValueError):
        store.add_many(["a", "b"], position=[1, 2, 3])
    with pytest.raises(ValueError):
        store.search(42)
    assert len(store) == 0


def test_add_many_per_item_meta(store):
    notes = store.add_many(["a one", "b two", "c three"], position=[5, 6, 7], source="ingest", session="s")
    assert [n.position for n in notes] == [5, 6, 7]
    assert all(store.get(n.id) == n for n in notes)


def test_search_edge_cases(store):
    assert store.search("anything") == []
    store.add("something")
    assert store.search("", k=5) == [] and store.search("x", k=0) == []
    assert len(store.search("something", k=10)) == 1
    assert store.search("something", session="nobody") == []


def test_list_chronological_limit_offset(store):
    for t, ts in [("third", 30.0), ("first", 10.0), ("second", 20.0), ("fourth", 40.0)]:
        store.add(t, created_at=ts)
    assert [n.text for n in store.list()] == ["first", "second", "third", "fourth"]
    assert [n.text for n in store.list(limit=2, offset=1)] == ["second", "third"]


def test_closed_store_refuses(tmp_path):
    s = NoteStore(tmp_path / "s")
    s.add("x")
    s.close()
    s.close()  # idempotent
    with pytest.raises(ValueError):
        s.add("y")
    with NoteStore(tmp_path / "s") as s2:
        assert len(s2) == 1


# ---------------------------------------------------------------- sessions


def test_sessions_isolated(store):
    # Session "a" is full of near-duplicates of the query; "b" holds weaker matches.
    store.add_many([f"magic number for blue-owl: {i}" for i in range(40)], session="a")
    store.add_many([f"owl fact {i}: owls hunt at night" for i in range(6)], session="b")
    store.add_many(["unrelated note about ships"], session="b")
    hits = store.search("What is the magic number for blue-owl?", k=5, session="b")
    assert len(hits) == 5 and all(n.session == "b" for n, _ in hits)
    assert all(n.session == "a" for n, _ in store.search("magic number for blue-owl", k=5, session="a"))
    assert {n.session for n in store.list(session="b")} == {"b"} and len(store.list(session="b")) == 7
    assert store.sessions() == ["a", "b"]
    assert store.delete_all(session="a") == 40
    assert len(store) == 7 and store.search("blue-owl", session="a") == []
    assert len(store.search("owl", k=3, session="b")) == 3
    assert store.delete_all() == 7 and len(store) == 0 and store.search("owl") == []


# ---------------------------------------------------------------- export / import

TRICKY = ["plain", "日本語 ✓ émoji 🦉", "nul\x00byte", "ctrl\x01\x07\x1b[31m", "line\nbreak\r\n", "\u2028sep",
          "lone surrogate \ud800 here", "'quotes\" and \\ backslash", " padded "]


def test_export_import_round_trip(tmp_path):
    with NoteStore() as a:
        for i, t in enumerate(TRICKY):
            a.add(t, source=("ingest", "chat", "user")[i % 3], position=i * 10, session=f"s{i % 2}", created_at=100.0 + i)
        assert a.export(tmp_path / "notes.jsonl") == len(TRICKY)
        originals = a.list(limit=1000)
    lines = (tmp_path / "notes.jsonl").read_text().splitlines()
    assert len(lines) == len(TRICKY) and all(json.loads(line)["text"] for line in lines)
    assert (tmp_path / "notes.jsonl").stat().st_mode & 0o777 == 0o600  # private, as the store's own files
    with NoteStore(tmp_path / "b") as b:
        b.add("pre-existing", created_at=1.0)
        assert b.import_(tmp_path / "notes.jsonl") == len(TRICKY)
        got = b.list(limit=1000)[1:]
        key = lambda n: (n.text, n.created_at, n.seen_at, n.edited_at, n.position, n.session)  # noqa: E731
        assert [key(n) for n in got] == [key(n) for n in originals]
        assert {n.source for n in got} == {"import"}  # provenance: read from an export
        assert {n.id for n in got}.isdisjoint({1})  # new ids
        assert b.search("émoji", k=1)[0][0].text == "日本語 ✓ émoji 🦉"
        assert b.import_(tmp_path / "notes.jsonl") == 0  # the same notes again: nothing new
    with NoteStore(tmp_path / "b") as b:  # and it all survives a reopen
        assert [key(n) for n in b.list(limit=1000)[1:]] == [key(n) for n in originals]


def test_import_rejects_garbage_atomically(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "fine", "created_at": 1, "source": "user"}\nnot json\n')
    with NoteStore() as s:
        with pytest.raises(ValueError, match="bad.jsonl:2"):
            s.import_(p)
        assert len(s) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=80).filter(lambda t: t.strip()))
def test_unicode_round_trip_property(text):
    with NoteStore() as s:
        n = s.add(text, session=text[:10] or "x")
        assert s.get(n.id).text == text
        assert s.list(session=n.session)[0].text == text
        assert s.search(text, k=1)[0][0].text == text


def test_unicode_round_trip_persistent(tmp_path):
    with NoteStore(tmp_path / "s") as s:
        ids = [s.add(t).id for t in TRICKY]
    with NoteStore(tmp_path / "s") as s:
        assert [s.get(i).text for i in ids] == TRICKY


# ---------------------------------------------------------------- persistence and rebuilds


def _populate(path, n=30, **kw):
    with NoteStore(path, **kw) as s:
        notes = s.add_many([f"magic number for key{i}-zub: {1000 + i}" for i in range(n)])
        s.add("pass key: 48213")
    return notes


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_clean_reopen_does_not_rebuild(tmp_path, caplog, kind):
    d = str(tmp_path / "s")
    _populate(d, index=kind)
    assert os.path.exists(os.path.join(d, "index.faiss"))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        with NoteStore(d, index=kind) as s:
            assert len(s) == 31
            assert s.search("What is the pass key?", k=1)[0][0].text == "pass key: 48213"
    assert _rebuild_logs(caplog) == []


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "wrong_kind"])
def test_rebuild_after_damaged_index(tmp_path, caplog, damage):
    d = str(tmp_path / "s")
    _populate(d)
    f = os.path.join(d, "index.faiss")
    if damage == "missing":
        os.unlink(f)
    elif damage == "garbage":
        open(f, "wb").write(os.urandom(4096))
    elif damage == "truncated":
        data = open(f, "rb").read()
        open(f, "wb").write(data[: len(data) // 2])
    else:
        faiss.write_index(faiss.IndexFlatL2(7), f)
    with NoteStore(d) as s:
        assert len(_rebuild_logs(caplog)) == 1
        assert sorted(s._index.labels()) == _sql_ids(d)
        assert s.search("magic number for key7-zub", k=1)[0][0].text == "magic number for key7-zub: 1007"
    caplog.clear()
    with NoteStore(d):  # the rebuilt file was written back: no second rebuild
        pass
    assert _rebuild_logs(caplog) == []


def test_rebuild_when_sqlite_changed_behind_its_back(tmp_path, caplog):
    d = str(tmp_path / "s")
    _populate(d)
    with sqlite3.connect(os.path.join(d, "notes.sqlite")) as db:  # a raw insert: no embedding
        db.execute("INSERT INTO notes(text, created_at, source) VALUES ('Mary is in the bathroom', 5, 'user')")
    with NoteStore(d) as s:
        assert len(_rebuild_logs(caplog)) == 1
        assert s.search("Where is Mary?", k=1)[0][0].text == "Mary is in the bathroom"
        assert sorted(s._index.labels()) == _sql_ids(d)


def test_rebuild_after_unflushed_changes(tmp_path, caplog):
    # Simulates a crash: copy the directory while the store is open with changes not yet in
    # index.faiss (notes are committed, the cache is stale).
    d, crash = str(tmp_path / "s"), str(tmp_path / "crash")
    _populate(d)
    s = NoteStore(d, flush_every=10_000)
    new = s.add("Mary is in the garden")
    shutil.copytree(d, crash)
    s.close()
    with NoteStore(crash) as c:
        assert len(_rebuild_logs(caplog)) == 1
        assert c.get(new.id).text == "Mary is in the garden"
        assert c.search("Where is Mary?", k=1)[0][0].id == new.id


def test_index_written_at_exit_without_close(tmp_path, caplog):
    d = str(tmp_path / "s")
    code = ("import sys; from memgpt.memory import NoteStore;"
            "s = NoteStore(sys.argv[1], flush_every=10_000); s.add_many(['a note', 'pass key: 48213'])")
    subprocess.run([sys.executable, "-c", code, d], check=True)
    with NoteStore(d) as s:
        assert len(s) == 2 and s.search("pass key", k=1)[0][0].text == "pass key: 48213"
    assert _rebuild_logs(caplog) == []


def test_reembed_on_embedder_change(tmp_path, caplog):
    d = str(tmp_path / "s")
    _populate(d)
    with NoteStore(d, embedder=HashEmbedder(dim=512)) as s:
        assert len(_rebuild_logs(caplog)) == 1 and "embedder changed" in _rebuild_logs(caplog)[0].getMessage()
        assert s.search("What is the pass key?", k=1)[0][0].text == "pass key: 48213"


# ---------------------------------------------------------------- secure delete


def test_deleted_text_is_in_no_file(tmp_path):
    d = str(tmp_path / "s")
    gone, updated, sess = (f"SECRET{uuid.uuid4().hex}" for _ in range(3))
    kept = f"KEPT{uuid.uuid4().hex}"
    with NoteStore(d, flush_every=1) as s:
        s.add_many([f"filler note {i}" for i in range(50)])
        a = s.add(f"the code is {gone}")
        b = s.add(f"the word is {updated}")
        s.add_many([f"{sess} number {i}" for i in range(20)], session="private")
        s.add(f"keep {kept}")
        everything = b"".join(_files_bytes(d).values())
        assert all(m.encode() in everything for m in (gone, updated, sess, kept))  # the scan works

        assert s.delete(a.id)
        s.update(b.id, "the word is nothing")
        assert s.delete_all(session="private") == 20
        for name, data in _files_bytes(d).items():
            for m in (gone, updated, sess):
                assert m.encode() not in data, f"{m} still in {name}"
        assert any(kept.encode() in data for data in _files_bytes(d).values())
    for name, data in _files_bytes(d).items():  # and after close
        for m in (gone, updated, sess):
            assert m.encode() not in data, f"{m} still in {name}"


# ---------------------------------------------------------------- hnsw specifics


def test_hnsw_tombstones_and_compaction():
    with NoteStore(index="hnsw") as s:
        notes = s.add_many([f"magic number for zz{i}q: {i}" for i in range(40)])
        for n in notes[:8]:
            assert s.delete(n.id)
        assert s._index.tombstones == 8
        assert all(n.id not in {x.id for x in notes[:8]} for n, _ in s.search("magic number for zz3q", k=10))
        for n in notes[8:14]:
            s.delete(n.id)  # 14 > 25% of 40: compacted
        assert s._index.tombstones < 14 and s._index.ntotal - s._index.tombstones == 26
        assert s.search("magic number for zz20q", k=1)[0][0].id == notes[20].id


def test_hnsw_filtered_graph_search_path():
    # exact_below=0 forces the ID-selector graph walk that large sessions use.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = HNSWIndex(32, exact_below=0)
    idx.add(np.arange(1000, 1500), x)
    idx.remove([1000 + 7])
    allowed = np.arange(1000, 1500, 2)  # even ids only
    hits = idx.search(x[10], 5, allowed)
    assert len(hits) == 5 and hits[0][0] == 1010 and all(i % 2 == 0 for i, _ in hits)
    assert 1007 not in {i for i, _ in idx.search(x[7], 5)}
    exact = HNSWIndex(32)  # default: small allowed sets are searched exactly
    exact.add(np.arange(1000, 1500), x)
    assert [i for i, _ in exact.search(x[10], 5, allowed)] == [i for i, _ in hits]


# ---------------------------------------------------------------- retrieval sanity, dependencies


def test_retrieval_families(store):
    store.add_many([f"magic number for {w}-plorin: {i}" for i, w in enumerate(["abc", "qrs", "xyz", "lmn"])])
    store.add_many(["Mary is in the bathroom", "John is in the kitchen", "Sandra is in the garden",
                    "pass key: 48213", "user name: Zorblat", "user city: Lima"])
    for q, want in [("What is the special magic number for xyz-plorin mentioned in the provided text?",
                     "magic number for xyz-plorin: 2"),
                    ("Where is Mary?", "Mary is in the bathroom"),
                    ("What is the pass key?", "pass key: 48213"),
                    ("What's my name?", "user name: Zorblat")]:
        assert store.search(q, k=1)[0][0].text == want


def test_memory_imports_no_torch():
    code = "import sys, memgpt.memory.store, memgpt.memory; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_deleting_a_missing_id_keeps_the_index_in_step(tmp_path, caplog):
    from memgpt.memory.store import NoteStore

    with NoteStore(str(tmp_path)) as s:
        s.add("pass key: 123")
    with NoteStore(str(tmp_path)) as s:
        assert s.delete(99) is False
    caplog.clear()
    with caplog.at_level("WARNING", logger="memgpt.memory"):
        with NoteStore(str(tmp_path)) as s:
            assert len(s) == 1
    assert not [r for r in caplog.records if "out of step" in r.getMessage() or "rebuil" in r.getMessage()]


# ---------------------------------------------------------------- several stores on one directory


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_two_stores_on_one_directory_see_each_other(tmp_path, caplog, kind):
    d = str(tmp_path / "s")
    _populate(d, index=kind)
    a, b = NoteStore(d, index=kind), NoteStore(d, index=kind)
    assert b.search("Where is Mary?", k=5, session="walks") == []  # caches the empty session
    n = a.add("Mary is in the garden", session="walks")
    assert b.search("Where is Mary?", k=1, session="walks")[0][0].id == n.id
    b.update(n.id, "Mary is in the kitchen")
    assert a.search("Where is Mary?", k=1)[0][0].text == "Mary is in the kitchen"
    b.delete(n.id)
    assert all(hit.id != n.id for hit, _ in a.search("Where is Mary?", k=40))
    m = a.add("Sandra is in the office")  # a commits again after b's commits: a catches up
    assert a.search("Where is Sandra?", k=1)[0][0].id == m.id
    assert b.search("Where is Sandra?", k=1)[0][0].id == m.id
    a.close()
    b.close()
    caplog.clear()
    with NoteStore(d, index=kind) as c:  # both flushed in turn: the file is in step, no rebuild
        assert sorted(c._index.labels()) == _sql_ids(d)
        assert c.search("Where is Sandra?", k=1)[0][0].id == m.id
    assert _rebuild_logs(caplog) == []


def test_a_note_added_by_another_process_is_found(tmp_path):
    d = str(tmp_path / "s")
    with NoteStore(d) as s:
        s.add("a first note")
        assert s.search("What is the pass key?", k=1)[0][0].text == "a first note"
        code = "import sys; from memgpt.memory import NoteStore; NoteStore(sys.argv[1]).add('pass key: 48213')"
        subprocess.run([sys.executable, "-c", code, d], check=True)
        assert s.search("What is the pass key?", k=1)[0][0].text == "pass key: 48213"


def test_default_store_links_questions_to_notes_in_other_words():
    """A new store's default embedder (the hybrid) finds a note asked for in other words, where
    the lexical hash alone shares no word with it (issue 28's example)."""
    from memgpt.memory.embed import default_embedder, embedder_name
    notes = ["user diet: no pork", "user city: Oslo", "user manager: Jo Meyer", "pass key: 48213",
             "user allergy: peanuts", "user sister: Lena"]
    with NoteStore() as s, NoteStore(embedder="hash") as h:
        assert embedder_name(s.embedder) == embedder_name(default_embedder())
        s.add_many(notes)
        h.add_many(notes)
        for q, want in [("What can't I eat?", "user diet: no pork"), ("Where do I live?", "user city: Oslo")]:
            assert s.search(q, k=1)[0][0].text == want
            assert h.search(q, k=1)[0][0].text != want
