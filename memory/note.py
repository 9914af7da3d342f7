"""The `Note` record: one line of text the model (or a user) filed into memory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SOURCES = ("ingest", "chat", "user")
"""Allowed values of `Note.source`."""


@dataclass
class Note:
    """One stored note.

    Attributes:
        id: store-assigned integer id (never reused within a store).
        text: the note text, exactly as written.
        created_at: Unix time (seconds) when the note was written.
        source: where it came from: "ingest", "chat" or "user".
        position: token offset in the stream where the note was written.
        session: the notebook this note belongs to (sessions never see each other's notes).
    """

    id: int
    text: str
    created_at: float
    source: str
    position: int = 0
    session: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Note":
        """Build a Note from `to_dict` output; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        missing = {"id", "text", "created_at", "source"} - d.keys()
        if missing:
            raise ValueError(f"note dict lacks required keys: {sorted(missing)}")
        kw = {k: v for k, v in d.items() if k in names}
        return cls(
            id=int(kw["id"]),
            text=kw["text"],
            created_at=float(kw["created_at"]),
            source=str(kw["source"]),
            position=int(kw.get("position", 0)),
            session=str(kw.get("session", "default")),
        )
