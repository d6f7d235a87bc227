# glrun chat on a terminal (a tmux pseudo-terminal) against glmock: line
# editing, streaming, every command, the waiting indicator, Ctrl-C during a
# reply and at the prompt, history, /save and /load, Ctrl-D, colours.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/tmux.sh"
clean_env
export XDG_STATE_HOME="$TMP/state"

tmux_start "env -u NO_COLOR XDG_STATE_HOME='$XDG_STATE_HOME' '$GLRUN' --mock chat 2>&1"
wait_for "banner on a terminal" "Ctrl-D leaves"

# editing: type, erase two characters, type again
typetext "hello wo"; keys BSpace BSpace; typetext "xx"; keys Enter
wait_for "the edited line is sent" "^echo: hello xx$"
expect_eq "the erased text is not sent" 0 "$(count_on_screen 'hello wo')"

keys "/help" Enter
wait_for "/help lists the commands" "/transport T +live \| rest \| auto"
keys "/frob" Enter
wait_for "an unknown command says so" "unknown command /frob"

keys "/transport rest" Enter
wait_for "/transport" "^transport: rest$"

# the waiting indicator until the first token; Ctrl-C cancels the wait
keys "/model gemini-hang" Enter
wait_for "/model" "^model: gemini-hang \(REST\)$"
keys "are you there" Enter
wait_for "a waiting indicator before the first token" "waiting for REST gemini-hang +[0-9.]+ s"
keys C-c
wait_for "Ctrl-C cancels a reply that has not started" "cancelled: the partial reply is not kept"
expect_eq "the indicator is erased" 0 "$(count_on_screen 'waiting for')"

# streaming, then Ctrl-C in the middle of a slow reply
keys "/model gemini-slow" Enter
wait_for "/model gemini-slow" "^model: gemini-slow \(REST\)$"
words="w01 w02 w03 w04 w05 w06 w07 w08 w09 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30"
typetext "$words"; keys Enter
wait_for "the reply streams (part of it is shown)" "^echo: w01 w02"
keys C-c
wait_for "Ctrl-C cancels the reply being written" "\^C.*|cancelled"
wait_for "and says the partial reply is not kept" "cancelled: the partial reply is not kept.*" 

keys "/model gemini-2.5-flash" Enter
keys "after cancel" Enter
wait_for "the chat goes on after Ctrl-C" "^echo: after cancel$"
expect_eq "the cancelled reply did not go on in the background" 0 "$(count_on_screen '^echo: .*w30')"

# Ctrl-C at the prompt drops the line being typed
typetext "junk"; keys C-c
sleep 0.3
typetext "real"; keys Enter
wait_for "Ctrl-C at the prompt drops the line" "^echo: real$"
expect_eq "the dropped text is not sent" 0 "$(count_on_screen 'echo: junk')"

# history: Up recalls the last line
keys Up Enter
wait_for "Up recalls the previous line" "^echo: real$"
sleep 0.3
expect_eq "it was sent a second time" 2 "$(count_on_screen '^echo: real$')"

keys "/system Answer in French." Enter
wait_for "/system" "system instruction set"

# /save, /reset, /load: the conversation survives the round trip
keys "/save $TMP/conv.json" Enter
wait_for "/save: completed turns only (not the cancelled ones)" "saved 8 messages to .*conv.json"
keys "/reset" Enter
wait_for "/reset" "conversation cleared"
keys "/load $TMP/conv.json" Enter
wait_for "/load" "loaded 8 messages from .*conv.json"
keys "one more" Enter
wait_for "a turn after /load" "^echo: one more$"
keys "/save $TMP/conv2.json" Enter
wait_for "/save after /load" "saved 10 messages"

keys C-d
wait_exit 10
expect_eq "Ctrl-D leaves with status 0" 0 "$TRC"

# what was saved
check='local j = require "glrun.json"
local function rd(p) local f = assert(io.open(p)); local t = assert(j.decode(f:read("a"))); f:close(); return t end
local a, b = rd(arg[1]), rd(arg[2])
local texts = {}
for i, c in ipairs(b.history) do texts[i] = c.role .. ":" .. c.parts[1].text end
print(a.system, a.model, a.transport, #a.history, #b.history)
print(table.concat(texts, "|"))
for i, c in ipairs(a.history) do assert(c.parts[1].text == b.history[i].parts[1].text, "turn " .. i) end
print("prefix ok")'
run "$GLRUN" -e "$check" /dev/null "$TMP/conv.json" "$TMP/conv2.json"
L1=$(printf '%s\n' "$OUT" | sed -n 1p)
expect_eq "saved: system, model, transport, turns" "$(printf 'Answer in French.\tgemini-2.5-flash\trest\t8\t10')" "$L1"
expect_match "saved history in order, cancelled turns left out" \
  "^user:hello xx\|model:echo: hello xx\|user:after cancel\|model:echo: after cancel\|user:real\|model:echo: real\|user:real\|model:echo: real\|user:one more\|model:echo: one more$" \
  "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_match "/load then /save keeps the loaded turns" "prefix ok" "$OUT"
expect_match "the line history is saved" "after\\\\040cancel" "$(cat "$XDG_STATE_HOME/glrun/history" 2>/dev/null)"
tm kill-server 2>/dev/null

# Ctrl-C over Live: the session is dropped, the next turn opens a new one
tmux_start "'$GLRUN' --mock chat --transport live"
wait_for "live: started" "chat over Live;.*Ctrl-D leaves"
keys "/model gemini-live-text-test-slow" Enter
wait_for "live: /model with a Live model id sets the Live model" "^model: gemini-live-text-test-slow \(Live\)$"
typetext "$words"; keys Enter
wait_for "live: the reply streams" "^echo: w01 w02"
keys C-c
wait_for "live: Ctrl-C cancels it" "cancelled: the partial reply is not kept"
keys "next turn" Enter
wait_for "live: the next turn is answered on a new session" "^echo: next turn$"
keys "/save $TMP/live.json" Enter
wait_for "live: only the answered turn is kept" "saved 2 messages"
keys C-d
wait_exit 10
expect_eq "live: exit 0" 0 "$TRC"
tm kill-server 2>/dev/null

# colours: a fallback is one dim line on a terminal, plain with NO_COLOR
for mode in colour NO_COLOR; do
  if [ $mode = colour ]; then envs="env -u NO_COLOR"; else envs="env NO_COLOR=1"; fi
  tmux_start "$envs XDG_STATE_HOME='$XDG_STATE_HOME' '$GLRUN' --mock chat --transport rest --model gemini-nonexistent"
  wait_for "$mode: started" "Ctrl-D leaves"
  keys "hi" Enter
  wait_for "$mode: the fallback answer" "^echo: hi$"
  line=$(tm capture-pane -p -J -e -t t | grep "falling back")
  expect_eq "$mode: one fallback line" 1 "$(printf '%s\n' "$line" | grep -c .)"
  if [ $mode = colour ]; then
    expect_match "colour: the fallback line is dim" $'\e\\[2m' "$line"
  else
    expect_no_match "NO_COLOR: no escape sequences" $'\e\\[' "$line"
  fi
  keys C-d
  wait_exit 10
  tm kill-server 2>/dev/null
done
finish
