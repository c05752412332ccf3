"""Which GPU architectures a package's PyPI wheels carry machine code (SASS) and PTX for, release by release.

Run where PyPI is reachable::

    PYTHONPATH=src python3 scripts/wheel_gpu_code.py onnxruntime-gpu --member 'providers_cuda\\.(so|dll)$' \\
        --since 1.14 --out tests/recordings/wheels/onnxruntime-gpu.json

For every release (one wheel per platform: Linux x86_64, Linux aarch64, Windows) it downloads the wheel
into a temporary folder, extracts the members whose path matches ``--member`` and reads their fatbin
containers with :mod:`cudalign.verify.fatbin` (the ``.nv_fatbin`` section of an ELF file; every container
of a PE file, whose section is named differently). The record written is the evidence the knowledge
base's ``package_build`` arch facts are checked against (``tests/facts/test_wheel_archs.py``): per wheel
its URL, sha256, member, the ``sm_XY`` names with machine code and the ``compute_XY`` names with PTX.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

__all__ = ["facts_toml", "fetch_member", "main", "platform_of", "read_member", "releases"]

_PLATFORMS = (("linux_x86_64", "x86_64"), ("linux_aarch64", "aarch64"), ("windows", "win_amd64"))


def platform_of(filename: str) -> str | None:
    """``linux_x86_64``, ``linux_aarch64`` or ``windows`` for a wheel file name; ``None`` for others."""
    if not filename.endswith(".whl"):
        return None
    tag = filename[:-4].split("-")[-1]
    for key, needle in _PLATFORMS:
        if needle in tag and (key == "windows" or "linux" in tag):
            return key
    return None


def releases(package: str, since: str | None) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """``(version, {platform: file record})`` for every release at or after ``since``, oldest first."""
    with urllib.request.urlopen(f"https://pypi.org/pypi/{package}/json", timeout=60) as r:
        data = json.load(r)
    out: list[tuple[str, dict[str, dict[str, Any]]]] = []
    for version, files in data["releases"].items():
        try:
            v = Version(version)
        except InvalidVersion:
            continue
        if v.is_prerelease or (since is not None and v < Version(since)):
            continue
        chosen: dict[str, dict[str, Any]] = {}
        for f in files:
            plat = platform_of(f["filename"])
            if plat is not None and not f.get("yanked") and plat not in chosen:
                chosen[plat] = f
        if chosen:
            out.append((version, chosen))
    return sorted(out, key=lambda item: Version(item[0]))


def read_member(path: str) -> dict[str, Any]:
    """The SASS and PTX architectures of one extracted library (ELF or PE)."""
    from cudalign.verify.fatbin import Entry, embedded, read_library

    entries: tuple[Entry, ...] = ()
    with open(path, "rb") as f:
        elf = f.read(4) == b"\x7fELF"
    if elf:
        fb = read_library(path)
        if fb is not None and fb.error:
            return {"error": fb.error}
        entries = fb.entries if fb is not None else ()
    if not entries:
        entries = embedded(path)
    sass = sorted({e.name for e in entries if e.kind == "sass"}, key=_order)
    ptx = sorted({e.name for e in entries if e.kind == "ptx"}, key=_order)
    versions = {
        e.name: f"{e.version[0]}.{e.version[1]}" for e in entries if e.kind == "ptx" and e.version is not None
    }
    return {"sass": sass, "ptx": ptx, "ptx_isa": dict(sorted(versions.items(), key=lambda kv: _order(kv[0])))}


def _order(name: str) -> tuple[int, str]:
    m = re.search(r"(\d+)([a-z]?)$", name)
    return (int(m.group(1)), m.group(2)) if m else (0, name)


def _get(url: str, first: int | None = None, last: int | None = None) -> bytes:
    """Bytes ``first..last`` of ``url`` (``first=None``: its last ``last`` bytes), by a range request."""
    spec = f"bytes=-{last}" if first is None else f"bytes={first}-{'' if last is None else last}"
    req = urllib.request.Request(url, headers={"Range": spec})
    with urllib.request.urlopen(req, timeout=120) as r:
        if r.status != 206:
            raise OSError(f"{url}: no range support (HTTP {r.status})")
        return bytes(r.read())


def _central_directory(url: str) -> dict[str, tuple[int, int, int]]:
    """``{member: (local header offset, compressed size, method)}`` from a remote zip's central directory."""
    tail = _get(url, None, 65536 + 22)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0:
        raise OSError(f"{url}: no end of central directory")
    _, _, _, _, count, size, offset, _ = struct.unpack_from("<IHHHHIIH", tail, at)
    if offset == 0xFFFFFFFF or count == 0xFFFF:  # zip64: the locator sits just before
        loc = tail.rfind(b"PK\x06\x07", 0, at)
        (eocd64,) = struct.unpack_from("<Q", tail, loc + 8)
        rec = _get(url, eocd64, eocd64 + 55)
        count, size, offset = struct.unpack_from("<QQQ", rec, 32)
    data = _get(url, offset, offset + size - 1)
    out: dict[str, tuple[int, int, int]] = {}
    pos = 0
    for _ in range(count):
        (_, _, _, _, method, _, _, _, csize, usize, nlen, xlen, clen, _, _, _, local) = struct.unpack_from(
            "<IHHHHHHIIIHHHHHII", data, pos
        )
        name = data[pos + 46 : pos + 46 + nlen].decode()
        extra = data[pos + 46 + nlen : pos + 46 + nlen + xlen]
        vals = []
        i = 0
        while i + 4 <= len(extra):  # the zip64 extra field holds the sizes and offset that overflowed
            tag, ln = struct.unpack_from("<HH", extra, i)
            if tag == 1:
                vals = list(struct.unpack_from(f"<{ln // 8}Q", extra, i + 4))
            i += 4 + ln
        if usize == 0xFFFFFFFF:
            usize = vals.pop(0)
        if csize == 0xFFFFFFFF:
            csize = vals.pop(0)
        if local == 0xFFFFFFFF:
            local = vals.pop(0)
        out[name] = (local, csize, method)
        pos += 46 + nlen + xlen + clen
    return out


def fetch_member(url: str, pattern: re.Pattern[str], into: Path) -> str | None:
    """Write the first member of the remote wheel ``url`` whose path matches ``pattern`` to ``into``,
    fetching only its bytes (range requests on the central directory and the member), decompressed as
    it streams in; its path, or ``None`` when no member matches."""
    import zlib

    members = _central_directory(url)
    names = [n for n in members if pattern.search(n)]
    if not names:
        return None
    name = names[0]
    local, csize, method = members[name]
    head = _get(url, local, local + 29)
    nlen, xlen = struct.unpack_from("<HH", head, 26)
    start = local + 30 + nlen + xlen
    inflate = zlib.decompressobj(-15) if method == 8 else None
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-{start + csize - 1}"})
    with urllib.request.urlopen(req, timeout=600) as r, open(into, "wb") as out:
        while chunk := r.read(1 << 20):
            out.write(inflate.decompress(chunk) if inflate is not None else chunk)
        if inflate is not None:
            out.write(inflate.flush())
    return name


def _file_url(record: dict[str, Any], package: str, version: str) -> str:
    """The PyPI file URL a fact cites: the file itself where PyPI gives an absolute URL, else its page."""
    url = str(record.get("url", ""))
    if url.startswith("https://files.pythonhosted.org/"):
        return url
    if "/packages/packages/" in url:  # a mirror's relative link to the same path under PyPI's file host
        return "https://files.pythonhosted.org/packages/" + url.split("/packages/packages/", 1)[1]
    return f"https://pypi.org/project/{package}/{version}/#files"


def _url(record: dict[str, Any]) -> str:
    url = str(record["url"])
    if url.startswith("../"):  # some mirrors answer with relative links
        url = "https://pypi.org/" + url.lstrip("./")
    return url


def derive(
    package: str,
    member: str,
    since: str | None,
    only: set[str] | None,
    platforms: set[str] | None = None,
    ranged: bool = False,
) -> list[dict[str, Any]]:
    pattern = re.compile(member)
    rows: list[dict[str, Any]] = []
    for version, files in releases(package, since):
        if only and version not in only:
            continue
        for plat, rec in sorted(files.items()):
            if platforms and plat not in platforms:
                continue
            row: dict[str, Any] = {
                "version": version,
                "platform": plat,
                "file": rec["filename"],
                "url": _file_url(rec, package, version),
                "sha256": rec.get("digests", {}).get("sha256"),
            }
            with tempfile.TemporaryDirectory() as tmp:
                if ranged:  # large wheels (torch): fetch and inflate only the member
                    found = fetch_member(_url(rec), pattern, Path(tmp) / "member")
                    row["member"] = found
                    if found is not None:
                        row.update(read_member(str(Path(tmp) / "member")))
                else:
                    wheel = Path(tmp) / rec["filename"]
                    urllib.request.urlretrieve(_url(rec), wheel)
                    with zipfile.ZipFile(wheel) as zf:
                        names = [n for n in zf.namelist() if pattern.search(n)]
                        if not names:
                            row["member"] = None
                        for name in names:
                            zf.extract(name, tmp)
                            row["member"] = name
                            row.update(read_member(str(Path(tmp) / name)))
                            break
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def _cc(name: str) -> str:
    """``sm_90a`` -> ``9.0a``; ``compute_100f`` -> ``10.0f``; ``compute_120`` -> ``12.0``."""
    tail = name.split("_", 1)[1]
    digits, variant = tail.rstrip("af"), tail[len(tail.rstrip("af")) :]
    return f"{digits[:-1]}.{digits[-1]}{variant}"


def facts_toml(record: dict[str, Any], checked: str) -> str:
    """``[[package_build]]`` facts with the machine code and PTX of each run of releases that agree.

    Releases of one platform are grouped while their SASS, PTX and PTX ISA stay the same; a group's
    range ends at the next release read that differs. Architecture-specific code keeps its suffix (``sm_90a``
    -> ``9.0a``: it runs on 9.0 only; ``compute_90a`` PTX JIT-compiles for 9.0 only), family-specific code too
    (``sm_100f`` -> ``10.0f``: 10.0 and 10.3). ``cuda`` is the toolkit whose PTX ISA the PTX carries.
    """
    from cudalign.facts import load

    isa_cuda = {str(f["isa"]): str(f["cuda"]) for f in load().of_kind("ptx_isa")}
    package = record["package"]
    by_platform: dict[str, list[dict[str, Any]]] = {}
    for row in record["wheels"]:
        if row.get("member") and "sass" in row:
            by_platform.setdefault(row["platform"], []).append(row)
    out: list[str] = []
    for plat, rows in sorted(by_platform.items()):
        rows.sort(key=lambda r: Version(r["version"]))
        groups: list[list[dict[str, Any]]] = []
        for row in rows:
            key = (row["sass"], row["ptx"], row["ptx_isa"])
            if groups and (groups[-1][0]["sass"], groups[-1][0]["ptx"], groups[-1][0]["ptx_isa"]) == key:
                groups[-1].append(row)
            else:
                groups.append([row])
        for i, group in enumerate(groups):
            first, last = group[0], group[-1]
            if i + 1 < len(groups):
                upper = f",<{groups[i + 1][0]['version']}"
            else:  # the newest run: up to the next minor, newer releases are not read yet
                major, minor = Version(last["version"]).release[:2]
                upper = f",<{major}.{minor + 1}"
            versions = f">={first['version']}{upper}"
            archs = list(dict.fromkeys(_cc(n) for n in first["sass"]))
            ptx = list(dict.fromkeys(_cc(n) for n in first["ptx"]))
            isas = sorted(set(first["ptx_isa"].values()))
            cuda = isa_cuda.get(isas[-1]) if isas else None
            specific = [n for n in first["sass"] + first["ptx"] if re.search(r"\d[af]$", n)]
            read = ", ".join(r["version"] for r in group)
            note = (
                f"Read from the {first['member']} fatbin of the {plat} wheels of {read} "
                f"(scripts/wheel_gpu_code.py): machine code {' '.join(first['sass']) or 'none'}; "
                f"PTX {' '.join(first['ptx']) or 'none'}"
                + (f" (PTX ISA {', '.join(isas)} = CUDA {cuda})" if cuda else "")
                + "."
            )
            arch_specific = [n for n in specific if n.endswith("a")]
            family = [n for n in specific if n.endswith("f")]
            if arch_specific:
                note += (
                    f" {', '.join(arch_specific)} architecture-specific: runs on that exact capability only "
                    "(such PTX is JIT-compiled for no other GPU)."
                )
            if family:
                note += f" {', '.join(family)} family-specific: runs on the later members of its family."
            note += " Releases between those read are assumed alike (I)."
            lines = [
                "[[package_build]]",
                f'id = "pkg.{package}.gpu-code.{first["version"]}-{last["version"]}.{plat}"',
                f'package = "{package}"',
                f'versions = "{versions}"',
                f'platforms = ["{plat}"]',
                "archs = [" + ", ".join(f'"{a}"' for a in archs) + "]",
                "ptx = [" + ", ".join(f'"{p}"' for p in ptx) + "]",
            ]
            if cuda:
                lines.append(f'cuda = "{cuda}"')
            lines += [
                "note = " + json.dumps(note),
                f'source = "https://pypi.org/project/{package}/{first["version"]}/#files"',
                f"checked = {checked}",
                "",
            ]
            out.append("\n".join(lines))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("package")
    p.add_argument("--member", default="", help="regex on the wheel member path of the CUDA library")
    p.add_argument("--since", help="oldest release to read")
    p.add_argument("--only", action="append", help="read only this release (repeatable)")
    p.add_argument("--platform", action="append", help="linux_x86_64, linux_aarch64 or windows (repeatable)")
    p.add_argument(
        "--ranged", action="store_true", help="fetch only the member (range requests), for large wheels"
    )
    p.add_argument("--out", type=Path, help="write the record here (JSON), merged with what it holds")
    p.add_argument("--toml", type=Path, help="print package_build facts from this record instead")
    p.add_argument("--checked", default="2026-12-03", help="the date the facts were checked")
    args = p.parse_args(argv)
    if args.toml is not None:
        print(facts_toml(json.loads(args.toml.read_text()), args.checked))
        return 0
    rows = derive(
        args.package,
        args.member,
        args.since,
        set(args.only) if args.only else None,
        set(args.platform) if args.platform else None,
        args.ranged,
    )
    if args.out is not None:
        old: list[dict[str, Any]] = []
        if args.out.exists():
            old = json.loads(args.out.read_text())["wheels"]
        keep = {(r["version"], r["platform"]): r for r in old}
        keep.update({(r["version"], r["platform"]): r for r in rows})
        ordered = sorted(keep.values(), key=lambda r: (Version(r["version"]), r["platform"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"package": args.package, "wheels": ordered}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
