"""End-to-end in one command: the bundled model reads a long document with facts buried in it,
writes its own notes, and answers questions about facts that left its window long ago.

    python -m memgpt.demos.quickstart [--tokens 20000] [--seed N] [--model NAME|PATH]
"""
from __future__ import annotations

import argparse
import random
import time

import memgpt
from memgpt.synth import facts, filler


def build_document(rng: random.Random, n_tokens: int, tok) -> tuple[str, list[tuple[str, str]]]:
    """Held-out filler (never trained on) with three facts at random depths; returns questions."""
    placed = [facts.passkey_fact(rng, "test"), facts.niah_fact(rng, "test"), facts.chat_fact(rng, "test", "name")]
    sents, total = [], 0
    while total < n_tokens:
        s = " ".join(filler.passage("legal", rng, 10))
        total += len(tok.encode_text(s)) + 1
        sents.append(s)
    for f in placed:
        sents.insert(rng.randint(0, len(sents) - 1), f.sentence)
    qa = [f.qa[0] for f in placed]
    return " ".join(sents), qa


def build_parser() -> argparse.ArgumentParser:
    from memgpt.cli import add_model_argument

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20_000, help="document length in tokens")
    ap.add_argument("--seed", type=int, default=None)
    add_model_argument(ap)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    bot = memgpt.load(args.model)
    doc, qa = build_document(random.Random(seed), args.tokens, bot.tokenizer)
    n = len(bot.tokenizer.encode_text(doc))
    block = bot.model.config.block_size
    print(f"memgpt quickstart (seed {seed}): reading a {n:,}-token document ({n / block:.0f} windows of {block} tokens)")
    t = time.time()
    notes = bot.ingest(doc, progress=True)
    dt = time.time() - t
    print(f"\nread {n:,} tokens in {dt:.1f}s ({n / dt:,.0f} tokens/s); the model wrote {len(notes)} notes:")
    for note in notes:
        print(f"  [note #{note.id} @ token {note.position}] {note.text}")
    print()
    right = 0
    for q, expected in qa:
        answer = bot.ask(q)
        ok = expected.lower() in answer.lower()
        right += ok
        print(f"Q: {q}\nA: {answer}    ({'correct' if ok else 'expected ' + expected})\n")
    print(f"{right}/{len(qa)} answered from the model's own notes.")


if __name__ == "__main__":
    main()
