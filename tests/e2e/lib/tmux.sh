# Driving an interactive glrun through a pseudo-terminal with tmux (a
# private server per test: parallel tests never share one). Source after
# sh.sh. Every wait is bounded.
command -v tmux >/dev/null || { echo "SKIP: tmux is not installed (Debian package tmux)"; exit 77; }
TMUX_N=0
TMUX_SOCK="$TMP/tmux.0.sock"
unset TMUX
tm() { tmux -S "$TMUX_SOCK" "$@"; }
tmux_cleanup() { local s; for s in "$TMP"/tmux.*.sock; do tmux -S "$s" kill-server 2>/dev/null; done; }
trap 'tmux_cleanup; cleanup' EXIT

# tmux_start CMD: run CMD (a shell command line) in a 120x40 terminal;
# its exit status lands in $TMP/tmux.rc
tmux_start() {
  rm -f "$TMP/tmux.rc"
  TMUX_N=$((TMUX_N + 1))
  TMUX_SOCK="$TMP/tmux.$TMUX_N.sock"   # a new server each time: no race with the last one
  tm -f /dev/null new-session -d -s t -x 120 -y 40 \
    "cd '$TMP' && $1; echo \$? > '$TMP/tmux.rc'; sleep 120"
  tm set-option -t t remain-on-exit on >/dev/null 2>&1
}
# keys KEY...: tmux send-keys (literal text or key names: Enter, C-c, BSpace)
keys() { tm send-keys -t t "$@"; }
# type TEXT: literal text, no key names
typetext() { tm send-keys -t t -l "$1"; }
screen() { tm capture-pane -p -J -t t -S -200 2>/dev/null; }
# wait_for WHAT REGEX [SECONDS]: wait until the screen matches (an ok/not ok check)
wait_for() {
  local limit=$(( ${3:-15} * 10 )) i
  for ((i = 0; i < limit; i++)); do
    if screen | grep -Eq -- "$2"; then ok "$1"; return 0; fi
    sleep 0.1
  done
  bad "$1: /$2/ not on the screen after ${3:-15} s"
  screen | sed 's/^/#   /' | grep -v '^#   $'
  return 1
}
# count_on_screen REGEX: how many lines match
count_on_screen() { screen | grep -Ec -- "$1"; }
# wait_exit [SECONDS]: wait for the command to end; sets TRC (or "none")
wait_exit() {
  local limit=$(( ${1:-15} * 10 )) i
  TRC=none
  for ((i = 0; i < limit; i++)); do
    [ -s "$TMP/tmux.rc" ] && { TRC=$(cat "$TMP/tmux.rc"); return 0; }
    sleep 0.1
  done
  return 1
}
