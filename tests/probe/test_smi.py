"""The nvidia-smi CSV query: parsing recorded output, odd values, and the door's timeout."""

from __future__ import annotations

from cudalign.probe.run import Result
from cudalign.probe.smi import parse_query_csv, query_argv, read_smi

from .fakes import FakeRunner, recording


def test_recorded_h100_row() -> None:
    (gpu,) = parse_query_csv(recording("h100", "nvidia_smi_query.csv"))
    assert (gpu.index, gpu.name, gpu.driver, gpu.pci_device_id) == (
        0,
        "NVIDIA H100 80GB HBM3",
        "580.159.04",
        "0x2330",
    )
    assert (gpu.cc, gpu.memory_mib, gpu.mig_mode, gpu.uuid) == ((9, 0), 81559, False, "GPU-<hidden>")


def test_not_available_values_become_none() -> None:
    text = "470.256.02, Tesla K80, 0x102D10DE, [N/A], 11441, [N/A], GPU-<hidden>, 1\n"
    (gpu,) = parse_query_csv(text)
    assert gpu.cc is None and gpu.mig_mode is None and gpu.memory_mib == 11441 and gpu.index == 1


def test_mig_enabled_and_names_with_commas() -> None:
    text = '580.95.05, "NVIDIA A100-SXM4-80GB, rev 2", 0x20B210DE, 8.0, 81920, Enabled, GPU-<hidden>, 0\n'
    (gpu,) = parse_query_csv(text)
    assert (
        gpu.name == "NVIDIA A100-SXM4-80GB, rev 2" and gpu.mig_mode is True and gpu.pci_device_id == "0x20b2"
    )


def test_rows_that_do_not_fit_are_skipped() -> None:
    text = "No devices were found\n580.95.05, short row\n"
    assert parse_query_csv(text) == ()


def test_query_never_uses_the_banner() -> None:
    argv = query_argv()
    assert (
        argv[0] == "nvidia-smi"
        and argv[1].startswith("--query-gpu=")
        and argv[2] == "--format=csv,noheader,nounits"
    )


def test_read_smi_reports_timeouts_and_failures() -> None:
    timed_out = Result(("nvidia-smi",), None, timed_out=True, error="nvidia-smi timed out after 2 s")
    assert read_smi(FakeRunner({"nvidia-smi": timed_out}), 2.0).why == "nvidia-smi timed out after 2 s"
    failed = Result(
        ("nvidia-smi",), 9, "NVIDIA-SMI has failed because it couldn't communicate with the driver\n"
    )
    why = read_smi(FakeRunner({"nvidia-smi": failed}), 2.0).why or ""
    assert why.startswith("nvidia-smi: exit 9") and "couldn't communicate" in why
    empty = Result(("nvidia-smi",), 0, "")
    assert read_smi(FakeRunner({"nvidia-smi": empty}), 2.0).why == "nvidia-smi listed no GPUs"


def test_nul_bytes_in_the_output_are_dropped_not_raised() -> None:
    """Python 3.10's csv module raises on NUL ("line contains NUL"); a garbled answer must not."""
    text = recording("h100", "nvidia_smi_query.csv").replace("9.0", "9.0\x00", 1)
    gpus = parse_query_csv(text + "\x00\n")
    assert len(gpus) == 1 and gpus[0].cc == (9, 0)


def test_a_broken_line_does_not_swallow_the_rows_after_it() -> None:
    # an unclosed quote, and a field over csv's own limit (which raises in the csv module)
    good = "580.95.05, NVIDIA H100 80GB HBM3, 0x233010DE, 9.0, 81559, Disabled, GPU-1, 0"
    text = '"NVIDIA H100' + ", x" * 1000 + "\n" + "y" * 200_000 + "\n" + good + "\n"
    gpus = parse_query_csv(text)
    assert [(g.name, g.cc, g.memory_mib) for g in gpus] == [("NVIDIA H100 80GB HBM3", (9, 0), 81559)]


def test_numbers_no_gpu_could_have_are_none() -> None:
    row = (
        "580.95.05, NVIDIA H100 80GB HBM3, 0x233010DE, 9.0, "
        + "8" * 1500
        + ", Disabled, GPU-1, "
        + "1" * 1500
    )
    (gpu,) = parse_query_csv(row)
    assert gpu.memory_mib is None and gpu.index == 0
    assert parse_query_csv(row.replace("8" * 1500, "8" * 5000)) == ()  # no real row is that long
