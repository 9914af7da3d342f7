"""The `memgpt` command line: help, notes management, model commands, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest
import torch

from memgpt import cli
from memgpt.checkpoint import save_checkpoint
from memgpt.memory.store import NoteStore
from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def memgpt_cmd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memgpt.cli", *args], capture_output=True, text=True, env=ENV)


@pytest.fixture
def store_dir(tmp_path) -> str:
    d = str(tmp_path / "notes")
    with NoteStore(d) as s:
        s.add("pass key: 48213", source="ingest", position=10)
        s.add("Mary is in the kitchen", source="chat", position=20)
        s.add("other session note", source="user", session="bob")
    return d


def test_help_lists_commands():
    r = memgpt_cmd("--help")
    assert r.returncode == 0
    for name in ("chat", "ingest", "ask", "notes", "generate", "train", "bpe", "data"):
        assert name in r.stdout
    r = memgpt_cmd("ingest", "--help")
    assert r.returncode == 0 and "--memory" in r.stdout and "~/.memgpt/notes" in r.stdout
    script = os.path.join(os.path.dirname(sys.executable), "memgpt")
    if os.path.exists(script):  # the installed console script
        assert subprocess.run([script, "--help"], capture_output=True, env=ENV).returncode == 0


def test_notes_list_search_delete(store_dir, capsys):
    assert cli.main(["notes", "list", "--memory", store_dir]) == 0
    out = capsys.readouterr().out
    assert "pass key: 48213" in out and "Mary" in out and "other session" not in out
    assert cli.main(["notes", "list", "--memory", store_dir, "--all-sessions"]) == 0
    assert "other session" in capsys.readouterr().out
    assert cli.main(["notes", "search", "what is the pass key", "-k", "1", "--memory", store_dir]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#1\t") and "pass key" in out and "Mary" not in out
    assert cli.main(["notes", "delete", "1", "--memory", store_dir]) == 0
    assert cli.main(["notes", "delete", "1", "--memory", store_dir]) == 2
    assert "no note #1" in capsys.readouterr().err
    assert cli.main(["notes", "delete", "x", "--memory", store_dir]) == 2
    assert cli.main(["notes", "search", "--memory", store_dir]) == 2
    with NoteStore(store_dir) as s:
        assert [n.id for n in s.list(session=None)] == [2, 3]


def test_notes_export_import_delete_all(store_dir, tmp_path, capsys):
    path = str(tmp_path / "notes.jsonl")
    assert cli.main(["notes", "export", path, "--memory", store_dir, "--all-sessions"]) == 0
    assert len(open(path).read().splitlines()) == 3 and json.loads(open(path).readline())["text"]
    assert cli.main(["notes", "delete-all", "--memory", store_dir]) == 0
    assert "deleted 2 notes" in capsys.readouterr().out  # only the default session
    other = str(tmp_path / "other")
    assert cli.main(["notes", "import", path, "--memory", other]) == 0
    with NoteStore(other) as s:
        assert len(s) == 3
    assert cli.main(["notes", "import", str(tmp_path / "missing.jsonl"), "--memory", other]) == 2


def test_notes_show_provenance_history_and_a_search_floor(tmp_path, capsys):
    """Issue 28: source, times and superseding in `notes list`; `notes history KEY`; search
    results ranked with scores, above the embedder's relevance floor."""
    d = str(tmp_path / "notes")
    with NoteStore(d) as s:
        rome = s.add("user city: Rome", source="chat", supersede=True, position=7)
        paris = s.add("user city: Paris", source="chat", supersede=True, position=30)
        job = s.add("user job: nurse", source="chat", supersede=True)
        s.update(job.id, "user job: doctor")
        s.add("pass key: 48213", source="ingest", position=5)
        s.add("pass key: 48213", source="ingest", position=9)  # a duplicate: written again
        for t in ("Mary is in the kitchen", "magic number for blue-house: 123456", "user name: Ada"):
            s.add(t)
    assert cli.main(["notes", "list", "--memory", d]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert row[f"#{rome.id}"][1] == "chat@7" and row[f"#{rome.id}"][-1] == f"(superseded by #{paris.id})"
    assert row[f"#{paris.id}"][3] == "user city: Paris" and len(row[f"#{paris.id}"]) == 4
    assert row[f"#{job.id}"][1] == "user@0" and row[f"#{job.id}"][-1].startswith("(edited 20")
    assert any("(written again 20" in line for line in lines) and len(lines) == 7
    assert cli.main(["notes", "list", "--current", "--memory", d]) == 0
    assert "Rome" not in capsys.readouterr().out
    assert cli.main(["notes", "history", "user city", "--memory", d]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[3] for line in out] == ["user city: Rome", "user city: Paris"]
    assert cli.main(["notes", "search", "city", "-k", "50", "--memory", d]) == 0
    got = capsys.readouterr()
    assert [line.split("\t")[2] for line in got.out.splitlines()] == ["user city: Paris"]  # not 7 of 7
    with NoteStore(d) as st:
        floor = st.relevance_floor  # the embedder's
    assert float(got.out.split("\t")[1]) >= floor and f"1 note scored {floor:.2f} or more (of 7" in got.err
    assert cli.main(["notes", "search", "city", "-k", "50", "--min-score", "-1", "--memory", d]) == 0
    scores = [float(line.split("\t")[1]) for line in capsys.readouterr().out.splitlines()]
    assert len(scores) == 6 and scores == sorted(scores, reverse=True)  # ranked; the superseded note never


def test_model_commands(ckpt, tmp_path, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text("The pass key is 48213. Remember it. " * 30)
    mem = str(tmp_path / "notes")
    assert cli.main(["ingest", str(doc), "--model", ckpt, "--memory", mem]) == 0
    assert "tokens/s" in capsys.readouterr().out
    assert cli.main(["ask", "What is the pass key?", "--model", ckpt, "--memory", mem]) == 0
    assert cli.main(["generate", "Hello", "--max-new-tokens", "5", "--seed", "1", "--model", ckpt,
                     "--memory", ":memory:"]) == 0
    capsys.readouterr()


def test_chat_repl(ckpt, tmp_path, monkeypatch, capsys):
    lines = iter(["hello", "", "   ", "/notes", "/reset", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert cli.main(["chat", "--model", ckpt, "--memory", str(tmp_path / "n"), "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.count("bot> ") == 1  # empty lines are skipped, not answered


def test_chat_repl_notes_shows_the_newest_with_provenance(ckpt, tmp_path, monkeypatch, capsys):
    from memgpt.memory import NoteStore
    with NoteStore(tmp_path / "n") as s:
        for i in range(52):
            s.add(f"fact {i}: value {i}", source="user", created_at=1000.0 + i)
    lines = iter(["/notes", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert cli.main(["chat", "--model", ckpt, "--memory", str(tmp_path / "n")]) == 0
    out = capsys.readouterr().out
    shown = [line for line in out.splitlines() if line.startswith("#")]
    assert len(shown) == 50 and shown[-1].endswith("fact 51: value 51") and "fact 1: value 1" not in out
    assert shown[0].split("\t")[1] == "user@0" and "(50 of 52 notes" in out


def test_export_checkpoint(ckpt, tmp_path, capsys):
    dst = tmp_path / "half"
    assert cli.main(["export-checkpoint", ckpt, str(dst)]) == 0
    assert "float16 weights" in capsys.readouterr().out
    assert json.loads((dst / "meta.json").read_text())["weights_dtype"] == "float16"
    mem = str(tmp_path / "n")
    assert cli.main(["generate", "Hello", "--max-new-tokens", "3", "--model", str(dst), "--memory", mem]) == 0
    assert cli.main(["export-checkpoint", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "checkpoint directory not found" in capsys.readouterr().err
    assert cli.main(["export-checkpoint", ckpt, str(tmp_path / "y"), "--weights-dtype", "int8"]) == 2
    assert "weights dtype must be one of float32, float16, bfloat16" in capsys.readouterr().err


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    r = memgpt_cmd("ask", "hi", "--checkpoint", str(tmp_path / "missing"), "--memory", str(tmp_path / "n"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "checkpoint directory or .gguf file not found" in r.stderr
    assert cli.main(["ingest", str(tmp_path / "nofile.txt"), "--memory", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert "nofile.txt" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["notes", "frobnicate"]) == 2  # argparse usage error: a status, no SystemExit
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0 and cli.main(["--version"]) == 0


def test_every_subcommand_goes_through_one_registry_and_one_error_handler(monkeypatch, capsys):
    """A subcommand of another module is parsed with its own arguments and run by its
    `command(args)`, with the same one-line errors and exit codes as the built-in ones."""
    ran = []
    fake = types.ModuleType("memgpt.training.train")
    fake.add_arguments = lambda p: p.add_argument("--max-tokens", type=float, default=1.0)
    fake.command = lambda args: ran.append(args.max_tokens) or 0
    monkeypatch.setitem(sys.modules, "memgpt.training.train", fake)
    assert cli.main(["train", "--max-tokens", "1e6"]) == 0 and ran == [1e6]
    assert cli.main(["train", "--help"]) == 0 and "--max-tokens" in capsys.readouterr().out

    def fail(args):
        raise ValueError("bad value")
    fake.command = fail
    assert cli.main(["train"]) == 2
    assert capsys.readouterr().err == "memgpt train: error: bad value\n"

    def interrupted(args):
        raise KeyboardInterrupt
    fake.command = interrupted
    assert cli.main(["train"]) == 130
    assert set(cli.COMMANDS) >= {"chat", "ingest", "ask", "generate", "notes", "export-checkpoint", "train", "bpe",
                                 "data", "eval", "bench", "demo"}


def test_flags_are_kebab_case_everywhere():
    """Every option of every subcommand is spelt --kebab-case in its help (train's old
    --snake_case spellings are hidden aliases)."""
    import re

    for name in cli.COMMANDS:
        sub = cli.build_parser(name)._subparsers._group_actions[0].choices[name]
        flags = [o for a in sub._actions if a.help != "==SUPPRESS==" for o in a.option_strings]
        assert flags and not [f for f in flags if "_" in f or not re.fullmatch(r"-[a-zA-Z]|--[a-z0-9][a-z0-9-]*", f)], (name, flags)


def test_train_takes_kebab_flags_and_the_old_spelling():
    from memgpt.training.train import parse_config

    assert parse_config(["--max-tokens", "1e6", "--n-layer", "2"]) == parse_config(["--max_tokens", "1e6", "--n_layer", "2"])
    assert parse_config(["--max_tokens", "1e6"]).max_tokens == 1e6


def test_every_command_that_loads_a_model_takes_model_with_checkpoint_its_alias():
    """chat, ask, ingest, generate, eval, bench, demo and the quickstart: --model NAME|PATH, and the
    old --checkpoint lands in the same place."""
    import argparse

    from memgpt.demos import quickstart

    parsers = {}
    for name in ("chat", "ask", "ingest", "generate", "eval", "bench", "demo"):
        p = argparse.ArgumentParser()
        cli.COMMANDS[name].add_arguments(p)
        parsers[name] = p
    parsers["quickstart"] = quickstart.build_parser()
    extra = {"ask": ["q"], "ingest": ["f.txt"], "generate": ["p"]}
    for name, p in parsers.items():
        rest = extra.get(name, [])
        assert p.parse_args(rest).model is None, name
        assert p.parse_args([*rest, "--model", "smollm2-base"]).model == "smollm2-base", name
        assert p.parse_args([*rest, "--checkpoint", "runs/x/best"]).model == "runs/x/best", name
        assert "NAME|PATH" in p.format_help(), name
