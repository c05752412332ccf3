"""Derive the ``[[image_tags]]`` fact of nvidia/cuda from NVIDIA's own tag lists.

Give it the two Markdown files of gitlab.com/nvidia/container-images/cuda (``doc/supported-tags.md``
and ``doc/unsupported-tags.md``, at one commit) and it prints the fact to paste into
``src/cudalign/facts/data/images.toml``::

    python scripts/derive_image_tags.py supported-tags.md unsupported-tags.md \\
        --commit e3c1b680f08e358d51d190aaa156bba111e32509 --checked 2026-12-03
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

REPO = "https://gitlab.com/nvidia/container-images/cuda"


def main(argv: list[str] | None = None) -> int:
    from cudalign.facts.image_tags import fact_toml, parse_tag_lists

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lists", nargs="+", type=Path, help="supported-tags.md, unsupported-tags.md")
    parser.add_argument("--commit", required=True, help="the commit of the image repository they are from")
    parser.add_argument("--checked", required=True, help="the date they were read (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    tags = parse_tag_lists(p.read_text(encoding="utf-8") for p in args.lists)
    if not tags:
        print("derive_image_tags: no tags found in the lists given", file=sys.stderr)
        return 2
    names = " and ".join(f"doc/{p.name}" for p in args.lists)
    sys.stdout.write(
        fact_toml(
            tags,
            repository="nvidia/cuda",
            fact_id="image.tags.nvidia-cuda",
            source=f"{REPO}/-/blob/{args.commit}/doc/supported-tags.md",
            checked=args.checked,
            note=(
                f"Every tag of {names} at commit {args.commit[:8]} (scripts/derive_image_tags.py), by CUDA "
                "version: 'os: flavours'. The unsupported list says its tags still exist; tags in neither "
                "list were deleted under doc/support-policy.md (or never published). Versions newer than "
                "the lists are not covered."
            ),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
