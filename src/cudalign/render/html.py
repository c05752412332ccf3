"""The parts every HTML report is made of: one self-contained page, findings, facts and rule pages.

A page holds its CSS inline and loads nothing: no script, font, image or stylesheet from anywhere, so it
reads the same offline, attached to a ticket or printed. Light and dark follow the reader's setting
(``prefers-color-scheme``); print drops the backgrounds. Tables are real tables (caption, ``th`` with
``scope``); a state is always a symbol and a word beside its colour. Every finding links to its rule's page,
which the document carries at its end (and to the project's copy when the package names its repository),
and to the source of each fact it rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from html import escape
from typing import Any

__all__ = [
    "STATE",
    "e",
    "facts_list",
    "findings_section",
    "host_section",
    "link",
    "page",
    "rule_link",
    "rules_appendix",
    "stack_section",
    "state",
]

STATE: dict[str, tuple[str, str]] = {
    "ok": ("✓", "ok"),
    "caveats": ("~", "caveats"),
    "fails": ("✗", "fails"),
    "unknown": ("?", "unknown"),
    "none": ("·", "not built"),
    "error": ("✗", "error"),
    "warning": ("!", "warning"),
    "info": ("i", "info"),
}
"""Each state and severity as a symbol and a word (the colour only adds to them)."""

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa;
--ok:#1a7f37;--ok-bg:#dafbe1;--cav:#7d4e00;--cav-bg:#fff1c2;--bad:#b42318;--bad-bg:#ffe0dc;
--unk:#6e40c9;--unk-bg:#efe6ff;--none:#8c959f;--link:#0550ae}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;
--head:#161b22;--ok:#56d364;--ok-bg:#0f2d1a;--cav:#e3b341;--cav-bg:#2e2408;--bad:#ff7b72;--bad-bg:#3a1512;
--unk:#bc8cff;--unk-bg:#271a40;--none:#6e7681;--link:#79c0ff}}
body{background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;
margin:2rem auto;max-width:80rem;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.25rem 0 .25rem}
a{color:var(--link)}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
pre{white-space:pre-wrap;background:var(--head);padding:.5rem;border:1px solid var(--line)}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th,th[scope=row]{background:var(--head)}
.meta{color:var(--muted)}
.s-ok{color:var(--ok);background:var(--ok-bg)}.s-caveats,.s-warning{color:var(--cav);background:var(--cav-bg)}
.s-fails,.s-error{color:var(--bad);background:var(--bad-bg)}.s-unknown{color:var(--unk);background:var(--unk-bg)}
.s-none,.s-info{color:var(--none)}
.badge{display:inline-block;padding:0 .5rem;border-radius:.25rem;font-weight:600}
td.cell{white-space:nowrap;text-align:center}td.cell a{color:inherit}
tr.installed th{outline:2px solid var(--link)}td.installed{outline:3px solid var(--link);outline-offset:-3px}
.rule{border-top:1px solid var(--line)}
@media print{:root{--bg:#fff;--fg:#000;--link:#000}body{margin:0;max-width:none;font-size:11px}
.s-ok,.s-caveats,.s-warning,.s-fails,.s-error,.s-unknown{background:none}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:.8em;word-break:break-all}
.rule{break-inside:avoid}}
"""


def e(value: object) -> str:
    """Text for HTML (``&``, ``<``, ``>`` and quotes escaped)."""
    return escape("" if value is None else str(value), quote=True)


def link(href: str, text: str) -> str:
    """A link when ``href`` is a web address, else the text alone (a source that is not a URL)."""
    if href.startswith(("https://", "http://")):
        return f'<a href="{e(href)}">{e(text)}</a>'
    return e(text)


def state(value: str, *, badge: bool = True) -> str:
    """A verdict or severity as symbol and word, in its colour."""
    symbol, word = STATE.get(value, ("?", value))
    cls = "badge " if badge else ""
    return f'<span class="{cls}s-{e(value)}"><span aria-hidden="true">{symbol}</span> {e(word)}</span>'


@cache
def _project_url() -> str | None:
    from importlib import metadata

    try:
        urls = metadata.metadata("cudalign").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("source", "repository", "homepage") and "github.com" in url:
            return str(url).strip().rstrip("/")
    return None


def rule_link(code: str, name: str = "") -> str:
    """The rule's code (and name) linking to its page at the end of the document."""
    text = f"{code} {name}".strip()
    return f'<a href="#rule-{e(code)}">{e(text)}</a>'


def facts_list(facts: Iterable[Mapping[str, Any]]) -> str:
    """Each fact's id, linking to its source."""
    items = [f"<li>{link(str(f.get('source', '')), str(f.get('id', '')))}</li>" for f in facts]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _where(f: Mapping[str, Any]) -> str:
    loc = f.get("location") or {}
    parts = []
    if f.get("service"):
        parts.append(f"service {f['service']}")
    if loc.get("file"):
        parts.append(loc["file"] + (f":{loc['line']}" if loc.get("line") else ""))
    return e(", ".join(parts))


def findings_section(
    findings: Sequence[Mapping[str, Any]], heading: str = "Findings", hid: str = "findings"
) -> str:
    """The findings as a table: rule, severity, where, what, fix, facts."""
    if not findings:
        return (
            f'<section aria-labelledby="{hid}"><h2 id="{hid}">{e(heading)}</h2><p>No findings.</p></section>'
        )
    has_where = any(f.get("location") or f.get("service") for f in findings)
    head = ["Rule", "Severity"] + (["Where"] if has_where else []) + ["What is wrong", "What to do", "Facts"]
    rows = []
    for f in findings:
        sev = "unknown" if f.get("unknown") else str(f.get("severity"))
        what = e(f.get("message"))
        if f.get("unknown"):
            what += f"<br><span class=meta>missing: {e(f['unknown'])}</span>"
        cells = [
            f'<th scope="row">{rule_link(str(f["code"]), str(f.get("name", "")))}</th>',
            f"<td>{state(sev)}</td>",
        ]
        if has_where:
            cells.append(f"<td>{_where(f)}</td>")
        cells += [
            f"<td>{what}</td>",
            f"<td>{e(f.get('fix'))}</td>",
            f"<td>{facts_list(f.get('facts') or [])}</td>",
        ]
        rows.append(f'<tr class="finding" data-code="{e(f["code"])}">{"".join(cells)}</tr>')
    ths = "".join(f'<th scope="col">{h}</th>' for h in head)
    return (
        f'<section aria-labelledby="{hid}"><h2 id="{hid}">{e(heading)}</h2>'
        f"<table><caption>{len(findings)} finding{'s' if len(findings) != 1 else ''}</caption>"
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _table(caption: str, rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th scope="row">{e(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f"<table><caption>{e(caption)}</caption><tbody>{body}</tbody></table>"


def host_section(host: Mapping[str, Any] | None) -> str:
    """The host: GPUs, driver, platform, Python, container."""
    if not host:
        return ""
    drv = host.get("driver") or {}
    os_ = host.get("os") or {}
    gpus = host.get("gpus") or []
    gpu_text = "<br>".join(
        e(f"{g.get('index')}: {g.get('name')}" + (f" (compute capability {g['cc']})" if g.get("cc") else ""))
        for g in gpus
    )
    driver = (
        e(f"{drv.get('version')}" + (f" (supports CUDA up to {drv['cuda']})" if drv.get("cuda") else ""))
        if drv.get("version")
        else e((host.get("unknown") or {}).get("driver", "none"))
    )
    platform = " ".join(
        str(x) for x in (os_.get("distro_id"), os_.get("distro_version"), os_.get("arch")) if x
    )
    rows = [
        ("Origin", e(host.get("origin"))),
        ("GPUs", gpu_text or "none"),
        ("Driver", driver),
        ("Platform", e(platform or os_.get("system") or "Linux")),
        ("Python", e(host.get("python") or "not given")),
    ]
    container = host.get("container") or {}
    if container.get("kind"):
        rows.append(("Container", e(container["kind"])))
    return (
        f'<section aria-labelledby="host"><h2 id="host">Host</h2>{_table("The host judged", rows)}</section>'
    )


def stack_section(stack: Mapping[str, Any] | None, heading: str = "Stack", hid: str = "stack") -> str:
    """The stack's components and its CUDA facts."""
    if not stack:
        return ""
    head = "".join(f'<th scope="col">{h}</th>' for h in ("Package", "Version", "Variant", "CUDA", "Facts"))
    rows = []
    for c in stack.get("components") or []:
        rows.append(
            f'<tr><th scope="row">{e(c.get("name"))}</th><td>{e(c.get("version"))}</td>'
            f"<td>{e(c.get('variant') or '')}</td><td>{e(c.get('cuda') or '')}</td>"
            f"<td>{facts_list(c.get('facts') or [])}</td></tr>"
        )
    extra = [
        ("CUDA runtime", e(stack.get("cuda_runtime") or "unknown")),
        ("cuDNN", e(stack.get("cudnn") or "unknown")),
        ("NCCL", e(stack.get("nccl") or "unknown")),
        ("Image", e(stack.get("image") or "none")),
    ]
    table = (
        f"<table><caption>Components</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No components.</p>"
    )
    return (
        f'<section aria-labelledby="{hid}"><h2 id="{hid}">{e(heading)}</h2>{table}'
        f"{_table('What the stack loads', extra)}</section>"
    )


def _paragraphs(markdown: str) -> str:
    out = []
    for block in markdown.strip().split("\n\n"):
        block = block.strip()
        if not block or block.startswith("# "):
            continue
        text = e(block)
        parts = text.split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        text = text.replace("**", "")
        out.append(f"<p>{text}</p>")
    return "".join(out)


def rules_appendix(codes: Iterable[str]) -> str:
    """The page of every rule named in the report, in code order, each with an ``id`` findings link to."""
    from cudalign.render.rule_docs import page
    from cudalign.rules import rule

    sections = []
    base = _project_url()
    for code in sorted(set(codes)):
        try:
            r = rule(code)
        except KeyError:
            continue
        where = f"docs/rules/{code}.md"
        online = (
            f"<p class=meta>Also at {link(f'{base}/blob/main/{where}', where)}</p>"
            if base
            else f"<p class=meta>docs/rules/{e(code)}.md in the cudalign repository</p>"
        )
        sections.append(
            f'<section class="rule" id="rule-{e(code)}" aria-labelledby="rule-{e(code)}-h">'
            f'<h3 id="rule-{e(code)}-h">{e(code)} {e(r.name)} ({state(r.severity.value, badge=False)})</h3>'
            f"{_paragraphs(page(r))}{online}</section>"
        )
    if not sections:
        return ""
    return f'<section aria-labelledby="rules"><h2 id="rules">Rules</h2>{"".join(sections)}</section>'


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A whole, self-contained HTML document."""
    from cudalign import __version__

    sub = f'<p class="meta">{subtitle}</p>' if subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>{e(title)}</h1>{sub}</header><main>{body}</main>"
        f'<footer class="meta"><p>Made by cudalign {e(__version__)}.</p></footer></body></html>\n'
    )
