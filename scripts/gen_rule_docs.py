"""Generate docs/rules/<code>.md and docs/rules/index.md from the rule catalogue's docstrings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["DOCS_DIR", "main", "pages"]

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "rules"


def pages() -> dict[str, str]:
    """File name -> content for every rule page and the index (made inside the package)."""
    from cudalign.render.rule_docs import pages as make

    return make()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed docs differ")
    args = parser.parse_args(argv)
    stale = []
    for name, text in pages().items():
        path = DOCS_DIR / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            DOCS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale rule docs: {', '.join(stale)} (run scripts/gen_rule_docs.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
