"""Text and Markdown renderings of a ``cudalign.matrix/1`` report: the grid, its key and the reasons.

A cell is a symbol and, when it is not ``ok``, the code of the rule that decided it (``✗ CA101``), so the
grid reads without colour; colour is added only by a caller that writes to a terminal (``paint``). Wide
grids are cut into blocks of columns that fit the output width, each block repeating the releases. The
reasons follow the grid: for each rule and column, the newest release's message and the facts it rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cudalign.model import Finding, Report, Verdict

if TYPE_CHECKING:
    from cudalign.matrix import Cell, Grid

__all__ = [
    "SYMBOL",
    "cell_text",
    "grid_lines",
    "legend_entries",
    "markdown",
    "paint_ansi",
    "sections",
    "text",
    "title",
]

SYMBOL: dict[Verdict | None, str] = {
    Verdict.OK: "✓",
    Verdict.CAVEATS: "~",
    Verdict.FAILS: "✗",
    Verdict.UNKNOWN: "?",
    None: "·",
}
"""One symbol per state, so that no state is told by colour alone."""

_WORD: dict[Verdict | None, str] = {
    Verdict.OK: "ok",
    Verdict.CAVEATS: "caveats",
    Verdict.FAILS: "fails",
    Verdict.UNKNOWN: "unknown",
    None: "not built",
}

_ANSI = {Verdict.OK: "32", Verdict.CAVEATS: "33", Verdict.FAILS: "31", Verdict.UNKNOWN: "35", None: "2"}

Paint = Callable[["Verdict | None", str], str]


def paint_ansi(verdict: Verdict | None, cell: str) -> str:
    """A cell in its colour, for a terminal (the text stays the same, colour only adds)."""
    return f"\x1b[{_ANSI[verdict]}m{cell}\x1b[0m"


def _grid(report: Report) -> Grid:
    from cudalign.matrix import Grid

    grid = report.data["matrix"]
    assert isinstance(grid, Grid)
    return grid


def cell_text(cell: Cell) -> str:
    """``✓``, ``✗ CA101``, ``~ CA102``, ``·``; the installed build ends in ``◀``."""
    body = SYMBOL[cell.verdict]
    if cell.reasons:
        body += f" {cell.reasons[0].code}"
    return body + ("◀" if cell.installed else "")


def title(report: Report) -> str:
    """What the grid is: the package, its axis, and the host."""
    from cudalign.render.check import describe_host

    grid = _grid(report)
    what = (
        f"{grid.package} releases x builds"
        if grid.axis == "builds"
        else f"{grid.package} releases ({grid.build} build) x GPUs"
    )
    host = describe_host(report.host) if report.host is not None else "no host"
    if grid.axis == "gpus":  # the GPUs are the columns: the rest of the host is what they share
        host = host.split("; ", 1)[-1]
    return f"{what} on {host}"


def _width() -> int | None:
    import sys

    from cudalign.render.terminal import output_width

    return output_width(sys.stdout)


def _blocks(label_w: int, widths: list[int], width: int | None) -> list[range]:
    """Column ranges that each fit ``width`` beside the release column (all of them when no width)."""
    if width is None:
        return [range(len(widths))]
    out: list[range] = []
    start, used = 0, label_w
    for i, w in enumerate(widths):
        if i > start and used + 1 + w > width:
            out.append(range(start, i))
            start, used = i, label_w
        used += 1 + w
    out.append(range(start, len(widths)))
    return out


def grid_lines(grid: Grid, *, width: int | None, paint: Paint | None = None) -> list[str]:
    """The grid as aligned lines, cut into blocks of columns no wider than ``width``."""
    label_w = max([len("release")] + [len(r.release) + 2 for r in grid.rows])
    texts = [[cell_text(c) for c in r.cells] for r in grid.rows]
    widths = [max([len(col.label)] + [len(t[i]) for t in texts]) for i, col in enumerate(grid.columns)]
    lines: list[str] = []
    for block in _blocks(label_w, widths, width):
        if lines:
            lines.append("")
        head = "release".ljust(label_w) + "".join(" " + grid.columns[i].label.ljust(widths[i]) for i in block)
        lines.append(head.rstrip())
        for row, row_texts in zip(grid.rows, texts, strict=True):
            name = ("▶ " if row.installed else "  ") + row.release
            parts = [name.ljust(label_w)]
            for i in block:
                t = row_texts[i].ljust(widths[i])
                parts.append(paint(row.cells[i].verdict, t) if paint else t)
            lines.append(" ".join(parts).rstrip())
    return lines


def legend_entries(grid: Grid) -> list[tuple[Finding, str, list[str]]]:
    """Each distinct (rule, column) once: the newest release's finding, the column label, the releases."""
    labels = {c.key: c.label for c in grid.columns}
    seen: dict[tuple[str, str], tuple[Finding, str, list[str]]] = {}
    for row in grid.rows:
        for cell in row.cells:
            for f in cell.reasons:
                key = (f.code, cell.column)
                if key not in seen:
                    seen[key] = (f, labels[cell.column], [])
                seen[key][2].append(row.release)
    return sorted(seen.values(), key=lambda e: (e[0].code, list(labels.values()).index(e[1])))


def _releases(releases: list[str]) -> str:
    if len(releases) == 1:
        return releases[0]
    return f"{len(releases)} releases, {releases[-1]} … {releases[0]}"


def sections(report: Report, paint: Paint | None = None) -> tuple[str, str, str]:
    """The title, the grid (cut to the output width, painted when asked), and the key and reasons."""
    grid = _grid(report)
    body = "\n".join(grid_lines(grid, width=_width(), paint=paint))
    key = "   ".join(f"{SYMBOL[v]} {_WORD[v]}" for v in _WORD)
    out = [f"key: {key}", "     ▶ the installed release   ◀ the installed build"]
    if grid.installed:
        out.append(f"installed: {grid.package} {grid.installed}")
    entries = legend_entries(grid)
    if entries:
        out += ["", "why (rule, column: the newest release's reason, and the facts it rests on):"]
    for f, column, releases in entries:
        state = "unknown" if f.unknown else f.severity.value
        out.append(f"{f.code} {f.name} ({state}), {column}, {_releases(releases)}:")
        out.append(f"    {f.message}")
        if f.unknown:
            out.append(f"    missing: {f.unknown}")
        for ref in f.facts:
            out.append(f"    fact {ref.id}: {ref.source}")
    return title(report), body, "\n".join(out)


def text(report: Report) -> str:
    """The grid, its key, and the reasons with their rules and facts."""
    head, body, rest = sections(report)
    return f"{head}\n\n{body}\n\n{rest}\n"


def markdown(report: Report) -> str:
    """The grid as a Markdown table (symbol and word in each cell), then the reasons."""
    grid = _grid(report)
    out = [f"### cudalign matrix: {title(report)}", ""]
    out.append("| release | " + " | ".join(c.label for c in grid.columns) + " |")
    out.append("|---|" + "---|" * len(grid.columns))
    for row in grid.rows:
        cells = []
        for c in row.cells:
            word = f"{SYMBOL[c.verdict]} {_WORD[c.verdict]}"
            if c.reasons:
                word += f" `{c.reasons[0].code}`"
            cells.append(f"**{word}** (installed)" if c.installed else word)
        name = f"**{row.release}** (installed)" if row.installed else row.release
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    entries = legend_entries(grid)
    if entries:
        out += ["", "| rule | column | releases | why | facts |", "|---|---|---|---|---|"]
        for f, column, releases in entries:
            facts = "<br>".join(f"[{r.id}]({r.source})" for r in f.facts)
            cells = [f"`{f.code}` {f.name}", column, _releases(releases), f.message, facts]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"
