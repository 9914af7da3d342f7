import random

import pytest
from hypothesis import given, settings, strategies as st

from memgpt.tokenizer import CONTEXT, KEY, SPECIALS, TEXT, Tokenizer, TokenizerError
from memgpt.training.bpe import train_bpe


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_arbitrary_unicode(tok, s):
    assert tok.decode(tok.encode_text(s)) == s


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=20)), max_size=12))
def test_control_strings_in_user_text_stay_text(tok, parts):
    s = "".join(parts)
    ids = tok.encode_text(s)
    assert not set(ids) & tok.control_ids
    assert tok.decode(ids) == s


def test_every_digit_is_its_own_token(tok):
    ids = tok.encode_text("pass key: 48213 and 1000000")
    pieces = [tok.decode([i]) for i in ids]
    assert [p for p in pieces if any(c.isdigit() for c in p)] == list("48213") + list("1000000")


def test_control_tokens_have_ids_beyond_ranks(tok):
    assert len(set(tok.specials.values())) == len(SPECIALS)
    assert min(tok.specials.values()) >= len(tok.ranks)
    assert tok.n_vocab == len(tok.ranks) + len(SPECIALS)
    assert 4000 <= tok.n_vocab <= 8200


def test_renderers_masks(tok):
    ids, mask = tok.render_reading([("The pass key is 123.", "pass key: 123"), (" Filler.", None)])
    assert ids.count(tok.scratch) == 1 and ids.count(tok.scratch_end) == 1
    s = ids.index(tok.scratch)
    e = ids.index(tok.scratch_end)
    assert all(m == TEXT for m in mask[:s]) and all(m == KEY for m in mask[s:e + 1])
    assert tok.decode(ids[s + 1:e]) == "pass key: 123"

    ids, mask = tok.render_answering(["a: 1", "b: 2"], "Some text.", [("What is b?", "2")])
    assert ids[0] == tok.mem and mask[: ids.index(tok.mem_end) + 1] == [CONTEXT] * (ids.index(tok.mem_end) + 1)
    a = ids.index(tok.assistant)
    assert mask[a] == CONTEXT and all(m == KEY for m in mask[a + 1:])
    assert tok.decode(ids[a + 1:-1]) == "2" and ids[-1] == tok.end
    assert all(m == CONTEXT for i, m in zip(ids, mask) if i == tok.user)

    ids, mask = tok.render_chat([{"role": "user", "content": "I'm Bo."},
                                 {"role": "assistant", "content": "Hi Bo.", "notes": ["user name: Bo"]}])
    u_end = ids.index(tok.end)
    assert set(mask[: u_end + 1]) == {CONTEXT}  # user turns are never targets
    assert ids.count(tok.scratch) == 1 and mask[ids.index(tok.scratch)] == KEY


def test_memory_block_is_one_note_per_line(tok):
    ids, _ = tok.render_memory(["multi\nline note", "second"])
    assert tok.decode(ids) == "<|mem|>multi line note\nsecond<|/mem|>"
    assert tok.render_memory([]) == ([], [])


def test_note_is_bounded(tok):
    from memgpt.tokenizer import MAX_NOTE_TOKENS
    ids, _ = tok.render_note("word " * 500)
    assert MAX_NOTE_TOKENS >= 80  # a UUID key and a UUID value fit (70-77 tokens)
    assert len(ids) == MAX_NOTE_TOKENS + 2 and ids[0] == tok.scratch and ids[-1] == tok.scratch_end


def test_save_load_round_trip(tmp_path, tok):
    tok.save(str(tmp_path))
    t2 = Tokenizer.load(str(tmp_path))
    s = "Mary moved to the bathroom. <|mem|> 🙂"
    assert t2.encode_text(s) == tok.encode_text(s) and t2.specials == tok.specials


def test_load_errors_name_the_file(tmp_path, tok):
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        Tokenizer.load(str(tmp_path))
    tok.save(str(tmp_path))
    lines = (tmp_path / "tokenizer.bpe").read_text().splitlines()
    (tmp_path / "tokenizer.bpe").write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(TokenizerError, match="tokenizer.bpe"):
        Tokenizer.load(str(tmp_path))
    (tmp_path / "tokenizer.bpe").write_text("not base64 !!\n")
    with pytest.raises(TokenizerError, match="tokenizer.bpe"):
        Tokenizer.load(str(tmp_path))


def test_bpe_trainer_matches_tiktoken_encoding():
    rng = random.Random(0)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "magic", "number", "key"]
    text = [" ".join(rng.choice(words) for _ in range(50)) + " 12345." for _ in range(50)]
    ranks = train_bpe(text, 300)
    assert 256 < len(ranks) <= 300 and sorted(ranks.values()) == list(range(len(ranks)))
    t = Tokenizer.from_ranks(ranks)
    ids = t.encode_text("lorem ipsum magic")
    assert len(ids) == 3  # frequent words became single tokens
    assert t.decode(t.encode_text("ünïcode ok 987")) == "ünïcode ok 987"
