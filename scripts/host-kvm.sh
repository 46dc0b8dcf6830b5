#!/bin/bash
# What this host's /dev/kvm is, as one word on stdout:
#   vmx | svm   hardware virtualization (kvm_intel / kvm_amd): boots Linux guests at native speed
#   pvm         kvm_pvm, a software KVM: guest CPL3 native, CPL0 emulated (~2 M instructions/s); runs
#               the tier-2 guest programs but cannot boot Linux in useful time
#   unknown     a /dev/kvm of another kind
#   noaccess    /dev/kvm exists but this user cannot read and write it
#   none        no /dev/kvm
# `--usable` instead exits 0 when minivmm can run guest programs here (vmx, svm, pvm, unknown).
# MINIVMM_KVM=none|pvm|... overrides the answer (tests of the no-KVM paths).
set -u
kind() {
	if [ -n "${MINIVMM_KVM:-}" ]; then echo "$MINIVMM_KVM"; return; fi
	[ -e /dev/kvm ] || { echo none; return; }
	{ [ -r /dev/kvm ] && [ -w /dev/kvm ]; } || { echo noaccess; return; }
	if [ -d /sys/module/kvm_pvm ]; then echo pvm
	elif [ -d /sys/module/kvm_intel ]; then echo vmx
	elif [ -d /sys/module/kvm_amd ]; then echo svm
	else echo unknown
	fi
}
k=$(kind)
if [ "${1:-}" = --usable ]; then
	case $k in none | noaccess) exit 1 ;; *) exit 0 ;; esac
fi
echo "$k"
