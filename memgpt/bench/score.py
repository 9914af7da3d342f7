"""How a benchmark or evaluation answer is graded."""
from __future__ import annotations

import re


def score(answer: str, expected: str, last_sentence: bool = False) -> float:
    """Fraction of the expected comma-separated values present in the answer (RULER's metric):
    a value (a number, a uuid, a word) counts where its whole string is in the answer, in any case.

    last_sentence: look only in the answer's last sentence. bAbI replies name the notes they
    chain before the answer ("Daniel has the milk. Daniel is in the office. The milk is in the
    office."): only the conclusion counts, not a place met on the way.
    """
    if last_sentence:
        answer = re.split(r"(?<=\.)\s+", answer.strip())[-1]
    parts = [p.strip() for p in expected.split(",") if p.strip()]
    return sum(p.lower() in answer.lower() for p in parts) / len(parts)
