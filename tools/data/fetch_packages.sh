#!/usr/bin/env bash
# Download the .deb files named in packages.txt (no install, no system change) and unpack each
# into .data/stage/<pkg>/. Cached: a package already downloaded/unpacked is not fetched again.
# One `apt-get --print-uris download` call resolves every name (names without a candidate are
# listed in .data/raw/packages_missing.txt); a .deb of the exact candidate file name already in
# /var/cache/apt/archives is copied instead of downloaded; the rest are downloaded by apt in
# batches of 40 (apt fetches a batch over one connection, far faster than one call a package).
# Writes .data/raw/packages.tsv (name, version, deb file) and .data/raw/packages_missing.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="$ROOT/.data"
DEBS="$DATA/debs"; STAGE="$DATA/stage"; RAW="$DATA/raw"
mkdir -p "$DEBS" "$STAGE" "$RAW"
mapfile -t PKGS < <(grep -v '^#' "$(dirname "$0")/packages.txt" | grep . | awk '!seen[$1]++ {print $1}')
: > "$RAW/packages_missing.txt"
# name -> candidate deb file name (apt-get prints 'URI' FILE SIZE HASH per package it can resolve)
URIS="$DATA/work/uris.txt"; mkdir -p "$DATA/work"; : > "$URIS"
todo=()
for pkg in "${PKGS[@]}"; do
  ls "$DEBS"/"${pkg}"_*.deb >/dev/null 2>&1 || todo+=("$pkg")
done
if [ "${#todo[@]}" -gt 0 ]; then
  # resolve one by one only when the batch fails (a single unknown name fails the whole call)
  if ! apt-get download --print-uris "${todo[@]}" > "$URIS" 2>/dev/null; then
    : > "$URIS"
    for pkg in "${todo[@]}"; do
      apt-get download --print-uris "$pkg" >> "$URIS" 2>/dev/null || echo "$pkg" >> "$RAW/packages_missing.txt"
    done
  fi
  need=()
  while read -r uri file size _; do
    if [ -f "/var/cache/apt/archives/$file" ] && [ "$(stat -c %s "/var/cache/apt/archives/$file")" = "$size" ]; then
      cp "/var/cache/apt/archives/$file" "$DEBS/$file"
    else
      need+=("$(basename "$file" | cut -d_ -f1)")
    fi
  done < "$URIS"
  echo "fetch_packages: ${#todo[@]} to fetch, $(( ${#todo[@]} - ${#need[@]} )) from the local apt cache, ${#need[@]} to download" >&2
  for ((i = 0; i < ${#need[@]}; i += 40)); do
    batch=("${need[@]:i:40}")
    (cd "$DEBS" && apt-get download "${batch[@]}" >/dev/null 2>&1) || {
      for pkg in "${batch[@]}"; do (cd "$DEBS" && apt-get download "$pkg" >/dev/null 2>&1) || true; done; }
    echo "fetch_packages: downloaded $(( i + ${#batch[@]} ))/${#need[@]}" >&2
  done
fi
: > "$RAW/packages.tsv.tmp"
for pkg in "${PKGS[@]}"; do
  deb="$(ls "$DEBS"/"${pkg}"_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    grep -qx "$pkg" "$RAW/packages_missing.txt" || echo "$pkg" >> "$RAW/packages_missing.txt"
    continue
  fi
  if [ ! -e "$STAGE/$pkg/.done" ]; then
    rm -rf "$STAGE/$pkg"; mkdir -p "$STAGE/$pkg"
    # only what render_docs.py reads: man pages, /usr/share/doc, /etc
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$STAGE/$pkg" --wildcards --no-anchored \
      './usr/share/man/*' './usr/share/doc/*' './etc/*' './usr/share/*/man/*' 2>/dev/null || true
    touch "$STAGE/$pkg/.done"
  fi
  printf '%s\t%s\t%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" "$(basename "$deb")" >> "$RAW/packages.tsv.tmp"
done
mv "$RAW/packages.tsv.tmp" "$RAW/packages.tsv"
echo "fetched $(wc -l < "$RAW/packages.tsv") packages, missing: $(tr '\n' ' ' < "$RAW/packages_missing.txt")"
