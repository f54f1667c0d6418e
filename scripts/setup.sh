#!/usr/bin/env bash
# Installs the Debian packages gtgm needs that are missing. Idempotent: prints what it did.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev libopenblas0-pthread
  libinsighttoolkit5-dev libgdcm-tools
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libhdf5-dev libcurl4-gnutls-dev libzstd-dev libssl-dev
  python3 python3-torch python3-numpy python3-nibabel python3-scipy python3-skimage
  python3-h5py python3-matplotlib
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
