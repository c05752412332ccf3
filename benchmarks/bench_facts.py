"""Benchmarks of start-up, ``facts status|show`` and ``facts update`` (against real PyPI).

``facts update`` cold runs against an empty cache directory: it starts from the embedded snapshot and
reads every tracked project's pages; ``--full`` starts from nothing and reads the core metadata of every
release (about 3,600 requests). Warm runs repeat an update into a cache that already holds an overlay.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from run import cli

__all__ = ["BENCHMARKS"]


def _in_fresh_cache(*argv: str) -> Callable[[], None]:
    def run() -> None:
        cache = Path(tempfile.mkdtemp(prefix="cudalign-bench-"))
        try:
            cli(*argv, env={"CUDALIGN_CACHE_DIR": str(cache)})()
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    return run


_WARM = Path(tempfile.gettempdir()) / "cudalign-bench-warm"
_EMPTY = Path(tempfile.gettempdir()) / "cudalign-bench-empty"
_EMPTY.mkdir(exist_ok=True)
_OFFLINE = {"CUDALIGN_CACHE_DIR": str(_EMPTY)}

_WARM_ENV = {"CUDALIGN_CACHE_DIR": str(_WARM)}

BENCHMARKS: list[tuple[object, ...]] = [
    ("cudalign --version", cli("--version"), 80, 20),
    ("facts status (embedded snapshot)", cli("facts", "status", env=_OFFLINE), None, 10),
    ("facts show vllm==0.13.0", cli("facts", "show", "vllm==0.13.0", env=_OFFLINE), None, 10),
    ("facts show torch==2.9.0 --json", cli("facts", "show", "torch==2.9.0", "--json", env=_OFFLINE), None),
    ("facts update cold (empty cache dir)", _in_fresh_cache("facts", "update"), 30000, 3, False),
    # the warm-up call fills _WARM; the timed runs then find its overlay and validators
    ("facts update warm (overlay present)", cli("facts", "update", env=_WARM_ENV), 3000, 5),
    ("facts update --full (every release)", _in_fresh_cache("facts", "update", "--full"), 30000, 1, False),
]
