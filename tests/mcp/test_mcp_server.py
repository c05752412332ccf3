"""``cudalign mcp`` driven as a client drives it: start it over stdio, initialise, list the tools, call each,
and compare every answer with the same command's ``--json`` output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from cudalign.mcp_server import TOOLS, tool_argv

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REPO = Path(__file__).resolve().parents[1] / "repos" / "vllm_cuda_upgrade"

CALLS: dict[str, dict[str, Any]] = {
    "doctor": {"requirements": ["torch==2.9.0"]},
    "check": {"requirements": ["vllm==0.13.0"], "gpus": ["H100"], "driver": "550.54.15"},
    "plan": {"requirements": ["vllm==0.13.0"], "host_file": str(HOSTS / "h100.json")},
    "explain": {"text": "CUDA driver version is insufficient for CUDA runtime version", "no_probe": True},
    "scan": {"path": str(REPO)},
    "facts_show": {"what": "torch==2.9.0"},
}
BAD = {"check": {"requirements": ["torch==2.9.0"], "gpus": ["no-such-gpu-9000"]}}


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "CUDALIGN_CACHE_DIR", "XDG_CACHE_HOME", "LANG")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _cli_json(argv: list[str]) -> Any:
    """What ``cudalign ARGV…`` prints, run in this process."""
    from cudalign.cli.mcp import run_captured

    code, out, err = run_captured(argv)
    assert code in (0, 1), err
    return json.loads(out)


def _session() -> dict[str, Any]:
    """One real session over stdio: what initialise, list_tools and each call_tool returned."""
    import anyio
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from mcp import ClientSession

    found: dict[str, Any] = {}

    async def main() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "cudalign", "mcp"], env=_env())
        with open(os.devnull, "w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                found["init"] = await session.initialize()
                found["tools"] = (await session.list_tools()).tools
                for name, args in CALLS.items():
                    found[name] = await session.call_tool(name, args)
                for name, args in BAD.items():
                    found[f"bad-{name}"] = await session.call_tool(name, args)
                found["stdin"] = await session.call_tool("explain", {"text": "-"})
                found["option"] = await session.call_tool("facts_show", {"what": "-o/tmp/x"})

    anyio.run(main)
    return found


@pytest.fixture(scope="module")
def session() -> Iterator[dict[str, Any]]:
    yield _session()


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def test_initialise_names_the_server(session: dict[str, Any]) -> None:
    assert session["init"].server_info.name == "cudalign"


def test_the_tools_are_listed_read_only(session: dict[str, Any]) -> None:
    tools = {t.name: t for t in session["tools"]}
    assert set(tools) == set(TOOLS)
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
    assert "requirements" in tools["plan"].input_schema["properties"]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_tool_returns_the_commands_json(session: dict[str, Any], name: str) -> None:
    result = session[name]
    assert not result.is_error, _text(result)
    got = json.loads(_text(result))
    want = _cli_json(tool_argv(name, CALLS[name]))
    assert got["schema"] == want["schema"]
    if name == "doctor":  # probed twice: compare what does not move between two probes
        assert got["host"]["gpus"] == want["host"]["gpus"]
        assert got["target"] == want["target"]
    else:
        assert got == want


def test_bad_input_is_a_tool_error_with_the_one_line(session: dict[str, Any]) -> None:
    result = session["bad-check"]
    assert result.is_error
    assert "no-such-gpu-9000" in _text(result)


def test_free_text_cannot_become_stdin_or_an_option(session: dict[str, Any]) -> None:
    assert session["stdin"].is_error
    assert "standard input" in _text(session["stdin"])
    assert session["option"].is_error  # read as a fact id, not as -o
    assert "unknown fact id or package '-o/tmp/x'" in _text(session["option"])


def test_no_tool_writes_or_updates() -> None:
    for name, args in CALLS.items():
        argv = tool_argv(name, args)
        assert "--json" in argv
        assert not any(a in ("-o", "--output", "--write", "update") for a in argv[: argv.index("--")])
