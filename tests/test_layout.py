"""The card's layout: the top level, one home per concept, one-way imports, a clean .gitignore."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_top_level_is_the_cards():
    for name in ("memgpt", "memory", "training", "demos", "tests", "pyproject.toml"):
        assert os.path.exists(os.path.join(ROOT, name)), name
    # lab tools live in scripts/ and tests/, not in the installed package
    for gone in ("memory/measure_recall.py", "memory/bench_index.py", "demos/browser.py",
                 "memgpt/bench/facts.py", "memgpt/bench/filler.py"):
        assert not os.path.exists(os.path.join(ROOT, gone)), gone


def test_pure_modules_import_neither_torch_nor_the_engine():
    """The window rules and the synthetic facts are pure: the corpus builder imports them (and
    itself) without torch or the engine, and neither imports training or demos."""
    code = ("import sys, memgpt.window, memgpt.synth.facts, memgpt.synth.filler, memgpt.synth.notes, "
            "memgpt.training.data; "
            "bad = [m for m in sys.modules if m in ('torch', 'memgpt.controller') or m.startswith('memgpt.demos')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = ("import sys, memgpt.window, memgpt.synth.notes; "
            "bad = [m for m in sys.modules if m.startswith(('memgpt.training', 'memgpt.demos', 'memgpt.bench'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")),
                    reason="needs a git checkout")
def test_gitignore_lists_no_tracked_file():
    r = subprocess.run(["git", "ls-files", "-ci", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout
