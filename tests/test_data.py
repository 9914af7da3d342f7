import random
import re

import numpy as np
import pytest

from memgpt.tokenizer import CONTEXT, KEY, TEXT
from memgpt.training import data, filler


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


def test_train_and_test_pools_are_disjoint():
    for pool in (data.people, data.places, data.objects):
        assert not set(pool("train")) & set(pool("test"))
        assert pool("test")
    assert set(data.BABI_PEOPLE) <= set(data.people("test"))  # benchmark vocabulary is held out
    # also from fresh words: "garden" hashes to train, but the pieces "gard" + "en" must not spell it
    assert not any(data._split_ok(w, "train") for w in data.BABI_PLACES + data.BABI_OBJECTS + data.BABI_PEOPLE)
    rng = random.Random(0)
    train = {data.pseudo_word(rng, "train") for _ in range(3000)}
    test = {data.pseudo_word(rng, "test") for _ in range(3000)}
    assert not train & test
    assert len(train) > 2900  # a vast space: fresh words, hardly any repeats


def test_fresh_words_spell_every_vocabulary_piece(tok):
    """Corpus words are also spelt from the tokenizer's own pieces, so no letter piece is left
    untrained (an untrained piece of a held-out word cannot be copied), and the split holds."""
    pieces = data.word_pieces(tok)
    assert pieces.lead and pieces.cont and pieces.names
    rng = data.CorpusRandom(0, pieces)
    for starts, draw in ((pieces.lead, data.pseudo_word), (pieces.names, data.name_word)):
        words = [draw(rng, "train") for _ in range(20 * len(starts))]
        spelt = {p for p in starts if any(w.startswith(p) for w in words)}
        assert len(spelt) > 0.9 * len(starts)
        assert not any(data._is_test(w) for w in words)
        assert all(data._is_test(draw(rng, "test")) for _ in range(200))
    # the evaluation's plain rng still draws syllable words only, so its test cases are unchanged
    for draw in (data.pseudo_word, data.name_word):
        plain = [draw(random.Random(s), "test") for s in range(50)]
        assert plain == [draw(data.CorpusRandom(s), "test") for s in range(50)]
    # names drawn by the evaluation are the capitalised syllable words they always were
    assert [data.name_word(random.Random(s), "test") for s in range(50)] == \
        [data.pseudo_word(random.Random(s), "test").capitalize() for s in range(50)]


def test_held_out_words_are_spelt_from_trained_pieces(tok):
    """Every piece of every held-out pool word (bAbI's "bathroom" is " b" + "ath" + "ro" + "om",
    "amber" is " a" + "mber") starts or continues some fresh training word, so the model has
    copied each piece before; with two-letter pieces only, "amber" came back as "ismber"."""
    pieces = data.word_pieces(tok)
    starts, cont = set(pieces.lead) | set(pieces.names), set(pieces.cont)
    for pool in (data._PEOPLE, data._PLACES, data._OBJECTS, data.COLOURS, data._FOODS, data._JOBS, data._PETS):
        for w in data._pool(pool, "test"):
            first, *rest = [tok.decode([i]) for i in tok.encode_text(" " + w)]
            assert first[1:] in starts and set(rest) <= cont, (w, first, rest)


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


def test_facts_use_published_wording():
    rng = random.Random(0)
    f = data.passkey_fact(rng, "test")
    k = f.note.split(": ")[1]
    assert f.sentence == f"The pass key is {k}. Remember it. {k} is the pass key."
    n = data.niah_fact(rng, "test", key="alpha-beta")
    assert n.sentence.startswith("One of the special magic numbers for alpha-beta is: ")
    w = data.BabiWorld(rng, "test", babi_vocab=True)
    facts = [w.step("move") for _ in range(5)]
    assert all(any(x in f.sentence for x in data._MOVE) for f in facts)
    qs = w.questions()["qa1"]
    last = {}
    for f in facts:  # the latest state wins
        name = f.sentence.split()[0]
        last[name] = f.note.rsplit(" ", 1)[1]
    assert dict((q.split()[2].rstrip("?"), a) for q, a in qs) == last


def test_heldout_filler_style_is_not_in_training():
    assert "legal" not in filler.TRAIN_STYLES and "legal" in filler.HELDOUT_STYLES
    assert len(filler.TRAIN_STYLES) >= 5
    with pytest.raises(ValueError):
        filler.sentence("bible", random.Random(0))


def test_distractors_never_answer_the_same_question():
    """A second pass key or another 'Mary is in ...' among the distractors would make the
    answer a guess; distractors must be about other subjects."""
    rng = random.Random(3)
    for k in range(600):
        cases = data._qa_for_mem if k % 2 else data._tracking_for_mem
        needed = [f.note for f in cases(rng, "train")[0]]
        taken = set().union(*map(data.note_subjects, needed))
        for d in data._distractor_notes(rng, "train", 12, needed):
            assert not data.note_subjects(d) & taken, (d, needed)
    assert data.note_subjects("pass key: 123") == {"pass key"}
    assert data.note_subjects("Mary is in the kitchen") == {"Mary"}
    assert data.note_subjects("Mary has the apple") == {"Mary", "apple"}


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


def test_babi_object_replies_chain_two_notes():
    """qa2's reply first copies the note of the object's last holder event, then that person's
    place (now if they hold it, when they dropped it otherwise), then concludes."""
    rng = random.Random(5)
    seen = set()
    for _ in range(300):
        w = data.BabiWorld(rng, "train")
        notes = [w.step("all").note for _ in range(rng.randint(4, 14))]
        for q, place in w.questions()["qa2"]:
            o = q[len("Where is the "):-1]
            r = w.reply(q, place)
            first, second, final = r.split(".\n")
            assert final == f"The {o} is in the {place}."
            assert first == [n for n in notes if n.endswith(f" the {o}")][-1]  # the last holder event
            p, verb = first.split()[0], first.split()[1]
            moves = [i for i, n in enumerate(notes) if n.startswith(f"{p} is in the ")]
            if verb == "has":
                assert second == notes[moves[-1]]
            else:  # the place the person was in when the drop happened
                drop = max(i for i, n in enumerate(notes) if n == first)
                assert second == notes[max(i for i in moves if i < drop)].replace(" is in ", " was in ")
            seen.add(verb)
        for q, place in w.questions()["qa1"] + w.questions()["qa3"]:
            assert w.reply(q, place) == data.babi_reply(q, place)
    assert seen == {"has", "dropped"}


def test_babi_chained_reply_copies_the_notes_tokens(tok):
    """Each step of qa2's reply is spelt with its note's own tokens: a line starts without a
    space, as a note does (after ". " the name would be " Daniel", spelt with other pieces)."""

    def within(part, whole):
        return any(whole[k:k + len(part)] == part for k in range(len(whole) - len(part) + 1))

    rng, checked = random.Random(0), 0
    for _ in range(50):
        w = data.BabiWorld(rng, "test", babi_vocab=True)
        notes = [w.step("all").note for _ in range(12)]
        for q, place in w.questions()["qa2"]:
            reply = w.reply(q, place)
            first, second = (line.rstrip(".") for line in reply.split("\n")[:2])
            if " was in " in second:
                continue  # the drop case restates the note in the past tense
            assert first in notes and second in notes
            ids = tok.encode_text(reply)
            assert within(tok.encode_text(first), ids) and within(tok.encode_text(second), ids)
            assert not within(tok.encode_text(second), tok.encode_text(reply.replace("\n", " ")))  # why
            checked += 1
    assert checked > 20


def test_babi_replies_fit_the_answer_budgets(tok):
    """The evaluation and the benchmark decode bAbI replies for a fixed number of tokens: a cut
    reply loses its last sentence, the only one scored."""
    rng, longest = random.Random(0), 0
    for _ in range(1000):
        w = data.BabiWorld(rng, "test", babi_vocab=True)
        for _ in range(rng.randint(4, 14)):
            w.step("all")
        qs = w.questions()
        longest = max([longest] + [len(tok.encode_text(w.reply(q, a))) + 1 for q, a in qs["qa2"] + qs["qa3"]])
    assert 30 < longest <= data.BABI_REPLY_TOKENS  # + 1: the <|end|>


def test_babi_answers_copy_the_notes_tokens(tok):
    """A bAbI answer is a sentence ending in " the PLACE.": the place is spelt with exactly the
    tokens the note has, so answering is copying, not respelling ("garden" and " garden" share
    no piece)."""
    assert data.babi_reply("Where is Mary?", "garden") == "Mary is in the garden."
    assert data.babi_reply("Where is the milk?", "office") == "The milk is in the office."
    assert data.babi_reply("Where was the apple before the kitchen?", "hallway") == "The apple was in the hallway."
    assert tok.encode_text("garden") != tok.encode_text(" garden")[1:]  # why: bare is another spelling
    place = tok.encode_text(" garden")
    note, reply = tok.encode_text("Mary is in the garden"), tok.encode_text(data.babi_reply("Where is Mary?", "garden"))
    assert note[-len(place):] == place and reply[-len(place) - 1:-1] == place  # then the "."


def test_multi_needle_cases_ask_as_many_as_the_benchmark():
    """The benchmark asks 4 values (multivalue) and 4 keys (multiquery), as RULER does; a corpus
    that stops at 3 leaves the model to answer a 4th it never learned to reach."""
    from memgpt.bench import tasks
    rng = random.Random(5)
    for multivalue, asked in ((True, tasks.NIAH_VALUES), (False, tasks.NIAH_QUERIES)):
        sizes = set()
        for _ in range(200):
            facts, [(q, a)] = data._multi_needle(rng, "train", multivalue)
            assert a == ", ".join(f.qa[0][1] for f in facts)
            keys = {data.niah_note_key(f.note) for f in facts}
            assert len(keys) == (1 if multivalue else len(facts)) and all(k in q for k in keys)
            sizes.add(len(facts))
        assert sizes == set(range(2, asked + 1)), (multivalue, sizes)


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
        turns = r"<\|user\|>([^<]*)<\|end\|><\|assistant\|>((?:<\|scratch\|>[^<]*<\|/scratch\|>)*)[^<]*<\|end\|>"
        for said, notes in re.findall(turns, text):
            assert not re.search(r"(, | and )(My|You|Call) ", said), said  # "By the way, my ..."
            said = said.removeprefix("Oh, and ")
            if " and " in said and ". " not in said:  # one sentence, two statements
                joined += 1
                assert notes.count("<|scratch|>") == 2, (said, notes)
    assert joined >= 5
