"""OS facts: os-release, Secure Boot's EFI variable, glibc."""

from __future__ import annotations

from pathlib import Path

from cudalign.probe.system import SECURE_BOOT_VAR, parse_os_release, parse_secure_boot, read_glibc, read_os

from .fakes import make_root, recording


def test_recorded_os_release() -> None:
    fields = parse_os_release(recording("h100", "os-release.txt"))
    assert (fields["ID"], fields["VERSION_ID"]) == ("ubuntu", "24.04")
    assert fields["ID_LIKE"] == "debian"


def test_quoting_and_comments() -> None:
    text = (
        '# comment\nNAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n'
        "broken line\n"
    )
    fields = parse_os_release(text)
    assert fields == {
        "NAME": "Rocky Linux",
        "ID": "rocky",
        "ID_LIKE": "rhel centos fedora",
        "VERSION_ID": "9.4",
    }


def test_secure_boot_bytes() -> None:
    assert parse_secure_boot(b"\x06\x00\x00\x00\x01") is True
    assert parse_secure_boot(b"\x06\x00\x00\x00\x00") is False
    assert parse_secure_boot(b"\x06\x00") is None


def test_read_os(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "etc/os-release": 'ID=rocky\nVERSION_ID="9.4"\nID_LIKE="rhel centos fedora"\n',
            SECURE_BOOT_VAR: b"\x06\0\0\0\x01",
        },
    )
    info = read_os(root, {"system": "Linux", "release": "5.14.0", "machine": "arm64"})
    assert (info.distro_id, info.distro_version, info.distro_like) == (
        "rocky",
        "9.4",
        ("rhel", "centos", "fedora"),
    )
    assert (info.arch, info.kernel, info.secure_boot) == ("aarch64", "5.14.0", True)


def test_no_efi_says_why(tmp_path: Path) -> None:
    info = read_os(make_root(tmp_path, {}), {"system": "Linux", "release": "6.1", "machine": "x86_64"})
    assert info.secure_boot is None and "no EFI firmware" in info.unknown["secure_boot"]
    assert info.distro_id is None and "os-release" in info.unknown["distro_id"]


def test_glibc_of_this_interpreter() -> None:
    version = read_glibc()
    assert version is None or version[0].isdigit()
