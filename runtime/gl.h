/*
 * gl.h — the contract between the glrun core (scheduler, errors, logging)
 * and the C modules built on it (http, ws, sse, json, crypto).
 *
 * Model (OpenResty cosockets): a C function that can finish now returns now.
 * Otherwise it parks the calling task on a gl_waiter and yields with a
 * continuation; the event side (a libuv/libcurl/lws callback) only appends
 * data and calls gl_wake(); the scheduler resumes the task later, from the
 * loop, never from inside a library callback. The continuation re-checks
 * the handle's state and returns results (or parks again).
 */
#ifndef GL_H
#define GL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

typedef struct gl_task gl_task;

/* A place where at most one task waits for one event source. Embed it in a
 * handle (connection, request). Zero-initialised = nobody waiting. */
typedef struct gl_waiter {
    gl_task *task;
} gl_waiter;

/* The loop every module registers its handles on. */
uv_loop_t *gl_loop(lua_State *L);

/* Park the running task on w and yield; k(L, LUA_YIELD, ctx) runs when the
 * task is resumed after gl_wake(w) (or after the task was interrupted, in
 * which case the scheduler raises "interrupted" instead of calling k).
 * Raises a clear error if L is not a task (e.g. called from the main
 * thread outside the scheduler, or from a coroutine the user made).
 * Use as: return gl_yield(L, &h->waiter, ctx, my_k); */
int gl_yield(lua_State *L, gl_waiter *w, lua_KContext ctx, lua_KFunction k);

/* Called from any C callback: queue the waiting task (if any) to be resumed
 * from the loop. Idempotent; a no-op when nobody waits. Never runs Lua. */
void gl_wake(gl_waiter *w);

/* Detach a waiter whose handle is going away (close/gc) so a later wake
 * cannot touch freed memory. The parked task, if any, is woken. */
void gl_waiter_cancel(gl_waiter *w);

/* True if L is a running scheduler task (transport calls are allowed). */
int gl_in_task(lua_State *L);

/* Keep the process alive / let it exit: the runtime ends when no task is
 * left. Handles that should not keep the loop alive are uv_unref'd by
 * their modules as usual. */

/* ---- errors ---------------------------------------------------------- */

/* Push a new error object: a table {kind=kind, message=msg} with the
 * glrun.error metatable (readable __tostring). The message is redacted.
 * Returns the stack index (absolute) of the table; add fields with
 * lua_setfield. */
int gl_error_new(lua_State *L, const char *kind, const char *fmt, ...);

/* Expected failure: push nil + new error object, return 2. */
int gl_fail(lua_State *L, const char *kind, const char *fmt, ...);

/* Misuse of a handle after close: raises "attempt to use a closed <what>"
 * (the one message for every handle). */
int gl_closed(lua_State *L, const char *what);

/* True if the value at idx is an error object. */
int gl_is_error(lua_State *L, int idx);

/* ---- secrets and redaction ------------------------------------------- */

/* Remember a secret (API key, token); every log line, trace record and
 * error message has it replaced by "***". */
void gl_secret_add(const char *secret, size_t len);

/* Redact secrets and well-known secret carriers (key=..., access_token=...,
 * x-goog-api-key / Authorization header values) in s. Returns a malloc'd
 * string the caller frees. */
char *gl_redact(const char *s, size_t len, size_t *outlen);

/* Redact every string of the Lua value at idx in place (a table's values
 * and keys, nested tables too): what a server sent, at the point it enters
 * glrun. Returns how many strings changed. */
int gl_redact_value(lua_State *L, int idx);

/* Redact s as one stream whose pieces end at the input offsets cuts[0..n)
 * (increasing); out_cuts receives where each piece ends in the result. A
 * secret split between two pieces is replaced in the piece where it
 * starts. Returns a malloc'd string the caller frees. */
char *gl_redact_cuts(const char *s, size_t len, const size_t *cuts, size_t *out_cuts, size_t ncuts,
                     size_t *outlen);

/* printf into a malloc'd string, redacted as a whole, then cut to max
 * bytes (cutting first could leave a piece of a secret that no longer
 * matches). */
char *gl_redact_vfmt(size_t max, size_t *outlen, const char *fmt, va_list ap);

/* ---- base64 (b64.c) --------------------------------------------------- */

/* Encode len bytes into out (room for 4*((len+2)/3)+1); url: the URL
 * alphabet without padding, else standard with padding. Returns the length
 * (out is NUL-terminated). */
size_t gl_b64_encode(char *out, const void *in, size_t len, int url);
/* Decode into out (room for len/4*3+3). strict: standard alphabet, padded
 * to a multiple of 4; else either alphabet, padding optional. Returns the
 * length, or -1 on malformed text. */
long gl_b64_decode(char *out, const char *in, size_t len, int strict);
/* The same for Lua: push the encoding of the string at idx; push its
 * decoding, or nil and an error ("malformed <what> text"). */
int gl_push_b64(lua_State *L, int idx, int url);
int gl_push_unb64(lua_State *L, int idx, int strict, const char *what);

/* ---- logging and trace ----------------------------------------------- */

enum { GL_LOG_ERROR = 0, GL_LOG_WARN, GL_LOG_INFO, GL_LOG_DEBUG, GL_LOG_TRACE };
int gl_log_enabled(int level);
void gl_log(int level, const char *module, const char *fmt, ...);

/* Wire trace (--trace FILE): one JSON object per line. No-ops when tracing
 * is off (check gl_trace_on() first to avoid building records).
 * gl_trace_record writes {"t":secs,"kind":kind,<fields_json>} where
 * fields_json is the inside of a JSON object (already escaped, may be "").
 * Everything written is redacted. */
int gl_trace_on(void);
void gl_trace_record(const char *kind, const char *fields_json);
/* Append a JSON string literal of (s,len) to a growing buffer. */
typedef struct gl_buf { char *p; size_t len, cap; } gl_buf;
void gl_buf_add(gl_buf *b, const void *s, size_t len);
void gl_buf_adds(gl_buf *b, const char *s);
void gl_buf_json_str(gl_buf *b, const char *s, size_t len);
void gl_buf_free(gl_buf *b);

/* A stream redacted as it arrives (network reads): what is written is what
 * redacting the whole stream would give, each piece as soon as it is safe;
 * the last bytes of a piece, which may begin a secret the next piece
 * completes, wait for it. Zero-initialise; feed each piece; finish at the
 * end (writes the rest) or free. */
typedef struct gl_redstream { gl_buf held; int in_value, prev; } gl_redstream;
void gl_redstream_feed(gl_redstream *rs, const char *p, size_t len, gl_buf *out);
void gl_redstream_finish(gl_redstream *rs, gl_buf *out);
void gl_redstream_free(gl_redstream *rs);

/* A trace record of one piece of a stream: {kind, <fields_json>, "data":
 * the piece, redacted through rs before it is encoded}. gl_trace_data_end
 * writes what rs still holds (if anything) as a last record and frees rs. */
void gl_trace_data(gl_redstream *rs, const char *kind, const char *fields_json, const char *p, size_t len);
void gl_trace_data_end(gl_redstream *rs, const char *kind, const char *fields_json);

/* ---- JSON (jsondec.h; lua-cjson stays preloaded as "cjson") ---------- */

/* Decode s into a Lua value pushed on the stack (integers as integers, null
 * as cjson.null); on malformed JSON push nothing, return 0 and write a
 * one-line description to err. */
int jsondec_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen);
static inline int gl_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen) {
    return jsondec_decode(L, s, len, err, errlen);
}

/* Switch L to the small-object allocator (luaalloc.c); a no-op under
 * ASan, valgrind or GLRUN_MALLOC=system. */
void gl_lua_alloc_install(lua_State *L);

/* Replace the table on top of the stack by a read-only view of it (reads,
 * pairs; writes raise "<name> is read-only"). */
void gl_readonly(lua_State *L, const char *name);

/* ---- TLS trust (ca.c) ----------------------------------------------- */

/* The CA bundle both transports trust: CURL_CA_BUNDLE, else SSL_CERT_FILE,
 * else NULL (the system default); and SSL_CERT_DIR (or NULL). */
const char *gl_ca_file(void);
const char *gl_ca_dir(void);

/* ---- module openers -------------------------------------------------- */
int luaopen_glrun_core(lua_State *L);
int luaopen_glrun_http(lua_State *L);
int luaopen_glrun_ws(lua_State *L);
int luaopen_glrun_crypto(lua_State *L);

#endif
