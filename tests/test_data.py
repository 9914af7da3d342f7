import itertools
import random
import re

import numpy as np
import pytest

from memgpt.bench.score import score
from memgpt.synth import facts, filler
from memgpt.synth.notes import distractor_notes, note_subjects
from memgpt.tokenizer import CONTEXT, KEY, TEXT
from memgpt.training import data


def test_rows_are_deterministic_and_dense(tok):
    a = [data.make_row(tok, random.Random(7), 257) for _ in range(1)]
    b = [data.make_row(tok, random.Random(7), 257) for _ in range(1)]
    assert a == b
    rng = random.Random(3)
    for kind, fn in data.ROW_KINDS.items():
        ids, mask = fn(tok, rng, 257)
        assert len(ids) == len(mask) == 257, kind  # packed: no padding


def test_shards_deterministic(tmp_path, tok):
    data.write_shard(tok, str(tmp_path / "a"), 8, 65, seed=5)
    data.write_shard(tok, str(tmp_path / "b"), 8, 65, seed=5)
    assert (np.load(tmp_path / "a.ids.npy") == np.load(tmp_path / "b.ids.npy")).all()
    assert (np.load(tmp_path / "a.mask.npy") == np.load(tmp_path / "b.mask.npy")).all()


def test_fresh_words_spell_every_vocabulary_piece(tok):
    """Corpus words are also spelt from the tokenizer's own pieces, so no letter piece is left
    untrained (an untrained piece of a held-out word cannot be copied), and the split holds.
    Starts the training filler is full of are drawn seldom: the filler writes them."""
    pieces = data.word_pieces(tok)
    assert pieces.lead and pieces.cont and pieces.names
    seen = data._filler_counts(tok)
    rng = data.CorpusRandom(0, pieces)
    for starts, draw in ((pieces.lead, facts.pseudo_word), (pieces.names, facts.name_word)):
        words = [draw(rng, "train") for _ in range(20 * len(starts))]
        spelt = {p for p in starts if any(w.startswith(p) for w in words)}
        unspelt = [p for p in starts if p not in spelt]
        assert all(seen.get(tok.encode_text(" " + p)[0], 0) > 10 for p in unspelt), unspelt
        assert len(spelt) > 0.6 * len(starts)
        assert not any(facts._is_test(w) for w in words)
        assert all(facts._is_test(draw(rng, "test")) for _ in range(200))
    # the evaluation's plain rng still draws syllable words only, so its test cases are unchanged
    for draw in (facts.pseudo_word, facts.name_word):
        plain = [draw(random.Random(s), "test") for s in range(50)]
        assert plain == [draw(data.CorpusRandom(s), "test") for s in range(50)]
    # names drawn by the evaluation are the capitalised syllable words they always were
    assert [facts.name_word(random.Random(s), "test") for s in range(50)] == \
        [facts.pseudo_word(random.Random(s), "test").capitalize() for s in range(50)]


def test_held_out_words_are_spelt_from_trained_pieces(tok):
    """Every piece of every held-out pool word (bAbI's "bathroom" is " b" + "ath" + "ro" + "om",
    "amber" is " a" + "mber") starts or continues some fresh training word, so the model has
    copied each piece before; with two-letter pieces only, "amber" came back as "ismber"."""
    pieces = data.word_pieces(tok)
    starts, cont = set(pieces.lead) | set(pieces.names), set(pieces.cont)
    for pool in (facts._PEOPLE, facts._PLACES, facts._OBJECTS, facts.COLOURS, facts._FOODS, facts._JOBS, facts._PETS):
        for w in facts._pool(pool, "test"):
            first, *rest = [tok.decode([i]) for i in tok.encode_text(" " + w)]
            assert first[1:] in starts and set(rest) <= cont, (w, first, rest)


def test_fresh_words_start_with_one_letter_as_held_out_words_do(tok):
    """A word the tokenizer never saw is cut into short pieces, so most held-out words start with
    a one-letter piece (" h" + "all" + "w" + "ay"); fresh training words must too, or the model
    learns to skip that letter when copying ("John is in theallway.")."""
    def starts_with_letter(w):
        return len(tok.decode(tok.encode_text(" " + w)[:1]).strip()) == 1

    held_out = [w for pool in (facts._PEOPLE, facts._PLACES, facts._OBJECTS, facts.COLOURS, facts._FOODS)
                for w in facts._pool(pool, "test")]
    rng = data.CorpusRandom(0, data.word_pieces(tok))
    for draw, low in ((facts.pseudo_word, 0.4), (facts.name_word, 0.5)):
        fresh = [draw(rng, "train") for _ in range(2000)]
        assert sum(map(starts_with_letter, fresh)) / len(fresh) > low, draw.__name__
    assert sum(map(starts_with_letter, held_out)) / len(held_out) > 0.5  # why
    # `memgpt data --letter-start-share` sets the share per corpus; 0 draws starts uniformly
    rng = data.CorpusRandom(0, data.word_pieces(tok), letter_share=0.0)
    assert sum(starts_with_letter(facts.pseudo_word(rng, "train")) for _ in range(2000)) / 2000 < 0.2
    with pytest.raises(ValueError, match="letter_share"):
        data.CorpusRandom(0, letter_share=1.5)


def test_a_spelt_word_is_cut_after_its_start_piece(tok):
    """BPE merges a start with what follows ("bur" + "ger" is one token): a spelt word must be
    cut after its start, or that start is seldom a target."""
    p = data.word_pieces(tok)
    rng = random.Random(1)
    words = [facts._spell(rng, "train", ("bur",), (), p.cont, 3, p.first_piece) for _ in range(300)]
    assert all(tok.decode(tok.encode_text(" " + w)[:1]) == " bur" for w in words)
    unchecked = [facts._spell(rng, "train", ("bur",), (), p.cont, 3) for _ in range(300)]
    assert any(tok.decode(tok.encode_text(" " + w)[:1]) != " bur" for w in unchecked)  # why


def test_starts_the_filler_lacks_are_drawn_more_often(tok):
    """Each start the training filler never holds is written only by fresh words; drawn evenly,
    each began a word a few times per million tokens and the model forgot " gold" between stages."""
    p = data.word_pieces(tok)
    seen = data._filler_counts(tok)
    absent = {s for s in p.lead if len(s) > 1 and seen.get(tok.encode_text(" " + s)[0], 0) == 0}
    assert "gold" in absent and "the" not in absent
    rng = data.CorpusRandom(3, p, letter_share=0.0)
    firsts = [p.first_piece(facts.pseudo_word(rng, "train")) for _ in range(6000)]
    share = sum(f in absent for f in firsts) / len(firsts)
    uniform = len(absent) / len(p.lead) * facts.PIECE_SHARE
    assert share > 2 * uniform, (share, uniform)


def test_reading_masks(tok):
    """Document text is a target (the model learns where not to open a note), notes are key targets."""
    ids, mask = data.reading_row(tok, random.Random(1), 1024)
    assert ids.count(tok.scratch) >= 3
    for i, t in enumerate(ids):
        if t == tok.scratch:
            assert mask[i] == KEY
    assert TEXT in mask
    inside_mem = False
    for t, m in zip(ids, mask):  # <|mem|> content is never a target
        if t == tok.mem:
            inside_mem = True
        if inside_mem:
            assert m == CONTEXT
        if t == tok.mem_end:
            inside_mem = False


def test_answering_and_chat_masks(tok):
    rng = random.Random(2)
    for fn in (data.answering_row, data.chat_row):
        ids, mask = fn(tok, rng, 600)
        inside_user = inside_mem = False
        for t, m in zip(ids, mask):
            if t in (tok.user, tok.mem):
                inside_user, inside_mem = t == tok.user, t == tok.mem
            if inside_user or inside_mem:
                assert m == CONTEXT, tok.decode([t])
            if t in (tok.end, tok.mem_end):
                inside_user = inside_mem = False
        assert KEY in mask


def test_distractors_never_answer_the_same_question():
    """A second pass key or another 'Mary is in ...' among the distractors would make the
    answer a guess; distractors must be about other subjects."""
    rng = random.Random(3)
    for k in range(600):
        cases = data._qa_for_mem if k % 2 else data._tracking_for_mem
        needed = [f.note for f in cases(rng, "train")[0]]
        taken = set().union(*map(note_subjects, needed))
        for d in distractor_notes(rng, "train", 12, needed):
            assert not note_subjects(d) & taken, (d, needed)
    assert note_subjects("pass key: 123") == {"pass key"}
    assert note_subjects("Mary is in the kitchen") == {"Mary"}
    assert note_subjects("Mary has the apple") == {"Mary", "apple"}


def test_answering_from_the_window(tok):
    """Some answering examples read the facts (with their notes) in the recent text instead of
    the block: the answer is a target and appears in the text before the question."""
    rng = random.Random(0)
    ids, mask = data.answering_row(tok, rng, 400, window_share=1.0)
    text = tok.decode(ids)
    assert "<|scratch|>" in text and "<|assistant|>" in text
    first_q = ids.index(tok.user)
    assert any(m == KEY for m in mask[:first_q])  # the notes written while reading are targets
    # the answer of the first question was read in the window before it
    a0 = ids.index(tok.assistant, first_q) + 1
    a1 = ids.index(tok.end, a0)
    assert all(m == KEY for m in mask[a0:a1])
    answer = tok.decode(ids[a0:a1]).strip().rstrip(".").split()[-1].rstrip(",")
    assert answer in tok.decode(ids[:first_q])


def test_answering_rows_keep_their_answers(tok):
    """Long examples (up to 12 distractors, ~450 tokens) are shortened to fit the row rather than
    cut before their questions: every row holds at least one complete answer, and an example cut
    at the row's end is never the row's first."""
    rng = random.Random(2)
    for _ in range(100):
        ids, mask = data.answering_row(tok, rng, 257)
        first = ids[: ids.index(tok.eot)] if tok.eot in ids else ids
        a = first.index(tok.assistant)  # the first example has a question and its whole answer
        assert tok.end in first[a:], tok.decode(first)


def test_tracking_rows_ask_for_the_latest_state(tok):
    """Tracking rows are the hard cases, densely asked: every "Where is X?" answer is the place of
    the last note about X before the question (block or window), not an earlier, stale one."""
    rng = random.Random(4)
    asked = stale = 0
    for _ in range(40):
        ids, mask = data.tracking_row(tok, rng, 400)
        for ex in tok.decode(ids).split("<|endoftext|>"):
            for q, a in re.findall(r"<\|user\|>Where is ([A-Z]\w*)\?<\|end\|><\|assistant\|>\1 is in the (\w+)\.<\|end\|>", ex):
                places = re.findall(rf"\b{q} is in the (\w+)", ex.split("<|user|>")[0])
                if not places:
                    continue  # the example was cut at the row's end
                assert a == places[-1], ex
                asked += 1
                stale += len(set(places)) > 1
    assert asked > 40 and stale > 10  # many questions, a good share with stale notes to pass over


def test_multikey_cases_ask_one_key_among_other_keys_magic_numbers():
    """RULER's multikey: the asked needle sits among 1-3 other keys' magic numbers, all with
    distinct keys, at any place; the answer is the asked key's value alone."""
    rng = random.Random(6)
    sizes, places = set(), set()
    for _ in range(300):
        fs, [(q, a)] = data._multikey(rng, "train")
        keys = [facts.niah_note_key(f.note) for f in fs]
        asked = [f for f, k in zip(fs, keys) if k in q]
        assert len(set(keys)) == len(fs) and len(asked) == 1
        assert a == asked[0].qa[0][1] and all(a not in f.note for f in fs if f is not asked[0])
        sizes.add(len(fs))
        places.add(fs.index(asked[0]))
    assert sizes == {2, 3, 4} and places == {0, 1, 2, 3}


def test_multi_needle_cases_ask_as_many_as_the_benchmark():
    """The benchmark asks 4 values (multivalue) and 4 keys (multiquery), as RULER does; a corpus
    that stops at 3 leaves the model to answer a 4th it never learned to reach."""
    from memgpt.bench import tasks
    rng = random.Random(5)
    for multivalue, asked in ((True, tasks.NIAH_VALUES), (False, tasks.NIAH_QUERIES)):
        sizes = set()
        for _ in range(200):
            fs, [(q, a)] = data._multi_needle(rng, "train", multivalue)
            keys = {facts.niah_note_key(f.note) for f in fs}
            assert len(keys) == (1 if multivalue else len(fs)) and all(k in q for k in keys)
            if multivalue:
                assert a == ", ".join(f.qa[0][1] for f in fs)
            sizes.add(len(fs))
        assert sizes == set(range(2, asked + 1)), (multivalue, sizes)


def test_multiquery_asks_keys_out_of_note_order_and_the_reply_pairs_each_key_with_its_value():
    """The benchmark's needles lie at random depths, so the keys are asked in another order than
    their notes; the reply restates each key, in the order asked, before that key's own value."""
    rng = random.Random(7)
    reordered = 0
    for _ in range(200):
        fs, [(q, a)] = data._multi_needle(rng, "train", multivalue=False)
        value = {facts.niah_note_key(f.note): f.qa[0][1] for f in fs}
        tail = re.split(r"magic (?:numbers|uuids) for ", q, maxsplit=1)[1].removesuffix(" mentioned in the provided text?")
        asked = tail.replace(" and ", ", ").split(", ")
        assert sorted(asked) == sorted(value)
        assert a == facts.multiquery_reply(asked, [value[k] for k in asked])
        assert score(a, ", ".join(value.values())) == 1.0
        reordered += asked != list(value)
    assert 100 < reordered < 200  # most draws, not all: the note order may be asked too


def test_multiquery_reply_restates_the_notes_tail():
    r = facts.multiquery_reply(["zop-lirk", "abcd"], ["123456", "7654321"])
    assert r == "For zop-lirk: 123456; for abcd: 7654321."
    assert "magic number for zop-lirk: 123456".endswith(r.split("; ")[0][1:])
    with pytest.raises(ValueError):
        facts.multiquery_reply(["a"], [])


def test_pasted_passages_in_chats_get_a_reply_and_no_note(tok):
    """Users paste text into chats (the benchmark's chat does); it says nothing about them, so the
    reply to it is a target and holds no note: without such turns the model wrote notes like
    "user city: IMMMM" on pasted licence text."""
    rng = random.Random(8)
    passages = 0
    for _ in range(60):
        ids, mask = data.chat_row(tok, rng, 600)
        text = tok.decode(ids)
        for user, reply in re.findall(r"<\|user\|>(.*?)<\|end\|><\|assistant\|>(.*?)<\|end\|>", text, re.S):
            if reply in data._PASSAGE_REPLIES:
                passages += 1
                assert "<|scratch|>" not in reply and not re.search(r"\b(My name is|I live in|I'm )", user)
        for k in (i for i, t in enumerate(ids[:-1]) if t == tok.assistant):  # the row may end on one
            assert mask[k + 1] == KEY  # the reply's first token (a note's or a word's) is a target
    assert passages > 20


def test_two_statements_in_one_sentence_get_a_note_each(tok):
    """Users say "My name is Ada and I live in Lisbon.": chats hold such joined statements, and
    the assistant turn after one still files both facts."""
    rng = random.Random(0)
    forms = {data.user_statement(rng, ["My name is Ada.", "I live in Lisbon."]) for _ in range(50)}
    assert forms == {"My name is Ada. I live in Lisbon.", "My name is Ada and I live in Lisbon."}
    forms = {data.user_statement(rng, ["I'm Bo.", "My pet is a cat."]) for _ in range(50)}
    assert forms == {"I'm Bo. My pet is a cat.", "I'm Bo and my pet is a cat."}
    joined = 0
    for seed in range(40):
        text = tok.decode(data.chat_row(tok, random.Random(seed), 512)[0])
        turns = r"<\|user\|>([^<]*)<\|end\|><\|assistant\|>((?:<\|scratch\|>[^<]*<\|/scratch\|>)*)([^<]*)<\|end\|>"
        for said, notes, reply in re.findall(turns, text):
            if reply in data._PASSAGE_REPLIES:  # pasted text, no statement
                continue
            assert not re.search(r"(, | and )(My|You|Call) ", said), said  # "By the way, my ..."
            said = said.removeprefix("Oh, and ")
            if " and " in said and ". " not in said:  # one sentence, two statements
                joined += 1
                assert notes.count("<|scratch|>") == 2, (said, notes)
    assert joined >= 5


def test_mix_chooses_the_row_kinds(tok):
    """`memgpt data --mix` sets which row kinds are drawn: reading rows alone hold no chat turns,
    chat rows alone always do; the default string is the default mix; bad entries are refused."""
    assert data.parse_mix(",".join(f"{k}={v}" for k, v in data.DEFAULT_MIX.items())) == data.DEFAULT_MIX
    reading = [tok.decode(ids) for ids, _ in itertools.islice(data.rows(tok, 1, 257, mix={"reading": 1.0}), 20)]
    chat = [tok.decode(ids) for ids, _ in itertools.islice(data.rows(tok, 1, 257, mix=data.parse_mix("chat=2")), 20)]
    assert not any("<|user|>" in r for r in reading) and all("<|user|>" in r for r in chat)
    for bad in ("", "reading", "writing=1", "chat=x", "chat=-1", "chat=inf", "chat=0"):
        with pytest.raises(ValueError):
            data.parse_mix(bad)


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
VALUE = UUID + r"|\d+"  # a magic uuid or number


@pytest.mark.parametrize("kind", ["multivalue", "multivalue_hard"])
def test_multivalue_rows_ask_every_value_of_one_key_in_note_order(tok, kind):
    """`--mix multivalue=W` (and `multivalue_hard=W`) rows: every question asks all magic numbers
    of one key, and the answer is each value of that key's notes (block or window), in the order
    they were read, 2-4 of them."""
    counts = set()
    for ids, _ in itertools.islice(data.rows(tok, 2, 400, mix=data.parse_mix(f"{kind}=1")), 30):
        for ex in tok.decode(ids).split("<|endoftext|>"):
            m = re.search(r"<\|user\|>What are all the special magic (number|uuid)s for (\S+) mentioned in the provided "
                          r"text\?<\|end\|><\|assistant\|>([^<]*)<\|end\|>", ex)
            if not m:
                continue  # cut at the row's end
            assert "<|user|>" not in ex[: m.start()]  # one question per example: this one
            kind, key, answer = m.groups()
            values = re.findall(rf"magic {kind} for {re.escape(key)}: ({VALUE})", ex[: m.start()])
            assert answer.split(", ") == values, ex
            counts.add(len(values))
    assert counts == {2, 3, 4}


def test_multivalue_hard_blocks_hold_other_keys_magic_numbers(tok):
    """`multivalue_hard` rows file the key's notes in the block among 4-12 distractors, about three
    in four of them other keys' magic numbers; only the answers are targets."""
    other = total = 0
    for ids, mask in itertools.islice(data.rows(tok, 4, 1025, mix=data.parse_mix("multivalue_hard=1")), 10):
        for ex in tok.decode(ids).split("<|endoftext|>")[:-2]:  # the last two may be shortened to fit the row
            m = re.search(r"<\|mem\|>(.*)<\|/mem\|>.*magic (number|uuid)s for (\S+) mentioned.*<\|assistant\|>([^<]*)<\|end\|>",
                          ex, re.S)
            if not m:
                continue  # cut at the row's end
            block, kind, key, answer = m.groups()
            notes = block.split("\n")
            mine = [n for n in notes if n.startswith(f"magic {kind} for {key}: ")]
            assert [n.rsplit(": ", 1)[1] for n in mine] == answer.split(", ")  # every value filed in the block
            distract = [n for n in notes if n not in mine]
            assert 4 <= len(distract) <= 12, notes
            other += sum(n.startswith(("magic number for ", "magic uuid for ")) for n in distract)
            total += len(distract)
        inside = False  # the block is context, never a target; the answers are KEY targets
        for t, k in zip(ids, mask):
            inside = (inside or t == tok.mem) and t != tok.mem_end
            assert not inside or k == CONTEXT
        answers = tok.decode([t for t, k in zip(ids, mask) if k == KEY])
        assert re.fullmatch(r"([\da-f, -]*<\|end\|>)*[\da-f, -]*", answers), answers
    assert total > 100 and 0.65 < other / total < 0.85, (other, total)


def test_windowed_rows_are_the_engines_answer_windows(tok):
    """`--mix windowed=W` rows: each example's window (block and recent text up to the first
    `<|assistant|>`) fills at most `window_limit` positions with a block within the engine's
    budget; only answers are targets; every number an answer copies is in its window; and over
    many rows the recent text begins mid-sentence and grass filler ends on each of its sentences
    (answering rows never end on "There and back again.")."""
    from memgpt.window import memory_budget, window_limit

    limit, budget = window_limit(256), memory_budget(256)
    mid = endings = 0
    grass_ends: set[str] = set()
    for ids, mask in itertools.islice(data.rows(tok, 3, 257, mix=data.parse_mix("windowed=1")), 80):
        starts = [0] + [i + 1 for i, t in enumerate(ids) if t == tok.eot]
        for s, e in zip(starts, starts[1:] + [len(ids)]):
            ex, m = ids[s:e], mask[s:e]
            if tok.assistant not in ex or tok.end not in ex[ex.index(tok.assistant):]:
                continue  # cut at the row's end
            a = ex.index(tok.assistant)
            assert a + 1 <= limit and all(k == CONTEXT for k in m[: a + 1])
            if ex[0] == tok.mem:
                assert ex.index(tok.mem_end) + 1 <= budget
            a_end = ex.index(tok.end, a)
            answer = tok.decode(ex[a + 1: a_end])
            assert all(k != CONTEXT for k in m[a + 1: a_end + 1])
            window = tok.decode(ex[:a])
            assert all(n in window for n in re.findall(r"\d{5,}", answer)), (window, answer)
            recent = window.split("<|/mem|>")[-1].split("<|user|>")[0]
            if recent:
                endings += 1
                mid += not (recent[0] == " " or recent[0].isupper())
            for g in filler.GRASS:
                if recent.endswith(g) and "The grass is green." in recent:
                    grass_ends.add(g)
    assert endings > 50 and mid > endings // 10, (endings, mid)
    assert grass_ends == set(filler.GRASS)


def test_corpus_teaches_copying_uuids(tok):
    """RULER's niah_single_3 and niah_multikey_3 ask uuid values (and keys): about UUID_SHARE of
    the corpus's magic notes hold a uuid, some under a uuid key, every one from the train part.
    In rows of open_data's 768 tokens; 257-token rows hold fewer (a long case is drawn again when
    it cannot open a row, and the note cut at a row's end is more often a long one)."""
    kinds, uuid_keys = {"number": 0, "uuid": 0}, 0
    for ids, _ in itertools.islice(data.rows(tok, 3, 768), 40):
        for kind, key, value in re.findall(r"magic (number|uuid) for (\S+): ([0-9a-f-]+)", tok.decode(ids)):
            if kind == "uuid" and not re.fullmatch(UUID, value):
                continue  # cut at the row's end
            kinds[kind] += 1
            if kind == "uuid":
                assert facts._split_ok(value, "train")
                uuid_keys += bool(re.fullmatch(UUID, key))
    assert data.UUID_SHARE == 0.25 and 0.17 < kinds["uuid"] / sum(kinds.values()) < 0.33, kinds
    assert uuid_keys > 10
    rng, seen = random.Random(1), set()
    for _ in range(200):  # multivalue and multiquery cases ask all uuids of their word keys
        fs, [(q, a)] = data._multi_needle(rng, "train", multivalue=len(seen) % 2 == 0)
        kind = facts.parse_niah_note(fs[0].note)[0]
        assert all(facts.parse_niah_note(f.note)[0] == kind for f in fs) and f"special magic {kind}s for " in q
        assert all(re.fullmatch(UUID if kind == "uuid" else r"\d+", f.qa[0][1]) and f.qa[0][1] in a for f in fs)
        seen.add((kind, f"magic {kind}s for" in q and "For " in a))
    assert seen == {("number", False), ("number", True), ("uuid", False), ("uuid", True)}
