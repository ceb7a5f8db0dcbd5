#!/usr/bin/env bash
# Renders Belfry's app icons from icons/belfry.svg: the PNGs and the .ico
# that src-tauri/tauri.conf.json lists (bundle.icon). The outputs are checked
# in; run this again after editing the SVG.
#
# Needs Debian's librsvg2-bin (rsvg-convert) and imagemagick. ImageMagick is
# called by full path: /usr/bin/convert, because some machines put an
# unrelated `convert` earlier on PATH.
set -euo pipefail
cd "$(dirname "$0")"

SVG=belfry.svg
CONVERT=/usr/bin/convert

command -v rsvg-convert >/dev/null || { echo "render.sh: rsvg-convert missing (apt-get install librsvg2-bin)" >&2; exit 1; }
[ -x "$CONVERT" ] || { echo "render.sh: $CONVERT missing (apt-get install imagemagick)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One PNG per size, each rendered from the vector (sharper than scaling a
# bitmap), then written as 8-bit RGBA (PNG32: tauri's generate_context!
# rejects icons without alpha) with no timestamps, so re-renders are
# byte-identical.
png() { # png SIZE OUT
    rsvg-convert --width "$1" --height "$1" --keep-aspect-ratio "$SVG" --output "$tmp/raw.png"
    "$CONVERT" "$tmp/raw.png" -strip -define png:exclude-chunks=date,time "PNG32:$2"
}

png 512 icon.png
png 32 32x32.png
png 128 128x128.png
png 256 128x128@2x.png

# The Windows icon: every size a shell may ask for, each drawn from the SVG.
ico_parts=()
for size in 16 24 32 48 64 256; do
    png "$size" "$tmp/$size.png"
    ico_parts+=("$tmp/$size.png")
done
"$CONVERT" "${ico_parts[@]}" icon.ico

echo "render.sh: wrote icon.png 32x32.png 128x128.png 128x128@2x.png icon.ico"
