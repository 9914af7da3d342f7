"""Open-domain training rows for a ChatML base: masks, windows, splits, determinism.

A byte-level ChatML tokenizer (`Tokenizer.pretrained`) stands in for the base's, so the fast suite
needs neither the 98 MB GGUF nor the small-talk replies file (fake replies are passed in)."""
import json
import os
import random

import pytest

from memgpt.tokenizer import CONTEXT, KEY, TEXT, Tokenizer
from memgpt.training import open_corpus as oc
from memgpt.training import open_data as od
from memgpt.training import prose
from memgpt.training import relations as R

BLOCK = 1024
SPECIALS = {"<|endoftext|>": 256, "<|im_start|>": 257, "<|im_end|>": 258}


@pytest.fixture(scope="module")
def tok():
    return Tokenizer.pretrained("bytes", "smollm", {bytes([i]): i for i in range(256)}, SPECIALS, system="You are tiny.")


@pytest.fixture(scope="module")
def P():
    return prose.Prose(styles=("python_docs", "docstrings"), limit=25)


REPLIES = {oc.smalltalk_key(p): f"A reply to: {p}" for p in oc.SMALLTALK_PROMPTS}


def _rows(tok, P, mix=None, n=40, split="train", seed=0, block=BLOCK):
    return list(od.rows(tok, split, seed, block, mix=mix, prose=P, replies=REPLIES, n=n, detail=True))


@pytest.fixture(scope="module")
def mixed(tok, P):
    return _rows(tok, P, n=40)


@pytest.fixture(scope="module")
def chats(tok, P):
    return _rows(tok, P, {"chat": 1.0}, n=30, seed=1)


def _spans(tok, ids, open_id, close_id):
    """(start, end) of each open ... close span, both included."""
    out, start = [], None
    for i, t in enumerate(ids):
        if t == open_id:
            start = i
        elif t == close_id and start is not None:
            out.append((start, i + 1))
            start = None
    return out


def _mask_runs(mask, value):
    out, i = [], 0
    while i < len(mask):
        if mask[i] == value:
            j = i
            while j < len(mask) and mask[j] == value:
                j += 1
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def _notes_in(tok, r):
    """Every note of a row: in `<|mem|>` blocks and between `<|scratch|>` markers."""
    notes = []
    for a, b in _spans(tok, r.ids, tok.mem, tok.mem_end):
        notes += tok.decode(r.ids[a + 1:b - 1]).split("\n")
    for a, b in _spans(tok, r.ids, tok.scratch, tok.scratch_end):
        notes.append(tok.decode(r.ids[a + 1:b - 1]))
    return notes


SYSTEM_KINDS = {"chat", "answering", "bench_answering", "bench_tracking", "bench_windowed", "bench_chat"}


def test_every_kind_is_drawn_and_rows_fit_the_block(mixed):
    assert {r.kind for r in mixed} >= {"reading", "fact_free", "chat", "answering"}
    assert any(r.kind.startswith("bench_") for r in mixed)
    for r in mixed:
        assert 0 < len(r.ids) == len(r.mask) <= BLOCK, r.kind
        assert set(r.mask) <= {CONTEXT, TEXT, KEY}


def test_system_turn_and_memory_blocks_are_context(tok, mixed):
    sys_ids = tok.system_prefix
    assert sys_ids
    for r in mixed:
        if r.kind in SYSTEM_KINDS:
            assert r.ids[:len(sys_ids)] == sys_ids and not any(r.mask[:len(sys_ids)]), r.kind
        else:  # documents are read without the system turn (and without any chat turn)
            assert tok.user not in r.ids, r.kind
        for a, b in _spans(tok, r.ids, tok.mem, tok.mem_end):
            assert not any(r.mask[a:b]), r.kind
        assert r.ids.count(tok.mem) <= 1


def test_user_text_is_context_and_ordinary_text(tok, mixed, chats):
    for r in mixed + chats:
        for us, ue, a0, a1 in od._turn_spans(tok, r.ids):
            assert not any(r.mask[us - len(tok.user_prefix):ue + len(tok.turn_end)])
            assert not set(r.ids[us:ue]) & tok.control_ids  # user text never holds a control token


def test_key_targets_are_exactly_notes_and_answers(tok, mixed, chats):
    smalltalk = set(oc.SMALLTALK_PROMPTS)
    for r in mixed + chats:
        # a note written is a key target whole; a key target is a note, an answer, or the first
        # token of a reply (where the model decides to write no more notes)
        for a, b in _mask_runs(r.mask, KEY):
            text = tok.decode(r.ids[a:b])
            i = a
            while i < b and r.ids[i] == tok.scratch:  # skip the notes
                i = r.ids.index(tok.scratch_end, i) + 1
            rest = tok.decode(r.ids[i:b])
            if b - i == 1 and r.ids[i] != tok.end:
                # a lone decision token opens the assistant's turn or follows its notes
                assert r.ids[i - len(tok.assistant_prefix):i] == list(tok.assistant_prefix) \
                    or r.ids[i - 1] == tok.scratch_end, (r.kind, tok.decode(r.ids[i - 8:i + 1]))
                assert r.kind not in ("reading", "fact_free", "bench_reading"), text
            elif rest:  # an answer: the rest of an assistant turn, after a question
                assert r.kind not in ("reading", "fact_free", "bench_reading"), text
                assert rest.endswith("<|im_end|>") or b == len(r.ids), (r.kind, text)
                user = next(tok.decode(r.ids[us:ue]) for us, ue, a0, a1 in reversed(od._turn_spans(tok, r.ids)) if a0 <= a)
                assert user not in smalltalk and user.rstrip().endswith("?"), (r.kind, user, text)
        for a, b in _spans(tok, r.ids, tok.scratch, tok.scratch_end):
            assert len(set(r.mask[a:b])) == 1, (r.kind, tok.decode(r.ids[a:b]))  # never half a target
        if r.kind == "fact_free":
            assert set(r.mask) == {TEXT} and tok.scratch not in r.ids
        if r.kind == "reading":
            written = [tok.decode(r.ids[a + 1:b - 1]) for a, b in _spans(tok, r.ids, tok.scratch, tok.scratch_end)]
            assert written == r.info["notes"][:len(written)]
            assert all(r.mask[a] == KEY for a, _ in _spans(tok, r.ids, tok.scratch, tok.scratch_end))


def test_smalltalk_replies_are_text_targets(tok, chats):
    seen = 0
    for r in chats:
        for us, ue, a0, a1 in od._turn_spans(tok, r.ids):
            user = tok.decode(r.ids[us:ue])
            if user in oc.SMALLTALK_PROMPTS and us >= r.info["recent_start"] and r.mask[a0] != CONTEXT:
                assert tok.decode(r.ids[a0:a1]) == REPLIES[oc.smalltalk_key(user)] + "<|im_end|>"
                assert r.mask[a0] == KEY and set(r.mask[a0 + 1:a1]) == {TEXT}  # the first: "no note"
                seen += 1
    assert seen > 5


def test_chat_questions_are_answered_from_the_block(tok, chats):
    asked = [r for r in chats if r.info["from_block"]]
    assert len(asked) >= 5, [r.info["last"] for r in chats]
    for r in asked:
        key = r.info["asks"]
        told = [f for f in r.info["facts"] if f["key"] == key and f["turn"] < r.info["last_turn"]]
        note = told[-1]["note"]
        (a, b), = _spans(tok, r.ids, tok.mem, tok.mem_end)
        assert note in tok.decode(r.ids[a + 1:b - 1]).split("\n")
        last = od._turn_spans(tok, r.ids)[-1]
        recent = tok.decode(r.ids[r.info["recent_start"]:last[2]])  # the window up to the answer
        assert note not in recent and told[-1]["statement"] not in recent
        assert set(r.mask[last[2]:last[3]]) == {KEY}  # the answer, from the block
        assert tok.decode(r.ids[last[2]:last[3]]) == told[-1]["answer"] + "<|im_end|>"


def test_chat_updates_keep_the_old_note_in_the_block(tok, P):
    rows = _rows(tok, P, {"chat": 1.0}, n=40, seed=2)
    found = 0
    for r in rows:
        if r.info["last"] != "update":
            continue
        (new,) = r.info["notes"]
        key = new.split(": ", 1)[0]
        old = [n for n in r.info["block_notes"] if n.split(": ", 1)[0] == key]
        if old:
            assert old[-1] != new
            found += 1
    assert found >= 1


def test_chat_block_is_the_engines(tok, chats):
    from memgpt.window import memory_budget, window_limit
    for r in chats:
        (a, b), = _spans(tok, r.ids, tok.mem, tok.mem_end) or [(0, 0)]
        assert b - a <= memory_budget(BLOCK) and len(r.info["block_notes"]) <= od.RETRIEVE_K
        last_prefix = max(i for i in range(len(r.ids)) if r.ids[i:i + len(tok.assistant_prefix)] == tok.assistant_prefix)
        assert last_prefix + len(tok.assistant_prefix) <= window_limit(BLOCK)  # the prefilled window
        keys = [n.split(": ", 1)[0] for n in r.info["block_notes"]]
        assert len(keys) == len(set(keys))  # the latest note of a key only (chat notes supersede)


def test_no_heldout_relation_in_train_rows(tok, mixed, chats):
    for r in mixed + chats:
        for f in r.info.get("facts", ()):
            assert f["relation"] not in R.HELDOUT
        for note in _notes_in(tok, r):
            rels = R.relations_of_key(note.split(": ", 1)[0]) if ": " in note else []
            if rels:
                assert any(x.name not in R.HELDOUT for x in rels), note


def test_test_split_draws_heldout_types_and_prompts(tok, P):
    rows = _rows(tok, P, {"chat": 0.5, "answering": 0.3, "reading": 0.2}, n=20, split="test")
    names = [f["relation"] for r in rows for f in r.info.get("facts", ())]
    assert names and all(n in R.HELDOUT for n in names)
    test_prompts = set(oc.smalltalk_prompts("test"))
    for r in rows:
        for us, ue, _, _ in od._turn_spans(tok, r.ids):
            assert tok.decode(r.ids[us:ue]) not in set(oc.smalltalk_prompts("train"))
    assert any(tok.decode(r.ids[us:ue]) in test_prompts for r in rows for us, ue, _, _ in od._turn_spans(tok, r.ids))


def test_deterministic_by_seed(tok, P):
    a = list(od.rows(tok, "train", 5, 512, prose=P, replies=REPLIES, n=12))
    b = list(od.rows(tok, "train", 5, 512, prose=P, replies=REPLIES, n=12))
    c = list(od.rows(tok, "train", 6, 512, prose=P, replies=REPLIES, n=12))
    assert a == b and a != c
    assert all(len(i) <= 512 for i, _ in a)


def test_mix_shares_tokens(tok, P):
    rows = _rows(tok, P, {"fact_free": 0.5, "answering": 0.5}, n=40, block=512)
    t = {k: sum(len(r.ids) for r in rows if r.kind == k) for k in ("fact_free", "answering")}
    assert 0.3 < t["answering"] / sum(t.values()) < 0.7  # by tokens, though answering rows are shorter
    with pytest.raises(ValueError):
        next(od.rows(tok, "train", 0, 512, mix={"nonsense": 1.0}, prose=P, replies=REPLIES))


def test_bench_chat_weights_only_answers(tok, P):
    rows = _rows(tok, P, {"bench_chat": 1.0}, n=3)
    for r in rows:
        kinds = set()
        for us, ue, a0, a1 in od._turn_spans(tok, r.ids):
            user = tok.decode(r.ids[us:ue])
            body = [m for i, m in enumerate(r.mask[a0:a1]) if r.ids[a0 + i] not in (tok.scratch, tok.scratch_end)]
            kinds.add(KEY if user.endswith("?") and KEY in body else TEXT)
        assert kinds == {KEY, TEXT}


def test_training_reply_ends_at_a_sentence():
    assert od.training_reply({"reply": " Hello there. ", "finished": True}) == "Hello there."
    cut = {"reply": "The sky is blue. Light scatters off the air, so that", "finished": False}
    assert od.training_reply(cut) == "The sky is blue."
    assert od.training_reply({"reply": "no end at all", "finished": False}) == "no end at all"


def test_the_committed_replies_cover_every_prompt():
    if not os.path.exists(od.REPLIES_PATH):
        pytest.skip("smalltalk_replies.json not generated yet")
    with open(od.REPLIES_PATH) as f:
        data = json.load(f)
    assert data["model"] == od.REPLY_MODEL and data["settings"] == od.REPLY_SETTINGS
    replies = data["replies"]
    assert {oc.smalltalk_key(p) for p in oc.SMALLTALK_PROMPTS} <= set(replies)
    assert all(replies[oc.smalltalk_key(p)]["prompt"] == p for p in oc.SMALLTALK_PROMPTS)
    loaded = od.load_replies()
    assert all(isinstance(v, str) for v in loaded.values())


def test_some_chats_are_a_new_users_with_no_block(tok, chats):
    """The engine's first turns with an empty store have no `<|mem|>` block: the corpus must teach
    notes there too (a model trained only behind a block wrote none in a fresh chat)."""
    bare = [r for r in chats if tok.mem not in r.ids]
    assert len(bare) >= 0.1 * len(chats)
    noted = [r for r in bare if tok.scratch in r.ids[len(tok.system_prefix):]]
    assert noted and all(r.ids[:len(tok.system_prefix) + len(tok.user_prefix)] == tok.system_prefix + tok.user_prefix
                         for r in bare if r.info["first_turn"] == 0 and r.info["recent_start"] == len(tok.system_prefix))


def test_replies_that_disown_the_conversation_are_never_trained_on(tok, P):
    assert not od.usable_reply("I'm sorry for your loss. I'm here to help you, I'm a chatbot.")
    assert not od.usable_reply("I'm sorry for any inconvenience, but as a chatbot, I don't have the ability")
    assert not od.usable_reply("   ")
    assert od.usable_reply("That sounds like a lovely walk! Did you see anything interesting?")
    train = oc.smalltalk_prompts("train")
    bad = {oc.smalltalk_key(p) for p in train[::2]}  # half the prompts get a disowning reply
    replies = {k: ("As a chatbot, I cannot go outside." if k in bad else v) for k, v in REPLIES.items()}
    ctx = od.make_context(tok, "train", BLOCK, prose=P, replies=replies)
    assert ctx.prompts == tuple(p for p in train if oc.smalltalk_key(p) not in bad)
    rows = list(od.rows(tok, "train", 3, BLOCK, mix={"chat": 1.0}, prose=P, replies=replies, n=20, detail=True))
    text = "".join(tok.decode(r.ids) for r in rows)
    assert "As a chatbot" not in text and "A reply to:" in text  # small talk still trained, on the rest
