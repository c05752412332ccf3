"""HTML renderings of the ``doctor``, ``check``, ``plan`` and ``scan`` reports.

Each reads the report's canonical JSON (what ``--json`` prints), so the page shows exactly what the JSON
says, and lays it out with :mod:`cudalign.render.html`'s parts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cudalign.model import Report
from cudalign.render.html import (
    e,
    findings_section,
    host_section,
    page,
    rule_link,
    rules_appendix,
    stack_section,
    state,
)

__all__ = ["check", "doctor", "plan", "scan"]


def _data(report: Report) -> dict[str, Any]:
    from cudalign.render import renderer

    data = json.loads(renderer(report.schema, "json")(report))
    assert isinstance(data, dict)
    return data


def _codes(findings: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(f["code"]) for f in findings if f.get("code")]


def _verdict(data: Mapping[str, Any]) -> str:
    v = data.get("verdict")
    return f"Verdict: {state(str(v))}" if v else ""


def check(report: Report) -> str:
    """Verdict, host, stack, findings, rules."""
    data = _data(report)
    findings = data.get("findings") or []
    body = host_section(data.get("host")) + stack_section(data.get("stack")) + findings_section(findings)
    body += rules_appendix(_codes(findings))
    return page("cudalign check", body, subtitle=_verdict(data))


def doctor(report: Report) -> str:
    """The host, what is wrong with it now, and the verdict for the stack asked about."""
    data = _data(report)
    findings = data.get("findings") or []
    body = host_section(data.get("host"))
    body += stack_section(data.get("stack"), "Installed stack", "installed")
    body += findings_section(findings, "What is wrong now", "findings")
    codes = _codes(findings)
    target = data.get("target")
    if isinstance(target, Mapping):
        asked = " ".join(target.get("requirements") or []) + (
            f" in {target['image']}" if target.get("image") else ""
        )
        body += (
            f'<section aria-labelledby="target"><h2 id="target">The stack asked about</h2>'
            f"<p><code>{e(asked.strip())}</code>: {state(str(target.get('verdict')))}</p></section>"
        )
        body += stack_section(target.get("stack"), "Its resolved stack", "target-stack")
        body += findings_section(target.get("findings") or [], "Its findings", "target-findings")
        codes += _codes(target.get("findings") or [])
    body += rules_appendix(codes)
    return page("cudalign doctor", body, subtitle=_verdict(data))


def _matrix_rows(matrices: Sequence[Mapping[str, Any]]) -> str:
    head = ("Matrix", "Verdict", "Driver", "CUDA", "torch", "vLLM", "Python", "Image", "Install")
    ths = "".join(f'<th scope="col">{h}</th>' for h in head)
    rows = []
    for m in matrices:
        driver = e(m.get("driver") or "")
        if m.get("driver_change"):
            driver += " <strong>(upgrade, reboot)</strong>"
        cells = [
            f'<th scope="row">{e(m.get("label"))}</th>',
            f"<td>{state(str(m.get('verdict')))}</td>",
            f"<td>{driver}</td>",
            f"<td>{e(m.get('cuda') or '')}</td>",
            f"<td>{e(m.get('torch') or '')}</td>",
            f"<td>{e(m.get('vllm') or '')}</td>",
            f"<td>{e(m.get('python') or '')}</td>",
            f"<td>{e(m.get('image') or '')}</td>",
            f"<td><code>{e(m.get('install_uv') or '')}</code></td>",
        ]
        rows.append(f'<tr class="matrix">{"".join(cells)}</tr>')
    return (
        f"<table><caption>Compatible matrices, best first</caption><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def plan(report: Report) -> str:
    """The ranked matrices, each with its caveats and findings, and the rejected families."""
    data = _data(report)
    matrices = data.get("matrices") or []
    asked = " ".join(data.get("requirements") or [])
    body = host_section(data.get("host"))
    body += '<section aria-labelledby="matrices"><h2 id="matrices">Matrices</h2>'
    body += _matrix_rows(matrices) if matrices else "<p>No compatible matrix.</p>"
    body += "</section>"
    codes: list[str] = []
    for m in matrices:
        label = str(m.get("label"))
        if m.get("caveats"):
            items = "".join(f"<li>{e(c)}</li>" for c in m["caveats"])
            body += f"<h3>Matrix {e(label)}: caveats</h3><ul>{items}</ul>"
        findings = m.get("findings") or []
        body += findings_section(findings, f"Matrix {label}: findings", f"findings-{label}")
        codes += _codes(findings)
    rejected = data.get("rejected") or []
    if rejected:
        ths = "".join(f'<th scope="col">{h}</th>' for h in ("Family", "Rule", "Why"))
        rows = "".join(
            f'<tr class="rejected"><th scope="row">{e(r.get("family"))}</th>'
            f"<td>{rule_link(str(r.get('code')), str(r.get('name', '')))}</td>"
            f"<td>{e(r.get('reason'))}</td></tr>"
            for r in rejected
        )
        body += (
            '<section aria-labelledby="rejected"><h2 id="rejected">Rejected</h2>'
            f"<table><caption>Families that do not run, and the strongest reason</caption>"
            f"<thead><tr>{ths}</tr></thead><tbody>{rows}</tbody></table></section>"
        )
        codes += _codes(rejected)
    body += rules_appendix(codes)
    sub = f"For <code>{e(asked)}</code>; {e(data.get('considered'))} candidates checked"
    return page("cudalign plan", body, subtitle=sub)


def scan(report: Report) -> str:
    """The services found, the findings at their file and line, and the notes."""
    data = _data(report)
    findings = data.get("findings") or []
    services = data.get("services") or []
    body = ""
    if services:
        head = ("Service", "Files", "Image", "torch", "CUDA", "Requirements")
        ths = "".join(f'<th scope="col">{h}</th>' for h in head)
        rows = "".join(
            f'<tr class="service"><th scope="row">{e(s.get("name"))}</th>'
            f"<td>{'<br>'.join(e(f) for f in s.get('files') or [])}</td>"
            f"<td>{e(s.get('image') or '')}</td><td>{e(s.get('torch') or '')}</td>"
            f"<td>{e(s.get('cuda') or '')}</td>"
            f"<td>{'<br>'.join(e(r) for r in s.get('requirements') or [])}</td></tr>"
            for s in services
        )
        body += (
            '<section aria-labelledby="services"><h2 id="services">Services</h2>'
            f"<table><caption>{len(services)} services</caption><thead><tr>{ths}</tr></thead>"
            f"<tbody>{rows}</tbody></table></section>"
        )
    body += findings_section(findings)
    notes = data.get("notes") or []
    if notes:
        items = "".join(f"<li>{e(n)}</li>" for n in notes)
        body += f'<section aria-labelledby="notes"><h2 id="notes">Notes</h2><ul>{items}</ul></section>'
    body += rules_appendix(_codes(findings))
    return page("cudalign scan", body, subtitle=f"Repository {e(data.get('root', ''))}")
