#!/usr/bin/env bash
# cudalign runbook: ubuntu2004-gpu-01 (Ubuntu 20.04, 1x L40S) to R570 (open kernel module).
# Upgrade the NVIDIA driver on ubuntu2004-gpu-01 (Ubuntu 20.04, 1x L40S) from 535.183.01 to R570 (CUDA
# up to 12.8), open kernel module, from NVIDIA's CUDA repository
# (https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/). Preflight and staging change
# nothing that runs and can be done any time before the maintenance window; installation and the
# reboot happen together inside it. Nothing is installed earlier: new user-space libraries next to the
# old loaded kernel module break every GPU program until the reboot ('Failed to initialize NVML:
# Driver/library version mismatch', CA105). Kernel module: NVIDIA recommends the open kernel modules
# for Turing and newer GPUs from R560. The newest R570 release the knowledge base knows is 570.172.08;
# the package manager installs the newest 570.* in NVIDIA's repository when the window runs, which may
# be newer.
#
# Read it before running it. Run one phase at a time, in order:
#   preflight | stage | window | verify | rollback
# Destructive steps ask first (type 'yes'); CUDALIGN_YES=1 answers yes.
set -euo pipefail

STATE="${STATE:-/var/tmp/cudalign-driver-upgrade}"
export STATE

say() { printf '\n==> %s\n' "$*"; }

confirm() {
  # Ask on the terminal; only the word 'yes' goes on. CUDALIGN_YES=1 answers yes for automation.
  local answer=""
  if [ "${CUDALIGN_YES:-}" = "1" ]; then
    printf 'confirmed (CUDALIGN_YES=1): %s\n' "$1"
    return 0
  fi
  if ! { exec 3<>/dev/tty; } 2>/dev/null; then
    printf 'cannot ask "%s": no terminal (set CUDALIGN_YES=1 to confirm)\n' "$1" >&2
    exit 1
  fi
  printf '%s [yes/no] ' "$1" >&3
  read -r answer <&3
  exec 3>&-
  if [ "$answer" != "yes" ]; then
    printf 'stopped: not confirmed\n' >&2
    exit 1
  fi
}

EXPECT_DRIVER=535.183.01
EXPECT_KERNEL=''

same_host() {
  # The host may have changed since this runbook was written: refuse another driver or kernel.
  local driver="" kernel
  if [ "${CUDALIGN_FORCE:-}" = "1" ]; then return 0; fi
  kernel=$(uname -r)
  if [ -r /sys/module/nvidia/version ]; then
    driver=$(cat /sys/module/nvidia/version)
  elif command -v nvidia-smi >/dev/null 2>&1; then
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1) || driver=""
  fi
  if [ -n "$EXPECT_DRIVER" ] && [ "$driver" != "$EXPECT_DRIVER" ]; then
    printf 'refused: written for driver %s, the host runs %s (CUDALIGN_FORCE=1 overrides)
'       "$EXPECT_DRIVER" "${driver:-none}" >&2
    exit 1
  fi
  if [ -n "$EXPECT_KERNEL" ] && [ "$kernel" != "$EXPECT_KERNEL" ]; then
    printf 'refused: written for kernel %s, the host runs %s (CUDALIGN_FORCE=1 overrides)
'       "$EXPECT_KERNEL" "$kernel" >&2
    exit 1
  fi
}

log_phase() {
  # Everything a phase prints also goes to $STATE/runbook.log, kept for the rollback.
  mkdir -p "$STATE"
  exec > >(tee -a "$STATE/runbook.log") 2>&1
  printf '
[%s] %s %s
' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$0" "$1"
}

# CUDALIGN_SIMULATE=1: package steps are apt-get --simulate / dnf --assumeno, holds, services, reboots and
# key enrollment are printed, not done; confirmations are answered. Packages NVIDIA's repository would
# provide are reported, not resolved, when the repository cannot be reached.
NVIDIA_PACKAGES=nvidia-open-570
NVIDIA_REPO_REACHABLE=1
if [ "${CUDALIGN_SIMULATE:-}" = "1" ]; then
  CUDALIGN_YES=1
  _not_nvidia() {
    local arg out=()
    for arg in "$@"; do
      if [ "$NVIDIA_REPO_REACHABLE" = "0" ] && [[ " $NVIDIA_PACKAGES " == *" $arg "* ]]; then
        printf 'simulate: not resolved here (NVIDIA repository unreachable): %s
' "$arg"
      else
        out+=("$arg")
      fi
    done
    SIM_ARGS=("${out[@]}")
  }
  _has_packages() {  # any argument left besides the sub-command and options?
    local arg n=0
    for arg in "${SIM_ARGS[@]}"; do case "$arg" in -*) ;; *) n=$((n + 1)) ;; esac; done
    [ "$n" -gt 1 ]
  }
  apt-get() {
    case " $* " in
      *" install "*|*" remove "*|*" purge "*)
        _not_nvidia "$@"
        if _has_packages; then command apt-get --simulate "${SIM_ARGS[@]}"; fi ;;
      *" download "*) command apt-get --print-uris "$@" ;;
      *) command apt-get "$@" ;;
    esac
  }
  apt-cache() { _not_nvidia "$@"; command apt-cache "${SIM_ARGS[@]}"; }
  curl() {
    if ! command curl "$@"; then
      printf 'simulate: NVIDIA repository unreachable from here
'
      NVIDIA_REPO_REACHABLE=0
    fi
  }
  dpkg() {
    case " $* " in *" -i "*) printf 'simulate: dpkg %s
' "$*" ;; *) command dpkg "$@" ;; esac
  }
  dnf() { command dnf --assumeno "$@" || true; }
  apt-mark() {
    case "$1" in hold|unhold) printf 'simulate: apt-mark %s
' "$*" ;; *) command apt-mark "$@" ;; esac
  }
  systemctl() {
    case "$1" in
      is-active|list-units|status) command systemctl "$@" ;;
      *) printf 'simulate: systemctl %s
' "$*" ;;
    esac
  }
  mokutil() {
    case "$1" in --sb-state) command mokutil "$@" ;; *) printf 'simulate: mokutil %s
' "$*" ;; esac
  }
  dkms() { case "$1" in status) command dkms "$@" ;; *) printf 'simulate: dkms %s
' "$*" ;; esac; }
fi

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    printf 'this phase needs root: sudo %s %s\n' "$0" "$1" >&2
    exit 1
  fi
}

preflight() {
  # Preflight: now, read-only: nothing changes on the host
  log_phase preflight
  say 'Console access'
  # A driver that fails to build or load, or a Secure Boot key waiting for enrollment, needs the
  # console; SSH alone is not enough.
  confirm 'Do you have out-of-band console access to this host (BMC/IPMI, iDRAC/iLO, or the cloud serial console)?'
  say 'Record the current driver'
  # What runs now, saved where the reboot does not erase it: the rollback returns to exactly this.
  STATE="${STATE:-/var/tmp/cudalign-driver-upgrade}"; mkdir -p "$STATE"
  nvidia-smi -q > "$STATE/nvidia-smi-q.before.txt" || echo "nvidia-smi: no driver answers"
  nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version --format=csv | tee "$STATE/gpus.before.csv" || echo "no GPUs listed"
  tee "$STATE/proc-version.before.txt" 2>/dev/null < /proc/driver/nvidia/version || echo "no NVIDIA kernel module loaded"
  modinfo -F license nvidia 2>/dev/null | tee "$STATE/module-license.before.txt" || echo "no nvidia kernel module installed"
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n' | awk '$1 == "ii" && $2 ~ /nvidia|cuda-drivers|libcuda|libxnvctrl/ {print $2, $3}' > "$STATE/packages.before.txt"
  uname -r > "$STATE/kernel.before.txt"; wc -l "$STATE/packages.before.txt"
  # expect: driver 535.183.01 on 1 GPU(s)
  say 'GPU processes running now'
  # Stop only workloads you own and know how to restart; write down each one's restart command.
  nvidia-smi --query-compute-apps=pid,process_name,gpu_bus_id,used_memory --format=csv || echo 'nvidia-smi: no driver answers'
  pids=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null | paste -sd, -) || pids=""
  if [ -n "$pids" ]; then ps -o pid,user,etime,args -p "$pids"; else echo "no GPU compute processes"; fi
  say 'Containers and services using the GPUs'
  # Containers, DCGM and persistence daemons hold the driver open; list them so the window stops them on
  # purpose and restarts them after. On a Kubernetes node whose driver the NVIDIA GPU Operator manages
  # (a driver container), upgrade through the operator instead of this runbook.
  docker ps --format '{{.ID}} {{.Image}} {{.Names}}' 2>/dev/null || echo 'docker: not running here'
  systemctl list-units --type=service --state=running --no-legend | grep -Ei 'nvidia|dcgm|docker|containerd|kubelet' || true
  if [ -d /run/nvidia/driver ]; then echo 'driver container (GPU Operator) present'; fi
  say 'Secure Boot state'
  # With Secure Boot on, the DKMS-built module must be signed by a key enrolled in the firmware (MOK);
  # enrolling it needs the console at the next boot.
  mokutil --sb-state || echo 'mokutil missing: check Secure Boot in the firmware setup'
  say 'Kernel headers and DKMS for the running kernel'
  # DKMS builds the new module against these; without them the install succeeds and the reboot comes up
  # without a driver.
  dpkg -s dkms "linux-headers-$(uname -r)" 2>/dev/null | grep -E "^(Package|Status):" || true
  say 'Kernel the reboot will boot'
  # If a newer kernel is installed but not running, the reboot boots it: DKMS needs its headers too.
  uname -r
  find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1
  # expect: the same kernel twice; otherwise install the headers for the newer one in staging
  say 'Disk space'
  # Driver packages and DKMS builds need space in /usr, /var and /boot (initramfs).
  df -h / /usr /var /boot 2>/dev/null || true
  # expect: at least 2 GB free on /usr and /var, 300 MB on /boot
  say 'Held or version-locked packages'
  # A hold on a driver package stops the upgrade halfway; note every hold to restore it afterwards.
  apt-mark showhold
  say 'Kernel module flavour'
  # Target flavour: open. NVIDIA recommends the open kernel modules for Turing and newer GPUs from R560.
  modinfo -F license nvidia 2>/dev/null || echo 'no nvidia kernel module installed'
  # expect: 'Dual MIT/GPL' is the open module, 'NVIDIA' the proprietary one
  say 'NVSwitch and Fabric Manager'
  # On NVSwitch systems (HGX/DGX) the fabric manager package must be the same version as the driver, or
  # the GPUs stay unusable after the reboot.
  ls /dev/nvidia-nvswitch* 2>/dev/null || echo 'no NVSwitch devices'
  systemctl is-active nvidia-fabricmanager || true
  say 'Preflight: done'
}

stage() {
  # Stage: before the maintenance window: repositories and downloads, the running driver untouched
  log_phase stage
  same_host
  need_root stage
  mkdir -p "$STATE"
  say 'Add NVIDIA'"'"'s CUDA repository'
  # The packaged driver branches come from here (https://docs.nvidia.com/datacenter/tesla/driver-
  # installation-guide/).
  confirm 'Run: Add NVIDIA'"'"'s CUDA repository?'
  curl -fsSLo /tmp/cuda-keyring.deb https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2004/x86_64/cuda-keyring_1.1-1_all.deb
  dpkg -i /tmp/cuda-keyring.deb
  apt-get update
  say 'Install kernel headers and DKMS'
  # So the new module builds for the running kernel.
  confirm 'Run: Install kernel headers and DKMS?'
  apt-get update
  apt-get install -y dkms "linux-headers-$(uname -r)"
  say 'Check R570 is offered'
  # Find out now, not in the window, if the branch is missing. Inference: nvidia-open-570 follows
  # NVIDIA's naming pattern; the guide does not show the exact name, so staging checks it is offered.
  # Ubuntu's own archive may carry the branch too (ubuntu-drivers install --gpgpu nvidia:570-server); it
  # is the alternative to NVIDIA's repository, never a mix of both.
  apt-cache policy nvidia-open-570
  ubuntu-drivers list --gpgpu 2>/dev/null | grep -E 'nvidia:570(-server)?' || echo 'not in the Ubuntu archive'
  # expect: a 570.* candidate
  say 'Download the new driver packages'
  # The window then does not depend on the mirror. Inference: nvidia-open-570 follows NVIDIA's naming
  # pattern; the guide does not show the exact name, so staging checks it is offered.
  apt-get install -y --download-only nvidia-open-570
  say 'Keep the current driver'"'"'s packages for rollback'
  # Mirrors drop old versions; with the files at hand the rollback works offline.
  mkdir -p "$STATE/rollback"
  (cd "$STATE/rollback" && awk '{print $1 "=" $2}' "$STATE/packages.before.txt" | while read -r pkg; do apt-get download "$pkg"; done)
  say 'Secure Boot: enroll the module signing key'
  # Only when Secure Boot is enabled. DKMS signs the module with this key; the firmware accepts it after
  # enrollment at the next boot on the console (MOK Manager: Enroll MOK, then the password chosen here).
  confirm 'Run: Secure Boot: enroll the module signing key?'
  if mokutil --sb-state 2>/dev/null | grep -q 'SecureBoot enabled'; then
    test -f /var/lib/shim-signed/mok/MOK.der || update-secureboot-policy --new-key
    mokutil --import /var/lib/shim-signed/mok/MOK.der
  else echo 'Secure Boot is off: no key to enroll'; fi
  say 'Hold the current driver until the window'
  # So an unattended upgrade cannot swap the libraries under the running module before the window.
  awk '{print $1}' "$STATE/packages.before.txt" | while read -r pkg; do apt-mark hold "$pkg"; done
  say 'Stage: done'
}

window() {
  # Maintenance window: workloads stopped: install, then reboot
  log_phase window
  same_host
  need_root window
  mkdir -p "$STATE"
  say 'Workloads stopped'
  # Only the workloads listed in preflight, by their owners' usual means.
  # a Kubernetes node: kubectl drain <node> --ignore-daemonsets --delete-emptydir-data
  nvidia-smi --query-compute-apps=pid,process_name --format=csv,noheader
  # expect: no processes
  confirm 'Are the owners'"'"' GPU workloads stopped and the list above empty?'
  say 'Stop services that hold the driver'
  # Persistence, DCGM and fabric manager keep the module busy.
  confirm 'Run: Stop services that hold the driver?'
  systemctl stop nvidia-persistenced nvidia-dcgm 2>/dev/null || true
  say 'Release the holds'
  # Set in staging; the install needs them lifted.
  confirm 'Run: Release the holds?'
  awk '{print $1}' "$STATE/packages.before.txt" | while read -r pkg; do apt-mark unhold "$pkg"; done
  say 'Install R570'
  # The packages downloaded in staging. Inference: nvidia-open-570 follows NVIDIA's naming pattern; the
  # guide does not show the exact name, so staging checks it is offered.
  confirm 'Run: Install R570?'
  apt-get install -y nvidia-open-570
  say 'Check before rebooting'
  # DKMS must have built 570.* for this kernel; if not, roll back now, before the reboot.
  dpkg-query -W -f='${binary:Package} ${Version}\n' | grep -E '^(nvidia|libnvidia|cuda-drivers)' | sort
  dkms status
  modinfo -F version nvidia
  # expect: 570.* everywhere
  confirm 'Do the packages, dkms status and modinfo all show 570.* for the running kernel?'
  say Reboot
  # Loads the new kernel module. Watch the console for MOK Manager.
  confirm 'Run: Reboot?'
  systemctl reboot
  say 'Maintenance window: done'
}

verify() {
  # Verify: after the reboot
  log_phase verify
  mkdir -p "$STATE"
  say 'The new driver is loaded on every GPU'
  # Expect 1 GPU(s) on driver 570.*.
  nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  v=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | sort -u)
  case "$v" in 570.*) echo "driver ok: $v" ;; *) echo "unexpected driver: $v" >&2; exit 1 ;; esac
  test "$(nvidia-smi -L | wc -l)" -eq 1 || { echo "expected 1 GPUs" >&2; exit 1; }
  # expect: 570.* on 1 GPU(s)
  say 'Kernel module'
  # Expect the open module.
  cat /proc/driver/nvidia/version
  modinfo -F license nvidia
  # expect: Dual MIT/GPL
  say 'cudalign doctor'
  # Checks driver, GPUs and the installed stack against the knowledge base.
  cudalign doctor --fail-on error
  # expect: driver 570.*, CUDA up to 12.8, no errors
  say 'GPU stack smoke test'
  # Runs real kernels (a matmul checked against the CPU, cuDNN, NCCL, vLLM where installed) on every GPU
  # with cudalign verify; where cudalign is not installed on the host, nvidia-smi and a torch one-liner
  # show the same basics.
  if command -v cudalign >/dev/null && cudalign verify --help >/dev/null 2>&1; then
    cudalign verify
  else
    nvidia-smi -L
    python3 -c 'import torch; assert torch.cuda.is_available(), "CUDA not available"; x = torch.ones(1024, 1024, device="cuda"); print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), float((x @ x).sum()) == 1024.0 ** 3)'
  fi
  # expect: every check passes (without cudalign: the GPUs listed and 'True' last)
  say 'Containers see the GPUs'
  # The NVIDIA container runtime mounts the new driver into containers.
  if command -v docker >/dev/null; then docker run --rm --gpus all ubuntu:22.04 nvidia-smi -L; fi
  say 'Restart the workloads'
  # The ones stopped in the window, and uncordon the node if drained.
  # restart each workload stopped in the window, by its owner's usual means
  # a drained Kubernetes node: kubectl uncordon <node>
  say 'Verify: done'
}

rollback() {
  # Rollback: only if verification fails: back to the recorded driver
  log_phase rollback
  need_root rollback
  mkdir -p "$STATE"
  say Decide
  # Roll back only when verification failed and the fix is not quick.
  confirm 'Verification failed and you decided to return to 535.183.01?'
  say 'Stop workloads and services'
  # As in the window.
  confirm 'Run: Stop workloads and services?'
  systemctl stop nvidia-persistenced nvidia-dcgm nvidia-fabricmanager 2>/dev/null || true
  say 'Reinstall 535.183.01'
  # From the packages kept in staging. Inference: nvidia-open-570 follows NVIDIA's naming pattern; the
  # guide does not show the exact name, so staging checks it is offered.
  confirm 'Run: Reinstall 535.183.01?'
  apt-get remove -y nvidia-open-570 || true
  apt-get update
  apt-get install -y --allow-downgrades "$STATE"/rollback/*.deb
  awk '{print $1}' "$STATE/packages.before.txt" | while read -r pkg; do apt-mark hold "$pkg"; done
  say 'Check before rebooting'
  # The recorded versions must be back, and DKMS built for this kernel.
  dpkg-query -W -f='${binary:Package} ${Version}\n' | grep -E '^(nvidia|libnvidia)' | sort
  dkms status
  modinfo -F version nvidia
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n' | awk '$1 == "ii" && $2 ~ /nvidia|cuda-drivers|libcuda|libxnvctrl/ {print $2, $3}' > "$STATE/packages.after-rollback.txt"
  diff "$STATE/packages.before.txt" "$STATE/packages.after-rollback.txt" && echo "packages as before"
  confirm 'Do the packages and modinfo show 535.183.01 again?'
  say Reboot
  # Loads the old module again.
  confirm 'Run: Reboot?'
  systemctl reboot
  say 'Verify the old driver'
  # Expect 535.183.01 on every GPU, and the workloads running as before.
  nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  diff "$STATE/gpus.before.csv" <(nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version --format=csv) && echo 'same as before the upgrade'
  say 'Rollback: done'
}

case "${1:-}" in
  preflight) preflight ;;
  stage) stage ;;
  window) window ;;
  verify) verify ;;
  rollback) rollback ;;
  *) printf 'usage: %s {preflight|stage|window|verify|rollback}\n' "$0" >&2; exit 2 ;;
esac
