"""A runbook as a bash script: one function per phase, every destructive step behind a confirmation.

The script does nothing without a phase argument, asks before each destructive step (reading the answer
from /dev/tty; ``CUDALIGN_YES=1`` confirms non-interactively), and stops at the first failure
(``set -euo pipefail``). cudalign writes it; the operator runs it.
"""

from __future__ import annotations

import shlex

from cudalign.runbook import Runbook, Step
from cudalign.runbook.phases import STATE

__all__ = ["render_shell"]

_PRELUDE = """set -euo pipefail

STATE="${{STATE:-{state}}}"
export STATE

say() {{ printf '\\n==> %s\\n' "$*"; }}

confirm() {{
  # Ask on the terminal; only the word 'yes' goes on. CUDALIGN_YES=1 answers yes for automation.
  local answer=""
  if [ "${{CUDALIGN_YES:-}}" = "1" ]; then
    printf 'confirmed (CUDALIGN_YES=1): %s\\n' "$1"
    return 0
  fi
  if ! {{ exec 3<>/dev/tty; }} 2>/dev/null; then
    printf 'cannot ask "%s": no terminal (set CUDALIGN_YES=1 to confirm)\\n' "$1" >&2
    exit 1
  fi
  printf '%s [yes/no] ' "$1" >&3
  read -r answer <&3
  exec 3>&-
  if [ "$answer" != "yes" ]; then
    printf 'stopped: not confirmed\\n' >&2
    exit 1
  fi
}}

BLOCKED={blocked}

not_blocked() {{
  if [ -n "$BLOCKED" ] && [ "${{CUDALIGN_FORCE:-}}" != "1" ]; then
    printf 'blocked: %s (CUDALIGN_FORCE=1 overrides)\\n' "$BLOCKED" >&2
    exit 1
  fi
}}

need_root() {{
  if [ "$(id -u)" -ne 0 ]; then
    printf 'this phase needs root: sudo %s %s\\n' "$0" "$1" >&2
    exit 1
  fi
}}
"""


def _q(text: str) -> str:
    return shlex.quote(text)


def _step_lines(step: Step) -> list[str]:
    out = [f"  say {_q(step.title)}", *(f"  # {line}" for line in _wrap(step.why))]
    if step.destructive and step.commands:
        out.append(f"  confirm {_q('Run: ' + step.title + '?')}")
    out += [f"  {c}" for c in step.commands]
    if step.expect:
        out.append(f"  # expect: {step.expect}")
    if step.gate:  # asked after the commands: the question is usually about their output
        out.append(f"  confirm {_q(step.gate)}")
    return out


def _wrap(text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, 100) or [""]


def render_shell(rb: Runbook) -> str:
    """The runbook as a bash script that shellcheck accepts."""
    head = [
        "#!/usr/bin/env bash",
        f"# cudalign runbook: {rb.host_label} to {rb.target} ({rb.flavour} kernel module).",
        *(f"# {line}" for line in _wrap(rb.summary)),
        "#",
        "# Read it before running it. Run one phase at a time, in order:",
        "#   " + " | ".join(s.key for s in rb.sections),
        "# Destructive steps ask first (type 'yes'); CUDALIGN_YES=1 answers yes.",
    ]
    for f in rb.findings:
        head.append(f"# {f.severity.value.upper()} {f.code} {f.name}: {f.message}")
    blocked = " ".join(f.message for f in rb.findings if f.severity.value == "error")
    body = [_PRELUDE.format(state=STATE, blocked=_q(blocked))]
    for section in rb.sections:
        body.append(f"{section.key}() {{")
        body.append(f"  # {section.title}: {section.when}")
        if section.key in ("stage", "window"):
            body.append("  not_blocked")
        if any(s.root for s in section.steps):
            body.append(f"  need_root {section.key}")
        if section.key != "preflight":
            body.append('  mkdir -p "$STATE"')
        for step in section.steps:
            body += _step_lines(step)
        body.append(f"  say {_q(section.title + ': done')}")
        body.append("}")
        body.append("")
    keys = [s.key for s in rb.sections]
    body.append('case "${1:-}" in')
    for k in keys:
        body.append(f"  {k}) {k} ;;")
    body.append(f"  *) printf 'usage: %s {{{'|'.join(keys)}}}\\n' \"$0\" >&2; exit 2 ;;")
    body.append("esac")
    return "\n".join(head) + "\n" + "\n".join(body) + "\n"
