#!/usr/bin/env bash
# Downloads Debian trixie's libtorch-dev (LibTorch 2.x headers) into a cache folder, without
# touching the system's apt state. Idempotent: prints the include dir on the last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${GTGM_TORCH2_CACHE:-$ROOT/.cache/torch2}"
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/root"
if [ -f "$CACHE/root/usr/include/torch/version.h" ] || [ -f "$CACHE/root/usr/include/torch/csrc/api/include/torch/version.h" ]; then
  echo "fetch_torch2_headers: cached in $CACHE/root" >&2
  echo "$CACHE/root/usr/include"; exit 0
fi
# Same mirror as the system's sources, suite trixie, with its own lists/state.
cat > "$CACHE/trixie.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
: > "$CACHE/status"
APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::sourcelist=$CACHE/trixie.sources" -o "Dir::State::Lists=$CACHE/lists"
  -o "Dir::State::status=$CACHE/status" -o "Dir::Cache::archives=$CACHE/archives"
  -o "Dir::Cache=$CACHE" -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1")
apt-get "${APT_OPTS[@]}" update -qq >&2
cd "$CACHE"
for pkg in libtorch-dev; do
  apt-get "${APT_OPTS[@]}" download "$pkg" >&2
done
for deb in "$CACHE"/*.deb; do dpkg-deb -x "$deb" "$CACHE/root"; done
echo "fetch_torch2_headers: unpacked into $CACHE/root" >&2
echo "$CACHE/root/usr/include"
