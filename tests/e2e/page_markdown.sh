# The chat page's Markdown renderer and SSE parser (web/app.js), unit-tested
# with node: HTML escaped first, code fences, inline code, bold/italic,
# lists, headings, links only http(s) with rel=noopener.
. "$(dirname "$0")/lib/sh.sh"
command -v node >/dev/null || { echo "SKIPPED: node not installed"; exit 77; }
run node "$SRC/tests/browser/markdown.test.cjs"
printf '%s\n' "$OUT"
[ -n "$ERR" ] && printf '%s\n' "$ERR" >&2
expect_eq "the renderer's checks pass (node exit status)" 0 "$RC"
expect_match "the renderer's checks ran" '^# [0-9]+ of [0-9]+ checks passed' "$(printf '%s\n' "$OUT" | tail -1)"
finish
