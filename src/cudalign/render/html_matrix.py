"""The HTML rendering of a ``cudalign.matrix/1`` report: the grid as a real table, reasons on hover.

Each cell shows its state as symbol and word and, when it is not ``ok``, the rule that decided it, linked
to the rule's page; its ``title`` (shown on hover, read by screen readers) holds the reason and the facts.
Below the grid every reason is listed with the facts it rests on, linked to their sources, so the page
says the same printed or without a pointer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign.model import Report
from cudalign.render.html import STATE, e, facts_list, host_section, page, rule_link, rules_appendix, state

if TYPE_CHECKING:
    from cudalign.matrix import Cell, Grid

__all__ = ["html"]


def _hover(cell: Cell) -> str:
    if cell.verdict is None:
        return "not built"
    lines = [f"{cell.checked}: {cell.verdict.value}"]
    for f in cell.reasons:
        lines.append(f"{f.code} {f.name}: {f.message}")
        lines += [f"  fact {r.id}: {r.source}" for r in f.facts]
    return "\n".join(lines)


def _cell(cell: Cell) -> str:
    key = cell.verdict.value if cell.verdict is not None else "none"
    symbol, word = STATE[key]
    inner = f'<span aria-hidden="true">{symbol}</span> {word}'
    if cell.reasons:
        first = cell.reasons[0]
        inner += f" {rule_link(first.code)}"
    if cell.installed:
        inner += " <strong>(installed)</strong>"
    classes = f"cell s-{key}" + (" installed" if cell.installed else "")
    return (
        f'<td class="{classes}" data-column="{e(cell.column)}" data-verdict="{key}"'
        f' data-checked="{e(cell.checked)}" title="{e(_hover(cell))}">{inner}</td>'
    )


def _table(grid: Grid, caption: str) -> str:
    ths = "".join(
        f'<th scope="col" title="{e(c.note)}" data-column="{e(c.key)}">{e(c.label)}</th>'
        for c in grid.columns
    )
    rows = []
    for row in grid.rows:
        mark = " <strong>(installed)</strong>" if row.installed else ""
        cls = ' class="installed"' if row.installed else ""
        cells = "".join(_cell(c) for c in row.cells)
        head = f'<th scope="row">{e(row.release)}{mark}</th>'
        rows.append(f'<tr{cls} data-release="{e(row.release)}">{head}{cells}</tr>')
    return (
        f'<table id="grid"><caption>{e(caption)}</caption>'
        f'<thead><tr><th scope="col">release</th>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _reasons(grid: Grid) -> tuple[str, list[str]]:
    from cudalign.render.matrix import legend_entries

    entries = legend_entries(grid)
    if not entries:
        return "", []
    ths = "".join(
        f'<th scope="col">{h}</th>' for h in ("Rule", "State", "Column", "Releases", "Why", "Facts")
    )
    rows = []
    for f, column, releases in entries:
        sev = "unknown" if f.unknown else f.severity.value
        why = e(f.message) + (f"<br><span class=meta>missing: {e(f.unknown)}</span>" if f.unknown else "")
        span = releases[0] if len(releases) == 1 else f"{releases[-1]} … {releases[0]} ({len(releases)})"
        facts = facts_list({"id": r.id, "source": r.source} for r in f.facts)
        rows.append(
            f'<tr class="reason" data-code="{e(f.code)}"><th scope="row">{rule_link(f.code, f.name)}</th>'
            f"<td>{state(sev)}</td><td>{e(column)}</td><td>{e(span)}</td><td>{why}</td><td>{facts}</td></tr>"
        )
    table = (
        '<section aria-labelledby="reasons"><h2 id="reasons">Why</h2>'
        "<table><caption>Each rule and column once, with the newest release's reason</caption>"
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
    return table, [f.code for f, _, _ in entries]


def html(report: Report) -> str:
    """The whole page: the grid, its key, the host, the reasons and the rules."""
    from cudalign.matrix import Grid
    from cudalign.model import to_jsonable
    from cudalign.render.matrix import title

    grid = report.data["matrix"]
    assert isinstance(grid, Grid)
    caption = title(report)
    key = " ".join(state(k) for k in ("ok", "caveats", "fails", "unknown", "none"))
    body = (
        '<section aria-labelledby="matrix"><h2 id="matrix">Matrix</h2>'
        f"<p>Key: {key} · <strong>(installed)</strong> the host's release and build · "
        "hover a cell for its reason</p>"
        f"{_table(grid, caption)}</section>"
    )
    reasons, codes = _reasons(grid)
    body += reasons
    host = to_jsonable(report.host) if report.host is not None else None
    body += host_section(host)
    body += rules_appendix(codes)
    sub = f"{e(grid.package)} {e(grid.installed)} installed" if grid.installed else ""
    return page(f"cudalign matrix: {grid.package}", body, subtitle=sub)
