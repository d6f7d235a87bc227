#!/usr/bin/env bash
# .ci/deps.sh [build|test] — install the Debian packages glrun needs, when
# they are missing. Used by run.sh, test.sh and .ci/run. Needs root (or
# sudo) only when something is missing.
set -euo pipefail
build_pkgs=(gcc make cmake pkg-config liblua5.4-dev libuv1-dev libcurl4-openssl-dev
  libwebsockets-dev libwebsockets-evlib-uv lua-cjson-dev libssl-dev
  libhttp-parser-dev libjansson-dev libedit-dev libhiredis-dev)
test_pkgs=(clang libclang-rt-14-dev curl openssl procps bc time tmux redis-server)
# headless Chromium for the chat page's browser test (tests/e2e/serve_browser.sh)
test_pkgs+=(chromium)
# node and npm run Google's official SDK (sdk-probe); a machine may have
# them from elsewhere than Debian (Debian's npm would then conflict)
if [ "${1:-build}" = test ]; then
  command -v node >/dev/null || test_pkgs+=(nodejs)
  command -v npm >/dev/null || test_pkgs+=(npm)
fi
want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "glrun: installing Debian packages: ${missing[*]}" >&2
sudo=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "glrun: need root to run: apt-get install -y ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
