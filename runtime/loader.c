/*
 * loader.c — where modules come from.
 *
 * User files first, built-in last: the script's own directory, LUA_PATH,
 * $XDG_CONFIG_HOME/glrun/, the installed share/glrun/lua, then the copies
 * compiled into the binary (embedded_lua.c, as bytecode: runtime/luac_embed.c).
 * C modules are preloaded.
 */
#include "gl.h"

#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);
int luaopen_glrun_readline(lua_State *L); /* lineedit.c */
int luaopen_glrun_jsonc(lua_State *L);    /* jsonlib.c */
int luaopen_glrun_redis(lua_State *L);    /* redis.c */
int luaopen_glrun_server(lua_State *L);   /* server.c: HTTP/WebSocket server */
int luaopen_glrun_assets(lua_State *L);   /* assets.c: the chat page (web/) */

struct gl_embedded {
    const char *name, *chunkname;
    const unsigned char *src;
    size_t len;
};
extern const struct gl_embedded gl_embedded[];

const struct gl_embedded *gl_embedded_find(const char *name) {
    for (const struct gl_embedded *e = gl_embedded; e->name; e++)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

int gl_embedded_load(lua_State *L, const char *name) {
    const struct gl_embedded *e = gl_embedded_find(name);
    if (!e) return -1;
    return luaL_loadbufferx(L, (const char *)e->src, e->len, e->chunkname, "b");
}

/* package.searchers entry: the built-in copy of a module */
static int search_embedded(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    const struct gl_embedded *e = gl_embedded_find(name);
    if (!e) {
        lua_pushfstring(L, "no built-in module '%s'", name);
        return 1;
    }
    if (luaL_loadbufferx(L, (const char *)e->src, e->len, e->chunkname, "b") != LUA_OK)
        return luaL_error(L, "error loading built-in module '%s': %s", name, lua_tostring(L, -1));
    lua_pushstring(L, e->chunkname + 1);
    return 2;
}

/* gl.builtin_names() — list of built-in module names (for docs/tests) */
int gl_builtin_names(lua_State *L) {
    lua_newtable(L);
    int i = 1;
    for (const struct gl_embedded *e = gl_embedded; e->name; e++) {
        lua_pushstring(L, e->name);
        lua_rawseti(L, -2, i++);
    }
    return 1;
}

static void preload(lua_State *L, const char *name, lua_CFunction f) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void gl_loader_init(lua_State *L, const char *script_dir) {
    preload(L, "cjson", luaopen_cjson);
    preload(L, "glrun.core", luaopen_glrun_core);
    preload(L, "glrun.jsonc", luaopen_glrun_jsonc);
    preload(L, "glrun.http", luaopen_glrun_http);
    preload(L, "glrun.crypto", luaopen_glrun_crypto);
    preload(L, "glrun.readline", luaopen_glrun_readline);
    preload(L, "glrun.redis", luaopen_glrun_redis);
    preload(L, "glrun.assets", luaopen_glrun_assets);
    preload(L, "glrun.ws", luaopen_glrun_ws); /* --replay too: ws_play.c */
    preload(L, "glrun.server", luaopen_glrun_server);

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path"); /* Lua's default (already honours LUA_PATH) */
    const char *def = lua_tostring(L, -1);
    const char *lp = getenv("LUA_PATH_5_4");
    if (!lp) lp = getenv("LUA_PATH");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (script_dir) {
        luaL_addstring(&b, script_dir);
        luaL_addstring(&b, "/?.lua;");
        luaL_addstring(&b, script_dir);
        luaL_addstring(&b, "/?/init.lua;");
    }
    if (lp) {
        luaL_addstring(&b, def);
        luaL_addchar(&b, ';');
    }
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg) {
        luaL_addstring(&b, xdg);
        luaL_addstring(&b, "/glrun/?.lua;");
    } else if (home) {
        luaL_addstring(&b, home);
        luaL_addstring(&b, "/.config/glrun/?.lua;");
    }
    luaL_addstring(&b, GLRUN_SHARE_DIR "/?.lua;" GLRUN_SHARE_DIR "/?/init.lua");
    if (!lp) {
        luaL_addchar(&b, ';');
        luaL_addstring(&b, def);
    }
    luaL_pushresult(&b);
    lua_setfield(L, -3, "path");
    lua_pop(L, 1); /* the default path string */

    /* built-in copies: after the Lua path searcher, before C searchers */
    lua_getfield(L, -1, "searchers");
    int n = (int)lua_rawlen(L, -1);
    for (int i = n; i >= 3; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, search_embedded);
    lua_rawseti(L, -2, 3);
    lua_pop(L, 2);
}
