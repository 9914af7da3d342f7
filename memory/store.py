"""`NoteStore`: notes in sqlite (source of truth, with embeddings) + a FAISS index (a cache).

Persistent layout of a store directory:
    notes.sqlite   WAL mode, secure_delete; table `notes` (text as UTF-8 BLOB, embedding as
                   float32 BLOB) and table `meta` (embedder, dimension, generation counters)
    index.faiss    a plain FAISS file, rebuilt from the sqlite embeddings when missing, corrupt
                   or out of step

Consistency: every mutation bumps `meta.generation` in the same sqlite transaction; a flush of
the index file records the generation it reflects in `meta.index_generation` and the SHA-256 of
its bytes in `meta.index_sha256`. On open the file is used only if its checksum matches, the
generations agree and its ids equal the sqlite ids; otherwise it is rebuilt from the sqlite
embeddings (one log line on the "memgpt.memory" logger), so a damaged file is never trusted and
never written back.

Sharing: several NoteStores, in one process or several, may open the same directory (the demo
and a script, say). Each remembers the generation its in-memory index reflects; a search or a
flush that finds another store's commits since then first rebuilds that index from the sqlite
embeddings. The index file is installed (renamed into place, its generation and checksum
recorded) under sqlite's write lock, and only if no commit landed since it was built, so it and
`meta` always describe the same notes. It is written to its temp file before that lock is
taken: a long write does not hold up the other connections. A temp file is named
`index.faiss.tmp.<pid>.<random>`; an open removes those whose process is gone (killed
mid-write) or that are over `TEMP_MAX_AGE_S` old, never a live writer's (WAL mode already
requires every connection to be on one host, so the pid is meaningful). Waits for the write
lock last up to `BUSY_TIMEOUT_S`: a busy writer elsewhere delays an open or an add, it does not
fail it.

When the index file is written: on `flush()`, on `close()` (and at interpreter exit), and after
`flush_every` unflushed changes. A delete or update unlinks the file at once, so a removed
note's vector does not linger on disk (a temp file another store was writing at that moment may
hold it until that store sees the commit and discards the file); the next flush writes a fresh
one. A crash in between only
costs a rebuild on the next open: the notes themselves are durable as soon as `add` returns, and
an `add` that committed returns even if writing the index file then fails (a warning is logged;
the write is retried later).

Deleted text: sqlite's secure_delete zeroes freed content, and after a delete or update the WAL
is checkpointed into notes.sqlite and truncated. Another connection in the middle of a read
keeps old pages alive; the store waits up to `scrub_timeout` for it, and if that is not enough
logs a warning naming the files that may still hold the text, retries on every later change,
flush and close, and reports through `scrub()`.

Files: a store directory the store creates is made 0700, and the files it creates (notes.sqlite
and, following its mode, the WAL, shared-memory and index files) 0600. Existing directories and
databases keep their modes.

Errors: a damaged or foreign notes.sqlite, a missing or empty database beside an index that
holds vectors, a directory whose store is one level down, and a lock held past
`BUSY_TIMEOUT_S` raise `StoreError` (an `OSError`) naming the path.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import math
import os
import sqlite3
import stat
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from .embed import Embedder, embedder_name, get_embedder
from .index import FlatIndex, HNSWIndex, _unlink_quiet, file_sha256, make_index, read_index, write_index_temp
from .note import SOURCES, Note, note_key

log = logging.getLogger("memgpt.memory")

DB_NAME = "notes.sqlite"
INDEX_NAME = "index.faiss"
_META_KEYS = ("source", "position", "session", "created_at")
BUSY_TIMEOUT_S = 60.0
"""Seconds an operation waits for another connection's write lock before it fails."""
SCRUB_TIMEOUT_S = 2.0
TEMP_MAX_AGE_S = 3600.0
"""An index temp file this old is removed on open even if a process with its pid is running."""
"""Default seconds a delete waits for other connections' reads to end (see `NoteStore.scrub`)."""
REEMBED_PROGRESS_MIN = 5000
"""A re-embedding of at least this many notes shows a progress bar (on stderr)."""
DEFAULT_RELEVANCE_FLOOR = 0.2
"""Relevance floor of an embedder that names none (see `relevance_floor`)."""
_FLOORS = {"hash-": 0.2, "st-": 0.3}
_COLS = "id, text, created_at, source, position, session, edited_at, seen_at, superseded_by"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: ids are never reused
    text BLOB NOT NULL,                     -- UTF-8 (surrogatepass) bytes: exact round trip
    created_at REAL NOT NULL,
    source TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    session TEXT NOT NULL DEFAULT 'default',
    emb BLOB,                               -- float32[dim]; NULL = not embedded yet
    key TEXT,                               -- note_key(text); NULL for a note without one
    edited_at REAL,                         -- last edit by a person; NULL = never edited
    seen_at REAL,                           -- last time written (duplicates refresh it); NULL = created_at
    superseded_by INTEGER                   -- the newer note with this key; NULL = current
);
CREATE INDEX IF NOT EXISTS notes_session_time ON notes(session, created_at, id);
CREATE INDEX IF NOT EXISTS notes_time ON notes(created_at, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns added since the first schema: an older store gains them on open (ALTER TABLE keeps
# every note), then the indexes over them are made.
_NEW_COLUMNS = (("key", "TEXT"), ("edited_at", "REAL"), ("seen_at", "REAL"), ("superseded_by", "INTEGER"))
# (session, key, created_at, id): the latest note on a key is one index step, not a scan of the
# session in time order (which made filing 20k notes 100x slower).
_NEW_INDEXES = """
CREATE INDEX IF NOT EXISTS notes_key_time ON notes(session, key, created_at, id);
CREATE INDEX IF NOT EXISTS notes_successor ON notes(superseded_by) WHERE superseded_by IS NOT NULL;
"""
_LIVE = "superseded_by IS NULL"


def default_relevance_floor(embedder: Embedder) -> float:
    """The score below which a search hit is not worth showing a person: the embedder's own
    `relevance_floor` attribute if it has one, else a default for its kind (hash 0.2: unrelated
    notes score within about 0.13 of 0 and a one-word match about 0.3 or more; sentence
    transformers 0.3), else `DEFAULT_RELEVANCE_FLOOR`."""
    floor = getattr(embedder, "relevance_floor", None)
    if floor is not None:
        return float(floor)
    name = embedder_name(embedder)
    return next((v for prefix, v in _FLOORS.items() if name.startswith(prefix)), DEFAULT_RELEVANCE_FLOOR)

_open_stores: "weakref.WeakSet[NoteStore]" = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    # Write index caches of stores the program forgot to close, so the next open is fast.
    for s in list(_open_stores):
        # Skip a store whose lock a stuck (daemon) thread still holds rather than hang exit.
        if not s._lock.acquire(timeout=5):  # pragma: no cover
            continue
        try:
            s.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass
        finally:
            s._lock.release()


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise ValueError(f"note text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("note text must not be empty or whitespace-only")
    return text


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _dec(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "surrogatepass")


class StoreError(OSError):
    """A store directory that cannot be used as it is; the message names the path(s).

    Raised for a damaged or foreign notes.sqlite, a missing or empty database beside an index
    file that holds vectors, a directory whose note store is one level down, and a database
    whose write lock another connection held for longer than `BUSY_TIMEOUT_S`.
    """


def _store_error(db_path: str, e: sqlite3.Error) -> Exception:
    """The sqlite error as a StoreError naming the database, or `e` itself for a programming error."""
    if isinstance(e, (sqlite3.ProgrammingError, sqlite3.IntegrityError, sqlite3.InterfaceError)):
        return e
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return StoreError(f"{db_path}: {msg} (another connection held it for over {BUSY_TIMEOUT_S:g} s)")
    if isinstance(e, sqlite3.OperationalError):
        return StoreError(f"{db_path}: {msg}")
    return StoreError(f"{db_path}: damaged note database ({msg}); restore it from a backup or an export")


def _named_errors(fn):
    """Raise sqlite failures of a public method as StoreError naming the database file."""

    @functools.wraps(fn)
    def wrapper(self: "NoteStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as e:
            err = _store_error(self._db_path, e)
            if err is e:
                raise
            raise err from e

    return wrapper


def _temp_is_orphan(path: str) -> bool:
    """Whether an index temp file (`index.faiss.tmp.<pid>[.<random>]`) lost its writer."""
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return False
    if age > TEMP_MAX_AGE_S:
        return True
    try:
        pid = int(os.path.basename(path)[len(INDEX_NAME) + len(".tmp."):].split(".")[0])
    except ValueError:
        return True  # not a name any writer uses
    if pid == os.getpid():
        return False  # another store of this process may be writing it now
    if os.name != "posix":
        return False  # no safe liveness probe (os.kill would end the process): age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _index_vectors(path: str) -> int:
    """How many vectors the index file at `path` holds (0 if it is missing or unreadable)."""
    if not os.path.exists(path):
        return 0
    try:
        import faiss

        return int(faiss.read_index(path).ntotal)
    except Exception:
        return 0


class NoteStore:
    """A notebook of `Note`s with semantic search.

    Args:
        path: None for a fully in-memory store, or a directory (created if missing) for a
            persistent one.
        embedder: an `Embedder`, an embedder name ("default", "hash", "minilm"), or None for
            "default" (lexical hash features beside the bundled static table: links a question
            to a note in other words; docs/measurements.md).
        index: "flat" (exact, default) or "hnsw" (approximate, for very large stores of
            dense neural embeddings such as "minilm"). Do not pair "hnsw" with the hash
            embedder: a question shares only a word or two with its note, so a graph walk
            often cannot reach it (measured recall@5 0.72 vs 1.00 flat at 10k notes).
        flush_every: write the index file after this many unflushed changes (persistent only).
        hnsw_m, hnsw_ef_construction, hnsw_ef_search: HNSW parameters (index="hnsw" only).
            The defaults (16, 40, 128) gave recall@5 0.963 at 0.43 ms p50 on 1M clustered
            384-d vectors (`python scripts/bench_index.py --n 1000000`).
        scrub_timeout: seconds a delete or update waits for other connections' reads to end so
            that the removed text can be wiped from the files (see `scrub`).
        relevance_floor: the score below which a search a person reads drops a hit
            (`search(..., min_score=store.relevance_floor)`); None: the embedder's
            (`default_relevance_floor`).

    Notes have a key, the text before the first ": " ("user city" of "user city: Lisbon").
    `add(..., supersede=True)` (chat, and notes a person types) makes a new note replace the
    current note with its key in its session: the older one is kept, with `superseded_by` set,
    in `list` and `history`, but no search finds it. Notes read from documents and imports never
    supersede. An exact duplicate is not stored twice: it refreshes the stored note's `seen_at`
    (see `add_many`). Deleting a current note makes the note it superseded current again.

    All methods are thread-safe. Use as a context manager or call `close()`. Several stores
    (processes) may share a directory: each sees the others' committed notes (module docstring).

    Opening a directory refuses (`StoreError`, naming the paths) rather than guessing when:
    notes.sqlite is damaged or belongs to something else; notes.sqlite is missing or empty while
    index.faiss holds vectors (opening would start an empty store and overwrite that index);
    or the directory holds no store but a subdirectory does (e.g. `~/.memgpt/demo` when the
    store is `~/.memgpt/demo/notes`): the error names the subdirectory to open instead, and
    nothing is created beside it. Pass an empty or new directory for a new store.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        embedder: Embedder | str | None = None,
        index: str = "flat",
        *,
        flush_every: int = 1000,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 40,
        hnsw_ef_search: int = 128,
        scrub_timeout: float = SCRUB_TIMEOUT_S,
        relevance_floor: float | None = None,
    ):
        if index not in ("flat", "hnsw"):
            raise ValueError(f"unknown index kind {index!r}; choose 'flat' or 'hnsw'")
        self.embedder: Embedder = get_embedder(embedder if embedder is not None else "default")
        self.dim = int(self.embedder.dim)
        self.relevance_floor = float(relevance_floor if relevance_floor is not None else default_relevance_floor(self.embedder))
        """Score below which a search a person reads drops a hit (see `search`)."""
        self.index_kind = index
        self.flush_every = max(1, int(flush_every))
        # the index's settings: HNSW's, and the embedder's leading lexical columns (index.FlatIndex)
        self._index_kw = dict(M=hnsw_m, ef_construction=hnsw_ef_construction, ef_search=hnsw_ef_search,
                             sparse_dims=int(getattr(self.embedder, "sparse_dims", 0)))
        self._lock = threading.RLock()
        self._closed = False
        self._pending = 0  # changes not yet in the index file
        self._session_ids: dict[str, np.ndarray] = {}  # cache for session-filtered search
        self._gen: int | None = None  # the generation the in-memory index reflects (set on open)
        self._flush_at = self.flush_every  # auto-flush when _pending reaches this
        self.scrub_timeout = float(scrub_timeout)
        self._scrub_pending = False  # removed text may still be in the files (a reader held on)

        if path is None:
            self.path: str | None = None
            self._db_path = ":memory:"
            self._index_path: str | None = None
        else:
            self.path = os.fspath(path)
            self._db_path = os.path.join(self.path, DB_NAME)
            self._index_path = os.path.join(self.path, INDEX_NAME)
            self._prepare_directory()

        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so "returned" means "committed".
            self._db = sqlite3.connect(self._db_path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                                       isolation_level=None)
        except sqlite3.Error as e:
            raise _store_error(self._db_path, e) from e
        try:
            self._setup_db()
            with self._lock:
                self._open_index()
        except BaseException as e:
            self._db.close()
            if isinstance(e, sqlite3.Error):
                err = _store_error(self._db_path, e)
                if err is not e:
                    raise err from e
            raise
        _open_stores.add(self)

    def _prepare_directory(self) -> None:
        """Create the store directory (0700) or check an existing one; create notes.sqlite 0600."""
        assert self.path and self._index_path
        try:
            os.makedirs(self.path, mode=0o700)
        except FileExistsError:
            if not os.path.isdir(self.path):
                raise StoreError(f"{self.path} is not a directory") from None
            self._check_existing_directory()
        if not os.path.exists(self._db_path):
            # Created here rather than by sqlite so that it is private; sqlite gives the WAL and
            # shared-memory files the database's mode.
            try:
                os.close(os.open(self._db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:  # another process created it just now
                pass

    def _check_existing_directory(self) -> None:
        assert self.path and self._index_path
        db, idx = self._db_path, self._index_path
        db_exists = os.path.exists(db)
        if db_exists and os.path.getsize(db) > 0:
            return
        n = _index_vectors(idx)
        if n:
            raise StoreError(
                f"{db} is {'empty' if db_exists else 'missing'} but {idx} holds {n} note vector{'s' * (n != 1)}: "
                f"refusing to open an empty store over them (restore {DB_NAME} from a backup, "
                f"or move {INDEX_NAME} away to start an empty store)")
        if db_exists or os.path.exists(idx):
            return
        below = sorted(e.path for e in os.scandir(self.path)
                       if e.is_dir() and os.path.isfile(os.path.join(e.path, DB_NAME)))
        if below:
            others = f" (and {len(below) - 1} more)" if len(below) > 1 else ""
            raise StoreError(f"{self.path} holds no note store, but {below[0]}{others} does: open that "
                             f"directory, or an empty or new one for a new store")

    def _setup_db(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # The first read: a damaged file or a non-database fails here, before anything is written.
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables - {"sqlite_sequence"} and "notes" not in tables:
            raise StoreError(f"{self._db_path} is an SQLite database but not a note store "
                             f"(tables: {', '.join(sorted(tables))}); choose another directory")
        if self.path:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.executescript(_NEW_INDEXES)
        self._fill_keys()

    def _migrate(self) -> None:
        """Add the columns an older store lacks (its notes are kept: current, never edited)."""
        def missing() -> list[tuple[str, str]]:
            have = {r[1] for r in self._db.execute("PRAGMA table_info(notes)")}
            return [(c, decl) for c, decl in _NEW_COLUMNS if c not in have]

        if not missing():
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            todo = missing()  # another process may have migrated while we waited for the lock
            for col, decl in todo:
                self._db.execute(f"ALTER TABLE notes ADD COLUMN {col} {decl}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if todo:
            log.info("migrated %s to the current schema (added %s)", self._db_path, ", ".join(c for c, _ in todo))

    def _fill_keys(self) -> None:
        """Set the key of notes that lack it (after a migration, or rows inserted by hand).
        Keys are not in the index, so this is no change the index must follow."""
        rows = self._db.execute("SELECT id, text FROM notes WHERE key IS NULL AND instr(text, ?) > 0",
                                (b": ",)).fetchall()
        keyed = [(k, i) for i, t in rows if (k := note_key(_dec(t))) is not None]
        if keyed:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("UPDATE notes SET key = ? WHERE id = ?", keyed)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction that also bumps the generation counter."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            gen = self._generation()
            yield self._db
            self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if self._gen is not None and gen == self._gen:
            # Under the write lock nobody else commits: gen + 1 is our change on top of what we
            # had seen. If someone else committed first, _gen stays behind and _sync catches up.
            self._gen = gen + 1

    def _generation(self) -> int:
        return int(self._meta("generation") or 0)

    def _sync(self) -> None:
        """Catch up with commits of other stores on this directory (lock held)."""
        if self._gen is None or self._generation() == self._gen:
            return
        name = self._meta("embedder")
        if name != embedder_name(self.embedder):
            raise RuntimeError(f"another store re-embedded {self.path} with {name!r}; "
                               f"reopen this one with that embedder")
        self._embed_missing()
        gen = self._generation()  # read before the rows: a later commit only means one more sync
        self._rebuild_index()
        self._gen = gen

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("NoteStore is closed")

    def _row(self, r: tuple) -> Note:
        return Note(id=r[0], text=_dec(r[1]), created_at=r[2], source=r[3], position=r[4], session=r[5],
                    edited_at=r[6], seen_at=r[7], superseded_by=r[8])

    def _open_index(self) -> None:
        """Bring meta, embeddings and the FAISS index in step with the sqlite notes."""
        reasons: list[str] = []
        name = embedder_name(self.embedder)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('index_generation', '-1')")
            old = (self._meta("embedder"), self._meta("dim"))
            if old != (name, str(self.dim)):
                if old[0] is not None:
                    # A different embedding space: every stored vector is meaningless now.
                    self._db.execute("UPDATE notes SET emb = NULL")
                    reasons.append(f"embedder changed from {old[0]} to {name}")
                self._set_meta("embedder", name)
                self._set_meta("dim", self.dim)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if self.path:
            self._remove_orphan_temp_files()
        n_fixed = self._embed_missing()
        if n_fixed and not reasons:
            reasons.append(f"{n_fixed} notes had no embedding")

        idx, gen, n_notes, why = self._load_index_file()
        if why:
            reasons.append(why)
        self._index: FlatIndex | HNSWIndex | None = idx if not reasons else None
        if self._index is None:
            self._rebuild_index()
            if reasons:
                log.warning("rebuilt %s index of %s from sqlite (%d notes): %s",
                            self.index_kind, self.path, n_notes, "; ".join(reasons))
        self._gen = gen
        if self._pending and self._index_path:
            self._auto_flush()

    def _remove_orphan_temp_files(self) -> None:
        """Remove temp files of index writes whose writer is gone: they may hold vectors of
        notes deleted since. A live writer's temp file is left alone."""
        assert self.path
        for entry in os.listdir(self.path):
            p = os.path.join(self.path, entry)
            if entry.startswith(INDEX_NAME + ".tmp.") and _temp_is_orphan(p):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass

    def _load_index_file(self) -> tuple[FlatIndex | HNSWIndex | None, int, int, str | None]:
        """The index file if it is exactly what a flush wrote for the current notes.

        Returns (index or None, generation, number of notes, why it cannot be used or None).
        The file is hashed before FAISS reads a byte of it, and read from the same open file,
        so a concurrent replacement cannot slip a different file past the check.
        """
        for attempt in range(2):
            f = None
            try:
                if self._index_path:
                    try:
                        f = open(self._index_path, "rb")
                    except FileNotFoundError:
                        f = None
                digest = file_sha256(f) if f is not None else None
                self._db.execute("BEGIN")  # one snapshot for meta and ids
                try:
                    gen = self._generation()
                    index_gen, want = self._meta("index_generation"), self._meta("index_sha256")
                    sql_ids = np.fromiter((r[0] for r in self._db.execute(
                        f"SELECT id FROM notes WHERE {_LIVE} ORDER BY id")), dtype=np.int64)
                finally:
                    self._db.execute("COMMIT")
                if f is None:
                    return None, gen, len(sql_ids), ("index file missing" if self._index_path and len(sql_ids)
                                                     else None)
                if want is None:
                    return None, gen, len(sql_ids), "index file has no recorded checksum (older version)"
                if digest != want:
                    if attempt == 0:
                        continue  # perhaps flushed anew between our read and our snapshot: once more
                    return None, gen, len(sql_ids), "index file is damaged (checksum differs)"
                if index_gen != str(gen):
                    return None, gen, len(sql_ids), "index file is out of step (generation)"
                f.seek(0)
                try:
                    idx = read_index(f, self.index_kind, self.dim, **self._index_kw)
                except Exception as e:  # wrong kind or dimension
                    first = str(e).splitlines()[0][:120] if str(e) else ""
                    return None, gen, len(sql_ids), f"index file unusable ({type(e).__name__}: {first})"
                if not np.array_equal(np.sort(idx.labels()), sql_ids):
                    return None, gen, len(sql_ids), "index file is out of step (ids differ from sqlite)"
                return idx, gen, len(sql_ids), None
            finally:
                if f is not None:
                    f.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _embed_missing(self, batch: int = 512) -> int:
        """Embed notes whose embedding is NULL or of the wrong size (e.g. inserted by hand)."""
        rows = self._db.execute(
            "SELECT id, text FROM notes WHERE emb IS NULL OR length(emb) != ?", (4 * self.dim,)
        ).fetchall()
        with tqdm(total=len(rows), unit="note", desc=f"embedding notes ({embedder_name(self.embedder)})",
                  disable=len(rows) < REEMBED_PROGRESS_MIN, dynamic_ncols=True) as bar:
            for s in range(0, len(rows), batch):
                chunk = rows[s : s + batch]
                vecs = self.embedder.embed([_dec(t) for _, t in chunk])
                with self._tx() as db:
                    db.executemany("UPDATE notes SET emb = ? WHERE id = ?",
                                   [(v.tobytes(), i) for (i, _), v in zip(chunk, vecs)])
                bar.update(len(chunk))
        return len(rows)

    def _rebuild_index(self, batch: int = 8192) -> None:
        """A fresh index of the current notes from the sqlite embeddings (no re-embedding)."""
        idx = make_index(self.index_kind, self.dim, **self._index_kw)
        cur = self._db.execute(f"SELECT id, emb FROM notes WHERE {_LIVE} ORDER BY id")
        while rows := cur.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
            idx.add(ids, vecs)
        self._index = idx
        self._session_ids.clear()
        self._pending += 1  # the file (if any) no longer matches memory

    def _flush_locked(self, attempts: int = 3) -> bool:
        """Write the index file; False if every attempt missed another store's commit."""
        if not self._index_path:
            self._pending = 0
            return True
        for _ in range(attempts):  # another store may commit while we write: then build and write anew
            self._sync()
            gen = self._gen
            # Written before sqlite's write lock is taken, so a long write keeps nobody waiting.
            tmp, digest = write_index_temp(self._index, self._index_path, mode=self._file_mode())
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if self._generation() != gen:
                        self._db.execute("ROLLBACK")
                        continue  # the file misses a commit made meanwhile: discard it
                    os.replace(tmp, self._index_path)
                    # Only after the file is in place: a crash before this means "rebuild on open".
                    self._set_meta("index_generation", gen)
                    self._set_meta("index_sha256", digest)
                    self._db.execute("COMMIT")
                except FileNotFoundError:  # our temp file was removed (an older version's open)
                    self._db.execute("ROLLBACK")
                    continue
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            finally:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            self._pending = 0
            self._flush_at = self.flush_every
            return True
        # Missed every time (a busy writer elsewhere): the changes stay pending, and the next
        # flush, or the next open's generation check, catches up.
        return False

    def _file_mode(self) -> int:
        """Permission bits for files the store writes: those of notes.sqlite (0600 when new)."""
        try:
            return stat.S_IMODE(os.stat(self._db_path).st_mode) & 0o666
        except OSError:
            return 0o600

    def _auto_flush(self, attempts: int = 1) -> None:
        """Flush after a committed change; a failure is logged, never raised (lock held).

        The notes are already durable and the index file is only a cache: raising here would
        tell the caller a committed note failed. The write is retried after `flush_every`
        more changes, on `flush()` and on `close()`. One attempt by default: a file that missed
        another store's commit is discarded, and the write waits for `flush_every` more changes.
        """
        try:
            if not self._flush_locked(attempts):
                self._flush_at = self._pending + self.flush_every
        except Exception as e:
            self._flush_at = self._pending + self.flush_every
            log.warning("index file %s not written (%s: %s); the notes are committed, the write is "
                        "retried later", self._index_path, type(e).__name__, e)

    def _checkpoint(self, timeout: float) -> bool:
        """Copy every committed page into notes.sqlite and truncate the WAL (lock held).

        Waits up to `timeout` seconds for other connections' reads to end; True if it completed.
        """
        if not self.path:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while True:
                left = deadline - time.monotonic()
                self._db.execute(f"PRAGMA busy_timeout={max(0, int(left * 1000))}")
                try:
                    busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise
                    busy = 1
                if not busy:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
        finally:
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")

    def _scrub(self, timeout: float, warn: bool = True) -> bool:
        """Checkpoint so that removed text leaves the files; track and report failure (lock held)."""
        if self._checkpoint(timeout):
            if self._scrub_pending:
                log.info("removed notes' text is now gone from %s and its WAL", self._db_path)
            self._scrub_pending = False
            return True
        self._scrub_pending = True
        if warn:
            log.warning("removed notes' text may remain in %s and %s-wal: another connection was "
                        "reading for over %.1f s, so the WAL checkpoint could not complete; it is "
                        "retried on every change, flush and close (or call scrub())",
                        self._db_path, self._db_path, timeout)
        return False

    def _after_change(self, removed: bool) -> None:
        """Bookkeeping after a committed mutation (lock held). Never raises for the index file
        or the checkpoint: the change is committed."""
        self._session_ids.clear()
        self._pending += 1
        if self._index.needs_compaction():
            self._rebuild_index()
        if removed:
            # Deleted/replaced content: scrub the WAL and drop the stale index file now.
            self._scrub(self.scrub_timeout)
            if self._index_path:
                try:
                    os.unlink(self._index_path)
                except FileNotFoundError:
                    pass
        elif self._scrub_pending:
            self._scrub(0.0, warn=False)
        if self._pending >= self._flush_at:
            self._auto_flush()

    def _normalise_meta(self, meta: dict[str, Any], n: int) -> list[tuple[float, str, int, str]]:
        unknown = set(meta) - set(_META_KEYS)
        if unknown:
            raise TypeError(f"unknown note metadata {sorted(unknown)}; allowed: {list(_META_KEYS)}")
        now = time.time()

        def per_item(key: str, default: Any) -> list[Any]:
            v = meta.get(key, default)
            if isinstance(v, (list, tuple, np.ndarray)):
                if len(v) != n:
                    raise ValueError(f"{key}: got {len(v)} values for {n} texts")
                return list(v)
            return [v] * n

        out = []
        for c, s, p, sess in zip(per_item("created_at", now), per_item("source", "user"),
                                 per_item("position", 0), per_item("session", "default")):
            if s not in SOURCES:
                raise ValueError(f"source must be one of {SOURCES}, got {s!r}")
            if not isinstance(sess, str) or not sess:
                raise ValueError(f"session must be a non-empty str, got {sess!r}")
            c = float(c)
            if not math.isfinite(c):
                raise ValueError(f"created_at must be finite, got {c!r}")
            out.append((c, s, int(p), sess))
        return out

    # ------------------------------------------------------------------ filing (lock held, in a transaction)

    def _find(self, db: sqlite3.Connection, where: str, args: tuple) -> Note | None:
        r = db.execute(f"SELECT {_COLS} FROM notes WHERE {where} LIMIT 1", args).fetchone()
        return self._row(r) if r else None

    def _duplicate(self, db: sqlite3.Connection, text: str, key: str | None, session: str, created_at: float,
                   mode: str) -> Note | None:
        """The stored note that `text` would duplicate under `mode`'s rule, or None.

        supersede: a current note of the session with the same text (for a keyed note that is
        the current note of its key, so nothing is lost). read: the latest note with the same
        key, if it has the same text and is current; notes without a key are never duplicates
        here, since the order of repeated statements is what a reader answers from ("Mary is in
        the bathroom" twice, with the kitchen between). import: the same text and created_at
        (the same note imported again).
        """
        t = _enc(text)
        if mode == "supersede":
            return self._find(db, f"session = ? AND key IS ? AND text = ? AND {_LIVE}", (session, key, t))
        if mode == "import":
            return self._find(db, "session = ? AND created_at = ? AND text = ?", (session, created_at, t))
        if key is None:
            return None
        last = db.execute(f"SELECT {_COLS} FROM notes WHERE session = ? AND key = ? "
                          "ORDER BY created_at DESC, id DESC LIMIT 1", (session, key)).fetchone()
        if last is None:
            return None
        note = self._row(last)
        return note if note.text == text and not note.superseded else None

    def _file_rows(self, db: sqlite3.Connection, texts: Sequence[str], rows: Sequence[tuple], vecs: np.ndarray,
                   mode: str, seen: Sequence[float | None] | None = None,
                   edited: Sequence[float | None] | None = None) -> tuple[list[Note], dict[int, np.ndarray], dict[int, int]]:
        """Insert (or, for duplicates, refresh) notes by `mode` ("supersede", "read", "import").

        Returns (one Note per text, {new id: vector}, {id: successor} of notes superseded now)."""
        out: list[Note] = []
        fresh: dict[int, np.ndarray] = {}
        succ: dict[int, int] = {}
        for i, (t, (c, s, p, sess), v) in enumerate(zip(texts, rows, vecs)):
            key = note_key(t)
            seen_at = max(c, seen[i]) if seen is not None and seen[i] is not None else c
            dup = self._duplicate(db, t, key, sess, c, mode)
            if dup is not None:
                if seen_at > dup.seen_at:
                    db.execute("UPDATE notes SET seen_at = ? WHERE id = ?", (seen_at, dup.id))
                    dup.seen_at = seen_at
                out.append(dup)
                continue
            ed = edited[i] if edited is not None else None
            cur = db.execute(
                "INSERT INTO notes(text, created_at, source, position, session, emb, key, edited_at, seen_at) "
                "VALUES (?,?,?,?,?,?,?,?,?)", (_enc(t), c, s, p, sess, v.tobytes(), key, ed, seen_at))
            nid = cur.lastrowid
            if mode == "supersede" and key is not None:
                old = [r[0] for r in db.execute(f"SELECT id FROM notes WHERE session = ? AND key = ? AND {_LIVE} "
                                                "AND id != ?", (sess, key, nid))]
                if old:
                    db.execute(f"UPDATE notes SET superseded_by = ? WHERE id IN ({','.join('?' * len(old))})",
                               (nid, *old))
                    succ.update((o, nid) for o in old)
            fresh[nid] = v
            out.append(Note(nid, t, c, s, p, sess, edited_at=ed, seen_at=seen_at))
        for n in out:  # a note superseded later in the same batch
            if n.id in succ and n.superseded_by is None:
                n.superseded_by = succ[n.id]
        return out, fresh, succ

    def _index_follow(self, fresh: dict[int, np.ndarray], superseded: Sequence[int] | dict[int, int]) -> None:
        """Put new current notes in the index and take superseded ones out (lock held)."""
        live = [i for i in fresh if i not in superseded]
        if live:
            self._index.add(np.asarray(live, dtype=np.int64), np.stack([fresh[i] for i in live]))
        gone = [i for i in superseded if i not in fresh]
        if gone:
            self._index.remove(gone)

    # ------------------------------------------------------------------ public API

    def add(self, text: str, *, supersede: bool = False, **meta: Any) -> Note:
        """Store one note; returns it once it is committed to sqlite (or, for an exact duplicate,
        the stored note, its `seen_at` refreshed; see `add_many`).

        meta: source ("ingest" | "chat" | "user" | "import", default "user"), position (int,
        default 0), session (str, default "default"), created_at (Unix time, default now).
        supersede: True for a note of a conversation or one a person types: it replaces the
        current note with its key in its session (see the class docstring).
        Raises ValueError for non-str, empty or whitespace-only text.
        """
        return self.add_many([text], supersede=supersede, **meta)[0]

    @_named_errors
    def add_many(self, texts: Sequence[str], *, supersede: bool = False, **meta: Any) -> list[Note]:
        """Store several notes in one transaction (much faster than repeated `add`), in order.

        Each meta value is either one value for all notes or a list with one per text.
        All or nothing: a bad text rejects the whole batch. Returns one Note per text.

        An exact duplicate is not stored again; the stored note is returned with its `seen_at`
        refreshed. With `supersede`, that is a current note of the session with the same text;
        without (notes read from a document), only the latest note with the same key, when it
        has the same text: a reader's notes are a record in reading order, and a repeated note
        after another value is news.
        """
        texts = list(texts)
        for t in texts:
            _check_text(t)
        if not texts:
            return []
        rows = self._normalise_meta(meta, len(texts))
        vecs = self.embedder.embed(texts)  # outside the lock: embedding is pure
        with self._lock:
            self._check_open()
            with self._tx() as db:
                notes, fresh, succ = self._file_rows(db, texts, rows, vecs, "supersede" if supersede else "read")
            self._index_follow(fresh, succ)
            self._after_change(removed=False)
        return notes

    @_named_errors
    def get(self, id: int) -> Note | None:
        """The note with this id, or None."""
        with self._lock:
            self._check_open()
            r = self._db.execute(f"SELECT {_COLS} FROM notes WHERE id = ?", (int(id),)).fetchone()
        return self._row(r) if r else None

    @_named_errors
    def list(self, session: str | None = None, limit: int = 100, offset: int = 0, *,
             include_superseded: bool = True) -> list[Note]:
        """Notes in chronological order (created_at, then id), optionally of one session;
        superseded notes too unless `include_superseded` is False."""
        where = [] if include_superseded else [_LIVE]
        args: list[Any] = []
        if session is not None:
            where.append("session = ?")
            args.append(session)
        q = f"SELECT {_COLS} FROM notes" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._lock:
            self._check_open()
            rows = self._db.execute(q + " ORDER BY created_at, id LIMIT ? OFFSET ?",
                                    (*args, int(limit), int(offset))).fetchall()
        return [self._row(r) for r in rows]

    @_named_errors
    def history(self, key: str, session: str | None = "default") -> list[Note]:
        """Every note with this key (see `note_key`) in `session` (None: all sessions),
        chronologically: the superseded ones (`superseded_by` set) and the current one."""
        with self._lock:
            self._check_open()
            if session is None:
                rows = self._db.execute(f"SELECT {_COLS} FROM notes WHERE key = ? ORDER BY created_at, id",
                                        (key.strip(),)).fetchall()
            else:
                rows = self._db.execute(f"SELECT {_COLS} FROM notes WHERE session = ? AND key = ? "
                                        "ORDER BY created_at, id", (session, key.strip())).fetchall()
        return [self._row(r) for r in rows]

    def _allowed(self, session: str) -> np.ndarray:
        ids = self._session_ids.get(session)
        if ids is None:
            ids = np.fromiter(
                (r[0] for r in self._db.execute(f"SELECT id FROM notes WHERE session = ? AND {_LIVE}", (session,))),
                dtype=np.int64
            )
            if len(self._session_ids) > 256:  # bound the cache (many demo users)
                self._session_ids.clear()
            self._session_ids[session] = ids
        return ids

    @_named_errors
    def search(self, query: str, k: int = 5, session: str | None = None,
               min_score: float | None = None) -> list[tuple[Note, float]]:
        """The k current notes most similar to `query`, best first, with cosine scores.

        With `session`, only that session's notes are considered (and up to k of them are
        returned however many other sessions' notes score higher). Superseded notes are never
        found. `min_score` drops hits scoring below it: pass `self.relevance_floor` for results
        a person reads (None, the default, keeps every hit: the engine ranks them itself, and a
        note it needs may share no word with the question). An empty query returns [].
        """
        if not isinstance(query, str):
            raise ValueError(f"query must be a str, got {type(query).__name__}")
        if k <= 0 or not query.strip():
            return []
        q = self.embedder.embed([query])[0]
        with self._lock:
            self._check_open()
            self._sync()
            allowed = None
            if session is not None:
                allowed = self._allowed(session)
                if not len(allowed):
                    return []
                if len(allowed) == self._index.ntotal - getattr(self._index, "tombstones", 0):
                    allowed = None  # the session is the whole store: no filter needed
            hits = self._index.search(q, k, allowed)
            if min_score is not None:
                hits = [(i, s) for i, s in hits if s >= min_score]
            if not hits:
                return []
            ids = [i for i, _ in hits]
            marks = ",".join("?" * len(ids))
            rows = {r[0]: r for r in self._db.execute(f"SELECT {_COLS} FROM notes WHERE id IN ({marks})", ids)}
        return [(self._row(rows[i]), s) for i, s in hits if i in rows]

    @_named_errors
    def update(self, id: int, text: str) -> Note:
        """Replace a note's text (re-embedding it), as a person's edit: source becomes "user"
        and edited_at now; other fields are kept. The edit neither supersedes other notes nor
        changes whether this one is superseded. KeyError if absent."""
        _check_text(text)
        v = self.embedder.embed([text])
        with self._lock:
            self._check_open()
            with self._tx() as db:
                cur = db.execute("UPDATE notes SET text = ?, emb = ?, key = ?, source = 'user', edited_at = ? "
                                 "WHERE id = ?", (_enc(text), v[0].tobytes(), note_key(text), time.time(), int(id)))
                if cur.rowcount == 0:
                    raise KeyError(f"no note with id {id}")
                r = db.execute(f"SELECT {_COLS} FROM notes WHERE id = ?", (int(id),)).fetchone()
            note = self._row(r)
            if not note.superseded:  # a superseded note is not in the index
                self._index.remove([int(id)])
                self._index.add(np.asarray([int(id)], dtype=np.int64), v)
            self._after_change(removed=True)
        return note

    @_named_errors
    def delete(self, id: int) -> bool:
        """Delete one note, from sqlite (overwritten on disk) and the index. False if absent.

        The notes it superseded now point to its successor; if it was current, the note it
        superseded becomes current again (deleting a correction restores the value before it)."""
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT superseded_by FROM notes WHERE id = ?", (int(id),)).fetchone()
            if row is None:
                return False  # nothing changes, so the index file stays in step
            with self._tx() as db:
                preds = [r[0] for r in db.execute("SELECT id FROM notes WHERE superseded_by = ?", (int(id),))]
                db.execute("UPDATE notes SET superseded_by = ? WHERE superseded_by = ?", (row[0], int(id)))
                n = db.execute("DELETE FROM notes WHERE id = ?", (int(id),)).rowcount
                revived = [] if row[0] is not None or not preds else db.execute(
                    f"SELECT id, emb FROM notes WHERE id IN ({','.join('?' * len(preds))})", preds).fetchall()
            if n:
                if row[0] is None:
                    self._index.remove([int(id)])
                if revived:
                    self._index.add(np.asarray([r[0] for r in revived], dtype=np.int64),
                                    np.stack([np.frombuffer(r[1], dtype=np.float32) for r in revived]))
                self._after_change(removed=True)
        return bool(n)

    @_named_errors
    def delete_all(self, session: str | None = None) -> int:
        """Delete every note (or every note of `session`); returns how many were deleted."""
        with self._lock:
            self._check_open()
            with self._tx() as db:
                if session is None:
                    ids = None
                    n = db.execute("DELETE FROM notes").rowcount
                else:
                    ids = [r[0] for r in db.execute(f"SELECT id FROM notes WHERE session = ? AND {_LIVE}", (session,))]
                    n = db.execute("DELETE FROM notes WHERE session = ?", (session,)).rowcount
            if ids is None:
                self._index = make_index(self.index_kind, self.dim, **self._index_kw)
            else:
                self._index.remove(ids)
            self._after_change(removed=True)
        return n

    @_named_errors
    def count(self, session: str | None = None) -> int:
        """Number of notes, superseded ones included (in `session`, or in all sessions)."""
        with self._lock:
            self._check_open()
            if session is None:
                return self._db.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM notes WHERE session = ?", (session,)).fetchone()[0]

    @_named_errors
    def sessions(self) -> list[str]:
        """Names of the sessions that hold at least one note."""
        with self._lock:
            self._check_open()
            return [r[0] for r in self._db.execute("SELECT DISTINCT session FROM notes ORDER BY session")]

    @_named_errors
    def export(self, path: str | os.PathLike, session: str | None = None) -> int:
        """Write notes (all, or one session's) as JSONL, one `Note.to_dict()` per line,
        chronologically, superseded notes included. Written atomically; returns the number of notes."""
        path = os.fspath(path)
        tmp = f"{path}.tmp.{os.getpid()}"
        with self._lock:
            self._check_open()
            q = f"SELECT {_COLS} FROM notes" + (" WHERE session = ?" if session is not None else "")
            cur = self._db.execute(q + " ORDER BY created_at, id", () if session is None else (session,))
            n = 0
            # owner-only, as the store's own files: notes are a person's private data
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with open(fd, "w", encoding="ascii", newline="\n") as f:
                    for r in cur:
                        # ensure_ascii: NULs, newlines and lone surrogates survive as escapes.
                        f.write(json.dumps(self._row(r).to_dict(), ensure_ascii=True) + "\n")
                        n += 1
                os.replace(tmp, path)
            except BaseException:
                _unlink_quiet(tmp)
                raise
        return n

    @_named_errors
    def import_(self, path: str | os.PathLike, session: str | None = None) -> int:
        """Add the notes of a JSONL file (as written by `export`) with new ids and source
        "import", keeping text, created_at, edited_at, seen_at, position and session (or putting
        all into `session`), and which note superseded which within the file. Imports never
        supersede notes already stored, and a note already here with the same text and
        created_at (an import repeated) is not added again. All or nothing; returns the number
        of notes added."""
        recs = []
        with open(os.fspath(path), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    if not isinstance(d, dict) or "text" not in d:
                        raise ValueError("expected an object with a 'text' field")
                    _check_text(d["text"])
                except ValueError as e:
                    raise ValueError(f"{path}:{lineno}: not a note record: {e}") from None
                recs.append(d)
        if not recs:
            return 0
        texts = [d["text"] for d in recs]
        rows = self._normalise_meta(dict(
            created_at=[d.get("created_at", time.time()) for d in recs], source="import",
            position=[d.get("position", 0) for d in recs],
            session=[session if session is not None else d.get("session", "default") for d in recs]), len(recs))
        opt = lambda d, k: None if d.get(k) is None else float(d[k])  # noqa: E731
        vecs = self.embedder.embed(texts)
        with self._lock:
            self._check_open()
            with self._tx() as db:
                notes, fresh, _ = self._file_rows(db, texts, rows, vecs, "import",
                                                  seen=[opt(d, "seen_at") for d in recs],
                                                  edited=[opt(d, "edited_at") for d in recs])
                new_id = {d["id"]: n for d, n in zip(recs, notes) if "id" in d}
                succ: dict[int, int] = {}
                for d, n in zip(recs, notes):
                    later = new_id.get(d.get("superseded_by"))
                    if n.id in fresh and later is not None and later.session == n.session and later.id != n.id:
                        succ[n.id] = later.id
                db.executemany("UPDATE notes SET superseded_by = ? WHERE id = ?", [(s, i) for i, s in succ.items()])
            self._index_follow(fresh, succ)
            self._after_change(removed=False)
        return len(fresh)

    @_named_errors
    def flush(self) -> None:
        """Write the index file now if it is behind (no-op for in-memory stores). Raises if the
        write fails (the notes stay committed)."""
        with self._lock:
            self._check_open()
            if self._scrub_pending:
                self._scrub(0.0, warn=False)
            if self._pending or (self._index_path and not os.path.exists(self._index_path)):
                self._flush_locked()

    @_named_errors
    def scrub(self, timeout: float | None = None) -> bool:
        """Make sure the text of deleted or replaced notes is gone from the files.

        Checkpoints the WAL into notes.sqlite (where secure_delete has zeroed it) and truncates
        the WAL, waiting up to `timeout` seconds (default: `scrub_timeout`) for other
        connections' reads to end. True when done (always for in-memory stores); False, with a
        warning naming the files, when another connection still holds an older snapshot.
        """
        with self._lock:
            self._check_open()
            return self._scrub(self.scrub_timeout if timeout is None else float(timeout))

    @_named_errors
    def close(self) -> None:
        """Flush the index, checkpoint the WAL and close the database. Idempotent.

        A failed index write is logged, not raised (the notes are committed; the next open
        rebuilds the index); so is removed text that a reader kept in the files (see `scrub`).
        """
        with self._lock:
            if self._closed:
                return
            try:
                if self._index_path and (self._pending or not os.path.exists(self._index_path)):
                    self._auto_flush(attempts=3)
                if self.path:
                    if self._scrub_pending:
                        self._scrub(self.scrub_timeout)
                    else:
                        self._checkpoint(0.0)  # routine: a WAL left behind holds no removed text
            finally:
                self._db.close()
                self._closed = True
                _open_stores.discard(self)

    def __len__(self) -> int:
        return self.count()

    def __enter__(self) -> "NoteStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.path or ":memory:"
        state = "closed" if self._closed else f"{len(self)} notes"
        return f"NoteStore({where!r}, index={self.index_kind!r}, {state})"
