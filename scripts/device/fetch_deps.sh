#!/usr/bin/env bash
# Runs HERE (Debian, with apt): downloads the Debian packages that the lent GPU machine lacks
# (yaml-cpp, spdlog+fmt, CLI11, GoogleTest, nlohmann-json, zlib headers) into .deps-device/debs,
# an ignored folder that `run` carries to the device (64 MiB limit; these are ~3 MB). The device
# build uses LibTorch 2.x+CUDA from its PyTorch install and builds without ITK/HDF5 (NIfTI through
# the built-in reader), because Debian's ITK CMake config hard-codes /usr paths.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$ROOT/.deps-device/debs"
mkdir -p "$DEST"
PKGS=(libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcli11-dev
      libgtest-dev libgmock-dev nlohmann-json3-dev zlib1g-dev)
cd "$DEST"
for p in "${PKGS[@]}"; do
  if ls "${p}"_*.deb >/dev/null 2>&1; then continue; fi
  apt-get download "$p" >/dev/null 2>&1 || { echo "fetch_deps: cannot download $p"; exit 1; }
done
echo "fetch_deps: $(ls "$DEST"/*.deb | wc -l) packages, $(du -sh "$DEST" | cut -f1) in $DEST"
