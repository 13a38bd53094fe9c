#!/bin/sh
# Assembles the guest images of viommu/vmm/guests with nasm (Debian: apt-get install nasm).
#
#   ./build.sh           assemble every image next to its source (the committed .bin files)
#   ./build.sh --check   assemble into a temporary directory and compare byte for byte with
#                        the committed images; exit 1 on any difference
#
# The images are committed so the crate builds and its tests run without nasm;
# viommu/vmm/tests/guest_images.rs runs `--check` whenever nasm is installed.
set -eu

cd "$(dirname "$0")"

if ! command -v nasm >/dev/null 2>&1; then
    echo "build.sh: nasm not installed (apt-get install nasm)" >&2
    exit 127
fi

# image            source            nasm defines
IMAGES='well_behaved.bin well_behaved.asm -
gen1.bin         generations.asm   GEN=1
gen2.bin         generations.asm   GEN=2
gen3.bin         generations.asm   GEN=3
hostile.bin      hostile.asm       -
vtd_linux.bin    vtd_linux.asm     -
vtd_hostile.bin  vtd_hostile.asm   -'

assemble() { # $1 = output directory
    echo "$IMAGES" | while read -r image source define; do
        if [ "$define" = "-" ]; then
            nasm -f bin -Werror -o "$1/$image" "$source"
        else
            nasm -f bin -Werror -D "$define" -o "$1/$image" "$source"
        fi
    done
}

case "${1:-}" in
    "")
        assemble .
        echo "$IMAGES" | while read -r image _; do
            printf '%-17s %5d bytes\n' "$image" "$(wc -c < "$image")"
        done
        ;;
    --check)
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        assemble "$tmp"
        status=0
        for image in $(echo "$IMAGES" | cut -d' ' -f1); do
            if [ ! -f "$image" ]; then
                echo "MISSING: $image is not committed (run viommu/vmm/guests/build.sh)"
                status=1
            elif cmp -s "$tmp/$image" "$image"; then
                echo "ok: $image ($(wc -c < "$image") bytes)"
            else
                echo "STALE: $image differs from what its source assembles to (run viommu/vmm/guests/build.sh)"
                status=1
            fi
        done
        exit $status
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
