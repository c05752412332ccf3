"""The errors cudalign raises; the CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

__all__ = [
    "CudalignError",
    "InvalidFact",
    "InvalidHost",
    "InvalidInput",
    "NetworkError",
    "ProbeError",
    "UnknownGpu",
]


class CudalignError(Exception):
    """Base of every error cudalign raises on purpose.

    ``str(err)`` is one line that names the file (and line) and the problem; ``hint`` is advice the CLI
    may print after it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InvalidInput(CudalignError, ValueError):
    """A file or argument the user gave cannot be read (requirements, Dockerfile, YAML, a flag value)."""


class InvalidFact(CudalignError, ValueError):
    """A knowledge-base file breaks the schema: unknown key, duplicate id, unparseable specifier."""


class InvalidHost(InvalidInput):
    """A host JSON file is not one that ``doctor --json`` writes."""


class UnknownGpu(InvalidInput):
    """A GPU name, alias, PCI id or ``sm_XY`` that the knowledge base does not know."""


class ProbeError(CudalignError):
    """Reading this machine failed in a way that leaves no usable snapshot."""


class NetworkError(CudalignError):
    """PyPI (or another index) could not be reached or answered wrongly."""
