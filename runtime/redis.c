/*
 * redis.c — glrun.redis: a Redis client on glrun's loop (hiredis async +
 * its libuv adapter), following the cosocket contract of gl.h.
 *
 *   local redis = require "glrun.redis"
 *   local conn, err = redis.connect("redis://:secret@127.0.0.1:6379/0")
 *   conn:command("SET", "k", 1)  --> "OK"
 *   conn:command("GET", "nope")  --> nil (no error: a nil reply)
 *   conn:close()
 *
 * Replies become Lua values: status and bulk strings → strings, integers →
 * integers, arrays → tables (a nil element is false), a nil reply → nil.
 * An error reply is `nil, err` (kind "redis"); a connection that cannot be
 * made or is lost is `nil, err` (kind "connect") and stays failed; a reply
 * that does not come in time is `nil, err` (kind "timeout"), which does not
 * poison the connection (the late reply is matched to its command and
 * dropped). The password never appears in an error or a trace.
 *
 * hiredis callbacks only copy the reply out (hiredis frees its own right
 * after the callback) and gl_wake the task; Lua runs from the loop.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include "gl.h"

#define CONN_MT "glrun.redis.conn"
#define CMD_MT "glrun.redis.cmd"

/* ---- hiredis on the loop ----------------------------------------------
 * hiredis's own adapters/libuv.h, with one change: a poll error (a refused
 * or reset connection is reported as status < 0) is handed to hiredis as an
 * event, so it sees the socket error at once instead of never (the stock
 * adapter returns, and a refused connect would wait for the timeout). */

typedef struct uvev {
    redisAsyncContext *ac;
    uv_poll_t handle;
    int events;
} uvev;

static void uvev_poll(uv_poll_t *h, int status, int events) {
    uvev *p = h->data;
    if (status != 0) events = p->events ? p->events : UV_READABLE;
    if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void uvev_update(uvev *p) {
    if (p->events) uv_poll_start(&p->handle, p->events, uvev_poll);
    else uv_poll_stop(&p->handle);
}
static void uvev_add_read(void *d) { uvev *p = d; p->events |= UV_READABLE; uvev_update(p); }
static void uvev_del_read(void *d) { uvev *p = d; p->events &= ~UV_READABLE; uvev_update(p); }
static void uvev_add_write(void *d) { uvev *p = d; p->events |= UV_WRITABLE; uvev_update(p); }
static void uvev_del_write(void *d) { uvev *p = d; p->events &= ~UV_WRITABLE; uvev_update(p); }
static void uvev_closed(uv_handle_t *h) { free(h->data); }
static void uvev_cleanup(void *d) {
    uvev *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, uvev_closed);
}

static int uvev_attach(redisAsyncContext *ac, uv_loop_t *loop) {
    if (ac->ev.data) return REDIS_ERR;
    uvev *p = calloc(1, sizeof *p);
    if (!p) return REDIS_ERR;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) { free(p); return REDIS_ERR; }
    ac->ev.addRead = uvev_add_read;
    ac->ev.delRead = uvev_del_read;
    ac->ev.addWrite = uvev_add_write;
    ac->ev.delWrite = uvev_del_write;
    ac->ev.cleanup = uvev_cleanup;
    ac->ev.data = p;
    p->handle.data = p;
    p->ac = ac;
    return REDIS_OK;
}

/* ---- a reply copied out of hiredis ----------------------------------- */

typedef struct rval {
    int type;            /* REDIS_REPLY_* */
    long long integer;
    char *str;
    size_t len;
    size_t n;
    struct rval **el;
} rval;

static void rval_free(rval *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) rval_free(v->el[i]);
    free(v->el);
    free(v->str);
    free(v);
}

static rval *rval_copy(const redisReply *r) {
    rval *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->type = r->type;
    v->integer = r->integer;
    if (r->str) {
        v->str = malloc(r->len + 1);
        if (!v->str) { free(v); return NULL; }
        memcpy(v->str, r->str, r->len);
        v->str[r->len] = 0;
        v->len = r->len;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        v->el = calloc(r->elements, sizeof *v->el);
        if (!v->el) { rval_free(v); return NULL; }
        v->n = r->elements;
        for (size_t i = 0; i < r->elements; i++)
            if (!(v->el[i] = rval_copy(r->element[i]))) { rval_free(v); return NULL; }
    }
    return v;
}

static void rval_push(lua_State *L, const rval *v, int nested) {
    switch (v->type) {
    case REDIS_REPLY_STRING: case REDIS_REPLY_STATUS: lua_pushlstring(L, v->str, v->len); break;
    case REDIS_REPLY_INTEGER: lua_pushinteger(L, (lua_Integer)v->integer); break;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)v->n, 0);
        for (size_t i = 0; i < v->n; i++) {
            rval_push(L, v->el[i], 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case REDIS_REPLY_ERROR: /* inside an array (EXEC): an error object */
        gl_error_new(L, "redis", "%s", v->str ? v->str : "error");
        break;
    default:
        if (nested) lua_pushboolean(L, 0);
        else lua_pushnil(L);
    }
}

/* ---- a connection ---------------------------------------------------- */

typedef struct rconn {
    redisAsyncContext *ac;
    int state;          /* 0 closed, 1 open, 2 failed */
    double timeout;     /* seconds per command */
    char where[280];    /* host:port/db, never the password */
    char err[700];      /* why it failed */
} rconn;

/* One command in flight. Owned by up to three parties — hiredis (until its
 * callback ran), the Lua box of the waiting call, the timer handle — and
 * freed when the last lets go. */
typedef struct rreq {
    int refs;
    int done, timed_out, lost;
    rval *reply;
    gl_waiter w;
    uv_timer_t timer;
    char err[700];
} rreq;

static void cmd_unref(rreq *c) {
    if (--c->refs == 0) {
        rval_free(c->reply);
        free(c);
    }
}

static void conn_fail(rconn *c, const char *why) {
    if (c->state == 1) {
        c->state = 2;
        snprintf(c->err, sizeof c->err, "%s", why);
    }
}

/* Set while a connection is freed by the garbage collector (the state may
 * be closing): its commands' tasks are not woken. */
static int in_gc;

static void on_reply(redisAsyncContext *ac, void *r, void *priv) {
    rreq *cmd = priv;
    rconn *c = ac->data;
    if (!cmd->done && in_gc) cmd->done = 1;
    if (!cmd->done) {
        cmd->done = 1;
        if (r) {
            cmd->reply = rval_copy(r);
            if (!cmd->reply) snprintf(cmd->err, sizeof cmd->err, "out of memory");
        } else {
            cmd->lost = 1;
            if (c && c->err[0]) snprintf(cmd->err, sizeof cmd->err, "%s", c->err);
            else snprintf(cmd->err, sizeof cmd->err, "Redis%s%s: connection lost%s%s", c ? " at " : "",
                          c ? c->where : "", ac->errstr[0] ? ": " : "", ac->errstr);
        }
        gl_wake(&cmd->w);
    }
    cmd_unref(cmd);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    rconn *c = ac->data;
    if (status != REDIS_OK && c) {
        char m[700];
        snprintf(m, sizeof m, "cannot connect to Redis at %s: %s", c->where, ac->errstr);
        conn_fail(c, m);
        c->ac = NULL; /* hiredis frees it after this callback */
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    rconn *c = ac->data;
    if (!c) return;
    if (status != REDIS_OK) {
        char m[700];
        snprintf(m, sizeof m, "Redis at %s: connection lost: %s", c->where, ac->errstr);
        conn_fail(c, m);
    } else conn_fail(c, "connection closed by the server");
    c->ac = NULL;
}

static void timer_closed(uv_handle_t *h) { cmd_unref(h->data); }

static void on_timeout(uv_timer_t *t) {
    rreq *cmd = t->data;
    if (!cmd->done) {
        cmd->timed_out = 1;
        gl_wake(&cmd->w);
    }
}

static rconn *check_conn(lua_State *L) { return luaL_checkudata(L, 1, CONN_MT); }

static void conn_release(rconn *c) {
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL; /* callbacks fired by the free find no connection */
        redisAsyncFree(ac);
    }
    c->state = 0;
}

/* The Lua box of a command: its __gc lets go of the command (the task was
 * interrupted or the call finished). */
static void cmd_release(rreq **bp) {
    if (*bp) {
        rreq *cmd = *bp;
        *bp = NULL;
        cmd->w.task = NULL;
        cmd->done = 1; /* a reply still to come is dropped */
        uv_timer_stop(&cmd->timer);
        uv_close((uv_handle_t *)&cmd->timer, timer_closed);
        cmd_unref(cmd);
    }
}

static int cmdbox_gc(lua_State *L) {
    cmd_release(lua_touserdata(L, 1));
    return 0;
}

/* Results of a finished command (box at stack index `box`). */
static int cmd_results(lua_State *L, rconn *c, rreq *cmd) {
    if (cmd->timed_out && !cmd->reply && !cmd->lost) {
        return gl_fail(L, "timeout", "Redis at %s: no reply within %g s", c->where, c->timeout);
    }
    if (!cmd->reply) {
        return gl_fail(L, "connect", "%s", cmd->err[0] ? cmd->err : "connection lost");
    }
    if (cmd->reply->type == REDIS_REPLY_ERROR) {
        return gl_fail(L, "redis", "%s", cmd->reply->str ? cmd->reply->str : "error");
    }
    rval_push(L, cmd->reply, 0);
    return 1;
}

static int command_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    rconn *c = check_conn(L);
    int box = (int)ctx;
    rreq **bp = lua_touserdata(L, box);
    rreq *cmd = *bp;
    if (!cmd->reply && !cmd->lost && !cmd->timed_out) return gl_yield(L, &cmd->w, ctx, command_k);
    int n = cmd_results(L, c, cmd);
    cmd_release(bp); /* the reply's memory goes now, not at the next GC */
    return n;
}

/* Send argv (stack 2..top) with a fresh command box pushed; the box index
 * is returned. Raises on misuse. */
static int send_command(lua_State *L, rconn *c, rreq **out) {
    int top = lua_gettop(L);
    int argc = top - 1;
    if (argc < 1) luaL_error(L, "conn:command: no command given");
    if (argc > 1024 * 1024) luaL_error(L, "conn:command: too many arguments");
    const char **argv = lua_newuserdatauv(L, argc * (sizeof(char *) + sizeof(size_t)), 0);
    size_t *lens = (size_t *)(argv + argc);
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 2);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_argerror(L, i + 2, "a string or a number expected");
        argv[i] = lua_tolstring(L, i + 2, &lens[i]);
    }
    rreq **bp = lua_newuserdatauv(L, sizeof *bp, 0);
    *bp = NULL;
    luaL_setmetatable(L, CMD_MT);
    rreq *cmd = calloc(1, sizeof *cmd);
    if (!cmd) luaL_error(L, "out of memory");
    cmd->refs = 2; /* the box, the timer */
    uv_timer_init(gl_loop(L), &cmd->timer);
    cmd->timer.data = cmd;
    *bp = cmd;
    if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, lens) != REDIS_OK) {
        cmd->done = cmd->lost = 1;
        snprintf(cmd->err, sizeof cmd->err, "Redis at %s: %s", c->where,
                 c->ac->errstr[0] ? c->ac->errstr : "the command could not be sent");
    } else {
        cmd->refs++; /* hiredis holds it until on_reply */
        if (c->timeout > 0) uv_timer_start(&cmd->timer, on_timeout, (uint64_t)(c->timeout * 1000 + 0.5), 0);
    }
    *out = cmd;
    return lua_gettop(L);
}

/* conn:command(name, args...) -> reply | nil, err */
static int conn_command(lua_State *L) {
    rconn *c = check_conn(L);
    if (c->state == 0) return luaL_error(L, "conn:command: the connection is closed");
    if (c->state == 2 || !c->ac) {
        conn_fail(c, "connection lost");
        return gl_fail(L, "connect", "%s", c->err);
    }
    if (!gl_in_task(L)) return luaL_error(L, "conn:command must be called inside a task");
    rreq *cmd;
    int box = send_command(L, c, &cmd);
    if (cmd->done) {
        int n = cmd_results(L, c, cmd);
        cmd_release(lua_touserdata(L, box));
        return n;
    }
    return gl_yield(L, &cmd->w, (lua_KContext)box, command_k);
}

static int conn_close(lua_State *L) {
    rconn *c = check_conn(L);
    conn_release(c);
    return 0;
}

static int conn_gc(lua_State *L) {
    rconn *c = lua_touserdata(L, 1);
    in_gc = 1;
    conn_release(c);
    in_gc = 0;
    return 0;
}

static int conn_tostring(lua_State *L) {
    rconn *c = check_conn(L);
    if (c->state == 0) lua_pushliteral(L, "redis.conn (closed)");
    else if (c->state == 2) lua_pushfstring(L, "redis.conn (failed) %s", c->where);
    else lua_pushfstring(L, "redis.conn %s", c->where);
    return 1;
}

static int conn_failed(lua_State *L) {
    rconn *c = check_conn(L);
    if (c->state == 2 || (c->state == 1 && !c->ac)) {
        lua_pushstring(L, c->err[0] ? c->err : "connection lost");
        return 1;
    }
    lua_pushboolean(L, c->state == 0);
    return 1;
}

/* ---- connect --------------------------------------------------------- */

static int pct_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && p[1] && p[2]) {
            char h[3] = { p[1], p[2], 0 };
            char *end;
            long v = strtol(h, &end, 16);
            if (*end) return -1;
            *o++ = (char)v;
            p += 2;
        } else *o++ = *p;
    }
    *o = 0;
    return 0;
}

typedef struct target {
    char host[256];
    int port, db;
    char pass[512];
    int has_pass;
} target;

/* Parse redis://[[user]:password@]host[:port][/db]; returns an error
 * message (never containing the password) or NULL. */
static const char *parse_url(const char *url, target *t) {
    if (strncmp(url, "rediss://", 9) == 0)
        return "rediss:// (Redis over TLS) is not supported: the hiredis of this build (0.14) has no TLS; "
               "use redis:// on a trusted network or a TLS tunnel (stunnel, spiped)";
    if (strncmp(url, "redis://", 8) != 0) return "a Redis URL starts with redis:// (redis://[:password@]host:port/db)";
    const char *p = url + 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = NULL;
    for (const char *q = p; q < end; q++) if (*q == '@') at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            size_t n = (size_t)(at - colon - 1);
            if (n >= sizeof t->pass) return "the password in the Redis URL is too long";
            memcpy(t->pass, colon + 1, n);
            t->pass[n] = 0;
            if (pct_decode(t->pass) != 0) return "bad %-escape in the Redis URL's password";
            t->has_pass = 1;
        }
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    size_t hn = (size_t)(hend - p);
    if (hn >= sizeof t->host) return "the host in the Redis URL is too long";
    if (hn) { memcpy(t->host, p, hn); t->host[hn] = 0; }
    else strcpy(t->host, "127.0.0.1");
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port <= 0 || port > 65535) return "bad port in the Redis URL";
        t->port = (int)port;
    }
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0 || db > 100000) return "bad database number in the Redis URL (redis://host:port/DB)";
        t->db = (int)db;
    }
    return NULL;
}

static int connect_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    /* stack: 1 opts, 2 conn, ..., ctx = the box of the handshake's last command */
    int box = (int)ctx;
    rconn *c = lua_touserdata(L, 2);
    rreq *cmd = *(rreq **)lua_touserdata(L, box);
    if (!cmd->reply && !cmd->lost && !cmd->timed_out) return gl_yield(L, &cmd->w, ctx, connect_k);
    char why[800] = "";
    /* the first handshake command refused says why (AUTH before PING) */
    for (int i = 3; i <= box && !why[0]; i++) {
        rreq **bp = luaL_testudata(L, i, CMD_MT);
        if (bp && *bp && (*bp)->reply && (*bp)->reply->type == REDIS_REPLY_ERROR)
            snprintf(why, sizeof why, "Redis at %s refused the connection: %s", c->where,
                     (*bp)->reply->str ? (*bp)->reply->str : "error");
    }
    if (!why[0] && cmd->timed_out && !cmd->reply && !cmd->lost)
        snprintf(why, sizeof why, "cannot connect to Redis at %s: no answer within %g s", c->where, c->timeout);
    else if (!why[0] && !cmd->reply)
        snprintf(why, sizeof why, "%s", c->err[0] ? c->err : cmd->err);
    for (int i = 3; i <= box; i++) {
        rreq **bp = luaL_testudata(L, i, CMD_MT);
        if (bp) cmd_release(bp);
    }
    if (why[0]) {
        conn_release(c);
        return gl_fail(L, "connect", "%s", why);
    }
    lua_pushvalue(L, 2);
    return 1;
}

/* redis.connect(url | {url=, host=, port=, password=, db=, timeout=}) ->
 * conn | nil, err. The password also comes from REDISCLI_AUTH. */
static int redis_connect(lua_State *L) {
    target t;
    memset(&t, 0, sizeof t);
    t.port = 6379;
    double timeout = 5.0;
    const char *err = NULL;
    if (lua_type(L, 1) == LUA_TSTRING) {
        err = parse_url(lua_tostring(L, 1), &t);
    } else if (lua_istable(L, 1)) {
        if (lua_getfield(L, 1, "url") == LUA_TSTRING) err = parse_url(lua_tostring(L, -1), &t);
        else strcpy(t.host, "127.0.0.1");
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "host") == LUA_TSTRING) snprintf(t.host, sizeof t.host, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "port") != LUA_TNIL) t.port = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "db") != LUA_TNIL) t.db = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "password") == LUA_TSTRING) {
            snprintf(t.pass, sizeof t.pass, "%s", lua_tostring(L, -1));
            t.has_pass = 1;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "timeout") != LUA_TNIL) timeout = luaL_checknumber(L, -1);
        lua_pop(L, 1);
    } else {
        return luaL_argerror(L, 1, "a redis:// URL or an options table expected");
    }
    if (err) return gl_fail(L, "config", "%s", err);
    if (!t.has_pass) {
        const char *env = getenv("REDISCLI_AUTH");
        if (env && *env) { snprintf(t.pass, sizeof t.pass, "%s", env); t.has_pass = 1; }
    }
    if (t.has_pass && t.pass[0]) gl_secret_add(t.pass, strlen(t.pass));
    if (!gl_in_task(L)) return luaL_error(L, "redis.connect must be called inside a task");
    lua_settop(L, 1);
    rconn *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CONN_MT);
    c->timeout = timeout;
    snprintf(c->where, sizeof c->where, "%s:%d/%d", t.host, t.port, t.db);
    redisAsyncContext *ac = redisAsyncConnect(t.host, t.port);
    if (!ac) return gl_fail(L, "connect", "cannot connect to Redis at %s: out of memory", c->where);
    if (ac->err) {
        char m[700];
        snprintf(m, sizeof m, "cannot connect to Redis at %s: %s", c->where, ac->errstr);
        redisAsyncFree(ac);
        return gl_fail(L, "connect", "%s", m);
    }
    if (uvev_attach(ac, gl_loop(L)) != REDIS_OK) {
        redisAsyncFree(ac);
        return gl_fail(L, "connect", "cannot connect to Redis at %s: event loop", c->where);
    }
    ac->data = c;
    c->ac = ac;
    c->state = 1;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* the handshake, pipelined behind the connect: AUTH, SELECT, PING */
    rreq *cmd = NULL;
    int box = 0;
    lua_settop(L, 2);
    const char *hs[3][3];
    int nhs = 0, hsn[3];
    char dbs[16];
    if (t.has_pass) { hs[nhs][0] = "AUTH"; hs[nhs][1] = t.pass; hsn[nhs++] = 2; }
    if (t.db) { snprintf(dbs, sizeof dbs, "%d", t.db); hs[nhs][0] = "SELECT"; hs[nhs][1] = dbs; hsn[nhs++] = 2; }
    hs[nhs][0] = "PING"; hsn[nhs++] = 1;
    for (int i = 0; i < nhs; i++) {
        rreq **bp = lua_newuserdatauv(L, sizeof *bp, 0);
        *bp = NULL;
        luaL_setmetatable(L, CMD_MT);
        cmd = calloc(1, sizeof *cmd);
        if (!cmd) return luaL_error(L, "out of memory");
        cmd->refs = 2;
        uv_timer_init(gl_loop(L), &cmd->timer);
        cmd->timer.data = cmd;
        *bp = cmd;
        size_t lens[2] = { strlen(hs[i][0]), hsn[i] > 1 ? strlen(hs[i][1]) : 0 };
        if (redisAsyncCommandArgv(ac, on_reply, cmd, hsn[i], hs[i], lens) != REDIS_OK) {
            cmd->done = cmd->lost = 1;
            snprintf(cmd->err, sizeof cmd->err, "cannot connect to Redis at %s", c->where);
        } else cmd->refs++;
        box = lua_gettop(L);
    }
    memset(t.pass, 0, sizeof t.pass);
    if (c->timeout > 0) uv_timer_start(&cmd->timer, on_timeout, (uint64_t)(c->timeout * 1000 + 0.5), 0);
    return gl_yield(L, &cmd->w, (lua_KContext)box, connect_k);
}

static const luaL_Reg conn_methods[] = {
    { "command", conn_command },
    { "close", conn_close },
    { "failed", conn_failed },
    { NULL, NULL },
};

static const luaL_Reg conn_meta[] = {
    { "__gc", conn_gc },
    { "__close", conn_close },
    { "__tostring", conn_tostring },
    { NULL, NULL },
};

static const luaL_Reg funcs[] = {
    { "connect", redis_connect },
    { NULL, NULL },
};

int luaopen_glrun_redis(lua_State *L) {
    luaL_newmetatable(L, CONN_MT);
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, CMD_MT);
    lua_pushcfunction(L, cmdbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
