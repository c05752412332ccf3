"""The distribution families a runbook supports, and the package commands of each.

Ubuntu 20.04/22.04/24.04, Debian 12/13, and RHEL 8/9 with its rebuilds (Rocky, Alma, Oracle). Install
commands follow NVIDIA's driver installation guide
(https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/): NVIDIA's CUDA network repository
and the distribution's own archive for headers and DKMS. Which driver packages a branch installs is data
(``[[driver_package]]`` facts, :mod:`cudalign.runbook.packages`), not a pattern here.
"""

from __future__ import annotations

from cudalign._dataclass import dataclass
from cudalign.errors import InvalidInput
from cudalign.model import OsInfo

__all__ = ["GUIDE", "SUPPORTED", "Distro", "detect", "from_text"]

GUIDE = "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/"
REPO = "https://developer.download.nvidia.com/compute/cuda/repos"
SUPPORTED = "ubuntu20.04, ubuntu22.04, ubuntu24.04, debian12, debian13, rhel8, rhel9 (rocky, alma, ol)"

_RHEL_LIKE = {"rhel", "rocky", "almalinux", "alma", "ol", "oracle", "centos"}


@dataclass(frozen=True, slots=True)
class Distro:
    """A supported distribution release and what its package manager needs."""

    id: str
    """``ubuntu``, ``debian`` or ``rhel`` (the family; Rocky and Alma are ``rhel``)."""
    version: str
    """``22.04``, ``12``, ``9``."""
    name: str
    """As /etc/os-release named it: ``rocky 9.4``."""
    arch: str = "x86_64"

    @property
    def family(self) -> str:
        return "rhel" if self.id == "rhel" else "debian"

    @property
    def repo_name(self) -> str:
        """NVIDIA's repository directory: ``ubuntu2204``, ``debian12``, ``rhel9``."""
        return f"{self.id}{self.version.replace('.', '')}"

    @property
    def repo_arch(self) -> str:
        return "sbsa" if self.arch in ("aarch64", "arm64") else "x86_64"

    @property
    def label(self) -> str:
        return {"ubuntu": "Ubuntu", "debian": "Debian", "rhel": "RHEL"}[self.id] + f" {self.version}"

    # ---- commands ------------------------------------------------------------------------------

    def record_packages(self, path: str) -> str:
        if self.family == "rhel":
            fmt = "'%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\\n'"
            return f"rpm -qa --qf {fmt} | grep -Ei 'nvidia|cuda-drivers' | sort > {path}"
        return (
            "dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\\n' "
            f"| awk '$1 == \"ii\" && $2 ~ /nvidia|cuda-drivers|libcuda|libxnvctrl/ {{print $2, $3}}' > {path}"
        )

    def held(self) -> tuple[str, ...]:
        if self.family == "rhel":
            return (
                "dnf versionlock list 2>/dev/null || echo 'versionlock plugin not installed: nothing locked'",
            )
        return ("apt-mark showhold",)

    def headers(self) -> tuple[str, ...]:
        if self.family == "rhel":
            return ('rpm -q dkms "kernel-devel-$(uname -r)" "kernel-headers-$(uname -r)" || true',)
        return (
            'dpkg -s dkms "linux-headers-$(uname -r)" 2>/dev/null | grep -E "^(Package|Status):" || true',
        )

    def newest_kernel(self) -> tuple[str, ...]:
        """The running kernel and the newest installed one."""
        if self.family == "rhel":
            return ("uname -r", "rpm -q --last kernel | head -n 1")
        return (
            "uname -r",
            "find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\\n' "
            "| sed 's/^vmlinuz-//' | sort -V | tail -n 1",
        )

    def install_headers(self) -> tuple[str, ...]:
        if self.family == "rhel":
            epel = (
                "dnf -y install epel-release"
                if self.name.split()[0] != "rhel"
                else f"dnf -y install https://dl.fedoraproject.org/pub/epel/epel-release-latest-{self.version}.noarch.rpm"
            )
            crb = (
                "subscription-manager repos --enable "
                f'"codeready-builder-for-rhel-{self.version}-$(arch)-rpms"'
                if self.name.split()[0] == "rhel"
                else (
                    "dnf config-manager --set-enabled crb"
                    if self.version == "9"
                    else "dnf config-manager --set-enabled powertools"
                )
            )
            return (crb, epel, 'dnf -y install dkms "kernel-devel-$(uname -r)" "kernel-headers-$(uname -r)"')
        return ("apt-get update", 'apt-get install -y dkms "linux-headers-$(uname -r)"')

    def add_repo(self) -> tuple[str, ...]:
        base = f"{REPO}/{self.repo_name}/{self.repo_arch}"
        if self.family == "rhel":
            return (
                "dnf -y install dnf-plugins-core",
                f"dnf config-manager --add-repo {base}/cuda-{self.repo_name}.repo",
                "dnf clean expire-cache",
            )
        contrib: tuple[str, ...] = ()
        if self.id == "debian":  # NVIDIA's Debian instructions enable contrib: driver packages depend on it
            contrib = (
                "grep -rqsE '^(deb .* contrib|Components:.* contrib)' /etc/apt/sources.list "
                '/etc/apt/sources.list.d/ || echo "deb http://deb.debian.org/debian '
                "$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release) contrib\" "
                "> /etc/apt/sources.list.d/debian-contrib.list",
            )
        return (
            *contrib,
            f"curl -fsSLo /tmp/cuda-keyring.deb {base}/cuda-keyring_1.1-1_all.deb",
            "dpkg -i /tmp/cuda-keyring.deb",
            "apt-get update",
        )

    def download_only(self, packages: tuple[str, ...]) -> str:
        joined = " ".join(packages)
        if self.family == "rhel":
            return f"dnf -y install --downloadonly {joined}"
        return f"apt-get install -y --download-only {joined}"


def _normalise(distro_id: str) -> str:
    d = distro_id.lower()
    if d in _RHEL_LIKE:
        return "rhel"
    return d


def detect(os: OsInfo) -> Distro:
    """The supported distribution of a host; :class:`InvalidInput` when it is not one."""
    did = (os.distro_id or "").lower()
    ver = os.distro_version or ""
    family = _normalise(did)
    if family not in ("ubuntu", "debian", "rhel") and any(_normalise(x) == "rhel" for x in os.distro_like):
        family = "rhel"
    if family == "rhel":
        ver = ver.split(".", 1)[0]
    if family == "debian":
        ver = ver.split(".", 1)[0]
    supported = {("ubuntu", "20.04"), ("ubuntu", "22.04"), ("ubuntu", "24.04")}
    supported |= {("debian", "12"), ("debian", "13")}
    supported |= {("rhel", "8"), ("rhel", "9")}
    if (family, ver) not in supported:
        shown = f"{did} {os.distro_version}".strip() if did else "unknown"
        raise InvalidInput(
            f"distribution {shown!r} is not one the runbook supports ({SUPPORTED})",
            hint="describe the target host with --os, e.g. --os ubuntu22.04 or --os rocky9",
        )
    name = f"{did or family} {os.distro_version or ver}".strip()
    return Distro(id=family, version=ver, name=name, arch=os.arch or "x86_64")


def from_text(text: str) -> Distro:
    """``ubuntu22.04``, ``debian12``, ``rocky9``, ``rhel-8`` -> a supported :class:`Distro`."""
    import re

    m = re.fullmatch(r"\s*([a-z]+)[\s\-_:]?([\d.]+)\s*", text.lower())
    if not m:
        raise InvalidInput(f"--os {text!r}: expected e.g. ubuntu22.04, debian12, rocky9")
    return detect(OsInfo(system="Linux", distro_id=m.group(1), distro_version=m.group(2)))
