# Helpers for the tests/e2e/doctor_*.sh tests (after lib/sh.sh).
# doctor_on_glmock [GLMOCK ARGS...]: glmock with a distinctive key.
DOCTOR_KEY="AIzaSyDOCTOR-distinctive-secret-7731"
doctor_on_glmock() {
  start_glmock "$@"
  clean_env
  export GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" GEMINI_API_KEY="$DOCTOR_KEY"
}

# doctor ARGS...: runs `glrun doctor` twice, as text (UTF-8 locale) and as
# --json; sets TEXT, TRC, JSON, JRC, ROWS (one "name<TAB>ok<TAB>cause_id"
# line per check, from the JSON) and ALL (every byte printed, for the
# secret checks). Every run is bounded (--deadline, and run's timeout).
doctor() {
  run env LANG=C.UTF-8 LC_ALL= "$GLRUN" doctor --timeout 5 --deadline 40 "$@"
  TEXT="$OUT"; TRC=$RC; ALL="$OUT$ERR"
  run "$GLRUN" doctor --json --timeout 5 --deadline 40 "$@"
  JSON="$OUT"; JRC=$RC; ALL="$ALL$OUT$ERR"
  printf '%s' "$JSON" >"$TMP/doctor.json"
  ROWS=$(DOCTOR_JSON="$TMP/doctor.json" "$GLRUN" -e '
    local json = require "glrun.json"
    local f = assert(io.open(os.getenv("DOCTOR_JSON"))); local d = assert(json.decode(f:read("a"))); f:close()
    local function s(v) return v == json.null and "-" or tostring(v) end
    for _, c in ipairs(d.checks) do print(s(c.name) .. "\t" .. s(c.ok) .. "\t" .. s(c.cause_id)) end
    print("#ok\t" .. tostring(d.ok))' 2>&1)
  # a sanitizer build exits 1 on a finding, like a failed check: look for its report
  case "$ALL" in *Sanitizer*|*"runtime error:"*) bad "glrun doctor $*: a sanitizer report: $(printf '%s' "$ALL" | grep -m1 -E 'Sanitizer|runtime error')" ;; esac
}

# expect_cause CHECK CAUSE_ID: the check failed with that cause (JSON),
# the text report names it, and both runs exit 1.
expect_cause() {
  expect_match "$1: cause $2 (--json)" "^$1	false	$2$" "$ROWS"
  expect_eq "$1: exit status 1" "1 1" "$TRC $JRC"
}

# expect_text_cause TITLE: the text report prints "cause: TITLE" after a ✗ line.
expect_text_cause() {
  expect_match "the report says: cause: $1" "cause: $1" "$TEXT"
  expect_match "the report marks a check ✗" "^✗ " "$TEXT"
}

expect_no_secret() {
  expect_no_match "no secret in any output" "$DOCTOR_KEY|DOCTOR-distinctive" "$ALL"
}
