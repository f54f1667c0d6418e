#!/usr/bin/env bash
# Downloads a Debian suite's libtorch-dev (LibTorch 2.x headers) into a cache folder, without
# touching the system's apt state. Idempotent: prints the include dir on the last line.
#   scripts/fetch_torch2_headers.sh [SUITE]
# SUITE: trixie (LibTorch 2.6, the default) or sid (Debian's newest LibTorch: 2.14 on 2026-11-28,
# whose headers require C++20). The GPU machines run 2.11: checking both ends brackets it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SUITE="${1:-trixie}"
case "$SUITE" in trixie|sid) ;; *) echo "fetch_torch2_headers: suite '$SUITE': expected trixie or sid" >&2; exit 2;; esac
CACHE="${GTGM_TORCH2_CACHE:-$ROOT/.cache/torch2}/$SUITE"
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/root"
if [ -f "$CACHE/root/usr/include/torch/csrc/api/include/torch/version.h" ]; then
  echo "fetch_torch2_headers: $SUITE cached in $CACHE/root" >&2
  echo "$CACHE/root/usr/include"; exit 0
fi
# Same mirror as the system's sources, the chosen suite, with its own lists/state.
cat > "$CACHE/$SUITE.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
: > "$CACHE/status"
APT_OPTS=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::sourcelist=$CACHE/$SUITE.sources" -o "Dir::State::Lists=$CACHE/lists"
  -o "Dir::State::status=$CACHE/status" -o "Dir::Cache::archives=$CACHE/archives"
  -o "Dir::Cache=$CACHE" -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1")
apt-get "${APT_OPTS[@]}" update -qq >&2
cd "$CACHE"
apt-get "${APT_OPTS[@]}" download libtorch-dev >&2
for deb in "$CACHE"/*.deb; do dpkg-deb -x "$deb" "$CACHE/root"; done
echo "fetch_torch2_headers: unpacked $(basename "$CACHE"/libtorch-dev_*.deb) into $CACHE/root" >&2
echo "$CACHE/root/usr/include"
