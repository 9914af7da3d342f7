"""PNG plots of a benchmark run (matplotlib, imported here only, Agg canvas, no pyplot state).

    accuracy_<task>.png        mean score vs length (log axis), one line per method
    heatmap_notes_<task>.png   `notes` mean score over length x depth (the NIAH picture)
    heatmap_notes_all.png      the same over every task
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from .tasks import format_length

METHOD_STYLE = {"window": ("tab:gray", "s"), "rag": ("tab:orange", "^"), "notes": ("tab:blue", "o"),
                "oracle": ("tab:green", "*")}
MAX_DEPTH_ROWS = 11  # more distinct depths than this are binned


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def plot_accuracy(records: Sequence[dict[str, Any]], task: str, methods: Sequence[str], path: str) -> None:
    rs = [r for r in records if r["task"] == task]
    lengths = sorted({r["length"] for r in rs})
    fig = _figure(6, 4)
    ax = fig.add_subplot()
    for k, m in enumerate(methods):  # later lines get smaller markers: equal scores stay visible
        pts = [(L, _mean([r["correct"] for r in rs if r["method"] == m and r["length"] == L])) for L in lengths
               if any(r["method"] == m and r["length"] == L for r in rs)]
        if pts:
            color, marker = METHOD_STYLE.get(m, (None, "o"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color, label=m,
                    markersize=max(3.0, 11 - 2.5 * k), alpha=0.85)
    if len(lengths) > 1:
        ax.set_xscale("log")
    ax.set_xticks(lengths)
    ax.set_xticklabels([format_length(L) for L in lengths])
    ax.minorticks_off()
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("length (tokens)")
    ax.set_ylabel("accuracy (mean score)")
    ax.set_title(task)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def _depth_rows(depths: list[float]) -> tuple[list[str], dict[float, int]]:
    """Row labels and the row of each depth: one row per distinct depth, or bins when many."""
    ds = sorted(set(depths))
    if len(ds) <= MAX_DEPTH_ROWS:
        return [f"{d:.2f}" for d in ds], {d: i for i, d in enumerate(ds)}
    n = MAX_DEPTH_ROWS - 1
    return ([f"{i / n:.1f}-{(i + 1) / n:.1f}" for i in range(n)], {d: min(int(d * n), n - 1) for d in ds})


def plot_heatmap(records: Sequence[dict[str, Any]], path: str, title: str) -> bool:
    """Mean score of `records` over length (x) and depth (y). False if there is nothing to draw."""
    if not records:
        return False
    lengths = sorted({r["length"] for r in records})
    labels, row_of = _depth_rows([r["depth"] for r in records])
    cells: dict[tuple[int, int], list[float]] = {}
    for r in records:
        cells.setdefault((row_of[r["depth"]], lengths.index(r["length"])), []).append(r["correct"])
    grid = [[_mean(cells[i, j]) if (i, j) in cells else float("nan") for j in range(len(lengths))]
            for i in range(len(labels))]
    fig = _figure(1.6 + 0.9 * len(lengths), 1.4 + 0.45 * len(labels))
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(lengths)))
    ax.set_xticklabels([format_length(L) for L in lengths])
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    for (i, j), xs in cells.items():
        ax.text(j, i, f"{_mean(xs):.2f}", ha="center", va="center", fontsize=8)
    ax.set_xlabel("length (tokens)")
    ax.set_ylabel("depth of the fact")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="accuracy")
    fig.tight_layout()
    fig.savefig(path)
    return True


def write_plots(records: Sequence[dict[str, Any]], tasks: Sequence[str], methods: Sequence[str], out: str) -> list[str]:
    """Every plot of the run into `out`; returns the paths written."""
    paths: list[str] = []
    for task in tasks:
        if any(r["task"] == task for r in records):
            p = os.path.join(out, f"accuracy_{task}.png")
            plot_accuracy(records, task, methods, p)
            paths.append(p)
    notes = [r for r in records if r["method"] == "notes"]
    for task in tasks:
        p = os.path.join(out, f"heatmap_notes_{task}.png")
        if plot_heatmap([r for r in notes if r["task"] == task], p, f"notes: {task}"):
            paths.append(p)
    p = os.path.join(out, "heatmap_notes_all.png")
    if plot_heatmap(notes, p, "notes: all tasks"):
        paths.append(p)
    return paths
