"""The renderer registry: every format a command offers resolves to a function, and nothing else does."""

from __future__ import annotations

import argparse
import importlib

import pytest

from cudalign.cli import COMMANDS
from cudalign.model import Report
from cudalign.render import FORMATS, RENDERERS, formats, render, renderer


def offered(command: str) -> set[str]:
    """The formats a command's parser accepts (``--format`` choices; ``--emit`` kinds are cudalign.emit's)."""
    module = importlib.import_module(f"cudalign.cli.{COMMANDS[command][0]}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    found: set[str] = set()
    for action in parser._actions:
        if action.dest == "format" and action.choices:
            found.update(str(c) for c in action.choices)
        if action.dest == "format" and action.const:  # --json
            found.add(str(action.const))
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_format_a_command_offers_resolves(command: str) -> None:
    schema = f"cudalign.{command}/1"
    for fmt in sorted(offered(command)):
        assert callable(renderer(schema, fmt)), f"{command} offers --format {fmt} but nothing renders it"


def test_the_commands_offer_what_the_registry_holds() -> None:
    """No rendering is registered that no command offers (a dead entry is a format nobody can ask for)."""
    for schema, fmt in RENDERERS:
        command = schema.split(".", 1)[1].split("/", 1)[0]
        assert fmt in offered(command), f"{schema} renders {fmt}, which '{command}' does not offer"


@pytest.mark.parametrize(("schema", "fmt"), sorted(RENDERERS))
def test_every_entry_names_a_function(schema: str, fmt: str) -> None:
    assert callable(renderer(schema, fmt))


def test_html_is_offered_by_the_commands_that_render_it() -> None:
    assert "html" in FORMATS
    html = {schema.split(".", 1)[1].split("/", 1)[0] for schema, fmt in RENDERERS if fmt == "html"}
    assert {"doctor", "check", "plan", "scan", "matrix", "diff"} <= html
    assert {c for c in COMMANDS if "html" in offered(c)} == html


def test_an_unknown_pair_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"cudalign.plan/1 has no sarif output \(it has: text, json"):
        render(Report(schema="cudalign.plan/1"), "sarif")
    with pytest.raises(ValueError, match=r"cudalign\.nothing/1 has no text output"):
        renderer("cudalign.nothing/1", "text")
    assert formats("cudalign.check/1") == ("text", "json", "markdown", "sarif", "html")


def test_json_is_generic_and_sarif_is_shared() -> None:
    assert RENDERERS[("cudalign.check/1", "json")] == RENDERERS[("cudalign.scan/1", "json")]
    assert RENDERERS[("cudalign.check/1", "sarif")] == RENDERERS[("cudalign.scan/1", "sarif")]
