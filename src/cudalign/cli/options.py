"""Options shared by several commands: output format, --fail-on, and the host to judge against."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cudalign.errors import InvalidHost, InvalidInput
from cudalign.model import Report, Severity, driver_version, python_version

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Host

T = TypeVar("T")

__all__ = [
    "add_host_arguments",
    "add_output_arguments",
    "add_requirement_file_arguments",
    "check_features",
    "emit",
    "exit_code",
    "flag_value",
    "has_host_arguments",
    "host_from_args",
    "read_host",
    "read_json",
    "requirements_from_args",
]


def add_output_arguments(
    parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json")
) -> None:
    parser.add_argument("--format", choices=formats, default="text", help="output format (default: text)")
    parser.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity] + ["never"],
        default="error",
        help="exit 1 when a finding at or above this severity exists (default: error)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")


def add_requirement_file_arguments(parser: argparse.ArgumentParser, *, constraints: bool = True) -> None:
    """``-r FILE`` (and ``-c FILE``) as pip takes them; read by :func:`requirements_from_args`."""
    parser.add_argument(
        "-r",
        "--requirement",
        dest="requirement_files",
        action="append",
        default=[],
        metavar="FILE",
        help="requirements from FILE, as pip reads it (repeatable)",
    )
    if constraints:
        parser.add_argument(
            "-c",
            "--constraint",
            dest="constraint_files",
            action="append",
            default=[],
            metavar="FILE",
            help="constraints from FILE: they limit versions, install nothing (repeatable)",
        )


def requirements_from_args(args: argparse.Namespace) -> tuple[list[str], list[str], str | None]:
    """The requirements of the command line and its ``-r``/``-c`` files, their constraints, and the index.

    ``--index-url`` on the command line wins; else a PyTorch index a file names, else the first it names.
    """
    reqs = list(getattr(args, "requirements", None) or [])
    index_url: str | None = getattr(args, "index_url", None)
    files = getattr(args, "requirement_files", None) or []
    cfiles = getattr(args, "constraint_files", None) or []
    if not files and not cfiles:
        return reqs, [], index_url
    from cudalign.stack.reqfile import read_requirement_files

    read = read_requirement_files(files, cfiles)
    out = getattr(args, "output", None)
    if out and out != "-":
        from cudalign.cli.output import _same_file

        for path in read.paths:
            if _same_file(Path(out), path):
                raise InvalidInput(
                    f"-o {out}: is a requirements file this command reads; refusing to overwrite it"
                )
    for note in read.notes:
        print(f"cudalign: note: {note}", file=sys.stderr)
    if index_url is None and read.index_urls:
        torch = [u for u in read.index_urls if "download.pytorch.org/whl" in u]
        index_url = (torch or read.index_urls)[0]
    return read.requirements + reqs, read.constraints, index_url


def add_host_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("host (default: this machine)")
    g.add_argument("--host", metavar="FILE", help="a host recorded with 'cudalign doctor --json'")
    g.add_argument(
        "--gpu", action="append", metavar="NAME", help="a GPU by name, alias, PCI id or sm_XY (repeatable)"
    )
    g.add_argument("--driver", metavar="VERSION", help="NVIDIA driver version, e.g. 550.107.02")
    g.add_argument(
        "--os", dest="host_os", metavar="OS", help="distribution, e.g. ubuntu22.04 (default: linux)"
    )
    g.add_argument("--arch", dest="host_arch", choices=["x86_64", "aarch64"], help="CPU architecture")
    g.add_argument("--python", dest="host_python", metavar="VERSION", help="Python version, e.g. 3.12")


def read_json(path: Path) -> Any:
    """A JSON file the user named; one line naming the file (and line) when it cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not valid JSON: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InvalidInput(f"{path}: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise InvalidInput(f"{path}: not valid JSON: {exc}") from None


def read_host(path: Path) -> Host:
    """The host recorded in a JSON file (``doctor --json`` output, or its ``host``), origin ``file`` kept."""
    from cudalign.model import host_from_json

    data = read_json(path)
    try:
        return host_from_json(data, where="")
    except InvalidHost as exc:
        raise InvalidHost(f"{path}: {exc}") from None
    except RecursionError:
        raise InvalidHost(f"{path}: nested too deeply") from None


def check_features(names: list[str], facts: Facts) -> list[str]:
    """The ``--feature`` names, each known to the knowledge base; an unknown one is a usage error."""
    from cudalign.facts import query

    for name in names:
        if query.feature(facts, name) is None:
            known = ", ".join(sorted(str(f["name"]) for f in facts.of_kind("feature")))
            raise InvalidInput(f"unknown feature {name!r}", hint=f"known features: {known}")
    return names


_DESCRIBING = ("gpu", "driver", "host_os", "host_arch", "host_python")
"""Flags that describe a host: any of them (without --host) judges that host, not this machine."""


def has_host_arguments(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "host", None) or any(getattr(args, a, None) for a in _DESCRIBING))


def host_from_args(args: argparse.Namespace, facts: Facts) -> Host | None:
    """The host the flags describe, or ``None`` when none were given (the caller probes this machine)."""
    python = getattr(args, "host_python", None)
    if python is not None:
        python = flag_value("--python", python, python_version)
    if getattr(args, "host", None):
        return read_host(Path(args.host))
    if any(getattr(args, a, None) for a in _DESCRIBING):
        from cudalign.hosts import describe_host

        if getattr(args, "driver", None) is not None:
            flag_value("--driver", args.driver, driver_version)
        return describe_host(
            facts,
            gpus=getattr(args, "gpu", None) or (),
            driver=getattr(args, "driver", None),
            os=getattr(args, "host_os", None),
            arch=getattr(args, "host_arch", None),
            python=python,
        )
    return None


def flag_value(flag: str, value: str, parse: Callable[[str], T]) -> T:
    """``parse(value)``; its error, if any, as one line that names the flag."""
    try:
        return parse(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{flag}: {exc}", hint=exc.hint) from None


def exit_code(report: Report, fail_on: str) -> int:
    """The one exit code of every command: 1 when the report holds something at or above ``fail_on``."""
    if fail_on == "never":
        return 0
    threshold = Severity(fail_on).rank
    return 1 if any(s.rank >= threshold for s in report.severities()) else 0


_UNWRAPPED = frozenset({"cudalign.runbook/1"})
"""Schemas whose text is Markdown with commands to copy: cleaned, never re-wrapped."""


def emit(report: Report, args: argparse.Namespace) -> int:
    """Render the report in the chosen format, write it, and return the exit code."""
    from cudalign.cli.output import write_text
    from cudalign.render import render

    text = render(report, args.format)
    out = getattr(args, "output", None)
    if args.format in ("text", "markdown", "md"):
        from cudalign.render.terminal import clean, fit, output_width

        text = clean(text)
        if args.format == "text" and report.schema not in _UNWRAPPED and (not out or out == "-"):
            text = fit(text, output_width(sys.stdout))
    write_text(text, out)
    return exit_code(report, getattr(args, "fail_on", "error"))
