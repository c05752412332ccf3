"""Derive ``[[image_torch]]`` facts (the torch inside each release's image) from a project's build files.

Give it a clone of the project (any git directory; a bare mirror works), the Dockerfile's path and the
release tags to read. For each tag it follows the Dockerfile's final stage to its ``uv sync --frozen``
step, reads the torch that step's ``uv.lock`` pins for Linux x86_64 under the stage's ``PYTHON_VERSION``,
and prints one fact per run of releases with the same torch, each with the GitHub URL of the first
release's lock at its tag's commit, to paste into ``src/cudalign/facts/data/image_torch.toml``::

    python scripts/derive_image_torch.py /path/to/text-generation-inference.git \\
        --repository huggingface/text-generation-inference --id image.tgi --tags '^v\\d+\\.\\d+\\.\\d+$' \\
        --source https://github.com/huggingface/text-generation-inference --checked 2026-12-04

Releases whose final stage installs torch another way (conda's ``pytorch`` package, an unpinned
``pip install torch``) are left out, and said on standard error with the reason.
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
    from cudalign.facts.image_torch import LockedTorch, lock_dir, locked_torch, python_version, torch_facts

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
    parser.add_argument("--machine", default="x86_64", help="the image's platform_machine (x86_64)")
    parser.add_argument("--no-latest", action="store_true", help="do not map 'latest' to the newest run")
    args = parser.parse_args(argv)
    pattern = re.compile(args.tags)
    tags = [t for t in _git(args.git_dir, "tag").split() if pattern.search(t)]
    if not tags:
        print(f"derive_image_torch: no tag of {args.git_dir} matches {args.tags!r}", file=sys.stderr)
        return 2
    rows: list[tuple[str, LockedTorch | None, str]] = []
    for tag in tags:
        dockerfile = _git(args.git_dir, "show", f"{tag}:{args.dockerfile}")
        where = lock_dir(dockerfile)
        python = python_version(dockerfile)
        commit = _git(args.git_dir, "rev-list", "-n", "1", tag).strip()
        found = None
        if where is None:
            why = "its Dockerfile's final stage runs no uv sync --frozen"
        elif python is None:
            why = "its Dockerfile's final stage sets no PYTHON_VERSION"
        else:
            path = "uv.lock" if where == "." else f"{where}/uv.lock"
            lock = _git(args.git_dir, "show", f"{tag}:{path}")
            found = locked_torch(lock, python=python, machine=args.machine) if lock else None
            why = f"{path} pins no single torch for Linux {args.machine}, Python {python}"
            src = f"{args.source}/blob/{commit or tag}/{path}"
        if found is None:
            print(f"derive_image_torch: {tag}: left out: {why}", file=sys.stderr)
            rows.append((tag, None, ""))
        else:
            rows.append((tag, found, src))
    sys.stdout.write(
        torch_facts(
            rows,
            repository=args.repository,
            fact_prefix=args.id,
            checked=args.checked,
            latest=not args.no_latest,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
