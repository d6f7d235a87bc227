/*
 * redact.c — secrets and their redaction: one scanner behind whole-text
 * redaction, stream redaction with a carry-over window (gl_redstream),
 * redaction of a stream cut into pieces, of Lua values, and of formatted
 * messages (logs, errors).
 */
#include "gl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- secrets ------------------------------------------------------- */

/* Each secret is kept as given and, when it differs, as it reads inside a
 * JSON string (a PEM key's newlines become \n): records are redacted after
 * they are encoded too. */
#define MAX_SECRETS 32
typedef struct known_secret {
    char *s;
    size_t len;
    char *esc;
    size_t esclen;
} known_secret;
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
    } else
        gl_buf_free(&e);
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
    "key=",
    "access_token=",
    "assertion=",
    "refresh_token=",
    "client_secret=",
    "x-goog-api-key: ",
    "x-goog-api-key:",
    "authorization: bearer ",
    "authorization: token ",
    "authorization: ",
    "\"access_token\":\"",
    "\"access_token\": \"",
    /* the same inside a JSON string (trace records of response bodies) */
    "\\\"access_token\\\":\\\"",
    "\\\"access_token\\\": \\\"",
    NULL,
};

/* A carrier's value is what an API key, OAuth token, JWT or a
 * percent-encoded one is made of (letters, digits, "-._~+/=%", and "*" so
 * that "***" reads as redacted); the first other byte (a delimiter such as
 * '&' or '"', or ':' or ')' in prose) ends it and is kept. */
static int value_end(char c) { return !isalnum((unsigned char)c) && !strchr("-._~+/=%*", c); }

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
typedef struct rscan {
    int in_value, prev;
} rscan;
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
        int hit = 0, defer = 0;
        if (!isalnum(pc) || s[i] == '"') {
            for (int c = 0; carriers[c]; c++) {
                if (!has_prefix_ci(s + i, len - i, carriers[c])) continue;
                size_t n = strlen(carriers[c]);
                size_t j = i + n;
                while (j < len && !value_end(s[j])) j++;
                int open = !final && j == len; /* the value may go on in the next piece */
                size_t stars = 0;
                while (i + n + stars < j && s[i + n + stars] == '*') stars++;
                if (open && j - (i + n) <= 3 && stars == j - (i + n)) {
                    /* "***" (already redacted, kept as it is) or not: the
                     * next piece decides, as the whole text would */
                    defer = 1;
                    break;
                }
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
        if (defer) break;
        if (!hit) i++;
    }
    if (i > run) emit(ctx, run, i, s + run, i - run, 1);
    if (i) st->prev = (unsigned char)s[i - 1];
    return i;
}

static void emit_buf(void *ctx, size_t a, size_t b, const char *out, size_t n, int copy) {
    (void)a;
    (void)b;
    (void)copy;
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
        if (c <= a)
            m->out_cuts[m->next] = o;
        else
            m->out_cuts[m->next] = copy ? o + (c - a) : o + n; /* a replaced secret stays in its first piece */
    }
}

char *gl_redact_cuts(const char *s, size_t len, const size_t *cuts, size_t *out_cuts, size_t ncuts, size_t *outlen) {
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
            } else
                lua_pop(L, 1);
        } else
            lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
            if (redact_value(L, -1, depth + 1)) { /* key, new key */
                lua_pushvalue(L, -2);
                lua_rawget(L, idx);
                lua_rawset(L, fix);
                moved = 1;
                changed++;
            } else
                lua_pop(L, 1);
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
            } else
                lua_pop(L, 1);
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

/* Format, then redact the whole text, then cut it to max bytes: cutting
 * first could leave a piece of a secret that no longer matches. Returns a
 * malloc'd string. */
char *gl_redact_vfmt(size_t max, size_t *outlen, const char *fmt, va_list ap) {
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
