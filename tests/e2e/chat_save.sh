# glrun chat's /save and --save-on-exit: a failed write is reported (never
# "saved"), leaves the previous file as it was (a temporary file beside it
# is renamed over it only once complete), and --save-on-exit then makes the
# exit status 1.
. "$(dirname "$0")/lib/sh.sh"
clean_env
long=$(head -c 3000 /dev/zero | tr '\0' q)

# a write that fails half-way: the file size limit (SIGXFSZ ignored, so
# write(2) fails with EFBIG), output through pipes so only the save is hit
printf 'old content\n' >"$TMP/conv.json"
( trap '' XFSZ; ulimit -f 2
  printf '%s\n/save %s\n' "$long" "$TMP/conv.json" | exec timeout 60 "$GLRUN" --mock chat 2>&1 ) | cat >"$TMP/out"
OUT=$(cat "$TMP/out")
expect_match "/save, the write fails: reported" "^error: cannot save: " "$OUT"
expect_no_match "/save, the write fails: never 'saved'" "saved [0-9]+ messages" "$OUT"
expect_eq "/save, the write fails: the old file is left as it was" "old content" "$(cat "$TMP/conv.json")"
expect_eq "/save, the write fails: no temporary file left behind" "conv.json" "$(cd "$TMP" && ls conv.json* | tr '\n' ' ' | sed 's/ $//')"

( trap '' XFSZ; ulimit -f 2
  printf '%s\n' "$long" | timeout 60 "$GLRUN" --mock chat --save-on-exit "$TMP/conv.json" 2>&1; echo "status $?" ) | cat >"$TMP/out"
OUT=$(cat "$TMP/out")
expect_match "--save-on-exit, the write fails: reported" "glrun chat: cannot save the conversation: " "$OUT"
expect_match "--save-on-exit, the write fails: exit 1" "^status 1$" "$OUT"
expect_eq "--save-on-exit, the write fails: the old file is left as it was" "old content" "$(cat "$TMP/conv.json")"

# a path that is a directory
mkdir "$TMP/adir"
printf 'hi\n/save %s\n' "$TMP/adir" | timeout 60 "$GLRUN" --mock chat >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_match "/save to a directory: reported" "^error: cannot save: .*adir" "$(cat "$TMP/err")"
expect_eq "/save to a directory: it stays a directory, empty" "yes " "$([ -d "$TMP/adir" ] && echo yes) $(ls -A "$TMP/adir")"
printf 'hi\n' | timeout 60 "$GLRUN" --mock chat --save-on-exit "$TMP/adir" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "--save-on-exit to a directory: exit 1" 1 "$RC"
expect_match "--save-on-exit to a directory: reported" "cannot save the conversation" "$(cat "$TMP/err")"

# a folder that does not exist
printf 'hi\n/save %s\n' "$TMP/nope/conv.json" | timeout 60 "$GLRUN" --mock chat >"$TMP/out" 2>"$TMP/err"
expect_match "/save into a missing folder: reported" "^error: cannot save: .*nope" "$(cat "$TMP/err")"

# and a save that works replaces the file whole
printf 'hi\n/save %s\n' "$TMP/conv.json" | timeout 60 "$GLRUN" --mock chat >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_match "/save works: says so" "saved 2 messages" "$(cat "$TMP/err")"
run "$GLRUN" -e 'local j = require "glrun.json"; local f = assert(io.open(arg[1])); local t = assert(j.decode(f:read("a")))
  print(#t.history, t.history[2].parts[1].text)' /dev/null "$TMP/conv.json"
expect_eq "/save works: the new conversation" "$(printf '2\techo: hi')" "$OUT"
expect_eq "/save works: no temporary file left behind" "conv.json" "$(cd "$TMP" && ls conv.json* | tr '\n' ' ' | sed 's/ $//')"
finish
