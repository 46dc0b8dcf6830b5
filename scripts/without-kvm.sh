#!/bin/bash
# scripts/without-kvm.sh COMMAND [ARG...]: run COMMAND as on a host without /dev/kvm (the machines
# issue 9 is about), here, whatever this host has. It gets a private mount namespace whose /dev is a
# copy of this one without kvm (devpts and shm mounted anew); nothing outside it changes. Needs root
# (unshare -m); says so and exits 2 otherwise. MINIVMM_KVM=none is exported for scripts/host-kvm.sh.
set -u
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "without-kvm: needs root and unshare(1) for a private /dev" >&2
	exit 2
fi
export MINIVMM_KVM=none
exec unshare -m --propagation private bash -c '
	set -e
	d=$(mktemp -d /tmp/without-kvm.XXXXXX)
	mount -t tmpfs -o mode=755 without-kvm "$d"
	for f in /dev/*; do
		case ${f#/dev/} in kvm | pts | shm | mqueue | hugepages) continue ;; esac
		cp -a "$f" "$d/" 2>/dev/null || true
	done
	mkdir -p "$d/pts" "$d/shm"
	mount -o bind "$d" /dev
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	ln -sf pts/ptmx /dev/ptmx
	mount -t tmpfs -o mode=1777 shm /dev/shm
	[ ! -e /dev/kvm ] || { echo "without-kvm: /dev/kvm is still there" >&2; exit 2; }
	exec "$@"' without-kvm "$@"
