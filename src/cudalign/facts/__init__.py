"""The knowledge base: shipped TOML facts plus the PyPI-derived snapshot, loaded and validated.

``load()`` reads every ``data/*.toml`` file, validates each fact against :mod:`cudalign.facts.schema`
and returns a :class:`Facts`. Unknown keys, duplicate ids and unparseable values raise
:class:`~cudalign.errors.InvalidFact` with one line naming the file and the fact.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cudalign._dataclass import dataclass, field
from cudalign.errors import InvalidFact, UnknownGpu
from cudalign.facts.schema import COMMON, KINDS, parse_value
from cudalign.model import ComputeCapability, FactRef

if TYPE_CHECKING:
    from cudalign.facts.snapshot import Snapshot

__all__ = ["DATA_DIR", "GPU_HINT", "Fact", "Facts", "load", "load_file", "normalise_gpu_name"]

DATA_DIR = Path(__file__).with_name("data")
GPU_HINT = "use a product name ('RTX 5090', 'H100 SXM'), a PCI id ('0x2330') or a capability ('sm_120')"


@dataclass(frozen=True, slots=True)
class Fact:
    """One validated fact: its kind, provenance and typed values."""

    id: str
    kind: str
    source: str
    checked: dt.date
    file: str
    values: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def ref(self) -> FactRef:
        """The reference a finding cites."""
        return FactRef(self.id, self.source)


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    data: dict[str, Any] = tomllib.loads(text)
    return data


def load_file(path: Path) -> list[Fact]:
    """Read and validate one fact file."""
    name = path.name
    try:
        raw = _toml_loads(path.read_text(encoding="utf-8"))
    except Exception as exc:  # tomllib.TOMLDecodeError carries line and column in its message
        raise InvalidFact(f"{name}: not valid TOML: {exc}") from None
    facts: list[Fact] = []
    for kind, entries in raw.items():
        if kind not in KINDS:
            raise InvalidFact(f"{name}: unknown kind of fact [[{kind}]] (known: {', '.join(sorted(KINDS))})")
        if not isinstance(entries, list):
            raise InvalidFact(f"{name}: '{kind}' must be an array of tables ([[{kind}]])")
        schema = {**COMMON, **KINDS[kind]}
        for n, entry in enumerate(entries, 1):
            label = entry.get("id") if isinstance(entry, dict) else None
            where = f"{name}: {kind} {label!r}" if label else f"{name}: {kind} #{n}"
            if not isinstance(entry, dict):
                raise InvalidFact(f"{where}: expected a table")
            unknown = sorted(set(entry) - set(schema))
            if unknown:
                raise InvalidFact(f"{where}: unknown key {unknown[0]!r}")
            missing = [k for k, f in schema.items() if f.required and k not in entry]
            if missing:
                raise InvalidFact(f"{where}: missing required key {missing[0]!r}")
            if kind == "image_torch" and not {"torch", "torch_variant"} & set(entry):
                raise InvalidFact(f"{where}: needs 'torch' or 'torch_variant' (the torch the image ships)")
            values = {
                k: parse_value(schema[k].type, v, where=f"{where}: {k}")
                for k, v in entry.items()
                if k not in ("id", "source", "checked", "note")
            }
            facts.append(
                Fact(
                    id=parse_value("str", entry["id"], where=f"{where}: id"),
                    kind=kind,
                    source=parse_value("str", entry["source"], where=f"{where}: source"),
                    checked=parse_value("date", entry["checked"], where=f"{where}: checked"),
                    file=name,
                    values=values,
                    note=entry.get("note"),
                )
            )
    return facts


def normalise_gpu_name(text: str) -> str:
    """Fold a GPU name for matching: case, 'NVIDIA'/'GeForce'/'Tesla' prefixes, spaces and dashes."""
    from cudalign.facts.gpu_names import fold

    return fold(text)


class Facts:
    """Every fact, indexed by id and kind, with the PyPI snapshot beside them."""

    def __init__(self, facts: list[Fact], snapshot: Snapshot | None = None) -> None:
        by_id: dict[str, Fact] = {}
        for f in facts:
            if f.id in by_id:
                raise InvalidFact(f"{f.file}: {f.kind} {f.id!r}: duplicate id (also in {by_id[f.id].file})")
            by_id[f.id] = f
        self._by_id = by_id
        self._by_kind: dict[str, list[Fact]] = {}
        for f in facts:
            self._by_kind.setdefault(f.kind, []).append(f)
        self._snapshot = snapshot

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, fact_id: object) -> bool:
        return fact_id in self._by_id

    def get(self, fact_id: str) -> Fact:
        """The fact with that id; ``KeyError`` if there is none."""
        return self._by_id[fact_id]

    def of_kind(self, kind: str) -> list[Fact]:
        """All facts of one kind, in file order."""
        if kind not in KINDS:
            raise KeyError(kind)
        return list(self._by_kind.get(kind, ()))

    @property
    def snapshot(self) -> Snapshot:
        """The PyPI-derived snapshot (user overlay if present, else the embedded one)."""
        if self._snapshot is None:
            from cudalign.facts.snapshot import load_snapshot

            self._snapshot = load_snapshot()
        return self._snapshot

    # ---- GPUs ---------------------------------------------------------------------------------

    @cached_property
    def _gpu_index(self) -> dict[str, Fact]:
        index: dict[str, Fact] = {}
        for f in self.of_kind("gpu"):
            for name in (f["name"], *f.get("aliases", ()), *f.get("nvml_names", ())):
                index.setdefault(normalise_gpu_name(name), f)
            for pci in f.get("pci_ids", ()):
                index.setdefault(pci.lower(), f)
        return index

    def find_gpu(self, text: str) -> Fact | None:
        """The GPU a name, alias, NVML name or PCI id stands for, or ``None`` (no hint is worked out)."""
        from cudalign.facts.gpu_names import candidate_keys

        hit = self._gpu_index.get(text.strip().lower())
        for key in candidate_keys(text):
            hit = hit or self._gpu_index.get(key)
        return hit

    def gpu(self, text: str) -> Fact:
        """Find a GPU by product name, alias, NVML name or PCI device id; raise :class:`UnknownGpu`."""
        from cudalign.facts.gpu_names import did_you_mean

        hit = self.find_gpu(text)
        if hit is None:
            close = did_you_mean(text, self.of_kind("gpu"))
            hint = f"did you mean {' or '.join(repr(n) for n in close)}? " if close else ""
            raise UnknownGpu(f"unknown GPU {text!r}", hint=hint + GPU_HINT)
        return hit

    def gpus_with_cc(self, cc: ComputeCapability) -> list[Fact]:
        """GPUs of one compute capability."""
        return [f for f in self.of_kind("gpu") if f["cc"] == cc]


def _cache_file(paths: list[Path]) -> Path | None:
    """Where the validated facts of exactly these files (names, sizes, mtimes) are pickled."""
    from cudalign import __version__
    from cudalign.facts.digest import sha256
    from cudalign.facts.snapshot import user_cache_dir

    h = sha256(__version__.encode())
    model = Path(__file__).parent.parent / "model.py"  # the value types the facts hold (ComputeCapability)
    for path in [*paths, Path(__file__).with_name("schema.py"), Path(__file__), model]:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    try:
        return user_cache_dir() / f"facts-{h.hexdigest()[:24]}.pickle"
    except (OSError, RuntimeError):
        return None


_PICKLE_MAGIC = b"cudalign-facts-pickle\n"


def _pickle_header() -> bytes:
    """What a cache must have been written by: this cudalign, this Python, this shape of :class:`Fact`."""
    from cudalign import __version__

    # the fields' names and types (as dataclasses.fields(Fact) has them) without importing dataclasses
    annotations = Fact.__init__.__annotations__
    shape = ",".join(f"{name}:{kind}" for name, kind in annotations.items() if name != "return")
    return f"{__version__}|{sys.version_info[0]}.{sys.version_info[1]}|{shape}\n".encode()


def _read_cache(cache: Path) -> list[Fact] | None:
    """The facts in a cache file, or ``None`` when it is missing, truncated, corrupt or from elsewhere.

    The file is the magic line, the header line, the SHA-256 of the pickle, then the pickle: the
    pickle is only unpickled when all of them match, and what comes out must be a list of facts.
    """
    import pickle

    from cudalign.facts.digest import sha256

    try:
        blob = cache.read_bytes()
    except OSError:
        return None
    header = _PICKLE_MAGIC + _pickle_header()
    if not blob.startswith(header) or len(blob) < len(header) + 32:
        return None
    digest, payload = blob[len(header) : len(header) + 32], blob[len(header) + 32 :]
    if sha256(payload).digest() != digest:
        return None
    try:
        cached = pickle.loads(payload)  # our own file, checked above
    except Exception:  # a cache never hides the files it was made from
        return None
    ok = isinstance(cached, list) and all(
        isinstance(f, Fact) and isinstance(f.id, str) and f.kind in KINDS and isinstance(f.values, Mapping)
        for f in cached
    )
    return cached if ok else None


def _shared(value: Any, seen: dict[tuple[type, str], Any]) -> Any:
    """``value`` with equal immutable leaves (capabilities, versions, specifier sets) made one object, by
    type and ``repr`` (``12.8`` and ``12.8.0`` stay apart): the pickle then stores, and loading builds,
    each once (~30 % less to unpickle)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    if isinstance(value, dict):
        return {k: _shared(v, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [_shared(v, seen) for v in value]
    if isinstance(value, tuple):
        return tuple(_shared(v, seen) for v in value)
    if isinstance(value, (ComputeCapability, Version, SpecifierSet)):
        return seen.setdefault((type(value), repr(value)), value)
    return value


def _write_cache(cache: Path, facts: list[Fact]) -> None:
    import pickle

    from cudalign._dataclass import replace
    from cudalign.facts.digest import sha256

    seen: dict[tuple[type, str], Any] = {}
    shared = [replace(f, values=_shared(f.values, seen)) for f in facts]
    payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_PICKLE_MAGIC + _pickle_header() + sha256(payload).digest() + payload)
        tmp.replace(cache)
    except OSError:
        pass


def _load_files(paths: list[Path]) -> list[Fact]:
    """Parse and validate the TOML files; a pickle of the result (keyed on the files) skips it next time.

    Parsing ~300 facts with the pure-Python TOML reader costs ~90 ms; the pickle loads in a few ms.
    The cache is checked before it is trusted (see :func:`_read_cache`); one that cannot be read,
    written or trusted is ignored and rebuilt: the files are the truth.
    """
    cache = _cache_file(paths)
    if cache is not None:
        cached = _read_cache(cache)
        if cached is not None:
            return cached
    facts: list[Fact] = []
    for path in paths:
        facts.extend(load_file(path))
    if cache is not None:
        _write_cache(cache, facts)
    return facts


def load(data_dir: Path | None = None, *, snapshot: Snapshot | None = None) -> Facts:
    """Load and validate the whole shipped knowledge base."""
    directory = data_dir or DATA_DIR
    return Facts(_load_files(sorted(directory.glob("*.toml"))), snapshot)
