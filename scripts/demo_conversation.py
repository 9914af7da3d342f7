"""A scripted conversation through the served demo (issue 26's "done when"), as a user's browser
would hold it, over gradio_client.

    python scripts/demo_conversation.py --model smollm2-notes [--facts 10] [--smalltalk 20] [--seed 0]

`--facts` user facts of held-out relation types (test values), each stated in natural words, are
spread over `--smalltalk` held-out small-talk turns; then each fact is asked in other words
(`evaluate_open`'s statements, questions and answer check). The demo is then stopped and started
again on the same data directory, and the questions are asked once more: the notes must survive
the restart. Prints (and writes to --out) every turn, the notebook and the two scores; exits 1
when fewer than `--need` answers are right after the restart.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from memgpt.training.evaluate_open import _question, _smalltalk, _statement, _user_facts, answer_contains


def start_demo(model: str, data: str, log) -> tuple[subprocess.Popen, str]:
    """`memgpt demo` on a free loopback port; returns the process and its URL once it serves."""
    cmd = [sys.executable, "-m", "memgpt.cli", "demo", "--model", model, "--data", data, "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.time() + 600
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"the demo exited ({proc.returncode}) before serving; see its log")
        m = re.match(r"memgpt demo: (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("the demo did not serve within 10 minutes")


def stop_demo(proc: subprocess.Popen) -> None:
    proc.terminate()  # SIGTERM: the demo closes its store as on Ctrl-C
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def script(seed: int, n_facts: int, n_small: int) -> tuple[list[dict], list[dict]]:
    """(turns: {user, fact?}, questions: {question, values, note, relation}), deterministic in seed."""
    rng = random.Random(f"demo-conversation:{seed}")
    facts = _user_facts(rng, "heldout", n_facts, set())
    small = _smalltalk(rng, n_small)
    slots = sorted(rng.sample(range(n_facts + n_small), n_facts))
    turns, fi, si = [], 0, 0
    for i in range(n_facts + n_small):
        if fi < n_facts and i == slots[fi]:
            turns.append({"user": _statement(rng, facts[fi]), "fact": facts[fi].note})
            fi += 1
        else:
            turns.append({"user": small[si]})
            si += 1
    order = list(facts)
    rng.shuffle(order)
    questions = [{"question": _question(rng, f.questions), "values": list(f.values), "note": f.note,
                  "relation": f.relation.name} for f in order]
    return turns, questions


def ask_all(client, questions: list[dict], label: str) -> list[dict]:
    out = []
    for q in questions:
        reply = client.predict(q["question"], api_name="/chat")
        ok = answer_contains(reply, q["values"])
        out.append({**q, "reply": reply, "correct": ok})
        print(f"[{label}] {'OK ' if ok else 'MISS'} {q['question']!r} -> {reply!r} (expected {q['note']!r})", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from gradio_client import Client

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-notes")
    ap.add_argument("--facts", type=int, default=10)
    ap.add_argument("--smalltalk", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--need", type=int, default=9, help="right answers after the restart to pass")
    ap.add_argument("--out", default="runs/demo_conversation")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    turns, questions = script(a.seed, a.facts, a.smalltalk)
    result: dict = {"model": a.model, "seed": a.seed, "turns": []}
    with tempfile.TemporaryDirectory(prefix="memgpt-demo-") as data, open(os.path.join(a.out, "demo.log"), "w") as log:
        proc, url = start_demo(a.model, data, log)
        try:
            client = Client(url, verbose=False)
            for t in turns:
                reply = client.predict(t["user"], api_name="/chat")
                result["turns"].append({**t, "reply": reply})
                print(f"user: {t['user']}\n  bot: {reply}", flush=True)
            result["before_restart"] = ask_all(client, questions, "before restart")
            result["notes"] = [n["text"] for n in client.predict(api_name="/notes")]
        finally:
            stop_demo(proc)
        proc, url = start_demo(a.model, data, log)
        try:
            client = Client(url, verbose=False)
            result["notes_after_restart"] = [n["text"] for n in client.predict(api_name="/notes")]
            result["after_restart"] = ask_all(client, questions, "after restart")
        finally:
            stop_demo(proc)
    before = sum(r["correct"] for r in result["before_restart"])
    after = sum(r["correct"] for r in result["after_restart"])
    result.update(score_before=before, score_after=after, n=len(questions))
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    print("notebook:\n  " + "\n  ".join(result["notes"]))
    print(f"{a.model}: {before}/{len(questions)} right before the restart, {after}/{len(questions)} after "
          f"(need {a.need}); {len(result['notes_after_restart'])} notes kept of {len(result['notes'])}")
    return 0 if after >= a.need else 1


if __name__ == "__main__":
    sys.exit(main())
