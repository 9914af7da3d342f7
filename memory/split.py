"""Exact inner-product search for vectors whose leading columns are mostly zeros.

The default embedder's vector is a lexical part (2,048 hashed features, ~50 non-zero per note)
beside a dense part (the static table's 256 dimensions). A flat FAISS search reads every
dimension of every vector: 120 ms per question at 100k notes here. This scorer keeps the
lexical columns as an inverted list (for each column, the rows that use it) and the dense
columns as a plain matrix, so a question costs one pass over its own few lexical columns plus
one matrix-vector product over the dense part: the same scores (up to float rounding), about
20x less memory traffic.

Rows get positions in one growing dense matrix. Their lexical columns stay dense in a short
tail until `MERGE_ROWS` gather, then become an inverted-list segment; neighbouring segments
merge as they grow (sizes halve from the oldest), so a search touches few. Removed rows are
masked until a quarter of the rows are dead, then everything is rebuilt without them.

From `INT8_FROM` rows on, on a CPU with native bf16, the dense part is first scanned in int8
(a copy with one scale per row, torch's weight-only int8 kernel: a quarter of the memory
traffic), each row's score known to within a bound of its rounding; only the rows that could
still be among the best k are then scored in float32. The result is the float32 scan's.
"""

from __future__ import annotations

import numpy as np

MERGE_ROWS = 1024  # rows whose lexical columns stay dense before they become a segment
COMPACT_FRACTION = 0.25  # dead rows that trigger a rebuild
INT8_FROM = 8192  # rows from which the dense part is scanned in int8 first (where the CPU allows)


def _int8_rows(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows rounded to int8 with one scale each (max |value| / 127)."""
    if not dense.size:  # no rows, or no dense columns (a lexical-only embedder)
        return dense.astype(np.int8), np.ones(len(dense), np.float32)
    scale = np.abs(dense).max(axis=1) / np.float32(127)
    scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    return np.clip(np.rint(dense / scale[:, None]), -127, 127).astype(np.int8), scale


def _int8_scan() -> bool:
    """torch's int8 weight-only kernel is there and the CPU multiplies bf16 natively (elsewhere
    it is emulated and slower than the float32 scan)."""
    import torch

    from memgpt.cpu import has_bf16

    return hasattr(torch, "_weight_int8pack_mm") and has_bf16()


class _Lists:
    """Inverted lists of the lexical columns of rows [lo, hi): column c holds rows[indptr[c]:indptr[c+1]]
    (global positions) with their values."""

    def __init__(self, lo: int, hi: int, cols: np.ndarray, rows: np.ndarray, vals: np.ndarray, sparse_dims: int):
        order = np.lexsort((rows, cols))
        cols = cols[order]
        self.lo, self.hi = lo, hi
        self.indptr = np.searchsorted(cols, np.arange(sparse_dims + 1)).astype(np.int64)
        self.rows, self.vals = rows[order].astype(np.int64), vals[order].astype(np.float32)
        self._torch = None  # the same arrays as torch tensors (shared memory), made at the first search

    @classmethod
    def of(cls, lex: np.ndarray, lo: int, sparse_dims: int) -> "_Lists":
        rows, cols = np.nonzero(lex)
        return cls(lo, lo + len(lex), cols, rows + lo, lex[rows, cols], sparse_dims)

    def columns(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))

    @classmethod
    def merge(cls, a: "_Lists", b: "_Lists", sparse_dims: int) -> "_Lists":
        return cls(a.lo, b.hi, np.concatenate([a.columns(), b.columns()]), np.concatenate([a.rows, b.rows]),
                   np.concatenate([a.vals, b.vals]), sparse_dims)

    def add_into(self, out, q_cols: np.ndarray, q_vals: np.ndarray) -> None:
        """Add the question's columns (times its weights) into `out`, a float32 torch tensor over
        positions: torch's index_add_ per column, one pass over each list (a column holds a row
        once), no concatenated copies."""
        if self._torch is None:
            import torch

            self._torch = (torch.from_numpy(self.rows), torch.from_numpy(self.vals))
        rows, vals = self._torch
        ptr = self.indptr
        for c, w in zip(q_cols.tolist(), q_vals.tolist()):
            a, b = int(ptr[c]), int(ptr[c + 1])
            if b > a:
                out.index_add_(0, rows[a:b], vals[a:b], alpha=w)


class SplitScorer:
    """Exact top-k inner products over labelled vectors of `dim` whose first `sparse_dims`
    columns are mostly zeros (see the module docstring). Not thread-safe: the store locks."""

    def __init__(self, dim: int, sparse_dims: int):
        if not 0 < sparse_dims <= dim:
            raise ValueError(f"sparse_dims must be in 1..{dim}, got {sparse_dims}")
        self.dim, self.sparse_dims = int(dim), int(sparse_dims)
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._dense = np.zeros((0, self.dim - self.sparse_dims), dtype=np.float32)
        self._dense8 = np.zeros((0, self.dim - self.sparse_dims), dtype=np.int8)  # with INT8_FROM rows
        self._scale8 = np.zeros(0, dtype=np.float32)
        self._scale_bf16 = None  # the scales as the int8 kernel takes them, for the last row count
        self._lists: list[_Lists] = []
        self._tail = np.zeros((MERGE_ROWS, self.sparse_dims), dtype=np.float32)  # lexical columns of rows [sealed, n)
        self._sealed = 0
        self._where: dict[int, int] = {}  # id -> position
        self._dead = 0

    @property
    def ntotal(self) -> int:
        return len(self._where)

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * len(self._ids), 1024)
        for name in ("_ids", "_alive", "_dense", "_dense8", "_scale8"):
            old = getattr(self, name)
            new = np.zeros((cap,) + old.shape[1:], dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Add rows under new, distinct ids (ValueError, and nothing added, otherwise)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vecs, dtype=np.float32).reshape(len(ids), self.dim)
        if len(set(ids.tolist())) < len(ids) or any(i in self._where for i in ids.tolist()):
            raise ValueError("ids must be new and distinct: an id is already in the scorer")
        if self._n + len(ids) > len(self._ids):
            self._grow(self._n + len(ids))
        done = 0
        while done < len(ids):  # the tail never holds more than MERGE_ROWS rows
            take = min(MERGE_ROWS - (self._n - self._sealed), len(ids) - done)
            self._append(ids[done:done + take], vecs[done:done + take])
            done += take

    def _append(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if not len(ids):
            return
        lo, hi = self._n, self._n + len(ids)
        self._ids[lo:hi], self._alive[lo:hi] = ids, True
        self._dense[lo:hi] = vecs[:, self.sparse_dims:]
        self._dense8[lo:hi], self._scale8[lo:hi] = _int8_rows(self._dense[lo:hi])
        self._scale_bf16 = None
        self._tail[lo - self._sealed:hi - self._sealed] = vecs[:, : self.sparse_dims]
        self._where.update(zip(ids.tolist(), range(lo, hi)))
        self._n = hi
        if self._n - self._sealed >= MERGE_ROWS:
            self._seal()

    def _seal(self) -> None:
        """The tail becomes inverted lists; a segment at least half its older neighbour's size
        merges into it (so sizes halve from the oldest and a search touches O(log n) of them)."""
        self._lists.append(_Lists.of(self._tail[: self._n - self._sealed], self._sealed, self.sparse_dims))
        self._tail[:] = 0
        self._sealed = self._n
        while len(self._lists) > 1 and 2 * (self._lists[-1].hi - self._lists[-1].lo) >= \
                self._lists[-2].hi - self._lists[-2].lo:
            b, a = self._lists.pop(), self._lists.pop()
            self._lists.append(_Lists.merge(a, b, self.sparse_dims))

    def remove(self, ids) -> None:
        for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
            pos = self._where.pop(int(i), None)
            if pos is not None:
                self._alive[pos] = False
                self._dead += 1
        if self._dead > COMPACT_FRACTION * max(self._n, MERGE_ROWS):
            self._compact()

    def _compact(self) -> None:
        """Drop dead rows: live rows keep their order, so every list's entries stay sorted and
        are renumbered in place (nothing is densified); built aside, then swapped in."""
        n, sealed = self._n, self._sealed
        live = np.nonzero(self._alive[:n])[0]
        pos_of = np.full(n, -1, dtype=np.int64)
        pos_of[live] = np.arange(len(live))
        fresh = SplitScorer(self.dim, self.sparse_dims)
        fresh._n = len(live)
        fresh._ids, fresh._dense = self._ids[live], self._dense[live]
        fresh._dense8, fresh._scale8 = self._dense8[live], self._scale8[live]
        fresh._alive = np.ones(len(live), dtype=bool)
        fresh._sealed = int((live < sealed).sum())
        if self._lists:
            cols = np.concatenate([li.columns() for li in self._lists])
            rows = pos_of[np.concatenate([li.rows for li in self._lists])]
            vals = np.concatenate([li.vals for li in self._lists])
            ok = rows >= 0
            fresh._lists = [_Lists(0, fresh._sealed, cols[ok], rows[ok], vals[ok], self.sparse_dims)]
        keep = self._alive[sealed:n]
        fresh._tail[: int(keep.sum())] = self._tail[: n - sealed][keep]
        fresh._where = dict(zip(fresh._ids.tolist(), range(len(live))))
        self.__dict__.update(fresh.__dict__)

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (id, score), best first; `allowed` restricts to those ids. Exact."""
        if k <= 0 or not self._where:
            return []
        n = self._n
        q = np.asarray(q, dtype=np.float32).reshape(-1)
        lex = q[: self.sparse_dims]
        q_cols = np.nonzero(lex)[0]
        q_vals = lex[q_cols]
        qd = q[self.sparse_dims:]
        if self.dim > self.sparse_dims and n >= INT8_FROM and self._use_int8():
            scores, err = self._int8_scores(qd, n)
        elif self.dim > self.sparse_dims:
            scores, err = self._dense[:n] @ qd, None
        else:
            scores, err = np.zeros(n, np.float32), None
        lexical = np.zeros(n, np.float32) if err is not None else scores
        if self._lists and len(q_cols):
            import torch

            out = torch.from_numpy(lexical)  # the same memory: index_add_ writes into `lexical`
            for li in self._lists:
                li.add_into(out, q_cols, q_vals)
        if n > self._sealed and len(q_cols):
            lexical[self._sealed: n] += self._tail[: n - self._sealed, q_cols] @ q_vals
        if allowed is None and not self._dead:
            ok = None  # every row counts: no mask to apply
            k = min(k, n)
        else:
            ok = self._alive[:n] if allowed is None else self._alive[:n] & np.isin(self._ids[:n], allowed)
            k = min(k, int(ok.sum()))
        if k <= 0:
            return []
        if err is None:
            return self._best(np.arange(n), scores if ok is None else np.where(ok, scores, -np.inf), k)
        # Coarse scores are within err of the float32 ones: the k-th best lower bound is a floor
        # no top-k row falls below, so the rows whose upper bound reaches it are scored exactly.
        approx = scores + lexical if ok is None else np.where(ok, scores + lexical, -np.inf)
        low = approx - err
        floor = np.partition(low, n - k)[n - k]
        cand = np.nonzero(approx + err >= floor)[0]
        exact = lexical[cand] + self._dense[cand] @ qd
        return self._best(cand, exact, k)

    def _best(self, pos: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k of rows `pos` scoring `scores`: every row scoring at least the k-th, best first
        and, among equal scores, oldest first (as FAISS's flat scan breaks ties)."""
        m = len(pos)
        kth = np.partition(scores, m - k)[m - k] if k < m else -np.inf
        sel = np.nonzero(scores >= kth)[0]
        top = sel[np.lexsort((pos[sel], -scores[sel]))][:k]
        return [(int(self._ids[pos[t]]), float(scores[t])) for t in top]

    def _use_int8(self) -> bool:
        if _INT8[0] is None:
            _INT8[0] = _int8_scan()
        return _INT8[0]

    def _int8_scores(self, qd: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense scores from the int8 copy (bf16 question and scales, float32 sums, bf16 out),
        and a bound on each one's distance from the float32 score: the rows' rounding (half a
        step), the question's (2^-8 of each value), the output's and the scales' (2^-8 each)."""
        import torch

        qb = torch.from_numpy(np.ascontiguousarray(qd, dtype=np.float32)).to(torch.bfloat16)[None]
        if self._scale_bf16 is None or len(self._scale_bf16) != n:  # rows changed since the last search
            self._scale_bf16 = torch.from_numpy(self._scale8[:n]).to(torch.bfloat16)
        out = torch._weight_int8pack_mm(qb, torch.from_numpy(self._dense8[:n]), self._scale_bf16)[0]
        # bfloat16 is float32's upper half: widen in numpy (no torch op over 100k values)
        approx = (out.view(torch.int16).numpy().astype(np.uint16).astype(np.uint32) << 16).view(np.float32)
        q1 = float(np.abs(qd).sum())
        err = self._scale8[:n] * np.float32(q1 * (0.5 + 127 / 256) * 1.01) + np.abs(approx) * np.float32(3 / 256) + np.float32(1e-5)
        return approx, err


_INT8: list = [None]  # whether the int8 scan runs here: decided once per process (None: not yet)
