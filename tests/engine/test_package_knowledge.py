"""Package knowledge is data: no module holds a list of tracked packages, and every consumer reads
the ``package`` / ``cuda_library`` facts, so a new package or CUDA major needs no code change."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import pytest

from cudalign.facts import DATA_DIR, Facts, load, query
from cudalign.facts.snapshot import MetadataRecord, PackageHistory, Release
from cudalign.hosts import describe_host
from cudalign.model import InstalledPackage, Location
from cudalign.rules import Context, check
from cudalign.rules.common import cuda_majors_provided, neighbour_needs
from cudalign.scan.analysis import ServiceView, cuda_sensitive
from cudalign.scan.model import Declared
from cudalign.scan.services import Service
from cudalign.stack import from_installed, resolve

SRC = Path(__file__).resolve().parents[2] / "src" / "cudalign"

# Lists that remain outside the engine, each for a reason; a test below fails once one is gone, so the
# entry is dropped with it.
KNOWN_ELSEWHERE = {
    "probe/packages.py": "the probe may not import the knowledge base (DESIGN: probe depends on model only)",
    "facts/derive.py": "the pins 'facts show' displays for a release",
    "render/doctor.py": "the order doctor lists installed packages in",
}


def _lists_in(text: str, names: set[str]) -> list[tuple[int, list[str]]]:
    """(line, names) of each tuple/list/set literal in the source that names three or more packages."""
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hit = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
            if len(hit) >= 3:
                out.append((node.lineno, hit))
    return out


def test_no_module_holds_a_hard_coded_package_list() -> None:
    names = {str(f["name"]) for f in load().of_kind("package") if not f.get("prefix")}
    assert len(names) >= 18
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        lists = _lists_in(path.read_text(encoding="utf-8"), names)
        if lists:
            found[path.relative_to(SRC).as_posix()] = lists
    stray = {m: lines for m, lines in found.items() if m not in KNOWN_ELSEWHERE}
    assert stray == {}, f"package lists in code (move them to facts/data/packages.toml): {stray}"
    assert set(KNOWN_ELSEWHERE) <= set(found), "a list is gone: drop its KNOWN_ELSEWHERE entry"


def test_the_detector_sees_a_list_and_not_the_two_roots() -> None:
    names = {"torch", "vllm", "xformers"}
    assert _lists_in('X = frozenset({"torch", "vllm", "xformers"})', names) == [
        (1, ["torch", "vllm", "xformers"])
    ]
    assert _lists_in('for n in ("vllm", "torch"): pass', names) == []


def test_facts_update_reads_the_tracked_packages_of_the_data() -> None:
    from cudalign.facts.update import TRACKED

    assert query.packages_with(load(), "tracked") == TRACKED
    assert {"torch", "vllm", "faster-whisper", "triton"} <= set(TRACKED)


NEW = """
[[package]]
id = "package.newkernels"
name = "newkernels"
tracked = true
cuda_sensitive = true
gpu_only = true
pins_torch = true
through_torch = true
follow_pins = true
torch_index = true
attention_backend = true
source = "https://pypi.org/project/newkernels/"
checked = 2026-12-03
"""


def _rel(version: str, *requires: str) -> Release:
    meta = {"any": MetadataRecord("x.whl", "https://pypi.org", "test", tuple(requires))} if requires else {}
    return Release(version=version, uploaded="2026-01-01T00:00:00", metadata=meta)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Facts:
    data = tmp_path_factory.mktemp("data")
    for path in DATA_DIR.glob("*.toml"):
        shutil.copy(path, data / path.name)
    with (data / "packages.toml").open("a", encoding="utf-8") as fh:
        fh.write(NEW)
    shipped = load().snapshot
    torch = dict(shipped.releases("torch"))
    torch["2.9.0"] = dataclasses.replace(
        torch["2.9.0"],
        metadata={
            k: dataclasses.replace(m, requires_dist=(*m.requires_dist, "newkernels==1.0"))
            for k, m in torch["2.9.0"].metadata.items()
        },
    )
    packages = dict(shipped.packages)
    packages["torch"] = dataclasses.replace(shipped.packages["torch"], releases=torch)
    packages["newkernels"] = PackageHistory("newkernels", "2026-01-01", "test", {"1.0": _rel("1.0")})
    return load(data, snapshot=dataclasses.replace(shipped, packages=packages))


def test_a_new_package_is_seen_by_facts_update_and_scan(kb: Facts) -> None:
    assert "newkernels" in query.packages_with(kb, "tracked")
    assert cuda_sensitive("newkernels", kb) and not cuda_sensitive("newkernels", load())
    decl = Declared("newkernels", "newkernels==1.0", "==1.0", Location("requirements.txt", 1))
    svc = Service("s", ".", ("requirements.txt",), requirements=(decl,))
    assert ServiceView(svc, (), facts=kb).declares_gpu
    assert not ServiceView(svc, (), facts=load()).declares_gpu


def test_a_new_package_is_followed_by_the_resolver(kb: Facts) -> None:
    host = describe_host(kb, gpus=["H100"], driver="580.95.05", python="3.12")
    stack = resolve(["torch==2.9.0"], kb, host)
    comp = stack.component("newkernels")
    assert comp is not None and comp.version == "1.0" and comp.requirement == "pinned by torch"
    assert comp.variant == stack.component("torch").variant  # type: ignore[union-attr]
    assert resolve(["torch==2.9.0"], load(), host).component("newkernels") is None


def test_a_new_package_is_read_from_an_installed_stack_and_named_in_did_you_mean(kb: Facts) -> None:
    host = describe_host(kb, gpus=["H100"], driver="580.95.05", python="3.12")
    host = dataclasses.replace(
        host, packages=(InstalledPackage("torch", "2.9.0+cu128"), InstalledPackage("newkernels", "1.0"))
    )
    stack = from_installed(host, kb)
    assert stack.component("newkernels") is not None
    assert all(c.name != "newkernels" for c, _ in neighbour_needs(Context(host, stack, kb)))
    typo = resolve(["newkernel==1.0"], kb, host)
    assert any("did you mean newkernels" in f.message for f in check(host, typo, kb))


def test_a_new_cuda_major_of_the_library_wheels_needs_no_code_change() -> None:
    facts = load()
    host = describe_host(facts, gpus=["H100"], driver="580.95.05", python="3.12")
    host = dataclasses.replace(host, packages=(InstalledPackage("nvidia-cublas-cu14", "14.0.1"),))
    stack = from_installed(host, facts)
    assert 14 in cuda_majors_provided(Context(host, stack, facts))
    assert query.cuda_library_wheel(facts, "nvidia-nccl-cu14") is not None
    assert query.cuda_library_wheel(facts, "nvidia-cudnn-frontend") is None


def test_segment_brands_are_facts_with_a_source() -> None:
    facts = load()
    answer = query.gpu_brands(facts, facts.gpu("RTX 4090"))
    assert answer.value == {"geforce", "geforcertx", "titan", "titanrtx"}
    assert answer.facts and answer.facts[0].source.startswith("https://")
