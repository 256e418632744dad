"""A password that never shows itself: repr, str, format and pickling all stay masked."""

from __future__ import annotations

from typing import Any, NoReturn

MASK = "********"


class Secret:
    """A bind password. Only `reveal()` gives the value, and only connection.py calls it."""

    __slots__ = ("_hash", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._hash = hash(("Secret", value))  # connection keys holding it are hashed per search

    def reveal(self) -> str:
        """The password itself, for the bind request and nothing else."""
        return self._value

    @property
    def empty(self) -> bool:
        """Whether the password is the empty string (an unauthenticated or anonymous bind)."""
        return self._value == ""

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self
