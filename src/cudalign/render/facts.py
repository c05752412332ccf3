"""Text (and JSON payloads) for ``cudalign facts update``, ``status`` and ``show``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudalign.facts.update import UpdateResult

__all__ = ["show_text", "status_text", "update_json", "update_text"]


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def update_json(result: UpdateResult) -> dict[str, Any]:
    """The ``cudalign.facts-update/1`` document."""
    return {
        "schema": "cudalign.facts-update/1",
        "path": result.path,
        "generated": result.generated,
        "elapsed_s": round(result.elapsed_s, 2),
        "requests": result.requests,
        "offline": result.offline,
        "unreachable": result.unreachable,
        "packages": [
            {
                "name": p.name,
                "status": p.status,
                "releases": p.releases,
                "new_releases": list(p.new_releases),
                "metadata_read": p.metadata_read,
                "metadata_reused": p.metadata_reused,
                "errors": list(p.errors),
            }
            for p in result.packages
        ],
    }


def update_text(result: UpdateResult) -> str:
    if result.offline:
        return "nothing updated (offline)" if result.unreachable else "nothing updated"
    rows = [
        [
            p.name,
            p.status,
            str(p.releases),
            (", ".join(p.new_releases[-3:]) + (" …" if len(p.new_releases) > 3 else "")) or "-",
            str(p.metadata_read),
            str(p.metadata_reused),
            f"{len(p.errors)} failed" if p.errors else "",
        ]
        for p in result.packages
    ]
    lines = _table(rows, ["package", "status", "releases", "new", "read", "reused", ""])
    for p in result.packages:
        lines.extend(f"  {p.name}: {e}" for e in p.errors)
    lines.append(f"wrote {result.path} in {result.elapsed_s:.1f} s ({result.requests} requests)")
    return "\n".join(lines)


def status_text(data: dict[str, Any]) -> str:
    stale = ", STALE: run 'cudalign facts update'" if data["stale"] else ""
    lines = [
        f"snapshot   {data['origin']} ({data['path']})",
        f"generated  {data['generated']} (newest upload it holds, {data['age_days']:.0f} days ago{stale})",
        f"index      {data['index']}",
        f"packages   {data['package_count']} with {data['release_count']} releases",
    ]
    for name, newest in data["newest"].items():
        lines.append(f"newest     {name} {newest}")
    facts = data["toml_facts"]
    lines.append(
        f"shipped    {facts} TOML facts" if facts is not None else f"shipped    error: {data['toml_error']}"
    )
    if data.get("checked"):
        lines.append(f"checked    {data['checked']} (when the index was read)")
    lines.append(_overlay_line(data))
    pending = data["overlay"]["pending"]
    if pending is not None:
        left = f" ({', '.join(pending)} unfinished)" if pending else ""
        lines.append(
            f"pending    an interrupted update{left}; commands use the complete snapshot above "
            "until 'cudalign facts update' finishes it"
        )
    lines.append("")
    rows = [
        [n, str(p["releases"]), p["newest"] or "-", p["checked"][:10]] for n, p in data["packages"].items()
    ]
    lines.extend(_table(rows, ["package", "releases", "newest", "checked"]))
    return "\n".join(lines)


def _overlay_line(data: dict[str, Any]) -> str:
    overlay, path = data["overlay"], data["overlay_path"]
    state = overlay["state"]
    if state == "none":
        return f"overlay    none yet; 'cudalign facts update' writes {path}"
    if state == "corrupt":
        return f"overlay    corrupt ({overlay['error']}); 'cudalign facts update' rebuilds it"
    if state == "older":
        return f"overlay    older than the embedded snapshot, not used ({path})"
    return f"overlay    in use ({path})"


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_value(x)}" for k, x in v.items())
    return str(v)


def show_text(data: dict[str, Any]) -> str:
    kind = data["kind"]
    if kind == "fact":
        lines = [f"{data['id']}  ({data['fact_kind']}, {data['file']})"]
        width = max((len(k) for k in data["values"]), default=0)
        lines.extend(f"  {k.ljust(width)}  {_value(v)}" for k, v in data["values"].items())
        if data.get("note"):
            lines.append(f"  note: {data['note']}")
        lines.append(f"  source: {data['source']}")
        lines.append(f"  checked: {data['checked']}")
        return "\n".join(lines)
    if kind == "package":
        rows = [
            [
                r["version"] + (" (yanked)" if r["yanked"] else ""),
                r["uploaded"] or "-",
                r["requires_python"] or "-",
                " ".join(r["platforms"]) or "sdist",
                r["headline"] or "",
            ]
            for r in data["releases"]
        ]
        lines = [
            f"{data['package']}: {len(rows)} releases (source {data['source']}, checked {data['checked']})"
        ]
        lines.extend(_table(rows, ["version", "uploaded", "python", "platforms", ""]))
        return "\n".join(lines)
    lines = [
        f"{data['package']} {data['version']}" + ("  (yanked)" if data["yanked"] else ""),
        f"  uploaded         {data['uploaded']}",
        f"  requires-python  {data['requires_python'] or '-'}",
        f"  index page       {data['source']} (checked {data['checked']})",
        "  platforms:",
    ]
    for key, p in data["platforms"].items():
        glibc = f", glibc >= {p['glibc']}" if p["glibc"] else ""
        meta = f"; metadata via {p['metadata']['via']}" if p["metadata"] else ""
        lines.append(f"    {key:<14} {p['wheels']} wheels ({', '.join(p['tags']) or 'sdist'}{glibc}){meta}")
    lines.append("  derived:")
    by_source: dict[str, list[dict[str, Any]]] = {}
    for d in data["derived"]:
        by_source.setdefault(d["platform"], []).append(d)
    for platform, items in by_source.items():
        lines.append(f"    {platform}:")
        width = max(len(d["name"]) for d in items)
        for d in items:
            lines.append(f"      {d['name'].ljust(width)}  {d['value']}")
        sources = dict.fromkeys(d["source"] for d in items)
        lines.extend(f"      source: {s} (checked {items[0]['checked']})" for s in sources)
    if not data["derived"]:
        lines.append("    none (no wheel metadata in the snapshot for this release)")
    return "\n".join(lines)
