"""NoteStore on a shared or damaged directory (issue 27): temp files of other writers, verified
index files, deletes while another connection reads, damaged or missing databases, file
permissions, and a store opened one directory too high."""

import logging
import os
import sqlite3
import stat
import subprocess
import threading
import time
import uuid

import numpy as np
import pytest

from memgpt import cli
from memgpt.memory import NoteStore, StoreError
from memgpt.memory import index as index_mod
from memgpt.memory import store as store_mod

LOGGER = "memgpt.memory"
DB, INDEX = "notes.sqlite", "index.faiss"


def _rebuilds(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and "rebuilt" in r.getMessage()]


def _populate(d, n=60, **kw):
    texts = [f"magic number for key{i}-zub: {1000 + i}" for i in range(n)]
    with NoteStore(d, **kw) as s:
        s.add_many(texts)
    return texts


def _all_bytes(d):
    out = b""
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out += f.read()
    return out


# ---------------------------------------------------------------- 1. temp files, busy writers


def _reaped_pid():
    p = subprocess.Popen(["true"])  # started and reaped: its pid belongs to nobody now
    p.wait()
    return p.pid


def test_open_removes_only_orphaned_temp_files(tmp_path):
    # Two processes on one directory: an open deleted the other's temp file mid-write, and
    # that writer's committed add then raised FileNotFoundError. A temp file whose process is
    # alive stays; one whose process is gone, or over an hour old, is removed.
    d = str(tmp_path / "s")
    _populate(d)
    live = os.path.join(d, f"{INDEX}.tmp.{os.getpid()}.inflight")
    dead = os.path.join(d, f"{INDEX}.tmp.{_reaped_pid()}.killed")
    stale = os.path.join(d, f"{INDEX}.tmp.{os.getpid()}.stale")
    for p in (live, dead, stale):
        open(p, "wb").write(b"part of an index")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    with NoteStore(d) as s:
        assert len(s) == 60
    left = sorted(f for f in os.listdir(d) if ".tmp." in f)
    assert left == [os.path.basename(live)]


def test_index_is_written_without_holding_the_write_lock(tmp_path, monkeypatch):
    # A long index write must not keep other connections from committing; a commit that lands
    # during the write makes the store discard that file and write one that includes it.
    d = str(tmp_path / "s")
    _populate(d)
    real, calls = store_mod.write_index_temp, []
    other = sqlite3.connect(os.path.join(d, DB), isolation_level=None, timeout=0)

    def write_while_another_commits(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the lock is held
            other.execute("INSERT INTO notes(text, created_at, source) VALUES (?, 5, 'user')",
                          (b"Mary is in the garden",))
            other.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            other.execute("COMMIT")
        return real(*a, **kw)

    with NoteStore(d, flush_every=10_000) as s:
        s.add("pass key: 48213")
        monkeypatch.setattr(store_mod, "write_index_temp", write_while_another_commits)
        s.flush()
        assert len(calls) == 2  # the first file missed the other commit: written again
        monkeypatch.undo()
    other.close()
    with NoteStore(d) as s:
        assert sorted(s._index.labels()) == sorted(r[0] for r in sqlite3.connect(os.path.join(d, DB)).execute(
            "SELECT id FROM notes"))
        assert s.search("Where is Mary?", k=1)[0][0].text == "Mary is in the garden"


def test_write_index_survives_its_temp_file_vanishing(tmp_path, monkeypatch):
    # An older opener may still delete temp files without the lock: the rename is retried.
    idx = index_mod.make_index("flat", 8)
    x = np.eye(8, dtype=np.float32)[:3]
    idx.add(np.array([4, 5, 6]), x)
    real_replace, calls = os.replace, []

    def replace_after_a_thief(src, dst):
        calls.append(src)
        if len(calls) == 1:
            os.unlink(src)
        return real_replace(src, dst)

    monkeypatch.setattr(index_mod.os, "replace", replace_after_a_thief)
    path = str(tmp_path / INDEX)
    digest = index_mod.write_index(idx, path)
    assert len(calls) == 2 and calls[0] != calls[1]
    with open(path, "rb") as f:
        assert index_mod.file_sha256(f) == digest
        f.seek(0)
        assert sorted(index_mod.read_index(f, "flat", 8).labels()) == [4, 5, 6]
    assert os.listdir(tmp_path) == [INDEX]


def test_a_committed_add_never_raises_when_the_index_write_fails(tmp_path, monkeypatch, caplog):
    d = str(tmp_path / "s")
    _populate(d, n=5)

    def fail(*a, **kw):
        raise FileNotFoundError("index.faiss.tmp.1 -> index.faiss")

    with NoteStore(d, flush_every=1) as s:
        monkeypatch.setattr(store_mod, "write_index_temp", fail)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            n = s.add("pass key: 48213")  # committed: must return, not raise
        assert s.get(n.id).text == "pass key: 48213"
        assert any("index file" in r.getMessage() and "not written" in r.getMessage() for r in caplog.records)
        assert s.search("What is the pass key?", k=1)[0][0].id == n.id
        monkeypatch.undo()
    caplog.clear()
    with NoteStore(d) as s:  # close() wrote the file once the write worked again
        assert s.search("What is the pass key?", k=1)[0][0].id == n.id
    assert _rebuilds(caplog) == []


def test_busy_timeout_outlasts_a_long_writer(tmp_path):
    # "database is locked" beside a busy writer: the store waits for the lock (60 s) instead
    # of failing after sqlite3's default 5 s.
    with NoteStore(tmp_path / "s") as s:
        assert s._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000


# ---------------------------------------------------------------- 2. verified index files


def _zero_vectors(d, dim):
    """Zero every stored vector in index.faiss, keeping its size, ids and header."""
    p = os.path.join(d, INDEX)
    data = bytearray(open(p, "rb").read())
    with sqlite3.connect(os.path.join(d, DB)) as db:
        embs = [np.frombuffer(r[0], dtype=np.float32) for r in db.execute("SELECT emb FROM notes ORDER BY id")]
    start = data.find(embs[0].tobytes())
    assert start > 0, "first vector not found in the index file"
    size = len(embs) * dim * 4
    assert data[start: start + size] == b"".join(e.tobytes() for e in embs)  # one contiguous block
    data[start: start + size] = bytes(size)
    open(p, "wb").write(bytes(data))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_damaged_index_vectors_are_detected_and_rebuilt(tmp_path, caplog, kind):
    d = str(tmp_path / "s")
    texts = _populate(d, n=80, index=kind)
    with NoteStore(d, index=kind) as s:
        dim = s.dim
    _zero_vectors(d, dim)
    with caplog.at_level(logging.INFO, logger=LOGGER), NoteStore(d, index=kind) as s:
        logs = _rebuilds(caplog)
        assert len(logs) == 1 and "checksum" in logs[0]
        found = sum(s.search(t, k=1)[0][0].text == t for t in texts)
        assert found == len(texts)
    caplog.clear()
    with NoteStore(d, index=kind) as s:  # the good index was written back, not the damage
        assert sum(s.search(t, k=1)[0][0].text == t for t in texts) == len(texts)
    assert _rebuilds(caplog) == []


def test_index_without_a_recorded_checksum_is_rebuilt_once(tmp_path, caplog):
    d = str(tmp_path / "s")
    _populate(d)
    with sqlite3.connect(os.path.join(d, DB)) as db:  # as an older version left it
        db.execute("DELETE FROM meta WHERE key = 'index_sha256'")
    with NoteStore(d):
        assert len(_rebuilds(caplog)) == 1 and "checksum" in _rebuilds(caplog)[0]
    caplog.clear()
    with NoteStore(d):
        pass
    assert _rebuilds(caplog) == []


# ---------------------------------------------------------------- 3. deletes beside a reader


def _reader(d):
    r = sqlite3.connect(os.path.join(d, DB), isolation_level=None, check_same_thread=False)
    r.execute("BEGIN")
    assert r.execute("SELECT count(*) FROM notes").fetchone()[0] > 0  # a snapshot is now held
    return r


def test_delete_beside_a_reader_says_what_is_left_then_scrubs(tmp_path, caplog):
    d = str(tmp_path / "s")
    secret = f"SECRET{uuid.uuid4().hex}"
    with NoteStore(d, scrub_timeout=0.2) as s:
        s.add_many([f"filler note {i}" for i in range(30)])
        s.add_many([f"{secret} number {i}" for i in range(20)], session="private")
        reader = _reader(d)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert s.delete_all(session="private") == 20
        warned = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
        assert len(warned) == 1 and os.path.join(d, DB) in warned[0] and "reading" in warned[0]
        assert secret.encode() in _all_bytes(d)  # the warning was not a false alarm
        assert s.scrub() is False  # still held
        reader.execute("COMMIT")
        reader.close()
        assert s.scrub() is True
        assert secret.encode() not in _all_bytes(d)
        assert len(s) == 30


def test_delete_waits_for_a_short_reader(tmp_path, caplog):
    d = str(tmp_path / "s")
    secret = f"SECRET{uuid.uuid4().hex}"
    with NoteStore(d, scrub_timeout=20) as s:
        s.add_many([f"filler note {i}" for i in range(30)])
        n = s.add(f"the code is {secret}")
        reader = _reader(d)
        threading.Timer(0.3, lambda: reader.execute("COMMIT")).start()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert s.delete(n.id)
        assert secret.encode() not in _all_bytes(d)
        assert not [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    reader.close()


# ---------------------------------------------------------------- 4. damaged or missing databases


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header_only"])
def test_damaged_database_is_named_in_one_line(tmp_path, capsys, damage):
    d = str(tmp_path / "s")
    _populate(d, n=300)
    p = os.path.join(d, DB)
    data = open(p, "rb").read()
    new = {"garbage": os.urandom(8192), "truncated": data[: len(data) // 2], "header_only": data[:100]}[damage]
    open(p, "wb").write(new)
    with pytest.raises(StoreError) as e:
        NoteStore(d)
    assert p in str(e.value) and isinstance(e.value, OSError)
    assert open(p, "rb").read() == new  # untouched
    assert cli.main(["notes", "list", "--memory", d]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and p in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_missing_or_empty_database_never_overwrites_a_full_index(tmp_path, how):
    d = str(tmp_path / "s")
    _populate(d)
    p, idx = os.path.join(d, DB), os.path.join(d, INDEX)
    for f in os.listdir(d):
        if f.startswith(DB):
            os.unlink(os.path.join(d, f))
    if how == "empty":
        open(p, "wb").close()
    before = open(idx, "rb").read()
    with pytest.raises(StoreError) as e:
        NoteStore(d)
    assert p in str(e.value) and idx in str(e.value) and "60 note vectors" in str(e.value)
    assert open(idx, "rb").read() == before
    assert os.path.exists(p) == (how == "empty")


def test_missing_database_beside_an_empty_index_opens(tmp_path):
    d = str(tmp_path / "s")
    _populate(d)
    with NoteStore(d) as s:
        s.delete_all()
    os.unlink(os.path.join(d, DB))
    with NoteStore(d) as s:
        assert len(s) == 0
        s.add("a new note")


def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    p = str(d / DB)
    with sqlite3.connect(p) as db:
        db.execute("CREATE TABLE invoices (n INTEGER)")
    before = open(p, "rb").read()
    with pytest.raises(StoreError, match="not a note store"):
        NoteStore(d)
    assert open(p, "rb").read() == before


# ---------------------------------------------------------------- 7. permissions


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_new_store_is_private(tmp_path):
    d = str(tmp_path / "parent" / "s")
    umask = os.umask(0o022)
    os.umask(umask)
    s = NoteStore(d, flush_every=1)
    s.add("pass key: 48213")
    assert _mode(tmp_path / "parent") == 0o777 & ~umask  # a parent it creates is not changed
    assert _mode(d) == 0o700
    names = sorted(os.listdir(d))
    assert {DB, DB + "-wal", DB + "-shm", INDEX} <= set(names)
    for name in names:
        assert _mode(os.path.join(d, name)) == 0o600, name
    s.close()
    for name in os.listdir(d):
        assert _mode(os.path.join(d, name)) == 0o600, name


def test_existing_directory_keeps_its_mode(tmp_path):
    d = tmp_path / "mine"
    d.mkdir(mode=0o750)
    os.chmod(d, 0o750)
    with NoteStore(d) as s:
        s.add("x")
    assert _mode(d) == 0o750
    assert _mode(d / DB) == 0o600


# ---------------------------------------------------------------- 8. a store one level down


def test_opening_the_parent_of_a_store_names_the_store(tmp_path):
    demo = tmp_path / "demo"
    _populate(str(demo / "notes"), n=3)
    with pytest.raises(StoreError) as e:
        NoteStore(demo)
    assert str(demo / "notes") in str(e.value)
    assert sorted(os.listdir(demo)) == ["notes"]  # nothing created beside it
    other = tmp_path / "plain"
    (other / "empty_subdir").mkdir(parents=True)
    with NoteStore(other) as s:  # a directory without stores below it is fine
        assert len(s) == 0
