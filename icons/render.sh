#!/usr/bin/env bash
# Renders Belfry's icons: the app icon from icons/belfry.svg (the PNGs and
# the .ico that src-tauri/tauri.conf.json lists in bundle.icon), and the tray
# glyphs from icons/tray/*.svg (the PNGs src-tauri/src/tray.rs embeds). The
# outputs are checked in; run this again after editing an SVG or a CSS.
#
# Needs Debian's librsvg2-bin (rsvg-convert), imagemagick and optipng.
# ImageMagick is called by full path: /usr/bin/convert, because some
# machines put an unrelated `convert` earlier on PATH.
set -euo pipefail
cd "$(dirname "$0")"

SVG=belfry.svg
CONVERT=/usr/bin/convert

command -v rsvg-convert >/dev/null || { echo "render.sh: rsvg-convert missing (apt-get install librsvg2-bin)" >&2; exit 1; }
[ -x "$CONVERT" ] || { echo "render.sh: $CONVERT missing (apt-get install imagemagick)" >&2; exit 1; }
command -v optipng >/dev/null || { echo "render.sh: optipng missing (apt-get install optipng)" >&2; exit 1; }

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
# The other sizes a Linux desktop's icon theme (hicolor) has a folder for,
# so menus, docks and the notification daemon never scale a bitmap.
for size in 16 24 48 64 256; do
    png "$size" "${size}x${size}.png"
done

# The Windows icon: every size a shell may ask for, each drawn from the SVG.
ico_parts=()
for size in 16 24 32 48 64 256; do
    png "$size" "$tmp/$size.png"
    ico_parts+=("$tmp/$size.png")
done
"$CONVERT" "${ico_parts[@]}" icon.ico

# The macOS icon: the sizes an .icns holds, drawn from the SVG (Debian's
# icnsutils).
command -v png2icns >/dev/null || { echo "render.sh: png2icns missing (apt-get install icnsutils)" >&2; exit 1; }
png 1024 "$tmp/1024.png"
png2icns icon.icns 16x16.png 32x32.png 48x48.png 128x128.png 256x256.png icon.png "$tmp/1024.png" >/dev/null

echo "render.sh: wrote icon.png {16,24,32,48,64,128,256}x*.png 128x128@2x.png icon.ico icon.icns"

# The tray glyphs: one SVG per state, in three sets.
#   light/     a white bell for dark panels, the set Windows and Linux use:
#              16, 24, 32 and 44 for Windows' small icon at display scales
#              up to 100, 150 and 200 % and above; 22 and 44 for an
#              AppIndicator panel at 1x and 2x (the panel scales it to its
#              own size, 16 to 24 px).
#   dark/      a near-black bell for light panels, the same sizes; not
#              embedded yet (nothing reads the panel's theme), here so a
#              theme switch needs no new artwork.
#   template/  black, which macOS tints to the menu bar. tray-icon draws the
#              image 18 pt tall whatever its size, so 36 px is pixel-exact on
#              Retina and an even halving elsewhere.
# Unlike the app icons these may be palette or grey+alpha PNGs (tauri's
# Image::from_bytes decodes any PNG), so optipng picks the smallest lossless
# form: they are embedded in the binary. Re-renders are byte-identical.
TRAY_STATES=(idle unread offline paused signed-out)
TRAY_SIZES=(16 22 24 32 44)
tray() { # tray STATE SIZE SET [CSS]
    mkdir -p "tray/$3"
    rsvg-convert --width "$2" --height "$2" ${4:+--stylesheet "$4"} "tray/$1.svg" --output "tray/$3/$1-$2.png"
    optipng -quiet -o7 -strip all "tray/$3/$1-$2.png"
}
rm -f tray/light/*.png tray/dark/*.png tray/template/*.png
for state in "${TRAY_STATES[@]}"; do
    for size in "${TRAY_SIZES[@]}"; do
        tray "$state" "$size" light tray/light.css
        tray "$state" "$size" dark tray/dark.css
    done
    tray "$state" 36 template
done
echo "render.sh: wrote tray/{light,dark}/*-{16,22,24,32,44}.png tray/template/*-36.png"
