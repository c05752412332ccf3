"""The five phases of a driver upgrade as steps, for one host, target branch and distribution."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudalign._dataclass import dataclass
from cudalign.runbook import GpuProcess, Step, Target
from cudalign.runbook.distros import GUIDE, Distro
from cudalign.runbook.packages import PackageChoice

if TYPE_CHECKING:
    from cudalign.model import Host

__all__ = [
    "OPEN_LICENSE",
    "PROPRIETARY_LICENSE",
    "STATE",
    "Plan",
    "preflight",
    "rollback",
    "stage",
    "verify",
    "window",
]

STATE = "/var/tmp/cudalign-driver-upgrade"
"""Where the runbook keeps what it records (survives the reboot, unlike /tmp)."""

OPEN_LICENSE = "Dual MIT/GPL"
PROPRIETARY_LICENSE = "NVIDIA"


@dataclass(frozen=True, slots=True)
class Plan:
    """Decisions the steps depend on."""

    host: Host
    distro: Distro
    target: Target
    flavour: str
    fabric_manager: bool | None
    """True: NVSwitch host; None: unknown, check; False: not needed."""
    current: str | None
    processes: tuple[GpuProcess, ...] | None
    gpu_count: int
    secure_boot: bool | None
    packages: PackageChoice
    newest: str | None = None
    """The newest release of the target branch the knowledge base knows."""

    @property
    def b(self) -> int:
        return self.target.branch

    @property
    def debian(self) -> bool:
        return self.distro.family == "debian"


def preflight(p: Plan, flavour_why: str) -> tuple[Step, ...]:
    d = p.distro
    steps = [
        Step(
            "Console access",
            "A driver that fails to build or load, or a Secure Boot key waiting for enrollment, needs the "
            "console; "
            "SSH alone is not enough.",
            gate="Do you have out-of-band console access to this host (BMC/IPMI, iDRAC/iLO, or the cloud "
            "serial "
            "console)?",
        ),
        Step(
            "Record the current driver",
            "What runs now, saved where the reboot does not erase it: the rollback returns to exactly this.",
            (
                f'STATE="${{STATE:-{STATE}}}"; mkdir -p "$STATE"',
                'nvidia-smi -q > "$STATE/nvidia-smi-q.before.txt" || echo "nvidia-smi: no driver answers"',
                "nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version --format=csv "
                '| tee "$STATE/gpus.before.csv" || echo "no GPUs listed"',
                'tee "$STATE/proc-version.before.txt" 2>/dev/null < /proc/driver/nvidia/version '
                '|| echo "no NVIDIA kernel module loaded"',
                'modinfo -F license nvidia 2>/dev/null | tee "$STATE/module-license.before.txt" '
                '|| echo "no nvidia kernel module installed"',
                d.record_packages('"$STATE/packages.before.txt"'),
                'uname -r > "$STATE/kernel.before.txt"; wc -l "$STATE/packages.before.txt"',
            ),
            expect=f"driver {p.current} on {p.gpu_count} GPU(s)" if p.current else None,
        ),
        _processes_step(p),
        Step(
            "Containers and services using the GPUs",
            "Containers, DCGM and persistence daemons hold the driver open; list them so the window stops "
            "them on purpose and restarts them after. On a Kubernetes node whose driver the NVIDIA GPU "
            "Operator manages (a driver container), upgrade through the operator instead of this runbook.",
            (
                "docker ps --format '{{.ID}} {{.Image}} {{.Names}}' 2>/dev/null "
                "|| echo 'docker: not running here'",
                "systemctl list-units --type=service --state=running --no-legend "
                "| grep -Ei 'nvidia|dcgm|docker|containerd|kubelet' || true",
                "if [ -d /run/nvidia/driver ]; then echo 'driver container (GPU Operator) present'; fi",
            ),
        ),
        Step(
            "Secure Boot state",
            "With Secure Boot on, the DKMS-built module must be signed by a key enrolled in the firmware "
            "(MOK); "
            "enrolling it needs the console at the next boot.",
            ("mokutil --sb-state || echo 'mokutil missing: check Secure Boot in the firmware setup'",),
            expect="SecureBoot enabled: prepare MOK in staging" if p.secure_boot else None,
        ),
        Step(
            "Kernel headers and DKMS for the running kernel",
            "DKMS builds the new module against these; without them the install succeeds and the reboot "
            "comes "
            "up without a driver.",
            d.headers(),
        ),
        Step(
            "Kernel the reboot will boot",
            "If a newer kernel is installed but not running, the reboot boots it: DKMS needs its headers "
            "too.",
            d.newest_kernel(),
            expect="the same kernel twice; otherwise install the headers for the newer one in staging",
        ),
        Step(
            "Disk space",
            "Driver packages and DKMS builds need space in /usr, /var and /boot (initramfs).",
            ("df -h / /usr /var /boot 2>/dev/null || true",),
            expect="at least 2 GB free on /usr and /var, 300 MB on /boot",
        ),
        Step(
            "Held or version-locked packages",
            "A hold on a driver package stops the upgrade halfway; note every hold to restore it afterwards.",
            d.held(),
        ),
        Step(
            "Kernel module flavour",
            f"Target flavour: {p.flavour}. {flavour_why}",
            ("modinfo -F license nvidia 2>/dev/null || echo 'no nvidia kernel module installed'",),
            expect=f"'{OPEN_LICENSE}' is the open module, '{PROPRIETARY_LICENSE}' the proprietary one",
        ),
    ]
    if p.fabric_manager is not False:
        steps.append(
            Step(
                "NVSwitch and Fabric Manager",
                "On NVSwitch systems (HGX/DGX) the fabric manager package must be the same version as the "
                "driver, "
                "or the GPUs stay unusable after the reboot.",
                (
                    "ls /dev/nvidia-nvswitch* 2>/dev/null || echo 'no NVSwitch devices'",
                    "systemctl is-active nvidia-fabricmanager || true",
                ),
            )
        )
    return tuple(steps)


def _processes_step(p: Plan) -> Step:
    seen = ""
    if p.processes is not None:
        if p.processes:
            listed = "; ".join(
                f"pid {x.pid} {x.name} on GPU {x.gpu}" + (f" ({x.used_mib} MiB)" if x.used_mib else "")
                for x in p.processes
            )
            seen = f" When this runbook was written: {listed}."
        else:
            seen = " When this runbook was written, no process was using a GPU."
    return Step(
        "GPU processes running now",
        "Stop only workloads you own and know how to restart; write down each one's restart command." + seen,
        (
            "nvidia-smi --query-compute-apps=pid,process_name,gpu_bus_id,used_memory --format=csv "
            "|| echo 'nvidia-smi: no driver answers'",
            "pids=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null | paste -sd, -) "
            '|| pids=""',
            'if [ -n "$pids" ]; then ps -o pid,user,etime,args -p "$pids"; '
            'else echo "no GPU compute processes"; fi',
        ),
    )


def _pin_path(p: Plan) -> str | None:
    """Debian with no pinning package for the branch: an apt preference keeps the branch instead."""
    if p.distro.id == "debian" and p.packages.pinning is None:
        return f"/etc/apt/preferences.d/nvidia-driver-{p.b}"
    return None


def _inferred(p: Plan, names: tuple[str, ...]) -> str:
    """The sentence a step carries when it names a package the guide shows only as a pattern."""
    guessed = [n for n in names if n in p.packages.inferred]
    if not guessed:
        return ""
    return (
        f" Inference: {', '.join(guessed)} follow{'s' if len(guessed) == 1 else ''} NVIDIA's naming pattern; "
        "the guide does not show the exact name, so staging checks it is offered."
    )


def _pin_lines(p: Plan) -> tuple[str, ...]:
    path = _pin_path(p)
    if path is None:
        return ()
    return (
        "printf 'Package: *nvidia* libcuda* libnvcuvid* libnvoptix* libxnvctrl* firmware-nvidia-gsp "
        "cuda-drivers*\\n"
        f"Pin: version {p.b}.*\\nPin-Priority: 1001\\n' > {path}",
        "apt-get update",
    )


def _packages(p: Plan) -> tuple[str, ...]:
    pkgs = p.packages.driver
    if p.fabric_manager and p.packages.fabric_manager:
        pkgs = (*pkgs, p.packages.fabric_manager)
    return pkgs


def _stream(p: Plan, fabric_manager: bool) -> str:
    return (p.packages.stream or f"nvidia-driver:{p.b}") + ("/fm" if fabric_manager else "")


def stage(p: Plan) -> tuple[Step, ...]:
    d = p.distro
    steps = [
        Step(
            "Add NVIDIA's CUDA repository",
            f"The packaged driver branches come from here ({GUIDE}).",
            d.add_repo(),
            destructive=True,
            root=True,
        ),
        Step(
            "Install kernel headers and DKMS",
            "So the new module builds for the running kernel.",
            d.install_headers(),
            destructive=True,
            root=True,
        ),
    ]
    pin = _pin_lines(p)
    if pin:
        steps.append(
            Step(
                f"Keep apt on R{p.b}",
                "Debian's packages carry no branch in their names; without a pin apt takes the newest.",
                pin,
                destructive=True,
                root=True,
            )
        )
    if d.family == "rhel":
        offered: tuple[str, ...] = (
            f"dnf module list nvidia-driver | grep -E '^nvidia-driver +{p.b}-' "
            f"|| echo 'stream {p.b} not offered'",
        )
    else:
        offered = (f"apt-cache policy {' '.join(_packages(p))}",)
    why = "Find out now, not in the window, if the branch is missing." + _inferred(p, _packages(p))
    if d.id == "ubuntu":
        offered = (
            *offered,
            f"ubuntu-drivers list --gpgpu 2>/dev/null | grep -E 'nvidia:{p.b}(-server)?' "
            "|| echo 'not in the Ubuntu archive'",
        )
        why += (
            " Ubuntu's own archive may carry the branch too "
            f"(ubuntu-drivers install --gpgpu nvidia:{p.b}-server); it is the alternative to NVIDIA's "
            "repository, never a mix of both."
        )
    steps.append(Step(f"Check R{p.b} is offered", why, offered, expect=f"a {p.b}.* candidate"))
    if d.family == "rhel":
        download: tuple[str, ...] = (
            "dnf -y module reset nvidia-driver",
            f"dnf -y module enable {_stream(p, False)}",
            f"dnf -y install --downloadonly --allowerasing {' '.join(_packages(p))}",
        )
    else:
        download = (d.download_only(_packages(p)),)
    steps.append(
        Step(
            "Download the new driver packages",
            "The window then does not depend on the mirror." + _inferred(p, _packages(p)),
            download,
            root=True,
        )
    )
    if d.family == "rhel":
        keep = (
            'mkdir -p "$STATE/rollback"',
            'awk \'{sub(/^[(]none[)]:|^[0-9]+:/, "", $2); print $1 "-" $2}\' "$STATE/packages.before.txt" '
            '| while read -r pkg; do dnf download --destdir "$STATE/rollback" "$pkg"; done',
        )
    else:
        keep = (
            'mkdir -p "$STATE/rollback"',
            '(cd "$STATE/rollback" && awk \'{print $1 "=" $2}\' "$STATE/packages.before.txt" '
            '| while read -r pkg; do apt-get download "$pkg"; done)',
        )
    steps.append(
        Step(
            "Keep the current driver's packages for rollback",
            "Mirrors drop old versions; with the files at hand the rollback works offline.",
            keep,
            root=True,
        )
    )
    if p.secure_boot is not False:
        if d.id == "ubuntu":
            mok, make = "/var/lib/shim-signed/mok/MOK.der", "update-secureboot-policy --new-key"
        else:
            mok, make = "/var/lib/dkms/mok.pub", "dkms generate_mok"
        steps.append(
            Step(
                "Secure Boot: enroll the module signing key",
                "Only when Secure Boot is enabled. DKMS signs the module with this key; the firmware "
                "accepts it after enrollment at the next boot on the console (MOK Manager: Enroll MOK, "
                "then the password chosen here).",
                (
                    "if mokutil --sb-state 2>/dev/null | grep -q 'SecureBoot enabled'; then",
                    f"  test -f {mok} || {make}",
                    f"  mokutil --import {mok}",
                    "else echo 'Secure Boot is off: no key to enroll'; fi",
                ),
                destructive=True,
                root=True,
            )
        )
    if p.debian:
        hold: tuple[str, ...] = (
            "awk '{print $1}' \"$STATE/packages.before.txt\" "
            '| while read -r pkg; do apt-mark hold "$pkg"; done',
        )
    else:
        hold = ("dnf -y install python3-dnf-plugin-versionlock", "dnf versionlock add '*nvidia*'")
    steps.append(
        Step(
            "Hold the current driver until the window",
            "So an unattended upgrade cannot swap the libraries under the running module before the window.",
            hold,
            root=True,
        )
    )
    return tuple(steps)


def window(p: Plan) -> tuple[Step, ...]:
    stop = "systemctl stop nvidia-persistenced nvidia-dcgm 2>/dev/null || true"
    services = (
        (stop, "systemctl stop nvidia-fabricmanager 2>/dev/null || true") if p.fabric_manager else (stop,)
    )
    if p.debian:
        unhold: tuple[str, ...] = (
            "awk '{print $1}' \"$STATE/packages.before.txt\" "
            '| while read -r pkg; do apt-mark unhold "$pkg"; done',
        )
        install: tuple[str, ...] = (f"apt-get install -y {' '.join(_packages(p))}",)
        check: tuple[str, ...] = (
            "dpkg-query -W -f='${binary:Package} ${Version}\\n' "
            "| grep -E '^(nvidia|libnvidia|cuda-drivers)' | sort",
        )
    else:
        unhold = ("dnf versionlock delete '*nvidia*' || true",)
        install = (
            "dnf -y module reset nvidia-driver",
            f"dnf -y module install --allowerasing {_stream(p, bool(p.fabric_manager))}",
        )
        check = ("rpm -qa | grep -E 'nvidia|cuda-drivers' | sort",)
    check = (*check, "dkms status", "modinfo -F version nvidia")
    proc = [f"# seen at generation: pid {x.pid} {x.name} (GPU {x.gpu})" for x in p.processes or ()]
    steps = [
        Step(
            "Workloads stopped",
            "Only the workloads listed in preflight, by their owners' usual means.",
            (
                *proc,
                "# a Kubernetes node: kubectl drain <node> --ignore-daemonsets --delete-emptydir-data",
                "nvidia-smi --query-compute-apps=pid,process_name --format=csv,noheader",
            ),
            gate="Are the owners' GPU workloads stopped and the list above empty?",
            expect="no processes",
        ),
        Step(
            "Stop services that hold the driver",
            "Persistence, DCGM and fabric manager keep the module busy.",
            services,
            destructive=True,
            root=True,
        ),
        Step(
            "Release the holds",
            "Set in staging; the install needs them lifted.",
            unhold,
            destructive=True,
            root=True,
        ),
        Step(
            f"Install {p.target}",
            "The packages downloaded in staging." + _inferred(p, _packages(p)),
            install,
            destructive=True,
            root=True,
        ),
        Step(
            "Check before rebooting",
            f"DKMS must have built {p.b}.* for this kernel; if not, roll back now, before the reboot.",
            check,
            gate=f"Do the packages, dkms status and modinfo all show {p.b}.* for the running kernel?",
            expect=f"{p.b}.* everywhere",
        ),
        Step(
            "Reboot",
            "Loads the new kernel module."
            + (" Watch the console for MOK Manager." if p.secure_boot is not False else ""),
            ("systemctl reboot",),
            destructive=True,
            root=True,
        ),
    ]
    return tuple(steps)


def verify(p: Plan, max_cuda: str | None, expected: dict[str, str]) -> tuple[Step, ...]:
    n = expected["gpu_count"]
    steps = [
        Step(
            "The new driver is loaded on every GPU",
            f"Expect {n} GPU(s) on driver {expected['driver_version']}.",
            (
                "nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader",
                "v=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | sort -u)",
                f'case "$v" in {p.b}.*) echo "driver ok: $v" ;; '
                '*) echo "unexpected driver: $v" >&2; exit 1 ;; esac',
                f'test "$(nvidia-smi -L | wc -l)" -eq {n} || {{ echo "expected {n} GPUs" >&2; exit 1; }}',
            ),
            expect=f"{p.b}.* on {n} GPU(s)",
        ),
        Step(
            "Kernel module",
            f"Expect the {p.flavour} module.",
            ("cat /proc/driver/nvidia/version", "modinfo -F license nvidia"),
            expect=expected["kernel_module"],
        ),
        Step(
            "cudalign doctor",
            "Checks driver, GPUs and the installed stack against the knowledge base.",
            ("cudalign doctor --fail-on error",),
            expect=f"driver {p.b}.*" + (f", CUDA up to {max_cuda}" if max_cuda else "") + ", no errors",
        ),
        Step(
            "GPU stack smoke test",
            "Runs real kernels (a matmul checked against the CPU, cuDNN, NCCL, vLLM where installed) on "
            "every GPU with cudalign verify; where cudalign is not installed on the host, nvidia-smi and a "
            "torch one-liner show the same basics.",
            (
                "if command -v cudalign >/dev/null && cudalign verify --help >/dev/null 2>&1; then",
                "  cudalign verify",
                "else",
                "  nvidia-smi -L",
                '  python3 -c \'import torch; assert torch.cuda.is_available(), "CUDA not available"; '
                'x = torch.ones(1024, 1024, device="cuda"); '
                "print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), "
                "float((x @ x).sum()) == 1024.0 ** 3)'",
                "fi",
            ),
            expect="every check passes (without cudalign: the GPUs listed and 'True' last)",
        ),
        Step(
            "Containers see the GPUs",
            "The NVIDIA container runtime mounts the new driver into containers.",
            (
                "if command -v docker >/dev/null; then "
                "docker run --rm --gpus all ubuntu:22.04 nvidia-smi -L; fi",
            ),
        ),
    ]
    if p.fabric_manager:
        steps.append(
            Step(
                "Fabric manager",
                "Must be active, same version as the driver.",
                ("systemctl is-active nvidia-fabricmanager", "nvidia-smi -q | grep -i -A2 fabric"),
                expect="active",
            )
        )
    steps.append(
        Step(
            "Restart the workloads",
            "The ones stopped in the window, and uncordon the node if drained.",
            (
                "# restart each workload stopped in the window, by its owner's usual means",
                "# a drained Kubernetes node: kubectl uncordon <node>",
            ),
        )
    )
    return tuple(steps)


def rollback(p: Plan) -> tuple[Step, ...]:
    d = p.distro
    back = p.current or "the recorded driver"
    if p.debian:
        pin = _pin_path(p)
        clean = [f"rm -f {pin}"] if pin else []
        if p.packages.pinning:
            clean.append(f"apt-get purge -y {p.packages.pinning} || true")
        restore: tuple[str, ...] = (
            f"apt-get remove -y {' '.join(p.packages.driver)} || true",
            *clean,
            "apt-get update",
            'apt-get install -y --allow-downgrades "$STATE"/rollback/*.deb',
            "awk '{print $1}' \"$STATE/packages.before.txt\" "
            '| while read -r pkg; do apt-mark hold "$pkg"; done',
        )
        check = ("dpkg-query -W -f='${binary:Package} ${Version}\\n' | grep -E '^(nvidia|libnvidia)' | sort",)
    else:
        restore = (
            "dnf -y module reset nvidia-driver",
            'dnf -y install --allowerasing "$STATE"/rollback/*.rpm',
            "dnf versionlock add '*nvidia*'",
        )
        check = ("rpm -qa | grep -E 'nvidia|cuda-drivers' | sort",)
    return (
        Step(
            "Decide",
            "Roll back only when verification failed and the fix is not quick.",
            gate=f"Verification failed and you decided to return to {back}?",
        ),
        Step(
            "Stop workloads and services",
            "As in the window.",
            ("systemctl stop nvidia-persistenced nvidia-dcgm nvidia-fabricmanager 2>/dev/null || true",),
            destructive=True,
            root=True,
        ),
        Step(
            f"Reinstall {back}",
            "From the packages kept in staging." + _inferred(p, p.packages.driver),
            restore,
            destructive=True,
            root=True,
        ),
        Step(
            "Check before rebooting",
            "The recorded versions must be back, and DKMS built for this kernel.",
            (
                *check,
                "dkms status",
                "modinfo -F version nvidia",
                d.record_packages('"$STATE/packages.after-rollback.txt"'),
                'diff "$STATE/packages.before.txt" "$STATE/packages.after-rollback.txt" '
                '&& echo "packages as before"',
            ),
            gate=f"Do the packages and modinfo show {back} again?",
        ),
        Step("Reboot", "Loads the old module again.", ("systemctl reboot",), destructive=True, root=True),
        Step(
            "Verify the old driver",
            f"Expect {back} on every GPU, and the workloads running as before.",
            (
                "nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader",
                'diff "$STATE/gpus.before.csv" <(nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version '
                "--format=csv) && echo 'same as before the upgrade'",
            ),
        ),
    )
