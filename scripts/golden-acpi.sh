#!/bin/bash
# Regenerate the ACPI golden tables in tests/golden/acpi/<config>/<SIG>.dat (run by `make golden`).
#
# For each reference configuration (build/tools/acpi-dump --list-golden), the tables are rebuilt,
# old and new are disassembled with `iasl -d`, the diff of the disassembly is shown, and the new
# binaries replace the old ones. Review the diff, then commit the goldens with the change that
# caused it (test_acpi compares the built tables with these files byte for byte).
#
# The RSDP cannot be disassembled by iasl 20200925; its change is shown as a hex dump diff.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
GOLDEN=tests/golden/acpi
DUMP=$BUILD/tools/acpi-dump

command -v iasl > /dev/null || { echo "golden-acpi: iasl not found (scripts/install-deps.sh installs acpica-tools)" >&2; exit 1; }
make --no-print-directory BUILD="$BUILD" "$DUMP"

work=$(mktemp -d /tmp/minivmm-golden.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Disassemble every *.dat of $1 into $1/*.dsl (or a hex dump for the RSDP).
disassemble() {
	local f
	for f in "$1"/*.dat; do
		[ -e "$f" ] || continue
		if [ "$(basename "$f")" = RSDP.dat ]; then
			od -A x -t x1z -v "$f" > "${f%.dat}.dsl"
		elif ! (cd "$1" && iasl -d "$(basename "$f")" > /dev/null 2>&1); then
			echo "golden-acpi: iasl -d $f failed" >&2
			exit 1
		fi
	done
}

changed=0
for cfg in $("$DUMP" --list-golden); do
	old=$work/old/$cfg new=$work/new/$cfg
	mkdir -p "$old" "$new" "$GOLDEN/$cfg"
	cp "$GOLDEN/$cfg"/*.dat "$old"/ 2> /dev/null || true
	"$DUMP" --golden "$cfg" "$new"
	disassemble "$old"
	disassemble "$new"

	echo "== $cfg"
	for f in $( (cd "$old" && ls *.dsl 2> /dev/null; cd "$new" && ls *.dsl) | sort -u); do
		a=$old/$f b=$new/$f
		[ -e "$a" ] || a=/dev/null
		[ -e "$b" ] || b=/dev/null
		# The disassembler stamps the file name and the date; neither is part of the table.
		if ! diff -u -I 'Disassembly of ' --label "old/$cfg/$f" --label "new/$cfg/$f" "$a" "$b"; then
			changed=1
		fi
	done

	rm -f "$GOLDEN/$cfg"/*.dat
	cp "$new"/*.dat "$GOLDEN/$cfg"/
done

# Reference configurations that no longer exist.
for d in "$GOLDEN"/*/; do
	[ -d "$d" ] || continue
	name=$(basename "$d")
	if ! "$DUMP" --list-golden | grep -qx "$name"; then
		echo "golden-acpi: removing $GOLDEN/$name (no such reference configuration)"
		rm -rf "$d"
		changed=1
	fi
done

if [ $changed = 0 ]; then
	echo "golden-acpi: no changes"
else
	echo "golden-acpi: $GOLDEN updated; review the diff above and commit it with the change"
fi
