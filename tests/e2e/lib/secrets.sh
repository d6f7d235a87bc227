# Helpers for the hostile_secrets_*.sh tests (source after sh.sh).

# key_windows KEY [N]: every N-character window of KEY (default 12), one per
# line: a leak of any long piece of the key contains one of them.
key_windows() {
  local k=$1 n=${2:-12} i
  for ((i = 0; i + n <= ${#k}; i++)); do printf '%s\n' "${k:i:n}"; done
}

# expect_no_key WHAT KEY FILE...: no 12-character window of KEY in any of
# the files (or in the files under a directory), as raw bytes.
expect_no_key() {
  local what=$1 key=$2; shift 2
  local pats hits
  pats=$(mktemp "$TMP/pats.XXXXXX")
  key_windows "$key" >"$pats"
  hits=$(grep -raoF -f "$pats" -- "$@" 2>/dev/null | head -3)
  if [ -n "$hits" ]; then bad "$what: a piece of the key leaked: $(printf '%s' "$hits" | tr '\n' ' ')"
  else ok "$what"; fi
}
