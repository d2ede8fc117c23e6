#!/usr/bin/env bash
# Download the .deb files named in packages.txt (no install, no system change) and unpack each
# into .data/stage/<pkg>/. Cached: a package already downloaded/unpacked is not fetched again.
# Writes .data/raw/packages.tsv (name, version, deb file) and .data/raw/packages_missing.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="$ROOT/.data"
DEBS="$DATA/debs"; STAGE="$DATA/stage"; RAW="$DATA/raw"
mkdir -p "$DEBS" "$STAGE" "$RAW"
: > "$RAW/packages_missing.txt"
: > "$RAW/packages.tsv.tmp"
for pkg in $(grep -v '^#' "$(dirname "$0")/packages.txt" | grep .); do
  deb="$(ls "$DEBS"/"${pkg}"_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then            # not cached: ask apt (slow, ~1 s a package)
    ver="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then echo "$pkg" >> "$RAW/packages_missing.txt"; continue; fi
    (cd "$DEBS" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "$pkg" >> "$RAW/packages_missing.txt"; continue; }
    deb="$(ls "$DEBS"/"${pkg}"_*.deb | head -1)"
  fi
  if [ ! -e "$STAGE/$pkg/.done" ]; then
    rm -rf "$STAGE/$pkg"; mkdir -p "$STAGE/$pkg"
    dpkg-deb -x "$deb" "$STAGE/$pkg"
    touch "$STAGE/$pkg/.done"
  fi
  printf '%s\t%s\t%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" "$(basename "$deb")" >> "$RAW/packages.tsv.tmp"
done
mv "$RAW/packages.tsv.tmp" "$RAW/packages.tsv"
echo "fetched $(wc -l < "$RAW/packages.tsv") packages, missing: $(tr '\n' ' ' < "$RAW/packages_missing.txt")"
