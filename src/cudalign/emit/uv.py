"""``--emit uv``: a ``pyproject.toml`` in uv's documented PyTorch style: the pins as dependencies, the
PyTorch index as an explicit ``[[tool.uv.index]]`` and ``[tool.uv.sources]`` sending torch (and its
companions) there on the plan's platform. ``uv lock`` beside it is :mod:`cudalign.emit.uvlock`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign.emit.templates import UV_INDEX, UV_PYPROJECT, UV_SOURCE

if TYPE_CHECKING:
    from cudalign.emit import EmittedFile
    from cudalign.emit.context import EmitContext

__all__ = ["emit", "pyproject_text"]

_PLATFORM = {"Linux": "linux", "Windows": "win32", "Darwin": "darwin"}
"""``platform.system()`` -> ``sys_platform``, for the sources' marker."""


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pyproject_text(ctx: EmitContext) -> str:
    s = ctx.source
    deps = [p.text for p in s.pins]
    if ctx.torch_pin:
        deps.append(ctx.torch_pin)
    dependencies = "".join(f"    {_toml_string(d)},\n" for d in deps)
    indexes = sources = ""
    if s.torch_index:
        name = "pytorch-" + s.torch_index.rstrip("/").rsplit("/", 1)[-1]
        indexes = UV_INDEX.substitute(name=name, url=s.torch_index)
        marker = f"sys_platform == '{_PLATFORM.get(s.host.os.system or 'Linux', 'linux')}'"
        sources = "\n[tool.uv.sources]\n" + "".join(
            UV_SOURCE.substitute(package=p, index=name, marker=marker) for p in ctx.index_packages
        )
    for package, name, url in ctx.variant_indexes:
        # a build variant only its project's index serves (vllm==0.25.0+cu129): on every platform, since
        # the pin names that build (a platform marker would send other platforms to PyPI, which lacks it)
        indexes += UV_INDEX.substitute(name=name, url=url)
        sources = (sources or "\n[tool.uv.sources]\n") + f'{package} = {{ index = "{name}" }}\n'

    return UV_PYPROJECT.substitute(
        stamp=s.stamp,
        summary=ctx.summary,
        name=ctx.name + "-stack",
        python=s.python or ">=3.10",
        dependencies=dependencies,
        indexes=indexes,
        sources=sources,
    )


def emit(ctx: EmitContext) -> tuple[EmittedFile, ...]:
    from cudalign.emit import EmittedFile

    return (EmittedFile("pyproject.toml", pyproject_text(ctx)),)
