"""Byte-level BPE training, written for this project.

The text is split with the tokenizer's pattern (GPT-2 style, but every digit alone), the chunks
are counted once, and merges are learned over the distinct chunks with incremental pair counts
and a lazy max-heap, so each merge touches only the chunks that contain the merged pair.
The result is tiktoken's `mergeable_ranks` (bytes -> rank): rank order is merge order, which is
exactly how tiktoken applies merges, so training and encoding agree token for token.
"""
from __future__ import annotations

import argparse
import heapq
from collections import Counter, defaultdict
from typing import Iterable

import regex

from memgpt.tokenizer import SPLIT_PATTERN


def train_bpe(texts: Iterable[str], vocab_size: int, progress: bool = False) -> dict[bytes, int]:
    """Learn `vocab_size - 256` merges over `texts`; returns tiktoken mergeable ranks."""
    if vocab_size < 256:
        raise ValueError("vocab_size must be at least 256 (the byte alphabet)")
    pat = regex.compile(SPLIT_PATTERN)
    chunk_counts: Counter[bytes] = Counter()
    for t in texts:
        chunk_counts.update(m.encode("utf-8") for m in pat.findall(t))

    vocab: list[bytes] = [bytes([i]) for i in range(256)]
    ranks: dict[bytes, int] = {b: i for i, b in enumerate(vocab)}
    words = [list(c) for c in chunk_counts]  # token ids per distinct chunk
    freqs = list(chunk_counts.values())

    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_counts[p] += freqs[wi]
            where[p].add(wi)
    # ties broken by the pair's bytes so training is deterministic
    heap = [(-c, vocab[a] + vocab[b], (a, b)) for (a, b), c in pair_counts.items()]
    heapq.heapify(heap)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=vocab_size - 256, desc="bpe merges")
    while len(ranks) < vocab_size and heap:
        negc, _, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negc or -negc <= 0:
            continue  # stale heap entry
        a, b = pair
        merged = vocab[a] + vocab[b]
        if merged in ranks:  # same bytes reachable by another merge order: reuse its id
            new_id = ranks[merged]
        else:
            new_id = len(vocab)
            vocab.append(merged)
            ranks[merged] = new_id
        changed: set[tuple[int, int]] = set()
        for wi in list(where[pair]):
            w, f = words[wi], freqs[wi]
            for p in zip(w, w[1:]):  # remove this word's old pairs
                pair_counts[p] -= f
                where[p].discard(wi)
                changed.add(p)
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                pair_counts[p] += f
                where[p].add(wi)
                changed.add(p)
        pair_counts.pop(pair, None)
        for p in changed:
            c = pair_counts.get(p, 0)
            if c > 0 and p != pair:
                heapq.heappush(heap, (-c, vocab[p[0]] + vocab[p[1]], p))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return ranks


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`memgpt bpe`'s arguments (the subcommand is wired in memgpt.cli)."""
    ap.description = "Train the project's byte-level BPE on its own corpus."
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--chars", type=int, default=4_000_000, help="characters of corpus text to train on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="directory to write tokenizer files into")


def command(args: argparse.Namespace) -> int:
    """`memgpt bpe`: train the ranks and write the tokenizer."""
    from memgpt.tokenizer import Tokenizer
    from memgpt.training.data import tokenizer_training_text

    ranks = train_bpe(tokenizer_training_text(args.chars, args.seed), args.vocab_size, progress=True)
    tok = Tokenizer.from_ranks(ranks, name=f"memgpt-bpe-{args.vocab_size}")
    tok.save(args.out)
    print(f"wrote {args.out}: {tok.n_vocab} tokens ({len(ranks)} ranks + {len(tok.specials)} specials)")
    return 0


if __name__ == "__main__":
    import sys

    from memgpt.cli import run_command

    sys.exit(run_command("bpe"))
