"""``StrEnum`` for Python 3.10 (``enum.StrEnum`` arrived in 3.11): members are strings that print, format and
serialize (JSON, SQLite) as their value, so a status field typed with one stays byte-compatible with the
plain strings it replaces."""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` are the member's value (``"done"``, not ``Status.DONE``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


__all__ = ["StrEnum"]
