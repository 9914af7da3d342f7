"""memgpt.window: the one set of window rules the engine, the corpus and the evaluation share."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from memgpt.window import MEM_MARKERS, answer_fill, fit_memory, memory_budget, pack, recent_room, window_limit


def test_limit_leaves_a_quarter_of_the_block_to_decode():
    assert window_limit(256) == 192 and window_limit(64) == 48
    assert window_limit(3) == 2  # at least one position to decode


def test_memory_budget_defaults_to_half_the_block_and_must_leave_room():
    assert memory_budget(256) == 128 and memory_budget(256, 0) == 0 and memory_budget(256, 191) == 191
    with pytest.raises(ValueError, match=r"mem_budget 192 must be in \[0, 192\) for block size 256"):
        memory_budget(256, 192)
    with pytest.raises(ValueError, match="mem_budget -1"):
        memory_budget(256, -1)


def test_answer_fill_leaves_room_for_the_answer():
    assert answer_fill(256, 40) == 192           # the limit binds
    assert answer_fill(256, 96) == 160           # a long answer needs more than the quarter
    assert answer_fill(256, 10, space=100) == 90  # a row with 100 positions left


def test_pack_keeps_block_and_question_and_the_latest_recent_tokens():
    mem, q = [1, 2], [9]
    recent = list(range(100, 110))  # 10 tokens
    assert pack(mem, recent, q, 8) == [1, 2, 105, 106, 107, 108, 109, 9]  # room 5: the last 5
    assert pack(mem, recent, q, 3) == [1, 2, 9]                           # no room: no recent text
    assert pack(mem, recent, q, 2) == [1, 2, 9]                           # overflow: kept whole anyway
    # room between n and 2n: every recent token (a slice from len - room would keep only 2n - room)
    assert pack(mem, recent, q, 3 + 15) == [1, 2, *recent, 9]
    assert pack([], recent, (), 4) == recent[-4:]
    assert recent_room(8, 2, 1) == 5 and recent_room(2, 2, 1) == 0


@dataclass
class N:
    text: str
    t: int


def test_fit_memory_takes_the_best_notes_that_fit_in_time_order(tok):
    ranked = [N("pass key: 48213", 3), N("a long note " * 20, 1), N("user name: Ada", 2), N("pass key: 48213", 0)]
    ids, notes = fit_memory(tok, ranked, 24, text=lambda n: n.text, chrono=lambda n: n.t)
    # the long note does not fit and gives way to a weaker short one; the duplicate text is dropped
    assert [n.text for n in notes] == ["user name: Ada", "pass key: 48213"]
    assert ids == tok.render_memory(["user name: Ada", "pass key: 48213"])[0] and len(ids) <= 24
    _, by_rank = fit_memory(tok, ["b: 2", "a: 1"], 64)
    assert by_rank == ["b: 2", "a: 1"]  # no chrono: rank order
    assert fit_memory(tok, ["a: 1"], MEM_MARKERS) == ([], [])
    assert fit_memory(tok, ["   "], 64) == ([], [])  # an empty note is never injected


def test_fit_memory_never_exceeds_the_budget(tok):
    notes = [f"magic number for k{i}: {i * 7919 % 100000}" for i in range(40)]
    for budget in range(3, 80, 7):
        ids, chosen = fit_memory(tok, notes, budget)
        assert len(ids) <= budget and (not chosen or ids[0] == tok.mem and ids[-1] == tok.mem_end)


def test_window_rules_import_no_torch_and_the_corpus_no_engine():
    code = ("import sys, memgpt.window, memgpt.training.data; "
            "bad = [m for m in ('torch', 'memgpt.controller') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
