"""SHA-256 for cache keys and checks, without loading OpenSSL.

``import hashlib`` initialises OpenSSL (about 3 ms, a few per cent of a short command); CPython also
builds its own SHA-256 in, which gives the same digests. That one is used where the interpreter has
it, ``hashlib``'s otherwise.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sha256"]


def sha256(data: bytes = b"") -> Any:
    """A SHA-256 hash object (``update``, ``digest``, ``hexdigest``), as :func:`hashlib.sha256` makes."""
    try:
        from _sha2 import sha256 as make  # type: ignore[import-not-found, unused-ignore]  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256 as make  # type: ignore[import-not-found, no-redef, unused-ignore]
        except ImportError:  # pragma: no cover - an interpreter built without its own hashes
            from hashlib import sha256 as make  # type: ignore[assignment, unused-ignore]
    return make(data)
