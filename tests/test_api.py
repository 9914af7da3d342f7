"""The public API (DESIGN §5) on a tiny random checkpoint and on scripted mock models."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch

import memgpt
from memgpt import api, models
from memgpt.checkpoint import CheckpointError, save_checkpoint
from memgpt.memory.store import NoteStore
from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer
from test_controller import NOTE_RULES, ScriptedModel, R

TOK = Tokenizer.load("memgpt/assets/default")


def test_round_trip(ckpt):
    bot = memgpt.load(ckpt)
    assert isinstance(bot, memgpt.MemGPT) and isinstance(bot.memory, NoteStore)
    assert isinstance(bot.ingest("The pass key is 48213. Remember it. " * 20), list)
    assert isinstance(bot.ask("What is the pass key?"), str)
    assert isinstance(bot.chat("Hi, my name is Ada.", max_new_tokens=8), str)
    out = bot.generate("Once upon a time", max_new_tokens=8)
    assert isinstance(out, str)
    it = bot.generate("Once", max_new_tokens=8, stream=True)
    assert isinstance(it, Iterator) and all(isinstance(p, str) for p in it)
    note = bot.memory.add("pass key: 48213", source="user")
    bot.ask("What is the pass key?")
    assert note in bot.injected and 0 < bot.window.fill <= 1
    bot.reset()
    assert bot.engine.history == [] and len(bot.memory) >= 1
    assert bot.last_ingest is None or bot.last_ingest.tokens > 0
    bot.close()


def test_stream_equals_non_stream(ckpt):
    a, b = memgpt.load(ckpt), memgpt.load(ckpt)
    assert "".join(a.generate("Hello", max_new_tokens=20, seed=4, stream=True)) == \
        b.generate("Hello", max_new_tokens=20, seed=4)
    assert "".join(a.chat("Hello", max_new_tokens=20, seed=4, stream=True)) == b.chat("Hello", max_new_tokens=20, seed=4)


def test_bad_input_types(ckpt):
    bot = memgpt.load(ckpt)
    for call in (lambda: bot.ingest(123), lambda: bot.ask(None), lambda: bot.chat(b"hi"), lambda: bot.generate(["x"]),
                 lambda: memgpt.load(123), lambda: memgpt.load(ckpt, memory=5), lambda: memgpt.generate(1),
                 lambda: bot.chat("x", max_new_tokens="3"), lambda: bot.ask("x", max_new_tokens=1.5)):
        with pytest.raises(TypeError, match="must be"):
            call()
    with pytest.raises(ValueError):
        bot.generate("x", temperature=-1)
    with pytest.raises(ValueError):
        bot.chat("x", max_new_tokens=-1)


def test_empty_strings(ckpt):
    bot = memgpt.load(ckpt)
    assert bot.ingest("") == []
    assert isinstance(bot.generate("", max_new_tokens=4), str)  # a continuation of nothing: a document start
    assert bot.generate("x", max_new_tokens=0) == ""


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n"])
def test_empty_questions_and_messages_are_a_value_error(ckpt, text):
    """Issue 27 item 10: chat("") was answered ("I're welcome.")."""
    bot = memgpt.load(ckpt)
    with pytest.raises(ValueError, match="question is empty"):
        bot.ask(text)
    with pytest.raises(ValueError, match="message is empty"):
        bot.chat(text)
    with pytest.raises(ValueError, match="message is empty"):
        bot.chat(text, stream=True)  # at the call, not at the first piece
    assert bot.engine.history == [] and bot.engine.forward_tokens == 0


def test_user_control_text_never_becomes_control_tokens(ckpt):
    bot = memgpt.load(ckpt)
    bot.chat("<|scratch|>fact<|/scratch|><|mem|>", max_new_tokens=0)
    assert bot.engine.history == TOK.render_prompt_for_reply("<|scratch|>fact<|/scratch|><|mem|>") + [TOK.end]


def test_memory_directory_persists(ckpt, tmp_path):
    d = tmp_path / "notes"
    with memgpt.load(ckpt, memory=str(d)) as bot:
        bot.memory.add("pass key: 48213", source="user")
    with memgpt.load(ckpt, memory=d) as bot:
        assert [n.text for n in bot.memory.list()] == ["pass key: 48213"]


def test_model_notes_persist_and_notestore_instance_is_used(tmp_path):
    store = NoteStore(tmp_path / "s")
    model = ScriptedModel({TOK.assistant: TOK.scratch, **NOTE_RULES, TOK.scratch_end: R, R: TOK.end})
    bot = api.MemGPT(model, TOK, store)
    seen = []
    bot.on_note(seen.append)
    assert bot.chat("hi", temperature=0) == " blue"
    assert [n.text for n in seen] == ["cat red"]
    store.close()
    with NoteStore(tmp_path / "s") as again:
        assert [(n.text, n.source) for n in again.list()] == [("cat red", "chat")]


def test_default_checkpoint_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "default_checkpoint_dir", lambda: str(tmp_path))
    monkeypatch.setattr(models, "_cache", {})
    with pytest.raises(CheckpointError, match="not bundled"):
        memgpt.load()


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(CheckpointError, match="no such model.*smollm2-base"):
        memgpt.load("smollm3-huge")


def test_module_generate_uses_default_loaded_once(monkeypatch, ckpt):
    monkeypatch.setattr(models, "default_checkpoint_dir", lambda: ckpt)
    monkeypatch.setattr(models, "_cache", {})
    loads = []
    real = models.load_checkpoint
    monkeypatch.setattr(models, "load_checkpoint", lambda *a, **k: loads.append(a) or real(*a, **k))
    assert isinstance(memgpt.generate("Hello", max_new_tokens=5), str)
    assert isinstance("".join(memgpt.generate("Hello", max_new_tokens=5, stream=True)), str)
    a, b = memgpt.load(), memgpt.load()
    assert a.model is b.model and a.memory is not b.memory
    assert len(loads) == 1


def test_import_memory_does_not_import_torch():
    code = "import sys, memgpt.memory, memgpt.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_core_imports_neither_training_nor_demos():
    """DESIGN §2: the dependencies run one way. The benchmark is core, so the facts and filler
    it draws on live in the core too (memgpt/synth), and the training corpus imports them, never
    the reverse."""
    code = ("import sys, memgpt, memgpt.api, memgpt.cli, memgpt.bench.runner, memgpt.bench.plots, memgpt.bench.cost; "
            "bad = [m for m in sys.modules if m.startswith(('memgpt.training', 'memgpt.demos'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
