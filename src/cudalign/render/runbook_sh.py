"""A runbook as a bash script: one function per phase, every destructive step behind a confirmation.

The script does nothing without a phase argument, asks before each destructive step (reading the answer
from /dev/tty; ``CUDALIGN_YES=1`` confirms non-interactively), and stops at the first failure
(``set -euo pipefail``). Staging and the window refuse to run when the host's driver or kernel is not the
one the runbook was written for; every phase appends what it prints to ``$STATE/runbook.log``;
``CUDALIGN_SIMULATE=1`` runs the package steps as simulations. cudalign writes it; the operator runs it.
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

EXPECT_DRIVER={driver}
EXPECT_KERNEL={kernel}

same_host() {{
  # The host may have changed since this runbook was written: refuse another driver or kernel.
  local driver="" kernel
  if [ "${{CUDALIGN_FORCE:-}}" = "1" ]; then return 0; fi
  kernel=$(uname -r)
  if [ -r /sys/module/nvidia/version ]; then
    driver=$(cat /sys/module/nvidia/version)
  elif command -v nvidia-smi >/dev/null 2>&1; then
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1) || driver=""
  fi
  if [ -n "$EXPECT_DRIVER" ] && [ "$driver" != "$EXPECT_DRIVER" ]; then
    printf 'refused: written for driver %s, the host runs %s (CUDALIGN_FORCE=1 overrides)\n' \
      "$EXPECT_DRIVER" "${{driver:-none}}" >&2
    exit 1
  fi
  if [ -n "$EXPECT_KERNEL" ] && [ "$kernel" != "$EXPECT_KERNEL" ]; then
    printf 'refused: written for kernel %s, the host runs %s (CUDALIGN_FORCE=1 overrides)\n' \
      "$EXPECT_KERNEL" "$kernel" >&2
    exit 1
  fi
}}

log_phase() {{
  # Everything a phase prints also goes to $STATE/runbook.log, kept for the rollback.
  mkdir -p "$STATE"
  exec > >(tee -a "$STATE/runbook.log") 2>&1
  printf '\n[%s] %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$0" "$1"
}}

# CUDALIGN_SIMULATE=1: package steps are apt-get --simulate / dnf --assumeno, holds, services, reboots and
# key enrollment are printed, not done; confirmations are answered. Packages NVIDIA's repository would
# provide are reported, not resolved, when the repository cannot be reached.
NVIDIA_PACKAGES={packages}
NVIDIA_REPO_REACHABLE=1
if [ "${{CUDALIGN_SIMULATE:-}}" = "1" ]; then
  CUDALIGN_YES=1
  _not_nvidia() {{
    local arg out=()
    for arg in "$@"; do
      if [ "$NVIDIA_REPO_REACHABLE" = "0" ] && [[ " $NVIDIA_PACKAGES " == *" $arg "* ]]; then
        printf 'simulate: not resolved here (NVIDIA repository unreachable): %s\n' "$arg"
      else
        out+=("$arg")
      fi
    done
    SIM_ARGS=("${{out[@]}}")
  }}
  _has_packages() {{  # any argument left besides the sub-command and options?
    local arg n=0
    for arg in "${{SIM_ARGS[@]}}"; do case "$arg" in -*) ;; *) n=$((n + 1)) ;; esac; done
    [ "$n" -gt 1 ]
  }}
  apt-get() {{
    case " $* " in
      *" install "*|*" remove "*|*" purge "*)
        _not_nvidia "$@"
        if _has_packages; then command apt-get --simulate "${{SIM_ARGS[@]}}"; fi ;;
      *" download "*) command apt-get --print-uris "$@" ;;
      *) command apt-get "$@" ;;
    esac
  }}
  apt-cache() {{ _not_nvidia "$@"; command apt-cache "${{SIM_ARGS[@]}}"; }}
  curl() {{
    if ! command curl "$@"; then
      printf 'simulate: NVIDIA repository unreachable from here\n'
      NVIDIA_REPO_REACHABLE=0
    fi
  }}
  dpkg() {{
    case " $* " in *" -i "*) printf 'simulate: dpkg %s\n' "$*" ;; *) command dpkg "$@" ;; esac
  }}
  dnf() {{ command dnf --assumeno "$@" || true; }}
  apt-mark() {{
    case "$1" in hold|unhold) printf 'simulate: apt-mark %s\n' "$*" ;; *) command apt-mark "$@" ;; esac
  }}
  systemctl() {{
    case "$1" in
      is-active|list-units|status) command systemctl "$@" ;;
      *) printf 'simulate: systemctl %s\n' "$*" ;;
    esac
  }}
  mokutil() {{
    case "$1" in --sb-state) command mokutil "$@" ;; *) printf 'simulate: mokutil %s\n' "$*" ;; esac
  }}
  dkms() {{ case "$1" in status) command dkms "$@" ;; *) printf 'simulate: dkms %s\n' "$*" ;; esac; }}
fi

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
    body = [
        _PRELUDE.format(
            state=STATE,
            driver=_q(rb.current or ""),
            kernel=_q(rb.kernel or ""),
            packages=_q(" ".join(rb.repo_packages)),
        )
    ]
    for section in rb.sections:
        body.append(f"{section.key}() {{")
        body.append(f"  # {section.title}: {section.when}")
        body.append(f"  log_phase {section.key}")
        if section.key in ("stage", "window"):
            body.append("  same_host")
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
