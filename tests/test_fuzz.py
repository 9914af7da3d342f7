"""Random input through chat, ingest, generate and ask: no exception, windows within the block,
and every note in the store provably written by the model (DESIGN §1 honesty rule).

The fast version (~50 strings) runs in the default suite; the big one (1000 strings and a 1 MB
text) is marked slow."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn as nn

from memgpt.controller import Engine, EngineConfig
from memgpt.memory.store import NoteStore
from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import SPECIALS, Tokenizer, clean_note

TOK = Tokenizer.load("memgpt/assets/default")
T = 64
CONFIG = GPTConfig(vocab_size=4160, n_layer=1, n_head=2, n_embd=32, block_size=T)


def random_string(rng: random.Random, max_len: int = 200) -> str:
    """Unicode of every kind: ASCII, control characters, accents, CJK, emoji, lone surrogates,
    control-token text, whitespace, and the empty string."""
    pieces = [
        lambda: "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 20))),
        lambda: "".join(chr(rng.randint(0, 31)) for _ in range(rng.randint(1, 5))),
        lambda: rng.choice(SPECIALS) + rng.choice(["", "x", " ", "\n"]),
        lambda: "".join(chr(rng.randint(0xA0, 0x2FFF)) for _ in range(rng.randint(1, 10))),
        lambda: "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 10))),
        lambda: "".join(chr(rng.randint(0x1F300, 0x1FAFF)) for _ in range(rng.randint(1, 5))),
        lambda: chr(rng.randint(0xD800, 0xDFFF)),
        lambda: rng.choice([" ", "\n", "\t", "\r\n", "\u00a0", "\u200b"]) * rng.randint(1, 10),
        lambda: "The pass key is %d. Remember it." % rng.randint(0, 99999),
        lambda: "<|" + rng.choice(["scratch", "mem", "/scratch", "end", "user"]) + "|",
    ]
    s, n = "", rng.randint(0, max_len)
    while len(s) < n:
        s += rng.choice(pieces)()
    return s[:n] if rng.random() < 0.5 else s


class RandomPolicy(nn.Module):
    """A mock GPT whose logits favour control tokens and a few byte tokens at random, so decoding
    walks every path of the note state machine (open, close, runaway, interrupted, empty).
    Records every one-token input: those are the tokens the engine sampled (or forced)."""

    def __init__(self, seed: int):
        super().__init__()
        self.config = CONFIG
        self.gen = torch.Generator().manual_seed(seed)
        self.candidates = torch.tensor(sorted(TOK.control_ids) + [65, 66, 32, 0xC3, 0xA9, 0xF0, 10, 300, 301])
        self.fed: list[int] = []

    def forward(self, idx, targets=None, weights=None, cache=None):
        B, t = idx.shape
        p = cache.pos if cache is not None else 0
        assert p + t <= self.config.block_size
        if t == 1 and B == 1:
            self.fed.append(int(idx[0, 0]))
        logits = torch.full((B, t, self.config.vocab_size), -5.0)
        logits[..., self.candidates] = torch.randn(B, t, len(self.candidates), generator=self.gen) * 3
        if cache is not None:
            cache.pos = p + t
        return logits, None


def contains(seq: list[int], sub: list[int]) -> bool:
    n = len(sub)
    return any(seq[i:i + n] == sub for i in range(len(seq) - n + 1))


def check_honest(eng: Engine, store: NoteStore, fed: list[int] | None) -> None:
    """Every stored note equals the decoded text of tokens the engine sampled for it, and (when
    the model's one-token inputs are known) those tokens were decoded one by one after <|scratch|>."""
    audited = {note.id: ids for ids, note in eng.audit}
    for note in store.list(limit=10**9):
        assert note.id in audited, f"note #{note.id} {note.text!r} was not written by the model"
        ids = list(audited[note.id])
        assert ids[0] == TOK.scratch and ids[-1] == TOK.scratch_end
        assert not set(ids[1:-1]) & TOK.control_ids
        assert clean_note(TOK.decode(ids[1:-1])) == note.text
        if fed is not None:
            assert contains(fed, ids[:-1]), f"note #{note.id} tokens were never decoded"


def run_fuzz(model: nn.Module, strings: list[str], max_new: int = 12) -> Engine:
    store = NoteStore()
    eng = Engine(model, TOK, store, EngineConfig(audit=True, seed=1))
    ops = [
        lambda s: eng.chat(s, max_new_tokens=max_new, temperature=1.0),
        lambda s: eng.ingest(s),
        lambda s: eng.generate(s, max_new_tokens=max_new, temperature=1.0, top_k=20),
        lambda s: eng.ask(s, max_new_tokens=max_new),
        lambda s: "".join(eng.chat_stream(s, max_new_tokens=max_new, temperature=0.0)),
    ]
    for i, s in enumerate(strings):
        out = ops[i % len(ops)](s)
        assert isinstance(out, (str, list))
        assert not {TOK.mem, TOK.mem_end} & set(eng.history)  # controller-owned, never in the stream
        assert len(eng.history) <= T
        if i % 97 == 0:
            eng.reset()
    check_honest(eng, store, getattr(model, "fed", None))
    return eng


def test_fuzz_small_random_policy():
    rng = random.Random(0)
    eng = run_fuzz(RandomPolicy(0), [random_string(rng) for _ in range(50)])
    assert len(eng.store) > 0  # the policy does write notes: the check above had work to do


def test_fuzz_small_tiny_gpt():
    torch.manual_seed(0)
    rng = random.Random(1)
    run_fuzz(GPT(CONFIG).eval(), [random_string(rng) for _ in range(50)], max_new=8)


@pytest.mark.slow
def test_fuzz_large():
    rng = random.Random(2)
    strings = [random_string(rng, max_len=2000) for _ in range(1000)]
    eng = run_fuzz(RandomPolicy(1), strings)
    assert len(eng.store) > 20
    torch.manual_seed(0)
    big = "".join(random_string(rng, max_len=5000) for _ in range(600))
    while len(big.encode("utf-8", "surrogatepass")) < 1_000_000:
        big += big[: 1_000_000]
    run_fuzz(GPT(CONFIG).eval(), strings[:200] + [big] + strings[200:400], max_new=8)
