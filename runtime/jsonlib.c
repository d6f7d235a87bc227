/*
 * jsonlib.c — module glrun.jsonc: the C half of glrun.json (lua/glrun/json.lua).
 *
 *   jsonc.decode(text)  -> value | nil, "invalid JSON at byte N: ..."
 *   jsonc.encode(value) -> text; raises "Cannot serialise ..." on a value JSON cannot hold
 *   jsonc.null          -> the lightuserdata NULL, the same value as cjson.null
 *
 * Integers stay integers both ways (jsondec.h, jsonenc.h); everything else
 * is what lua-cjson does, which stays the `cjson` module for scripts.
 */
#include "gl.h"
#include "jsondec.h"
#include "jsonenc.h"

static int l_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char err[160];
    if (jsondec_decode(L, s, len, err, sizeof err)) return 1;
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
}

static int l_encode(lua_State *L) {
    luaL_checkany(L, 1);
    jsonenc_encode(L, 1);
    return 1;
}

int luaopen_glrun_jsonc(lua_State *L) {
    static const luaL_Reg fns[] = {{"decode", l_decode}, {"encode", l_encode}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
