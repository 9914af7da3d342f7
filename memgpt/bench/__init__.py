"""Long-context benchmarks (DESIGN §6): published task formats x lengths x methods.

    import memgpt.bench
    memgpt.bench.run(tasks="passkey,niah_single,qa1", lengths="1k,4k", methods="all", samples=5,
                     seed=0, out="bench/", checkpoint="runs/default/best")

or `memgpt bench ...` on the command line. `run` and friends are imported lazily (PEP 562), so
importing this package costs nothing until a benchmark runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["METHODS", "TASKS", "make_sample", "parse_length", "run"]

if TYPE_CHECKING:  # pragma: no cover
    from memgpt.bench.runner import run
    from memgpt.bench.tasks import METHODS, TASKS, make_sample, parse_length


def __getattr__(name: str) -> Any:
    if name == "run":
        from memgpt.bench.runner import run
        return run
    if name in ("METHODS", "TASKS", "make_sample", "parse_length"):
        from memgpt.bench import tasks
        return getattr(tasks, name)
    raise AttributeError(f"module 'memgpt.bench' has no attribute {name!r}")
