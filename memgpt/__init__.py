"""memgpt: a small GPT that keeps its own notes.

    import memgpt
    bot = memgpt.load()            # or memgpt.load("path/to/checkpoint", memory="notes/")
    bot.ingest(text)
    bot.ask("What is the pass key?")

The API names are imported lazily (PEP 562), so `import memgpt.memory` stays free of torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["MemGPT", "__version__", "generate", "load"]

if TYPE_CHECKING:  # pragma: no cover
    from memgpt.api import MemGPT, generate, load


def __getattr__(name: str) -> Any:
    if name in ("load", "generate", "MemGPT"):
        from memgpt import api
        return getattr(api, name)
    raise AttributeError(f"module 'memgpt' has no attribute {name!r}")
