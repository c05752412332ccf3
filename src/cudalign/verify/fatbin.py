"""The GPU code compiled into a shared library, read from its ELF ``.nv_fatbin`` section without loading it.

A fatbin is a container (magic ``0xBA55ED50``) of entries, each with a small header: its kind (machine
code, *SASS*, as an ELF cubin, or *PTX* text), the architecture it was built for (``90`` for ``sm_90``),
a version (for PTX the PTX ISA version), flags (compression, 64-bit) and the payload's size. Reading
only those headers, by seeking from one to the next, answers which architectures a library can run on
in a few reads per entry, whatever the size of the library. Where the header gives no PTX ISA version,
the ``.version`` directive at the start of the PTX text is read (decompressing its first bytes when the
entry is LZ4-compressed, as nvcc's ``--compress-all`` does).

Nothing here raises for a file it does not like: a file that is not ELF, or is cut short, gives an
:class:`Fatbin` with ``error`` set.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "FATBIN_MAGIC",
    "Entry",
    "Fatbin",
    "fatbin_section",
    "parse_fatbin",
    "read_library",
]

FATBIN_MAGIC = 0xBA55ED50
"""The first word of every fatbin container (``cuobjdump`` and the CUDA runtime look for it)."""
_ELF_MAGIC = b"\x7fELF"
_KIND_PTX = 1
_KIND_ELF = 2
_FLAG_LZ4 = 0x2000
"""The entry's payload is LZ4-compressed (older nvcc's ``-Xfatbin=-compress-all``)."""
_FLAG_COMPRESSED = 0x8000
"""The entry's payload is compressed by CUDA 13's nvcc (every entry of torch 2.11+cu130's libraries); its
PTX ISA version is then taken from the header."""
_FLAG_ARCH_SPECIFIC = 0x100000
"""Code for exactly one architecture (``sm_90a``), as ``cuobjdump --list-elf`` names it: seen on
``sm_90a`` entries built by nvcc 13.0 and on torch 2.11+cu130's ``sm_100a``/``sm_120a`` entries."""
_FLAG_FAMILY = 0x200000
"""Family-specific code (``sm_100f``, ``compute_100f``), seen on nvcc 13.0's ``sm_100f`` build on both its
machine code and its PTX entries; ``cuobjdump`` names such machine code plainly (``sm_100``), since it runs
where plain code of that architecture runs, but the reader keeps the suffix."""
_ENTRY_HEADER = struct.Struct("<HHIQIIHHIIIQQQ")
"""kind, unknown, header size, payload size, compressed size, unknown, minor, major, arch, name offset,
name length, flags, zero, uncompressed size: 64 bytes."""
_CONTAINER_HEADER = struct.Struct("<IHHQ")
"""magic, version, header size, size of the entries that follow."""
_PTX_HEAD = 4096
"""Bytes of PTX text read to find its ``.version`` directive (it follows a few comment lines)."""
_MAX_ENTRIES = 1_000_000
"""A bound on entries per section, so a corrupt size that loops cannot run forever."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a fatbin: machine code or PTX for one architecture."""

    kind: str
    """``sass`` (an ELF cubin, machine code) or ``ptx``."""
    arch: int
    """The architecture number: ``90`` for ``sm_90`` / ``compute_90``, ``120`` for ``sm_120``."""
    version: tuple[int, int] | None = None
    """For PTX, the PTX ISA version (``(8, 7)``); ``None`` where neither header nor text says."""
    compressed: bool = False
    variant: str = ""
    """``a`` for arch-specific code (``sm_90a``: runs on 9.0 only), ``f`` for family-specific code
    (``sm_100f``: runs on 10.0 and 10.3), else empty."""

    @property
    def name(self) -> str:
        """``sm_90`` for machine code, ``compute_90`` for PTX (``cuobjdump``'s and nvcc's spelling)."""
        return f"{'sm' if self.kind == 'sass' else 'compute'}_{self.arch}{self.variant}"

    @property
    def cc(self) -> tuple[int, int]:
        """The compute capability as a (major, minor) pair: ``120`` -> ``(12, 0)``."""
        return divmod(self.arch, 10)


@dataclass(frozen=True, slots=True)
class Fatbin:
    """The GPU code of one file: its entries in file order, or why they could not be read."""

    path: str
    entries: tuple[Entry, ...] = ()
    error: str | None = None

    @property
    def sass(self) -> tuple[int, ...]:
        """Architectures with machine code, ascending, each once (``sm_90a`` counted as 90)."""
        return tuple(sorted({e.arch for e in self.entries if e.kind == "sass"}))

    @property
    def sass_names(self) -> tuple[str, ...]:
        """``sm_XX`` names with machine code, each once, by architecture (``sm_90``, ``sm_90a``)."""
        names = {e.name: (e.arch, e.variant) for e in self.entries if e.kind == "sass"}
        return tuple(sorted(names, key=lambda n: names[n]))

    @property
    def ptx(self) -> tuple[int, ...]:
        """Architectures with PTX, ascending, each once (``compute_90a`` counted as 90)."""
        return tuple(sorted({e.arch for e in self.entries if e.kind == "ptx"}))

    @property
    def ptx_names(self) -> tuple[str, ...]:
        """``compute_XX`` names with PTX, each once, by architecture (``compute_90``, ``compute_90a``)."""
        names = {e.name: (e.arch, e.variant) for e in self.entries if e.kind == "ptx"}
        return tuple(sorted(names, key=lambda n: names[n]))

    def ptx_isa(self) -> dict[str, tuple[int, int]]:
        """The highest PTX ISA version of each ``compute_XX`` name that says one."""
        out: dict[str, tuple[int, int]] = {}
        for e in self.entries:
            if e.kind == "ptx" and e.version is not None and e.version > out.get(e.name, (0, 0)):
                out[e.name] = e.version
        return out

    def ptx_version(self, arch: int) -> tuple[int, int] | None:
        """The highest PTX ISA version among the PTX entries for ``arch``."""
        found = [e.version for e in self.entries if e.kind == "ptx" and e.arch == arch and e.version]
        return max(found) if found else None


def fatbin_section(f: BinaryIO) -> tuple[int, int] | None:
    """``(offset, size)`` of the ``.nv_fatbin`` section of the 64-bit little-endian ELF file ``f``.

    ``None`` when the file is ELF but has no such section. Raises :class:`ValueError` when ``f`` is not
    such an ELF file or its section table is cut short.
    """
    f.seek(0)
    ident = f.read(64)
    if len(ident) < 64 or ident[:4] != _ELF_MAGIC:
        raise ValueError("not an ELF file")
    if ident[4] != 2 or ident[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", ident, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ident, 0x3A)
    if shoff == 0:
        return None
    if shentsize < 64:
        raise ValueError(f"section header size {shentsize} is too small")
    if shnum == 0 or shstrndx == 0xFFFF:  # extended numbering: the real values sit in section 0
        f.seek(shoff)
        first = f.read(64)
        if len(first) < 64:
            raise ValueError("section table cut short")
        shnum = shnum or struct.unpack_from("<Q", first, 0x20)[0]
        if shstrndx == 0xFFFF:
            shstrndx = struct.unpack_from("<I", first, 0x28)[0]
    if shnum > 1_000_000 or shstrndx >= shnum:
        raise ValueError("implausible section table")
    f.seek(shoff)
    table = f.read(shentsize * shnum)
    if len(table) < shentsize * shnum:
        raise ValueError("section table cut short")
    sections = [
        struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)
    ]  # name, type, flags, addr, offset, size
    str_off, str_size = sections[shstrndx][4], sections[shstrndx][5]
    f.seek(str_off)
    names = f.read(min(str_size, 16 * 1024 * 1024))
    for name_at, sh_type, _flags, _addr, offset, size in sections:
        if sh_type == 8:  # SHT_NOBITS: no bytes in the file
            continue
        end = names.find(b"\x00", name_at)
        if names[name_at : end if end >= 0 else None] == b".nv_fatbin":
            return offset, size
    return None


def _lz4_head(data: bytes, want: int) -> bytes:
    """The first ``want`` bytes (or fewer) of an LZ4 block, decoding only as far as needed."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n and len(out) < want:
        token = data[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while i < n:
                b = data[i]
                i += 1
                lit += b
                if b != 255:
                    break
        out += data[i : i + lit]
        i += lit
        if i + 2 > n or len(out) >= want:
            break
        offset = data[i] | (data[i + 1] << 8)
        i += 2
        match = (token & 15) + 4
        if token & 15 == 15:
            while i < n:
                b = data[i]
                i += 1
                match += b
                if b != 255:
                    break
        if offset == 0 or offset > len(out):
            break
        start = len(out) - offset
        for k in range(match):  # overlapping copies repeat the pattern byte by byte
            out.append(out[start + k])
    return bytes(out[:want])


def _ptx_version_in(text: bytes) -> tuple[int, int] | None:
    """The ``.version X.Y`` directive near the start of PTX text."""
    at = text.find(b".version")
    if at < 0:
        return None
    words = text[at + 8 : at + 24].split()
    if not words:
        return None
    major, _, minor = words[0].partition(b".")
    if major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None


def _entry(f: BinaryIO, at: int, head: bytes) -> Entry | None:
    kind, _, hsize, _size, csize, _, minor, major, arch, _, _, flags, _, _ = _ENTRY_HEADER.unpack(head)
    if kind not in (_KIND_PTX, _KIND_ELF):
        return None
    lz4 = bool(flags & _FLAG_LZ4)
    compressed = lz4 or bool(flags & _FLAG_COMPRESSED)
    variant = "a" if flags & _FLAG_ARCH_SPECIFIC else "f" if flags & _FLAG_FAMILY else ""
    if kind == _KIND_ELF:
        return Entry("sass", arch, None, compressed, variant)
    version = None
    if lz4 or not compressed:
        f.seek(at + hsize)
        text = f.read(min(_PTX_HEAD, csize or _PTX_HEAD) if lz4 else _PTX_HEAD)
        version = _ptx_version_in(_lz4_head(text, 1024) if lz4 else text)
    if version is None and major:
        version = (major, minor)
    return Entry("ptx", arch, version, compressed, variant)


def parse_fatbin(f: BinaryIO, offset: int, size: int) -> tuple[Entry, ...]:
    """The entries of every fatbin container in ``size`` bytes at ``offset`` of ``f``.

    Containers follow each other, each padded to an 8-byte boundary; anything between them that is not
    a container's magic is skipped. Raises :class:`ValueError` on an entry that points outside them.
    """
    entries: list[Entry] = []
    pos, end = offset, offset + size
    while pos + _CONTAINER_HEADER.size <= end and len(entries) < _MAX_ENTRIES:
        f.seek(pos)
        head = f.read(_CONTAINER_HEADER.size)
        if len(head) < _CONTAINER_HEADER.size:
            break
        magic, _version, hsize, fat_size = _CONTAINER_HEADER.unpack(head)
        if magic != FATBIN_MAGIC:
            pos += 8
            continue
        at, stop = pos + hsize, min(pos + hsize + fat_size, end)
        while at + _ENTRY_HEADER.size <= stop and len(entries) < _MAX_ENTRIES:
            f.seek(at)
            raw = f.read(_ENTRY_HEADER.size)
            if len(raw) < _ENTRY_HEADER.size:
                raise ValueError(f"fatbin entry at {at:#x} cut short")
            ehsize, esize = struct.unpack_from("<IQ", raw, 4)
            if ehsize < _ENTRY_HEADER.size or at + ehsize + esize > stop:
                raise ValueError(f"fatbin entry at {at:#x} points outside its container")
            entry = _entry(f, at, raw)
            if entry is not None:
                entries.append(entry)
            at += ehsize + esize
        pos = max(pos + hsize + fat_size, pos + 8)
        pos += -pos % 8
    return tuple(entries)


def embedded(
    path: str, skip: tuple[int, int] | None = None, enough: Callable[[list[Entry]], bool] | None = None
) -> tuple[Entry, ...]:
    """Entries of fatbin containers stored outside ``.nv_fatbin`` (``skip``): kernels a library loads itself.

    cuFFT keeps thousands of containers in ``.ldata`` and only a stub in ``.nv_fatbin`` (cuobjdump lists
    just that stub). A candidate is a container magic whose header and entries hold together; anything
    else is skipped. Reading stops once ``enough(entries so far)`` holds.
    """
    import mmap

    magic = FATBIN_MAGIC.to_bytes(4, "little")
    found: list[Entry] = []
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            at = mm.find(magic)
            while at >= 0 and len(found) < _MAX_ENTRIES:
                if skip is None or not skip[0] <= at < skip[0] + skip[1]:
                    _, version, hsize, size = _CONTAINER_HEADER.unpack_from(mm, at)
                    if version == 1 and hsize == 16 and at + 16 + size <= len(mm):
                        with contextlib.suppress(ValueError, struct.error):
                            found += parse_fatbin(f, at, 16 + size)
                at = mm.find(magic, at + 4)
    except (OSError, ValueError, struct.error):
        return ()
    return tuple(found)


def read_library(path: str) -> Fatbin | None:
    """The GPU code in the ELF file ``path``; ``None`` when it carries none (no ``.nv_fatbin``)."""
    try:
        with open(path, "rb") as f:
            section = fatbin_section(f)
            if section is None:
                return None
            return Fatbin(path, parse_fatbin(f, *section))
    except (OSError, ValueError, struct.error) as exc:
        return Fatbin(path, (), f"{path}: {exc}")
