"""NoteStore rules of issue 28: keys and superseding with history, no duplicates, provenance and
times, older stores migrated, an honest search floor, a progress bar for large re-embeds."""

import json
import logging
import sqlite3

import pytest

from memgpt.memory import HashEmbedder, Note, NoteStore
from memgpt.memory import store as store_mod
from memgpt.memory.note import SOURCES, note_key

LOGGER = "memgpt.memory"


@pytest.fixture(params=["flat", "hnsw"])
def store(request):
    # The hash embedder by name: the scores below are its, whatever the default embedder is.
    with NoteStore(embedder="hash", index=request.param) as s:
        yield s


def texts(notes):
    return [n.text for n in notes]


def found(store, query, session=None):
    """What a person's search finds (hits above the store's relevance floor), best first."""
    return texts(n for n, _ in store.search(query, k=20, session=session, min_score=store.relevance_floor))


# ---------------------------------------------------------------- keys


def test_note_key_is_the_text_before_the_first_colon_space():
    assert note_key("user city: Lisbon") == "user city"
    assert note_key("magic number for a-b: 12: 3") == "magic number for a-b"
    assert note_key("Mary is in the kitchen") is None
    assert note_key("time 12:30") is None and note_key(": x") is None
    assert Note(1, "user sons: Jonah, Mateo", 0.0, "chat").key == "user sons"
    assert SOURCES == ("ingest", "chat", "user", "import")


# ---------------------------------------------------------------- superseding


def test_a_newer_note_on_a_key_supersedes_with_history(store):
    old = store.add("user city: Rome", source="chat", supersede=True)
    other = store.add("user name: Ada", source="chat", supersede=True)
    new = store.add("user city: Paris", source="chat", supersede=True)
    assert new.superseded_by is None and store.get(old.id).superseded_by == new.id
    assert store.get(other.id).superseded_by is None
    assert found(store, "city") == ["user city: Paris"]  # the older is never retrieved
    assert texts(store.list()) == ["user city: Rome", "user name: Ada", "user city: Paris"]  # but kept
    assert texts(store.list(include_superseded=False)) == ["user name: Ada", "user city: Paris"]
    assert [(n.text, n.superseded_by) for n in store.history("user city")] == [
        ("user city: Rome", new.id), ("user city: Paris", None)]
    newest = store.add("user city: Oslo", source="user", supersede=True)  # a person's note too
    assert [n.superseded_by for n in store.history("user city")] == [new.id, newest.id, None]
    assert found(store, "city") == ["user city: Oslo"]


def test_superseding_is_per_session_and_only_on_request(store):
    store.add("user city: Rome", source="chat", session="a", supersede=True)
    store.add("user city: Paris", source="chat", session="b", supersede=True)
    assert found(store, "user city", "a") == ["user city: Rome"] and found(store, "user city", "b") == ["user city: Paris"]
    # notes read from documents keep every value under one key (RULER's multivalue)
    values = [f"magic number for zub-kar: {v}" for v in (11, 22, 33, 44)]
    notes = store.add_many(values, source="ingest", session="doc")
    assert not any(n.superseded for n in notes)
    assert sorted(found(store, "magic number for zub-kar", "doc")) == sorted(values)
    assert [n.superseded_by for n in store.history("magic number for zub-kar", session="doc")] == [None] * 4


def test_a_batch_supersedes_in_order(store):
    a, b, c = store.add_many(["pet: cat", "pet: dog", "pet: owl"], source="chat", supersede=True)
    assert (a.superseded_by, b.superseded_by, c.superseded_by) == (b.id, c.id, None)
    assert found(store, "pet") == ["pet: owl"]


def test_deleting_the_current_note_restores_the_one_before(store):
    a = store.add("user city: Rome", supersede=True)
    b = store.add("user city: Paris", supersede=True)
    c = store.add("user city: Oslo", supersede=True)
    assert store.delete(b.id)  # a middle link: the chain closes over it
    assert store.get(a.id).superseded_by == c.id
    assert store.delete(c.id)  # the current note: Rome is current again
    assert store.get(a.id).superseded_by is None and found(store, "user city") == ["user city: Rome"]


def test_supersession_survives_a_reopen_and_the_index_file_holds_current_notes(tmp_path, caplog):
    d = str(tmp_path / "s")
    with NoteStore(d, embedder="hash") as s:
        old = s.add("user city: Rome", source="chat", supersede=True)
        s.add("user city: Paris", source="chat", supersede=True)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        with NoteStore(d, embedder="hash") as s:
            assert found(s, "user city") == ["user city: Paris"]
            assert s.get(old.id).superseded
            assert old.id not in set(s._index.labels())
    assert not [r for r in caplog.records if "rebuilt" in r.getMessage()]  # the file was in step


def test_edits_by_a_person_set_source_user_and_edited_at(store):
    a = store.add("user city: Rome", source="chat", supersede=True)
    b = store.add("user city: Paris", source="chat", supersede=True)
    assert a.edited_at is None
    e = store.update(b.id, "user city: Lyon")
    assert (e.source, e.superseded_by, e.created_at) == ("user", None, b.created_at) and e.edited_at >= b.created_at
    assert found(store, "user city") == ["user city: Lyon"]
    h = store.update(a.id, "user city: Roma")  # editing history keeps it history
    assert h.superseded_by == b.id and found(store, "user city") == ["user city: Lyon"]


# ---------------------------------------------------------------- duplicates


def test_an_exact_duplicate_is_stored_once_and_refreshes_seen_at(store):
    a = store.add("user city: Paris", source="chat", supersede=True, created_at=100.0)
    assert a.seen_at == 100.0
    again = store.add("user city: Paris", source="chat", supersede=True, created_at=200.0)
    assert again.id == a.id and len(store) == 1
    got = store.get(a.id)
    assert (got.created_at, got.seen_at) == (100.0, 200.0)
    store.add("Mary is in the kitchen", source="chat", supersede=True)
    store.add("Mary is in the kitchen", source="chat", supersede=True)  # keyless: the same text
    assert len(store) == 2
    store.add("user city: Paris", source="chat", session="other", supersede=True)  # another session
    assert len(store) == 3


def test_a_value_said_again_after_another_is_news(store):
    rome = store.add("user city: Rome", supersede=True)
    store.add("user city: Paris", supersede=True)
    back = store.add("user city: Rome", supersede=True)  # not a duplicate of the current note
    assert back.id != rome.id and found(store, "user city") == ["user city: Rome"]
    assert texts(store.history("user city")) == ["user city: Rome", "user city: Paris", "user city: Rome"]


def test_reading_keeps_the_order_of_repeated_statements(store):
    story = ["Mary is in the bathroom", "Mary is in the kitchen", "Mary is in the bathroom"]  # bAbI moves
    assert len({n.id for n in store.add_many(story, source="ingest")}) == 3
    # a keyed note repeated with no other value between is a duplicate, also when read
    a, b = store.add_many(["pass key: 48213", "pass key: 48213"], source="ingest")
    assert a.id == b.id and len(store) == 4
    vals = store.add_many(["k: 1", "k: 2", "k: 1"], source="ingest")
    assert len({n.id for n in vals}) == 3


# ---------------------------------------------------------------- provenance, export and import


def test_provenance_fields_round_trip_export_and_import(tmp_path):
    with NoteStore(embedder="hash") as a:
        a.add("user city: Rome", source="chat", supersede=True, position=5, created_at=100.0)
        paris = a.add("user city: Paris", source="chat", supersede=True, position=9, created_at=200.0)
        a.add("pass key: 48213", source="ingest", position=3, created_at=150.0)
        a.add("pass key: 48213", source="ingest", created_at=300.0)  # a duplicate: seen again
        a.update(paris.id, "user city: Lyon")
        assert a.export(tmp_path / "n.jsonl") == 3
        originals = a.list()
    rows = [json.loads(line) for line in (tmp_path / "n.jsonl").read_text().splitlines()]
    assert {"created_at", "edited_at", "seen_at", "superseded_by", "source"} <= set(rows[0])
    with NoteStore(tmp_path / "b", embedder="hash") as b:
        b.add("something else", created_at=1.0)
        assert b.import_(tmp_path / "n.jsonl") == 3
        got = b.list()[1:]
        same = lambda n: (n.text, n.created_at, n.seen_at, n.edited_at, n.position, n.session)  # noqa: E731
        assert [same(n) for n in got] == [same(n) for n in originals]
        assert {n.source for n in got} == {"import"}
        new = {n.text: n for n in got}
        assert new["user city: Rome"].superseded_by == new["user city: Lyon"].id  # history kept, new ids
        assert new["pass key: 48213"].seen_at == 300.0
        assert found(b, "user city") == ["user city: Lyon"]
        assert b.import_(tmp_path / "n.jsonl") == 0  # imported again: nothing twice
        # imports never supersede what is there
        b.add("user city: Bern", source="user", session="x", supersede=True)
        assert b.import_(tmp_path / "n.jsonl", session="x") == 3
        assert sorted(found(b, "user city", "x")) == ["user city: Bern", "user city: Lyon"]


def test_search_floor_drops_unrelated_notes(store):
    for t in ["user city: Paris", "user name: Ada", "pass key: 48213", "Mary is in the kitchen",
              "magic number for blue-house: 123456", "user job: nurse", "user pet name: Rex"]:
        store.add(t)
    assert len(store.search("city", k=50)) == 7  # unfloored: every note, however unrelated
    hits = store.search("city", k=50, min_score=store.relevance_floor)
    assert texts(n for n, _ in hits) == ["user city: Paris"] and hits[0][1] >= store.relevance_floor
    name = store.search("name", k=50, min_score=store.relevance_floor)
    assert texts(n for n, _ in name) == ["user name: Ada", "user pet name: Rex"]  # ranked
    assert name[0][1] >= name[1][1]


def test_the_floor_is_the_embedder_s():
    assert NoteStore(embedder="hash").relevance_floor == store_mod.default_relevance_floor(HashEmbedder()) == 0.2

    class Own(HashEmbedder):
        relevance_floor = 0.45

    assert NoteStore(embedder=Own(dim=64)).relevance_floor == 0.45
    assert NoteStore(embedder="hash", relevance_floor=0.05).relevance_floor == 0.05


# ---------------------------------------------------------------- older stores


OLD_SCHEMA = """
CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text BLOB NOT NULL, created_at REAL NOT NULL,
    source TEXT NOT NULL, position INTEGER NOT NULL DEFAULT 0, session TEXT NOT NULL DEFAULT 'default', emb BLOB);
CREATE INDEX notes_session_time ON notes(session, created_at, id);
CREATE INDEX notes_time ON notes(created_at, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def test_an_older_store_opens_migrated_with_every_note(tmp_path, caplog):
    d = tmp_path / "old"
    d.mkdir()
    emb = HashEmbedder()
    old = [("user city: Rome", 10.0, "chat"), ("pass key: 48213", 11.0, "ingest"), ("Mary is in the hall", 12.0, "user")]
    with sqlite3.connect(d / "notes.sqlite") as db:  # as the first schema wrote it
        db.executescript(OLD_SCHEMA)
        for (t, c, s), v in zip(old, emb.embed([t for t, _, _ in old])):
            db.execute("INSERT INTO notes(text, created_at, source, position, session, emb) VALUES (?,?,?,0,'default',?)",
                       (t.encode(), c, s, v.tobytes()))
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("embedder", emb.name), ("dim", str(emb.dim)),
                                                          ("generation", "3"), ("index_generation", "-1")])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        with NoteStore(d, embedder="hash") as s:
            notes = s.list()
            assert [(n.text, n.created_at, n.source) for n in notes] == old
            assert all(n.seen_at == n.created_at and n.edited_at is None and n.superseded_by is None for n in notes)
            assert texts(s.history("user city")) == ["user city: Rome"]  # keys were filled in
            assert found(s, "pass key")[0] == "pass key: 48213"
            s.add("user city: Paris", source="chat", supersede=True)  # the new rules work on old notes
            assert found(s, "user city") == ["user city: Paris"]
    assert any("migrated" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(d / "notes.sqlite") as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(notes)")}
    assert {"key", "edited_at", "seen_at", "superseded_by"} <= cols
    with NoteStore(d, embedder="hash") as s:  # and once more, with nothing left to migrate
        assert len(s) == 4


def test_a_large_re_embed_shows_a_progress_bar(tmp_path, monkeypatch, capsys):
    d = str(tmp_path / "s")
    with NoteStore(d, embedder="hash") as s:
        s.add_many([f"note number {i}: {i}" for i in range(40)])
    capsys.readouterr()
    monkeypatch.setattr(store_mod, "REEMBED_PROGRESS_MIN", 30)
    with NoteStore(d, embedder=HashEmbedder(dim=256)) as s:  # another embedder: everything re-embedded
        assert len(s) == 40 and found(s, "note number 7")[0] == "note number 7: 7"
    err = capsys.readouterr().err
    assert "embedding notes" in err and "40/40" in err
    monkeypatch.setattr(store_mod, "REEMBED_PROGRESS_MIN", 1000)
    with NoteStore(d, embedder=HashEmbedder(dim=128)):  # a small re-embed: no bar
        pass
    assert "embedding notes" not in capsys.readouterr().err


def test_filing_looks_up_a_key_through_an_index():
    """A read note checks the latest note on its key: with only the time index, sqlite walked the
    session newest first for each one, and filing 20k notes took 100x longer."""
    from memgpt.memory.store import _COLS
    with NoteStore(embedder="hash") as s:
        plan = " ".join(r[-1] for r in s._db.execute(
            f"EXPLAIN QUERY PLAN SELECT {_COLS} FROM notes WHERE session = ? AND key = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1", ("default", "k")))
    assert "notes_key_time" in plan and "TEMP B-TREE" not in plan
