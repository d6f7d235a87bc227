/*
 * http_error.c — glrun.http's error values: a transfer that failed
 * (dns, connect, tls, timeout, stream_cut, network) and an HTTP error
 * status (kind "http").
 */
#include "http_req.h"

#include <stdlib.h>
#include <string.h>

static const char *kind_of(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return "tls";
    default: return "network";
    }
}

void http_set_common(lua_State *L, int idx, http_req *r) {
    lua_pushstring(L, r->url);
    lua_setfield(L, idx, "url");
    lua_pushstring(L, r->method);
    lua_setfield(L, idx, "method");
}

/* What ended a transfer that did not deliver a whole response: curl's
 * words, or, when curl saw nothing wrong (a connection closed early can
 * look like a clean end to it), where the connection was closed. */
static const char *failure_detail(http_req *r) {
    if (r->result != CURLE_OK) return r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
    if (!r->headers_done)
        return r->resp_headers.len ? "the connection was closed by the server inside the response headers"
                                   : "the connection was closed by the server before any response";
    return "the connection was closed by the server";
}

int http_push_curl_error(lua_State *L, http_req *r) {
    const char *detail = failure_detail(r);
    lua_pushnil(L);
    int e;
    if (r->timed_out == 2)
        e = gl_error_new(L, "timeout", "%s %s: the deadline (%.3g s) passed before the %s was complete", r->method,
                         r->url, r->deadline, r->headers_done ? "answer" : "response");
    else if ((r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT) && r->headers_done && r->mode == M_FULL)
        e = gl_error_new(L, "timeout",
                         "%s %s: the server sent nothing for %.3g s in the middle of the response "
                         "(after %zu bytes of the body)",
                         r->method, r->url, r->timeout, r->body.len);
    else if ((r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT) && r->headers_done)
        e = gl_error_new(L, "timeout", "%s %s: the stream stalled: the server sent nothing for %.3g s (after %lu %s)",
                         r->method, r->url, r->timeout, r->events, r->mode == M_SSE ? "event(s)" : "chunk(s)");
    else if (r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT)
        e = gl_error_new(L, "timeout", "%s %s: no response within %.3g s", r->method, r->url, r->timeout);
    else if (r->headers_done && r->mode != M_FULL)
        e = gl_error_new(L, "stream_cut", "%s %s: the stream was cut after %lu %s: %s", r->method, r->url, r->events,
                         r->mode == M_SSE ? "event(s)" : "chunk(s)", detail);
    else
        e = gl_error_new(L, kind_of(r->result), "%s %s: %s", r->method, r->url, detail);
    if (r->timed_out == 2) {
        lua_pushnumber(L, r->deadline);
        lua_setfield(L, e, "deadline");
    }
    http_set_common(L, e, r);
    lua_pushinteger(L, (lua_Integer)r->result);
    lua_setfield(L, e, "curl_code");
    if (r->status) {
        lua_pushinteger(L, r->status);
        lua_setfield(L, e, "status");
    }
    return 2;
}

/* Response headers as a table with lower-case names. */
void http_push_headers(lua_State *L, http_req *r) {
    lua_newtable(L);
    const char *p = r->resp_headers.p, *end = p + r->resp_headers.len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *q = p; q < colon; q++) luaL_addchar(&b, (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q));
            luaL_pushresult(&b);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING) { /* repeated: join */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, -3);
        }
        p = eol + 1;
    }
}

/* An HTTP error status (status 0: one reported inside a stream, whose body
 * says which): kind "http" with status, body (redacted at the boundary),
 * headers (or midstream and events), redirect for a 3xx. What the body
 * means (google.rpc.Status, RetryInfo, Retry-After) is the API client's
 * business: gemini.errors.enrich. Pushes the error table, returns its
 * index. */
int http_push_status_error(lua_State *L, http_req *r, long status, const char *raw, size_t rawlen, int midstream) {
    int e = gl_error_new(L, "http", "");
    http_set_common(L, e, r);
    /* the server's words enter here: err.body and the message are redacted */
    size_t len;
    char *body = gl_redact(raw, rawlen, &len);
    lua_pushlstring(L, body, len > MAX_ERROR_BODY ? MAX_ERROR_BODY : len);
    lua_setfield(L, e, "body");
    lua_pushinteger(L, status);
    lua_setfield(L, e, "status");
    http_push_headers(L, r);
    int hi = lua_gettop(L);
    int redirect = !midstream && status >= 300 && status < 400;
    if (redirect) { /* where to, secrets redacted (a portal may echo the key) */
        size_t ll;
        const char *loc = lua_getfield(L, hi, "location") == LUA_TSTRING ? lua_tolstring(L, -1, &ll) : NULL;
        char *red = loc ? gl_redact(loc, ll, &ll) : NULL;
        lua_pop(L, 1);
        if (red) {
            lua_pushlstring(L, red, ll);
            free(red);
        } else lua_pushliteral(L, "");
        lua_setfield(L, e, "redirect");
    }
    if (!midstream) {
        lua_pushvalue(L, hi);
        lua_setfield(L, e, "headers");
    } else {
        lua_pushboolean(L, 1);
        lua_setfield(L, e, "midstream");
        lua_pushinteger(L, (lua_Integer)r->events);
        lua_setfield(L, e, "events");
    }
    lua_pop(L, 1); /* the headers */
    /* message: what, where, and the server's words when they are short */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s %s: HTTP %d", r->method, r->url, (int)status);
    luaL_addvalue(&b);
    if (redirect) {
        lua_getfield(L, e, "redirect");
        lua_pushfstring(L,
                        ": a proxy or captive portal redirected the request to %s (API calls never follow "
                        "redirects; check HTTPS_PROXY and the base URL)",
                        *lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no Location)");
        lua_remove(L, -2);
        luaL_addvalue(&b);
    } else if (len > 0) {
        lua_pushfstring(L, ": %s", len > 200 ? "(see err.body)" : "");
        luaL_addvalue(&b);
        if (len <= 200) luaL_addlstring(&b, body, len);
    }
    if (midstream) {
        lua_pushfstring(L, " (in the stream, after %d event(s))", (int)r->events);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_setfield(L, e, "message");
    free(body);
    return e;
}
