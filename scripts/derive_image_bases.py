"""Derive ``[[image_release]]`` facts for a serving project's images from its own Dockerfile history.

Give it a clone of the project (any git directory; a bare mirror works), the Dockerfile's path and the
release tags to read; it prints one fact per run of releases on the same nvidia/cuda base, to paste into
``src/cudalign/facts/data/images.toml``::

    python scripts/derive_image_bases.py /path/to/text-generation-inference.git \\
        --repository huggingface/text-generation-inference --id image.tgi --tags '^v\\d+\\.\\d+\\.\\d+$' \\
        --source https://github.com/huggingface/text-generation-inference --checked 2026-12-03
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=False, timeout=60
    )
    return done.stdout if done.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    from cudalign.facts.image_bases import release_facts, tag_bases

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("git_dir", type=Path, help="the project's git directory (.git or a bare mirror)")
    parser.add_argument("--dockerfile", default="Dockerfile", help="the Dockerfile's path in the repository")
    parser.add_argument("--tags", required=True, help="a regex the release tags match (re.search)")
    parser.add_argument("--repository", required=True, help="the image repository path the facts are for")
    parser.add_argument("--id", required=True, help="fact id prefix, e.g. image.tgi")
    parser.add_argument("--source", required=True, help="the project's repository URL")
    parser.add_argument("--checked", required=True, help="the date read (YYYY-MM-DD)")
    parser.add_argument("--no-latest", action="store_true", help="do not map 'latest' to the newest run")
    args = parser.parse_args(argv)
    pattern = re.compile(args.tags)
    tags = [t for t in _git(args.git_dir, "tag").split() if pattern.search(t)]
    if not tags:
        print(f"derive_image_bases: no tag of {args.git_dir} matches {args.tags!r}", file=sys.stderr)
        return 2
    pairs = [(t, _git(args.git_dir, "show", f"{t}:{args.dockerfile}")) for t in tags]
    head = _git(args.git_dir, "rev-parse", "HEAD").strip()
    sys.stdout.write(
        release_facts(
            tag_bases(pairs),
            repository=args.repository,
            fact_prefix=args.id,
            source=f"{args.source}/blob/{head or 'main'}/{args.dockerfile}",
            checked=args.checked,
            latest=not args.no_latest,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
