"""Every HTML report opened in headless Chromium with the network cut off: the DOM holds the states, reasons,
findings and links, and the page asks the network for nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from cudalign.cli import main

HOSTS = Path(__file__).resolve().parents[1] / "hosts"
REPO = Path(__file__).resolve().parents[1] / "repos" / "vllm_cuda_upgrade"
SNAPSHOTS = Path(__file__).resolve().parents[1] / "recordings" / "snapshots"
DIFF = [str(SNAPSHOTS / "build-machine-2026-12-03.json"), str(SNAPSHOTS / "h200-2026-12-03.json")]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# CI installs Debian's chromium (.ci/run): there a missing browser fails the tests instead of skipping them
_MISSING = CHROMIUM is None and not os.environ.get("CI")
pytestmark = pytest.mark.skipif(_MISSING, reason="chromium is not installed")

# Chromium's own background services, which the flags below quieten but do not silence entirely.
_BROWSER_OWN = (".google.com", ".googleapis.com", ".gstatic.com", ".gvt1.com")

REPORTS: dict[str, list[str]] = {
    "matrix": ["matrix", "--host", str(HOSTS / "h100.json")],
    "check": ["check", "torch==2.9.0+cu130", "--gpu", "V100", "--driver", "580.65.06"],
    "plan": ["plan", "vllm==0.13.0", "--gpu", "H100", "--driver", "550.54.15"],
    "scan": ["scan", str(REPO)],
    "doctor": ["doctor", "torch==2.9.0", "--fail-on", "never"],
    "diff": ["diff", *DIFF],
}


class _Dom(HTMLParser):
    """Elements as (tag, attributes, text inside) from Chromium's serialised DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("meta", "br", "link", "img", "input", "hr"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            i = self._open.pop()
            if self.elements[i][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for i in self._open:
            self.elements[i][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        out = []
        for t, a, text in self.elements:
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items()):
                out.append((a, "".join(text)))
        return out

    def ids(self) -> set[str]:
        return {a["id"] for _, a, _ in self.elements if "id" in a}


def _render(tmp: Path, name: str) -> Path:
    out = tmp / f"{name}.html"
    code = main([*REPORTS[name], "--format", "html", "-o", str(out)])
    assert code in (0, 1)
    return out


def open_in_chromium(page: Path, *, screenshot: Path | None = None) -> tuple[_Dom, list[str]]:
    """The DOM Chromium built from ``page`` with no network, and every http(s) URL it requested."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="cudalign-chromium-") as profile:
        netlog = Path(profile) / "net.json"
        argv = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}/user",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: the network is off
            "--proxy-server=http://127.0.0.1:9",  # and nothing gets out through a proxy either
            f"--log-net-log={netlog}",
        ]
        if screenshot is not None:
            argv += [f"--screenshot={screenshot}", "--window-size=1100,1500", "--hide-scrollbars"]
        else:
            argv.append("--dump-dom")
        done = subprocess.run(
            [*argv, page.as_uri()], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        urls: list[str] = []
        if netlog.exists():
            try:
                log: Any = json.loads(netlog.read_text())
            except json.JSONDecodeError:  # cut short when the browser exits: read what is whole
                log = json.loads(netlog.read_text().rstrip().rstrip(",") + "]}")
            for event in log.get("events", []):
                url = (event.get("params") or {}).get("url", "")
                if url.startswith(("http://", "https://")):
                    urls.append(url)
    dom = _Dom()
    dom.feed(done.stdout)
    return dom, urls


def _external(urls: list[str]) -> list[str]:
    from urllib.parse import urlsplit

    return [u for u in urls if not (urlsplit(u).hostname or "").endswith(_BROWSER_OWN)]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, _Dom, list[str]]]:
    tmp = tmp_path_factory.mktemp("html")
    out = {}
    for name in REPORTS:
        path = _render(tmp, name)
        dom, urls = open_in_chromium(path)
        out[name] = (path, dom, urls)
    return out


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_each_page_is_self_contained_and_loads_offline(
    pages: dict[str, tuple[Path, _Dom, list[str]]], name: str
) -> None:
    path, dom, urls = pages[name]
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    for tag, attr in (("link", "href"), ("img", "src"), ("script", "src"), ("iframe", "src")):
        assert not [a for a, _ in dom.find(tag) if a.get(attr, "").startswith(("http", "//"))]
    assert "url(" not in text and "@import" not in text
    assert _external(urls) == [], "the page asked the network for something"
    assert dom.find("h1"), "the page did not load"
    assert dom.find("style")
    assert "prefers-color-scheme:dark" in text and "@media print" in text


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_tables_have_headers_with_scopes_and_rule_links_resolve(
    pages: dict[str, tuple[Path, _Dom, list[str]]], name: str
) -> None:
    _, dom, _ = pages[name]
    headers = dom.find("th")
    assert headers and all(a.get("scope") in ("col", "row") for a, _ in headers)
    ids = dom.ids()
    rule_links = [a["href"] for a, _ in dom.find("a") if a.get("href", "").startswith("#rule-")]
    assert all(href[1:] in ids for href in rule_links)


def test_matrix_cells_carry_state_reason_and_the_installed_build(
    pages: dict[str, tuple[Path, _Dom, list[str]]],
) -> None:
    _, dom, _ = pages["matrix"]
    cells = {
        (a["data-checked"], a["data-column"]): (a, text) for a, text in dom.find("td") if "data-checked" in a
    }
    # torch 2.0.1's CUDA 11.7 build has no sm_90 code: fails, with the rule and its build fact on hover
    a, text = cells[("torch==2.0.1+cu117", "cu117")]
    assert a["data-verdict"] == "fails" and "fails" in text and "✗" in text
    assert "CA201 gpu-arch-not-in-build" in a["title"]
    assert "torch.build.2.0.cu117.linux_x86_64" in a["title"]
    # CUDA 13.2 on a driver that supports 13.0: caveats through minor-version compatibility
    a, text = cells[("torch==2.15.0+cu132", "cu132")]
    assert a["data-verdict"] == "caveats" and "caveats" in text and "CA102" in text
    assert "minor-version compatibility" in a["title"]
    # the host's torch 2.11.0+cu130 is marked in its row and its cell
    a, text = cells[("torch==2.11.0+cu130", "cu130")]
    assert a["data-verdict"] == "ok" and "installed" in a["class"].split() and "(installed)" in text
    installed_rows = [a for a, _ in dom.find("tr") if "installed" in a.get("class", "").split()]
    assert [r["data-release"] for r in installed_rows] == ["2.11.0"]
    not_built = [a for a, _ in dom.find("td") if a.get("data-verdict") == "none"]
    assert not_built and all(a["title"] == "not built" for a in not_built)
    # newest first
    releases = [a["data-release"] for a, _ in dom.find("tr") if "data-release" in a]
    from packaging.version import Version

    assert releases == sorted(releases, key=Version, reverse=True)
    # every reason names its rule and links the sources of its facts
    reasons = dom.find("tr", class_="reason")
    assert {a["data-code"] for a, _ in reasons} >= {"CA102", "CA201", "CA306"}
    sources = [a["href"] for a, _ in dom.find("a") if a.get("href", "").startswith("https://")]
    assert any("docs.nvidia.com" in s for s in sources)


def test_check_findings_link_their_rule_and_sources(pages: dict[str, tuple[Path, _Dom, list[str]]]) -> None:
    _, dom, _ = pages["check"]
    findings = dom.find("tr", class_="finding")
    codes = {a["data-code"] for a, _ in findings}
    assert "CA202" in codes  # CUDA 13 cannot target the V100's sm_70
    assert {f"rule-{c}" for c in codes} <= dom.ids()
    assert [a for a, _ in dom.find("a") if a.get("href", "").startswith("https://")]
    assert [t for _, t in dom.find("span") if t.strip() == "✗ fails" or t.strip().endswith("fails")]


def test_scan_and_plan_show_their_own_sections(pages: dict[str, tuple[Path, _Dom, list[str]]]) -> None:
    _, scan, _ = pages["scan"]
    assert scan.find("tr", class_="service")
    assert any("requirements.txt:" in t for _, t in scan.find("td"))
    _, plan, _ = pages["plan"]
    assert plan.find("tr", class_="matrix")
    _, doctor, _ = pages["doctor"]
    assert "target" in doctor.ids()


def test_diff_rows_flags_and_rollback_match_the_json(
    pages: dict[str, tuple[Path, _Dom, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The diff of the build machine and the H200 snapshots: one row per change, each need as a word, the
    driver row flagged for a reboot, and the rollback steps in the JSON's order."""
    _, dom, _ = pages["diff"]
    assert main(["diff", *DIFF, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {a["data-what"]: (a, text) for a, text in dom.find("tr") if "change" in a.get("class", "").split()}
    assert len(rows) == len(data["changes"]) and set(rows) == {c["what"] for c in data["changes"]}
    for c in data["changes"]:
        a, text = rows[c["what"]]
        assert a["data-needs"].split(",") == c["needs"]
        assert all(need in text for need in c["needs"])  # the word, not only a colour
    a, text = rows["driver"]
    assert "reboot" in a["data-needs"].split(",") and "580.159.04" in text and "added" in text
    a, text = rows["python"]
    assert {"rebuild", "new image"} <= set(a["data-needs"].split(",")) and "3.11.7" in text
    assert "upgraded" in text
    assert "stack" in a["class"].split() and "package" in rows["package:numpy"][0]["class"].split()
    assert "removed" in rows["package:mypy"][1] and "downgraded" in rows["package:pip"][1]
    # what applying it takes: the three flags, each a symbol and a word
    needs = [(a["data-need"], text) for a, text in dom.find("li", class_="need")]
    assert [n for n, _ in needs] == data["needs"] == ["reboot", "rebuild", "new image"]
    assert all(n in text for n, text in needs)
    assert "NVIDIA driver" in dict(needs)["reboot"]
    # rollback: an ordered list, the JSON's steps in its order
    steps = [text for _, text in dom.find("li", class_="rollback")]
    assert steps == [c["rollback"] for c in data["changes"] if c["rollback"]]
    assert "Python 3.11.7" in steps and "mypy==2.4.1" in steps and "pip uninstall numpy" in steps
    assert dom.find("ol") and "rollback" in dom.ids()
