"""The `Note` record: one line of text the model (or a user) filed into memory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SOURCES = ("ingest", "chat", "user", "import")
"""Allowed values of `Note.source`: written by the model while reading ("ingest") or chatting
("chat"), typed or edited by a person ("user"), or read from an export ("import")."""


def note_key(text: str) -> str | None:
    """A note's key: the text before its first ": " ("user city" of "user city: Lisbon"), or
    None for a note without one ("Mary is in the kitchen")."""
    head, sep, _ = text.partition(": ")
    return head.strip() if sep and head.strip() else None


@dataclass
class Note:
    """One stored note.

    Attributes:
        id: store-assigned integer id (never reused within a store).
        text: the note text, exactly as written.
        created_at: Unix time (seconds) when the note was written.
        source: where it came from: "ingest", "chat", "user" or "import" (`SOURCES`).
        position: token offset in the stream where the note was written.
        session: the notebook this note belongs to (sessions never see each other's notes).
        edited_at: Unix time of the last edit by a person, or None if never edited.
        seen_at: Unix time the note was last written: an exact duplicate refreshes it instead
            of being stored again (`created_at` when never repeated).
        superseded_by: id of the newer note with the same key that replaced it (chat and notes
            a person types), or None while it is current. A superseded note is kept as history
            but never retrieved.
    """

    id: int
    text: str
    created_at: float
    source: str
    position: int = 0
    session: str = "default"
    edited_at: float | None = None
    seen_at: float | None = None
    superseded_by: int | None = None

    def __post_init__(self) -> None:
        if self.seen_at is None:
            self.seen_at = self.created_at

    @property
    def key(self) -> str | None:
        """The text before the first ": " (see `note_key`), or None."""
        return note_key(self.text)

    @property
    def superseded(self) -> bool:
        """Whether a newer note with the same key replaced this one."""
        return self.superseded_by is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Note":
        """Build a Note from `to_dict` output; unknown keys are ignored, missing optional ones
        take their defaults (older exports lack edited_at, seen_at and superseded_by)."""
        names = {f.name for f in fields(cls)}
        missing = {"id", "text", "created_at", "source"} - d.keys()
        if missing:
            raise ValueError(f"note dict lacks required keys: {sorted(missing)}")
        kw = {k: v for k, v in d.items() if k in names}

        def opt(name: str, kind: type) -> Any:
            v = kw.get(name)
            return None if v is None else kind(v)

        return cls(
            id=int(kw["id"]),
            text=kw["text"],
            created_at=float(kw["created_at"]),
            source=str(kw["source"]),
            position=int(kw.get("position", 0)),
            session=str(kw.get("session", "default")),
            edited_at=opt("edited_at", float),
            seen_at=opt("seen_at", float),
            superseded_by=opt("superseded_by", int),
        )
