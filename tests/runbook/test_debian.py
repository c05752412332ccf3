"""The runbook's preflight and staging phases, run for real in Debian 12 and Debian 13 roots.

Each root is built with ``debootstrap`` from Debian's archive (cached as a tarball between runs of the same
machine, outside the user's home), its sources set as on a host whose current driver came from Debian's
non-free, and the script run inside it with ``CUDALIGN_SIMULATE=1``: every package step becomes
``apt-get --simulate``, so what the runbook names from Debian's archive must resolve there. NVIDIA's CUDA
repository is used where it can be reached; where it cannot (CI reaches only Debian's archive), the script
says so and the names it would install from there are checked against the knowledge base's
``[[driver_package]]`` facts. The machine has no GPU: the running kernel is taken to be Debian's current
one (a ``uname -r`` shim inside the root, read from the archive), and no driver is loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cudalign.facts import Facts
from cudalign.hosts import describe_host
from cudalign.render.runbook_sh import render_shell
from cudalign.runbook import Target, build

pytestmark = pytest.mark.online

SUITES = {"bookworm": "debian12", "trixie": "debian13"}
MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("CUDALIGN_DEBIAN_ROOTS", "/var/tmp/cudalign-debian-roots"))
PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


def _tarball(suite: str) -> Path:
    """The cached root of ``suite``, built with debootstrap when missing (written atomically)."""
    tar = CACHE / f"{suite}.tar"
    if tar.exists():
        return tar
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"{suite}.building"
    shutil.rmtree(work, ignore_errors=True)
    res = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=ca-certificates,curl", suite, str(work), MIRROR],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if res.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"debootstrap {suite} failed (Debian's archive not reachable?): {res.stderr[-300:]}")
    partial = tar.with_suffix(".tar.partial")
    with tarfile.open(partial, "w") as out:
        out.add(work, arcname=".")
    partial.replace(tar)
    shutil.rmtree(work, ignore_errors=True)
    return tar


def _chroot(root: Path, script: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["chroot", str(root), "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **env},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module", params=sorted(SUITES))
def root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    suite: str = request.param
    if os.geteuid() != 0:
        pytest.skip("building and entering a Debian root needs root")
    for tool in ("debootstrap", "chroot", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install debootstrap; .ci/run installs it)")
    tar = _tarball(suite)
    where = tmp_path_factory.mktemp(suite)
    with tarfile.open(tar) as t:
        t.extractall(where, filter="fully_trusted")
    shutil.copy("/etc/resolv.conf", where / "etc" / "resolv.conf")
    (where / "etc" / "apt" / "sources.list").write_text(
        f"deb {MIRROR} {suite} main non-free non-free-firmware\n", encoding="utf-8"
    )
    for stale in (where / "etc" / "apt" / "sources.list.d").glob("*"):
        stale.unlink()
    mounted = subprocess.run(["mount", "-t", "proc", "proc", str(where / "proc")], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount /proc in the Debian root: {mounted.stderr.decode()[-200:]}")
    try:
        update = _chroot(where, "apt-get update -qq")
        if update.returncode != 0:
            pytest.skip(f"apt-get update in the {suite} root failed: {update.stderr[-300:]}")
        headers = _chroot(
            where, "apt-cache depends linux-headers-amd64 | sed -n 's/.*Depends: linux-headers-//p'"
        )
        kernel = next((k for k in headers.stdout.split() if k.endswith("-amd64")), None)
        assert kernel, f"no Debian kernel headers found in {suite}: {headers.stdout} {headers.stderr}"
        shim = where / "usr" / "local" / "bin" / "uname"
        shim.write_text(f'#!/bin/sh\n[ "$1" = "-r" ] && exec echo {kernel}\nexec /usr/bin/uname "$@"\n')
        shim.chmod(0o755)
        yield where
    finally:
        subprocess.run(["umount", str(where / "proc")], capture_output=True)


def _names_from_facts(facts: Facts, branch: int) -> set[str]:
    return {str(f["name"]).format(branch=branch) for f in facts.of_kind("driver_package")}


def test_preflight_and_staging_run_in_a_real_debian_root(root: Path, facts: Facts) -> None:
    suite = next(s for s in SUITES if root.name.startswith(s))
    host = describe_host(facts, gpus=["L40S"], os=SUITES[suite])
    rb = build(host, facts, Target(580))
    (root / "root" / "runbook.sh").write_text(render_shell(rb), encoding="utf-8")
    state = "/var/tmp/cudalign-driver-upgrade"

    pre = _chroot(root, "bash /root/runbook.sh preflight", STATE=state, CUDALIGN_SIMULATE="1")
    assert pre.returncode == 0, pre.stdout[-3000:] + pre.stderr[-2000:]
    assert "Preflight: done" in pre.stdout

    # The host's current driver came from Debian's non-free archive: what preflight would have recorded.
    current = _chroot(root, "apt-cache policy nvidia-driver | sed -n 's/ *Candidate: //p'").stdout.strip()
    assert current and current != "(none)", f"Debian's non-free nvidia-driver not found in {suite}"
    (root / state.lstrip("/") / "packages.before.txt").write_text(f"nvidia-driver {current}\n")

    stage = _chroot(root, "bash /root/runbook.sh stage", STATE=state, CUDALIGN_SIMULATE="1", timeout=600)
    out = stage.stdout
    assert stage.returncode == 0, out[-4000:] + stage.stderr[-2000:]
    assert "Stage: done" in out
    kernel = (root / "usr" / "local" / "bin" / "uname").read_text().split("echo ")[1].split()[0]
    # Debian's own packages the runbook names resolve in Debian's archive.
    assert "Inst dkms " in out
    assert f"Inst linux-headers-{kernel} " in out
    # The rollback keeps the recorded driver's packages: they exist in the archive.
    assert f"nvidia-driver_{current.split(':')[-1]}".replace("%3a", ":") in out.replace("%3a", ":")
    # NVIDIA's repository: resolved when reachable, otherwise said, and its names are sourced facts.
    assert rb.repo_packages and set(rb.repo_packages) <= _names_from_facts(facts, 580)
    if "NVIDIA repository unreachable" in out:
        for name in rb.repo_packages:
            assert f"not resolved here (NVIDIA repository unreachable): {name}" in out
    else:
        for name in rb.repo_packages:
            assert f"Inst {name} " in out
    log = (root / state.lstrip("/") / "runbook.log").read_text(encoding="utf-8")
    assert "runbook.sh preflight" in log and "runbook.sh stage" in log
