#!/usr/bin/env bash
# Public sample files for the real-file tests (see ../shared/DATA.md): unpacked from Debian
# packages into .deps/ (ignored by git, never committed). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPS="$ROOT/.deps"
mkdir -p "$DEPS/debs"
fetch() {  # fetch PACKAGE MARKER_FILE
  local pkg="$1" marker="$2"
  if [ -n "$(find "$DEPS/$pkg" -name "$marker" 2>/dev/null | head -1)" ]; then return 0; fi
  ( cd "$DEPS/debs" && apt-get download "$pkg" >/dev/null 2>&1 ) || { echo "fetch_test_data: cannot download $pkg (tests using it will skip)"; return 0; }
  mkdir -p "$DEPS/$pkg"
  dpkg-deb -x "$DEPS"/debs/"$pkg"_*.deb "$DEPS/$pkg"
  echo "fetch_test_data: unpacked $pkg"
}
fetch insighttoolkit5-examples KmeansTest_T1UCharRaw.nii.gz
fetch python3-pydicom CT_small.dcm
