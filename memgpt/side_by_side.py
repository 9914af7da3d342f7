"""Several models through one command, reported side by side: `memgpt bench --model default,tiny`
and `memgpt eval --suite open --model default,tiny` run each model into `OUT/<model>/` (its own
full report) and write `OUT/side_by_side.md`, one column per model."""
from __future__ import annotations

import os
import re
from typing import Sequence


def model_names(value: str | None) -> list[str | None]:
    """`--model`'s value as a list: "a,b" -> ["a", "b"]; None (the default model) -> [None]."""
    if value is None:
        return [None]
    names = [v.strip() for v in str(value).split(",")]
    if not all(names):
        raise ValueError(f"--model {value!r}: an empty name in the list")
    if len(set(names)) != len(names):
        raise ValueError(f"--model {value!r}: a model named twice")
    return names


def model_out(out: str | os.PathLike, name: str | None) -> str:
    """Where one model's run of a side-by-side report goes: OUT/<the name, made a folder name>."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(str(name or "default").rstrip("/\\")) or "model")
    return os.path.join(str(out), slug)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write(out: str | os.PathLike, title: str, table: str) -> str:
    path = os.path.join(str(out), "side_by_side.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {title}\n\n{table}\n")
    return path
