"""``cudalign snapshot [-o FILE]``: record this host and its installed distributions for a later ``diff``."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", help="write the snapshot to FILE (default: stdout)")
    parser.add_argument("--show-hostname", action="store_true", help="keep the hostname (masked by default)")
    parser.add_argument("--show-uuids", action="store_true", help="keep GPU UUIDs (masked by default)")


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    import json
    import platform
    import site
    import sys

    from cudalign.cli.output import write_text
    from cudalign.doctor import diagnose
    from cudalign.facts import load
    from cudalign.probe import probe
    from cudalign.render import render
    from cudalign.snapshot import make_snapshot, read_distributions

    facts = load()
    host = probe(show_hostname=args.show_hostname, show_uuids=args.show_uuids)
    doctor = json.loads(render(diagnose(host, facts), "json"))
    dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))] or site.getsitepackages()
    taken = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    doc = make_snapshot(doctor, read_distributions(dirs), taken=taken, python=platform.python_version())
    write_text(json.dumps(doc, indent=2), args.output)
    return 0
