/*
 * http.c — glrun.http, HTTP for Lua tasks: the request handle and its Lua
 * API (curl on the loop: curl_uv.c; its callbacks: http_io.c; errors:
 * http_error.c; --replay: http_play.c).
 *
 *   http.request{method, url, headers, body, timeout, deadline} -> res | nil, err
 *   http.stream{...}  -> iterator of body chunks        | nil, err
 *   http.sse{...}     -> iterator of events              | nil, err
 *
 * timeout: seconds without a byte from the server (an idle timeout, the
 * same for every mode); deadline: seconds for the whole request, bytes
 * arriving or not. A 3xx is an error (kind "http", field redirect): curl
 * never follows redirects, since an API call that is redirected reached a
 * proxy or a portal, not the API.
 *
 * stream/sse wait for the response headers: an HTTP error status or a
 * connection failure is returned as nil, err; afterwards the iterator
 * raises (a for loop cannot carry an error), having delivered everything
 * that came before the failure. curl callbacks only append bytes (and run
 * the C SSE parser) and call gl_wake(); curl is never called from inside
 * its own callbacks. A consumer that falls behind pauses the transfer
 * (CURL_WRITEFUNC_PAUSE) instead of growing a buffer.
 */
#include "http_req.h"
#include "jsondec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- request lifecycle --------------------------------------------- */

static http_req *check_req(lua_State *L, int i) { return luaL_checkudata(L, i, REQ_MT); }

static void timer_free(uv_handle_t *h) { free(h); }

/* the registry key of gemini.rest.stream's lazy-chunk metatable (_chunks) */
static char CHUNK_MT;

static void req_release(http_req *r) {
    if (r->closed) return;
    r->closed = 1;
    if (r->in_multi) gl_curl_remove(r->easy);
    r->in_multi = 0;
    if (r->easy) curl_easy_cleanup(r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    gl_buf_free(&r->resp_headers);
    gl_buf_free(&r->body);
    if (r->body_fp) fclose(r->body_fp);
    r->body_fp = NULL;
    if (r->sse_ready) sse_free(&r->sse);
    r->sse_ready = 0;
    for (ev_node *n = r->evq_head, *nx; n; n = nx) {
        nx = n->next;
        free(n);
    }
    r->evq_head = r->evq_tail = NULL;
    if (r->timer) uv_close((uv_handle_t *)r->timer, timer_free);
    r->timer = NULL;
    http_play_release(r);
    gl_tap_free(r->tap);
    r->tap = NULL;
    free(r->url);
    r->url = NULL;
    gl_waiter_cancel(&r->waiter);
    r->state = S_DONE;
}

static int req_gc(lua_State *L) {
    req_release(check_req(L, 1));
    return 0;
}

static int req_tostring(lua_State *L) {
    http_req *r = check_req(L, 1);
    if (r->closed)
        lua_pushliteral(L, "http.request (closed)");
    else
        lua_pushfstring(L, "http.request (%s) %s %s", r->state == S_DONE ? "done" : "running", r->method,
                        r->url ? r->url : "");
    return 1;
}

/* Milliseconds until the idle timeout or the deadline, whichever is
 * first (0: now; UINT64_MAX: neither applies). Idle time counts from the
 * last byte or from when the consumer began to wait, whichever is later:
 * a transfer paused because the consumer was busy is not idle. */
static uint64_t ms_left(http_req *r, uint64_t now, int *which) {
    uint64_t left = UINT64_MAX;
    *which = 0;
    if (r->timeout > 0) {
        uint64_t from = r->t_rx > r->t_wait ? r->t_rx : r->t_wait;
        uint64_t at = from + (uint64_t)(r->timeout * 1000);
        left = at > now ? at - now : 0;
        *which = 1;
    }
    if (r->deadline > 0) {
        uint64_t at = r->t_start + (uint64_t)(r->deadline * 1000);
        uint64_t d = at > now ? at - now : 0;
        if (d <= left) {
            left = d;
            *which = 2;
        }
    }
    return left;
}

static void idle_timeout_cb(uv_timer_t *t) {
    http_req *r = t->data;
    int which;
    uint64_t left = ms_left(r, uv_now(t->loop), &which);
    if (left > 0 && left != UINT64_MAX) { /* bytes came meanwhile: wait on */
        uv_timer_start(t, idle_timeout_cb, left, 0);
        return;
    }
    r->timed_out = which;
    gl_wake(&r->waiter);
}

/* Park the task until something happens to r (or the idle timeout, or
 * the deadline): one timer, re-armed lazily, no work per byte. */
static int wait_req(lua_State *L, http_req *r, lua_KFunction k) {
    if (r->timeout > 0 || r->deadline > 0) {
        if (!r->timer) {
            r->timer = malloc(sizeof *r->timer);
            if (!r->timer) return luaL_error(L, "out of memory");
            uv_timer_init(gl_loop(L), r->timer);
            r->timer->data = r;
        }
        r->t_wait = uv_now(gl_loop(L));
        int which;
        uint64_t left = ms_left(r, r->t_wait, &which);
        uv_timer_start(r->timer, idle_timeout_cb, left, 0);
    }
    return gl_yield(L, &r->waiter, 0, k);
}

/* The deadline passed while the consumer was away (not waiting)? */
static int past_deadline(http_req *r) {
    if (r->deadline <= 0 || r->state == S_DONE || r->timed_out) return r->timed_out;
    if (uv_now(r->loop) >= r->t_start + (uint64_t)(r->deadline * 1000)) r->timed_out = 2;
    return r->timed_out;
}

static void stop_timer(http_req *r) {
    if (r->timer) uv_timer_stop(r->timer);
}

/* ---- starting a request -------------------------------------------- */

static int opt_field(lua_State *L, int t, const char *k, int type) {
    int tt = lua_getfield(L, t, k);
    if (tt != LUA_TNIL && tt != type)
        return luaL_error(L, "http: option '%s' must be a %s, not a %s", k, lua_typename(L, type), lua_typename(L, tt));
    return tt;
}

static int play_failed(lua_State *L, http_req *r) {
    int n = gl_fail(L, "replay", "%s", r->play_fail);
    req_release(r);
    return n;
}

/* body_file = {path =, offset = 0, length = the rest}: open and position
 * the file (raises when it cannot be read: the caller checked it exists). */
static void open_body_file(lua_State *L, http_req *r, int t) {
    lua_getfield(L, t, "path");
    const char *path = lua_tostring(L, -1);
    if (!path) luaL_error(L, "http: body_file.path must be a string");
    lua_getfield(L, t, "offset");
    lua_Integer off = luaL_optinteger(L, -1, 0);
    lua_getfield(L, t, "length");
    lua_Integer len = luaL_optinteger(L, -1, -1);
    lua_pop(L, 2);
    if (off < 0) luaL_error(L, "http: body_file.offset must not be negative");
    r->body_fp = fopen(path, "rb");
    if (!r->body_fp) luaL_error(L, "http: body_file: cannot open %s: %s", path, strerror(errno));
    if (fseeko(r->body_fp, 0, SEEK_END) != 0) luaL_error(L, "http: body_file: cannot seek in %s", path);
    off_t size = ftello(r->body_fp);
    if (off > (lua_Integer)size) luaL_error(L, "http: body_file.offset %I is past the end of %s", off, path);
    if (len < 0 || off + len > (lua_Integer)size) len = (lua_Integer)size - off;
    fseeko(r->body_fp, (off_t)off, SEEK_SET);
    r->body_left = (curl_off_t)len;
    lua_pop(L, 2); /* path, the option table */
}

static http_req *start(lua_State *L, int mode) {
    luaL_checktype(L, 1, LUA_TTABLE);
    gl_curl_init(gl_loop(L), http_transfer_done);
    lua_settop(L, 1);
    http_req *r = lua_newuserdatauv(L, sizeof *r, 2); /* index 2; uv 1 body, 2 replayed exchange */
    memset(r, 0, sizeof *r);
    r->closed = 1; /* born closed: a failed open leaves a consistent object */
    luaL_setmetatable(L, REQ_MT);
    r->mode = mode;
    r->loop = gl_loop(L);
    r->decode = 1;
    r->max_body = DEFAULT_MAX_BODY;

    if (opt_field(L, 1, "url", LUA_TSTRING) == LUA_TNIL) luaL_error(L, "http: option 'url' is required");
    const char *url = lua_tostring(L, -1);
    int has_body = opt_field(L, 1, "body", LUA_TSTRING) != LUA_TNIL;
    size_t body_len = 0;
    const char *body = has_body ? lua_tolstring(L, -1, &body_len) : NULL;
    if (has_body) { /* the request keeps its body alive: no copy */
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 2, 1);
    }
    int has_file = !has_body && opt_field(L, 1, "body_file", LUA_TTABLE) != LUA_TNIL;
    const char *method = has_body || has_file ? "POST" : "GET";
    if (opt_field(L, 1, "method", LUA_TSTRING) != LUA_TNIL) method = lua_tostring(L, -1);
    if (strlen(method) >= sizeof r->method) luaL_error(L, "http: bad method '%s'", method);
    if (opt_field(L, 1, "timeout", LUA_TNUMBER) != LUA_TNIL) r->timeout = lua_tonumber(L, -1);
    if (opt_field(L, 1, "deadline", LUA_TNUMBER) != LUA_TNIL) r->deadline = lua_tonumber(L, -1);
    int insecure = opt_field(L, 1, "insecure", LUA_TBOOLEAN) != LUA_TNIL && lua_toboolean(L, -1);
    if (opt_field(L, 1, "max_body", LUA_TNUMBER) != LUA_TNIL) r->max_body = (size_t)lua_tointeger(L, -1);
    size_t max_event = DEFAULT_MAX_EVENT;
    if (opt_field(L, 1, "max_event", LUA_TNUMBER) != LUA_TNIL) max_event = (size_t)lua_tointeger(L, -1);
    if (opt_field(L, 1, "decode", LUA_TBOOLEAN) != LUA_TNIL) r->decode = lua_toboolean(L, -1);
    if (opt_field(L, 1, "_chunks", LUA_TTABLE) != LUA_TNIL) { /* the lazy chunks' shared metatable */
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &CHUNK_MT);
        r->chunks = 1;
    }

    r->closed = 0;
    snprintf(r->method, sizeof r->method, "%s", method);
    size_t ul;
    r->url = gl_redact(url, strlen(url), &ul);
    r->easy = curl_easy_init();
    if (!r->easy) luaL_error(L, "http: curl_easy_init failed");
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "glrun/" GLRUN_VERSION);
    if (strcmp(method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (has_file) {
        lua_getfield(L, 1, "body_file");
        open_body_file(L, r, lua_gettop(L));
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, http_read_body_cb);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, r->body_left);
    }
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is reported, never followed */
    /* timeout is idle time (our timer, see wait_req), in every mode */
    if (r->timeout > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout * 1000));
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, http_xferinfo_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    r->t_start = r->t_rx = uv_now(r->loop);
    if (insecure) {
        gl_log(GL_LOG_WARN, "http", "TLS verification is OFF for %s (insecure=true)", r->url);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        /* the CA set the Live transport trusts too (ca.c) */
        const char *ca = gl_ca_file(), *dir = gl_ca_dir();
        if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
        if (dir) curl_easy_setopt(e, CURLOPT_CAPATH, dir);
    }
    /* headers: {name = value} or {"Name: value", ...} */
    r->hdrs = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    gl_buf tr = {0};
    if (opt_field(L, 1, "headers", LUA_TTABLE) != LUA_TNIL) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *line;
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *name = lua_tostring(L, -2);
                const char *val = luaL_tolstring(L, -1, NULL);
                lua_pushfstring(L, "%s: %s", name, val);
                lua_remove(L, -2);
            } else
                luaL_tolstring(L, -1, NULL);
            line = lua_tostring(L, -1);
            r->hdrs = curl_slist_append(r->hdrs, line);
            if (gl_trace_on() || gl_cassette_recording()) {
                if (tr.len) gl_buf_adds(&tr, ",");
                gl_buf_json_str(&tr, line, strlen(line));
            }
            lua_pop(L, 2);
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    if (mode == M_SSE) {
        sse_init(&r->sse, max_event);
        r->sse_ready = 1;
        /* a long stream: 64 KiB reads (curl's default is 16 KiB), a quarter
         * of the recv and poll calls; pages the stream never fills stay
         * untouched (docs/performance.md) */
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024);
    }
    r->tap = gl_tap_begin(GL_TAP_HTTP, method, url, tr.p, has_body ? body : NULL, body_len, NULL);
    gl_buf_free(&tr);
    if (gl_cassette_replaying()) {
        curl_easy_cleanup(r->easy); /* no network: the cassette answers */
        r->easy = NULL;
        http_play_start(L, r, method, url, has_body ? body : NULL, body_len);
        lua_settop(L, 2);
        return r;
    }
    if (gl_curl_add(e) != 0) luaL_error(L, "http: curl_multi_add_handle failed");
    r->in_multi = 1;
    r->state = S_RUNNING;
    lua_settop(L, 2);
    return r;
}

/* ---- http.request ---------------------------------------------------- */

/* on_start = function(req): called once the request is on its way, before
 * any response, so that another task can close it (a cancel) while this
 * one waits for the answer (http.request) or its headers (stream, sse). It runs inside this call: it must not yield. */
static void call_on_start(lua_State *L) {
    if (opt_field(L, 1, "on_start", LUA_TFUNCTION) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, 2);
    lua_call(L, 1, 0);
}


static int request_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    http_req *r = check_req(L, 2);
    stop_timer(r);
    if (r->closed) /* closed by another task (on_start's cancel) before the answer */
        return gl_fail(L, "cancelled", "the request was closed before its response arrived");
    if (r->state != S_DONE && !r->timed_out) return wait_req(L, r, request_k);
    /* a transfer curl calls complete without a whole header block was cut */
    if (r->timed_out || !r->headers_done ||
        (r->result != CURLE_OK && !(r->error_body && r->result == CURLE_WRITE_ERROR))) {
        int n = r->too_big && !r->error_body
                    ? gl_fail(L, "protocol", "%s %s: response body exceeds max_body (%zu bytes)", r->method, r->url,
                              r->max_body)
                    : http_push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (r->status >= 300) {
        lua_pushnil(L);
        http_push_status_error(L, r, r->status, r->body.p ? r->body.p : "", r->body.len, 0);
        req_release(r);
        return 2;
    }
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body.p ? r->body.p : "", r->body.len);
    lua_setfield(L, -2, "body");
    http_push_headers(L, r);
    lua_setfield(L, -2, "headers");
    req_release(r);
    return 1;
}

static int l_request(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.request must be called inside a task");
    http_req *r = start(L, M_FULL);
    if (r->play_fail) return play_failed(L, r);
    call_on_start(L);
    return request_k(L, 0, 0);
}

/* ---- stream / sse: wait for headers, then iterate -------------------- */

static int next_impl(lua_State *L, http_req *r);
static int l_next_bound(lua_State *L);

static int headers_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    http_req *r = check_req(L, 2);
    if (r->closed) /* closed by another task (on_start's cancel) before the headers */
        return gl_fail(L, "cancelled", "the request was closed before its response arrived");
    stop_timer(r);
    if (r->timed_out) {
        int n = http_push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (!r->headers_done && r->state != S_DONE) return wait_req(L, r, headers_k);
    /* once a successful status arrived, the iterator delivers what came
     * and then raises whatever ended the transfer */
    if (r->state == S_DONE && !r->headers_done) {
        int n = http_push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (r->error_body) {
        if (r->state != S_DONE) return wait_req(L, r, headers_k);
        lua_pushnil(L);
        http_push_status_error(L, r, r->status, r->body.p ? r->body.p : "", r->body.len, 0);
        req_release(r);
        return 2;
    }
    /* iterator (bound to the request, so `local it = assert(...)` works
     * too), state, nil, closing value */
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, l_next_bound, 1);
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_pushvalue(L, 2);
    return 4;
}

static int l_stream(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.stream must be called inside a task");
    http_req *r = start(L, M_STREAM);
    if (r->play_fail) return play_failed(L, r);
    call_on_start(L);
    return headers_k(L, 0, 0);
}

static int l_sse(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.sse must be called inside a task");
    http_req *r = start(L, M_SSE);
    if (r->play_fail) return play_failed(L, r);
    call_on_start(L);
    return headers_k(L, 0, 0);
}

/* End of an SSE stream: clean end, cut, raw error JSON, or junk. */
static int sse_end(lua_State *L, http_req *r) {
    if (r->sse_failed == SSE_ERR_TOO_BIG) {
        int e = gl_error_new(L, "protocol", "%s %s: an SSE event is larger than max_event (%zu bytes)", r->method,
                             r->url, r->sse.max_event);
        http_set_common(L, e, r);
        return lua_error(L);
    }
    size_t rawlen = 0;
    int fin = sse_finish(&r->sse);
    const char *raw = sse_raw(&r->sse, &rawlen);
    if (raw && rawlen) {
        const char *p = raw;
        while (p < raw + rawlen && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p < raw + rawlen && (*p == '{' || *p == '[')) { /* an error body instead of events */
            http_push_status_error(L, r, 0, raw, rawlen, 1);
            return lua_error(L);
        }
        char *red = gl_redact(raw, rawlen, NULL); /* before %.80s cuts a secret short */
        int e = gl_error_new(L, "protocol", "%s %s: data that is not SSE in the stream after %lu event(s): %.80s",
                             r->method, r->url, r->events, red);
        free(red);
        http_set_common(L, e, r);
        return lua_error(L);
    }
    if (r->result != CURLE_OK) {
        http_push_curl_error(L, r);
        return lua_error(L);
    }
    if (fin == SSE_ERR_CUT) {
        int e = gl_error_new(L, "stream_cut",
                             "%s %s: the stream ended in the middle of an event (after %lu complete event(s))",
                             r->method, r->url, r->events);
        http_set_common(L, e, r);
        lua_pushinteger(L, (lua_Integer)r->events);
        lua_setfield(L, e, "events");
        return lua_error(L);
    }
    return 0;
}

static int next_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    return next_impl(L, lua_touserdata(L, 1)); /* both entry points leave the checked request at 1 */
}

/* http.sse{_chunks = MT} (gemini.rest.stream): an event that is a simple
 * GenerateContentResponse (jsondec_chunk_scan) becomes a lazy chunk, built
 * here without an event table: {text = TEXT, [MT] = DATA} with metatable MT
 * (the caller's; its handlers decode DATA on the first read of any other
 * field). The iterator then returns chunk, text, finishReason (a string, or
 * nil) and whether it has usageMetadata; any other event is an event table
 * as without _chunks. */

/* n's text and its lazy chunk (pushed in that order), or nothing pushed
 * and 0 when n is not a simple chunk. mt and key: the stack indices of the
 * chunks' metatable and of the string "text" (looked up once per call of
 * the iterator, not once per chunk) */
static int push_chunk(lua_State *L, ev_node *n, jsondec_chunk_info *ci, int mt, int key) {
    if (n->not_chunk || !jsondec_chunk_scan(n->mem, n->data_len, ci)) {
        n->not_chunk = 1;
        return 0;
    }
    jsondec_chunk_push_text(L, ci);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, key);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pushvalue(L, mt);
    lua_pushlstring(L, n->mem, n->data_len);
    lua_rawset(L, -3);
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
    return 1;
}

static int chunk_fast(lua_State *L, ev_node *n) {
    jsondec_chunk_info ci;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CHUNK_MT);
    lua_pushliteral(L, "text");
    int top = lua_gettop(L);
    if (!push_chunk(L, n, &ci, top - 1, top)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_rotate(L, -2, 1); /* the chunk, then its text */
    if (ci.finish) lua_pushlstring(L, ci.finish, ci.finish_len);
    else lua_pushnil(L);
    lua_pushboolean(L, ci.usage);
    return 4;
}

static ev_node *evq_pop(http_req *r) {
    ev_node *n = r->evq_head;
    r->evq_head = n->next;
    if (!r->evq_head) r->evq_tail = NULL;
    r->evq_bytes -= n->data_len + n->event_len + n->id_len;
    r->events++;
    return n;
}

/* http._text_sink(max) -> sink: gemini.rest.stream's record of the text it
 * gave out (err.partial of a cut answer), kept in C, off the Lua heap (a
 * long answer's megabyte of text made the collector's heap, and the pages
 * it touches, grow): texts are kept whole while no more than max bytes are,
 * the rest only counted. sink:add(s); sink:text() -> the text kept, and
 * whether some was left out. */
#define SINK_MT "glrun.http.sink"
typedef struct {
    gl_buf b;
    size_t max, seen;
} text_sink;

static void sink_add(text_sink *k, const char *s, size_t n) {
    k->seen += n;
    if (k->b.len <= k->max) gl_buf_add(&k->b, s, n); /* whole: never a cut UTF-8 sequence */
}

static int l_text_sink(lua_State *L) {
    lua_Integer max = luaL_checkinteger(L, 1);
    luaL_argcheck(L, max >= 0, 1, "a size in bytes");
    text_sink *k = lua_newuserdatauv(L, sizeof *k, 0);
    memset(k, 0, sizeof *k);
    k->max = (size_t)max;
    luaL_setmetatable(L, SINK_MT);
    return 1;
}

static int l_sink_add(lua_State *L) {
    text_sink *k = luaL_checkudata(L, 1, SINK_MT);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    sink_add(k, s, n);
    return 0;
}

static int l_sink_text(lua_State *L) {
    text_sink *k = luaL_checkudata(L, 1, SINK_MT);
    lua_pushlstring(L, k->b.p ? k->b.p : "", k->b.len);
    lua_pushboolean(L, k->seen > k->b.len);
    return 2;
}

static int l_sink_gc(lua_State *L) {
    gl_buf_free(&((text_sink *)luaL_checkudata(L, 1, SINK_MT))->b);
    return 0;
}

#define FILL_MAX 64
/* http._chunk_fill(req, chunks, texts|nil [, sink]) -> k, last_usage, shown:
 * gemini.rest.stream's batch. Moves up to FILL_MAX queued events that are
 * lazy chunks without a finishReason into chunks[1..k] and their texts into
 * texts[1..k] (and each text into sink); last_usage the index
 * of the last one with usageMetadata (0: none), shown whether a text is not
 * empty. Stops at any other event and at an empty queue; never waits and
 * never raises (a closed or late request gives 0: the iterator says why). */
static int l_chunk_fill(lua_State *L) {
    http_req *r = check_req(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int texts = !lua_isnoneornil(L, 3);
    if (texts) luaL_checktype(L, 3, LUA_TTABLE);
    text_sink *sink = lua_isnoneornil(L, 4) ? NULL : luaL_checkudata(L, 4, SINK_MT);
    lua_Integer k = 0, ulast = 0;
    int shown = 0;
    if (r->chunks && !r->closed && r->mode == M_SSE && !past_deadline(r)) {
        lua_settop(L, 4);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &CHUNK_MT); /* 5 */
        lua_pushliteral(L, "text");                   /* 6 */
        while (k < FILL_MAX && r->evq_head) {
            jsondec_chunk_info ci;
            ev_node *n = r->evq_head;
            if (!push_chunk(L, n, &ci, 5, 6)) break;
            if (ci.finish) { /* the iterator gives it, with its finishReason */
                lua_pop(L, 2);
                break;
            }
            free(evq_pop(r));
            k++;
            if (ci.usage) ulast = k;
            lua_rawseti(L, 2, k);
            size_t tl;
            const char *t = lua_tolstring(L, -1, &tl);
            if (sink) sink_add(sink, t, tl);
            shown |= tl > 0;
            if (texts) lua_rawseti(L, 3, k);
            else lua_pop(L, 1);
        }
        if (k && r->paused && r->evq_bytes < HIGH_WATER / 2) http_resume(r);
    }
    lua_pushinteger(L, k);
    lua_pushinteger(L, ulast);
    lua_pushboolean(L, shown);
    return 3;
}

/* an SSE event as a table: data, event, id, and json (decode = true) */
static int push_event(lua_State *L, http_req *r, ev_node *n) {
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, n->mem, n->data_len);
    lua_setfield(L, -2, "data");
    if (n->event_len) {
        lua_pushlstring(L, n->event, n->event_len);
        lua_setfield(L, -2, "event");
    }
    if (n->id_len) {
        lua_pushlstring(L, n->id, n->id_len);
        lua_setfield(L, -2, "id");
    }
    if (r->decode) {
        char jerr[256];
        if (!gl_json_decode(L, n->mem, n->data_len, jerr, sizeof jerr)) {
            int e = gl_error_new(L, "protocol", "%s %s: malformed JSON in SSE event #%lu: %s", r->method, r->url,
                                 r->events, jerr);
            http_set_common(L, e, r);
            size_t rl;
            char *red = gl_redact(n->mem, n->data_len, &rl);
            lua_pushlstring(L, red, rl > 4096 ? 4096 : rl);
            free(red);
            lua_setfield(L, e, "data");
            free(n);
            return lua_error(L);
        }
        if (lua_istable(L, -1)) {
            int is_error = lua_getfield(L, -1, "error") != LUA_TNIL;
            lua_pop(L, 1);
            if (is_error) { /* an error sent as an event: the server's words enter here */
                gl_redact_value(L, -1);
                lua_getfield(L, -2, "data");
                gl_redact_value(L, -1);
                lua_setfield(L, -3, "data");
            }
        }
        lua_setfield(L, -2, "json");
    }
    return 1;
}

/* r: the request at stack index 1 (checked by the entry points) */
static int next_impl(lua_State *L, http_req *r) {
    stop_timer(r);
    if (r->closed) return gl_closed(L, "http.request");
    if (past_deadline(r)) {
        http_push_curl_error(L, r);
        req_release(r);
        return lua_error(L);
    }
    if (r->mode == M_SSE && r->evq_head) {
        ev_node *n = evq_pop(r);
        int nret = r->chunks ? chunk_fast(L, n) : 0;
        if (!nret) nret = push_event(L, r, n);
        free(n);
        if (r->paused && r->evq_bytes < HIGH_WATER / 2) http_resume(r);
        return nret;
    }
    if (r->mode == M_STREAM && r->body_off < r->body.len) {
        lua_pushlstring(L, r->body.p + r->body_off, r->body.len - r->body_off);
        r->body_off = r->body.len = 0;
        r->events++;
        if (r->paused) http_resume(r);
        return 1;
    }
    if (r->paused) { /* drained: let curl deliver more (may call write_cb now) */
        http_resume(r);
        if (r->evq_head || r->body_off < r->body.len) return next_impl(L, r);
    }
    if (r->state == S_DONE) {
        if (r->mode == M_SSE)
            sse_end(L, r);
        else if (r->result != CURLE_OK) {
            http_push_curl_error(L, r);
            req_release(r);
            return lua_error(L);
        }
        req_release(r);
        lua_pushnil(L);
        return 1;
    }
    return wait_req(L, r, next_k);
}

/* it(req [, control]) -> next event/chunk, nil at the end; raises errors */
static int l_next(lua_State *L) {
    lua_settop(L, 1);
    if (!gl_in_task(L)) return luaL_error(L, "http: stream iterators must run inside a task");
    return next_impl(L, check_req(L, 1));
}

static int l_next_bound(lua_State *L) {
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1)); /* a request: the upvalue was set by http.sse/http.stream */
    if (!gl_in_task(L)) return luaL_error(L, "http: stream iterators must run inside a task");
    return next_impl(L, lua_touserdata(L, 1));
}

static int l_close(lua_State *L) {
    req_release(check_req(L, 1));
    return 0;
}

static int l_status(lua_State *L) {
    http_req *r = check_req(L, 1);
    lua_pushinteger(L, r->status);
    return 1;
}

static int l_headers(lua_State *L) {
    http_req *r = check_req(L, 1);
    if (r->closed) return 0;
    http_push_headers(L, r);
    return 1;
}

/* req:stats() -> {queued = bytes buffered in C, paused = bool, delivered = n} */
static int l_stats(lua_State *L) {
    http_req *r = check_req(L, 1);
    lua_createtable(L, 0, 4);
    size_t q = r->mode == M_SSE ? r->evq_bytes : r->body.len - r->body_off;
    lua_pushinteger(L, (lua_Integer)q);
    lua_setfield(L, -2, "queued");
    lua_pushboolean(L, r->paused);
    lua_setfield(L, -2, "paused");
    lua_pushinteger(L, (lua_Integer)r->events);
    lua_setfield(L, -2, "delivered");
    lua_pushinteger(L, HIGH_WATER);
    lua_setfield(L, -2, "high_water");
    return 1;
}

static const luaL_Reg req_methods[] = {
    {"next", l_next},       {"close", l_close}, {"status", l_status},
    {"headers", l_headers}, {"stats", l_stats}, {NULL, NULL},
};

/* http.curl_version() — asked for on demand: building the string costs
 * milliseconds at start-up */
static int l_curl_version(lua_State *L) {
    lua_pushstring(L, curl_version());
    return 1;
}

static const luaL_Reg http_funcs[] = {
    {"request", l_request}, {"stream", l_stream}, {"sse", l_sse}, {"curl_version", l_curl_version},
    {"_chunk_fill", l_chunk_fill}, {"_text_sink", l_text_sink}, {NULL, NULL},
};

int luaopen_glrun_http(lua_State *L) {
    luaL_newlib(L, req_methods);
    if (luaL_newmetatable(L, REQ_MT)) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, req_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, req_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, req_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 2); /* the metatable keeps the methods */
    if (luaL_newmetatable(L, SINK_MT)) {
        static const luaL_Reg sink_methods[] = {{"add", l_sink_add}, {"text", l_sink_text}, {NULL, NULL}};
        luaL_newlib(L, sink_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_sink_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, http_funcs);
    lua_pushboolean(L, 1); /* http.request{body_file = ...} is understood */
    lua_setfield(L, -2, "body_file");
    return 1;
}
