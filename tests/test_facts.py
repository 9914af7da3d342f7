"""memgpt.synth: the fact families in their published wording, disjoint pools, bAbI replies that copy notes."""
import random

import pytest

from memgpt.synth import facts, filler


def test_train_and_test_pools_are_disjoint():
    for pool in (facts.people, facts.places, facts.objects):
        assert not set(pool("train")) & set(pool("test"))
        assert pool("test")
    assert set(facts.BABI_PEOPLE) <= set(facts.people("test"))  # benchmark vocabulary is held out
    # also from fresh words: "garden" hashes to train, but the pieces "gard" + "en" must not spell it
    assert not any(facts._split_ok(w, "train") for w in facts.BABI_PLACES + facts.BABI_OBJECTS + facts.BABI_PEOPLE)
    rng = random.Random(0)
    train = {facts.pseudo_word(rng, "train") for _ in range(3000)}
    test = {facts.pseudo_word(rng, "test") for _ in range(3000)}
    assert not train & test
    assert len(train) > 2900  # a vast space: fresh words, hardly any repeats


def test_facts_use_published_wording():
    rng = random.Random(0)
    f = facts.passkey_fact(rng, "test")
    k = f.note.split(": ")[1]
    assert f.sentence == f"The pass key is {k}. Remember it. {k} is the pass key."
    n = facts.niah_fact(rng, "test", key="alpha-beta")
    assert n.sentence.startswith("One of the special magic numbers for alpha-beta is: ")
    w = facts.BabiWorld(rng, "test", babi_vocab=True)
    events = [w.step("move") for _ in range(5)]
    assert all(any(x in f.sentence for x in facts._MOVE) for f in events)
    qs = w.questions()["qa1"]
    last = {}
    for f in events:  # the latest state wins
        name = f.sentence.split()[0]
        last[name] = f.note.rsplit(" ", 1)[1]
    assert dict((q.split()[2].rstrip("?"), a) for q, a in qs) == last


def test_heldout_filler_style_is_not_in_training():
    assert "legal" not in filler.TRAIN_STYLES and "legal" in filler.HELDOUT_STYLES
    assert len(filler.TRAIN_STYLES) >= 5
    with pytest.raises(ValueError):
        filler.sentence("bible", random.Random(0))


def test_babi_object_replies_chain_two_notes():
    """qa2's reply first copies the note of the object's last holder event, then that person's
    place (now if they hold it, when they dropped it otherwise), then concludes."""
    rng = random.Random(5)
    seen = set()
    for _ in range(300):
        w = facts.BabiWorld(rng, "train")
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
            assert w.reply(q, place) == facts.babi_reply(q, place)
    assert seen == {"has", "dropped"}


def test_babi_chained_reply_copies_the_notes_tokens(tok):
    """Each step of qa2's reply is spelt with its note's own tokens: a line starts without a
    space, as a note does (after ". " the name would be " Daniel", spelt with other pieces)."""

    def within(part, whole):
        return any(whole[k:k + len(part)] == part for k in range(len(whole) - len(part) + 1))

    rng, checked = random.Random(0), 0
    for _ in range(50):
        w = facts.BabiWorld(rng, "test", babi_vocab=True)
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
        w = facts.BabiWorld(rng, "test", babi_vocab=True)
        for _ in range(rng.randint(4, 14)):
            w.step("all")
        qs = w.questions()
        longest = max([longest] + [len(tok.encode_text(w.reply(q, a))) + 1 for q, a in qs["qa2"] + qs["qa3"]])
    assert 30 < longest <= facts.BABI_REPLY_TOKENS  # + 1: the <|end|>


def test_babi_answers_copy_the_notes_tokens(tok):
    """A bAbI answer is a sentence ending in " the PLACE.": the place is spelt with exactly the
    tokens the note has, so answering is copying, not respelling ("garden" and " garden" share
    no piece)."""
    assert facts.babi_reply("Where is Mary?", "garden") == "Mary is in the garden."
    assert facts.babi_reply("Where is the milk?", "office") == "The milk is in the office."
    assert facts.babi_reply("Where was the apple before the kitchen?", "hallway") == "The apple was in the hallway."
    assert tok.encode_text("garden") != tok.encode_text(" garden")[1:]  # why: bare is another spelling
    place = tok.encode_text(" garden")
    note, reply = tok.encode_text("Mary is in the garden"), tok.encode_text(facts.babi_reply("Where is Mary?", "garden"))
    assert note[-len(place):] == place and reply[-len(place) - 1:-1] == place  # then the "."


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_uuid_needles_use_ruler_wording():
    """RULER's uuid needle and question (niah_single_3, niah_multikey_3), and the note form
    "magic uuid for KEY: VALUE"."""
    import re

    f = facts.niah_fact(random.Random(1), "test", key="alpha-beta", kind="uuid")
    v = f.qa[0][1]
    assert re.fullmatch(UUID, v)
    assert f.sentence == f"One of the special magic uuids for alpha-beta is: {v}."
    assert f.note == f"magic uuid for alpha-beta: {v}"
    assert f.qa == [("What is the special magic uuid for alpha-beta mentioned in the provided text?", v)]
    g = facts.niah_fact(random.Random(2), "test", kind="uuid", key_kind="uuid")  # uuid keys too
    key = facts.niah_note_key(g.note)
    assert re.fullmatch(UUID, key) and re.fullmatch(UUID, g.qa[0][1]) and key != g.qa[0][1]
    assert g.sentence == f"One of the special magic uuids for {key} is: {g.qa[0][1]}."
    assert facts.multivalue_question("k", "uuid") == "What are all the special magic uuids for k mentioned in the provided text?"
    assert facts.multiquery_question(["a", "b"], "uuid").startswith("What are all the special magic uuids for a and b ")
    with pytest.raises(ValueError):
        facts.niah_fact(random.Random(0), "test", kind="colour")


def test_number_needles_draw_as_before():
    """The uuid kind must not move the number needles' draws: the benchmark's samples stay the same."""
    a, b = random.Random(9), random.Random(9)
    f = facts.niah_fact(a, "test")
    key = facts.niah_key(b, "test")
    assert f.note == f"magic number for {key}: {facts.digits(b, 6, 7)}" and a.random() == b.random()


def test_uuids_are_seeded_and_split():
    import re

    draw = [facts.uuid_value(random.Random(3), "train") for _ in range(2)]
    assert draw[0] == draw[1]  # a function of the rng
    rng = random.Random(0)
    train = {facts.uuid_value(rng, "train") for _ in range(2000)}
    test = {facts.uuid_value(rng, "test") for _ in range(500)}
    assert all(re.fullmatch(UUID, u) for u in train | test)
    assert len(train) == 2000 and not train & test
    assert all(facts._split_ok(u, "test") for u in test) and not any(facts._split_ok(u, "test") for u in train)


def test_niah_note_key_reads_both_forms():
    u = "3f2b8c1e-0d4a-4e6f-9a7b-1c2d3e4f5a6b"
    assert facts.niah_note_key("magic number for alpha-beta: 1234567") == "alpha-beta"
    assert facts.niah_note_key(f"magic uuid for alpha-beta: {u}") == "alpha-beta"
    assert facts.niah_note_key(f"magic uuid for {u}: {u[::-1]}") == u
    assert facts.parse_niah_note(f"magic uuid for k: {u}") == ("uuid", "k", u)
    assert facts.parse_niah_note("magic number for k: 42") == ("number", "k", "42")
    assert facts.parse_niah_note("user name: Ada") is None
    with pytest.raises(ValueError):
        facts.niah_note_key("pass key: 1234")
    for kind, key_kind in (("number", "word"), ("uuid", "word"), ("uuid", "uuid")):
        rng = random.Random(4)
        for _ in range(50):
            f = facts.niah_fact(rng, "train", kind=kind, key_kind=key_kind)
            assert facts.parse_niah_note(f.note) == (kind, f.note.split(" for ", 1)[1].rsplit(": ", 1)[0], f.qa[0][1])
