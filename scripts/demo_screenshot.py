"""Screenshot the Gradio demo after a real conversation with the model.

    python scripts/demo_screenshot.py [--out docs/demo.png] [--messages "Hi!|What is my name?"]
                                      [--model NAME|PATH] [--timeout 180] [--search "colour"]

Starts `memgpt demo` (the default model unless --model is given) on a free port with a fresh,
empty data directory, opens it in headless chromium (Debian's /usr/bin/chromium, driven by
Playwright) at 1400x900, types the messages one after another, waiting for each reply to finish
streaming, optionally searches the notebook (`--search`: the panel then shows the ranked hits
with their scores), then saves a full-page screenshot to --out and prints the chat transcript and the notes
listed in the notebook panel. Nothing is scripted or edited: the page shows what the model wrote.
The server is stopped (SIGTERM, as Ctrl-C) and the data directory removed on exit, errors included.

On a busy machine run it as `nice -n 19 env OMP_NUM_THREADS=1 .venv/bin/python scripts/...`:
the server inherits both.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the browser test's chromium helpers
from browser import CHROMIUM, launch_chromium, open_page  # noqa: E402
DEFAULT_MESSAGES = ["Hi! My name is Ada and I live in Lisbon.", "My favourite colour is teal.",
                    "What is my name?", "Where do I live?"]
URL_RE = re.compile(r"memgpt demo: (https?://\S+)")

# Reads the chat in page order: user messages, the "Memory used" box above each reply, replies.
JS_TRANSCRIPT = """() => {
  const out = [];
  for (const el of document.querySelectorAll('#memgpt-chat [data-testid=user], #memgpt-chat [data-testid=bot]')) {
    const group = el.querySelector('.thought-group');
    if (el.dataset.testid === 'user') {
      out.push({role: 'user', text: el.innerText.trim()});
    } else if (group) {
      const title = group.querySelector('.title');
      const body = group.querySelector('.content');
      out.push({role: 'memory', title: title ? title.innerText.trim() : '',
                text: body ? body.innerText.trim() : ''});
    } else {
      out.push({role: 'assistant', text: el.innerText.trim()});
    }
  }
  return out;
}"""

JS_NOTES = """() => {
  const panel = document.querySelector('#memgpt-notes-panel');
  const count = panel?.querySelector('.count')?.innerText.trim() ?? '';
  const rows = [...(panel?.querySelectorAll('tbody tr') ?? [])].map(tr => ({
    id: tr.querySelector('td.nid')?.innerText.trim(), text: tr.querySelector('td.ntext')?.innerText ?? '',
    time: tr.querySelector('td.ntime')?.innerText.trim(), source: tr.querySelector('td.nsrc')?.innerText.trim()}));
  const empty = panel?.querySelector('.empty')?.innerText.trim() ?? '';
  return {count, rows, empty};
}"""

# True while any of the chat event's outputs still shows gradio's progress (pending or streaming).
JS_BUSY = """() => {
  if (document.querySelector('.generating, .pending')) return true;
  const t = document.querySelector('#memgpt-chat [data-testid=status-tracker]');
  return !!t && !t.classList.contains('hide');
}"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join("docs", "demo.png"), help="PNG to write (default: %(default)s)")
    p.add_argument("--messages", default=None,
                   help="messages to send, separated by '|' (default: %s)" % " | ".join(DEFAULT_MESSAGES))
    p.add_argument("--model", "--checkpoint", dest="model", default=None, metavar="NAME|PATH",
                   help="passed to `memgpt demo --model` (default: the default model)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each reply (default: %(default)s)")
    p.add_argument("--search", default=None, metavar="QUERY",
                   help="after the messages, search the notebook for QUERY (the shot shows the ranked hits)")
    p.add_argument("--start-timeout", type=float, default=300.0,
                   help="seconds to wait for the server to start (default: %(default)s)")
    return p.parse_args(argv)


def memgpt_command() -> list[str]:
    exe = os.path.join(ROOT, ".venv", "bin", "memgpt")
    if os.path.exists(exe):
        return [exe]
    found = shutil.which("memgpt")
    return [found] if found else [sys.executable, "-m", "memgpt.cli"]


class Server:
    """`memgpt demo` as a subprocess; its output is collected by a thread (and echoed on failure)."""

    def __init__(self, data_dir: str, model: str | None):
        cmd = memgpt_command() + ["demo", "--port", "0", "--data", data_dir]  # port 0: the demo picks a free one
        if model:
            cmd += ["--model", model]
        self.cmd = cmd
        self.lines: list[str] = []
        self.url: str | None = None
        self._got_url = threading.Event()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     bufsize=1, start_new_session=True)  # Ctrl-C in the terminal reaches only us
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            m = URL_RE.search(line)
            if m and self.url is None:
                self.url = m.group(1)
                self._got_url.set()
        self._got_url.set()  # the server exited

    def wait_url(self, timeout: float) -> str:
        if not self._got_url.wait(timeout):
            raise RuntimeError(f"no URL from the demo after {timeout:.0f}s")
        if self.url is None:
            raise RuntimeError(f"the demo exited (status {self.proc.wait()}) before serving")
        return self.url

    def log(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the demo treats it as Ctrl-C and closes cleanly), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"demo_screenshot: the server did not stop in {timeout:.0f}s; killing it", file=sys.stderr)
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        return self.proc.returncode


def wait_idle(page, timeout_s: float, settle_s: float = 1.0) -> None:
    """Wait until gradio shows no event in progress and the chat text has stopped changing."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        busy = page.evaluate(JS_BUSY)
        text = page.locator("#memgpt-chat").inner_text()
        if busy or text != last:
            last, since = text, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the reply did not finish within {timeout_s:.0f}s")


def send(page, text: str, timeout_s: float) -> None:
    """Type a message, press Send and wait until its reply has finished streaming."""
    n_user = page.locator("#memgpt-chat [data-testid=user]").count()
    box = page.locator("#memgpt-msg textarea")
    box.click()
    box.fill(text)
    page.locator("#memgpt-send").click()
    # The user's message shows in the first streamed update; then wait for the stream to end.
    page.wait_for_function(f"document.querySelectorAll('#memgpt-chat [data-testid=user]').length > {n_user}",
                           timeout=timeout_s * 1000)
    wait_idle(page, timeout_s)


def print_report(transcript: list[dict], notes: dict) -> None:
    print("=== transcript ===")
    for m in transcript:
        if m["role"] == "memory":
            body = m["text"].replace("\n", " / ")
            print(f"  [{m['title']}] {body}")
        else:
            print(f"{m['role']:>9}: {m['text']}")
    print("=== notes panel ===")
    print(notes["count"])
    if not notes["rows"]:
        print(notes["empty"] or "(no notes)")
    for r in notes["rows"]:
        print(f"#{r['id']}  {r['text']}  ({r['time']}, {r['source']})")


def main(argv=None) -> int:
    args = parse_args(argv)
    messages = [m.strip() for m in (args.messages.split("|") if args.messages else DEFAULT_MESSAGES) if m.strip()]
    if not messages:
        print("demo_screenshot: no messages to send", file=sys.stderr)
        return 2
    if not os.path.exists(CHROMIUM):
        print(f"demo_screenshot: {CHROMIUM} is missing (scripts/install_browser.sh installs it)", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)

    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    data_dir = tempfile.mkdtemp(prefix="memgpt-demo-shot-")
    server = None
    ok = False
    try:
        server = Server(data_dir, args.model)
        url = server.wait_url(args.start_timeout)
        print(f"demo_screenshot: server at {url} ({time.perf_counter() - t0:.1f}s)", flush=True)
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                page, errors = open_page(browser, url, width=1400)
                page.wait_for_selector("#memgpt-notes-panel .memgpt-notes", timeout=60_000)
                wait_idle(page, 60)  # the load event (panel, gauge) has finished
                for i, text in enumerate(messages, 1):
                    t = time.perf_counter()
                    send(page, text, args.timeout)
                    print(f"demo_screenshot: message {i}/{len(messages)} answered in {time.perf_counter() - t:.1f}s",
                          flush=True)
                if args.search:
                    box = page.locator("#memgpt-search textarea, #memgpt-search input").first
                    box.fill(args.search)
                    box.press("Enter")
                    page.wait_for_selector("#memgpt-notes-panel .score, #memgpt-notes-panel .empty", timeout=60_000)
                    wait_idle(page, 60)
                transcript = page.evaluate(JS_TRANSCRIPT)
                notes = page.evaluate(JS_NOTES)
                page.screenshot(path=out, full_page=True)
                if errors:
                    print("demo_screenshot: page errors: " + "; ".join(errors), file=sys.stderr)
            finally:
                browser.close()
        print_report(transcript, notes)
        ok = True
    except Exception as e:
        print(f"demo_screenshot: error: {type(e).__name__}: {e}", file=sys.stderr)
        if server is not None:
            print("--- server output ---\n" + server.log(), file=sys.stderr)
    except KeyboardInterrupt:
        print("demo_screenshot: interrupted", file=sys.stderr)
    finally:
        if server is not None:
            rc = server.stop()
            print(f"demo_screenshot: server stopped (exit status {rc})", file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)
    if ok:
        print(f"demo_screenshot: wrote {out} in {time.perf_counter() - t0:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
