/*
 * core.c — error objects, secret redaction, logging, the wire trace and
 * small buffers shared by every module.
 */
#include "gl.h"

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

#define MAX_SECRETS 32
static struct { char *s; size_t len; } secrets[MAX_SECRETS];
static int nsecrets;

void gl_secret_add(const char *secret, size_t len) {
    if (len < 4) return; /* too short to redact safely (would mangle text) */
    for (int i = 0; i < nsecrets; i++)
        if (secrets[i].len == len && memcmp(secrets[i].s, secret, len) == 0) {
            /* known: make it the newest, so a secret that is still in use
             * (a private key re-registered at each token refresh) is never
             * the one forgotten */
            char *keep = secrets[i].s;
            memmove(secrets + i, secrets + i + 1, sizeof secrets[0] * (size_t)(nsecrets - i - 1));
            secrets[nsecrets - 1].s = keep;
            secrets[nsecrets - 1].len = len;
            return;
        }
    if (nsecrets == MAX_SECRETS) { /* forget the oldest */
        free(secrets[0].s);
        memmove(secrets, secrets + 1, sizeof secrets[0] * (MAX_SECRETS - 1));
        nsecrets--;
    }
    secrets[nsecrets].s = malloc(len);
    if (!secrets[nsecrets].s) abort();
    memcpy(secrets[nsecrets].s, secret, len);
    secrets[nsecrets].len = len;
    nsecrets++;
}

void gl_secrets_free(void) {
    for (int i = 0; i < nsecrets; i++) free(secrets[i].s);
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

char *gl_redact(const char *s, size_t len, size_t *outlen) {
    gl_buf b = {0};
    size_t i = 0, run = 0;
    while (i < len) {
        /* known secret values */
        int hit = 0;
        for (int k = 0; k < nsecrets; k++) {
            if (secrets[k].len <= len - i && memcmp(s + i, secrets[k].s, secrets[k].len) == 0) {
                gl_buf_add(&b, s + run, i - run);
                gl_buf_adds(&b, "***");
                i += secrets[k].len;
                run = i;
                hit = 1;
                break;
            }
        }
        if (hit) continue;
        /* carriers: only at a word boundary */
        if (i == 0 || !isalnum((unsigned char)s[i - 1]) || s[i] == '"') {
            for (int c = 0; carriers[c]; c++) {
                if (!has_prefix_ci(s + i, len - i, carriers[c])) continue;
                size_t n = strlen(carriers[c]);
                size_t j = i + n;
                while (j < len && s[j] != '&' && s[j] != '\r' && s[j] != '\n' && s[j] != '"' &&
                       s[j] != ' ' && s[j] != '\'' && s[j] != ',' && s[j] != '}' && s[j] != '\\')
                    j++;
                if (j == i + n || (j - (i + n) == 3 && memcmp(s + i + n, "***", 3) == 0)) break;
                gl_buf_add(&b, s + run, i + n - run);
                gl_buf_adds(&b, "***");
                i = j;
                run = j;
                hit = 1;
                break;
            }
            if (hit) continue;
        }
        i++;
    }
    gl_buf_add(&b, s + run, len - run);
    if (outlen) *outlen = b.len;
    return b.p;
}

/* ---- logging ------------------------------------------------------- */

static int log_level = GL_LOG_WARN;
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int gl_log_set_level(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, level_names[i]) == 0) { log_level = i; return 0; }
    return -1;
}

int gl_log_enabled(int level) { return level <= log_level; }

static void vlog(int level, const char *module, const char *fmt, va_list ap) {
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n;
    char *r = gl_redact(msg, strlen(msg), &n);
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
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n;
    char *r = gl_redact(msg, strlen(msg), &n);
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

int luaopen_cjson(lua_State *L);
static char DECODE_KEY;

int gl_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &DECODE_KEY) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        luaL_requiref(L, "cjson", luaopen_cjson, 0);
        lua_getfield(L, -1, "decode");
        lua_remove(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &DECODE_KEY);
    }
    lua_pushlstring(L, s, len);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    return 1;
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
