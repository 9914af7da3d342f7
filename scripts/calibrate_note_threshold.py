"""Where should a reader open a note? p(<|scratch|>) at true and false openings, on training data.

    python scripts/calibrate_note_threshold.py --model smollm2-notes [--rows 60] [--seed 1000000]
    python scripts/calibrate_note_threshold.py --model smollm2-base --adapter runs/ft4/last

Reads `--rows` rows of the open corpus's *train* split (`reading` and `fact_free`, the training
relation types and prose styles; a seed the trainer never draws), and records the model's
p(<|scratch|>) at every position of document text: positions the corpus follows with a note
(true openings) and all others. Prints, for candidate thresholds, the share of true openings
kept and the false openings per 10k tokens, so `EngineConfig.note_threshold` is chosen on
training data and never on the held-out styles the evaluation reads.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys

import torch

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


def measure(model, tok, rows) -> list[tuple[float, bool, bool]]:
    """(p(<|scratch|>), is it the argmax, does the corpus open a note here) per document position."""
    out = []
    with torch.no_grad():
        for ids, _ in rows:
            probs = torch.softmax(model(torch.tensor([ids]))[0][0].float(), -1)
            p, top = probs[:, tok.scratch], probs[:, :tok.n_vocab].argmax(-1)
            for j in range(len(ids) - 1):
                if ids[j] in tok.control_ids or ids[j + 1] in (tok.scratch_end, tok.eot):
                    continue  # inside markup or at the end: not a place to decide on a note
                out.append((float(p[j]), int(top[j]) == tok.scratch, ids[j + 1] == tok.scratch))
    return out


def table(points: list[tuple[float, bool, bool]], thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold (0.5: the argmax rule, as the engine reads): true openings kept, false per 10k."""
    n_true = sum(t for _, _, t in points)
    rows = []
    for thr in thresholds:
        opens = [(a if thr <= 0.5 else p > thr, t) for p, a, t in points]
        rows.append({"threshold": thr, "true_kept": sum(o and t for o, t in opens) / max(1, n_true),
                     "false_per_10k": 1e4 * sum(o and not t for o, t in opens) / max(1, len(points))})
    return rows


def main(argv: list[str] | None = None) -> int:
    from memgpt.models import load_model
    from memgpt.training.open_data import rows

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-notes")
    ap.add_argument("--adapter", default=None, help="an adapter directory (a run's last/) to put on --model's base")
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, tok, _ = load_model(a.model, "cpu", shared=False)
    if a.adapter:
        from memgpt.lora import apply_adapter, read_adapter
        sd, info = read_adapter(a.adapter)
        model = apply_adapter(model, sd, info)
    model.eval()
    data = list(itertools.islice(rows(tok, split="train", seed=a.seed, mix={"reading": 0.6, "fact_free": 0.4}), a.rows))
    points = measure(model, tok, data)
    rows_ = table(points)
    print(f"{a.model}: {sum(t for *_, t in points)} true openings in {len(points)} document positions")
    print("| threshold | true openings kept | false openings per 10k tokens |\n|---|---|---|")
    for r in rows_:
        print(f"| {'argmax' if r['threshold'] <= 0.5 else r['threshold']} | {r['true_kept']:.3f} | {r['false_per_10k']:.1f} |")
    print(json.dumps({"model": a.model, "rows": a.rows, "seed": a.seed, "positions": len(points), "table": rows_}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
