"""Slurm nodes from ``scontrol show node -o`` (one node per line, ``Key=Value`` words) -> nodes.

The GPU model comes from GRES (``Gres=gpu:a100:4`` or ``gpu:nvidia_h100_80gb_hbm3:8(S:0-1)``); Slurm
has no field for the NVIDIA driver, so it is read from the node's features where the site sets one
(``AvailableFeatures=…,nvidia-driver-550.127.05`` or ``driver_550.127.05``), and is otherwise a
condition: the node is judged as if any driver could be installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from cudalign.errors import InvalidInput
from cudalign.fleet import NO_GPU, Node
from cudalign.model import DriverInfo, Gpu, Host, OsInfo

if TYPE_CHECKING:
    from cudalign.facts import Facts

__all__ = ["nodes_from_scontrol", "read_text"]

_GRES = r"^gpu:(?:([A-Za-z0-9_.\-]+):)?(\d+)"
_DRIVER = r"(?:nvidia[-_]?)?driver[-_=:]?(\d{3}(?:\.\d+){0,2})$"
_MAX_LINE = 1 << 20


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}") from None


def _gres(facts: Facts, gres: str) -> tuple[str, int] | None:
    for part in gres.split(","):
        m = re.match(_GRES, part.strip())
        if m:
            return (m.group(1) or ""), int(m.group(2))
    return None


def _gpu_name(facts: Facts, kind: str) -> tuple[str, str | None]:
    """A GRES type as the knowledge base names it (``nvidia_h100_80gb_hbm3`` -> H100 SXM5)."""
    from cudalign.errors import UnknownGpu

    candidates = [kind, kind.replace("_", " "), re.sub(r"^nvidia[_ ]", "", kind, flags=re.IGNORECASE)]
    for c in candidates:
        try:
            f = facts.gpu(c)
        except UnknownGpu:
            continue
        return str(f["name"]), f.id
    return kind, None


def nodes_from_scontrol(facts: Facts, text: str, *, where: str = "scontrol") -> list[Node]:
    """One node per ``NodeName=`` line; a line without it is an error naming the line."""
    from cudalign.facts.query import max_cuda_for_driver

    nodes: list[Node] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(line) > _MAX_LINE:
            raise InvalidInput(f"{where}:{n}: line longer than {_MAX_LINE} characters")
        fields = dict(w.partition("=")[::2] for w in line.split() if "=" in w)
        name = fields.get("NodeName")
        if not name:
            raise InvalidInput(f"{where}:{n}: no NodeName= (expected the output of 'scontrol show node -o')")
        gres = _gres(facts, fields.get("Gres", ""))
        arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(
            fields.get("Arch", ""), fields.get("Arch") or None
        )
        if gres is None or gres[1] == 0:
            nodes.append(Node(name, None, NO_GPU, "no gpu GRES"))
            continue
        kind, count = gres
        features = [f for f in fields.get("AvailableFeatures", "").split(",") if f and f != "(null)"]
        version = next((m.group(1) for f in features if (m := re.match(_DRIVER, f, re.IGNORECASE))), None)
        conditions: list[str] = []
        gname, fact_id = _gpu_name(facts, kind) if kind else ("GPU", None)
        if fact_id is None:
            conditions.append(f"GRES type {kind or '(none)'!r} does not name a GPU the knowledge base knows")
        cc = facts.get(fact_id)["cc"] if fact_id else None
        driver = None
        unknown = {}
        if version:
            top = max_cuda_for_driver(facts, version).value
            driver = DriverInfo(version=version, cuda=str(top) if top else None, source="slurm features")
        else:
            unknown["driver"] = "no driver in the node's features"
            conditions.append("driver not in the node's features: judged as if any driver could be installed")
        host = Host(
            origin="described",
            os=OsInfo(system="Linux", arch=arch),
            driver=driver,
            gpus=tuple(Gpu(index=i, name=gname, cc=cc, fact_id=fact_id) for i in range(count)),
            unknown=unknown,
        )
        labels = {"gres": kind, "features": ",".join(features)}
        nodes.append(Node(name, host, "gpu", None, labels, tuple(conditions)))
    return nodes
