"""Which GPU types run a stack on which provider's stock driver, ranked by price (``cudalign gpus``).

Offers come from the knowledge base's ``cloud_price`` facts, or a user's price file (YAML or CSV with
``provider, gpu, count, price`` and an optional ``driver``); drivers from ``cloud_driver`` facts (or the
file's ``driver`` column). A provider whose hosts carry different drivers (``cuda_levels``) is judged at
each level its hosts may report: the answer is the lowest level at which the container runs, natively or
only through forward compatibility. Each outcome is the engine's own verdict on a described host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput, UnknownGpu
from cudalign.model import DriverInfo, FactRef, Finding, Gpu, Host, OsInfo, Severity, Verdict

if TYPE_CHECKING:
    from cudalign.facts import Fact, Facts

__all__ = ["SCHEMA", "Offer", "Outcome", "gpus_answer", "offers_from_facts", "read_prices"]

SCHEMA = "cudalign.gpus/1"
NATIVE, COMPAT, FILTER, FAILS, UNKNOWN = "runs", "forward-compat", "needs-host-filter", "fails", "unknown"
_FORWARD = "CA402"
"""The rule that reports a stack running through the image's forward-compatibility libraries."""


@dataclass(frozen=True, slots=True)
class Offer:
    """A GPU type a provider rents, its price, and the driver (or host CUDA levels) it comes with."""

    provider: str
    gpu: str
    """The knowledge base's GPU name."""
    gpu_fact: str
    count: int
    price: float | None
    memory_gb: float | None
    offer: str | None = None
    driver: str | None = None
    cuda_levels: tuple[str, ...] = ()
    image: str | None = None
    facts: tuple[FactRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a stack fares on one offer."""

    offer: Offer
    result: str
    """``runs``, ``forward-compat``, ``needs-host-filter``, ``fails`` or ``unknown``."""
    detail: str
    price: float | None
    """For ``count`` GPUs."""
    verdict: Verdict | None = None
    findings: tuple[Finding, ...] = ()
    runs_from: str | None = None
    """For a pool of hosts: the lowest host CUDA level at which it runs (the filter to set)."""


def _gpu(facts: Facts, name: str, where: str) -> Fact:
    try:
        return facts.gpu(name)
    except UnknownGpu:
        raise InvalidInput(f"{where}: unknown GPU {name!r}") from None


def _drivers(facts: Facts, provider: str, gpu: Fact) -> list[Fact]:
    out = []
    for d in facts.of_kind("cloud_driver"):
        if d["provider"] != provider:
            continue
        names = d.get("gpus")
        if names and all(facts.gpu(n).id != gpu.id for n in names):
            continue
        out.append(d)
    return out


def _with_driver(facts: Facts, base: Offer, gpu: Fact, driver_facts: list[Fact]) -> list[Offer]:
    if not driver_facts:
        return [base]
    out = []
    for d in driver_facts:
        refs = (*base.facts, d.ref)
        drv = str(d["driver"]) if d.get("driver") is not None else None
        if drv is not None:
            from cudalign.facts.query import driver_text

            drv = driver_text(d["driver"])
        levels = tuple(str(v) for v in d.get("cuda_levels", ()))
        out.append(dataclasses.replace(base, driver=drv, cuda_levels=levels, image=d["image"], facts=refs))
    return out


def offers_from_facts(facts: Facts) -> list[Offer]:
    """Every shipped offer: priced GPUs, and GPUs a provider's image names without a price."""
    offers: list[Offer] = []
    priced: set[tuple[str, str]] = set()
    for p in facts.of_kind("cloud_price"):
        g = _gpu(facts, p["gpu"], f"{p.file}: {p.id}")
        priced.add((p["provider"], g.id))
        mem = p.get("memory_gb") or (max(g.get("memory_gb", ())) if g.get("memory_gb") else None)
        base = Offer(
            p["provider"], str(g["name"]), g.id, p["count"], p["price"], mem, p.get("offer"), facts=(p.ref,)
        )
        offers.extend(_with_driver(facts, base, g, _drivers(facts, p["provider"], g)))
    for d in facts.of_kind("cloud_driver"):
        for name in d.get("gpus", ()):
            g = _gpu(facts, name, f"{d.file}: {d.id}")
            if (d["provider"], g.id) in priced:
                continue
            mem = max(g.get("memory_gb", ())) if g.get("memory_gb") else None
            base = Offer(d["provider"], str(g["name"]), g.id, 1, None, mem)
            offers.extend(_with_driver(facts, base, g, [d]))
    return offers


def read_prices(facts: Facts, path: Path) -> list[Offer]:
    """The user's offers: YAML (a list of mappings) or CSV with a header; a bad row is one line naming it."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    rows: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        import csv
        import io

        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            rows.append(
                (f"{path}:{reader.line_num}", {str(k).strip().lower(): v for k, v in row.items() if k})
            )
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise InvalidInput(f"{path}{line}: not valid YAML") from None
        if isinstance(data, dict) and isinstance(data.get("prices"), list):
            data = data["prices"]
        if not isinstance(data, list):
            raise InvalidInput(f"{path}: expected a list of rows (provider, gpu, count, price, driver)")
        rows = [(f"{path}: row {i}", r if isinstance(r, dict) else {"?": r}) for i, r in enumerate(data, 1)]
    if not rows:
        raise InvalidInput(f"{path}: no rows")
    return [_row(facts, where, row) for where, row in rows]


def _row(facts: Facts, where: str, row: dict[str, Any]) -> Offer:
    from packaging.version import InvalidVersion, Version

    def field(name: str, required: bool = True) -> str | None:
        value = row.get(name)
        if value is None or str(value).strip() == "":
            if required:
                raise InvalidInput(
                    f"{where}: missing {name!r} (columns: provider, gpu, count, price, driver)"
                )
            return None
        return str(value).strip()

    provider, gpu_name = field("provider"), field("gpu")
    assert provider is not None and gpu_name is not None
    g = _gpu(facts, gpu_name, where)
    count_text = field("count", required=False) or "1"
    if not count_text.isdigit() or int(count_text) < 1:
        raise InvalidInput(f"{where}: count {count_text!r} is not a whole number of GPUs")
    price_text = field("price")
    try:
        price = float(str(price_text).lstrip("$"))
    except ValueError:
        raise InvalidInput(f"{where}: price {price_text!r} is not a number (USD per hour)") from None
    if not 0 <= price < 1e6 or price != price:
        raise InvalidInput(f"{where}: price {price_text!r} is out of range")
    driver = field("driver", required=False)
    if driver is not None:
        try:
            Version(driver)
        except InvalidVersion:
            raise InvalidInput(
                f"{where}: driver {driver!r} is not a driver version (e.g. 570.133.07)"
            ) from None
    mem = max(g.get("memory_gb", ())) if g.get("memory_gb") else None
    base = Offer(
        provider.lower(),
        str(g["name"]),
        g.id,
        int(count_text),
        price,
        mem,
        row.get("offer"),
        driver=driver,
        image="your price file" if driver else None,
    )
    if driver is not None:
        return base
    found = _with_driver(facts, base, g, _drivers(facts, provider.lower(), g))
    return found[0]


def _host(facts: Facts, offer: Offer, driver: str | None, cuda: str | None) -> Host:
    from cudalign.hosts import gpu_from_text

    gpu: Gpu = gpu_from_text(facts, offer.gpu, 0)
    info = None
    if driver is not None:
        from cudalign.facts.query import max_cuda_for_driver

        top = cuda or (str(v) if (v := max_cuda_for_driver(facts, driver).value) else None)
        info = DriverInfo(version=driver, cuda=top, source="described")
    return Host(
        origin="described",
        os=OsInfo(system="Linux", arch="x86_64"),
        driver=info,
        gpus=tuple(dataclasses.replace(gpu, index=i) for i in range(offer.count)),
        unknown={} if info else {"driver": "the provider's stock driver is not in the knowledge base"},
    )


def _judge(
    reqs: Sequence[str], image: str | None, facts: Facts, host: Host
) -> tuple[str, Verdict, tuple[Finding, ...]]:
    from cudalign.rules import check, verdict
    from cudalign.stack import resolve

    stack = resolve(list(reqs), facts, host, image=image)
    findings = check(host, stack, facts)
    v = verdict(findings, stack)
    if v in (Verdict.OK, Verdict.CAVEATS):
        forward = [f for f in findings if f.code == _FORWARD]
        if any(f.severity is not Severity.INFO for f in forward):
            # the container starts, then needs forward compatibility no source confirms for this GPU
            return UNKNOWN, v, findings
        return (COMPAT if forward else NATIVE), v, findings
    return (FAILS if v is Verdict.FAILS else UNKNOWN), v, findings


def _reason(findings: Sequence[Finding]) -> str:
    worst = (
        next((f for f in findings if f.severity is Severity.ERROR), None)
        or next((f for f in findings if f.unknown), None)
        or next((f for f in findings if f.code == _FORWARD and f.severity is not Severity.INFO), None)
    )
    return f"{worst.code} {worst.name}: {worst.message}" if worst else "no finding"


def _outcome(reqs: Sequence[str], image: str | None, facts: Facts, offer: Offer, count: int) -> Outcome:
    from cudalign.facts.query import driver_text, min_driver_for_cuda

    price = None
    if offer.price is not None:
        price = offer.price if offer.count == count else offer.price * count
    offer = dataclasses.replace(offer, count=count)
    if not offer.cuda_levels:
        result, v, findings = _judge(reqs, image, facts, _host(facts, offer, offer.driver, None))
        if offer.driver is None:
            where = "driver not in the knowledge base"
            needs = [
                f.condition.text
                for f in findings
                if f.condition is not None and f.condition.subject == "driver"
            ]
            if needs and result in (NATIVE, COMPAT):
                # judged on the GPU alone: it runs only if the provider's driver meets the condition
                return Outcome(offer, UNKNOWN, f"{where}: runs if the {needs[0]}", price, v, findings)
        else:
            where = f"driver {offer.driver}" + (f" ({offer.image})" if offer.image else "")
        detail = where if result in (NATIVE, COMPAT) else f"{where}: {_reason(findings)}"
        return Outcome(offer, result, detail, price, v, findings)
    # a pool of hosts: the lowest host CUDA at which it runs natively, and through forward compatibility
    first: dict[str, str] = {}
    lowest_fail: tuple[str, tuple[Finding, ...]] | None = None
    last: tuple[str, Verdict, tuple[Finding, ...]] | None = None
    for level in offer.cuda_levels:
        drv = min_driver_for_cuda(facts, level).value
        if drv is None:
            continue
        result, v, findings = _judge(reqs, image, facts, _host(facts, offer, driver_text(drv), level))
        if result in (NATIVE, COMPAT):
            first.setdefault(result, level)
            last = (result, v, findings)
        elif not first:  # the highest level below the first that runs: the reason nearest to the fix
            lowest_fail = (level, findings)
    if not first:
        reason = _reason(lowest_fail[1]) if lowest_fail else "no host level to judge"
        return Outcome(
            offer,
            FAILS,
            f"on no host CUDA level {offer.cuda_levels[0]}-{offer.cuda_levels[-1]}: {reason}",
            price,
            Verdict.FAILS,
            lowest_fail[1] if lowest_fail else (),
        )
    parts = []
    if COMPAT in first:
        parts.append(f"through forward compatibility on hosts with CUDA >= {first[COMPAT]}")
    if NATIVE in first:
        parts.append(f"natively on hosts with CUDA >= {first[NATIVE]}")
    low = min(first.values(), key=lambda s: tuple(int(x) for x in s.split(".")))
    filtered = low != offer.cuda_levels[0]
    below = f"; on CUDA {lowest_fail[0]} hosts: {_reason(lowest_fail[1])}" if filtered and lowest_fail else ""
    result = FILTER if filtered else (COMPAT if COMPAT in first and NATIVE not in first else NATIVE)
    if filtered:
        parts.append(f"set allowedCudaVersions to {low} or newer")
    assert last is not None
    return Outcome(offer, result, "; ".join(parts) + below, price, last[1], last[2], runs_from=low)


_ORDER = {NATIVE: 0, COMPAT: 1, FILTER: 2, UNKNOWN: 3, FAILS: 4}


def gpus_answer(
    requirements: Sequence[str],
    facts: Facts,
    offers: Sequence[Offer],
    *,
    image: str | None = None,
    min_memory: float | None = None,
    count: int = 1,
    providers: Sequence[str] = (),
) -> list[Outcome]:
    """Every matching offer judged, those that run first, each ranked by price (unknown prices last)."""
    wanted = {p.lower() for p in providers}
    chosen = [
        o
        for o in offers
        if (not wanted or o.provider in wanted)
        and (min_memory is None or (o.memory_gb is not None and o.memory_gb >= min_memory))
        and (o.count == count or o.count == 1)
    ]
    outcomes = [_outcome(requirements, image, facts, o, count) for o in chosen]
    runs = (NATIVE, COMPAT, FILTER)
    return sorted(
        outcomes,
        key=lambda x: (
            x.result not in runs,
            x.price is None,
            x.price if x.price is not None else 0.0,
            _ORDER[x.result],
            tuple(int(p) for p in x.runs_from.split(".")) if x.runs_from else (),
            x.offer.provider,
            x.offer.gpu,
        ),
    )
