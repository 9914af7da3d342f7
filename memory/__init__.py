"""External memory for memgpt: notes in sqlite + a FAISS index. Imports no torch.

    from memgpt.memory import NoteStore
    with NoteStore("notes/") as store:
        store.add("pass key: 48213", source="ingest", position=1200)
        store.search("What is the pass key?", k=5)
        store.add("user city: Lisbon", source="chat", supersede=True)  # replaces the current "user city"
        store.history("user city")                                     # every note on that key, oldest first
"""

from .embed import Embedder, HashEmbedder, SentenceTransformerEmbedder, get_embedder
from .note import SOURCES, Note, note_key

__all__ = ["Embedder", "HashEmbedder", "Note", "NoteStore", "SOURCES", "SentenceTransformerEmbedder", "StoreError",
           "get_embedder", "note_key"]


def __getattr__(name: str):
    # The store needs faiss; code that only needs Note (the engine, the corpus builder on a GPU machine
    # without faiss) must import without it.
    if name in ("NoteStore", "StoreError"):
        from . import store
        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
