"""Benchmarks: task formats, lengths and depths, sample identity, what each method shows the
model, the run's outputs, resume and the command line. A tiny random model scores ~0: these
tests pin the machinery, not the accuracy."""
from __future__ import annotations

import json
import os
import random
import re
import shutil

import pytest
import torch

from memgpt.bench import methods as bench_methods
from memgpt import cli
from memgpt.bench import runner, tasks
from memgpt.bench.methods import Setup, chunk_text, needles_hit, tail_text
from memgpt.bench.score import score
from memgpt.bench.tasks import make_sample, parse_length
from memgpt.checkpoint import load_checkpoint, save_checkpoint
from memgpt.controller import EngineConfig
from memgpt.model import GPT, GPTConfig
from memgpt.synth import facts, filler
from memgpt.tokenizer import Tokenizer

GRASS_RUN = " ".join(filler.GRASS)
REQUIRED = ("task", "method", "length", "depth", "correct", "answer", "expected", "notes_written", "retrieval_hit",
            "ingest_tokens_per_s")
RUN_TASKS, RUN_LENGTHS, RUN_SAMPLES = ("passkey", "chat"), (300, 600), 2


@pytest.fixture(scope="module")
def bench_run(ckpt, tmp_path_factory):
    """One small run shared by the output tests: 2 tasks x 2 lengths x 2 samples x 4 methods."""
    out = str(tmp_path_factory.mktemp("bench"))
    res = runner.run(",".join(RUN_TASKS), RUN_LENGTHS, "all", RUN_SAMPLES, 7, out, ckpt, device="cpu",
                     progress=False, gemm_size=64)
    return out, res


def _offset_fraction(tok, doc: str, sentence: str) -> float:
    """Depth as RULER means it: tokens before the needle / tokens of everything else."""
    rest = len(tok.encode_text(doc)) - len(tok.encode_text(" " + sentence))
    return len(tok.encode_text(doc[:doc.index(sentence)])) / rest


def _slack(tok, doc: str, sentence: str) -> float:
    """Needles go in at sentence boundaries: the depth may miss by up to half a neighbouring
    sentence (legal filler has sentences of 200 tokens)."""
    def filler_only(part: str) -> list[str]:
        # the filler's own sentence splitter recovers its sentences (or coarser pieces: safe)
        return [x for x in filler._SENT_SPLIT.split(part.strip()) if not BABI.fullmatch(x) and not NEEDLE.fullmatch(x)]

    at = doc.index(sentence)
    before = (filler_only(doc[:at]) or [""])[-1]
    after = (filler_only(doc[at + len(sentence):]) or [""])[0]
    return (0.5 * max(len(tok.encode_text(before)), len(tok.encode_text(after))) + 2) / len(tok.encode_text(doc))


# ---- lengths ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,n", [("1000", 1000), ("1k", 1000), ("4K", 4000), ("64k", 64000), ("1M", 10**6),
                                    ("10M", 10**7), ("1.5k", 1500), ("4ki", 4096), ("1_000", 1000), (2048, 2048)])
def test_parse_length(text, n):
    assert parse_length(text) == n


@pytest.mark.parametrize("bad", ["", "k", "abc", "0", "-1k", "1kk", "1 tokens"])
def test_parse_length_rejects(bad):
    with pytest.raises(ValueError):
        parse_length(bad)


def test_format_length_round_trips():
    for n in (1000, 4000, 64000, 10**6, 10**7, 1500, 300):
        assert parse_length(tasks.format_length(n)) == n
    assert tasks.format_length(64000) == "64k" and tasks.format_length(10**6) == "1M"


# ---- task formats, lengths and depths ----------------------------------------------------------
@pytest.mark.parametrize("task", tasks.DOCUMENT_TASKS)
@pytest.mark.parametrize("length", [1000, 4000])
def test_documents_have_the_requested_length_and_depth(tok, task, length):
    for depth in (0.0, 0.5, 1.0):
        s = make_sample(tok, task, length, 0, depth, seed=3)
        n = len(tok.encode_text(s.document))
        assert n == s.tokens and abs(n - length) <= 0.02 * length, (task, n)
        for sentence in s.support:  # the oracle's sentences are in the document, in document order
            assert sentence in s.document
        starts = [s.document.index(x) for x in s.support]
        assert starts == sorted(starts)
        if task.startswith("passkey"):
            # the preamble comes first, so depth 0 sits right after it
            want = max(depth, len(tok.encode_text(tasks.PASSKEY_PREAMBLE)) / n)
            assert abs(s.actual_depth - want) <= _slack(tok, s.document, s.support[0])
        elif task.startswith("qa"):
            _assert_babi_depth(tok, s, depth)
        else:
            assert abs(s.actual_depth - depth) <= _slack(tok, s.document, s.support[0]), (task, depth, s.actual_depth)


def test_needles_always_follow_a_sentence_end(tok):
    """A filler sentence is cut to land on the length; a needle placed after that fragment would
    read as part of it ("... or a legal entity Sandra travelled to the office."). The fragment
    opens the filler instead, so at depth 1.0 too each needle follows a full stop."""
    glued = 0
    for task in ("qa1", "niah_single", "passkey_natural"):
        for length in (1000, 4000):
            for index in range(4):
                s = make_sample(tok, task, length, index, 1.0)
                for sentence in s.support:
                    before = s.document[:s.document.index(sentence)].rstrip()
                    glued += bool(before) and before[-1] not in ".!?"
    assert glued == 0


def test_passkey_is_mohtashami_format(tok):
    s = make_sample(tok, "passkey", 2000, 0, 0.4)
    k = s.expected
    assert re.fullmatch(r"\d{4,7}", k)
    needle = f"The pass key is {k}. Remember it. {k} is the pass key."
    assert s.document.count(needle) == 1 and s.document.startswith(tasks.PASSKEY_PREAMBLE)
    assert GRASS_RUN in s.document and s.question == "What is the pass key?"
    assert abs(_offset_fraction(tok, s.document, needle) - 0.4) <= _slack(tok, s.document, needle) < 0.01
    rest = s.document.replace(needle, "").replace(tasks.PASSKEY_PREAMBLE, "")
    noise = re.split(r"(?<=\.)\s+", rest.strip())
    assert set(noise[1:]) <= set(filler.GRASS) and any(g.endswith(noise[0]) for g in filler.GRASS)
    assert not re.search(r"\d", rest)  # nothing else numeric in the noise


def test_passkey_natural_uses_held_out_prose(tok):
    s = make_sample(tok, "passkey_natural", 3000, 0, 0.5)
    legal = set(filler._legal())
    assert "The grass is green." not in s.document
    assert sum(sent in s.document for sent in list(legal)[:2000]) >= 5
    assert f"The pass key is {s.expected}. Remember it. {s.expected} is the pass key." in s.document


NEEDLE = re.compile(r"One of the special magic numbers for (\S+) is: (\d+)\.")


def _needles(doc: str) -> list[tuple[str, str]]:
    return NEEDLE.findall(doc)


def _key_of(question: str) -> str:
    return re.fullmatch(r"What is the special magic number for (\S+) mentioned in the provided text\?", question)[1]


def test_niah_single_and_multikey_are_ruler_format(tok):
    s = make_sample(tok, "niah_single", 2000, 1, 0.25)
    assert _needles(s.document) == [(_key_of(s.question), s.expected)] and GRASS_RUN in s.document
    m = make_sample(tok, "niah_multikey", 2000, 1, 0.25)  # RULER niah_multikey_1: the essay haystack
    found = _needles(m.document)
    assert len(found) == tasks.NIAH_KEYS and len({k for k, _ in found}) == tasks.NIAH_KEYS
    assert dict(found)[_key_of(m.question)] == m.expected and _is_essay(m.document)
    h = make_sample(tok, "niah_multikey_2", 2000, 1, 0.25)  # haystack of other keys' needles only
    found = _needles(h.document)
    assert len(found) > 50 and len({k for k, _ in found}) == len(found)
    assert [v for k, v in found if k == _key_of(h.question)] == [h.expected]
    assert "grass" not in h.document
    assert abs(_offset_fraction(tok, h.document, h.support[0]) - 0.25) <= _slack(tok, h.document, h.support[0]) < 0.02


def _is_essay(doc: str) -> bool:
    """RULER's essay haystack is the held-out prose here (never Paul Graham's essays)."""
    legal = set(filler._legal())
    return "grass" not in doc and sum(s in legal for s in filler._SENT_SPLIT.split(doc)) >= 3


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
UUID_NEEDLE = re.compile(r"One of the special magic uuids for (\S+) is: (" + UUID + r")\.")


def test_niah_tasks_are_rulers_eight_configurations(tok):
    """RULER's synthetic.yaml: haystack, key and value kinds of each niah task; all of them run."""
    assert tasks.NIAH_CONFIGS == {
        "niah_single": ("noise", "word", "number"), "niah_single_2": ("essay", "word", "number"),
        "niah_single_3": ("essay", "word", "uuid"), "niah_multikey": ("essay", "word", "number"),
        "niah_multikey_2": ("needle", "word", "number"), "niah_multikey_3": ("needle", "uuid", "uuid"),
        "niah_multivalue": ("essay", "word", "number"), "niah_multiquery": ("essay", "word", "number")}
    assert set(tasks.NIAH_TASKS) <= set(tasks.TASKS) and set(tasks.NIAH_TASKS) <= set(runner._names("all", tasks.TASKS, "task"))
    assert runner._names("niah_single_2,niah_single_3,niah_multikey_3", tasks.TASKS, "task") == [
        "niah_single_2", "niah_single_3", "niah_multikey_3"]
    s2 = make_sample(tok, "niah_single_2", 2000, 1, 0.25)
    assert _needles(s2.document) == [(_key_of(s2.question), s2.expected)] and _is_essay(s2.document)
    assert abs(_offset_fraction(tok, s2.document, s2.support[0]) - 0.25) <= _slack(tok, s2.document, s2.support[0])


def test_niah_uuid_tasks(tok):
    s = make_sample(tok, "niah_single_3", 2000, 1, 0.25)  # word key, uuid value, essay haystack
    key = re.fullmatch(r"What is the special magic uuid for (\S+) mentioned in the provided text\?", s.question)[1]
    assert re.fullmatch(UUID, s.expected) and not re.fullmatch(UUID, key)
    assert UUID_NEEDLE.findall(s.document) == [(key, s.expected)] and not _needles(s.document)
    assert s.support == [f"One of the special magic uuids for {key} is: {s.expected}."] and _is_essay(s.document)
    assert len(tok.encode_text(" " + s.expected)) < s.answer_tokens
    assert score(f"The special magic uuid for {key} is {s.expected.upper()}.", s.expected) == 1.0
    assert score(s.expected[:-1], s.expected) == 0.0
    m = make_sample(tok, "niah_multikey_3", 2000, 1, 0.25)  # uuid keys and values in a haystack of needles
    key = re.fullmatch(r"What is the special magic uuid for (" + UUID + r") mentioned in the provided text\?", m.question)[1]
    found = UUID_NEEDLE.findall(m.document)
    assert len(found) > 10 and all(re.fullmatch(UUID, k) for k, _ in found) and len({k for k, _ in found}) == len(found)
    assert [v for k, v in found if k == key] == [m.expected] and "grass" not in m.document
    rest = " ".join(UUID_NEEDLE.sub("", m.document).split())  # nothing but needles, and the cut one opening it
    assert rest == "" or (m.document.startswith(rest) and len(rest) < 120)
    assert abs(_offset_fraction(tok, m.document, m.support[0]) - 0.25) <= _slack(tok, m.document, m.support[0]) < 0.05
    assert m.needles == [[m.expected]] and needles_hit(m, [f"magic uuid for {key}: {m.expected}"]) == 1.0
    train = {facts.uuid_value(random.Random(i), "train") for i in range(200)}
    assert all(facts._split_ok(v, "test") for _, v in found) and not train & {v for _, v in found}


def test_niah_multivalue_and_multiquery(tok):
    s = make_sample(tok, "niah_multivalue", 2000, 0, 0.5)
    assert _is_essay(s.document)
    key = re.fullmatch(r"What are all the special magic numbers for (\S+) mentioned in the provided text\?", s.question)[1]
    found = _needles(s.document)
    assert len(found) == tasks.NIAH_VALUES and {k for k, _ in found} == {key}
    assert sorted(s.expected.split(", ")) == sorted(v for _, v in found)
    assert score(", ".join(v for _, v in found), s.expected) == 1.0
    q = make_sample(tok, "niah_multiquery", 2000, 0, 0.5)
    found = dict(_needles(q.document))
    assert _is_essay(q.document)
    assert len(found) == tasks.NIAH_QUERIES
    assert all(k in q.question for k in found) and q.question.startswith("What are all the special magic numbers for")
    assert sorted(q.expected.split(", ")) == sorted(found.values())
    # the answer budget holds the trained reply (each key restated before its value) for 4 keys
    reply = facts.multiquery_reply(list(found), list(found.values()))
    assert len(tok.encode_text(reply)) < q.answer_tokens and score(reply, q.expected) == 1.0


BABI = re.compile(r"(Mary|John|Sandra|Daniel) (moved to|went to|journeyed to|travelled to|went back to|picked up|got|"
                  r"grabbed|took|dropped|discarded|put down|left) the (\w+)\.")


def _assert_babi_depth(tok, s, depth: float) -> None:
    """The last supporting fact sits at the depth, except that story order wins: events before it
    may push it later, events after it may pull it earlier (crowding at depth 0 and 1)."""
    at = s.document.index(s.support[-1])
    rest = len(tok.encode_text(s.document)) - len(tok.encode_text(" " + s.support[-1]))
    crowd = [sum(len(tok.encode_text(" " + m.group(0))) for m in BABI.finditer(part)) / rest
             for part in (s.document[:at], s.document[at + len(s.support[-1]):])]
    actual = _offset_fraction(tok, s.document, s.support[-1])
    assert abs(actual - s.actual_depth) < 0.01
    slack = _slack(tok, s.document, s.support[-1])
    assert -slack - crowd[1] <= actual - depth <= slack + crowd[0], (s.task, depth, actual)


def _replay_babi(doc: str):
    """An independent bAbI simulation over the document's story sentences, in reading order."""
    loc, holder, hist = {}, {}, {}

    def moved(o, where):
        if not hist.get(o) or hist[o][-1] != where:
            hist.setdefault(o, []).append(where)

    for who, verb, what in BABI.findall(doc):
        if what in facts.BABI_PLACES:
            loc[who] = what
            for o, h in holder.items():
                if h == who:
                    moved(o, what)
        elif verb in ("picked up", "got", "grabbed", "took"):
            holder[what] = who
            moved(what, loc[who])
        else:
            holder[what] = None
            moved(what, loc[who])
    return loc, hist


@pytest.mark.parametrize("task", ["qa1", "qa2", "qa3"])
def test_babi_story_in_natural_filler_answers_the_latest_state(tok, task):
    for i in range(4):
        s = make_sample(tok, task, 1500, i, i / 3)
        story = BABI.findall(s.document)
        assert len(story) == tasks.BABI_EVENTS[task]
        assert {w for w, _, _ in story} <= set(facts.BABI_PEOPLE)  # bAbI's own vocabulary
        assert {x for _, _, x in story} <= set(facts.BABI_PLACES) | set(facts.BABI_OBJECTS)
        assert "The grass is green." not in s.document and any(x in s.document for x in filler._legal())
        loc, hist = _replay_babi(s.document)
        if task == "qa1":
            who = re.fullmatch(r"Where is (\w+)\?", s.question)[1]
            assert s.expected == loc[who]
        elif task == "qa2":
            obj = re.fullmatch(r"Where is the (\w+)\?", s.question)[1]
            assert s.expected == hist[obj][-1]
        else:
            obj, last = re.fullmatch(r"Where was the (\w+) before the (\w+)\?", s.question).groups()
            assert last == hist[obj][-1] and s.expected == hist[obj][-2]
        _assert_babi_depth(tok, s, i / 3)


def test_chat_sample(tok):
    for depth in (0.0, 0.5, 1.0):
        s = make_sample(tok, "chat", 3000, 0, depth)
        assert s.is_chat and not s.document and len(s.turns) > 10
        planned = sum(len(tok.render_prompt_for_reply(m)) + tasks.REPLY_PLAN + 1 for m in s.turns)
        assert planned == s.tokens and abs(planned - 3000) <= 0.03 * 3000
        fact = s.support[0]
        assert fact in s.turns and s.expected in fact
        i = s.turns.index(fact)
        statements = [st for _, sts, _, _, _ in facts.CHAT_SLOTS for st in sts]
        questions = [q for _, _, _, qs, _ in facts.CHAT_SLOTS for q in qs]

        def is_statement(t: str) -> bool:
            return any(re.fullmatch(re.escape(st).replace(re.escape("{v}"), ".+"), t) for st in statements)

        assert s.question in questions and is_statement(fact)
        assert is_statement(s.turns[0]) and is_statement(s.turns[1])  # two other facts open the chat
        assert sum(map(is_statement, s.turns)) == 3
        assert abs(s.actual_depth - depth) < 0.08 and (depth > 0 or i == 2)


def test_samples_are_deterministic_and_distinct(tok):
    a = make_sample(tok, "niah_multikey", 1000, 2, 0.3, seed=5)
    b = make_sample(tok, "niah_multikey", 1000, 2, 0.3, seed=5)
    assert a == b and a.digest() == b.digest()
    assert make_sample(tok, "niah_multikey", 1000, 3, 0.3, seed=5).digest() != a.digest()
    assert make_sample(tok, "niah_multikey", 1000, 2, 0.3, seed=6).digest() != a.digest()


def test_depths_spread_over_samples():
    assert tasks.sample_depths(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tasks.sample_depths(1) == [0.5]
    assert tasks.sample_depths(3, [0.1, 0.9]) == [0.1, 0.9, 0.1]


def test_unknown_task_is_rejected(tok):
    with pytest.raises(ValueError, match="unknown task"):
        make_sample(tok, "qa99", 1000)
    with pytest.raises(ValueError, match="unknown method"):
        runner._names("window,telepathy", tasks.METHODS, "method")


# ---- scoring and retrieval hits ----------------------------------------------------------------
def test_scoring_and_needles(tok):
    assert score("The pass key is 48213.", "48213") == 1.0
    assert score("1111111 and 2222222", "1111111, 2222222, 3333333, 4444444") == 0.5
    assert score("kitchen", "bathroom") == 0.0
    # bAbI: only the conclusion counts, not a place named on the way to it
    chain = "Daniel has the milk. Daniel is in the office. The milk is in the {}."
    assert score(chain.format("office"), "office", last_sentence=True) == 1.0
    assert score(chain.format("garden"), "office", last_sentence=True) == 0.0
    assert score(chain.format("garden"), "office") == 1.0  # why the bAbI scores need last_sentence
    assert score("Daniel has the milk. Daniel is in the off", "office", last_sentence=True) == 0.0
    s = make_sample(tok, "qa3", 1000, 0, 0.5)
    moves = [(p, x) for p, x in s.needles if x in facts.BABI_PLACES]
    assert 0 < len(moves) < len(s.needles)
    assert needles_hit(s, [f"{p} is in the {x}" for p, x in moves]) == len(moves) / len(s.needles)
    assert needles_hit(s, [f"Somebody is in the {x}" for _, x in moves] + [p for p, _ in moves]) == 0.0
    m = make_sample(tok, "niah_multivalue", 1000, 0, 0.5)
    vals = m.expected.split(", ")
    assert needles_hit(m, [f"magic number: {vals[0]}", f"x {vals[2]}"]) == 0.5


def test_chunks_and_tail(tok):
    text = "Alpha one. Beta two! Alpha one. " + "word " * 200 + "end."
    chunks = chunk_text(text, tok, 16)
    assert chunks[0] == "Beta two!" and chunks[1] == "Alpha one."  # a repeat moves to its last occurrence
    assert all(len(tok.encode_text(c)) <= 16 for c in chunks) and len(chunks) > 10
    doc = make_sample(tok, "passkey_natural", 3000, 0, 0.5).document
    tail = tail_text(doc, tok, 128)
    assert abs(len(tok.encode_text(tail)) - 128) <= 2 and doc.endswith(tail[-40:])


# ---- what each method shows the model ----------------------------------------------------------
def test_methods_see_what_they_should(ckpt, tok):
    model, tok2, _ = load_checkpoint(ckpt)
    setup = Setup(model, tok2, EngineConfig(device="cpu"))
    s = make_sample(tok2, "passkey", 2000, 0, 0.0)
    needle = s.support[0]
    seen = {}
    for method in ("window", "rag", "oracle", "notes"):
        bot = setup.bot(memory=method in ("rag", "notes"))
        bench_methods._read(method, s, setup, bot)
        seen[method] = (tok2.decode(bot.engine.history), bot.memory.list(limit=10_000), bot.engine.budget)
        bot.close()
    window_text, window_store, window_budget = seen["window"]
    assert s.expected not in window_text and window_budget == 0  # the early needle is gone; no memory block
    assert s.document.rstrip().endswith(window_text.rstrip()[-30:])
    rag_text, rag_store, rag_budget = seen["rag"]
    assert rag_text == window_text and rag_budget > 0
    assert rag_store and all(n.source == "user" for n in rag_store)  # raw chunks only, no model notes
    assert all(n.text in s.document for n in rag_store) and any(s.expected in n.text for n in rag_store)
    oracle_text, _, oracle_budget = seen["oracle"]
    assert needle in oracle_text and oracle_budget == 0 and len(tok2.encode_text(oracle_text)) < 64
    notes_store = seen["notes"][1]
    assert all(n.source == "ingest" for n in notes_store)


# ---- a whole run -------------------------------------------------------------------------------
def test_run_writes_every_output(bench_run):
    out, res = bench_run
    n = len(RUN_TASKS) * len(RUN_LENGTHS) * RUN_SAMPLES * len(tasks.METHODS)
    assert res["evaluated"] == n and res["skipped"] == 0
    with open(os.path.join(out, "results.json")) as f:
        records = json.load(f)
    assert len(records) == n
    for r in records:
        for k in REQUIRED:
            assert k in r, k
        assert isinstance(r["length"], int) and r["length"] in RUN_LENGTHS
        assert 0.0 <= r["depth"] <= 1.0 and 0.0 <= r["correct"] <= 1.0
        assert r["correct"] == score(r["answer"], r["expected"], last_sentence=r["task"].startswith("qa"))
        assert isinstance(r["notes_written"], int) and isinstance(r["answer"], str)
        if r["method"] in ("rag", "notes"):
            assert 0.0 <= r["retrieval_hit"] <= 1.0
        else:
            assert r["retrieval_hit"] is None and r["injected"] == []
        assert r["ingest_tokens_per_s"] is None or r["ingest_tokens_per_s"] > 0
    assert {r["depth"] for r in records} == {0.0, 1.0}
    with open(os.path.join(out, "summary.md")) as f:
        summary = f.read()
    assert "| task | length | window | rag | notes | oracle |" in summary
    for t in RUN_TASKS:
        assert f"| {t} | 300 |" in summary and f"| {t} | 600 |" in summary
    assert "GFLOP/s" in summary and "peak RSS" in summary and "flatness" in summary
    for name in [f"accuracy_{t}.png" for t in RUN_TASKS] + [f"heatmap_notes_{t}.png" for t in RUN_TASKS] + \
            ["heatmap_notes_all.png"]:
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
    cost = res["cost"]
    assert cost["gemm"]["flop_per_s"] > 0 and cost["peak_rss_mb"] > 0
    assert set(cost["ingest_tokens_per_s_by_length"]) == {"300", "600"}


def test_samples_are_identical_across_methods(bench_run):
    _, res = bench_run
    by_sample: dict[tuple, set] = {}
    for r in res["records"]:
        by_sample.setdefault((r["task"], r["length"], r["index"]), set()).add(
            (r["doc_sha"], r["question"], r["expected"], r["depth"]))
    assert len(by_sample) == len(RUN_TASKS) * len(RUN_LENGTHS) * RUN_SAMPLES
    assert all(len(v) == 1 for v in by_sample.values())
    assert len({next(iter(v))[0] for v in by_sample.values()}) == len(by_sample)  # and distinct from each other


def test_resume_skips_finished_work(bench_run, ckpt, tmp_path, monkeypatch):
    src, first = bench_run
    out = str(tmp_path / "resumed")
    shutil.copytree(src, out)
    calls = []
    real = bench_methods.run_method
    monkeypatch.setattr(bench_methods, "run_method", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    args = (",".join(RUN_TASKS), RUN_LENGTHS, "all", RUN_SAMPLES, 7, out, ckpt)
    res = runner.run(*args, device="cpu", progress=False, plots=False, gemm_size=64)
    assert calls == [] and res["evaluated"] == 0 and res["skipped"] == len(first["records"])
    assert [r["answer"] for r in res["records"]] == [r["answer"] for r in first["records"]]
    # drop two finished lines and tear the last one, as a kill mid-write would
    path = os.path.join(out, "results.jsonl")
    with open(path) as f:
        lines = f.readlines()
    with open(path, "w") as f:
        f.writelines(lines[:-2])
        f.write(lines[-2][:25])
    res = runner.run(*args, device="cpu", progress=False, plots=False, gemm_size=64)
    assert len(calls) == 2 and res["evaluated"] == 2
    res = runner.run(*args, device="cpu", progress=False, plots=False, gemm_size=64)  # the torn line is healed
    assert len(calls) == 2 and res["evaluated"] == 0 and len(res["records"]) == len(first["records"])
    # another seed is another benchmark: nothing is reused
    res = runner.run("passkey", [300], "window", RUN_SAMPLES, 8, out, ckpt, device="cpu", progress=False,
                     plots=False, gemm_size=64)
    assert res["evaluated"] == RUN_SAMPLES and len(calls) == 2 + RUN_SAMPLES


def test_quick_defaults_and_cli(ckpt, tmp_path, capsys):
    out = str(tmp_path / "cli")
    code = cli.main(["bench", "--tasks", "niah_single", "--lengths", "300", "--methods", "window,notes", "--samples",
                     "1", "--out", out, "--checkpoint", ckpt, "--device", "cpu", "--no-plots", "--no-progress",
                     "--gemm-size", "64"])
    assert code == 0 and "| niah_single | 300 |" in capsys.readouterr().out
    with open(os.path.join(out, "results.json")) as f:
        assert [r["method"] for r in json.load(f)] == ["window", "notes"]
    assert cli.main(["bench", "--tasks", "nope", "--out", out, "--checkpoint", ckpt]) == 2
    assert "memgpt bench: error: unknown task nope" in capsys.readouterr().err
    assert cli.main(["bench", "--lengths", "lots", "--out", out, "--checkpoint", ckpt]) == 2
    assert "bad length 'lots'" in capsys.readouterr().err
    args = cli.build_parser("bench").parse_args(["bench", "--quick", "--out", out])
    assert args.quick and args.samples is None and args.command == "bench"


def test_two_models_side_by_side(ckpt, tmp_path, capsys):
    """`memgpt bench --model a,b`: each model's full run in OUT/<model>/, one table of both."""
    from memgpt.bench.runner import side_by_side_table
    out = tmp_path / "both"
    code = cli.main(["bench", "--tasks", "passkey", "--lengths", "300", "--methods", "window,notes", "--samples", "1",
                     "--out", str(out), "--model", f"{ckpt},tiny", "--device", "cpu", "--no-plots", "--no-progress",
                     "--gemm-size", "64"])
    assert code == 0
    runs = {}
    for name in (os.path.basename(ckpt), "tiny"):
        with open(out / name / "results.json") as f:
            runs[name] = {"records": json.load(f)}
        assert [r["method"] for r in runs[name]["records"]] == ["window", "notes"]
    table = (out / "side_by_side.md").read_text()
    assert f"| task | length | method | {ckpt} | tiny |" in table
    assert side_by_side_table({ckpt: runs[os.path.basename(ckpt)], "tiny": runs["tiny"]}) in table
    assert "| passkey | 300 | notes |" in capsys.readouterr().out
    assert cli.main(["bench", "--model", "tiny,tiny", "--out", str(out)]) == 2  # named twice: a clear error
