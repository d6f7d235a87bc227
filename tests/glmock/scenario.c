/* Scenarios: scripted, stateful faults with counts (README "Scenarios").
 * A rule list is managed on glmock's own port (POST / GET / DELETE
 * /glmock/scenario, no API key) or loaded with --scenario FILE. Each REST
 * request, Live handshake, Live setup and Live turn is counted; the first
 * active rule that matches it fires: its count is decremented, its hits
 * incremented, and the caller (rest.c, ws.c, live.c) applies the fault. */
#include "glmock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MATCH_STR 1024
#define MAX_REASON 500
#define MAX_DELAY_MS 600000
#define MAX_COUNT 1000000000L

typedef struct {
    int kinds;              /* SC_* bits the rule may match */
    bool stream_only;       /* cut_after / midstream_error: streamGenerateContent only */
    char *model, *path, *text;
    long count;             /* as given; -1 = forever */
    long remaining;         /* -1 = forever, 0 = exhausted */
    long hits;
    scen_fault_t f;
    json_t *match, *fault;  /* as given, for GET */
} rule_t;

static rule_t *g_rules;
static size_t g_nrules;
static long g_counters[4];  /* rest, live_handshake, live_setup, live_turn */

static const char *const KIND_NAMES[4] = {"rest", "live_handshake", "live_setup", "live_turn"};

static int kind_index(int kind)
{
    switch (kind) {
    case SC_REST: return 0;
    case SC_LIVE_HANDSHAKE: return 1;
    case SC_LIVE_SETUP: return 2;
    default: return 3;
    }
}

static void rule_free(rule_t *r)
{
    free(r->model);
    free(r->path);
    free(r->text);
    json_decref(r->match);
    json_decref(r->fault);
}

void scen_free(void)
{
    for (size_t i = 0; i < g_nrules; i++) rule_free(&g_rules[i]);
    free(g_rules);
    g_rules = NULL;
    g_nrules = 0;
}

static void scen_reset(void)
{
    scen_free();
    memset(g_counters, 0, sizeof g_counters);
}

void scen_count(int kind) { g_counters[kind_index(kind)]++; }

bool scen_any(int kind)
{
    for (size_t i = 0; i < g_nrules; i++)
        if (g_rules[i].remaining != 0 && (g_rules[i].kinds & kind)) return true;
    return false;
}

bool scen_wants_text(int kind)
{
    for (size_t i = 0; i < g_nrules; i++)
        if (g_rules[i].remaining != 0 && (g_rules[i].kinds & kind) && g_rules[i].text) return true;
    return false;
}

bool scen_match(int kind, const char *model, const char *path, const char *text, bool stream, scen_fault_t *out)
{
    for (size_t i = 0; i < g_nrules; i++) {
        rule_t *r = &g_rules[i];
        if (r->remaining == 0 || !(r->kinds & kind)) continue;
        if (r->stream_only && !stream) continue;
        if (r->model && !(model && strstr(model, r->model))) continue;
        if (r->path && !(path && strstr(path, r->path))) continue;
        if (r->text && !(text && strstr(text, r->text))) continue;
        if (r->remaining > 0) r->remaining--;
        r->hits++;
        *out = r->f;
        out->rule = (int)i;
        LOG("scenario: rule %zu fired (%s, %ld left)", i, KIND_NAMES[kind_index(kind)], r->remaining);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ parsing */

/* A proto Duration as the service writes it: "47s", "1.5s" (at most 1 hour). */
static bool parse_duration(const char *s, double *secs)
{
    size_t n = strlen(s);
    if (n < 2 || n > 20 || s[n - 1] != 's') return false;
    bool dot = false, digit = false;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '.' && !dot && digit) dot = true;
        else if (s[i] >= '0' && s[i] <= '9') digit = true;
        else return false;
    }
    if (s[n - 2] == '.') return false;
    *secs = strtod(s, NULL);
    return *secs <= 3600;
}

typedef struct {
    char *msg;
    size_t n;
} perr_t;

#define FAIL(...) do { snprintf(pe->msg, pe->n, __VA_ARGS__); return false; } while (0)

static bool get_int(json_t *v, const char *name, long lo, long hi, long *out, perr_t *pe, int idx)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        FAIL("rule %d: %s must be an integer from %ld to %ld", idx, name, lo, hi);
    *out = (long)json_integer_value(v);
    return true;
}

static bool check_keys(json_t *obj, const char *where, const char *const *allowed, perr_t *pe, int idx)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) if (!strcmp(k, *a)) ok = true;
        if (!ok) {
            char list[400] = "";
            for (const char *const *a = allowed; *a; a++) {
                if (a != allowed) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, *a, sizeof list - strlen(list) - 1);
            }
            FAIL("rule %d: unknown field \"%s%s%.100s\" (allowed: %s)", idx, where, *where ? "." : "", k, list);
        }
    }
    return true;
}

static bool kind_from_name(const char *s, int *kind)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, KIND_NAMES[i])) { *kind = 1 << i; return true; }
    return false;
}

static void kinds_text(int kinds, char *out, size_t n)
{
    out[0] = 0;
    for (int i = 0; i < 4; i++) {
        if (!(kinds & (1 << i))) continue;
        if (out[0]) strncat(out, "|", n - strlen(out) - 1);
        strncat(out, KIND_NAMES[i], n - strlen(out) - 1);
    }
}

static bool parse_match_str(json_t *m, const char *name, char **out, perr_t *pe, int idx)
{
    json_t *v = json_object_get(m, name);
    if (!v) return true;
    if (!json_is_string(v) || json_string_length(v) > MAX_MATCH_STR || strlen(json_string_value(v)) != json_string_length(v))
        FAIL("rule %d: match.%s must be a string (at most %d bytes, no NUL)", idx, name, MAX_MATCH_STR);
    *out = xstrdup(json_string_value(v));
    return true;
}

static bool parse_fault(json_t *f, rule_t *r, int *fault_kinds, perr_t *pe, int idx)
{
    static const char *const allowed[] = {"status", "retry_delay", "quota_id", "cut_after", "midstream_error",
        "after_events", "delay_ms", "close", "reason", "drop", "after_chunks", "go_away", NULL};
    if (!json_is_object(f)) FAIL("rule %d: fault must be an object", idx);
    if (!check_keys(f, "fault", allowed, pe, idx)) return false;
    scen_fault_t *o = &r->f;
    memset(o, 0, sizeof *o);
    o->cut_after = -1;
    static const char *const primaries[] = {"status", "cut_after", "midstream_error", "close", "drop", "go_away", NULL};
    const char *primary = NULL;
    for (const char *const *p = primaries; *p; p++) {
        if (!json_object_get(f, *p)) continue;
        if (primary) FAIL("rule %d: fault.%s and fault.%s cannot be combined", idx, primary, *p);
        primary = *p;
    }
    json_t *v;
    long n;
    if ((v = json_object_get(f, "delay_ms"))) {
        if (!get_int(v, "fault.delay_ms", 0, MAX_DELAY_MS, &n, pe, idx)) return false;
        o->delay_ms = (unsigned)n;
        if (primary && strcmp(primary, "status") && strcmp(primary, "cut_after") && strcmp(primary, "midstream_error"))
            FAIL("rule %d: fault.delay_ms combines only with status, cut_after or midstream_error (REST)", idx);
        if (!primary) primary = "delay_ms";
    }
    if (!primary)
        FAIL("rule %d: fault needs one of status, cut_after, midstream_error, delay_ms, close, drop, go_away", idx);
    int kinds = 0;
    if (!strcmp(primary, "status")) {
        if (!get_int(json_object_get(f, "status"), "fault.status", 400, 599, &n, pe, idx)) return false;
        o->status = (int)n;
        kinds = o->delay_ms ? SC_REST : SC_REST | SC_LIVE_HANDSHAKE;
    } else if (!strcmp(primary, "cut_after")) {
        if (!get_int(json_object_get(f, "cut_after"), "fault.cut_after", 0, 10000, &n, pe, idx)) return false;
        o->cut_after = (int)n;
        kinds = SC_REST;
        r->stream_only = true;
    } else if (!strcmp(primary, "midstream_error")) {
        if (!get_int(json_object_get(f, "midstream_error"), "fault.midstream_error", 400, 599, &n, pe, idx)) return false;
        o->midstream_error = (int)n;
        o->after_events = 2;
        kinds = SC_REST;
        r->stream_only = true;
    } else if (!strcmp(primary, "delay_ms")) {
        kinds = SC_REST;
    } else if (!strcmp(primary, "close")) {
        if (!get_int(json_object_get(f, "close"), "fault.close", 1000, 4999, &n, pe, idx)) return false;
        if (n == 1004 || n == 1005 || n == 1006 || n == 1015)
            FAIL("rule %d: fault.close %ld is reserved and cannot be sent in a close frame", idx, n);
        o->close_code = (int)n;
        kinds = SC_LIVE_SETUP | SC_LIVE_TURN;
    } else if (!strcmp(primary, "drop")) {
        if (!json_is_true(json_object_get(f, "drop"))) FAIL("rule %d: fault.drop must be true", idx);
        o->drop = true;
        kinds = SC_LIVE_TURN;
    } else {    /* go_away */
        v = json_object_get(f, "go_away");
        double secs;
        if (!json_is_string(v) || !parse_duration(json_string_value(v), &secs))
            FAIL("rule %d: fault.go_away must be a duration like \"2s\" or \"0.5s\" (at most 3600s)", idx);
        snprintf(o->go_away, sizeof o->go_away, "%s", json_string_value(v));
        o->go_away_ms = (unsigned)llround(secs * 1000);
        kinds = SC_LIVE_TURN;
    }
    /* modifiers */
    json_t *rd = json_object_get(f, "retry_delay"), *qi = json_object_get(f, "quota_id");
    if ((rd || qi) && o->status != 429)
        FAIL("rule %d: fault.retry_delay and fault.quota_id go with \"status\": 429", idx);
    if (o->status == 429) {
        if (qi && (!json_is_string(qi) || json_string_length(qi) == 0 || json_string_length(qi) >= sizeof o->quota_id ||
                   strlen(json_string_value(qi)) != json_string_length(qi)))
            FAIL("rule %d: fault.quota_id must be a non-empty string (at most %zu bytes)", idx, sizeof o->quota_id - 1);
        snprintf(o->quota_id, sizeof o->quota_id, "%s",
                 qi ? json_string_value(qi) : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
        o->retry_info = true;
        double secs;
        if (rd && json_is_null(rd)) {
            o->retry_info = false;
        } else if (rd) {
            if (!json_is_string(rd) || !parse_duration(json_string_value(rd), &secs))
                FAIL("rule %d: fault.retry_delay must be a duration like \"1.5s\" or \"47s\" (at most 3600s), or null", idx);
            snprintf(o->retry_delay, sizeof o->retry_delay, "%s", json_string_value(rd));
        } else {
            snprintf(o->retry_delay, sizeof o->retry_delay, "%s", strstr(o->quota_id, "PerDay") ? "47s" : "1.5s");
        }
    }
    if ((v = json_object_get(f, "after_events"))) {
        if (!o->midstream_error) FAIL("rule %d: fault.after_events goes with midstream_error", idx);
        if (!get_int(v, "fault.after_events", 0, 10000, &n, pe, idx)) return false;
        o->after_events = (int)n;
    }
    if ((v = json_object_get(f, "reason"))) {
        if (!o->close_code) FAIL("rule %d: fault.reason goes with close", idx);
        if (!json_is_string(v) || json_string_length(v) > MAX_REASON || strlen(json_string_value(v)) != json_string_length(v))
            FAIL("rule %d: fault.reason must be a string of at most %d bytes (the close frame carries 123)", idx, MAX_REASON);
        o->has_reason = true;
        snprintf(o->reason, sizeof o->reason, "%s", json_string_value(v));
    }
    if ((v = json_object_get(f, "after_chunks"))) {
        if (!o->close_code && !o->drop) FAIL("rule %d: fault.after_chunks goes with close or drop", idx);
        if (!get_int(v, "fault.after_chunks", 0, 10000, &n, pe, idx)) return false;
        o->after_chunks = (int)n;
        kinds &= SC_LIVE_TURN;
    }
    *fault_kinds = kinds;
    return true;
}

static bool parse_rule(json_t *j, rule_t *r, perr_t *pe, int idx)
{
    static const char *const rule_keys[] = {"match", "count", "fault", NULL};
    static const char *const match_keys[] = {"kind", "model", "path", "text", NULL};
    memset(r, 0, sizeof *r);
    if (!json_is_object(j)) FAIL("rule %d: a rule must be an object {\"match\": {...}, \"count\": N, \"fault\": {...}}", idx);
    if (!check_keys(j, "", rule_keys, pe, idx)) return false;
    json_t *f = json_object_get(j, "fault");
    if (!f) FAIL("rule %d: \"fault\" is required", idx);
    int fkinds;
    if (!parse_fault(f, r, &fkinds, pe, idx)) return false;
    r->count = 1;
    json_t *cnt = json_object_get(j, "count");
    if (cnt) {
        if (!json_is_integer(cnt) || (json_integer_value(cnt) != -1 &&
            (json_integer_value(cnt) < 1 || json_integer_value(cnt) > MAX_COUNT)))
            FAIL("rule %d: count must be an integer from 1 to %ld, or -1 (forever)", idx, MAX_COUNT);
        r->count = (long)json_integer_value(cnt);
    }
    r->remaining = r->count;
    json_t *m = json_object_get(j, "match");
    int kinds = fkinds, mkind = 0;
    if (m) {
        if (!json_is_object(m)) FAIL("rule %d: match must be an object", idx);
        if (!check_keys(m, "match", match_keys, pe, idx)) return false;
        json_t *k = json_object_get(m, "kind");
        if (k && (!json_is_string(k) || !kind_from_name(json_string_value(k), &mkind)))
            FAIL("rule %d: match.kind must be one of \"rest\", \"live_handshake\", \"live_setup\", \"live_turn\"", idx);
        if (!parse_match_str(m, "model", &r->model, pe, idx) || !parse_match_str(m, "path", &r->path, pe, idx) ||
            !parse_match_str(m, "text", &r->text, pe, idx))
            return false;
    }
    char fk[80];
    kinds_text(fkinds, fk, sizeof fk);
    if (mkind) {
        if (!(mkind & fkinds))
            FAIL("rule %d: this fault applies to %s, not to %s", idx, fk, KIND_NAMES[kind_index(mkind)]);
        kinds = mkind;
    }
    if (r->model && mkind == SC_LIVE_HANDSHAKE)
        FAIL("rule %d: match.model: the model is not known at the Live handshake (use live_setup)", idx);
    if (r->text && (mkind == SC_LIVE_HANDSHAKE || mkind == SC_LIVE_SETUP))
        FAIL("rule %d: match.text applies to rest and live_turn only", idx);
    if (r->model) kinds &= ~SC_LIVE_HANDSHAKE;
    if (r->text) kinds &= SC_REST | SC_LIVE_TURN;
    if (!kinds) FAIL("rule %d: no request kind can match this rule (the fault applies to %s)", idx, fk);
    r->kinds = kinds;
    r->match = m ? json_deep_copy(m) : json_object();
    r->fault = json_deep_copy(f);
    return true;
}

/* Validate the whole list first: either every rule is added or none. */
static int add_rules(json_t *doc, char *err, size_t en)
{
    perr_t pe = {err, en};
    json_t *list = doc;
    if (json_is_object(doc)) {
        list = json_array();
        json_array_append(list, doc);
    } else if (!json_is_array(doc)) {
        snprintf(err, en, "the body must be a JSON list of rules (or one rule object)");
        return -1;
    } else {
        json_incref(list);
    }
    size_t n = json_array_size(list);
    if (n > SCEN_MAX_RULES) {
        json_decref(list);
        snprintf(err, en, "too many rules: %zu (at most %d)", n, SCEN_MAX_RULES);
        return -1;
    }
    rule_t *nr = xcalloc(n ? n : 1, sizeof *nr);
    for (size_t i = 0; i < n; i++) {
        if (!parse_rule(json_array_get(list, i), &nr[i], &pe, (int)i)) {
            for (size_t k = 0; k <= i; k++) rule_free(&nr[k]);
            free(nr);
            json_decref(list);
            return -1;
        }
    }
    json_decref(list);
    if (g_nrules + n > SCEN_MAX_RULES) {
        /* Make room by forgetting exhausted rules. */
        size_t o = 0;
        for (size_t i = 0; i < g_nrules; i++) {
            if (g_rules[i].remaining == 0) rule_free(&g_rules[i]);
            else g_rules[o++] = g_rules[i];
        }
        g_nrules = o;
    }
    if (g_nrules + n > SCEN_MAX_RULES) {
        for (size_t k = 0; k < n; k++) rule_free(&nr[k]);
        free(nr);
        snprintf(err, en, "too many rules: %zu active + %zu new > %d (DELETE /glmock/scenario clears them)",
                 g_nrules, n, SCEN_MAX_RULES);
        return -1;
    }
    g_rules = realloc(g_rules, (g_nrules + n + 1) * sizeof *g_rules);
    if (!g_rules) abort();
    memcpy(g_rules + g_nrules, nr, n * sizeof *nr);
    g_nrules += n;
    free(nr);
    return (int)n;
}

int scen_load_file(const char *file, char *err, size_t en)
{
    json_error_t jerr;
    json_t *doc = json_load_file(file, 0, &jerr);
    if (!doc && jerr.line < 0) {
        snprintf(err, en, "%s: %s", file, jerr.text);
        return -1;
    }
    if (!doc) {
        snprintf(err, en, "%s: invalid JSON: %s (line %d, column %d)", file, jerr.text, jerr.line, jerr.column);
        return -1;
    }
    char e2[512];
    int n = add_rules(doc, e2, sizeof e2);
    json_decref(doc);
    if (n < 0) snprintf(err, en, "%s: %s", file, e2);
    return n;
}

/* ------------------------------------------------------------------ control API */

static json_t *state_json(void)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < g_nrules; i++) {
        rule_t *r = &g_rules[i];
        char kinds[80];
        kinds_text(r->kinds, kinds, sizeof kinds);
        json_array_append_new(rules, json_pack("{s:i, s:O, s:O, s:I, s:I, s:I, s:b, s:s}",
            "index", (int)i, "match", r->match, "fault", r->fault, "count", (json_int_t)r->count,
            "remaining", (json_int_t)r->remaining, "hits", (json_int_t)r->hits, "active", r->remaining != 0,
            "kinds", kinds));
    }
    json_t *counters = json_object();
    for (int i = 0; i < 4; i++) json_object_set_new(counters, KIND_NAMES[i], json_integer(g_counters[i]));
    return json_pack("{s:o, s:o}", "rules", rules, "counters", counters);
}

static void bad_request(conn_t *c, req_t *r, const char *msg)
{
    char full[700];
    snprintf(full, sizeof full, "glmock scenario: %s", msg);
    json_t *e = rpc_error(400, "INVALID_ARGUMENT", full);
    http_respond_json(c, r, 400, e, NULL);
    json_decref(e);
}

void scen_http(conn_t *c, req_t *r)
{
    json_t *st;
    if (r->method == HTTP_GET || r->method == HTTP_HEAD) {
        st = state_json();
    } else if (r->method == HTTP_DELETE) {
        scen_reset();
        LOG("scenario: cleared");
        st = state_json();
    } else if (r->method == HTTP_POST) {
        json_error_t jerr;
        json_t *doc = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &jerr);
        char err[600];
        if (!doc) {
            snprintf(err, sizeof err, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
            bad_request(c, r, err);
            return;
        }
        int n = add_rules(doc, err, sizeof err);
        json_decref(doc);
        if (n < 0) { bad_request(c, r, err); return; }
        LOG("scenario: %d rule(s) added, %zu in all", n, g_nrules);
        st = state_json();
        json_object_set_new(st, "added", json_integer(n));
    } else {
        json_t *e = rpc_error(405, "INVALID_ARGUMENT", "glmock scenario: use GET, POST or DELETE");
        http_respond_json(c, r, 405, e, "Allow: GET, POST, DELETE\r\n");
        json_decref(e);
        return;
    }
    http_respond_json(c, r, 200, st, NULL);
    json_decref(st);
}

/* Every WebSocket upgrade request (except the /glmock/ test endpoints) is a
 * live_handshake. A "status" fault answers it with a plain HTTP error and no
 * upgrade, as a proxy without WebSocket support does. */
bool scen_handshake(conn_t *c, req_t *r)
{
    scen_count(SC_LIVE_HANDSHAKE);
    scen_fault_t f;
    if (!scen_match(SC_LIVE_HANDSHAKE, NULL, r->path, NULL, false, &f) || !f.status) return false;
    return rest_upgrade_refused(c, r, f.status, f.status == 404 ? NULL : err_for_status(f.status, &f, NULL));
}
