"""Small ELF files with an ``.nv_fatbin`` section, laid out as nvcc lays them out, for the reader's tests."""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["container", "elf", "entry", "lz4_literals", "write_library"]


def lz4_literals(data: bytes) -> bytes:
    """``data`` as one LZ4 block of literals only (a valid block any LZ4 decoder reads back)."""
    n = len(data)
    if n < 15:
        return bytes([n << 4]) + data
    rest, out = n - 15, bytearray([0xF0])
    while rest >= 255:
        out.append(255)
        rest -= 255
    out.append(rest)
    return bytes(out) + data


def entry(
    kind: str, arch: int, payload: bytes, *, isa: tuple[int, int] = (0, 0), compress: bool = False
) -> bytes:
    """One fatbin entry: a 64-byte header, then the payload padded to 8 bytes."""
    body = lz4_literals(payload) if compress else payload
    body += b"\x00" * (-len(body) % 8)
    flags = 0x11 | (0x2000 if compress else 0)
    minor, major = isa
    head = struct.pack(
        "<HHIQIIHHIIIQQQ",
        1 if kind == "ptx" else 2,
        0x0101,
        64,
        len(body),
        len(lz4_literals(payload)) if compress else 0,
        0,
        minor,
        major,
        arch,
        0,
        0,
        flags,
        0,
        len(payload) if compress else 0,
    )
    return head + body


def container(*entries: bytes) -> bytes:
    """A fatbin container: magic, version 1, a 16-byte header, then the entries."""
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def elf(sections: dict[str, bytes]) -> bytes:
    """A 64-bit little-endian ELF shared object holding only the named sections (and their name table)."""
    names = b"\x00" + b"".join(n.encode() + b"\x00" for n in (*sections, ".shstrtab"))
    data = bytearray(b"\x00" * 64)
    offsets = []
    for body in (*sections.values(), names):
        data += b"\x00" * (-len(data) % 8)
        offsets.append((len(data), len(body)))
        data += body
    data += b"\x00" * (-len(data) % 8)
    shoff = len(data)
    headers = [b"\x00" * 64]
    at = 1
    for i, name in enumerate((*sections, ".shstrtab")):
        off, size = offsets[i]
        sh_type = 3 if name == ".shstrtab" else 1
        headers.append(struct.pack("<IIQQQQIIQQ", at, sh_type, 0, 0, off, size, 0, 0, 8, 0))
        at += len(name) + 1
    data += b"".join(headers)
    shnum = len(headers)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\x00" * 8
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, shnum, shnum - 1)
    data[:64] = header
    return bytes(data)


def write_library(path: Path, *containers: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """Write an ELF whose ``.nv_fatbin`` section holds the containers, each padded to 8 bytes."""
    blob = b"".join(c + b"\x00" * (-len(c) % 8) for c in containers)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(elf({".text": b"\xc3" * 16, ".nv_fatbin": blob, **(extra or {})}))
    return path
