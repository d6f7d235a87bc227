/*
 * core.c — error objects, secret redaction, logging, the wire trace and
 * small buffers shared by every module.
 */
#include "gl.h"
#include "jsondec.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- buffers ------------------------------------------------------- */

void gl_buf_add(gl_buf *b, const void *s, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void gl_buf_adds(gl_buf *b, const char *s) { gl_buf_add(b, s, strlen(s)); }

void gl_buf_free(gl_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void gl_buf_json_str(gl_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    gl_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        gl_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; gl_buf_add(b, esc, 2); break;
        case '\\': esc[1] = '\\'; gl_buf_add(b, esc, 2); break;
        case '\n': esc[1] = 'n'; gl_buf_add(b, esc, 2); break;
        case '\r': esc[1] = 'r'; gl_buf_add(b, esc, 2); break;
        case '\t': esc[1] = 't'; gl_buf_add(b, esc, 2); break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            gl_buf_add(b, esc, 6);
        }
    }
    gl_buf_add(b, s + run, len - run);
    gl_buf_add(b, "\"", 1);
}

/* ---- secrets ------------------------------------------------------- */

/* Each secret is kept as given and, when it differs, as it reads inside a
 * JSON string (a PEM key's newlines become \n): records are redacted after
 * they are encoded too. */
#define MAX_SECRETS 32
typedef struct known_secret { char *s; size_t len; char *esc; size_t esclen; } known_secret;
static known_secret secrets[MAX_SECRETS];
static int nsecrets;

static void secret_free(int i) {
    free(secrets[i].s);
    free(secrets[i].esc);
}

void gl_secret_add(const char *secret, size_t len) {
    if (len < 4) return; /* too short to redact safely (would mangle text) */
    for (int i = 0; i < nsecrets; i++)
        if (secrets[i].len == len && memcmp(secrets[i].s, secret, len) == 0) {
            /* known: make it the newest, so a secret that is still in use
             * (a private key re-registered at each token refresh) is never
             * the one forgotten */
            known_secret keep = secrets[i];
            memmove(secrets + i, secrets + i + 1, sizeof secrets[0] * (size_t)(nsecrets - i - 1));
            secrets[nsecrets - 1] = keep;
            return;
        }
    if (nsecrets == MAX_SECRETS) { /* forget the oldest */
        secret_free(0);
        memmove(secrets, secrets + 1, sizeof secrets[0] * (MAX_SECRETS - 1));
        nsecrets--;
    }
    secrets[nsecrets].s = malloc(len);
    if (!secrets[nsecrets].s) abort();
    memcpy(secrets[nsecrets].s, secret, len);
    secrets[nsecrets].len = len;
    secrets[nsecrets].esc = NULL;
    secrets[nsecrets].esclen = 0;
    gl_buf e = {0};
    gl_buf_json_str(&e, secret, len);
    if (e.len - 2 != len || memcmp(e.p + 1, secret, len) != 0) {
        memmove(e.p, e.p + 1, e.len - 2);
        secrets[nsecrets].esc = e.p;
        secrets[nsecrets].esclen = e.len - 2;
    } else gl_buf_free(&e);
    nsecrets++;
}

void gl_secrets_free(void) {
    for (int i = 0; i < nsecrets; i++) secret_free(i);
    nsecrets = 0;
}

/* Case-insensitive prefix test. */
static int has_prefix_ci(const char *s, size_t len, const char *pre) {
    size_t n = strlen(pre);
    if (len < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != pre[i]) return 0;
    return 1;
}

/* Carriers whose value is a secret whatever it is: query parameters and
 * header lines. The value runs to the next delimiter. */
static const char *const carriers[] = {
    "key=", "access_token=", "assertion=", "refresh_token=", "client_secret=",
    "x-goog-api-key: ", "x-goog-api-key:",
    "authorization: bearer ", "authorization: token ", "authorization: ",
    "\"access_token\":\"", "\"access_token\": \"",
    /* the same inside a JSON string (trace records of response bodies) */
    "\\\"access_token\\\":\\\"", "\\\"access_token\\\": \\\"", NULL,
};

static int value_end(char c) {
    return c == '&' || c == '\r' || c == '\n' || c == '"' || c == ' ' || c == '\'' || c == ',' || c == '}' ||
           c == '\\';
}

/* The longest known secret (either form) starting at s, or 0. */
static size_t secret_at(const char *s, size_t len) {
    size_t best = 0;
    for (int k = 0; k < nsecrets; k++) {
        size_t n = secrets[k].len;
        if (n > best && n <= len && memcmp(s, secrets[k].s, n) == 0) best = n;
        n = secrets[k].esclen;
        if (n > best && n <= len && memcmp(s, secrets[k].esc, n) == 0) best = n;
    }
    return best;
}

/* How many bytes at the end of a piece of a stream may be the beginning
 * of something to redact that the next piece completes. */
static size_t hold_back(void) {
    size_t n = 0;
    for (int k = 0; k < nsecrets; k++) {
        if (secrets[k].len > n) n = secrets[k].len;
        if (secrets[k].esclen > n) n = secrets[k].esclen;
    }
    n = n ? n - 1 : 0;
    for (int c = 0; carriers[c]; c++)
        if (strlen(carriers[c]) > n) n = strlen(carriers[c]);
    return n;
}

/* The scanner behind every redaction. It reads s (one piece of a stream,
 * or a whole text when final) and reports what to write through emit:
 * input bytes [a,b) become out[0..n): a copy (copy = 1), or "***", or
 * nothing when a secret's value goes on from the previous piece. It returns how many
 * input bytes it consumed; when not final, the rest (at most hold_back()
 * bytes, which might start a secret) is for the next call, with the next
 * piece appended. */
typedef struct rscan { int in_value, prev; } rscan;
typedef void (*emit_fn)(void *ctx, size_t a, size_t b, const char *out, size_t n, int copy);

static size_t scan(const char *s, size_t len, int final, rscan *st, emit_fn emit, void *ctx) {
    size_t i = 0, run = 0;
    if (st->in_value) { /* a carrier's value cut by the end of the previous piece */
        while (i < len && !value_end(s[i])) i++;
        if (i) emit(ctx, 0, i, "", 0, 0);
        if (i == len && !final) {
            if (len) st->prev = (unsigned char)s[len - 1];
            return len;
        }
        st->in_value = 0;
        run = i;
    }
    size_t hold = final ? 0 : hold_back();
    size_t limit = len > hold ? len - hold : 0;
    while (i < limit) {
        /* known secret values */
        size_t m = secret_at(s + i, len - i);
        if (m) {
            if (i > run) emit(ctx, run, i, s + run, i - run, 1);
            emit(ctx, i, i + m, "***", 3, 0);
            i += m;
            run = i;
            continue;
        }
        /* carriers: only at a word boundary */
        int pc = i ? (unsigned char)s[i - 1] : st->prev;
        int hit = 0;
        if (!isalnum(pc) || s[i] == '"') {
            for (int c = 0; carriers[c]; c++) {
                if (!has_prefix_ci(s + i, len - i, carriers[c])) continue;
                size_t n = strlen(carriers[c]);
                size_t j = i + n;
                while (j < len && !value_end(s[j])) j++;
                int open = !final && j == len; /* the value may go on in the next piece */
                if (!open && (j == i + n || (j - (i + n) == 3 && memcmp(s + i + n, "***", 3) == 0))) break;
                emit(ctx, run, i + n, s + run, i + n - run, 1);
                emit(ctx, i + n, j, "***", 3, 0);
                st->in_value = open;
                i = j;
                run = j;
                hit = 1;
                break;
            }
        }
        if (!hit) i++;
    }
    if (i > run) emit(ctx, run, i, s + run, i - run, 1);
    if (i) st->prev = (unsigned char)s[i - 1];
    return i;
}

static void emit_buf(void *ctx, size_t a, size_t b, const char *out, size_t n, int copy) {
    (void)a; (void)b; (void)copy;
    gl_buf_add(ctx, out, n);
}

char *gl_redact(const char *s, size_t len, size_t *outlen) {
    gl_buf b = {0};
    rscan st = {0, 0};
    scan(s, len, 1, &st, emit_buf, &b);
    if (!b.p) gl_buf_add(&b, "", 0);
    if (outlen) *outlen = b.len;
    return b.p;
}

/* Redacting a stream piece by piece writes what redacting the whole
 * stream at once would: a secret split between two pieces is held back
 * until the piece that completes it. */
void gl_redstream_feed(gl_redstream *rs, const char *p, size_t len, gl_buf *out) {
    rscan st = {rs->in_value, rs->prev};
    size_t used;
    if (rs->held.len) {
        gl_buf_add(&rs->held, p, len);
        used = scan(rs->held.p, rs->held.len, 0, &st, emit_buf, out);
        memmove(rs->held.p, rs->held.p + used, rs->held.len - used);
        rs->held.len -= used;
    } else {
        used = scan(p, len, 0, &st, emit_buf, out);
        gl_buf_add(&rs->held, p + used, len - used);
    }
    rs->in_value = st.in_value;
    rs->prev = st.prev;
}

void gl_redstream_finish(gl_redstream *rs, gl_buf *out) {
    rscan st = {rs->in_value, rs->prev};
    if (rs->held.len) scan(rs->held.p, rs->held.len, 1, &st, emit_buf, out);
    gl_redstream_free(rs);
}

void gl_redstream_free(gl_redstream *rs) {
    gl_buf_free(&rs->held);
    rs->in_value = rs->prev = 0;
}

/* gl_redact_cuts: see gl.h. */
struct cutmap {
    gl_buf out;
    const size_t *cuts;
    size_t *out_cuts, ncuts, next;
};

static void emit_cuts(void *ctx, size_t a, size_t b, const char *out, size_t n, int copy) {
    struct cutmap *m = ctx;
    size_t o = m->out.len;
    gl_buf_add(&m->out, out, n);
    for (; m->next < m->ncuts && m->cuts[m->next] <= b; m->next++) {
        size_t c = m->cuts[m->next];
        if (c <= a) m->out_cuts[m->next] = o;
        else m->out_cuts[m->next] = copy ? o + (c - a) : o + n; /* a replaced secret stays in its first piece */
    }
}

char *gl_redact_cuts(const char *s, size_t len, const size_t *cuts, size_t *out_cuts, size_t ncuts,
                     size_t *outlen) {
    struct cutmap m = {{0}, cuts, out_cuts, ncuts, 0};
    rscan st = {0, 0};
    for (size_t k = 0; k < ncuts && cuts[k] == 0; k++) out_cuts[m.next++] = 0;
    scan(s, len, 1, &st, emit_cuts, &m);
    for (; m.next < ncuts; m.next++) out_cuts[m.next] = m.out.len;
    if (!m.out.p) gl_buf_add(&m.out, "", 0);
    if (outlen) *outlen = m.out.len;
    return m.out.p;
}

/* Redact every string of the value at idx in place: a string is replaced,
 * a table's string values and keys (and those of the tables in it, to a
 * bounded depth) are rewritten. Returns how many strings changed. */
static int redact_value(lua_State *L, int idx, int depth) {
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len, n;
        const char *s = lua_tolstring(L, idx, &len);
        char *r = gl_redact(s, len, &n);
        int changed = n != len || memcmp(r, s, n) != 0;
        if (changed) {
            lua_pushlstring(L, r, n);
            lua_replace(L, idx);
        }
        free(r);
        return changed;
    }
    if (lua_type(L, idx) != LUA_TTABLE || depth > 32) return 0;
    int changed = 0, moved = 0;
    lua_newtable(L); /* keys that changed: new key -> value */
    int fix = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* key, value */
        if (redact_value(L, -1, depth + 1)) {
            changed++;
            if (lua_type(L, -1) == LUA_TSTRING) { /* assigning an existing field during next is allowed */
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, idx);
            } else lua_pop(L, 1);
        } else lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
            if (redact_value(L, -1, depth + 1)) { /* key, new key */
                lua_pushvalue(L, -2);
                lua_rawget(L, idx);
                lua_rawset(L, fix);
                moved = 1;
                changed++;
            } else lua_pop(L, 1);
        }
    }
    if (moved) { /* rename the keys: old ones out, new ones in */
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) continue;
            lua_pushvalue(L, -1);
            if (redact_value(L, -1, depth + 1)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_pushnil(L);
                lua_rawset(L, idx); /* clearing a field during next is allowed */
            } else lua_pop(L, 1);
        }
        lua_pushnil(L);
        while (lua_next(L, fix)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, idx);
        }
    }
    lua_settop(L, fix - 1);
    return changed;
}

int gl_redact_value(lua_State *L, int idx) { return redact_value(L, idx, 0); }

/* ---- logging ------------------------------------------------------- */

static int log_level = GL_LOG_WARN;
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int gl_log_set_level(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, level_names[i]) == 0) { log_level = i; return 0; }
    return -1;
}

int gl_log_enabled(int level) { return level <= log_level; }

/* Format, then redact the whole text, then cut it to max bytes: cutting
 * first could leave a piece of a secret that no longer matches. Returns a
 * malloc'd string. */
static char *format_redacted(size_t max, size_t *outlen, const char *fmt, va_list ap) {
    char small[1024];
    va_list aq;
    va_copy(aq, ap);
    int len = vsnprintf(small, sizeof small, fmt, aq);
    va_end(aq);
    if (len < 0) { /* an encoding error: say nothing rather than garbage */
        len = 0;
        small[0] = 0;
    }
    char *full = small;
    if ((size_t)len >= sizeof small) {
        full = malloc((size_t)len + 1);
        if (!full) abort();
        vsnprintf(full, (size_t)len + 1, fmt, ap);
    }
    size_t n;
    char *r = gl_redact(full, (size_t)len, &n);
    if (full != small) free(full);
    if (n > max) {
        n = max;
        r[n] = 0;
    }
    *outlen = n;
    return r;
}

static void vlog(int level, const char *module, const char *fmt, va_list ap) {
    size_t n;
    char *r = format_redacted(2047, &n, fmt, ap);
    fprintf(stderr, "glrun[%s] %s: %s\n", level_names[level], module, r);
    free(r);
}

void gl_log(int level, const char *module, const char *fmt, ...) {
    if (level > log_level) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}

/* ---- trace --------------------------------------------------------- */

static FILE *trace_fp;
static uint64_t trace_t0;

int gl_trace_open(const char *path) {
    trace_fp = fopen(path, "w");
    if (!trace_fp) return -1;
    trace_t0 = uv_hrtime();
    return 0;
}

void gl_trace_close(void) {
    if (trace_fp) fclose(trace_fp);
    trace_fp = NULL;
}

int gl_trace_on(void) { return trace_fp != NULL; }

void gl_trace_record(const char *kind, const char *fields_json) {
    if (!trace_fp) return;
    gl_buf b = {0};
    char head[96];
    snprintf(head, sizeof head, "{\"t\":%.6f,\"kind\":", (uv_hrtime() - trace_t0) / 1e9);
    gl_buf_adds(&b, head);
    gl_buf_json_str(&b, kind, strlen(kind));
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, ",");
        gl_buf_adds(&b, fields_json);
    }
    gl_buf_adds(&b, "}\n");
    size_t n;
    char *r = gl_redact(b.p, b.len, &n);
    fwrite(r, 1, n, trace_fp);
    fflush(trace_fp);
    free(r);
    gl_buf_free(&b);
}

void gl_trace_data(gl_redstream *rs, const char *kind, const char *fields_json, const char *p, size_t len) {
    if (!trace_fp) return;
    gl_buf red = {0}, b = {0};
    gl_redstream_feed(rs, p, len, &red);
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, fields_json);
        gl_buf_adds(&b, ",");
    }
    gl_buf_adds(&b, "\"data\":");
    gl_buf_json_str(&b, red.p ? red.p : "", red.len);
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
    gl_buf_free(&red);
}

void gl_trace_data_end(gl_redstream *rs, const char *kind, const char *fields_json) {
    if (!rs->held.len || !trace_fp) {
        gl_redstream_free(rs);
        return;
    }
    gl_buf red = {0}, b = {0};
    gl_redstream_finish(rs, &red);
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, fields_json);
        gl_buf_adds(&b, ",");
    }
    gl_buf_adds(&b, "\"data\":");
    gl_buf_json_str(&b, red.p ? red.p : "", red.len);
    gl_buf_adds(&b, ",\"end\":true");
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
    gl_buf_free(&red);
}

/* ---- error objects ------------------------------------------------- */

static const char ERROR_MT[] = "glrun.error";

static int error_tostring(lua_State *L) {
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "kind");
    const char *msg = lua_tostring(L, -2);
    const char *kind = lua_tostring(L, -1);
    lua_pushfstring(L, "%s: %s", kind ? kind : "error", msg ? msg : "(no message)");
    return 1;
}

static void error_mt(lua_State *L) {
    if (luaL_newmetatable(L, ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushstring(L, "glrun.error");
        lua_setfield(L, -2, "__name");
    }
}

static int error_newv(lua_State *L, const char *kind, const char *fmt, va_list ap) {
    size_t n;
    char *r = format_redacted(4095, &n, fmt, ap);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushlstring(L, r, n);
    lua_setfield(L, -2, "message");
    free(r);
    error_mt(L);
    lua_setmetatable(L, -2);
    return lua_gettop(L);
}

int gl_error_new(lua_State *L, const char *kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int idx = error_newv(L, kind, fmt, ap);
    va_end(ap);
    return idx;
}

int gl_fail(lua_State *L, const char *kind, const char *fmt, ...) {
    lua_pushnil(L);
    va_list ap;
    va_start(ap, fmt);
    error_newv(L, kind, fmt, ap);
    va_end(ap);
    return 2;
}

/* ---- JSON ---------------------------------------------------------- */

/* jsondec: straight from the bytes (no Lua string copy, no pcall) */
int gl_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen) {
    return jsondec_decode(L, s, len, err, errlen);
}

/* ---- Lua-facing helpers (module glrun.core; scheduler adds the rest) --- */

/* gl.error(kind, message [, fields]) -> error object */
static int l_error(lua_State *L) {
    const char *kind = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    gl_error_new(L, kind, "%s", msg);
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "message") == 0) {
                lua_pop(L, 1);
                continue;
            }
            /* the fields are as clean as the message: a server's words
             * copied into one (a body, a reason) have no secret */
            if (lua_type(L, -1) == LUA_TSTRING) gl_redact_value(L, -1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    return 1;
}

static int l_is_error(lua_State *L) {
    int r = 0;
    if (lua_getmetatable(L, 1)) {
        luaL_getmetatable(L, ERROR_MT);
        r = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, r);
    return 1;
}

static int l_secret(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    gl_secret_add(s, len);
    return 0;
}

static int l_redact(lua_State *L) {
    size_t len, n;
    const char *s = luaL_checklstring(L, 1, &len);
    char *r = gl_redact(s, len, &n);
    lua_pushlstring(L, r, n);
    free(r);
    return 1;
}

static int l_log(lua_State *L) {
    static const char *const names[] = {"error", "warn", "info", "debug", "trace", NULL};
    int level = luaL_checkoption(L, 1, NULL, names);
    if (!gl_log_enabled(level)) return 0;
    const char *msg = luaL_checkstring(L, 2);
    const char *module = luaL_optstring(L, 3, "lua");
    gl_log(level, module, "%s", msg);
    return 0;
}

static int l_log_enabled(lua_State *L) {
    static const char *const names[] = {"error", "warn", "info", "debug", "trace", NULL};
    lua_pushboolean(L, gl_log_enabled(luaL_checkoption(L, 1, NULL, names)));
    return 1;
}

/* gl.trace(kind, json_fields_string) — for Lua layers (policy events). */
static int l_trace(lua_State *L) {
    if (!gl_trace_on()) return 0;
    gl_trace_record(luaL_checkstring(L, 1), luaL_optstring(L, 2, ""));
    return 0;
}

static int l_trace_on(lua_State *L) {
    lua_pushboolean(L, gl_trace_on());
    return 1;
}

#include <openssl/evp.h>

static int l_b64encode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    size_t out = 4 * ((len + 2) / 3);
    unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &b, out + 1);
    int n = EVP_EncodeBlock(p, (const unsigned char *)s, (int)len);
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* Standard base64 with padding; whitespace is not allowed. Returns nil, err
 * on malformed input. */
static int l_b64decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len % 4 != 0) return gl_fail(L, "protocol", "base64 text of %zu bytes is not a multiple of 4", len);
    luaL_Buffer b;
    unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &b, len / 4 * 3 + 1);
    int n = EVP_DecodeBlock(p, (const unsigned char *)s, (int)len);
    if (n < 0) return gl_fail(L, "protocol", "malformed base64 text");
    if (len >= 1 && s[len - 1] == '=') n--;
    if (len >= 2 && s[len - 2] == '=') n--;
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

#include <unistd.h>
#include <sys/stat.h>
#include <errno.h>

/* core.file_mode(path) -> permission bits (e.g. 0600 as 384) | nil, err.
 * gemini.auth warns when a key file is readable by group or others. */
static int l_file_mode(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) return gl_fail(L, "io", "%s: %s", path, strerror(errno));
    lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
    return 1;
}

static int l_isatty(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"isatty", l_isatty},
    {"file_mode", l_file_mode},
    {"error", l_error},
    {"is_error", l_is_error},
    {"secret", l_secret},
    {"redact", l_redact},
    {"log", l_log},
    {"log_enabled", l_log_enabled},
    {"trace", l_trace},
    {"trace_on", l_trace_on},
    {"b64encode", l_b64encode},
    {"b64decode", l_b64decode},
    {NULL, NULL},
};

void gl_core_register(lua_State *L) {
    error_mt(L);
    lua_pop(L, 1);
    luaL_setfuncs(L, core_funcs, 0);
}
