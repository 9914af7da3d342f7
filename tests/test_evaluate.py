import pytest

from memgpt.training import evaluate


def test_answer_window_keeps_the_whole_memory_block(tok):
    """A long recent text is cut from the left, never the <|mem|> block (the old left cut dropped
    the block whenever the filler was long, and the score measured guessing)."""
    notes = [f"magic number for key{i}: {1000000 + i}" for i in range(6)]
    recent = " ".join(f"Sentence number {i} of a long held-out document." for i in range(200))
    ids = evaluate.answer_window(tok, notes, recent, "What is the pass key?", 256)
    assert len(ids) == 192  # the engine's window limit (a quarter of the block left to decode)
    assert len(evaluate.answer_window(tok, notes, recent, "Q?", 256, max_new=100)) == 156  # a long answer's room
    mem = tok.render_memory(notes)[0]
    assert ids[:len(mem)] == mem
    assert ids[-len(tok.render_prompt_for_reply("What is the pass key?")):] == tok.render_prompt_for_reply("What is the pass key?")
    assert tok.decode(ids).rstrip().endswith("<|assistant|>")
    assert "Sentence number 199 of a long held-out document." in tok.decode(ids)  # the end of the text is kept


def test_answer_window_keeps_a_short_recent_text_whole(tok):
    """A recent text shorter than the room is kept whole. (The slice `recent[len - room:]` kept
    only its last 2 * len - room tokens when len < room < 2 * len: 7 of the 510 windows of
    `memgpt eval --n 30` lost the start of their two held-out sentences.)"""
    recent = "The Licensor grants You a worldwide, royalty-free, non-exclusive licence to use the Work."
    n = len(tok.encode_text(recent))
    rooms = []
    for n_notes in range(1, 10):
        notes = [f"magic number for key{i}: {1000000 + i}" for i in range(n_notes)]
        ids = evaluate.answer_window(tok, notes, recent, "Q?", 256)
        room = 192 - len(tok.render_memory(notes)[0]) - len(tok.render_prompt_for_reply("Q?"))
        rooms.append(room)
        if room >= n:
            assert recent in tok.decode(ids) and len(ids) == 192 - (room - n)
        else:
            kept = tok.decode(ids).split("<|/mem|>")[1].split("<|user|>")[0]
            assert len(ids) == 192 and kept and recent.endswith(kept)  # its end, cut at the left
    assert any(n < r < 2 * n for r in rooms) and any(r < n for r in rooms)


def test_answer_window_too_small_is_an_error(tok):
    with pytest.raises(ValueError, match="no room"):
        evaluate.answer_window(tok, [f"pass key: {i}" * 5 for i in range(30)], "", "What is the pass key?", 64)


def test_multiquery_cases_ask_keys_out_of_note_order():
    """The evaluation asks its keys alphabetically, which for random keys is unrelated to the
    notes' order (as the benchmark's random depths make it); the expected values follow the
    question's order."""
    import random

    from memgpt.synth import facts
    rng = random.Random(3)
    reordered = 0
    for _ in range(100):
        notes, (q, expected) = evaluate._family_case("niah_multiquery", rng)
        value = {facts.niah_note_key(n): n.rsplit(": ", 1)[1] for n in notes}
        asked = sorted(value)
        assert facts.multiquery_question(asked) == q
        assert expected == ", ".join(value[k] for k in asked)
        reordered += asked != list(value)
    assert 20 < reordered < 100


def test_multiquery_reply_budget_holds_the_trained_reply(tok):
    """The budget is the restated-key reply plus a margin: a bare-values budget would cut the
    reply off, a fixed 96 would crowd distractors out of the window."""
    notes = ["magic number for zop-lirk: 123456", "magic number for abcd: 7654321"]
    reply = "For abcd: 7654321; for zop-lirk: 123456."
    assert evaluate.reply_budget(tok, "niah_multiquery", notes, "7654321, 123456") == len(tok.encode_text(reply)) + 8
    assert evaluate.reply_budget(tok, "passkey", ["pass key: 12345"], "12345") == len(tok.encode_text("12345")) + 8


def test_eval_answers_windows_fit_and_draw_the_same_cases_whatever_fits(tok, monkeypatch):
    """Each window leaves room for its answer, and how many distractors
    fit does not change which cases are drawn (a smaller window only drops distractors)."""
    from types import SimpleNamespace

    def run(block_size: int) -> tuple[list[str], dict]:
        asked: list[str] = []

        def fake_greedy(model, tok_, ids, max_new):
            assert len(ids) + max_new <= block_size
            text = tok.decode(ids)
            asked.append(text.rsplit("<|user|>", 1)[1])
            return ""
        monkeypatch.setattr(evaluate, "greedy", fake_greedy)
        model = SimpleNamespace(config=SimpleNamespace(block_size=block_size))
        return asked, evaluate.eval_answers(model, tok, 3, seed=5)

    small, out_small = run(256)
    large, out_large = run(1024)
    assert small == large and len(small) == 3 * len(evaluate.ANSWER_FAMILIES)
    assert all(r["score"] == 0 and r["distractors"] == 10 for r in out_large.values())
    assert out_small["niah_multiquery"]["distractors"] < 10 and out_small["passkey"]["distractors"] == 10


def test_families_subset_asks_only_those_and_refuses_unknown_names(tok, monkeypatch):
    """`memgpt eval --families niah_multivalue` (a larger draw of one family): only the families
    named are asked; an unknown name is a clear error, from the API and the command line."""
    from types import SimpleNamespace

    asked: list[str] = []
    monkeypatch.setattr(evaluate, "greedy", lambda model, tok_, ids, max_new: asked.append(tok.decode(ids)) or "")
    model = SimpleNamespace(config=SimpleNamespace(block_size=256))
    out = evaluate.eval_answers(model, tok, 4, seed=1, families=("niah_multivalue",))
    assert list(out) == ["niah_multivalue"] and len(asked) == 4
    assert all("What are all the special magic numbers for" in a.rsplit("<|user|>", 1)[1] for a in asked)
    with pytest.raises(ValueError, match="unknown families"):
        evaluate.eval_answers(model, tok, 1, seed=1, families=("niah_multivalu",))
    from memgpt import cli

    assert cli.main(["eval", "--families", "niah_multivalu", "--skip-notes"]) == 2  # before any model loads


def test_benchmark_windows_fill_with_grass_and_hold_the_needed_notes_alone(tok, monkeypatch):
    """`--recent-style grass --distractors 0`: the windows the benchmarks build (a block with the
    needed notes alone, filled to the window limit with grass that ends on any of its sentences);
    the default keeps two held-out sentences and 10 distractors."""
    from types import SimpleNamespace

    from memgpt.synth import filler
    from memgpt.window import window_limit

    seen: list[list[int]] = []
    monkeypatch.setattr(evaluate, "greedy", lambda model, tok_, ids, max_new: seen.append(ids) or "")
    model = SimpleNamespace(config=SimpleNamespace(block_size=256))
    out = evaluate.eval_answers(model, tok, 40, seed=3, distractors=0, families=("passkey",), recent_style="grass")
    assert out["passkey"]["distractors"] == 0
    ends = set()
    for ids in seen:
        assert len(ids) == window_limit(256)
        text = tok.decode(ids)
        assert text.count("pass key:") == 1 and "\n" not in text.split("<|/mem|>")[0]  # one note alone
        ends.add(next(g for g in filler.GRASS if text.split("<|user|>")[0].endswith(g)))
    assert ends == set(filler.GRASS)
    seen.clear()
    out = evaluate.eval_answers(model, tok, 5, seed=3, families=("passkey",))
    blocks = [tok.decode(ids).split("<|/mem|>")[0] for ids in seen]
    assert sum(b.count("\n") for b in blocks) == 5 * out["passkey"]["distractors"] > 5 * 9
    assert not any("The grass is green." in tok.decode(ids) for ids in seen)


def test_eval_loads_models_by_name_or_path_through_load_model(tok, monkeypatch, tmp_path):
    """`memgpt eval --model NAME|PATH` (`--checkpoint` its alias) loads through memgpt.models, so
    names work; the default is the bundled checkpoint, recorded by its path as before."""
    import json
    from types import SimpleNamespace

    from memgpt import cli, models
    from memgpt.checkpoint import default_checkpoint_dir

    loaded = []
    model = SimpleNamespace(config=SimpleNamespace(block_size=256))
    monkeypatch.setattr(models, "load_model", lambda name, device: loaded.append((name, device)) or (model, tok, {"step": 9}))
    monkeypatch.setattr(evaluate, "eval_answers", lambda *a, **k: {})
    for argv, name, recorded in ((["--model", "smollm2-base"], "smollm2-base", "smollm2-base"),
                                 (["--checkpoint", "runs/x"], "runs/x", "runs/x"),
                                 ([], None, default_checkpoint_dir())):
        out = tmp_path / "eval.json"
        assert cli.main(["eval", *argv, "--skip-notes", "--out", str(out)]) == 0
        assert loaded[-1] == (name, "cpu")
        res = json.loads(out.read_text())
        assert res["checkpoint"] == recorded and res["step"] == 9
