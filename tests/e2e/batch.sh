# examples/batch.lua: concurrent answers written as JSONL in input order,
# failures recorded on their own line, a progress line on stderr (plain
# lines off a terminal, one line redrawn in place on a terminal).
. "$(dirname "$0")/lib/sh.sh"
clean_env
B="$SRC/examples/batch.lua"
fast="$TMP/fast_policy.lua"
echo 'return { backoff_base = 0.01, backoff_cap = 0.05 }' > "$fast"

{
  for i in $(seq 1 12); do
    case $i in
      3) echo '{"prompt": "p3 fails", "model": "gemini-nonexistent"}' ;;
      5) echo '{"prompt": "p5 is slow and finishes last", "model": "gemini-slow"}' ;;
      8) echo '{"prompt": "p8 overloaded", "model": "gemini-overloaded"}' ;;
      10) echo ; echo "p$i" ;;   # a blank line is skipped
      *) echo "p$i" ;;
    esac
  done
} > "$TMP/prompts.txt"

timeout 60 "$GLRUN" --mock --policy "$fast" "$B" "$TMP/prompts.txt" -o "$TMP/out.jsonl" --workers 4 \
  >"$TMP/out" 2>"$TMP/err"; RC=$?
PERR=$(cat "$TMP/err")
expect_eq "batch with failures exits 1" 1 "$RC"
expect_eq "one line per prompt" 12 "$(grep -c . "$TMP/out.jsonl")"
run "$GLRUN" -e 'local j = require "glrun.json"; local i = 0
  for line in io.lines(arg[1]) do
    local r = assert(j.decode(line)); i = i + 1
    assert(r.index == i, "line " .. i .. " has index " .. tostring(r.index))
    print(("%d\t%d\t%s\t%s"):format(r.index, r.line, r.prompt, r.text or ("ERROR " .. r.kind .. " " .. r.error)))
  end' /dev/null "$TMP/out.jsonl"
expect_eq "results in input order" "1 2 3 4 5 6 7 8 9 10 11 12" "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "source line numbers (blank lines skipped)" "1 2 3 4 5 6 7 8 9 11 12 13" "$(printf '%s\n' "$OUT" | cut -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_match "answers are there" "^1	1	p1	echo: p1$" "$OUT"
expect_match "the slow one too, in its place" "^5	5	p5 is slow and finishes last	echo: p5 is slow and finishes last$" "$OUT"
expect_match "a failure is recorded on its line: 404" "^3	3	p3 fails	ERROR http REST gemini-nonexistent .*HTTP 404" "$OUT"
expect_match "a failure is recorded on its line: 503 after retries" "^8	8	p8 overloaded	ERROR http REST gemini-overloaded .*HTTP 503" "$OUT"
expect_eq "exactly two failures" 2 "$(printf '%s\n' "$OUT" | grep -c 'ERROR')"
expect_match "progress: plain lines off a terminal" "^batch: [0-9]+/12 done" "$PERR"
expect_match "progress: the last line" "^batch: 12/12 done, 2 failed, [0-9.]+/s, ETA 0 s$" "$(printf '%s\n' "$PERR" | tail -1)"
expect_no_match "progress: no carriage returns off a terminal" $'\r' "$PERR"
expect_eq "progress: at most one line per 10 %" 1 "$(( $(printf '%s\n' "$PERR" | grep -c '^batch:') <= 11 ))"

# all good: exit 0, stdout
printf 'a\nb\nc\n' > "$TMP/ok.txt"
run "$GLRUN" --mock "$B" "$TMP/ok.txt"
expect_eq "batch without failures exits 0" 0 "$RC"
expect_eq "JSONL on stdout without -o" 3 "$(printf '%s\n' "$OUT" | grep -c '"text":"echo: [abc]"')"
run "$GLRUN" --mock "$B"
expect_eq "no prompts file: usage error" 2 "$RC"

# Ctrl-C: in-flight and unstarted prompts still get their line, exit 130
printf 'a\n{"prompt":"h1","model":"gemini-hang"}\nb\n{"prompt":"h2","model":"gemini-hang"}\nc\nd\n' > "$TMP/hang.txt"
"$GLRUN" --mock "$B" "$TMP/hang.txt" --workers 2 -o "$TMP/hang.jsonl" 2>"$TMP/hang.err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^batch: 2/6 done' "$TMP/hang.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -9 $pid 2>/dev/null && bad "Ctrl-C: batch did not stop"
wait $pid; RC=$?
expect_eq "Ctrl-C: exit 130" 130 "$RC"
expect_eq "Ctrl-C: every prompt has its line, in order" "1 2 3 4 5 6" \
  "$(grep -o '"index":[0-9]*' "$TMP/hang.jsonl" | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "Ctrl-C: the hung ones say so" 2 "$(grep -c 'interrupted before the answer came' "$TMP/hang.jsonl")"
expect_eq "Ctrl-C: the unstarted ones say so" 2 "$(grep -c 'not run: the batch was interrupted' "$TMP/hang.jsonl")"
expect_match "Ctrl-C: the message" "batch: interrupted; every prompt has its line" "$(cat "$TMP/hang.err")"

# on a terminal: one progress line, redrawn in place
. "$(dirname "$0")/lib/tmux.sh"
tmux_start "'$GLRUN' --mock --policy '$fast' '$B' '$TMP/prompts.txt' -o '$TMP/tty.jsonl'"
wait_exit 30
expect_eq "tty: batch exits 1 (failures)" 1 "$TRC"
expect_eq "tty: the progress is one line, redrawn in place" 1 "$(screen | grep -c '^batch:')"
expect_match "tty: it ends with the totals" "^batch: 12/12 done, 2 failed" "$(screen | grep '^batch:')"
expect_eq "tty: the results are complete" 12 "$(grep -c . "$TMP/tty.jsonl")"
finish
