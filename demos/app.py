"""The Gradio demo: chat with the model beside its notebook.

    memgpt demo [--host 127.0.0.1] [--port 7860] [--data DIR] [--share] [--multi-user] [--model NAME|PATH]
    python -m memgpt.demos ...                      (the same)

Left: the chat, streamed token by token. Under each reply a "memory used" box lists the notes the
controller placed in the model's window for it, and a gauge shows how full the window is.
Right: the notebook. Every note with its id, text, source ("chat": the model wrote it about your
message; "user": you typed or edited it; "ingest", "import") and times (written, edited, written
again); a note shows up the moment the model writes it. A newer note on a key ("user city: …")
supersedes the older one, which stays listed, struck through, with its successor's id, and is
never placed in the model's window again. Search ranks notes by score and shows only those at or
above the store's relevance floor. Edit, delete, delete all (with confirmation), export as JSONL,
and add a note by hand (it supersedes as a chat note does). "New conversation" clears the window
and keeps the notes.

Persistence: notes live in a `NoteStore` (sqlite + FAISS) in DIR/notes (`notes_dir`), so they
survive a restart. DIR is --data, else $MEMGPT_DEMO_DIR, else ~/.memgpt/demo: the notes are in
~/.memgpt/demo/notes by default, and the CLI reads and writes the same notebook with
`--memory ~/.memgpt/demo/notes` (the single-user notebook is its default session). The demo
prints that directory when it starts.

Messages: an empty one gets a warning, not a reply; one longer than MAX_MESSAGE_CHARS is refused
with a message saying so (the text box does not cut it: a cut paste would lose its end silently).
The model sees only the end of a long message (its window holds `block_size` tokens); a long text
is for `memgpt ingest FILE --memory DIR/notes`, which reads any length and files the notes here.

Who sees what:
- single-user (the default on a loopback host): one notebook, session "default" of the store.
- multi-user (--multi-user, implied by --share or a non-loopback --host): each browser gets a
  notebook id, a random 32-character token held in its localStorage (gr.BrowserState), so it
  keeps its notebook across reloads and server restarts. The id is the browser's key to its
  notes: the server checks its format strictly and files the notes under a hash of it, and every
  note operation checks that the note belongs to the caller's notebook. Chat windows (engines)
  are per notebook, kept in server memory (LRU), never in gr.State.
- API (gradio_client): `chat(message, notebook="") -> str` and `notes(notebook="") -> list[dict]`.
  In multi-user mode a client either passes a notebook id (its own token; a browser shows its
  id under "API access") or passes none and gets a throwaway notebook for its connection (an
  in-memory store keyed by the client's session): clients never see each other's notes. In
  single-user mode `notebook` is ignored.

Text safety: every note, message and reply is shown as text. The chat is rendered with
markdown off and HTML-escaped content (gr.Chatbot would otherwise render markdown and HTML), and
the notes panel, memory box and gauge are HTML built here with every piece of text escaped.

This module imports gradio and torch lazily, so `add_arguments` is cheap to call.
"""
# No `from __future__ import annotations`: gr.api reads the API functions' type hints, which
# must be real objects (gradio is imported inside build_app).
import argparse
import hashlib
import html
import ipaddress
import os
import re
import secrets
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

DATA_ENV = "MEMGPT_DEMO_DIR"
DEFAULT_SESSION = "default"
NOTEBOOK_ID_LEN = 32
NOTEBOOK_RE = re.compile(r"[A-Za-z0-9_-]{%d}" % NOTEBOOK_ID_LEN)
STORAGE_KEY = "memgpt-notebook"
PANEL_LIMIT = 200        # notes shown in the panel (newest first); search reaches the rest
SEARCH_K = 50            # results of a notebook search
MAX_SESSIONS = 64        # chat windows kept in memory (least recently used dropped first)
MAX_MESSAGE_CHARS = 4000 # longest chat message accepted (longer ones are refused, never cut)
MAX_NOTE_CHARS = 1000    # longest note a person may type
DEFAULT_TEMPERATURE = 0.0  # greedy: a small model's answers are copies from its notes; sampling garbles them
MAX_TRANSCRIPT = 400     # chat messages kept for redisplay after a reload (the window is the engine's)


def default_data_dir() -> str:
    """$MEMGPT_DEMO_DIR, else ~/.memgpt/demo."""
    return os.environ.get(DATA_ENV) or os.path.join(os.path.expanduser("~"), ".memgpt", "demo")


def notes_dir(data_dir: str) -> str:
    """The note store of a demo directory: what the CLI's `--memory` takes to share its notes."""
    return os.path.join(data_dir, "notes")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable by others


def new_notebook_id() -> str:
    """A fresh notebook id: 32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def valid_notebook_id(value: Any) -> bool:
    """Strict format check: exactly 32 characters of [A-Za-z0-9_-]."""
    return isinstance(value, str) and NOTEBOOK_RE.fullmatch(value) is not None


# ---- rendering (every piece of user or model text is escaped here) ---------------------------
def esc(text: str) -> str:
    """Text -> HTML that shows the text literally (newlines kept)."""
    return html.escape(text, quote=True).replace("\n", "<br>")


def _time(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def render_notes(notes: list, total: int, query: str = "", scores: list[float] | None = None,
                 fresh: set[int] | frozenset = frozenset(), floor: float | None = None) -> str:
    """The notes panel: a table of id, text, times and source (HTML, text escaped). Search
    results come ranked, each with its score, and the header says what the floor let through."""
    plural = lambda k: "s" if k != 1 else ""  # noqa: E731
    if query.strip():
        above = f" scoring {floor:.2f} or more" if floor is not None else ""
        head = (f"{len(notes)} note{plural(len(notes))}{above} for “{esc(query.strip())}”, best first "
                f"(of {total} in the notebook)")
    elif total > len(notes):
        head = f"{total} notes (newest {len(notes)} shown; search to find older ones)"
    else:
        head = f"{total} note{plural(total)}"
    rows = []
    for i, n in enumerate(notes):
        score = f"<span class='score' title='similarity to the search'>{scores[i]:.2f}</span> " if scores else ""
        classes = [c for c, on in (("fresh", n.id in fresh), ("superseded", n.superseded_by is not None)) if on]
        cls = f" class='{' '.join(classes)}'" if classes else ""
        text = esc(n.text)
        if n.superseded_by is not None:
            text = (f"<s>{text}</s> <span class='succ' title='superseded by a newer note on its key'>"
                    f"→ #{int(n.superseded_by)}</span>")
        when = _time(n.created_at)
        if n.edited_at is not None:
            when += f"<br><span class='edited'>edited {_time(n.edited_at)}</span>"
        if n.seen_at is not None and n.seen_at > n.created_at:
            when += f"<br><span class='seen'>written again {_time(n.seen_at)}</span>"
        rows.append(f"<tr data-note-id='{int(n.id)}'{cls}><td class='nid'>{int(n.id)}</td>"
                    f"<td class='ntext'>{score}{text}</td><td class='ntime'>{when}</td>"
                    f"<td class='nsrc'>{esc(n.source)}</td></tr>")
    if not rows:
        body = "<p class='empty'>No notes yet. Tell the model something worth remembering.</p>" if not query.strip() \
            else "<p class='empty'>No note is close enough to that search.</p>"
    else:
        body = ("<table><thead><tr><th>#</th><th>note</th><th>written</th><th>source</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")
    return f"<div class='memgpt-notes'><p class='count'>{head}</p>{body}</div>"


def render_memory(notes: list) -> str:
    """The notes injected for a reply, as an HTML list (text escaped)."""
    if not notes:
        return "<p class='memgpt-memory-empty'>No notes were placed in the window for this reply.</p>"
    items = "".join(f"<li><span class='nid'>#{int(n.id)}</span> {esc(n.text)}</li>" for n in notes)
    return f"<ul class='memgpt-memory'>{items}</ul>"


def memory_title(notes: list) -> str:
    return f"Memory used: {len(notes)} note{'s' if len(notes) != 1 else ''}" if notes else "Memory used: none"


def render_gauge(tokens: int, mem_tokens: int, block_size: int, n_notes: int) -> str:
    """How full the model's window is: the memory block and the rest, as a bar (HTML)."""
    tokens = max(0, min(tokens, block_size))
    mem = max(0, min(mem_tokens, tokens))
    fill = tokens / block_size if block_size else 0.0
    mem_pct, rest_pct = 100 * mem / block_size, 100 * (tokens - mem) / block_size
    label = (f"Window: {tokens} / {block_size} tokens ({100 * fill:.0f}%) · memory block {mem} tokens "
             f"({n_notes} note{'s' if n_notes != 1 else ''})")
    return (f"<div class='memgpt-gauge' data-fill='{fill:.4f}' role='meter' aria-valuemin='0' "
            f"aria-valuemax='{block_size}' aria-valuenow='{tokens}' aria-label='window fill'>"
            f"<div class='bar'><div class='mem' style='width:{mem_pct:.2f}%'></div>"
            f"<div class='ctx' style='width:{rest_pct:.2f}%'></div></div>"
            f"<div class='label'>{label}</div></div>")


# ---- server-side state -------------------------------------------------------------------------
class NotebookError(ValueError):
    """A bad notebook id or a note that is not the caller's."""


class BusyError(RuntimeError):
    """This notebook's model is already answering (another tab or client)."""


@dataclass
class Session:
    """One notebook's chat: its engine (window), store and session name, and its transcript."""

    key: str
    bot: Any                    # memgpt.api.MemGPT whose engine files into `store` under `name`
    store: Any                  # NoteStore
    name: str                   # session name in the store
    ephemeral: bool = False     # an API connection's throwaway notebook (in-memory store)
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[dict] = field(default_factory=list)  # the chatbot's value (escaped)
    fresh: list = field(default_factory=list)           # notes filed since the panel last showed them
    generating: bool = False


class Backend:
    """The model, the note store and the per-notebook chat windows behind the app.

    Args:
        model, tokenizer: a loaded GPT (or any module with its forward and `.config`) and its
            Tokenizer; one model serves every notebook.
        data_dir: the demo's directory; notes persist in data_dir/notes.
        multi_user: one notebook per browser (see the module docstring) instead of one in all.
        config: an EngineConfig template (its `session` is set per notebook).
    """

    def __init__(self, model, tokenizer, data_dir: str, multi_user: bool = False, config=None,
                 meta: dict | None = None, max_sessions: int = MAX_SESSIONS):
        from memgpt.controller import EngineConfig
        from memgpt.memory.store import NoteStore

        self.model, self.tokenizer, self.meta = model, tokenizer, meta or {}
        self.data_dir = os.path.abspath(os.fspath(data_dir))
        os.makedirs(self.data_dir, exist_ok=True)
        self.multi_user = bool(multi_user)
        self.config = config or EngineConfig()
        self.store = NoteStore(notes_dir(self.data_dir))
        self.scratch = NoteStore()  # API connections without a notebook id (multi-user only)
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.export_dir = tempfile.mkdtemp(prefix="memgpt-demo-export-")
        self.browser_secret = self._browser_secret()

    @classmethod
    def from_checkpoint(cls, checkpoint: str | None, data_dir: str, multi_user: bool = False,
                        device: str | None = None) -> "Backend":
        """Load a model by name or path (None: the default model) through `memgpt.load`."""
        import memgpt
        from memgpt.memory.store import NoteStore

        probe = memgpt.load(checkpoint, memory=NoteStore(), device=device)
        return cls(probe.model, probe.tokenizer, data_dir, multi_user, probe.engine.cfg, probe.meta)

    def _browser_secret(self) -> str:
        """Key of the BrowserState encryption, kept in the data dir so ids survive restarts.
        (Gradio sends it to the page: it hides the id from casual reads of localStorage, no
        more; the id itself is the secret.)"""
        path = os.path.join(self.data_dir, "browser_secret")
        try:
            with open(path, encoding="ascii") as f:
                s = f.read().strip()
            if re.fullmatch(r"[A-Za-z0-9]{16,64}", s):
                return s
        except OSError:
            pass
        s = secrets.token_hex(16)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(s)
        return s

    # -- notebooks
    def session_for(self, notebook: str | None = None, connection: str | None = None) -> Session:
        """The caller's session. Single-user: always the one notebook. Multi-user: the notebook
        with this id, else (API calls) the connection's throwaway notebook."""
        if not self.multi_user:
            return self._get("default", self.store, DEFAULT_SESSION, ephemeral=False)
        if notebook:
            if not valid_notebook_id(notebook):
                raise NotebookError(f"a notebook id is {NOTEBOOK_ID_LEN} characters of A-Z, a-z, 0-9, '_' and '-'")
            h = hashlib.sha256(notebook.encode("ascii")).hexdigest()[:32]
            return self._get("nb:" + h, self.store, "web-" + h, ephemeral=False)
        if connection:
            h = hashlib.sha256(("conn:" + connection).encode("utf-8", "replace")).hexdigest()[:32]
            return self._get("conn:" + h, self.scratch, "conn-" + h, ephemeral=True)
        raise NotebookError("no notebook: reload the page (or pass a notebook id)")

    def session_name(self, notebook: str) -> str:
        """The store session that holds a notebook's notes (multi-user mode)."""
        return self.session_for(notebook).name

    def _get(self, key: str, store, name: str, ephemeral: bool) -> Session:
        import dataclasses

        from memgpt.api import MemGPT

        with self._lock:
            s = self._sessions.get(key)
            if s is not None:
                self._sessions.move_to_end(key)
                return s
            cfg = dataclasses.replace(self.config, session=name)
            bot = MemGPT(self.model, self.tokenizer, store, cfg, self.meta)
            s = Session(key, bot, store, name, ephemeral)
            bot.on_note(s.fresh.append)
            self._sessions[key] = s
            self._evict()
            return s

    def _evict(self) -> None:
        for key in list(self._sessions):
            if len(self._sessions) <= self.max_sessions:
                return
            s = self._sessions[key]
            if s.lock.locked():
                continue  # answering right now
            del self._sessions[key]
            if s.ephemeral:
                s.store.delete_all(session=s.name)

    # -- notes (every id is checked against the caller's notebook)
    def _own(self, s: Session, note_id: Any):
        try:
            nid = int(note_id)
        except (TypeError, ValueError):
            raise NotebookError("pick a note first") from None
        note = s.store.get(nid)
        if note is None or note.session != s.name:
            raise NotebookError(f"no note #{nid} in this notebook")
        return note

    def notes(self, s: Session, limit: int = PANEL_LIMIT) -> tuple[list, int]:
        """The newest `limit` notes, newest first, and the notebook's size."""
        total = s.store.count(session=s.name)
        notes = s.store.list(session=s.name, limit=limit, offset=max(0, total - limit))
        return notes[::-1], total

    def search(self, s: Session, query: str) -> list[tuple[Any, float]]:
        """The notebook's current notes at or above the store's relevance floor, best first."""
        return s.store.search(query, k=SEARCH_K, session=s.name, min_score=s.store.relevance_floor)

    def add_note(self, s: Session, text: str):
        """A note typed by a person: source "user"; it supersedes the current note with its key."""
        return s.store.add(_note_text(text), source="user", session=s.name, supersede=True)

    def update_note(self, s: Session, note_id: Any, text: str):
        """A person's edit (the store sets source "user" and edited_at)."""
        note = self._own(s, note_id)
        return s.store.update(note.id, _note_text(text))

    def delete_note(self, s: Session, note_id: Any) -> bool:
        return s.store.delete(self._own(s, note_id).id)

    def delete_all(self, s: Session) -> int:
        return s.store.delete_all(session=s.name)

    def export(self, s: Session) -> str:
        """The notebook as a JSONL file (a fresh private directory per export)."""
        d = tempfile.mkdtemp(dir=self.export_dir)
        path = os.path.join(d, f"memgpt-notes-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl")
        s.store.export(path, session=s.name)
        return path

    # -- chat
    def new_conversation(self, s: Session) -> None:
        if not s.lock.acquire(blocking=False):
            raise BusyError("this notebook is answering; wait for the reply to finish")
        try:
            s.bot.reset()
            s.messages = []
        finally:
            s.lock.release()

    def turn(self, s: Session, message: str, max_new_tokens: int = 128, temperature: float = DEFAULT_TEMPERATURE,
             top_k: int | None = 50) -> Iterator[tuple[str, list]]:
        """One chat turn: yields (reply so far, notes injected so far) as text arrives; the
        transcript gets the user message, a "memory used" box and the reply."""
        if not isinstance(message, str) or not message.strip():
            raise ValueError("type a message first")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(self.too_long(message))
        if not s.lock.acquire(blocking=False):
            raise BusyError("this notebook is already answering (another tab?); wait for that reply")
        s.generating = True
        base = s.messages[-MAX_TRANSCRIPT:]
        reply, injected = "", []
        try:
            s.messages = base + _turn_messages(message, None, None)
            yield reply, injected
            it = s.bot.chat(message, max_new_tokens=int(max_new_tokens), temperature=float(temperature),
                            top_k=top_k, stream=True)
            try:
                for piece in it:
                    reply += piece
                    injected = _merge(injected, s.bot.injected)
                    s.messages = base + _turn_messages(message, injected, reply)
                    yield reply, injected
            finally:
                it.close()
            injected = _merge(injected, s.bot.injected)
            s.messages = base + _turn_messages(message, injected, reply)
            yield reply, injected
        finally:
            s.generating = False
            s.lock.release()

    def too_long(self, message: str) -> str:
        """Why a message over MAX_MESSAGE_CHARS is refused, and what to do with a long text."""
        msg = (f"This message has {len(message):,} characters; a message may be at most {MAX_MESSAGE_CHARS:,} "
               f"(the model's window holds {_block(self)} tokens). Nothing was sent.")
        if not self.multi_user:
            msg += (f" To have the model read a long text into this notebook: "
                    f"memgpt ingest FILE --memory {notes_dir(self.data_dir)}")
        return msg

    def window(self, s: Session) -> str:
        """The gauge for this session's window (live while a reply is being decoded)."""
        w = s.bot.window
        tokens = w.tokens
        if s.generating:  # WindowInfo.tokens is updated when a turn ends; the cache knows now
            tokens = max(tokens, int(getattr(getattr(s.bot.engine, "cache", None), "pos", 0) or 0))
        return render_gauge(tokens, w.mem_tokens, w.block_size, len(w.notes))

    def close(self) -> None:
        import shutil

        self.store.close()
        self.scratch.close()
        shutil.rmtree(self.export_dir, ignore_errors=True)


def _note_text(text: Any) -> str:
    """A note typed by a person: one line (as the model writes them), not empty, not huge."""
    from memgpt.tokenizer import clean_note

    text = clean_note(text if isinstance(text, str) else "")
    if not text:
        raise NotebookError("a note needs some text (Delete removes one)")
    if len(text) > MAX_NOTE_CHARS:
        raise NotebookError(f"a note may be at most {MAX_NOTE_CHARS} characters")
    return text


def _merge(seen: list, new: list) -> list:
    """Union of injected notes by id, in first-seen order."""
    ids = {n.id for n in seen}
    return seen + [n for n in new if n.id not in ids]


def _turn_messages(message: str, injected: list | None, reply: str | None) -> list[dict]:
    out = [{"role": "user", "content": esc(message)}]
    if injected is not None:
        # A "thought" box above the reply, open (no status), so the notes used are in plain view.
        out.append({"role": "assistant", "content": render_memory(injected),
                    "metadata": {"title": memory_title(injected)}})
    if reply is not None:
        out.append({"role": "assistant", "content": esc(reply) if reply else "<em>(no reply)</em>"})
    return out


# ---- the app -----------------------------------------------------------------------------------
CSS = """
.memgpt-notes table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.memgpt-notes th, .memgpt-notes td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.memgpt-notes td.ntext { white-space: pre-wrap; word-break: break-word; }
.memgpt-notes td.nid, .memgpt-notes td.ntime, .memgpt-notes td.nsrc { white-space: nowrap; color: var(--body-text-color-subdued); }
.memgpt-notes tr.fresh td { background: var(--color-accent-soft); }
.memgpt-notes .count { margin: 0 0 4px 0; font-weight: 600; }
.memgpt-notes .score { font-size: 0.8em; font-variant-numeric: tabular-nums; color: var(--body-text-color-subdued); }
.memgpt-notes tr.superseded td { color: var(--body-text-color-subdued); }
.memgpt-notes .succ, .memgpt-notes .edited, .memgpt-notes .seen { font-size: 0.8em; }
#memgpt-notes-panel { max-height: 520px; overflow-y: auto; }
.memgpt-gauge .bar { display: flex; height: 12px; border-radius: 6px; overflow: hidden; background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
.memgpt-gauge .mem { background: #e8a33d; }
.memgpt-gauge .ctx { background: var(--color-accent); }
.memgpt-gauge .label { font-size: 0.85em; margin-top: 3px; }
.memgpt-memory { margin: 0; padding-left: 1.2em; }
"""

EMPTY_MESSAGE = "Type a message first: an empty message gets no reply."

INTRO = ("**memgpt** writes notes while you chat; the controller files them in its notebook (right) "
         "and puts the relevant ones back into its small window before each reply.")


def build_app(backend: Backend):
    """The gr.Blocks app over `backend`. API: /chat and /notes (see the module docstring)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    multi = backend.multi_user

    def session(nb: Any) -> Session:
        try:
            return backend.session_for(nb if multi else None)
        except NotebookError as e:
            raise gr.Error(str(e)) from None

    def panel(s: Session, query: str = "", fresh: frozenset | set = frozenset()) -> tuple[str, Any]:
        """(panel HTML, note picker update) for the session's notebook, filtered by `query`."""
        if query and query.strip():
            hits = backend.search(s, query)
            notes, scores = [n for n, _ in hits], [sc for _, sc in hits]
            total = s.store.count(session=s.name)
        else:
            (notes, total), scores = backend.notes(s), None
        choices = [(f"#{n.id} · {_short(n.text)}", n.id) for n in notes]
        return (render_notes(notes, total, query or "", scores, fresh, floor=s.store.relevance_floor),
                gr.update(choices=choices))

    def take_fresh(s: Session) -> frozenset:
        ids = frozenset(n.id for n in s.fresh)
        s.fresh.clear()
        return ids

    # delete_cache: exported notebooks leave gradio's file cache after an hour.
    with gr.Blocks(title="memgpt: a GPT that keeps notes", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        nb_state = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=backend.browser_secret)
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=480, render_markdown=False, sanitize_html=True,
                                     latex_delimiters=[], allow_tags=False, line_breaks=False,
                                     feedback_options=None, buttons=["copy", "copy_all"], elem_id="memgpt-chat")
                with gr.Row():
                    msg = gr.Textbox(placeholder="Say something… e.g. “Hi, I'm Ada.”", show_label=False,
                                     scale=5, lines=1, max_lines=6, elem_id="memgpt-msg", autofocus=True)
                    # no max_length: the browser would cut a long paste without a word; turn() refuses it
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="memgpt-send")
                gauge = gr.HTML(backend.window(session(None)) if not multi else render_gauge(0, 0, _block(backend), 0),
                                label="Window", elem_id="memgpt-gauge")
                with gr.Row():
                    new_conv = gr.Button("New conversation (keep notes)", size="sm", elem_id="memgpt-new")
                with gr.Accordion("Settings", open=False):
                    temperature = gr.Slider(0.0, 1.5, value=DEFAULT_TEMPERATURE, step=0.05, label="Temperature (0 = greedy)")
                    max_tokens = gr.Slider(8, 512, value=128, step=8, label="Most tokens per reply (notes included)")
            with gr.Column(scale=2):
                gr.Markdown("### Notebook")
                with gr.Row():
                    query = gr.Textbox(placeholder="Search notes…", show_label=False, scale=4, elem_id="memgpt-search")
                    search_btn = gr.Button("Search", size="sm", scale=1, min_width=70)
                notes_html = gr.HTML(render_notes([], 0), elem_id="memgpt-notes-panel")
                with gr.Accordion("Edit, delete, add, export", open=False):
                    picker = gr.Dropdown(label="Note", choices=[], value=None, interactive=True, elem_id="memgpt-picker")
                    edit_text = gr.Textbox(label="Text", lines=2, max_length=MAX_NOTE_CHARS, elem_id="memgpt-edit-text")
                    with gr.Row():
                        save_btn = gr.Button("Save edit", size="sm")
                        del_btn = gr.Button("Delete note", size="sm", variant="stop")
                        add_btn = gr.Button("Add as new note", size="sm")
                    with gr.Row():
                        export_btn = gr.Button("Export JSONL", size="sm")
                        del_all_btn = gr.Button("Delete all notes…", size="sm", variant="stop", elem_id="memgpt-del-all")
                    with gr.Row(visible=False) as confirm_row:
                        confirm_md = gr.Markdown()
                        confirm_yes = gr.Button("Yes, delete them all", size="sm", variant="stop", elem_id="memgpt-del-all-yes")
                        confirm_no = gr.Button("Cancel", size="sm")
                    export_file = gr.File(label="Export", visible=False, interactive=False, elem_id="memgpt-export")
                if multi:
                    with gr.Accordion("API access", open=False):
                        gr.Markdown("This browser's notebook id: pass it as `notebook` to the `chat` and `notes` "
                                    "API endpoints. Anyone who has it can read and change these notes.")
                        nb_show = gr.Textbox(show_label=False, interactive=False, elem_id="memgpt-notebook-id")
                else:
                    nb_show = gr.Textbox(visible=False)

        # -- handlers (nb: the browser's notebook id; ignored in single-user mode)
        def on_load(nb):
            if multi and not valid_notebook_id(nb):
                nb = new_notebook_id()
            s = session(nb)
            html_, pick = panel(s)
            return nb, list(s.messages), html_, pick, backend.window(s), (nb if multi else "")

        def on_chat(message, nb, temp, max_new):
            """Stream one turn. Outputs: chat, message box, search box, panel, picker, gauge. The
            panel shows the whole notebook (the search is cleared) and is refreshed in the very
            yield after a note is filed, so notes appear while the reply is still streaming."""
            keep = gr.skip()
            if not message or not message.strip():
                gr.Warning(EMPTY_MESSAGE)
                yield keep, keep, keep, keep, keep, keep
                return
            s = session(nb)
            take_fresh(s)
            fresh: set[int] = set()
            try:
                for i, _ in enumerate(backend.turn(s, message, int(max_new), float(temp))):
                    if i == 0 or s.fresh:
                        fresh |= take_fresh(s)
                        html_, pick = panel(s, "", fresh)
                        yield list(s.messages), "", "", html_, pick, backend.window(s)
                    else:
                        yield list(s.messages), keep, keep, keep, keep, backend.window(s)
            except (BusyError, ValueError) as e:
                raise gr.Error(str(e)) from None
            fresh |= take_fresh(s)
            html_, pick = panel(s, "", fresh)
            yield list(s.messages), keep, keep, html_, pick, backend.window(s)

        def on_new(nb):
            s = session(nb)
            try:
                backend.new_conversation(s)
            except BusyError as e:
                raise gr.Error(str(e)) from None
            return [], backend.window(s)

        def on_search(nb, q):
            return panel(session(nb), q)

        def on_pick(nb, note_id):
            if note_id is None:
                return ""
            try:
                return backend._own(session(nb), note_id).text
            except NotebookError as e:
                raise gr.Error(str(e)) from None

        def on_save(nb, q, note_id, text):
            s = session(nb)
            try:
                n = backend.update_note(s, note_id, text)
            except (NotebookError, KeyError) as e:
                raise gr.Error(str(e)) from None
            gr.Info(f"Saved note #{n.id}.")
            return panel(s, q)

        def on_delete(nb, q, note_id):
            s = session(nb)
            try:
                backend.delete_note(s, note_id)
            except NotebookError as e:
                raise gr.Error(str(e)) from None
            gr.Info(f"Deleted note #{int(note_id)}.")
            html_, pick = panel(s, q)
            return html_, gr.update(choices=pick["choices"], value=None), ""

        def on_add(nb, q, text):
            s = session(nb)
            try:
                n = backend.add_note(s, text)
            except NotebookError as e:
                raise gr.Error(str(e)) from None
            gr.Info(f"Added note #{n.id}.")
            return panel(s, q)

        def on_ask_delete_all(nb):
            s = session(nb)
            n = s.store.count(session=s.name)
            return gr.update(visible=True), f"Delete all {n} notes of this notebook? This cannot be undone."

        def on_delete_all(nb, q):
            s = session(nb)
            n = backend.delete_all(s)
            gr.Info(f"Deleted {n} notes.")
            html_, pick = panel(s, q)
            return gr.update(visible=False), html_, gr.update(choices=pick["choices"], value=None), ""

        def on_export(nb):
            return gr.update(value=backend.export(session(nb)), visible=True)

        ui = dict(api_visibility="private")
        demo.load(on_load, [nb_state], [nb_state, chatbot, notes_html, picker, gauge, nb_show], **ui)
        chat_args = dict(fn=on_chat, inputs=[msg, nb_state, temperature, max_tokens],
                         outputs=[chatbot, msg, query, notes_html, picker, gauge], concurrency_id="model",
                         concurrency_limit=2, **ui)
        msg.submit(**chat_args)
        send.click(**chat_args)
        new_conv.click(on_new, [nb_state], [chatbot, gauge], **ui)
        chatbot.clear(on_new, [nb_state], [chatbot, gauge], **ui)  # the chat's trash icon: same thing
        query.submit(on_search, [nb_state, query], [notes_html, picker], **ui)
        search_btn.click(on_search, [nb_state, query], [notes_html, picker], **ui)
        picker.input(on_pick, [nb_state, picker], [edit_text], **ui)
        save_btn.click(on_save, [nb_state, query, picker, edit_text], [notes_html, picker], **ui)
        del_btn.click(on_delete, [nb_state, query, picker], [notes_html, picker, edit_text], **ui)
        add_btn.click(on_add, [nb_state, query, edit_text], [notes_html, picker], **ui)
        del_all_btn.click(on_ask_delete_all, [nb_state], [confirm_row, confirm_md], **ui)
        confirm_no.click(lambda: gr.update(visible=False), None, [confirm_row], **ui)
        confirm_yes.click(on_delete_all, [nb_state, query], [confirm_row, notes_html, picker, edit_text], **ui)
        export_btn.click(on_export, [nb_state], [export_file], **ui)

        # -- the API (gradio_client): /chat and /notes
        def api_session(notebook: str, request: gr.Request | None) -> Session:
            conn = getattr(request, "session_hash", None) if request is not None else None
            try:
                return backend.session_for(notebook or None, connection=conn)
            except NotebookError as e:
                raise gr.Error(str(e)) from None

        def chat(message: str, notebook: str = "", request: gr.Request = None) -> str:
            """One chat turn; returns the model's reply (its notes are filed, not shown).
            notebook: multi-user mode only: your notebook id, or "" for this connection's own."""
            s = api_session(notebook, request)
            reply = ""
            try:
                for reply, _ in backend.turn(s, message):
                    pass
            except (BusyError, ValueError) as e:
                raise gr.Error(str(e)) from None
            return reply

        def notes(notebook: str = "", request: gr.Request = None) -> list[dict]:
            """Every note of the notebook, oldest first: id, text, created_at, source, position,
            edited_at, seen_at and superseded_by (the id of the newer note on its key, or None)."""
            s = api_session(notebook, request)
            out, offset = [], 0
            while batch := s.store.list(session=s.name, limit=1000, offset=offset):
                out += [{k: v for k, v in n.to_dict().items() if k != "session"} for n in batch]
                offset += len(batch)
            return out

        gr.api(chat, api_name="chat", concurrency_id="model", concurrency_limit=2)
        gr.api(notes, api_name="notes", concurrency_limit=8)
    demo.queue(default_concurrency_limit=4)
    return demo


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _block(backend: Backend) -> int:
    return int(backend.model.config.block_size)


def launch(demo, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, **kw):
    """Start the server without blocking; returns (app, local_url, share_url)."""
    return demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True,
                       quiet=True, footer_links=["api"], run_history=False, ssr_mode=False,
                       mcp_server=False, show_error=True, css=CSS, **kw)


# ---- command line ------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`memgpt demo`'s arguments (the subcommand is wired in memgpt.cli)."""
    from memgpt.cli import add_model_argument

    p.description = __doc__.splitlines()[0]
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: %(default)s; a non-loopback host implies --multi-user)")
    p.add_argument("--port", type=int, default=7860, help="port (default: %(default)s; 0 = any free port)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help=f"the demo's directory; notes persist in DIR/notes, which the CLI shares with "
                        f"--memory DIR/notes (default: ${DATA_ENV} or ~/.memgpt/demo)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (implies --multi-user)")
    p.add_argument("--multi-user", action="store_true", help="a separate notebook for each browser")
    add_model_argument(p)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available, else cpu)")
    return p


def wants_multi_user(args: argparse.Namespace) -> bool:
    """--multi-user, or implied by --share or a host other people can reach."""
    return bool(args.multi_user or args.share or not is_loopback(args.host))


def serve(args: argparse.Namespace):
    """Load the model, build the app and start serving (not blocking); prints the URL.
    Returns (demo, backend, local_url)."""
    multi = wants_multi_user(args)
    data = os.path.abspath(os.path.expanduser(args.data or default_data_dir()))
    backend = Backend.from_checkpoint(args.model, data, multi_user=multi, device=args.device)
    try:
        demo = build_app(backend)
        port = args.port if args.port else _free_port(args.host)
        try:
            _, local_url, share_url = launch(demo, host=args.host, port=port, share=args.share)
        except OSError as e:
            if "empty port" in str(e):
                raise OSError(f"port {port} on {args.host} is in use; choose another --port (0 picks a free one)") from None
            raise
    except BaseException:
        backend.close()
        raise
    where = " (listening on all interfaces)" if args.host in ("0.0.0.0", "::", "") else ""
    print(f"memgpt demo: {local_url}{where}", flush=True)
    if share_url:
        print(f"memgpt demo: public link {share_url}", flush=True)
    print(f"memgpt demo: notes in {notes_dir(data)}; "
          f"{'one notebook per browser' if multi else 'one notebook (single user)'}. Ctrl-C stops.", flush=True)
    if not multi:
        print(f"memgpt demo: the CLI shares them: memgpt ask QUESTION --memory {notes_dir(data)}", flush=True)
    return demo, backend, local_url


def command(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM (`memgpt demo`)."""
    demo, backend, _ = serve(args)
    try:
        if threading.current_thread() is threading.main_thread():
            import signal

            signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        backend.close()
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _free_port(host: str) -> int:
    import socket

    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host if host not in ("localhost",) else "127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    from memgpt.cli import run_command

    sys.exit(run_command("demo"))
