"""`cudalign facts update|status|show`: refresh the PyPI snapshot, tell its age, show facts and sources."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["STALE_DAYS", "add_arguments", "run"]

STALE_DAYS = 60
"""``facts status`` warns when the snapshot is older than this."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="facts_command", metavar="SUBCOMMAND")
    up = sub.add_parser("update", help="read the tracked packages from PyPI into the user overlay")
    up.add_argument(
        "packages", nargs="*", metavar="PACKAGE", help="only these packages (default: all tracked)"
    )
    up.add_argument(
        "--since", metavar="YYYY-MM-DD", help="read wheel metadata only for releases uploaded since"
    )
    up.add_argument(
        "--write-embedded",
        metavar="PATH",
        help="write the snapshot to the directory PATH instead of the user overlay "
        "(how the shipped snapshot is made)",
    )
    up.add_argument(
        "--full", action="store_true", help="re-read every release of the packages, reusing nothing"
    )
    up.add_argument("--index", default=None, metavar="URL", help="package index (default: https://pypi.org)")
    up.add_argument("--jobs", type=int, default=16, metavar="N", help="concurrent requests (default: 16)")
    up.add_argument("--json", action="store_true", help="print the cudalign.facts-update/1 JSON")
    st = sub.add_parser("status", help="the snapshot's origin, age and contents")
    st.add_argument("--json", action="store_true", help="print the cudalign.facts-status/1 JSON")
    sh = sub.add_parser("show", help="one fact, a package's releases, or one release with derived facts")
    sh.add_argument("what", metavar="ID|PACKAGE[==VERSION]")
    sh.add_argument("--json", action="store_true", help="print the cudalign.facts-show/1 JSON")
    parser.set_defaults(_facts_parser=parser)


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "facts_command", None)
    if command == "update":
        return _update(args)
    if command == "status":
        return _status(args)
    if command == "show":
        return _show(args)
    args._facts_parser.print_help(sys.stderr)
    return 2


def _out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        import json

        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _update(args: argparse.Namespace) -> int:
    import datetime as dt

    from cudalign.errors import InvalidInput
    from cudalign.facts.update import refresh
    from cudalign.render.facts import update_json, update_text

    since = None
    if args.since:
        try:
            since = dt.date.fromisoformat(args.since)
        except ValueError:
            raise InvalidInput(f"--since {args.since!r}: not a date (YYYY-MM-DD)") from None
    if args.jobs < 1:
        raise InvalidInput(f"--jobs {args.jobs}: must be at least 1")
    embedded = Path(args.write_embedded) if args.write_embedded else None
    if embedded is not None and embedded.exists() and not embedded.is_dir():
        raise InvalidInput(f"--write-embedded {embedded}: not a directory (a snapshot is a directory)")
    from cudalign.render.progress import enabled

    try:
        result, base = refresh(
            args.packages or None,
            embedded=embedded,
            full=args.full,
            index=args.index,
            since=since,
            jobs=args.jobs,
            progress=enabled(json=args.json),
        )
    except OSError as exc:  # the network's errors are NetworkError; this is the disk
        where = exc.filename or embedded or "the user cache directory"
        raise InvalidInput(f"{where}: cannot write the snapshot: {exc.strerror or exc}") from None
    if result.offline:
        kept = f"the {base.origin} snapshot of {base.generated[:10]}" if base else "no snapshot"
        what = "offline" if result.unreachable else "could not read the index"
        print(f"cudalign: {what} ({result.offline}); keeping {kept}", file=sys.stderr)
    _out(args, update_json(result), update_text(result))
    return 1 if result.offline else 0


def _status_data() -> dict[str, Any]:
    import datetime as dt

    from packaging.version import InvalidVersion, Version

    from cudalign.errors import CudalignError
    from cudalign.facts.snapshot import load_snapshot, overlay_state

    overlay = overlay_state(deep=True)
    snap = (
        overlay.snapshot if overlay.state == "ok" and overlay.snapshot else load_snapshot(use_overlay=False)
    )
    age = (dt.datetime.now(dt.timezone.utc) - snap.generated_at).total_seconds() / 86400
    packages = {}
    for name, hist in sorted(snap.packages.items()):
        versions = []
        for v in hist.releases:
            try:
                versions.append(Version(v))
            except InvalidVersion:
                continue
        stable = [v for v in versions if not v.is_prerelease] or versions
        packages[name] = {
            "releases": len(hist.releases),
            "newest": str(max(stable)) if stable else None,
            "checked": hist.checked,
        }
    toml_facts: int | None
    toml_error = None
    try:
        from cudalign.facts import load

        toml_facts = len(load(snapshot=snap))
    except CudalignError as exc:
        toml_facts, toml_error = None, str(exc)
    return {
        "schema": "cudalign.facts-status/1",
        "origin": snap.origin,
        "path": snap.path,
        "overlay_path": str(overlay.path),
        "overlay": {
            "state": overlay.state,
            "error": overlay.error,
            "pending": list(overlay.pending) if overlay.pending is not None else None,
        },
        "generated": snap.generated,
        "checked": snap.checked,
        "age_days": round(age, 1),
        "stale": age > STALE_DAYS,
        "index": snap.index,
        "package_count": len(packages),
        "release_count": sum(p["releases"] for p in packages.values()),
        "newest": {k: packages[k]["newest"] for k in ("torch", "vllm") if k in packages},
        "packages": packages,
        "toml_facts": toml_facts,
        "toml_error": toml_error,
    }


def _status(args: argparse.Namespace) -> int:
    from cudalign.render.facts import status_text

    data = _status_data()
    if data["stale"]:
        print(
            f"cudalign: warning: the PyPI snapshot is {data['age_days']:.0f} days old (over {STALE_DAYS}); "
            "run 'cudalign facts update'",
            file=sys.stderr,
        )
    if data["toml_error"]:
        print(f"cudalign: warning: shipped facts: {data['toml_error']}", file=sys.stderr)
    if data["overlay"]["state"] == "corrupt":
        print(
            f"cudalign: warning: the snapshot overlay is corrupt ({data['overlay']['error']}); "
            "'cudalign facts update' rebuilds it",
            file=sys.stderr,
        )
    _out(args, data, status_text(data))
    return 0


def _show_data(what: str) -> dict[str, Any]:
    """A release (``PACKAGE==VERSION``), a package's releases (``PACKAGE``) or a shipped fact (``ID``)."""
    from packaging.utils import canonicalize_name

    from cudalign.errors import InvalidInput
    from cudalign.facts import derive
    from cudalign.facts.snapshot import load_snapshot
    from cudalign.model import to_jsonable

    snap = load_snapshot()
    head = {
        "schema": "cudalign.facts-show/1",
        "snapshot": {"origin": snap.origin, "generated": snap.generated},
    }
    name, sep, version = what.partition("==")
    package = canonicalize_name(name.strip()) if name.strip() else ""
    if sep:
        if package not in snap.packages:
            raise InvalidInput(f"unknown package {name.strip()!r}: not in the PyPI snapshot ({snap.path})")
        release = snap.release(package, version.strip())
        if release is None:
            raise InvalidInput(
                f"{package}=={version.strip()}: not a release in the PyPI snapshot of {snap.generated[:10]}",
                hint="run 'cudalign facts update' if it is newer, or 'cudalign facts show " + package + "'",
            )
        return {**head, **derive.release_view(snap, package, release)}
    if package in snap.packages:
        return {**head, **derive.package_view(snap, package)}
    from cudalign.facts import load

    facts = load(snapshot=snap)
    if what in facts:
        fact = facts.get(what)
        return {
            **head,
            "kind": "fact",
            "id": fact.id,
            "fact_kind": fact.kind,
            "values": _as_written(fact) or to_jsonable(dict(fact.values)),
            "note": fact.note,
            "source": fact.source,
            "checked": fact.checked.isoformat(),
            "file": fact.file,
        }
    raise InvalidInput(
        f"unknown fact id or package {what!r}",
        hint="give a fact id from the shipped TOML files, a tracked package, or PACKAGE==VERSION",
    )


def _as_written(fact: Any) -> dict[str, Any] | None:
    """The fact's values as its TOML file spells them (``580.65.06``, not the normalised ``580.65.6``)."""
    from cudalign.facts import DATA_DIR, _toml_loads

    try:
        raw = _toml_loads((DATA_DIR / fact.file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in raw.get(fact.kind, ()):
        if isinstance(entry, dict) and entry.get("id") == fact.id:
            skip = ("id", "source", "checked", "note")
            return {k: v for k, v in entry.items() if k not in skip}
    return None


def _show(args: argparse.Namespace) -> int:
    from cudalign.render.facts import show_text

    data = _show_data(args.what)
    _out(args, data, show_text(data))
    return 0
