#!/bin/sh
# Recompresses Debian packages with xz. The Tauri bundler writes the .deb's
# files as gzip (9.9 MB for Belfry's two binaries); xz at level 9 makes
# the same package about 5 MB, and every dpkg in use reads it. Used by
# `cargo xtask bundle` and the release workflow alike.
#
#   repack-deb.sh FILE.deb…     (DEB_XZ_LEVEL: 0-9, default 9)
#
# With TAURI_SIGNING_PRIVATE_KEY set (and TAURI_CLI naming the Tauri CLI),
# each repacked file is signed again for the updater, FILE.deb.sig: the
# bundler's signature covered the gzip bytes.
set -eu
level="${DEB_XZ_LEVEL:-9}"
for deb in "$@"; do
    work=$(mktemp -d)
    dpkg-deb -R "$deb" "$work/pkg"
    dpkg-deb --root-owner-group "-Zxz" "-z$level" --build "$work/pkg" "$work/out.deb" >/dev/null
    mv "$work/out.deb" "$deb"
    rm -rf "$work"
    if [ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
        "${TAURI_CLI:?set TAURI_CLI to the Tauri CLI to sign}" signer sign "$deb"
    fi
    echo "repack-deb: $deb: $(wc -c < "$deb") bytes (xz -$level)"
done
