"""FAISS index wrappers used by `NoteStore`: exact flat search and approximate HNSW.

Both keep note ids as FAISS labels (`IndexIDMap2`) over inner-product search on unit vectors
(so scores are cosine similarities), and both are plain FAISS files on disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from typing import BinaryIO, Iterable

import faiss
import numpy as np

from .split import SplitScorer

log = logging.getLogger(__name__)
SPLIT_FROM = 2048  # notes from which a store with sparse leading columns searches with SplitScorer
TOMBSTONE = -1  # label of an HNSW entry whose note was deleted or replaced


def _ids(a: Iterable[int] | np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64).reshape(-1))


def _vecs(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float32)


class FlatIndex:
    """Exact search: `IndexIDMap2(IndexFlatIP(dim))`; deletes remove vectors for real.

    With `sparse_dims` (the embedder's leading columns are mostly zeros: hashed lexical
    features), a store of `SPLIT_FROM` notes or more is searched by a `SplitScorer` built in
    memory from the FAISS vectors (same scores and ties, ~8x faster at 100k notes); FAISS stays
    the file on disk. Not thread-safe (a search may build the scorer): the store locks."""

    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None, sparse_dims: int = 0):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.sparse_dims = int(sparse_dims)
        self._split: SplitScorer | None = None

    def _scorer(self) -> SplitScorer | None:
        if not self.sparse_dims or self.ntotal < SPLIT_FROM:
            return None
        if self._split is None:
            split = SplitScorer(self.dim, self.sparse_dims)
            flat, labels = faiss.downcast_index(self.index.index), self.labels()
            try:
                for start in range(0, self.ntotal, 8192):
                    n = min(8192, self.ntotal - start)
                    split.add(labels[start:start + n], flat.reconstruct_n(start, n))
            except (ValueError, MemoryError) as e:  # e.g. an id twice in the file: FAISS's scan copes
                log.warning("memgpt: searching by FAISS's flat scan (%s)", e)
                self.sparse_dims = 0
                return None
            self._split = split
        return self._split

    def _keep_split(self, change: str, *args) -> None:
        """Apply a change ("add", "remove") to the scorer too, if there is one; if that fails,
        drop it (rebuilt from FAISS when next needed)."""
        if self._split is not None:
            try:
                getattr(self._split, change)(*args)
            except BaseException:
                self._split = None
                raise

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def labels(self) -> np.ndarray:
        """Live note ids held by the index (unsorted)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids):
            self._keep_split("add", _ids(ids), _vecs(vecs))  # before FAISS: the scorer refuses a duplicate id
            self.index.add_with_ids(_vecs(vecs), _ids(ids))

    def remove(self, ids: Iterable[int]) -> None:
        ids = _ids(ids)
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(ids))
            self._keep_split("remove", ids)

    def needs_compaction(self) -> bool:
        return False

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (id, score), best first; `allowed` restricts to those ids (exact either way)."""
        k = min(k, self.ntotal)
        if k <= 0:
            return []
        split = self._scorer()
        if split is not None:
            return split.search(q, k, None if allowed is None else _ids(allowed))
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            sel = faiss.IDSelectorBatch(_ids(allowed))
            params.sel = sel
        D, I = self.index.search(_vecs(q).reshape(1, -1), k, params=params)
        return [(int(i), float(d)) for i, d in zip(I[0], D[0]) if i != TOMBSTONE]


class HNSWIndex:
    """Approximate search for large stores: `IndexIDMap2(IndexHNSWFlat(dim, M, IP))`.

    HNSW graphs cannot drop nodes, so a delete relabels the node `TOMBSTONE` (-1) and searches
    skip it through an ID selector; the store rebuilds the index when tombstones exceed
    `compact_fraction` of the nodes. Filtered searches over few ids (a small session) are done
    exactly on the stored vectors, where a graph walk would miss most of them.
    """

    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        index: faiss.Index | None = None,
        M: int = 16,
        ef_construction: int = 40,
        ef_search: int = 128,
        compact_fraction: float = 0.25,
        exact_below: int = 4096,
    ):
        self.dim = dim
        if index is None:
            inner = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = ef_construction
            index = faiss.IndexIDMap2(inner)
        self.index = index
        self.inner = faiss.downcast_index(index.index)  # keep a Python ref to the owned inner
        self.ef_search = ef_search
        self.compact_fraction = compact_fraction
        self.exact_below = exact_below
        self.tombstones = int((self._label_view() == TOMBSTONE).sum()) if self.ntotal else 0

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def _label_view(self) -> np.ndarray:
        # A writable view of IndexIDMap2.id_map (position -> note id). Re-fetch after every
        # add: the underlying std::vector may reallocate.
        n = self.index.id_map.size()
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self.index.id_map.data(), n)

    def labels(self) -> np.ndarray:
        lab = self._label_view()
        return lab[lab != TOMBSTONE].copy()

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(_vecs(vecs), _ids(ids))

    def remove(self, ids: Iterable[int]) -> None:
        ids = _ids(ids)
        if not len(ids):
            return
        lab = self._label_view()
        hit = np.isin(lab, ids)
        lab[hit] = TOMBSTONE
        self.tombstones += int(hit.sum())

    def needs_compaction(self) -> bool:
        return self.tombstones > self.compact_fraction * max(1, self.ntotal)

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (id, score), best first; `allowed` restricts to those ids."""
        live = self.ntotal - self.tombstones
        if k <= 0 or live <= 0:
            return []
        q = _vecs(q).reshape(1, -1)
        if allowed is not None and len(allowed) <= self.exact_below:
            return self._exact(q, k, _ids(allowed))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        if allowed is not None:
            sel = faiss.IDSelectorBatch(_ids(allowed))
        elif self.tombstones:
            sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(_ids([TOMBSTONE])))
        else:
            sel = None
        if sel is not None:
            params.sel = sel
        D, I = self.index.search(q, min(k, live), params=params)
        hits = [(int(i), float(d)) for i, d in zip(I[0], D[0]) if i != TOMBSTONE]
        if allowed is not None and len(hits) < min(k, len(allowed)):
            return self._exact(q, k, _ids(allowed))  # the filtered walk ran dry: be exact
        return hits

    def _exact(self, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        lab = self._label_view()
        pos = np.nonzero(np.isin(lab, allowed))[0]
        if not len(pos):
            return []
        vecs = self.inner.reconstruct_batch(pos.astype(np.int64))
        scores = vecs @ q[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(lab[pos[t]]), float(scores[t])) for t in top]


def make_index(kind: str, dim: int, sparse_dims: int = 0, **hnsw_kw) -> FlatIndex | HNSWIndex:
    """A new empty index of `kind` ("flat" or "hnsw"); `sparse_dims` is for "flat" (see FlatIndex)."""
    if kind == "flat":
        return FlatIndex(dim, sparse_dims=sparse_dims)
    if kind == "hnsw":
        return HNSWIndex(dim, **hnsw_kw)
    raise ValueError(f"unknown index kind {kind!r}; choose 'flat' or 'hnsw'")


def read_index(source: str | BinaryIO, kind: str, dim: int, sparse_dims: int = 0, **hnsw_kw) -> FlatIndex | HNSWIndex:
    """Load an index from a path or an open binary file, checking it is the expected kind,
    metric and dimension.

    Raises ValueError (or FAISS's RuntimeError) for a file that cannot be used.
    """
    if isinstance(source, (str, os.PathLike)):
        idx = faiss.read_index(os.fspath(source))
    else:
        idx = faiss.read_index(faiss.PyCallbackIOReader(source.read))
    if not isinstance(idx, faiss.IndexIDMap2):
        raise ValueError(f"not an IndexIDMap2 ({type(idx).__name__})")
    if idx.d != dim:
        raise ValueError(f"dimension {idx.d} != embedder dimension {dim}")
    if idx.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError("index metric is not inner product")
    inner = faiss.downcast_index(idx.index)
    if kind == "flat" and isinstance(inner, faiss.IndexFlat):
        return FlatIndex(dim, idx, sparse_dims=sparse_dims)
    if kind == "hnsw" and isinstance(inner, faiss.IndexHNSWFlat):
        keep = {k: v for k, v in hnsw_kw.items() if k not in ("M", "ef_construction")}
        return HNSWIndex(dim, idx, **keep)
    raise ValueError(f"index file holds {type(inner).__name__}, wanted {kind}")


def file_sha256(f: BinaryIO, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of an open binary file from its current position to the end."""
    h = hashlib.sha256()
    while block := f.read(chunk):
        h.update(block)
    return h.hexdigest()


def write_index_temp(index: FlatIndex | HNSWIndex, path: str, mode: int = 0o600) -> tuple[str, str]:
    """Write the index to a new temp file beside `path`, flushed to disk.

    Returns (temp path, SHA-256 hex of its bytes); the caller renames it into place or removes
    it. The name is `<path>.tmp.<pid>.<random>`: the pid tells other processes whose it is.
    The file is created with permission bits `mode` (less the umask).
    """
    tmp = f"{path}.tmp.{os.getpid()}.{secrets.token_hex(4)}"
    h = hashlib.sha256()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:

            def put(data: bytes) -> None:
                h.update(data)
                f.write(data)

            writer = faiss.PyCallbackIOWriter(put)
            faiss.write_index(index.index, writer)
            del writer
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return tmp, h.hexdigest()


def write_index(index: FlatIndex | HNSWIndex, path: str, mode: int = 0o600) -> str:
    """Write atomically: a reader sees the old file or the new one, never half of one.

    Returns the SHA-256 (hex) of the bytes written, so a reader can tell the file is exactly
    what was written. If the temp file vanishes before the rename (another process cleared it),
    it is written again.
    """
    for attempt in range(3):
        tmp, digest = write_index_temp(index, path, mode)
        try:
            os.replace(tmp, path)
            return digest
        except FileNotFoundError:
            if attempt == 2:
                raise
        finally:
            _unlink_quiet(tmp)
    raise AssertionError("unreachable")  # pragma: no cover


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
