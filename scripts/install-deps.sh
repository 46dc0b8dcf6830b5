#!/bin/bash
# Install the Debian packages minivmm needs to build and test.
# Run as root on Debian bookworm (or newer). Without root it prints the command to run and exits 1.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --lab    also what the nested Linux lab needs (QEMU 10, kernel, busybox)
set -euo pipefail
cd "$(dirname "$0")/.."

# busybox-static: the tier-1 lab selftest plays L2's HTTP transfers with its httpd and wget.
BASE_PKGS="build-essential pkg-config libfdt-dev liburing-dev check acpica-tools device-tree-compiler clang busybox-static"
# The nested lab (scripts/lab.sh): busybox for the L1/L2 initramfs, kmod (depmod) for their module
# indexes, cpio, xz, and gcc-12: the compiler Debian built the bookworm 6.12 kernels with, which the
# out-of-tree iommufd/vfio build must use. QEMU 10 comes from backports below. The kernel image,
# linux-headers-* and linux-source-* are not installed: scripts/lab.sh downloads the ones of the
# image's exact version into build/ (versions move with security updates). fio is the lab bench's
# workload in L2 (the fio side-by-side against QEMU), put on an ext4 image made with e2fsprogs' mke2fs -d.
LAB_PKGS="busybox-static kmod cpio xz-utils gcc-12 fio e2fsprogs"

want_lab=0; check_only=0
for a in "$@"; do
    case "$a" in
        --lab) want_lab=1 ;;
        --check) check_only=1 ;;   # exit 0 if nothing is missing, 1 otherwise; install nothing
        *) echo "usage: $0 [--lab] [--check]" >&2; exit 2 ;;
    esac
done

# Is a package installed?
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Do the installed UAPI headers have iommufd nesting (6.8+)? config.mk runs the same compile test.
uapi_ok() { bash scripts/check-uapi.sh >/dev/null 2>&1; }

missing=()
for p in $BASE_PKGS; do installed "$p" || missing+=("$p"); done
if [ $want_lab = 1 ]; then for p in $LAB_PKGS; do installed "$p" || missing+=("$p"); done; fi
need_bpo=0
uapi_ok || need_bpo=1
[ $want_lab = 1 ] && ! qemu-system-x86_64 --version 2>/dev/null | grep -qE 'version (1[0-9]|[2-9][0-9])\.' && need_bpo=1

if [ ${#missing[@]} = 0 ] && [ $need_bpo = 0 ]; then
    [ $check_only = 1 ] || echo "install-deps: everything is installed"
    exit 0
fi
[ $check_only = 1 ] && exit 1

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
bpo_cmd="echo 'deb http://deb.debian.org/debian ${codename}-backports main' > /etc/apt/sources.list.d/backports.list"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing: ${missing[*]:-}$([ $need_bpo = 1 ] && echo ' linux-libc-dev>=6.8 (bookworm-backports)')" >&2
    echo "install-deps: run as root:" >&2
    [ $need_bpo = 1 ] && echo "  sudo sh -c \"$bpo_cmd\"" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]:-}" >&2
    [ $need_bpo = 1 ] && echo "  sudo apt-get install -y -t ${codename}-backports linux-libc-dev" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ $need_bpo = 1 ] && ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "install-deps: adding ${codename}-backports to the apt sources"
    sh -c "$bpo_cmd"
fi
echo "install-deps: apt-get update"
apt-get update -qq
if [ ${#missing[@]} != 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! uapi_ok; then
    echo "install-deps: installing linux-libc-dev from ${codename}-backports (iommufd nesting UAPI)"
    apt-get install -y -qq -t "${codename}-backports" linux-libc-dev
fi
if [ $want_lab = 1 ] && ! qemu-system-x86_64 --version 2>/dev/null | grep -qE 'version (1[0-9]|[2-9][0-9])\.'; then
    echo "install-deps: installing qemu-system-x86 from ${codename}-backports"
    apt-get install -y -qq --no-install-recommends -t "${codename}-backports" qemu-system-x86
fi
uapi_ok || { echo "install-deps: the UAPI headers still lack iommufd nesting" >&2; exit 1; }
echo "install-deps: done"
