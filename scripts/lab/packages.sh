# shellcheck shell=bash
# Sourced by scripts/lab.sh: the Debian packages the lab is built from, all of one kernel version.
#
# The kernel image comes from scripts/fetch-kernel.sh (the newest linux-image-6.12.*-amd64 apt offers,
# unpacked under build/cache/linux-image/<release>/). Its linux-headers-* (+ -common, linux-kbuild-*)
# and linux-source-6.12 are downloaded here at the image's exact package version and unpacked under
# build/lab/<release>/: out-of-tree modules load only into the kernel they were built against, and
# security updates move the version, so nothing here names one. A release already unpacked is reused
# without apt (the lab then works offline).

# Source paths the lab's module build needs from linux-source (scripts/lab/modules.sh).
LAB_SRC_PATHS="drivers/iommu drivers/vfio lib/interval_tree.c"

# lab_kernel: find or fetch the kernel. Sets LAB_REL (e.g. 6.12.117+deb12-amd64), LAB_VMLINUZ_HOST,
# LAB_IMGROOT (the unpacked image package), LAB_MM (6.12) and LAB_DIR (build/lab/<release>).
lab_kernel() {
	LAB_VMLINUZ_HOST=$(bash scripts/fetch-kernel.sh) || lab_die "scripts/fetch-kernel.sh found no kernel"
	[ -f "$LAB_VMLINUZ_HOST" ] || lab_die "scripts/fetch-kernel.sh printed '$LAB_VMLINUZ_HOST', which is no file"
	LAB_REL=${LAB_VMLINUZ_HOST##*/vmlinuz-}
	LAB_IMGROOT=$(dirname "$(dirname "$LAB_VMLINUZ_HOST")")
	LAB_MM=$(echo "$LAB_REL" | cut -d. -f1,2)
	LAB_DIR=$LAB_BUILD/$LAB_REL
	[ -d "$LAB_IMGROOT/lib/modules/$LAB_REL" ] || lab_die "$LAB_IMGROOT has no lib/modules/$LAB_REL"
	mkdir -p "$LAB_DIR"
}

# The Debian version of the image package (e.g. 6.12.117-1~deb12u1): from the .deb fetch-kernel.sh
# kept, else what apt offers for that package name.
lab_image_version() {
	local deb v
	deb=$(ls "$LAB_ROOT"/build/cache/linux-image-"$LAB_REL"-unsigned_*.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$deb" ]; then
		dpkg-deb -f "$deb" Version
		return
	fi
	v=$(apt-cache policy "linux-image-$LAB_REL-unsigned" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$v" ] && [ "$v" != "(none)" ] && echo "$v"
}

# apt-get download PKG=VERSION... into the current directory.
lab_apt_download() {
	# apt's sandbox user cannot write to build/; apt then downloads as root, and says so: not news.
	apt-get download -q "$@" 2>&1 | grep -v -e 'unsandboxed as root' -e '^Get:' -e '^Fetched' >&2
	for p in "$@"; do
		ls "${p%%=*}"_*.deb >/dev/null 2>&1 || return 1
	done
}

# lab_headers: linux-headers of LAB_REL unpacked into $LAB_DIR/headers; sets LAB_KDIR (for make -C).
lab_headers() {
	local stamp=$LAB_DIR/headers/.done ver kbuild dl t
	LAB_KDIR=$LAB_DIR/headers/usr/src/linux-headers-$LAB_REL
	[ -f "$stamp" ] && [ -f "$LAB_KDIR/Makefile" ] && return 0
	ver=$(lab_image_version) || true
	[ -n "$ver" ] || lab_die "cannot tell the package version of linux-image-$LAB_REL"
	kbuild=$(apt-cache depends "linux-headers-$LAB_REL=$ver" 2>/dev/null | sed -n 's/^ *Depends: \(linux-kbuild-[^ ]*\)$/\1/p' | head -n 1)
	[ -n "$kbuild" ] || lab_die "apt knows no linux-headers-$LAB_REL=$ver (apt-get update? bookworm-security in the sources?)"
	lab_say "downloading linux-headers-$LAB_REL, -common and $kbuild, version $ver"
	dl=$LAB_DIR/dl
	rm -rf "$dl" "$LAB_DIR/headers"
	mkdir -p "$dl"
	(cd "$dl" && lab_apt_download "linux-headers-$LAB_REL=$ver" \
		"linux-headers-${LAB_REL%-*}-common=$ver" "$kbuild=$ver") ||
		lab_die "could not download the linux-headers packages of $ver"
	t=$LAB_DIR/headers.tmp
	rm -rf "$t"
	mkdir -p "$t"
	for d in "$dl"/*.deb; do
		dpkg-deb -x "$d" "$t" || lab_die "dpkg-deb -x $d failed"
	done
	# The flavour's Makefile includes the -common one by its absolute /usr/src path: point it here.
	# (The scripts/ and tools/ symlinks to linux-kbuild are relative and stay inside the tree.)
	sed -i "s|^include /usr/src/|include $LAB_DIR/headers/usr/src/|" "$t/usr/src/linux-headers-$LAB_REL/Makefile"
	rm -rf "$dl"
	mv "$t" "$LAB_DIR/headers"
	echo "$ver" >"$stamp"
}

# lab_source: LAB_SRC_PATHS of linux-source-<mm> (same version) unpacked into $LAB_DIR/src; sets LAB_SRC.
lab_source() {
	local stamp=$LAB_DIR/src/.done ver dl p paths=""
	LAB_SRC=$LAB_DIR/src/linux-source-$LAB_MM
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$LAB_SRC_PATHS" ] && return 0
	ver=$(lab_image_version) || true
	[ -n "$ver" ] || lab_die "cannot tell the package version of linux-image-$LAB_REL"
	lab_say "downloading linux-source-$LAB_MM=$ver (about 150 MB) and unpacking $LAB_SRC_PATHS"
	dl=$LAB_DIR/dl-src
	rm -rf "$dl" "$LAB_DIR/src"
	mkdir -p "$dl" "$LAB_DIR/src"
	(cd "$dl" && lab_apt_download "linux-source-$LAB_MM=$ver") ||
		lab_die "could not download linux-source-$LAB_MM=$ver"
	for p in $LAB_SRC_PATHS; do paths="$paths linux-source-$LAB_MM/$p"; done
	# The package holds one tarball; take only what the module build needs from it.
	# shellcheck disable=SC2086
	dpkg-deb --fsys-tarfile "$dl"/linux-source-*.deb | tar -xO "./usr/src/linux-source-$LAB_MM.tar.xz" |
		xz -dc | tar -x -C "$LAB_DIR/src" $paths || lab_die "could not unpack linux-source-$LAB_MM"
	rm -rf "$dl"
	echo "$LAB_SRC_PATHS" >"$stamp"
}

# lab_kmods: the image's modules with a modules.dep (Debian ships none: depmod runs at install), so
# `modprobe -d` can list any module's dependencies. Hard links: no copy of the data.
lab_kmods() {
	LAB_KMODS=$LAB_DIR/kmods
	[ -f "$LAB_KMODS/.done" ] && return 0
	rm -rf "$LAB_KMODS"
	mkdir -p "$LAB_KMODS/lib/modules"
	cp -al "$LAB_IMGROOT/lib/modules/$LAB_REL" "$LAB_KMODS/lib/modules/" 2>/dev/null ||
		cp -a "$LAB_IMGROOT/lib/modules/$LAB_REL" "$LAB_KMODS/lib/modules/"
	depmod -b "$LAB_KMODS" "$LAB_REL" || lab_die "depmod on the image's modules failed"
	touch "$LAB_KMODS/.done"
}
