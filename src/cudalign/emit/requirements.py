"""``--emit requirements``: the matrix's exact pins with the index line its torch variant needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudalign.emit import EmittedFile
    from cudalign.emit.context import EmitContext
    from cudalign.emit.source import Pin

__all__ = ["emit", "requirements_text"]


def requirements_text(ctx: EmitContext, pins: tuple[Pin, ...] | None = None) -> str:
    """requirements.txt: stamp, summary, index options, then one pin a line (the plan's order).

    ``--extra-index-url`` (as the plan writes it) keeps PyPI for the other pins; pip then takes the torch
    build from the PyTorch index, whose local version (``+cu128``) sorts above PyPI's."""
    s = ctx.source
    lines = [f"# {s.stamp}", f"# {ctx.summary}"]
    if ctx.server_image and s.forward_compat and pins is None:
        lines.append(
            f"# the verdict holds inside {ctx.server_image} (its forward-compatibility libraries); "
            "installed on the host itself these pins run with the caveats 'cudalign check' reports"
        )
    lines += s.index_options
    torch_line = "torch" if s.pin("torch") else ("vllm" if s.pin("vllm") else None)
    for pin in s.pins if pins is None else pins:
        if ctx.suppress_ca603 and pin.name == torch_line:
            lines.append(f"# cudalign: ignore=CA603; {ctx.suppress_ca603}")
        lines.append(pin.text)
    return "\n".join(lines) + "\n"


def emit(ctx: EmitContext) -> tuple[EmittedFile, ...]:
    from cudalign.emit import EmittedFile

    return (EmittedFile("requirements.txt", requirements_text(ctx)),)
