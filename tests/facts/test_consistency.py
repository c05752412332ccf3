"""The knowledge base agrees with itself and with the PyPI snapshot: no two facts contradict."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

import cudalign.facts as facts_pkg
from cudalign.facts import Fact, Facts, normalise_gpu_name
from cudalign.facts.snapshot import EMBEDDED_PATH, Snapshot, load_snapshot
from cudalign.model import ComputeCapability

__all__: list[str] = []

ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# Which compute capabilities each architecture name may carry (NVIDIA's capability tables).
ARCH_CCS = {
    "Kepler": {"3.5", "3.7"},
    "Maxwell": {"5.0", "5.2", "5.3"},
    "Pascal": {"6.0", "6.1", "6.2"},
    "Volta": {"7.0", "7.2"},
    "Turing": {"7.5"},
    "Ampere": {"8.0", "8.6", "8.7"},
    "Ada": {"8.9"},
    "Hopper": {"9.0"},
    "Blackwell": {"10.0", "10.1", "10.3", "11.0", "12.0", "12.1"},
    "Rubin": {"10.7"},
}


@cache
def kb() -> Facts:
    return facts_pkg.load()


def of(kind: str) -> list[Fact]:
    return kb().of_kind(kind)


def minor(v: Version) -> Version:
    return Version(f"{v.major}.{v.minor}")


def toolkit_minors() -> list[Version]:
    return sorted({minor(t["version"]) for t in of("toolkit")})


def targetable_by(cc: ComputeCapability, cuda: Version) -> bool:
    for a in of("arch_support"):
        if a["cc"] == cc.device:  # sm_90a, sm_103f: the toolkit must target 9.0, 10.3
            last = a.get("last_cuda")
            return bool(
                minor(a["first_cuda"]) <= minor(cuda) and (last is None or minor(cuda) <= minor(last))
            )
    return False


def variant_cuda(variant: str) -> Version:
    m = re.fullmatch(r"cu(\d+)(\d)", variant)
    assert m, f"not a CUDA variant: {variant}"
    return Version(f"{m.group(1)}.{m.group(2)}")


def lower_bound(spec: SpecifierSet) -> Version:
    los = [Version(s.version) for s in spec if s.operator in (">=", "==")]
    assert los, f"{spec} has no lower bound"
    return max(los)


def overlapping(
    specs: list[tuple[str, SpecifierSet]], probes: list[Version]
) -> Iterator[tuple[str, str, str]]:
    for v in probes:
        hits = [name for name, s in specs if s.contains(v, prereleases=True)]
        if len(hits) > 1:
            yield (str(v), hits[0], hits[1])


# ---- every fact -------------------------------------------------------------------------------------


def test_every_fact_has_https_source_a_sane_checked_date_and_a_stable_id() -> None:
    today = dt.date.today()
    for f in kb():
        assert f.source.startswith("https://"), f"{f.file}: {f.id}: source is not an https URL: {f.source}"
        assert dt.date(2020, 1, 1) <= f.checked <= today, f"{f.file}: {f.id}: checked {f.checked}"
        assert ID.match(f.id), f"{f.file}: {f.id}: id is not lower-case dotted/dashed"


def test_every_note_is_text() -> None:
    for f in kb():
        assert f.note is None or (isinstance(f.note, str) and f.note.strip()), f.id


# ---- toolkits and drivers ---------------------------------------------------------------------------


def test_toolkit_table_covers_10_0_through_13_4_update_1() -> None:
    versions = {str(t["version"]) for t in of("toolkit")}
    for v in (
        "10.0.130",
        "10.2.89",
        "11.0.2",
        "11.8.0",
        "12.0.0",
        "12.4.1",
        "12.8.0",
        "12.9.1",
        "13.0.0",
        "13.3.1",
        "13.4.1",
    ):
        assert v in versions
    minors = {str(m) for m in toolkit_minors()}
    expected = {f"10.{n}" for n in range(3)} | {f"11.{n}" for n in range(9)}
    expected |= {f"12.{n}" for n in (0, 1, 2, 3, 4, 5, 6, 8, 9)}
    expected |= {f"13.{n}" for n in range(5)}
    assert minors == expected


def test_every_toolkit_has_a_linux_driver_or_a_branch() -> None:
    for t in of("toolkit"):
        assert t.get("driver_linux") is not None or t.get("driver_branch") is not None, t.id


def test_minimum_drivers_never_decrease_as_toolkits_get_newer() -> None:
    tks = sorted(of("toolkit"), key=lambda t: t["version"])
    for key in ("driver_linux", "driver_windows"):
        rows = [(t["version"], t[key], t.id) for t in tks if t.get(key) is not None]
        for (_, d1, id1), (_, d2, id2) in itertools.pairwise(rows):
            assert d1 <= d2, f"{key}: {id1} needs {d1} but the newer {id2} only {d2}"


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_driver_order_follows_toolkit_order(data: st.DataObject) -> None:
    """Any two toolkits: the newer one never needs an older driver (a property over all pairs)."""
    rows = [t for t in of("toolkit") if t.get("driver_linux") is not None]
    a = data.draw(st.sampled_from(rows))
    b = data.draw(st.sampled_from(rows))
    if a["version"] < b["version"]:
        assert a["driver_linux"] <= b["driver_linux"]


def test_toolkit_driver_and_branch_agree() -> None:
    branches = {b["branch"] for b in of("driver_branch")}
    for t in of("toolkit"):
        d, b = t.get("driver_linux"), t.get("driver_branch")
        if d is not None and b is not None:
            assert d.major == b, f"{t.id}: driver {d} is not on branch R{b}"
        branch = b if b is not None else d.major
        assert branch in branches, f"{t.id}: no driver_branch fact for R{branch}"


def test_branch_max_cuda_matches_the_toolkit_table() -> None:
    newest: dict[int, Version] = {}
    for t in of("toolkit"):
        d, b = t.get("driver_linux"), t.get("driver_branch")
        branch = b if b is not None else d.major
        newest[branch] = max(newest.get(branch, Version("0")), minor(t["version"]))
    for fact in of("driver_branch"):
        br, mx = fact["branch"], fact.get("max_cuda")
        if br in newest:
            assert mx == newest[br], f"{fact.id}: max_cuda {mx}, but the toolkit table says {newest[br]}"
        assert fact.get("first_version") is None or fact["first_version"].major == br, fact.id


def test_branch_max_cuda_increases_with_the_branch() -> None:
    rows = sorted((b["branch"], b["max_cuda"], b.id) for b in of("driver_branch") if b.get("max_cuda"))
    for (b1, m1, id1), (b2, m2, id2) in itertools.pairwise(rows):
        assert m1 < m2, f"{id1} (R{b1}) reports {m1} but {id2} (R{b2}) only {m2}"


def test_minor_version_floors_fit_the_toolkits_of_their_major() -> None:
    for m in of("cuda_major"):
        major, floor = m["major"], m["mvc_floor_linux"]
        tks = [t for t in of("toolkit") if t["version"].major == major]
        assert tks, f"{m.id}: no toolkit of CUDA {major}"
        ga = [t for t in tks if t["version"].minor == 0 and t.get("driver_linux") is not None]
        assert {t["driver_linux"].major for t in ga} == {floor.major}, f"{m.id}: floor not on the x.0 branch"
        for t in tks:
            d = t.get("driver_linux")
            if d is not None and t["version"].minor >= 1:
                assert floor <= d, f"{m.id}: floor {floor} above {t.id}'s own driver {d}"


def test_each_majors_min_cc_is_the_oldest_arch_its_first_toolkit_targets() -> None:
    ccs = [a["cc"] for a in of("arch_support")]
    for m in of("cuda_major"):
        first = Version(f"{m['major']}.0")
        oldest = min((cc for cc in ccs if targetable_by(cc, first)), key=lambda c: (c.major, c.minor))
        assert oldest == m["min_cc"], f"{m.id}: min_cc {m['min_cc']} but arch_support says {oldest}"


def test_arch_support_ranges_are_ordered_and_thor_is_renamed_not_dropped() -> None:
    for a in of("arch_support"):
        if a.get("last_cuda") is not None:
            assert a["first_cuda"] < a["last_cuda"], a.id
    old, new = kb().get("arch.sm_101"), kb().get("arch.sm_110")
    assert old["last_cuda"] == Version("12.9") and new["first_cuda"] == Version("13.0")
    assert old.get("sm_name") == "sm_101" and new.get("sm_name") == "sm_110"


def test_cuda_13_cannot_target_volta_and_cuda_12_cannot_target_kepler() -> None:
    assert not targetable_by(ComputeCapability(7, 0), Version("13.0"))
    assert targetable_by(ComputeCapability(7, 0), Version("12.9"))
    assert not targetable_by(ComputeCapability(3, 7), Version("12.0"))
    assert targetable_by(ComputeCapability(12, 0), Version("12.8"))
    assert not targetable_by(ComputeCapability(12, 1), Version("12.8"))


def test_branch_last_for_names_known_architectures() -> None:
    known = set(ARCH_CCS) | {"Kepler", "Maxwell"}
    for b in of("driver_branch"):
        assert set(b.get("last_for", ())) <= known, b.id


# ---- GPUs -------------------------------------------------------------------------------------------


def test_every_gpu_is_targetable_by_some_toolkit() -> None:
    minors = toolkit_minors()
    for g in of("gpu"):
        assert any(targetable_by(g["cc"], v) for v in minors), f"{g.id}: no CUDA toolkit targets {g['cc']}"


def test_gpu_architecture_name_matches_its_capability() -> None:
    for g in of("gpu"):
        assert str(g["cc"]) in ARCH_CCS[g["arch"]], f"{g.id}: {g['arch']} with capability {g['cc']}"


def test_gpu_names_aliases_and_nvml_names_are_unique_across_gpus() -> None:
    owner: dict[str, str] = {}
    for g in of("gpu"):
        for name in {
            normalise_gpu_name(n) for n in (g["name"], *g.get("aliases", ()), *g.get("nvml_names", ()))
        }:
            assert name, f"{g.id}: a name normalises to nothing"
            assert owner.setdefault(name, g.id) == g.id, f"'{name}' names both {owner[name]} and {g.id}"


def test_shared_pci_ids_only_between_gpus_of_one_capability() -> None:
    seen: dict[str, Fact] = {}
    for g in of("gpu"):
        for pci in g.get("pci_ids", ()):
            assert re.fullmatch(r"0x[0-9a-f]{4}", pci), f"{g.id}: PCI id {pci!r}"
            other = seen.setdefault(pci, g)
            assert other["cc"] == g["cc"], f"{pci} is {other.id} and {g.id} with different capabilities"


def test_segments_and_forward_compatibility() -> None:
    for g in of("gpu"):
        assert g["segment"] in {"datacenter", "workstation", "consumer", "embedded"}, g.id
        if g["segment"] == "datacenter":
            assert g.get("forward_compat") is True, f"{g.id}: datacenter GPUs support forward compatibility"
        if g["segment"] == "consumer":
            assert g.get("forward_compat") is False, f"{g.id}: GeForce cards have no forward compatibility"


def test_open_module_requirement_only_from_turing() -> None:
    for g in of("gpu"):
        if g.get("open_module_required"):
            assert (g["cc"].major, g["cc"].minor) >= (7, 5), g.id
    assert all(g.get("open_module_required") for g in of("gpu") if g["arch"] == "Blackwell")


def test_gpu_minimum_driver_can_run_the_first_toolkit_of_its_architecture() -> None:
    branches = {b["branch"] for b in of("driver_branch")}
    first_driver: dict[Version, int] = {}
    for t in sorted(of("toolkit"), key=lambda t: t["version"]):
        branch = t.get("driver_branch") or t["driver_linux"].major
        first_driver.setdefault(minor(t["version"]), branch)
    for g in of("gpu"):
        md = g.get("min_driver")
        if md is None:
            continue
        assert md.major in branches, f"{g.id}: min_driver {md} on an unknown branch"
        first = next(minor(a["first_cuda"]) for a in of("arch_support") if a["cc"] == g["cc"])
        assert md.major >= first_driver[first], f"{g.id}: min_driver {md} older than CUDA {first}'s branch"


def test_typed_names_resolve_to_the_right_gpu() -> None:
    facts = kb()
    expected = {
        "RTX 5090": "gpu.rtx-5090",
        "4090": "gpu.rtx-4090",
        "A10G": "gpu.a10g",
        "L40S": "gpu.l40s",
        "H100 SXM": "gpu.h100-sxm",
        "H100 PCIe": "gpu.h100-pcie",
        "NVIDIA H100 80GB HBM3": "gpu.h100-sxm",
        "0x2330": "gpu.h100-sxm",
        "0x2335": "gpu.h200-sxm",
        "Tesla V100-SXM2-16GB": "gpu.v100-sxm2",
        "NVIDIA RTX 6000 Ada Generation": "gpu.rtx-6000-ada",
        "A6000": "gpu.rtx-a6000",
    }
    for text, gpu_id in expected.items():
        assert facts.gpu(text).id == gpu_id, text


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_gpu_lookup_ignores_case_spacing_and_vendor_prefix(data: st.DataObject) -> None:
    g = data.draw(st.sampled_from(of("gpu")))
    name = data.draw(st.sampled_from([g["name"], *g.get("aliases", ()), *g.get("nvml_names", ())]))
    spelled = data.draw(st.sampled_from([name, name.upper(), name.lower(), name.replace(" ", "-")]))
    prefix = data.draw(st.sampled_from(["", "NVIDIA ", "nvidia "]))
    assert kb().gpu(prefix + spelled).id == g.id


# ---- features ---------------------------------------------------------------------------------------


def test_every_feature_is_available_on_some_known_gpu_and_missing_on_another() -> None:
    ccs = {g["cc"].version for g in of("gpu")}
    for f in of("feature"):
        have = {cc for cc in ccs if f["cc"].contains(cc)}
        assert have and have != ccs, f"{f.id}: cc {f['cc']} is vacuous over the known GPUs"


def test_feature_fallbacks_are_known_and_reach_below_the_feature() -> None:
    names = {f["name"]: f for f in of("feature")}
    for f in of("feature"):
        fb = f.get("fallback")
        if fb is None:
            continue
        assert fb in names, f"{f.id}: unknown fallback {fb}"
        lowest = lower_bound(names[fb]["cc"])
        assert not f["cc"].contains(lowest), f"{f.id}: fallback {fb} adds nothing below {f['cc']}"


def test_feature_names_and_aliases_are_unique() -> None:
    """A name belongs to one feature, or to one package's facts for disjoint release ranges of it."""
    owner: dict[str, list[Fact]] = {}
    probes = [Version(f"0.{n}.{p}") for n in range(60) for p in range(4)] + [Version("1.0.0")]
    for f in of("feature"):
        for n in {f["name"].lower(), *(a.lower() for a in f.get("aliases", ()))}:
            owner.setdefault(n, []).append(f)
    for n, fs in owner.items():
        if len(fs) == 1:
            continue
        ids = [f.id for f in fs]
        assert all(f.get("versions") is not None for f in fs), f"{n} names {ids}"
        assert len({f["package"] for f in fs}) == 1, f"{n} names {ids} of different packages"
        assert len({f["name"] for f in fs}) == 1, f"{n} names {ids} of different names"
        assert not list(overlapping([(f.id, f["versions"]) for f in fs], probes)), f"{n}: {ids} overlap"


# ---- torch ------------------------------------------------------------------------------------------


def test_torch_series_are_contiguous_and_do_not_overlap() -> None:
    series = sorted(of("torch_series"), key=lambda s: Version(s["series"]))
    assert [s["series"] for s in series if s["series"].startswith("2.")] == [f"2.{n}" for n in range(16)]
    probes = [Version(f"2.{n}.{p}") for n in range(17) for p in range(4)]
    assert not list(overlapping([(s.id, s["versions"]) for s in series], probes))
    for s in series:
        assert s["versions"].contains(f"{s['series']}.0"), s.id


def test_torch_pypi_defaults_are_published_variants() -> None:
    for s in of("torch_series"):
        assert set(s["pypi_default"]) >= {"linux_x86_64", "windows", "macos"}, s.id
        assert set(s["pypi_default"]) <= {"linux_x86_64", "linux_aarch64", "windows", "macos"}, s.id
        for platform, variant in s["pypi_default"].items():
            assert variant == "cpu" or variant in s["variants"], f"{s.id}: {platform} default {variant}"


def test_every_torch_build_variant_is_in_its_series_variants() -> None:
    for b in of("torch_build"):
        touched = [s for s in of("torch_series") if b["versions"].contains(f"{s['series']}.0")]
        assert touched, f"{b.id}: covers no torch series"
        for s in touched:
            assert b["variant"] in s["variants"], (
                f"{b.id}: {b['variant']} not published for torch {s['series']}"
            )


def test_torch_builds_of_one_variant_and_platform_do_not_overlap() -> None:
    groups: dict[tuple[str, str], list[tuple[str, SpecifierSet]]] = {}
    for b in of("torch_build"):
        groups.setdefault((b["variant"], b["platform"]), []).append((b.id, b["versions"]))
    probes = [Version(f"2.{n}.{p}") for n in range(17) for p in range(3)]
    for key, specs in groups.items():
        assert not list(overlapping(specs, probes)), key


def test_torch_build_archs_are_targetable_by_the_variant_cuda() -> None:
    for b in of("torch_build"):
        cuda = variant_cuda(b["variant"])
        if b.get("cuda") is not None:
            assert minor(b["cuda"]) == cuda, f"{b.id}: cuda {b['cuda']} vs variant {b['variant']}"
        for cc in b["archs"]:
            assert targetable_by(cc, cuda), f"{b.id}: CUDA {cuda} cannot compile for {cc}"
        assert set(b.get("ptx", ())) <= set(b["archs"]), f"{b.id}: PTX for an arch without machine code"
        assert b["platform"] in {"linux_x86_64", "linux_aarch64", "windows"}, b.id


# ---- vLLM -------------------------------------------------------------------------------------------


def test_vllm_series_do_not_overlap() -> None:
    specs = [(s.id, s["versions"]) for s in of("vllm_series")]
    probes = [Version(f"0.{n}.{p}") for n in range(40) for p in range(8)]
    probes += [Version("0.2.1.post1"), Version("0.9.0.1"), Version("0.10.1.1")]
    assert not list(overlapping(specs, probes))


def test_vllm_series_cuda_facts_are_known_toolkits_and_targets() -> None:
    minors = set(toolkit_minors())
    majors = {m["major"]: m for m in of("cuda_major")}
    for s in of("vllm_series"):
        assert minor(s["wheel_cuda"]) in minors, f"{s.id}: wheel CUDA {s['wheel_cuda']} is no known toolkit"
        floor = majors[s["wheel_cuda"].major]["min_cc"]
        assert (s["min_cc"].major, s["min_cc"].minor) >= (floor.major, floor.minor), s.id
        for cc in s.get("archs", ()):
            assert targetable_by(cc, s["wheel_cuda"]), f"{s.id}: CUDA {s['wheel_cuda']} cannot target {cc}"
        for v in s.get("variants", ()):
            assert variant_cuda(v) in minors, f"{s.id}: variant {v}"
        for suffix, cuda in s.get("image_cuda", {}).items():
            assert Version(cuda) in minors, f"{s.id}: image CUDA {cuda}"
            if suffix:
                assert re.fullmatch(r"-cu\d{3}", suffix), f"{s.id}: suffix {suffix!r}"
                assert variant_cuda(suffix[1:]) == Version(cuda), f"{s.id}: {suffix} -> {cuda}"


def test_vllm_image_suffixes_are_what_the_tag_grammar_captures() -> None:
    fam = kb().get("image.vllm-openai")
    for s in of("vllm_series"):
        for suffix in s.get("image_cuda", {}):
            m = fam["tag_pattern"].fullmatch(f"v0.20.0{suffix}")
            assert m is not None and (m.group("suffix") or "") == suffix, (s.id, suffix)


# ---- images -----------------------------------------------------------------------------------------


def test_require_strings_match_their_cuda_and_admit_only_older_branches() -> None:
    branches = {b["branch"] for b in of("driver_branch")}
    own_branch: dict[Version, int] = {}
    for t in of("toolkit"):
        own_branch.setdefault(minor(t["version"]), t.get("driver_branch") or t["driver_linux"].major)
    for r in of("image_require"):
        cuda = lower_bound(r["cuda"])
        tokens = r["require"].split(" ")
        assert tokens[0] == f"cuda>={cuda.major}.{cuda.minor}", f"{r.id}: {tokens[0]}"
        for tok in tokens[1:]:
            m = re.fullmatch(r"brand=([a-z]+),driver>=(\d+),driver<(\d+)", tok)
            assert m, f"{r.id}: clause {tok!r}"
            b = int(m.group(2))
            assert int(m.group(3)) == b + 1 and b in branches, f"{r.id}: {tok}"
            assert b < own_branch[minor(cuda)], f"{r.id}: brand clause for R{b} is not older than CUDA {cuda}"


@pytest.mark.parametrize(
    ("reference", "groups"),
    [
        (
            "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
            {"cuda": "12.8.1", "flavour": "runtime", "os": "ubuntu22.04"},
        ),
        ("nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04", {"cuda": "12.3.2", "cudnn": "cudnn9"}),
        ("nvidia/cuda:13.2.1-base-ubuntu24.04", {"cuda": "13.2.1", "flavour": "base"}),
        ("pytorch/pytorch:2.13.0-cuda13.0-cudnn9-runtime", {"torch": "2.13.0", "cuda": "13.0"}),
        ("vllm/vllm-openai:v0.19.1-cu130", {"vllm": "0.19.1", "suffix": "-cu130"}),
        ("vllm/vllm-openai:latest", {"channel": "latest"}),
    ],
)
def test_real_image_tags_match_their_family(reference: str, groups: dict[str, str]) -> None:
    repo, _, tag = reference.partition(":")
    fams = [f for f in of("image_family") if f["repository"] == repo]
    matches = [m for m in (f["tag_pattern"].fullmatch(tag) for f in fams) if m is not None]
    assert matches, reference
    got = {k: v for k, v in matches[0].groupdict().items() if v is not None}
    assert groups.items() <= got.items(), (reference, got)


def test_derived_image_families_name_a_known_base() -> None:
    repos = {f["repository"] for f in of("image_family")}
    for f in of("image_family"):
        assert f.get("based_on") is None or f["based_on"] in repos, f.id


# ---- neighbouring packages --------------------------------------------------------------------------


def _package_probes(package: str) -> list[Version]:
    probes = [Version(f"{a}.{b}.{c}") for a in range(15) for b in range(0, 60) for c in range(0, 12)]
    if EMBEDDED_PATH.exists():
        probes += _versions(load_snapshot(use_overlay=False), package)
    return probes


def test_package_builds_never_contradict_each_other() -> None:
    """Two facts may cover one release (a general range and a refinement), but never disagree."""
    groups: dict[tuple[str, str], list[Fact]] = {}
    for p in of("package_build"):  # a platform's facts (its wheel's own build) beside those for all
        for plat in p.get("platforms") or ("",):
            groups.setdefault((p["package"], plat), []).append(p)
    for (package, plat), facts in groups.items():
        if plat:
            facts = facts + groups.get((package, ""), [])
        for v in _package_probes(package):
            hits = [f for f in facts if f["versions"].contains(v, prereleases=True)]
            for key in ("cuda_major", "cudnn_major", "min_cc", "cuda"):
                values = {str(f[key]) for f in hits if f.get(key) is not None and f.get("component") is None}
                assert len(values) <= 1, f"{package} {v}: {key} {values} from {[f.id for f in hits]}"


def test_my_package_ranges_do_not_overlap_per_package() -> None:
    """Release ranges of one package partition its releases; a fact about one build's torch ABI or one
    component (``torch``/``component`` keys) refines a range and may overlap it."""
    groups: dict[tuple[str, str], list[tuple[str, SpecifierSet]]] = {}
    for p in of("package_build"):
        if p.file == "packages.toml" and "component" not in p.values and "torch" not in p.values:
            # the machine code of one platform's wheels is a set of its own, per platform
            key = ",".join(p.get("platforms") or ()) if p.get("archs") is not None else ""
            groups.setdefault((p["package"], key), []).append((p.id, p["versions"]))
    for (package, _), specs in groups.items():
        assert not list(overlapping(specs, _package_probes(package))), package


def test_package_cuda_facts_are_consistent() -> None:
    minors = set(toolkit_minors())
    for p in of("package_build"):
        runtimes = p.get("cuda_runtimes", ())
        assert all(minor(r) in minors for r in runtimes), p.id
        if p.get("cuda") is not None and p.get("cuda_major") is not None:
            assert p["cuda"].major == p["cuda_major"], p.id


# ---- against the PyPI snapshot ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    if not EMBEDDED_PATH.exists():
        pytest.skip(f"the embedded PyPI snapshot {EMBEDDED_PATH.name} is not committed yet")
    return load_snapshot(use_overlay=False)


def _versions(snap: Snapshot, package: str) -> list[Version]:
    out = []
    for v in snap.releases(package):
        try:
            out.append(Version(v))
        except InvalidVersion:
            continue
    return out


def _vllm_series_hits(v: Version) -> list[str]:
    public = Version(v.public)
    return [s.id for s in of("vllm_series") if s["versions"].contains(public, prereleases=True)]


def test_vllm_series_cover_every_vllm_release(snapshot: Snapshot) -> None:
    """Every release up to the newest one the series were checked against is in exactly one series.

    The series are bounded where their sources end, so releases newer than every covered one are
    'unknown until checked' (the engine says so: CA201 unknown); a gap below them is an error.
    """
    releases = _versions(snapshot, "vllm")
    assert releases, "the snapshot holds no vLLM releases"
    covered = [v for v in releases if _vllm_series_hits(v)]
    assert covered, "no vLLM release of the snapshot is in a series"
    for v in releases:
        hits = _vllm_series_hits(v)
        assert len(hits) == 1 or (not hits and v > max(covered)), f"vLLM {v}: series {hits}"


def test_torch_series_cover_every_torch_2_release(snapshot: Snapshot) -> None:
    for v in _versions(snapshot, "torch"):
        if v.major == 2 and not v.is_prerelease:
            hits = [s.id for s in of("torch_series") if s["versions"].contains(Version(v.public))]
            assert len(hits) == 1, f"torch {v}: series {hits}"


def test_every_vllm_torch_pin_is_a_known_torch_release(snapshot: Snapshot) -> None:
    from cudalign.facts import derive

    torch = set(snapshot.releases("torch"))
    checked = 0
    for ver, rel in snapshot.releases("vllm").items():
        record = derive.metadata_for(rel, "linux_x86_64")
        if record is None:
            continue
        pin = derive.exact_pin(record.requires_dist, "torch")
        if pin is None:
            continue
        checked += 1
        assert str(pin) in torch, f"vLLM {ver} pins torch=={pin}, which the snapshot does not know"
    assert checked >= 50, f"only {checked} vLLM releases had an exact torch pin"


def test_vllm_wheel_cuda_major_matches_its_pinned_torch(snapshot: Snapshot) -> None:
    """vLLM's compiled extension and torch must share a CUDA major (libcudart.so.12 vs .13)."""
    from cudalign.facts import derive

    for ver, rel in snapshot.releases("vllm").items():
        record = derive.metadata_for(rel, "linux_x86_64")
        pin = derive.exact_pin(record.requires_dist, "torch") if record else None
        torch_rel = snapshot.release("torch", str(pin)) if pin else None
        if torch_rel is None:
            continue
        runtime = derive.torch_runtime(torch_rel, "linux_x86_64")
        series = next(
            (s for s in of("vllm_series") if s["versions"].contains(Version(Version(ver).public))), None
        )
        if series is None:
            continue  # newer than every series: unknown until checked (see the coverage test above)
        if runtime.cuda is not None:
            assert runtime.cuda.major == series["wheel_cuda"].major, (
                f"vLLM {ver} ({series.id}, {series['wheel_cuda']}) pins torch {pin} (CUDA {runtime.cuda})"
            )


def test_torch_pypi_default_matches_the_wheels(snapshot: Snapshot) -> None:
    """Where documents and wheels disagree, the wheels win: pypi_default must equal the derived variant."""
    from cudalign.facts import derive

    compared = 0
    for ver, rel in snapshot.releases("torch").items():
        v = Version(ver)
        if v.major != 2 or v.is_prerelease:
            continue
        series = next(s for s in of("torch_series") if s["versions"].contains(Version(v.public)))
        for platform, variant in series["pypi_default"].items():
            if derive.metadata_for(rel, platform) is None:
                continue
            derived = derive.torch_runtime(rel, platform).variant
            compared += 1
            assert derived == variant, (
                f"torch {ver} on {platform}: facts say {variant}, the wheel says {derived}"
            )
    assert compared >= 30, f"only {compared} torch wheels could be compared"


def test_torch_series_python_range_is_the_cpython_wheels_published(snapshot: Snapshot) -> None:
    for ver, rel in snapshot.releases("torch").items():
        v = Version(ver)
        if v.major != 2 or v.is_prerelease:
            continue
        cps = sorted(
            {int(m.group(1)) for w in rel.wheels for py in w.python if (m := re.fullmatch(r"cp3(\d+)", py))}
        )
        if not cps:
            continue
        series = next(s for s in of("torch_series") if s["versions"].contains(Version(v.public)))
        spec = series["python"]
        assert all(spec.contains(f"3.{n}") for n in cps), f"torch {ver}: wheels cp3{cps} outside {spec}"
        assert not spec.contains(f"3.{cps[0] - 1}") and not spec.contains(f"3.{cps[-1] + 1}"), (
            f"torch {ver}: {spec} is wider than the wheels cp3{cps}"
        )


def _declared_majors(requires_dist: tuple[str, ...]) -> tuple[set[int], set[int]]:
    """CUDA and cuDNN majors a wheel's requirements name, under any extra.

    From nvidia-cuda-runtime[-cuXX], cuda-toolkit and nvidia-cudnn-cuXX and their lower bounds.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    cuda: set[int] = set()
    cudnn: set[int] = set()
    for line in requires_dist:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        lows = [
            Version(s.version.replace(".*", "")) for s in req.specifier if s.operator in (">=", "==", "~=")
        ]
        runtime = re.fullmatch(r"nvidia-cuda-runtime(?:-cu(\d+))?", name)
        if runtime and runtime.group(1):
            cuda.add(int(runtime.group(1)))
        elif (runtime or name == "cuda-toolkit") and lows:
            cuda.add(max(lows).major)
        if re.fullmatch(r"nvidia-cudnn(?:-cu\d+)?", name) and lows:
            cudnn.add(max(lows).major)
    return cuda, cudnn


def test_package_cuda_and_cudnn_majors_agree_with_the_wheels(snapshot: Snapshot) -> None:
    """Where a wheel's own requirements name CUDA/cuDNN packages, they must agree with package_build."""
    compared = 0
    for p in of("package_build"):
        for ver, rel in snapshot.releases(p["package"]).items():
            try:
                public = Version(Version(ver).public)
            except InvalidVersion:
                continue
            if not p["versions"].contains(public, prereleases=True):
                continue
            for platform, record in rel.metadata.items():
                cuda, cudnn = _declared_majors(record.requires_dist)
                if cuda and p.get("cuda_major") is not None:
                    compared += 1
                    assert cuda == {p["cuda_major"]}, (
                        f"{p.id}: {p['package']} {ver} {platform} names CUDA {cuda}"
                    )
                if cudnn and p.get("cudnn_major") is not None:
                    compared += 1
                    assert cudnn == {p["cudnn_major"]}, (
                        f"{p.id}: {p['package']} {ver} {platform} cuDNN {cudnn}"
                    )
    assert compared >= 100, f"only {compared} wheel requirements could be compared"


@pytest.mark.parametrize("companion", ["torchvision", "torchaudio"])
def test_torch_companions_agree_with_the_exact_pins(snapshot: Snapshot, companion: str) -> None:
    """A torchvision/torchaudio release that pins torch==X is the companion series of X's series."""
    from cudalign.facts import derive

    compared = 0
    for ver, rel in snapshot.releases(companion).items():
        record = derive.metadata_for(rel, "linux_x86_64")
        pin = derive.exact_pin(record.requires_dist, "torch") if record else None
        if pin is None or pin.major != 2:
            continue
        series = next(s for s in of("torch_series") if s["versions"].contains(Version(pin.public)))
        v = Version(ver)
        compared += 1
        assert series.get("companions", {}).get(companion) == f"{v.major}.{v.minor}", (
            f"{companion} {ver} pins torch=={pin} but {series.id} names {series.get('companions')}"
        )
    assert compared >= 10, f"only {compared} {companion} releases pin torch exactly"


def test_driver_branch_designations_and_eol_dates() -> None:
    for b in of("driver_branch"):
        assert b["designation"] in {"LTSB", "PB", "NFB", "EOL", "Evaluation/Developer", "not stated"}, b.id
        eol = b.get("eol")
        if eol is not None:
            year, month = (int(x) for x in eol.split("-"))
            assert 2020 <= year <= 2035 and 1 <= month <= 12, f"{b.id}: eol {eol!r} is not YYYY-MM"


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_toolkits_that_target_an_architecture_form_one_unbroken_run(data: st.DataObject) -> None:
    arch = data.draw(st.sampled_from(of("arch_support")))
    flags = [targetable_by(arch["cc"], v) for v in toolkit_minors()]
    runs = [k for k, _ in itertools.groupby(flags)]
    assert runs.count(True) <= 1, f"{arch.id}: support stops and starts again"


def test_fact_ids_named_in_notes_and_texts_exist() -> None:
    prefixes = "cuda|gpu|image|arch|driver|torch|vllm|pkg|feature"
    pattern = re.compile(rf"\b(?:topic|see) ((?:{prefixes})\.[a-z0-9._-]*[a-z0-9])")
    for f in kb():
        for text in (f.note or "", str(f.get("text", ""))):
            for ref in pattern.findall(text):
                assert ref in kb(), f"{f.file}: {f.id} refers to {ref}, which is no fact"
