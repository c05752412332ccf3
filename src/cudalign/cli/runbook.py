"""`cudalign runbook --driver BRANCH|VERSION`: a driver upgrade runbook, with verification and rollback.

``--driver`` is the target (``575``, ``R575`` or ``575.57.08``, as ``plan`` prints it); the host's current
driver comes from this machine, ``--host FILE`` or ``--current-driver``. Output is Markdown (default) or a
bash script (``--format sh``) that cudalign never runs. Exit 1 when the upgrade has a blocker (a GPU the
branch does not support), 0 otherwise, 2 for usage errors.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from cudalign.cli.options import add_output_arguments, emit

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Host

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--driver",
        metavar="BRANCH|VERSION",
        help="target driver: a branch (575, R575) or a full version (575.57.08)",
    )
    parser.add_argument(
        "--from-plan",
        metavar="FILE",
        help="target and host from 'cudalign plan --json' output (its first matrix that changes the driver)",
    )
    parser.add_argument("--matrix", metavar="LABEL", help="with --from-plan: the matrix to follow (A, B …)")
    add_output_arguments(parser, formats=("text", "md", "markdown", "sh", "json"))
    g = parser.add_argument_group("host (default: this machine)")
    g.add_argument("--host", metavar="FILE", help="a host recorded with 'cudalign doctor --json'")
    g.add_argument("--gpu", action="append", metavar="NAME", help="a GPU by name or alias (repeatable)")
    g.add_argument(
        "--current-driver", metavar="VERSION", help="the driver the host runs now, e.g. 550.107.02"
    )
    g.add_argument(
        "--os", dest="host_os", metavar="DISTRO", help="ubuntu20.04|22.04|24.04, debian12, rhel8/9, rocky9"
    )
    g.add_argument("--arch", dest="host_arch", choices=["x86_64", "aarch64"], help="CPU architecture")
    g.add_argument("--hostname", metavar="NAME", help="name to print in the runbook")
    g.add_argument(
        "--no-probe", action="store_true", help="do not read this machine (describe it with flags)"
    )


def _host(args: argparse.Namespace) -> tuple[Host, Facts]:
    from pathlib import Path

    from cudalign.cli.options import flag_value, read_host
    from cudalign.facts import load
    from cudalign.model import driver_version

    if args.current_driver is not None:
        flag_value("--current-driver", args.current_driver, driver_version)
    facts = load()
    if args.host:
        host = replace(read_host(Path(args.host)), origin="file")
    elif args.gpu or args.current_driver or args.no_probe:
        from cudalign.hosts import describe_host

        host = describe_host(
            facts, gpus=args.gpu or (), driver=args.current_driver, os=args.host_os, arch=args.host_arch
        )
    else:
        from cudalign.probe import probe

        host = probe()
    if args.host_os and host.origin != "described":
        from cudalign.runbook.distros import from_text

        d = from_text(args.host_os)
        host = replace(host, os=replace(host.os, distro_id=d.name.split()[0], distro_version=d.version))
    if args.hostname:
        host = replace(host, hostname=args.hostname)
    return host, facts


def run(args: argparse.Namespace) -> int:
    from cudalign.errors import InvalidInput
    from cudalign.runbook import build, parse_target, report

    if args.from_plan:
        if args.driver:
            raise InvalidInput("give either --driver or --from-plan, not both")
        args.driver, plan_host = _from_plan(args.from_plan, args.matrix)
        if not (args.host or args.gpu or args.current_driver):
            args.host = plan_host
    elif not args.driver:
        raise InvalidInput("no target driver: give --driver BRANCH|VERSION or --from-plan FILE")
    target = parse_target(args.driver)
    host, facts = _host(args)
    processes = None
    if host.origin == "probe":
        from cudalign.probe.processes import gpu_processes

        processes = gpu_processes()
    rb = replace(build(host, facts, target, processes=processes), command=_script_command(args))
    return emit(report(rb, host), args)


def _from_plan(path_text: str, label: str | None) -> tuple[str, str]:
    """(target driver, plan file as the host file) from a plan's JSON: the chosen or first changing matrix."""
    from pathlib import Path

    from cudalign.cli.options import read_json
    from cudalign.errors import InvalidInput

    path = Path(path_text)
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != "cudalign.plan/1":
        raise InvalidInput(f"{path}: not the output of 'cudalign plan --json'")
    raw = data.get("matrices")
    if not isinstance(raw, list):
        raise InvalidInput(f"{path}: 'matrices' is not a list; not the output of 'cudalign plan --json'")
    matrices = [m for m in raw if isinstance(m, dict)]
    if label is not None:
        chosen = next((m for m in matrices if m.get("label") == label), None)
        if chosen is None:
            raise InvalidInput(
                f"{path}: no matrix {label!r} (have {', '.join(repr(m.get('label')) for m in matrices)})"
            )
    else:
        chosen = next((m for m in matrices if m.get("driver_change")), None)
        if chosen is None:
            raise InvalidInput(
                f"{path}: no matrix in this plan changes the driver; nothing to write a runbook for"
            )
    driver = chosen.get("driver")
    if not isinstance(driver, str):
        raise InvalidInput(f"{path}: matrix {chosen.get('label')!r} names no driver")
    return driver, str(path)


def _script_command(args: argparse.Namespace) -> str:
    """The command line that writes the same runbook as a shell script."""
    import shlex

    parts = ["cudalign", "runbook", "--driver", args.driver]
    if args.host:
        parts += ["--host", args.host]
    for gpu in args.gpu or ():
        parts += ["--gpu", gpu]
    for flag, value in (("--current-driver", args.current_driver), ("--os", args.host_os),
                        ("--arch", args.host_arch), ("--hostname", args.hostname)):  # fmt: skip
        if value:
            parts += [flag, value]
    return shlex.join([*parts, "--format", "sh"])
