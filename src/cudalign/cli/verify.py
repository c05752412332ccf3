"""`cudalign verify`: does the installed stack really run on this GPU, and how does the endpoint hold up.

Wires the doors together: the probe (GPUs, driver) or a described host, the payload in the target
interpreter, the compiled code in its site-packages, an endpoint; the knowledge base gives datasheet
figures, the PTX ISA table and (through ``explain``'s signatures) the rule each failure confirms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudalign.facts import Facts
    from cudalign.model import Host
    from cudalign.verify.report import Datasheet
    from cudalign.verify.static import GpuTarget

__all__ = ["add_arguments", "reads", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cudalign.cli.options import add_output_arguments

    parser.add_argument(
        "--python",
        dest="target_python",
        metavar="PATH",
        help="the interpreter whose stack is verified (default: the one running cudalign)",
    )
    parser.add_argument(
        "--gpus", default="all", metavar="all|N", help="check all visible GPUs or the first N"
    )
    parser.add_argument(
        "--bench", action="store_true", help="copy bandwidth and a bf16 matmul against the datasheet"
    )
    parser.add_argument(
        "--nccl", action="store_true", help="an all-reduce across all GPUs, one process per GPU"
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="only read the compiled GPU code in site-packages (no GPU needed; judge against --gpu)",
    )
    parser.add_argument("--gpu", action="append", metavar="NAME", help="judge against this GPU (repeatable)")
    parser.add_argument("--driver", metavar="VERSION", help="with --gpu: the driver, for its PTX JIT limit")
    parser.add_argument("--host", metavar="FILE", help="judge against a host recorded with 'doctor --json'")
    parser.add_argument(
        "--timeout", type=float, default=900.0, metavar="S", help="seconds the payload may run (default 900)"
    )
    e = parser.add_argument_group("endpoint (an OpenAI-compatible server)")
    e.add_argument("--endpoint", metavar="URL", help="check and load-test this server (http://host:8000)")
    e.add_argument("--model", metavar="NAME", help="the model to ask (default: the first /v1/models lists)")
    e.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight (default 8)")
    e.add_argument("--requests", type=int, default=64, metavar="M", help="requests in the load (default 64)")
    e.add_argument("--max-tokens", type=int, default=128, metavar="K", help="tokens per answer (default 128)")
    e.add_argument(
        "--request-timeout", type=float, default=120.0, metavar="S", help="seconds per request (default 120)"
    )
    e.add_argument("--save", metavar="FILE", help="keep the endpoint run as JSON, to --compare later")
    e.add_argument("--compare", metavar="FILE", help="a run kept with --save: a before/after table")
    add_output_arguments(parser, ("text", "json", "markdown"))


def reads(args: argparse.Namespace, path: Path) -> str | None:
    """Why ``-o path`` would overwrite an input: the --compare run or the --host file."""
    from cudalign.cli.output import _same_file

    for flag, value in (("--compare", args.compare), ("--host", args.host), ("--save", args.save)):
        if value and _same_file(path, Path(value)):
            return f"is the {flag} file"
    return None


def _positive(flag: str, value: float) -> None:
    from cudalign.errors import InvalidInput

    if not (value > 0 and value < float("inf")):
        raise InvalidInput(f"{flag}: {value:g} is not a number above 0")


def _gpus_wanted(text: str) -> int | None:
    from cudalign.errors import InvalidInput

    if text == "all":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise InvalidInput(f"--gpus: {text!r} is not 'all' or a number above 0")


def _classifier(facts: Facts, host: Host | None) -> Any:
    from cudalign.explain import explain

    def classify(text: str) -> tuple[str, str] | None:
        found = explain(text, facts, host).findings
        return (f"{found[0].code} {found[0].name}", found[0].fix) if found else None

    return classify


def _ptx_table(facts: Facts) -> dict[tuple[int, int], tuple[int, int]]:
    table = {}
    for f in facts.of_kind("ptx_isa"):
        isa, cuda = f["isa"], f["cuda"]
        table[(isa.major, isa.minor)] = (cuda.major, cuda.minor)
    return table


def _datasheets(facts: Facts, host: Host | None) -> dict[int, Datasheet]:
    from cudalign.model import FactRef
    from cudalign.verify.report import Datasheet

    out: dict[int, Datasheet] = {}
    sheets = {f["gpu"]: f for f in facts.of_kind("gpu_datasheet")}
    from cudalign.facts.query import gpu_fact

    for g in host.gpus if host else ():
        known = gpu_fact(facts, g)  # the probe reports NVML's name; the knowledge base matches it
        f = sheets.get(known.id if known is not None else "")
        if f is not None:
            out[g.index] = Datasheet(
                f.get("memory_bandwidth_gbs"), f.get("bf16_dense_tflops"), FactRef(f.id, f.source)
            )
    return out


def _targets(host: Host | None) -> list[GpuTarget]:
    from cudalign.verify.static import GpuTarget

    return [GpuTarget(g.index, g.name, (g.cc.major, g.cc.minor)) for g in (host.gpus if host else ()) if g.cc]


def _host(args: argparse.Namespace, facts: Facts, python: str) -> Host:
    from cudalign.cli.options import flag_value, read_host
    from cudalign.model import driver_version

    if args.host:
        return read_host(Path(args.host))
    if args.gpu or args.driver:
        from cudalign.hosts import describe_host

        if args.driver is not None:
            flag_value("--driver", args.driver, driver_version)
        return describe_host(facts, gpus=args.gpu or (), driver=args.driver)
    from cudalign.probe import probe

    return probe(python=None if python == sys.executable else python)


def _site_dirs(python: str, timeout: float) -> list[str]:
    from cudalign.errors import InvalidInput
    from cudalign.probe import target_python
    from cudalign.probe.run import run as door

    if python == sys.executable:
        paths = list(sys.path)
    else:
        _, paths, why = target_python(python, door, timeout)
        if why:
            raise InvalidInput(f"--python: {why}")
    return [p for p in paths if Path(p).name in ("site-packages", "dist-packages")]


def run(args: argparse.Namespace) -> int:
    from cudalign.cli.options import emit, flag_value

    _positive("--timeout", args.timeout)
    if args.endpoint:
        return _endpoint(args)
    python = sys.executable
    if args.target_python is not None:
        from cudalign.cli.doctor import interpreter

        python = flag_value("--python", args.target_python, interpreter)
    wanted = _gpus_wanted(args.gpus)
    from cudalign.facts import load
    from cudalign.verify import report, static

    facts = load()
    host = _host(args, facts, python)
    gpus = _targets(host)
    libs = static.read_site(_site_dirs(python, min(args.timeout, 60.0)))
    verdicts = static.judge(
        libs, gpus, driver_cuda=host.driver.cuda if host.driver else None, ptx_table=_ptx_table(facts)
    )
    checks = [report.static_check(libs, verdicts, gpus)]
    info: dict[str, Any] = {"python": python}
    complete = True
    described = bool(args.host or args.gpu or args.driver)
    if not args.static and not described:
        from cudalign.probe.run import run as door
        from cudalign.verify.checks import run_payload

        config = {"gpus": wanted, "bench": args.bench, "nccl": args.nccl}
        ran = run_payload(python, config, door, args.timeout, _classifier(facts, host))
        sheets = _datasheets(facts, host)
        checks = [
            report.bench_ratios(c, sheets.get(int(c.data.get("index", -1))))
            if c.id.startswith("bench.")
            else c
            for c in ran.checks
        ] + checks
        info.update(ran.info)
        complete = ran.complete
    rep = report.build(host, checks, libs=libs, verdicts=verdicts, gpus=gpus, info=info, complete=complete)
    return emit(rep, args)


def _endpoint(args: argparse.Namespace) -> int:
    from cudalign.cli.options import emit, read_json
    from cudalign.verify import endpoint as endpoint
    from cudalign.verify import report

    for flag, value in (
        ("--concurrency", args.concurrency),
        ("--requests", args.requests),
        ("--max-tokens", args.max_tokens),
    ):
        _positive(flag, value)
    _positive("--request-timeout", args.request_timeout)
    before = endpoint.load_saved(read_json(Path(args.compare)), args.compare) if args.compare else None
    load = endpoint.LoadSpec(args.concurrency, args.requests, args.max_tokens, args.request_timeout)
    from cudalign.render.progress import progress

    with progress("load test", total=args.requests, json=args.format == "json") as task:
        result = endpoint.verify_endpoint(
            args.endpoint, load, model=args.model, on_done=lambda: task.advance()
        )
    if args.save:
        from cudalign.cli.output import write_text

        write_text(endpoint.dumps_saved(result), args.save)
    data = endpoint.to_data(result, before)
    rep = report.build(None, result.checks, endpoint=data, info={"endpoint": args.endpoint})
    return emit(rep, args)
