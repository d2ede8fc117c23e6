#!/usr/bin/env bash
# Makes .devcarry/ (gitignored), the build dependencies the GPU machine lacks, for the device
# tool's `carry`: run it here (Debian 12, with the project's build packages installed, see
# ../shared/BUILD-NOTES.md), then name .devcarry in `carry` of every GPU call. It copies the
# installed files of Debian packages, nothing is downloaded. Idempotent: a second run with the
# same package versions changes nothing; other versions rebuild the folder. About 10 MB.
#   .devcarry/catch2/catch2/catch.hpp      Catch2 v2 (gpu_attention.sh, gpu_forward.sh direct builds)
#   .devcarry/sysroot/{include,lib}        sentencepiece, PCRE2, nlohmann-json headers; the
#                                          sentencepiece and PCRE2 shared libraries (gpu_forward.sh)
#   .devcarry/root/usr/...                 the packages as installed (headers, shared libraries,
#                                          pkg-config files, CMake package files, pkgconf itself):
#                                          the prefix the top-level CMake configure uses there
#                                          (gpu_check15.sh: CMAKE_PREFIX_PATH, PKG_CONFIG_LIBDIR,
#                                          PKG_CONFIG_SYSROOT_DIR)
# Usage (from the repository root): bash tools/bench/make_devcarry.sh [--force]
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
DEST=.devcarry
PKGS="catch2 libsentencepiece-dev libsentencepiece0 libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0
      libpcre2-posix3 nlohmann-json3-dev libsqlite3-dev libsqlite3-0 libssh-dev libssh-4 pkgconf-bin libpkgconf3"
missing=""
stamp="layout 2"$'\n'  # bump when the folder's layout changes
for p in $PKGS; do
  v=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || true)
  case "$v" in
    "install ok installed "*) stamp="$stamp$p ${v##* }"$'\n' ;;
    *) missing="$missing $p" ;;
  esac
done
if [ -n "$missing" ]; then
  echo "make_devcarry: not installed here:$missing (apt-get install them first)" >&2
  exit 2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/devcarry.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
printf '%s' "$stamp" > "$TMP/STAMP"
if [ "${1:-}" != "--force" ] && [ -f "$DEST/STAMP" ] && cmp -s "$DEST/STAMP" "$TMP/STAMP"; then
  echo "make_devcarry: $DEST is up to date"
  exit 0
fi
NEW=$TMP/devcarry
mkdir -p "$NEW/root" "$NEW/catch2/catch2" "$NEW/sysroot/include" "$NEW/sysroot/lib"
# root/: every file and symlink the packages installed (no docs; no static libraries but
# Catch2's, which its CMake package file requires).
for p in $PKGS; do
  dpkg -L "$p" | while IFS= read -r f; do
    if [ -L "$f" ] || [ -f "$f" ]; then echo "${f#/}"; fi
  done
done | grep -vE '^usr/share/(doc|man|lintian)/' | grep -vE '/lib[^C/][^/]*\.a$' | sort -u > "$TMP/files"
tar -C / -cf - --no-recursion -T "$TMP/files" | tar -C "$NEW/root" -xf -
# Debian 12 is merged-/usr, but a package may list /lib paths: keep them under usr/ too.
if [ -d "$NEW/root/lib" ]; then
  mkdir -p "$NEW/root/usr/lib"
  cp -a "$NEW/root/lib/." "$NEW/root/usr/lib/"
  rm -rf "$NEW/root/lib"
fi
# catch2/ and sysroot/: the layout the direct (non-CMake) builds read.
R=$NEW/root/usr
cp "$R/include/catch2/catch.hpp" "$NEW/catch2/catch2/catch.hpp"
cp "$R/include/sentencepiece_processor.h" "$R/include/sentencepiece_trainer.h" "$R/include/pcre2.h" "$NEW/sysroot/include/"
cp -a "$R/include/nlohmann" "$NEW/sysroot/include/"
cp -a "$R"/lib/x86_64-linux-gnu/libsentencepiece.so* "$R"/lib/x86_64-linux-gnu/libpcre2-8.so* "$NEW/sysroot/lib/"
cp "$TMP/STAMP" "$NEW/STAMP"

rm -rf "$DEST"
mv "$NEW" "$DEST"
echo "make_devcarry: $DEST ($(du -sh "$DEST" | cut -f1)): carry it in GPU calls (carry: [\".devcarry\"])"
