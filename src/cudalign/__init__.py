"""cudalign: decide whether a GPU software stack runs on a host, and if not, why and what to do."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
