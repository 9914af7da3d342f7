"""External memory for memgpt: notes in sqlite + a FAISS index. Imports no torch.

    from memgpt.memory import NoteStore
    with NoteStore("notes/") as store:
        store.add("pass key: 48213", source="ingest", position=1200)
        store.search("What is the pass key?", k=5)
"""

from .embed import Embedder, HashEmbedder, SentenceTransformerEmbedder, get_embedder
from .note import SOURCES, Note
from .store import NoteStore

__all__ = ["Embedder", "HashEmbedder", "Note", "NoteStore", "SOURCES", "SentenceTransformerEmbedder", "get_embedder"]
