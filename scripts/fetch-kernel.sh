#!/bin/bash
# Fetch a stock Debian 6.12 kernel for the tests and the nested lab, without installing it.
#
#   scripts/fetch-kernel.sh            print the path of the newest cached-or-downloaded vmlinuz
#   scripts/fetch-kernel.sh --version  print its kernel release (e.g. 6.12.117+deb12-amd64) instead
#
# Picks the newest linux-image-6.12.<N>+debXX-amd64-unsigned apt knows (bookworm-security or
# bookworm-backports; never -dbg, -rt or -cloud), `apt-get download`s it into build/cache/ and unpacks the
# whole package (boot/vmlinuz-*, lib/modules/*) into build/cache/linux-image/<release>/. A release
# already unpacked is reused without downloading. Only the path (or release) goes to stdout; messages
# go to stderr. Versions move with security updates, so nothing here names one.
set -euo pipefail

want=path
case "${1:-}" in
    "") ;;
    --version) want=version ;;
    *) echo "usage: $0 [--version]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
CACHE="$PWD/build/cache"
IMG_DIR="$CACHE/linux-image"
# apt lists older than this are refreshed (when we may; a failed refresh is not fatal).
STALE_DAYS=7

msg() { echo "fetch-kernel: $*" >&2; }
fail() { msg "$*"; exit 1; }

mkdir -p "$IMG_DIR"
# Tests and the lab may run this concurrently: one fetch at a time.
exec 9>"$CACHE/.fetch-kernel.lock"
flock 9

# Kernel release of an unpacked tree whose vmlinuz is present, newest first.
cached_releases() {
    local d r
    for d in "$IMG_DIR"/*/; do
        r=$(basename "$d")
        if [ -f "$IMG_DIR/$r/boot/vmlinuz-$r" ]; then echo "$r"; fi
    done | sort -rV
}

emit() {
    local r=$1
    if [ $want = version ]; then echo "$r"; else echo "$IMG_DIR/$r/boot/vmlinuz-$r"; fi
    exit 0
}

# Newest kernel release with an installable -unsigned image package in the apt lists, or nothing.
newest_available() {
    local names r
    command -v apt-cache >/dev/null || return 0
    names=$(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
        sed -nE 's/^linux-image-(6\.12\.[0-9]+(\+deb[0-9]+)?-amd64)-unsigned$/\1/p' | sort -rV) || true
    for r in $names; do
        # A name can linger in the cache without a version to download.
        if apt-cache policy "linux-image-$r-unsigned" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
            echo "$r"
            return 0
        fi
    done
}

lists_stale() {
    local newest
    newest=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -"$STALE_DAYS" 2>/dev/null || true)
    [ -z "$newest" ]
}

apt_update() {
    if [ "$(id -u)" != 0 ]; then
        msg "apt lists are stale or empty and updating them needs root (sudo apt-get update)"
        return 1
    fi
    msg "apt-get update"
    apt-get update -qq >&2 || { msg "apt-get update failed (no network?)"; return 1; }
}

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    { r=$(cached_releases | sed -n 1p); [ -n "$r" ] && emit "$r"; fail "needs apt-get and dpkg-deb (Debian) to fetch a kernel, and none is cached in $IMG_DIR"; }

rel=$(newest_available)
if [ -z "$rel" ] || lists_stale; then
    apt_update || true
    rel=$(newest_available)
fi

if [ -z "$rel" ]; then
    r=$(cached_releases | sed -n 1p)
    if [ -n "$r" ]; then
        msg "apt offers no linux-image-6.12.*-amd64-unsigned; using the cached $r"
        emit "$r"
    fi
    fail "no linux-image-6.12.*-amd64-unsigned package in the apt lists and none cached: add bookworm-security or bookworm-backports to the apt sources, run apt-get update (needs network), then run this again"
fi

[ -f "$IMG_DIR/$rel/boot/vmlinuz-$rel" ] && emit "$rel"

pkg="linux-image-$rel-unsigned"
tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
msg "downloading $pkg"
# apt's _apt sandbox user may not write here; apt then downloads as root, which is what we want.
if ! (cd "$tmp" && apt-get download -q "$pkg" >&2 2>"$tmp/apt.err"); then
    cat "$tmp/apt.err" >&2
    r=$(cached_releases | sed -n 1p)
    [ -n "$r" ] && { msg "download failed; using the cached $r"; emit "$r"; }
    fail "could not download $pkg (no network?)"
fi
deb=$(ls "$tmp"/*.deb)
msg "unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$tmp/tree" || fail "dpkg-deb -x $(basename "$deb") failed"
[ -f "$tmp/tree/boot/vmlinuz-$rel" ] || fail "$(basename "$deb") has no boot/vmlinuz-$rel"
mv -f "$deb" "$CACHE/"
rm -rf "$IMG_DIR/$rel"
mv "$tmp/tree" "$IMG_DIR/$rel"
msg "cached in $IMG_DIR/$rel"
emit "$rel"
