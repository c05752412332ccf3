"""The operating system: distribution, kernel, glibc, CPU architecture, Python and Secure Boot."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path

from cudalign.model import OsInfo

__all__ = ["SECURE_BOOT_VAR", "parse_os_release", "parse_secure_boot", "read_glibc", "read_os"]

SECURE_BOOT_VAR = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e398032c4b8c"


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY -> value`` from ``/etc/os-release`` (shell-style quoting, comments ignored)."""
    import shlex

    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        fields[key.strip()] = parts[0] if parts else ""
    return fields


def parse_secure_boot(data: bytes) -> bool | None:
    """The EFI variable is 4 attribute bytes then one value byte: 1 enabled, 0 disabled."""
    if len(data) < 5:
        return None
    return {0: False, 1: True}.get(data[4])


def read_glibc() -> str | None:
    """``2.35`` from ``confstr`` (the running C library), else ``platform.libc_ver``; ``None`` on musl."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        text = ""
    if text.startswith("glibc "):
        return text.split()[1]
    lib, version = platform.libc_ver()
    return version if lib == "glibc" and version else None


def read_os(root: Path, uname: Mapping[str, str] | None = None) -> OsInfo:
    """The OS of ``root`` (``/`` in production; a fixture tree in tests)."""
    unknown: dict[str, str] = {}
    u = uname or {"system": platform.system(), "release": platform.release(), "machine": platform.machine()}
    release = None
    for rel in ("etc/os-release", "usr/lib/os-release"):
        try:
            release = parse_os_release((root / rel).read_text(encoding="utf-8", errors="replace"))
            break
        except OSError:
            continue
    if release is None:
        unknown["distro_id"] = "no /etc/os-release"
    secure_boot: bool | None = None
    try:
        secure_boot = parse_secure_boot((root / SECURE_BOOT_VAR).read_bytes())
    except OSError:
        if (root / "sys/firmware/efi").exists():
            unknown["secure_boot"] = "EFI firmware, but the SecureBoot variable is not readable"
        else:
            unknown["secure_boot"] = "no EFI firmware visible (legacy BIOS boot, a VM, or a container)"
    glibc = read_glibc() if u.get("system") == "Linux" else None
    if glibc is None and u.get("system") == "Linux":
        unknown["glibc"] = "not glibc (musl?) or not readable"
    machine = u.get("machine") or None
    return OsInfo(
        system=u.get("system") or None,
        distro_id=(release or {}).get("ID") or None,
        distro_version=(release or {}).get("VERSION_ID") or None,
        distro_like=tuple((release or {}).get("ID_LIKE", "").split()),
        kernel=u.get("release") or None,
        glibc=glibc,
        arch={"amd64": "x86_64", "arm64": "aarch64"}.get(machine or "", machine),
        secure_boot=secure_boot,
        unknown=unknown,
    )
