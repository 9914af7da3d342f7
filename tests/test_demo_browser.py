"""The demo in a real browser: Playwright drives Debian's chromium (headless).

A scripted model writes `<|scratch|>user name: Ada<|/scratch|>Nice to meet you.<|end|>` token by
token, so the test sees a note appear in the panel while the reply streams, the memory box, the
gauge, escaping of a hostile note, and the note surviving a server restart.

Chromium: /usr/bin/chromium from Debian (`scripts/install_browser.sh`, run here when missing;
`playwright install` cannot download browsers on this project's machines). Set MEMGPT_DEMO_SCREENSHOT
to a path (e.g. docs/demo.png) to keep a screenshot; otherwise it goes to the test's tmp dir.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from browser import CHROMIUM, launch_chromium, open_page
from test_demo import NOTE, REPLY, TOK, ScriptedChatModel

pytestmark = pytest.mark.slow

ROOT = os.path.join(os.path.dirname(__file__), "..")


def ensure_chromium() -> str:
    if not os.path.exists(CHROMIUM):
        script = os.path.join(ROOT, "scripts", "install_browser.sh")
        r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=900)
        if r.returncode != 0 or not os.path.exists(CHROMIUM):
            pytest.fail(f"could not install chromium ({r.returncode}): {r.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # the `playwright` package (dev extra); browsers from Debian

    exe = ensure_chromium()
    with sync_playwright() as pw:
        b = launch_chromium(pw, exe)
        yield b
        b.close()


def start(data_dir, multi_user=False, port=None):
    from memgpt.demos.app import Backend, _free_port, build_app, launch

    backend = Backend(ScriptedChatModel(), TOK, str(data_dir), multi_user=multi_user)
    demo = build_app(backend)
    _, url, _ = launch(demo, port=port or _free_port("127.0.0.1"))
    return backend, demo, url


def stop(backend, demo):
    demo.close()
    backend.close()


def panel_texts(page) -> list[str]:
    return page.locator("#memgpt-notes-panel td.ntext").all_inner_texts()


def send(page, text: str, expect_turns: int) -> None:
    """Type a message, press Send and wait until the reply has streamed in (the scripted reply
    appears `expect_turns` times in the chat)."""
    page.locator("#memgpt-msg textarea").fill(text)
    page.locator("#memgpt-send").click()
    page.wait_for_function(
        f"(document.querySelector('#memgpt-chat')?.innerText ?? '').split({REPLY!r}).length - 1 >= {expect_turns}",
        timeout=60_000)


def test_browser_chat_note_appears_and_survives_restart(browser, tmp_path):
    data = tmp_path / "data"
    shot = os.environ.get("MEMGPT_DEMO_SCREENSHOT") or str(tmp_path / "demo.png")
    t0 = time.perf_counter()
    backend, demo, url = start(data)
    hostile = backend.store.add("<script>window.__pwned = 1</script> [click](http://example.com) **bold**",
                                session="default")
    try:
        page, errors = open_page(browser, url)
        page.wait_for_selector("#memgpt-notes-panel td.ntext", timeout=60_000)
        # A hostile note shows literally: no script ran, no link or bold was made of it.
        assert panel_texts(page) == [hostile.text]
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#memgpt-notes-panel a, #memgpt-notes-panel strong").count() == 0

        send(page, "Hi, I'm Ada.", 1)
        page.wait_for_function(f"document.querySelector('#memgpt-notes-panel').innerText.includes({NOTE!r})",
                               timeout=30_000)
        assert NOTE in panel_texts(page)
        assert "Window:" in page.locator("#memgpt-gauge").inner_text()
        assert "Memory used" in page.locator("#memgpt-chat").inner_text()

        # User text is shown as typed, not as HTML or markdown; the reply lists the note it used.
        typed = "What is my name? <b>really</b> [me](http://example.com) <img src=x onerror='window.__pwned=2'>"
        send(page, typed, 2)
        chat = page.locator("#memgpt-chat")
        assert typed in chat.inner_text()
        assert chat.locator(".message-content b, .message a[href*='example.com'], img[src='x']").count() == 0
        assert page.evaluate("window.__pwned") is None
        memory = page.locator("#memgpt-chat ul.memgpt-memory").last  # the last reply's memory box
        memory.wait_for(state="visible", timeout=10_000)
        assert NOTE in memory.inner_text()
        os.makedirs(os.path.dirname(os.path.abspath(shot)), exist_ok=True)
        page.screenshot(path=shot, full_page=True)

        # New conversation: the chat empties, the notes stay.
        page.locator("#memgpt-new").click()
        page.wait_for_function(f"!document.querySelector('#memgpt-chat').innerText.includes({REPLY!r})",
                               timeout=30_000)
        assert NOTE in panel_texts(page)
        assert not errors, errors
        page.close()
    finally:
        stop(backend, demo)

    backend, demo, url = start(data)  # a restart: the notes are read back from the data dir
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function(f"(document.querySelector('#memgpt-notes-panel')?.innerText ?? '')"
                               f".includes({NOTE!r})", timeout=60_000)
        assert NOTE in panel_texts(page) and hostile.text in panel_texts(page)

        # Export downloads the notebook as JSONL.
        page.get_by_text("Edit, delete, add, export").click()
        page.get_by_role("button", name="Export JSONL").click()
        link = page.locator("#memgpt-export a[href]").first
        link.wait_for(timeout=30_000)
        body = page.request.get(link.get_attribute("href")).text()
        # the note written again by the second turn is an exact duplicate: stored once (DESIGN §7)
        assert [json.loads(line)["text"] for line in body.splitlines()] == [hostile.text, NOTE]

        # Delete all asks first; Cancel keeps the notes, confirming removes them.
        page.locator("#memgpt-del-all").click()
        page.get_by_role("button", name="Cancel").click()
        assert len(panel_texts(page)) == 2
        page.locator("#memgpt-del-all").click()
        page.locator("#memgpt-del-all-yes").click()
        page.wait_for_function("document.querySelector('#memgpt-notes-panel').innerText.includes('No notes yet')",
                               timeout=30_000)
        assert backend.store.count() == 0
        page.close()
    finally:
        stop(backend, demo)
    print(f"browser test: {time.perf_counter() - t0:.1f}s; screenshot {shot}")


def notebook_id(page) -> str:
    """Wait for the page's load event to settle its notebook id (shown under "API access")."""
    box = "#memgpt-notebook-id textarea, #memgpt-notebook-id input"
    if page.locator(box).count() == 0:
        page.get_by_text("API access").click()  # the accordion renders its content when opened
    page.wait_for_function(f"(document.querySelector({box!r})?.value ?? '').length === 32", timeout=60_000)
    return page.locator(box).first.input_value()


def test_browser_multi_user_notebooks_are_per_browser_and_survive_restart(browser, tmp_path):
    """Two browser contexts (two people) each get a notebook id in localStorage; each sees only
    its own notes, and keeps its notebook across a reload and a server restart."""
    data = tmp_path / "data"
    backend, demo, url = start(data, multi_user=True)
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        a.goto(url)
        b.goto(url)
        id_a, id_b = notebook_id(a), notebook_id(b)
        assert id_a != id_b
        send(a, "Hi, I'm Ada.", 1)
        a.wait_for_function(f"document.querySelector('#memgpt-notes-panel').innerText.includes({NOTE!r})",
                            timeout=30_000)
        b.reload()
        assert notebook_id(b) == id_b
        assert NOTE not in b.locator("#memgpt-notes-panel").inner_text()
        stop(backend, demo)
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        backend, demo, url = start(data, multi_user=True, port=port)  # same origin: localStorage keeps the ids
        a.reload()
        b.reload()
        assert (notebook_id(a), notebook_id(b)) == (id_a, id_b)
        a.wait_for_function(f"document.querySelector('#memgpt-notes-panel').innerText.includes({NOTE!r})",
                            timeout=30_000)
        assert NOTE not in b.locator("#memgpt-notes-panel").inner_text()
        assert [n.text for n in backend.store.list(session=backend.session_name(id_a))] == [NOTE]
        assert backend.store.list(session=backend.session_name(id_b)) == []
    finally:
        ctx_a.close()
        ctx_b.close()
        stop(backend, demo)
