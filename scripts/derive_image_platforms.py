"""Derive the platforms a project's images are built for, at every release tag, from its GitHub workflows.

Give it a fetched repository (a bare git directory) and it reads, at each tag matching ``--tags``, the
``platforms:`` values of the ``docker/build-push-action`` steps in ``.github/workflows/*.y*ml``. It prints
the tags grouped by the platforms they build, and with ``--fact`` one ``[[image_platforms]]`` fact for
``src/cudalign/facts/data/image_platforms.toml`` when every tag builds the same platforms::

    python scripts/derive_image_platforms.py /work/.mirror/huggingface+text-generation-inference/repo \\
        --tags 'v*' --repository huggingface/text-generation-inference --fact image.platforms.tgi \\
        --checked 2026-12-04

A tag whose workflows name no ``platforms:`` is listed as ``(none named)``: Docker then builds for the
runner's platform, which the workflow alone does not say, so no fact is printed for it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["main", "platforms_at"]

_PLATFORMS = re.compile(r"^\s*platforms:\s*['\"]?([^'\"#\n]+)['\"]?", re.MULTILINE)


def _git(git_dir: str, *args: str) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def platforms_at(git_dir: str, ref: str) -> frozenset[str]:
    """The platforms the workflows at ``ref`` build images for (empty when they name none)."""
    names = _git(git_dir, "ls-tree", "-r", "--name-only", ref, ".github/workflows/").split()
    out: set[str] = set()
    for name in names:
        if not name.endswith((".yml", ".yaml")):
            continue
        text = _git(git_dir, "show", f"{ref}:{name}")
        for m in _PLATFORMS.finditer(text):
            out.update(p.strip() for p in m.group(1).split(",") if p.strip())
    return frozenset(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("git_dir", help="a fetched repository's git directory")
    parser.add_argument("--tags", default="v*", help="the release tags to read (git tag -l pattern)")
    parser.add_argument("--repository", help="the image repository path the fact is about")
    parser.add_argument("--fact", help="print one [[image_platforms]] fact with this id")
    parser.add_argument("--checked", help="the date the repository was read (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    tags = _git(args.git_dir, "tag", "-l", args.tags, "--sort=v:refname").split()
    if not tags:
        print("derive_image_platforms: no tag matches", file=sys.stderr)
        return 2
    groups: dict[frozenset[str], list[str]] = {}
    for tag in tags:
        groups.setdefault(platforms_at(args.git_dir, tag), []).append(tag)
    for plats, members in groups.items():
        shown = ", ".join(sorted(plats)) or "(none named)"
        print(f"# {shown}: {len(members)} tags, {members[0]} to {members[-1]}", file=sys.stderr)
    if not args.fact:
        return 0
    if len(groups) != 1 or not next(iter(groups)) or not (args.repository and args.checked):
        print("derive_image_platforms: the tags do not all build the same named platforms", file=sys.stderr)
        return 1
    names = sorted(next(iter(groups)))
    head = _git(args.git_dir, "rev-parse", "HEAD").strip()
    first, last = tags[0].lstrip("v"), tags[-1].lstrip("v")
    quoted = ", ".join(f'"{p}"' for p in names)
    print(
        f'[[image_platforms]]\nid = "{args.fact}"\nrepository = "{args.repository}"\n'
        f'tag_pattern = "v?(?P<version>\\\\d+\\\\.\\\\d+(?:\\\\.\\\\d+)?)|latest"\n'
        f'versions = "<={last}"\nplatforms = [{quoted}]\n'
        f'note = "Every release tag {tags[0]} to {tags[-1]} ({len(tags)} tags) builds its images with '
        f"'platforms: {', '.join(names)}' in .github/workflows (scripts/derive_image_platforms.py over the "
        f'repository at {head[:8]}); latest was {last} when derived (first release {first})."\n'
        f'source = "https://github.com/{args.repository}/blob/{head}/.github/workflows/build.yaml"\n'
        f"checked = {args.checked}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
