/*
 * server.c — glrun.server, the Lua side: an HTTP/1.1 + WebSocket server on
 * the scheduler's libuv loop whose request handlers are Lua tasks
 * (OpenResty style). The connection side is server_conn.c, the WebSocket
 * side server_ws.c; docs/server.md has the API and the wire behaviour.
 *
 *   local srv = server.listen{host=, port=, cert=, key=, max_body=,
 *                             max_ws_message=, max_header=, header_timeout=,
 *                             max_connections=, max_connections_per_ip=,
 *                             stop_signals=}
 *   srv:accept() -> req | nil, err      srv:close()  srv:port()  srv:url()
 *   req:respond(status, headers [, body]); req:write(s); req:finish()
 *   req:upgrade([protocol]) -> ws
 */
#include "server.h"
#include "glsched.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>

#define SRV_MT "glrun.server"

typedef struct { srv_listener *l; } srv_ud;

static srv_listener *all;

void srv_listener_unlink(srv_listener *l)
{
    srv_listener **pp = &all;
    while (*pp && *pp != l) pp = &(*pp)->next;
    if (*pp) *pp = l->next;
}

/* ---- stop signals ------------------------------------------------------ */

static void update_stop_hook(void);

static void on_stop_signal(int sig)
{
    srv_listener *l;
    const char *name = sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
    gl_log(GL_LOG_INFO, "server", "%s: stopping (no new requests; open ones go on)", name);
    for (l = all; l; l = l->next)
        if (l->stop_signals && !l->closed) {
            l->stop_sig = sig;
            srv_listener_close(l, 503);
        }
    update_stop_hook();
}

static void update_stop_hook(void)
{
    srv_listener *l;
    for (l = all; l; l = l->next)
        if (l->stop_signals && !l->closed) { gl_sched_set_stop_hook(on_stop_signal); return; }
    gl_sched_set_stop_hook(NULL);
}

/* ---- the listener ------------------------------------------------------ */

static srv_listener *check_srv(lua_State *L)
{
    srv_ud *ud = luaL_checkudata(L, 1, SRV_MT);
    if (!ud->l) gl_closed(L, "server");
    return ud->l;
}

static size_t opt_size(lua_State *L, const char *name, size_t def)
{
    lua_Integer v = -1;
    int t = lua_getfield(L, 1, name);
    if (t == LUA_TNIL) { lua_pop(L, 1); return def; }
    if (lua_isinteger(L, -1)) v = lua_tointeger(L, -1);
    if (v < 0)
        luaL_error(L, "server.listen: %s must be a non-negative integer", name);
    lua_pop(L, 1);
    return (size_t)v;
}

static const char *opt_str(lua_State *L, const char *name, const char *def)
{
    const char *s;
    int t = lua_getfield(L, 1, name);
    if (t == LUA_TNIL) { lua_pop(L, 1); return def; }
    if (t != LUA_TSTRING) luaL_error(L, "server.listen: %s must be a string", name);
    s = lua_tostring(L, -1);
    lua_pop(L, 1);             /* the table keeps the string alive */
    return s;
}

static int tls_fail(lua_State *L, const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return gl_fail(L, "tls", "server.listen: cannot use %s %s (%s)", what, path, e ? buf : "unknown error");
}

static int l_listen(lua_State *L)
{
    srv_ud *ud;
    srv_listener *l;
    const char *host, *cert, *key;
    char err[256];
    lua_Integer port;
    double ht;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    host = opt_str(L, "host", "127.0.0.1");
    cert = opt_str(L, "cert", NULL);
    key = opt_str(L, "key", NULL);
    if (!cert != !key) return luaL_error(L, "server.listen: cert and key go together");
    lua_getfield(L, 1, "port");
    port = lua_isnil(L, -1) ? 8088 : (lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1);
    if (port < 0 || port > 65535) return luaL_error(L, "server.listen: port must be an integer 0..65535");
    lua_getfield(L, 1, "header_timeout");
    ht = lua_isnil(L, -1) ? 30 : luaL_checknumber(L, -1);
    if (!(ht > 0)) return luaL_error(L, "server.listen: header_timeout must be > 0");
    lua_pop(L, 2);
    if (strlen(host) >= sizeof l->host) return luaL_error(L, "server.listen: host too long");

    ud = lua_newuserdatauv(L, sizeof *ud, 0);   /* born closed */
    ud->l = NULL;
    luaL_setmetatable(L, SRV_MT);

    l = calloc(1, sizeof *l);
    if (!l) return luaL_error(L, "out of memory");
    snprintf(l->host, sizeof l->host, "%s", host);
    l->port = (int)port;
    l->max_body = opt_size(L, "max_body", 1048576);
    l->max_ws_message = opt_size(L, "max_ws_message", 1048576);
    l->max_header = opt_size(L, "max_header", 16384);
    l->max_conns = opt_size(L, "max_connections", 0);
    l->max_per_ip = opt_size(L, "max_connections_per_ip", 0);
    l->header_timeout = ht;
    lua_getfield(L, 1, "stop_signals");
    l->stop_signals = lua_toboolean(L, -1);
    lua_pop(L, 1);
    l->next = all;
    all = l;
    if (cert) {
        l->tls = SSL_CTX_new(TLS_server_method());
        if (!l->tls) { srv_listener_maybe_free(l); return tls_fail(L, "TLS", ""); }
        SSL_CTX_set_min_proto_version(l->tls, TLS1_2_VERSION);
        SSL_CTX_set_mode(l->tls, SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_use_certificate_chain_file(l->tls, cert) != 1) {
            srv_listener_maybe_free(l);
            return tls_fail(L, "certificate", cert);
        }
        if (SSL_CTX_use_PrivateKey_file(l->tls, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(l->tls) != 1) {
            srv_listener_maybe_free(l);
            return tls_fail(L, "key", key);
        }
    }
    /* libuv writes to sockets with write(2): a client that is gone would
     * kill the process with SIGPIPE instead of failing that one write */
    signal(SIGPIPE, SIG_IGN);
    if (srv_listen_start(l, err, sizeof err) < 0) {
        srv_listener_maybe_free(l);
        return gl_fail(L, "listen", "%s", err);
    }
    l->lua_alive = 1;
    ud->l = l;
    if (l->stop_signals) update_stop_hook();
    gl_log(GL_LOG_INFO, "server", "listening on %s%s:%d", l->tls ? "https://" : "http://", l->host, l->port);
    return 1;
}

static int l_srv_port(lua_State *L)
{
    lua_pushinteger(L, check_srv(L)->port);
    return 1;
}

static int l_srv_url(lua_State *L)
{
    srv_listener *l = check_srv(L);
    int v6 = strchr(l->host, ':') != NULL;
    lua_pushfstring(L, "%s://%s%s%s:%d", l->tls ? "https" : "http", v6 ? "[" : "", l->host,
                    v6 ? "]" : "", l->port);
    return 1;
}

static int accept_k(lua_State *L, int status, lua_KContext ctx)
{
    srv_ud *ud = luaL_checkudata(L, 1, SRV_MT);
    srv_listener *l = ud->l;
    srv_conn *c;
    (void)status; (void)ctx;
    if (!l) return gl_fail(L, "closed", "the server was closed");
    if ((c = srv_accept_pop(l)) != NULL) return srv_req_push(L, c);
    if (l->stop_sig) {
        int e;
        lua_pushnil(L);
        e = gl_error_new(L, "stopping", "the server is stopping (%s)",
                         l->stop_sig == SIGTERM ? "SIGTERM" : l->stop_sig == SIGHUP ? "SIGHUP" : "SIGINT");
        lua_pushstring(L, l->stop_sig == SIGTERM ? "SIGTERM" : l->stop_sig == SIGHUP ? "SIGHUP" : "SIGINT");
        lua_setfield(L, e, "signal");
        return 2;
    }
    if (l->closed) return gl_fail(L, "closed", "the server was closed");
    return gl_yield(L, &l->w_accept, 0, accept_k);
}

static int l_srv_accept(lua_State *L)
{
    srv_listener *l = check_srv(L);
    lua_settop(L, 1);
    if (l->w_accept.task) return luaL_error(L, "another task is already accepting on this server");
    return accept_k(L, LUA_OK, 0);
}

static int l_srv_close(lua_State *L)
{
    srv_ud *ud = luaL_checkudata(L, 1, SRV_MT);
    if (ud->l && !ud->l->closed) {
        srv_listener_close(ud->l, 503);
        update_stop_hook();
    }
    return 0;
}

static int l_srv_gc(lua_State *L)
{
    srv_ud *ud = luaL_checkudata(L, 1, SRV_MT);
    srv_listener *l = ud->l;
    if (l) {
        ud->l = NULL;
        if (!l->closed) { srv_listener_close(l, 503); update_stop_hook(); }
        l->lua_alive = 0;
        srv_listener_maybe_free(l);
    }
    return 0;
}

static int l_srv_stats(lua_State *L)
{
    srv_listener *l = check_srv(L);
    srv_conn *c;
    size_t queued = 0, open = 0, ws = 0, out = 0;
    for (c = l->ready_head; c; c = c->ready_next) queued++;
    for (c = l->conns; c; c = c->next) {
        if (c->closing) continue;
        open++;
        if (c->phase == CP_WS) ws++;
        out += c->out_pending;
    }
    lua_createtable(L, 0, 10);
#define SETI(name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("accepted", l->accepted);
    SETI("requests", l->requests);
    SETI("rejected", l->rejected);
    SETI("connections", l->connections);
    SETI("open", open);
    SETI("queued", queued);
    SETI("websockets", ws);
    SETI("out_queued", out);
    SETI("out_queued_max", l->out_max);
    SETI("port", l->port);
#undef SETI
    lua_pushboolean(L, l->closed);
    lua_setfield(L, -2, "closed");
    return 1;
}

static int l_srv_tostring(lua_State *L)
{
    srv_ud *ud = luaL_checkudata(L, 1, SRV_MT);
    if (!ud->l) lua_pushliteral(L, "server (closed)");
    else lua_pushfstring(L, "server (%s) %s:%d", ud->l->closed ? "closed" : "listening",
                         ud->l->host, ud->l->port);
    return 1;
}

/* ---- module ------------------------------------------------------------ */

static const luaL_Reg srv_funcs[] = {
    { "listen", l_listen },
    { NULL, NULL }
};

static const luaL_Reg srv_methods[] = {
    { "accept", l_srv_accept },
    { "close", l_srv_close },
    { "port", l_srv_port },
    { "url", l_srv_url },
    { "stats", l_srv_stats },
    { NULL, NULL }
};

static const luaL_Reg srv_meta[] = {
    { "__index", NULL },
    { "__gc", l_srv_gc },
    { "__close", l_srv_gc },
    { "__tostring", l_srv_tostring },
    { NULL, NULL }
};

/* The registry sentinel: finalised after every handle (it is created
 * first), it closes whatever is still open when the Lua state closes, so
 * that main's last loop run frees it all. */
static int srv_lib_gc(lua_State *L)
{
    srv_listener *l;
    (void)L;
    for (l = all; l; l = l->next) {
        srv_conn *c;
        if (!l->closed) srv_listener_close(l, 0);
        for (c = l->conns; c; c = c->next) srv_conn_close(c);
    }
    gl_sched_set_stop_hook(NULL);
    return 0;
}

static int srv_lib_key;

int luaopen_glrun_server(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &srv_lib_key) == LUA_TNIL) {
        lua_newuserdatauv(L, 1, 0);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, srv_lib_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &srv_lib_key);
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, SRV_MT)) {
        luaL_setfuncs(L, srv_meta, 0);
        luaL_newlib(L, srv_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    srv_req_open(L);
    luaopen_glrun_server_ws(L);
    luaL_newlib(L, srv_funcs);
    return 1;
}
