/*
 * core.c — the module glrun.core (the `gl` global): its one registration
 * (the scheduler's functions from sched.c, errors, secrets, logging, trace,
 * base64, files) in one place, over thin Lua wrappers.
 */
#include "gl.h"
#include "glsched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Lua-facing helpers (the scheduler's are in sched.c) ----------- */

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
    lua_pushboolean(L, gl_is_error(L, 1));
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

static int l_b64encode(lua_State *L) { return gl_push_b64(L, 1, 0); }

/* Standard base64 with padding; whitespace is not allowed. Returns nil, err
 * on malformed input. */
static int l_b64decode(lua_State *L) {
    size_t len;
    luaL_checklstring(L, 1, &len);
    if (len % 4 != 0) return gl_fail(L, "protocol", "base64 text of %zu bytes is not a multiple of 4", len);
    return gl_push_unb64(L, 1, 1, "base64");
}

/* core.file_mode(path) -> permission bits (e.g. 0600 as 384) | nil, err.
 * gemini.auth warns when a key file is readable by group or others. */
static int l_file_mode(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) return gl_fail(L, "io", "%s: %s", path, strerror(errno));
    lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
    return 1;
}

/* core.file_kind(path) -> "file" | "dir" | "char" | "block" | "fifo" |
 * "socket" | "link"-free kind of what path names (stat follows links), or
 * nil when nothing is there. glrun.atomic renames over regular files only:
 * renaming a temporary file over /dev/null (as root) would replace the
 * device with a plain file. */
static int l_file_kind(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0) return gl_fail(L, "io", "%s: %s", path, strerror(errno));
    const char *k = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
                  : S_ISCHR(st.st_mode) ? "char" : S_ISBLK(st.st_mode) ? "block"
                  : S_ISFIFO(st.st_mode) ? "fifo" : S_ISSOCK(st.st_mode) ? "socket" : "other";
    lua_pushstring(L, k);
    return 1;
}

static int l_isatty(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"isatty", l_isatty},
    {"file_mode", l_file_mode},
    {"file_kind", l_file_kind},
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

/* A read-only view of the table on top of the stack (replaces it). */
static int readonly_newindex(lua_State *L) {
    return luaL_error(L, "%s is read-only", lua_tostring(L, lua_upvalueindex(1)));
}

static int readonly_pairs(lua_State *L) {
    lua_getglobal(L, "next");
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__index");
    lua_remove(L, -2);
    lua_pushnil(L);
    return 3;
}

void gl_readonly(lua_State *L, const char *name) {
    lua_newtable(L);          /* proxy */
    lua_createtable(L, 0, 4); /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, readonly_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, readonly_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

int luaopen_glrun_core(lua_State *L) {
    gl_sched_open(L); /* the task metatable */
    luaL_newlib(L, core_funcs);
    luaL_setfuncs(L, gl_sched_funcs, 0);
    return 1;
}
