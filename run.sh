#!/usr/bin/env bash
# ./run.sh SCRIPT [args...] — installs what is missing, builds glrun, runs
# SCRIPT. With no API key configured (GEMINI_API_KEY, GOOGLE_API_KEY or
# Vertex AI settings) it runs against glmock, the offline Gemini (--mock).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
"$root/.ci/deps.sh" build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" >/dev/null
[ $# -gt 0 ] || set -- "$root/examples/hello.lua"
mock=()
if [ -z "${GEMINI_API_KEY:-}${GOOGLE_API_KEY:-}" ] && [ -z "${GOOGLE_GENAI_USE_VERTEXAI:-}" ]; then
  echo "run.sh: no API key configured: running against glmock, the offline Gemini (--mock)" >&2
  mock=(--mock)
fi
exec "$root/build/glrun" "${mock[@]}" "$@"
