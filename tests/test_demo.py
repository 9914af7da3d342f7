"""The Gradio demo (memgpt.demos.app): served for real on loopback and driven with gradio_client,
plus its handlers and backend called directly.

A tiny random checkpoint serves the API tests; `ScriptedChatModel` (also used by the browser
test) stands in where the model must write a note: after `<|assistant|>` it emits
`<|scratch|>user name: Ada<|/scratch|>Nice to meet you.<|end|>` token by token.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import threading

import pytest
import torch
import torch.nn as nn
from gradio_client import Client

from memgpt.checkpoint import save_checkpoint
from memgpt.demos import app as demo_app
from memgpt.demos.app import Backend, NotebookError, build_app, new_notebook_id, valid_notebook_id
from memgpt.model import GPT, GPTConfig
from memgpt.tokenizer import Tokenizer

ROOT = os.path.join(os.path.dirname(__file__), "..")
TOK = Tokenizer.load(os.path.join(ROOT, "memgpt", "assets", "default"))
NOTE = "user name: Ada"
REPLY = "Nice to meet you."
SCRIPT = [TOK.scratch, *TOK.encode_text(NOTE), TOK.scratch_end, *TOK.encode_text(REPLY), TOK.end]
HOSTILE = "<script>alert('x')</script> [click](http://example.com) **bold** <img src=x onerror=alert(1)>"


class ScriptedChatModel(nn.Module):
    """A mock GPT (forward(idx, targets=None, weights=None, cache=None) -> (logits, None)) that,
    after the last `<|assistant|>` in its context, emits `script` token by token, then `<|end|>`.

    It mirrors what its KV cache holds (kept on the cache object and cut at `cache.pos`, so rewinds
    and rebuilt windows work) and advances `cache.pos` as memgpt.model.GPT does."""

    def __init__(self, script: list[int] = SCRIPT, block_size: int = 256):
        super().__init__()
        self.script = list(script)
        self.config = GPTConfig(vocab_size=-(-TOK.n_vocab // 64) * 64, n_layer=1, n_head=1, n_embd=8,
                                block_size=block_size)

    def next_token(self, ctx: list[int]) -> int:
        if TOK.assistant not in ctx:
            return TOK.end
        last = len(ctx) - 1 - ctx[::-1].index(TOK.assistant)
        done = ctx[last + 1:]
        if len(done) < len(self.script) and done == self.script[:len(done)]:
            return self.script[len(done)]
        return TOK.end

    def forward(self, idx, targets=None, weights=None, cache=None):
        B, t = idx.shape
        p = cache.pos if cache is not None else 0
        assert p + t <= self.config.block_size
        rows = getattr(cache, "scripted_ctx", None) if cache is not None else None
        if rows is None or len(rows) < B:
            rows = [[] for _ in range(B)]
        logits = torch.zeros(B, t, self.config.vocab_size)
        for b in range(B):
            ctx = rows[b][:p]
            for i, tok in enumerate(idx[b].tolist()):
                ctx.append(tok)
                logits[b, i, self.next_token(ctx)] = 30.0
            rows[b] = ctx
        if cache is not None:
            cache.scripted_ctx = rows
            cache.pos = p + t
        return logits, None


def handler(demo, name: str):
    """A UI event handler of the app, by function name (they are private: not reachable by API)."""
    fns = [f.fn for f in demo.fns.values() if f.name == name]
    assert fns, name
    return fns[0]


def parse(*argv: str) -> argparse.Namespace:
    return demo_app.add_arguments(argparse.ArgumentParser()).parse_args(list(argv))


# ---- servers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=4160, n_layer=1, n_head=2, n_embd=32, block_size=64)).eval()
    d = str(tmp_path_factory.mktemp("ckpt"))
    save_checkpoint(d, model, TOK)
    return d


@pytest.fixture(scope="module")
def single(checkpoint, tmp_path_factory):
    """`memgpt demo` as the CLI starts it (loopback, single user), on a free port."""
    args = parse("--model", checkpoint, "--data", str(tmp_path_factory.mktemp("single")), "--port", "0",
                 "--device", "cpu")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo, backend, url = demo_app.serve(args)
    try:
        yield demo, backend, url, out.getvalue(), Client(url, verbose=False)
    finally:
        demo.close()
        backend.close()


@pytest.fixture(scope="module")
def multi(checkpoint, tmp_path_factory):
    args = parse("--checkpoint", checkpoint, "--data", str(tmp_path_factory.mktemp("multi")), "--port", "0",
                 "--device", "cpu", "--multi-user")
    with contextlib.redirect_stdout(io.StringIO()):
        demo, backend, url = demo_app.serve(args)
    try:
        yield demo, backend, url
    finally:
        demo.close()
        backend.close()


@pytest.fixture
def scripted(tmp_path):
    """A backend over the scripted model (no server), single user."""
    b = Backend(ScriptedChatModel(), TOK, str(tmp_path / "data"))
    yield b
    b.close()


# ---- the served app (gradio_client) -------------------------------------------------------------
def test_cli_serves_on_loopback_and_prints_url(single):
    _, backend, url, printed, _ = single
    assert url.startswith("http://127.0.0.1:")
    assert f"memgpt demo: {url}" in printed
    assert "single user" in printed and not backend.multi_user
    # where the notes are, and how the CLI shares them (issue 27 item 8)
    assert f"memgpt ask QUESTION --memory {os.path.join(backend.data_dir, 'notes')}" in printed


def test_chat_and_notes_api(single):
    _, backend, _, _, client = single
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/chat", "/notes"} <= set(api)
    assert len(api) == 2  # the UI's own events are private
    reply = client.predict("Hi, I'm Ada.", api_name="/chat")
    assert isinstance(reply, str)
    note = backend.store.add("pass key: 48213", session="default")
    listed = client.predict(api_name="/notes")
    mine = [n for n in listed if n["id"] == note.id]
    assert mine and mine[0]["text"] == "pass key: 48213" and mine[0]["source"] == "user"
    assert {"id", "text", "created_at", "source"} <= set(mine[0])
    assert mine[0]["created_at"] == pytest.approx(note.created_at)
    # single user: the notebook parameter is ignored, there is one notebook
    assert client.predict("x" * 32, api_name="/notes") == listed


def test_panel_and_chat_render_hostile_text_as_text(single):
    demo, backend, _, _, _ = single
    note = backend.store.add(HOSTILE, session="default")
    _, messages, panel, picker, gauge, _ = handler(demo, "on_load")(None)
    assert f"data-note-id='{note.id}'" in panel
    for bad in ("<script", "<img", "<a ", "<strong", "<b>"):
        assert bad not in panel
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in panel
    assert "**bold**" in panel and "[click](http://example.com)" in panel  # no markdown either
    assert "role='meter'" in gauge
    # the chat: user message, memory box and reply are escaped HTML (markdown rendering is off)
    msgs = demo_app._turn_messages(HOSTILE, [note], "<b>hi</b> [x](http://e.x)")
    joined = " ".join(m["content"] for m in msgs)
    assert "<script" not in joined and "<img" not in joined and "<b>hi" not in joined
    assert joined.count("&lt;script&gt;") == 2 and "&lt;b&gt;hi&lt;/b&gt;" in joined
    assert msgs[1]["metadata"]["title"] == "Memory used: 1 note"
    chat = next(b for b in demo.blocks.values() if type(b).__name__ == "Chatbot")
    assert chat.render_markdown is False and chat.sanitize_html is True and not chat.latex_delimiters


def test_multi_user_eight_concurrent_clients_see_only_their_notes(multi):
    _, backend, url = multi
    n = 8
    ids = [new_notebook_id() for _ in range(n)]
    secrets_ = [f"secret of client {i}: {i * 1111}" for i in range(n)]
    results: list = [None] * n
    errors: list = []
    start = threading.Barrier(n)

    def client(i: int) -> None:
        try:
            c = Client(url, verbose=False)
            backend.store.add(secrets_[i], session=backend.session_name(ids[i]))
            # a note in this connection's own throwaway notebook (what a client without an id gets)
            conn = backend.session_for(None, connection=c.session_hash)
            conn.store.add(f"connection note {i}", session=conn.name)
            start.wait(timeout=60)
            reply = c.predict(f"hello from {i}", ids[i], api_name="/chat")
            mine = c.predict(ids[i], api_name="/notes")
            anon = c.predict(api_name="/notes")
            results[i] = (reply, [x["text"] for x in mine], [x["text"] for x in anon])
        except Exception as e:  # pragma: no cover - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    for i, (reply, mine, anon) in enumerate(results):
        assert isinstance(reply, str)
        assert secrets_[i] in mine
        assert anon == [f"connection note {i}"]
        others = [s for j, s in enumerate(secrets_) if j != i] + [f"connection note {j}" for j in range(n) if j != i]
        assert not set(others) & set(mine + anon)
    assert backend.store.count(session="default") == 0  # nothing leaks into a shared notebook


def test_multi_user_rejects_bad_notebook_ids_over_api(multi):
    _, _, url = multi
    c = Client(url, verbose=False)
    for bad in ("../../etc/passwd", "A" * 31, "A" * 33, "A" * 31 + "/", "A" * 31 + "é", "default"):
        with pytest.raises(Exception, match="notebook id"):
            c.predict(bad, api_name="/notes")


# ---- handlers and backend -------------------------------------------------------------------------
def test_ui_chat_streams_and_shows_the_note_while_replying(scripted):
    demo = build_app(scripted)
    on_chat = handler(demo, "on_chat")
    steps = list(on_chat("Hi, I'm Ada.", None, 0.7, 64))  # outputs: chat, msg, search, panel, picker, gauge
    replies = [s[0][-1]["content"] for s in steps if s[0][-1]["role"] == "assistant"]
    assert len(replies) >= 3 and replies[-1] == REPLY  # partial replies were yielded
    assert replies[0] != REPLY and REPLY.startswith(replies[0])
    # the note is in the panel from the yield that shows the reply's first piece, not only at the end
    first_reply_step = next(i for i, s in enumerate(steps) if s[0][-1]["role"] == "assistant")
    assert first_reply_step < len(steps) - 1
    panel = steps[first_reply_step][3]
    assert NOTE in panel and "class='fresh'" in panel
    assert NOTE in steps[-1][3] and "Window:" in steps[-1][5]
    assert steps[0][1] == "" and steps[0][2] == ""  # message and search boxes cleared at once
    assert steps[-1][0][0] == {"role": "user", "content": "Hi, I&#x27;m Ada."}
    assert steps[-1][0][1]["metadata"]["title"].startswith("Memory used")
    # the next turn retrieves the note: it is listed in that reply's memory box
    steps = list(on_chat("What is my name?", None, 0.0, 64))
    mem = steps[-1][0][-2]
    assert mem["metadata"]["title"].startswith("Memory used: ") and NOTE in mem["content"]
    # an empty message changes nothing (one yield of skips) and says why (issue 27 item 10)
    with pytest.warns(UserWarning, match="Type a message first"):
        assert len(list(on_chat("  ", None, 0.7, 64))) == 1


def test_oversized_input_is_refused(scripted):
    s = scripted.session_for()
    with pytest.raises(ValueError, match="at most"):
        next(scripted.turn(s, "x" * (demo_app.MAX_MESSAGE_CHARS + 1)))
    assert next(scripted.turn(s, "x" * demo_app.MAX_MESSAGE_CHARS)) == ("", [])  # the limit itself goes in
    with pytest.raises(NotebookError, match="at most"):
        scripted.add_note(s, "x" * (demo_app.MAX_NOTE_CHARS + 1))
    with pytest.raises(NotebookError):
        scripted.add_note(s, " \n ")
    assert scripted.add_note(s, "two\nlines").text == "two lines"  # notes are one line, as the model's


def test_a_long_paste_is_refused_with_a_message_never_cut(scripted):
    """Issue 27 item 9: the text box's max_length cut a 20,000-character paste to 4,000 silently."""
    demo = build_app(scripted)
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "memgpt-msg")
    assert box.max_length is None  # the browser passes the whole paste on
    paste = "The pass key is 48213. " * 870  # 20,010 characters
    s = scripted.session_for()
    with pytest.raises(ValueError) as e:
        next(scripted.turn(s, paste))
    msg = str(e.value)
    assert "20,010 characters" in msg and "at most 4,000" in msg and "Nothing was sent" in msg
    assert f"memgpt ingest FILE --memory {os.path.join(scripted.data_dir, 'notes')}" in msg
    assert s.messages == [] and s.bot.engine.history == []
    import gradio as gr
    with pytest.raises(gr.Error, match="20,010 characters"):  # the UI shows the message
        list(handler(demo, "on_chat")(paste, None, 0.0, 64))


def test_the_cli_shares_the_demos_notes_where_the_readme_says(scripted, tmp_path, monkeypatch, capsys):
    """Issue 27 item 8: the README's `--memory ~/.memgpt/demo` opened a second, empty store."""
    from memgpt import cli

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(demo_app.DATA_ENV, raising=False)
    default = demo_app.notes_dir(demo_app.default_data_dir())
    assert default == os.path.join(str(tmp_path / "home"), ".memgpt", "demo", "notes")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "--memory ~/.memgpt/demo/notes" in readme and "--memory ~/.memgpt/demo`" not in readme
    assert "--memory ~/.memgpt/demo " not in readme
    # what the demo files, the CLI reads from the demo's notes directory
    for _ in scripted.turn(scripted.session_for(), "Hi, I'm Ada."):
        pass
    capsys.readouterr()
    assert cli.main(["notes", "list", "--memory", demo_app.notes_dir(scripted.data_dir)]) == 0
    assert NOTE in capsys.readouterr().out
    # the demo's directory itself is not a store: the error names the one to open
    assert cli.main(["notes", "list", "--memory", scripted.data_dir]) == 2
    err = capsys.readouterr().err
    assert demo_app.notes_dir(scripted.data_dir) in err and len(err.strip().splitlines()) == 1


def test_new_conversation_clears_window_keeps_notes(scripted):
    s = scripted.session_for()
    for _ in scripted.turn(s, "Hi, I'm Ada."):
        pass
    assert s.messages and s.bot.engine.history and s.bot.window.tokens > 0
    chat, gauge = handler(build_app(scripted), "on_new")(None)
    assert chat == [] and s.messages == [] and s.bot.engine.history == []
    assert "Window: 0 / 256" in gauge
    assert [n.text for n in scripted.store.list(session="default")] == [NOTE]


def test_busy_notebook_refuses_a_second_turn(scripted):
    s = scripted.session_for()
    first = scripted.turn(s, "Hi")
    next(first)
    with pytest.raises(demo_app.BusyError):
        next(scripted.turn(s, "again"))
    first.close()  # an abandoned stream releases the notebook
    assert [r for r, _ in scripted.turn(s, "again")][-1] == REPLY


def test_notes_persist_across_restart(tmp_path):
    b = Backend(ScriptedChatModel(), TOK, str(tmp_path))
    for _ in b.turn(b.session_for(), "Hi, I'm Ada."):
        pass
    b.close()
    b = Backend(ScriptedChatModel(), TOK, str(tmp_path))
    try:
        notes, total = b.notes(b.session_for())
        assert total == 1 and notes[0].text == NOTE and notes[0].source == "chat"
    finally:
        b.close()


def test_multi_user_note_operations_are_confined_to_the_notebook(tmp_path):
    b = Backend(ScriptedChatModel(), TOK, str(tmp_path), multi_user=True)
    try:
        a, c = b.session_for(new_notebook_id()), b.session_for(new_notebook_id())
        na = b.add_note(a, "alice's pass key: 1234")
        nc = b.add_note(c, "carol's pass key: 9876")
        with pytest.raises(NotebookError):
            b.update_note(c, na.id, "stolen")
        with pytest.raises(NotebookError):
            b.delete_note(c, na.id)
        assert b.delete_all(c) == 1
        assert [n.text for n, _ in b.search(c, "pass key")] == []
        assert [n.text for n, _ in b.search(a, "pass key")] == ["alice's pass key: 1234"]
        assert b.store.get(nc.id) is None and b.store.get(na.id).text == "alice's pass key: 1234"
        with open(b.export(a)) as f:
            rows = [json.loads(line) for line in f]
        assert [r["text"] for r in rows] == ["alice's pass key: 1234"]
        b.update_note(a, na.id, "alice's pass key: 4321")
        assert b.store.get(na.id).text == "alice's pass key: 4321"
        with pytest.raises(NotebookError):
            b.session_for(None)  # no id and no connection
    finally:
        b.close()


def test_ui_handlers_edit_delete_confirm_export(scripted):
    demo = build_app(scripted)
    s = scripted.session_for()
    n = scripted.add_note(s, "first note")
    scripted.add_note(s, "second note")
    assert handler(demo, "on_pick")(None, n.id) == "first note"
    panel, _ = handler(demo, "on_save")(None, "", n.id, "edited note")
    assert "edited note" in panel and "first note" not in panel
    panel, pick = handler(demo, "on_search")(None, "second")
    assert "second note" in panel and pick["choices"][0][1] != n.id
    row, text = handler(demo, "on_ask_delete_all")(None)
    assert row["visible"] is True and "Delete all 2 notes" in text
    export = handler(demo, "on_export")(None)
    with open(export["value"]) as f:
        assert len(f.readlines()) == 2
    panel, _, _ = handler(demo, "on_delete")(None, "", n.id)
    assert "edited note" not in panel
    row, panel, _, _ = handler(demo, "on_delete_all")(None, "")
    assert row["visible"] is False and scripted.store.count(session="default") == 0


def test_notebook_shows_provenance_superseded_notes_and_a_ranked_search(scripted):
    """Issue 28: source and times in the panel; a newer note on a key strikes the older through
    with its successor's id and keeps it out of the window; search is ranked above a floor."""
    demo = build_app(scripted)
    s = scripted.session_for()
    for _ in scripted.turn(s, "Hi, I'm Ada."):  # the model notes "user name: Ada"
        pass
    for _ in scripted.turn(s, "Hi again, I'm Ada."):  # the same note again: stored once
        pass
    assert [n.text for n in scripted.store.list(session="default")] == [NOTE]
    old = scripted.add_note(s, "user city: Rome")
    new = scripted.add_note(s, "user city: Paris")
    for t in ("pass key: 48213", "Mary is in the kitchen", "user job: nurse", "user pet: Rex", "magic number for x: 1"):
        scripted.add_note(s, t)
    edited = scripted.update_note(s, old.id, "user city: Roma")
    assert edited.source == "user" and edited.edited_at is not None
    panel = handler(demo, "on_load")(None)[2]
    row = panel.split(f"<tr data-note-id='{old.id}'")[1].split("</tr>")[0]
    assert "superseded" in row and "<s>user city: Roma</s>" in row and f"→ #{new.id}" in row and "edited " in row
    chat_row = panel.split("<tr data-note-id='1'")[1].split("</tr>")[0]
    assert "<td class='nsrc'>chat</td>" in chat_row and "written again " in chat_row
    assert f"<tr data-note-id='{new.id}'>" in panel  # current: not struck through
    # only the current note on a key goes into the model's window
    steps = list(handler(demo, "on_chat")("Where do I live? city", None, 0.0, 64))
    used = steps[-1][0][-2]["content"]
    assert "user city: Paris" in used and "Roma" not in used
    panel, pick = handler(demo, "on_search")(None, "city")
    floor = scripted.store.relevance_floor  # the embedder's
    assert f"1 note scoring {floor:.2f} or more for “city”, best first (of 8 in the notebook)" in panel
    assert "user city: Paris" in panel and "Rex" not in panel and "class='score'" in panel
    assert [c[1] for c in pick["choices"]] == [new.id]
    panel, _ = handler(demo, "on_search")(None, "zebra xylophone")
    assert f"0 notes scoring {floor:.2f} or more" in panel and "No note is close enough" in panel


def test_notes_api_lists_provenance_fields(single):
    _, backend, _, _, client = single
    a = backend.store.add("user town: Ely", session="default", supersede=True)
    b = backend.store.add("user town: York", session="default", supersede=True)
    listed = {n["id"]: n for n in client.predict(api_name="/notes")}
    assert listed[a.id]["superseded_by"] == b.id and listed[b.id]["superseded_by"] is None
    assert {"edited_at", "seen_at", "source", "created_at"} <= set(listed[b.id])


# ---- ids and the command line --------------------------------------------------------------------
def test_notebook_id_format():
    nid = new_notebook_id()
    assert valid_notebook_id(nid) and len(nid) == 32 and nid != new_notebook_id()
    for bad in (None, 7, "", "A" * 31, "A" * 33, "../" + "A" * 29, "A" * 31 + "\n", "Ä" * 32, "A" * 31 + " "):
        assert not valid_notebook_id(bad)


def test_multi_user_is_implied_by_share_or_a_public_host():
    assert not demo_app.wants_multi_user(parse())
    assert not demo_app.wants_multi_user(parse("--host", "localhost"))
    assert not demo_app.wants_multi_user(parse("--host", "127.0.0.2"))
    assert not demo_app.wants_multi_user(parse("--host", "::1"))
    assert demo_app.wants_multi_user(parse("--multi-user"))
    assert demo_app.wants_multi_user(parse("--share"))
    assert demo_app.wants_multi_user(parse("--host", "0.0.0.0"))
    assert demo_app.wants_multi_user(parse("--host", "example.org"))
    a = parse()
    assert (a.host, a.port, a.share, a.data, a.model) == ("127.0.0.1", 7860, False, None, None)
    assert parse("--model", "smollm2-base").model == "smollm2-base"
    assert parse("--checkpoint", "runs/x").model == "runs/x"  # the old flag, an alias


def test_default_data_dir_is_per_user(monkeypatch):
    monkeypatch.delenv(demo_app.DATA_ENV, raising=False)
    assert demo_app.default_data_dir() == os.path.join(os.path.expanduser("~"), ".memgpt", "demo")
    monkeypatch.setenv(demo_app.DATA_ENV, "/tmp/x")
    assert demo_app.default_data_dir() == "/tmp/x"


def test_cli_bad_checkpoint_is_one_line_and_status_2(tmp_path, capsys):
    from memgpt import cli

    assert cli.main(["demo", "--checkpoint", str(tmp_path / "missing"), "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("memgpt demo: error:") and len(err.strip().splitlines()) == 1


def test_demo_is_a_subcommand_of_the_one_cli(monkeypatch):
    """`memgpt demo` parses with the module's own arguments and runs its `command`."""
    from memgpt import cli

    seen = []
    monkeypatch.setattr(demo_app, "command", lambda args: seen.append(args) or 0)
    assert cli.main(["demo", "--port", "9000", "--multi-user"]) == 0
    assert seen[0].port == 9000 and seen[0].multi_user and seen[0].command == "demo"
