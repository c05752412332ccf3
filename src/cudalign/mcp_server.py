"""The read-only commands as MCP tools: doctor, check, plan, explain, scan and facts_show.

Each tool runs the command it is named for with ``--json`` and returns that JSON unchanged, so an assistant
reads exactly what a script reads. Tool arguments become command-line arguments through
:func:`tool_argv` alone: values are attached to their flags (``--driver=…``) and free text follows ``--``,
so no argument can turn into an option; nothing writes a file (``-o``, ``--write``) and nothing updates
the knowledge base. How a command line is run is the caller's (:data:`Runner`): ``cudalign mcp`` runs it
in-process; a test may pass any other.

Requires the ``mcp`` extra (the official MCP Python SDK); it is imported only by :func:`build_server`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["TOOLS", "Runner", "build_server", "tool_argv"]

Runner = Callable[[list[str]], tuple[int, str, str]]
"""Runs ``cudalign ARGV…``; returns (exit code, standard output, standard error)."""

TOOLS: dict[str, str] = {
    "doctor": "What is on this machine (GPUs, driver, CUDA, packages), what is wrong with it now, and "
    "whether the given requirements would run here. Returns cudalign.doctor/1 JSON.",
    "check": "The verdict (ok, caveats, fails, unknown) for a stack (PEP 508 requirements and/or an image) "
    "on a host: this machine, or one described by gpu/driver/os/arch/python. Returns cudalign.check/1 JSON.",
    "plan": "Ranked compatible matrices (driver, CUDA, torch build and index, vLLM, Python, base image) "
    "for requirements on a host, and why other candidates were rejected. Returns cudalign.plan/1 JSON.",
    "explain": "What a CUDA/torch/vLLM error message means on a host and the fix. "
    "Returns cudalign.explain/1 JSON.",
    "scan": "Misaligned CUDA, torch and vLLM pins across a repository's requirements, pyproject, "
    "Dockerfiles, compose and Kubernetes files. Returns cudalign.scan/1 JSON.",
    "facts_show": "One knowledge-base fact and its source (an id), a tracked package's releases "
    "(PACKAGE), or one release with its derived facts (PACKAGE==VERSION). "
    "Returns cudalign.facts-show/1 JSON.",
}
"""Every tool and the description an assistant sees."""

_HOST_FLAGS = (("host_file", "--host"), ("driver", "--driver"), ("os", "--os"), ("arch", "--arch"))


def _host(args: Mapping[str, Any]) -> list[str]:
    out = [f"{flag}={args[key]}" for key, flag in _HOST_FLAGS if args.get(key)]
    out += [f"--gpu={g}" for g in args.get("gpus") or ()]
    if args.get("python"):
        out.append(f"--python={args['python']}")
    return out


def _free(items: Sequence[str] | None) -> list[str]:
    """Free text after ``--``: never read as options (``-o``) or as standard input (``-``)."""
    values = [str(i) for i in items or ()]
    if "-" in values:
        raise ValueError("'-' (standard input) is not available over MCP; give the text itself")
    return ["--", *values] if values else []


def tool_argv(tool: str, args: Mapping[str, Any]) -> list[str]:
    """The command line a tool call stands for (always ``--json``, never a write)."""
    if tool == "doctor":
        argv = ["doctor", "--json", "--fail-on=never"]
        if args.get("image"):
            argv.append(f"--image={args['image']}")
        return argv + _free(args.get("requirements"))
    if tool == "check":
        argv = ["check", "--json", "--fail-on=never", *_host(args)]
        if args.get("image"):
            argv.append(f"--image={args['image']}")
        argv += [f"--feature={f}" for f in args.get("features") or ()]
        return argv + _free(args.get("requirements"))
    if tool == "plan":
        argv = ["plan", "--json", "--fail-on=never", *_host(args)]
        if args.get("no_driver_change"):
            argv.append("--no-driver-change")
        if args.get("max_matrices"):
            argv.append(f"--max={int(args['max_matrices'])}")
        argv += [f"--feature={f}" for f in args.get("features") or ()]
        return argv + _free(args.get("requirements"))
    if tool == "explain":
        argv = ["explain", "--json", "--fail-on=never", *_host(args)]
        if args.get("log_file"):
            argv.append(f"--log={args['log_file']}")
        if args.get("no_probe"):
            argv.append("--no-probe")
        text = args.get("text")
        return argv + _free([text] if text else [])
    if tool == "scan":
        argv = ["scan", "--json", "--fail-on=never", *_host(args)]
        if args.get("fleet_driver"):
            argv.append(f"--fleet-driver={args['fleet_driver']}")
        return argv + _free([args.get("path") or "."])
    if tool == "facts_show":
        return ["facts", "show", "--json", *_free([str(args["what"])])]
    raise ValueError(f"unknown tool {tool!r}")


def build_server(run: Runner) -> Any:
    """The MCP server (``mcp.server.mcpserver.MCPServer``) with every tool of :data:`TOOLS`."""
    import anyio.to_thread
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    from cudalign import __version__

    server = MCPServer(
        name="cudalign",
        version=__version__,
        instructions="Read-only answers to 'will this GPU stack (driver, CUDA, torch, vLLM, image) run "
        "on that host, and if not, why and what to do'. Every tool returns cudalign's --json output.",
    )
    read_only = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )

    async def call(tool: str, args: Mapping[str, Any]) -> str:
        try:
            argv = tool_argv(tool, args)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        code, out, err = await anyio.to_thread.run_sync(run, argv)
        if code == 2 or not out.strip():
            raise ToolError(err.strip() or f"cudalign {argv[0]} exited with status {code}")
        return out

    def register(name: str) -> Callable[[Callable[..., Any]], Any]:
        return server.tool(name=name, description=TOOLS[name], annotations=read_only, structured_output=False)

    @register("doctor")
    async def doctor(requirements: list[str] | None = None, image: str | None = None) -> str:
        return await call("doctor", {"requirements": requirements, "image": image})

    @register("check")
    async def check(
        requirements: list[str] | None = None,
        image: str | None = None,
        gpus: list[str] | None = None,
        driver: str | None = None,
        os: str | None = None,
        arch: str | None = None,
        python: str | None = None,
        host_file: str | None = None,
        features: list[str] | None = None,
    ) -> str:
        return await call("check", dict(locals()))

    @register("plan")
    async def plan(
        requirements: list[str],
        gpus: list[str] | None = None,
        driver: str | None = None,
        os: str | None = None,
        arch: str | None = None,
        python: str | None = None,
        host_file: str | None = None,
        no_driver_change: bool = False,
        max_matrices: int | None = None,
        features: list[str] | None = None,
    ) -> str:
        return await call("plan", dict(locals()))

    @register("explain")
    async def explain(
        text: str | None = None,
        log_file: str | None = None,
        no_probe: bool = False,
        gpus: list[str] | None = None,
        driver: str | None = None,
        host_file: str | None = None,
    ) -> str:
        return await call("explain", dict(locals()))

    @register("scan")
    async def scan(
        path: str = ".",
        fleet_driver: str | None = None,
        gpus: list[str] | None = None,
        driver: str | None = None,
    ) -> str:
        return await call("scan", dict(locals()))

    @register("facts_show")
    async def facts_show(what: str) -> str:
        return await call("facts_show", {"what": what})

    return server
