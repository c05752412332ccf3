"""The last resort for the driver and GPUs: ``nvidia-smi --query-gpu … --format=csv``, with a timeout.

Never the human banner: its wording changed across driver branches (R610) and broke regex scrapers.
The CSV query interface has kept its field names.
"""

from __future__ import annotations

import re

from cudalign._dataclass import dataclass
from cudalign.probe.run import Runner

__all__ = ["QUERY_FIELDS", "SmiGpu", "SmiResult", "parse_query_csv", "query_argv", "read_smi"]

QUERY_FIELDS = (
    "driver_version",
    "name",
    "pci.device_id",
    "compute_cap",
    "memory.total",
    "mig.mode.current",
    "uuid",
    "index",
)
_MAX_LINE = 4096
_NA = {"", "[n/a]", "n/a", "[not supported]", "[unknown error]", "[insufficient permissions]"}


@dataclass(frozen=True, slots=True)
class SmiGpu:
    """One row of the CSV query."""

    index: int
    name: str
    driver: str | None = None
    pci_device_id: str | None = None
    cc: tuple[int, int] | None = None
    memory_mib: int | None = None
    mig_mode: bool | None = None
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class SmiResult:
    """What nvidia-smi answered, or why not."""

    gpus: tuple[SmiGpu, ...] = ()
    driver: str | None = None
    why: str | None = None


def query_argv(binary: str = "nvidia-smi") -> list[str]:
    return [binary, f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"]


def _value(text: str) -> str | None:
    t = text.strip()
    return None if t.lower() in _NA else t


def _pci(text: str | None) -> str | None:
    """``0x233010DE`` -> ``0x2330`` (nvidia-smi prints device and vendor id together)."""
    if not text:
        return None
    m = re.fullmatch(r"0x([0-9a-fA-F]{4})([0-9a-fA-F]{4})?", text)
    return f"0x{m.group(1).lower()}" if m else None


def _cc(text: str | None) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _int(text: str | None) -> int | None:
    m = re.fullmatch(r"(\d{1,12})(?:\.\d+)?(?:\s*MiB)?", text or "")
    return int(m.group(1)) if m else None


def parse_query_csv(text: str) -> tuple[SmiGpu, ...]:
    """Parse the CSV written by :func:`query_argv`; rows that do not fit are skipped, never raised."""
    import csv

    gpus = []
    # NUL bytes: Python 3.10's csv raises on them ("line contains NUL"); no real field holds one
    lines = text.replace("\x00", "").splitlines()
    for n, line in enumerate(lines):
        # one line at a time, so an unclosed quote cannot swallow the rest of the output; no real row
        # is longer than _MAX_LINE, and csv raises on a field over its own limit (128 KiB)
        if len(line) > _MAX_LINE:
            continue
        try:
            row = next(csv.reader([line], skipinitialspace=True), [])
        except csv.Error:
            continue
        if len(row) != len(QUERY_FIELDS):
            continue
        values = dict(zip(QUERY_FIELDS, (_value(v) for v in row), strict=True))
        name = values["name"]
        if not name:
            continue
        index = _int(values["index"])
        mig = (values["mig.mode.current"] or "").lower()
        driver = values["driver_version"]
        gpus.append(
            SmiGpu(
                index=index if index is not None else n,
                name=name,
                driver=driver if driver and re.fullmatch(r"\d+(?:\.\d+)+", driver) else None,
                pci_device_id=_pci(values["pci.device_id"]),
                cc=_cc(values["compute_cap"]),
                memory_mib=_int(values["memory.total"]),
                mig_mode={"enabled": True, "disabled": False}.get(mig),
                uuid=values["uuid"],
            )
        )
    return tuple(gpus)


def read_smi(run: Runner, timeout: float, binary: str = "nvidia-smi") -> SmiResult:
    """Run the CSV query through the injectable process door."""
    result = run(query_argv(binary), timeout)
    if not result.ok:
        return SmiResult(why=result.why if result.error else f"nvidia-smi: {result.why}")
    gpus = parse_query_csv(result.stdout)
    driver = next((g.driver for g in gpus if g.driver), None)
    if not gpus:
        first = result.stdout.strip().splitlines()[:1]
        return SmiResult(why="nvidia-smi listed no GPUs" + (f" ({first[0][:120]})" if first else ""))
    return SmiResult(gpus=gpus, driver=driver)
