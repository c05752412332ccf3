"""Property tests: the text parsers accept any input without raising (the probe never raises)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.probe.packages import torch_version_py, variant_cuda
from cudalign.probe.smi import QUERY_FIELDS, parse_query_csv
from cudalign.probe.sysfs import module_flavour_from_taint, parse_gpu_information, parse_proc_version
from cudalign.probe.system import parse_os_release, parse_secure_boot

_cell = st.one_of(
    st.text(max_size=20), st.sampled_from(["[N/A]", "Enabled", "9.0", "0x233010DE", "81559", ""])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_cell, min_size=len(QUERY_FIELDS), max_size=len(QUERY_FIELDS)), max_size=4))
def test_csv_rows_of_the_right_width(rows: list[list[str]]) -> None:
    """Any row of eight cells parses or is skipped; a parsed index, cc and memory are numbers."""
    text = "\n".join(", ".join(c.replace("\n", " ").replace('"', "") for c in row) for row in rows)
    for gpu in parse_query_csv(text):
        assert isinstance(gpu.index, int) and gpu.name
        assert gpu.cc is None or all(isinstance(x, int) for x in gpu.cc)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_parsers_never_raise(text: str) -> None:
    parse_query_csv(text)
    version, flavour = parse_proc_version(text)
    assert flavour in (None, "open", "proprietary")
    assert (version is None) == (flavour is None)
    parse_gpu_information(text)
    parse_os_release(text)
    torch_version_py(text)
    variant_cuda(text)
    assert module_flavour_from_taint(text) in (None, "open", "proprietary")


@given(st.binary(max_size=16))
def test_secure_boot_never_raises(data: bytes) -> None:
    assert parse_secure_boot(data) in (None, True, False)


_LINE = (
    r"\ANVRM version: NVIDIA UNIX (Open Kernel Module for (x86_64|aarch64)|(x86_64|aarch64) Kernel Module)"
    r"  \d{2,3}\.\d{1,3}(\.\d{2})?  \Z"
)


@given(st.from_regex(_LINE))
def test_generated_version_lines(line: str) -> None:
    """Every line in either module's format yields its version and flavour."""
    version, flavour = parse_proc_version(line)
    assert version is not None and version in line
    assert flavour == ("open" if "Open" in line else "proprietary")


_FILES = st.fixed_dictionaries(
    {
        "proc/driver/nvidia/version": st.text(max_size=200),
        "sys/module/nvidia/version": st.text(max_size=30),
        "sys/module/nvidia/taint": st.text(max_size=5),
        "etc/os-release": st.text(max_size=200),
        "proc/driver/nvidia/gpus/0000:01:00.0/information": st.text(max_size=200),
        "sys/bus/pci/devices/0000:01:00.0/device": st.text(max_size=10),
        "proc/self/cgroup": st.text(max_size=80),
    }
)


@settings(max_examples=40, deadline=None)
@given(files=_FILES, csv=st.text(max_size=200))
def test_probe_never_raises_on_odd_files(files: dict[str, str], csv: str) -> None:
    """Whatever the kernel files and nvidia-smi say, probe() returns a Host that round-trips through JSON."""
    import json
    import tempfile
    from pathlib import Path

    from cudalign.model import host_from_json
    from cudalign.probe import probe
    from cudalign.probe.run import Result

    from .fakes import FakeNvml, FakeRunner, make_root

    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(Path(tmp), {**files, "dev/nvidia0": ""})
        host = probe(
            root=root,
            nvml=FakeNvml({"init": {"error": 9, "text": "Driver Not Loaded"}}),
            run=FakeRunner({"nvidia-smi": Result(("nvidia-smi",), 0, csv)}),
            environ={},
            site_dirs=[],
            libcuda_loader=lambda name: (_ for _ in ()).throw(OSError(name)),
        )
        assert host_from_json(json.loads(json.dumps(host.to_json()))) == host
        assert (host.driver is None) == ("driver" in host.unknown)
