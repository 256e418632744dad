"""Errors a person can act on. Each prints as one line and maps to an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_CANNOT_CHECK = 2


class LdapdiagError(Exception):
    """A problem that stops ldapdiag from checking anything: printed as one line, exit code 2.

    Messages name the variable, file or line at fault and never quote a secret value.
    """

    exit_code = EXIT_CANNOT_CHECK

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InputError(LdapdiagError):
    """Bad input: a file, a line or a variable that cannot be understood."""
