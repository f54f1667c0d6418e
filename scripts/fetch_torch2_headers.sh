#!/usr/bin/env bash
# Downloads a Debian suite's LibTorch 2.x headers into a cache folder, without touching the
# system's apt state. Idempotent: prints the include dir on the last line.
#   scripts/fetch_torch2_headers.sh [SET]
# SET: trixie       LibTorch 2.6 (libtorch-dev), the default;
#      sid          Debian's newest LibTorch (2.14 on 2026-11-28; its headers require C++20);
#      trixie-cuda  LibTorch 2.6 built with CUDA (contrib) + the CUDA 12.4, NCCL, libcu++ headers
#                   (non-free; ~1 GB of packages, of which only usr/include is kept, ~65 MB), so
#                   the code behind GTGM_HAVE_CUDA / GTGM_HAVE_NCCL compiles in CI as well.
# The GPU machines run 2.11: trixie and sid bracket it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SET="${1:-trixie}"
case "$SET" in
  trixie) SUITE=trixie; COMPONENTS=main; PKGS=(libtorch-dev) ;;
  sid) SUITE=sid; COMPONENTS=main; PKGS=(libtorch-dev) ;;
  trixie-cuda) SUITE=trixie; COMPONENTS="main contrib non-free"
    PKGS=(libtorch-cuda-dev libnccl-dev libcu++-dev libnvidia-ml-dev libcupti-dev nvidia-cuda-dev) ;;
  *) echo "fetch_torch2_headers: '$SET': expected trixie, sid or trixie-cuda" >&2; exit 2 ;;
esac
CACHE="${GTGM_TORCH2_CACHE:-$ROOT/.cache/torch2}/$SET"
if [ -f "$CACHE/root/.complete" ]; then
  echo "fetch_torch2_headers: $SET cached in $CACHE/root" >&2
  echo "$CACHE/root/usr/include"; exit 0
fi
rm -rf "$CACHE"
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/root"
# Same mirror as the system's sources, the chosen suite, with its own lists/state.
cat > "$CACHE/$SUITE.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: $COMPONENTS
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
: > "$CACHE/status"
APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::sourcelist=$CACHE/$SUITE.sources" -o "Dir::State::Lists=$CACHE/lists"
  -o "Dir::State::status=$CACHE/status" -o "Dir::Cache::archives=$CACHE/archives"
  -o "Dir::Cache=$CACHE" -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1")
apt-get "${APT_OPTS[@]}" update -qq >&2
cd "$CACHE"
apt-get "${APT_OPTS[@]}" download "${PKGS[@]}" >&2
for deb in "$CACHE"/*.deb; do
  # Headers are all a syntax check needs; the CUDA toolkit's libraries are most of its 1 GB.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/root" --wildcards './usr/include/*'
  echo "fetch_torch2_headers: $(basename "$deb")" >&2
  rm -f "$deb"
done
rm -rf "$CACHE/lists" "$CACHE/archives"
touch "$CACHE/root/.complete"
echo "fetch_torch2_headers: unpacked $SET into $CACHE/root" >&2
echo "$CACHE/root/usr/include"
