"""The HTML rendering of a ``cudalign.diff/1`` report: the two sides, what applying the change takes (reboot,
rebuild, new image), the before/after tables (the stack's rows, then every package that moved) and the steps
back, laid out with :mod:`cudalign.render.html`'s parts.

It reads the diff's JSON form (what ``--json`` prints), so the page shows exactly what the JSON says. Every
flag is a symbol and a word; the colour only adds to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cudalign.model import Report
from cudalign.render.html import e, page

__all__ = ["html"]

_NEEDS: dict[str, tuple[str, str, str]] = {
    "reboot": ("⏻", "reboot", "s-error"),
    "new image": ("▣", "new image", "s-warning"),
    "rebuild": ("↻", "rebuild", "s-info"),
}
"""Each need as a symbol, a word and the state colour it borrows."""

_WHY = {
    "reboot": "the NVIDIA driver changes: the kernel module is reloaded, so the host reboots",
    "new image": "what the container image holds changes (its base, CUDA or Python): it is built anew",
    "rebuild": "what the environment installs changes: it is reinstalled from its pins",
}


def _need(need: str) -> str:
    symbol, word, cls = _NEEDS.get(need, ("•", need, "s-info"))
    return (
        f'<span class="badge {cls}" data-need="{e(need)}"><span aria-hidden="true">{symbol}</span> '
        f"{e(word)}</span>"
    )


def _movement(before: str | None, after: str | None) -> str:
    """``added``, ``removed``, ``upgraded``, ``downgraded`` or ``changed`` (versions that do not compare)."""
    if before is None:
        return "added"
    if after is None:
        return "removed"
    from packaging.version import InvalidVersion, Version

    try:
        return "upgraded" if Version(after) > Version(before) else "downgraded"
    except InvalidVersion:
        return "changed"


def _value(value: str | None) -> str:
    return f"<code>{e(value)}</code>" if value is not None else '<span class="meta">not stated</span>'


def _changes_table(changes: Sequence[Mapping[str, Any]], caption: str, cls: str) -> str:
    head = ("What", "Change", "Before", "After", "Needs")
    ths = "".join(f'<th scope="col">{h}</th>' for h in head)
    rows = []
    for c in changes:
        needs = [str(n) for n in c.get("needs") or ()]
        before, after = c.get("before"), c.get("after")
        rows.append(
            f'<tr class="change {cls}" data-what="{e(c.get("what"))}" data-needs="{e(",".join(needs))}">'
            f'<th scope="row">{e(c.get("label"))}</th>'
            f"<td>{_movement(before, after)}</td><td>{_value(before)}</td><td>{_value(after)}</td>"
            f"<td>{' '.join(_need(n) for n in needs)}</td></tr>"
        )
    return (
        f"<table><caption>{e(caption)}</caption><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _sides(data: Mapping[str, Any]) -> str:
    ths = "".join(f'<th scope="col">{h}</th>' for h in ("Side", "Kind", "Source"))
    rows = "".join(
        f'<tr class="side" data-side="{key}"><th scope="row">{key.capitalize()}</th>'
        f"<td>{e((data.get(key) or {}).get('kind'))}</td><td>{e((data.get(key) or {}).get('name'))}</td></tr>"
        for key in ("before", "after")
    )
    return (
        '<section aria-labelledby="sides"><h2 id="sides">Compared</h2>'
        f"<table><caption>The two environments</caption><thead><tr>{ths}</tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _needs_section(needs: Sequence[str], changes: Sequence[Mapping[str, Any]]) -> str:
    if not needs:
        body = "<p>Nothing to rebuild, reboot or replace.</p>"
    else:
        items = []
        for need in needs:
            by = [str(c.get("label")) for c in changes if need in (c.get("needs") or ())]
            shown = ", ".join(by[:8]) + (f" and {len(by) - 8} more" if len(by) > 8 else "")
            items.append(
                f'<li class="need" data-need="{e(need)}">{_need(need)}: {e(_WHY.get(need, need))} '
                f'<span class="meta">({len(by)} change{"s" if len(by) != 1 else ""}: {e(shown)})</span></li>'
            )
        body = f"<ul>{''.join(items)}</ul>"
    return f'<section aria-labelledby="needs"><h2 id="needs">What applying it takes</h2>{body}</section>'


def html(report: Report) -> str:
    """The whole diff page."""
    from cudalign.render.diff import diff_of

    data = diff_of(report).to_json()
    changes: list[Mapping[str, Any]] = list(data.get("changes") or [])
    stack = [c for c in changes if not str(c.get("what", "")).startswith("package:")]
    packages = [c for c in changes if str(c.get("what", "")).startswith("package:")]
    body = _sides(data) + _needs_section(list(data.get("needs") or []), changes)
    body += '<section aria-labelledby="changes"><h2 id="changes">What changed</h2>'
    if not changes:
        body += "<p>No changes.</p>"
    if stack:
        body += _changes_table(stack, f"The stack: {len(stack)} row{'s' if len(stack) != 1 else ''}", "stack")
    if packages:
        n = len(packages)
        body += _changes_table(packages, f"Packages that moved: {n}", "package")
    unchanged = data.get("unchanged") or []
    if unchanged:
        body += f'<p class="unchanged">Unchanged: {e(", ".join(str(u) for u in unchanged))}</p>'
    body += "</section>"
    steps = [c for c in changes if c.get("rollback")]
    if steps:
        items = "".join(
            f'<li class="rollback" data-what="{e(c.get("what"))}"><code>{e(c["rollback"])}</code></li>'
            for c in steps
        )
        body += (
            '<section aria-labelledby="rollback"><h2 id="rollback">Rollback</h2>'
            f"<p>The steps back to <em>before</em>, in order:</p><ol>{items}</ol></section>"
        )
    n = len(changes)
    sub = f"{n} change{'s' if n != 1 else ''}" + (
        "; needs " + ", ".join(e(x) for x in data.get("needs") or []) if data.get("needs") else ""
    )
    return page("cudalign diff", body, subtitle=sub)
