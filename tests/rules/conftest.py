"""Shared fixtures for the rule tests: the real knowledge base, described hosts, resolved stacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from cudalign.facts import Facts, load
from cudalign.hosts import describe_host
from cudalign.model import Finding, Host, Stack
from cudalign.rules import Context, engine_rule
from cudalign.stack import resolve

__all__ = ["Judge", "facts", "judge"]


class Judge:
    """Builds hosts and stacks from literals and runs one rule on them."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts

    def host(self, *gpus: str, driver: str | None = None, python: str | None = None, **changes: Any) -> Host:
        h = describe_host(self.facts, gpus=gpus, driver=driver, python=python)
        return dataclasses.replace(h, **changes) if changes else h

    def stack(self, *requirements: str, host: Host | None = None, image: str | None = None) -> Stack:
        return resolve(requirements, self.facts, host or self.host(), image=image)

    def run(self, code: str, host: Host, stack: Stack, features: Sequence[str] = ()) -> list[Finding]:
        return engine_rule(code).run(Context(host, stack, self.facts, features))

    def __call__(
        self,
        code: str,
        requirements: Sequence[str],
        host: Host,
        *,
        image: str | None = None,
        features: Sequence[str] = (),
    ) -> list[Finding]:
        return self.run(code, host, self.stack(*requirements, host=host, image=image), features)


@pytest.fixture(scope="session")
def facts() -> Facts:
    """The shipped knowledge base and its embedded PyPI snapshot."""
    kb = load()
    _ = kb.snapshot
    return kb


@pytest.fixture(scope="session")
def judge(facts: Facts) -> Judge:
    return Judge(facts)
