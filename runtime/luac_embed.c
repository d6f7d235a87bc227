/*
 * luac_embed.c — a build-time tool, not part of glrun: compiles one Lua
 * source to Lua bytecode for embedded_lua.c (runtime/embed.cmake), so that
 * loading a built-in module at run time is an undump instead of a parse
 * and compile (a third of a one-shot process's instructions, bench/README.md).
 * Debug information is kept: tracebacks still name lua/FILE.lua and the
 * line. It links the same liblua as glrun, so the bytecode's format is the
 * one glrun loads.
 *
 *   luac_embed IN OUT CHUNKNAME
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>

static int writer(lua_State *L, const void *p, size_t sz, void *ud) {
    (void)L;
    return fwrite(p, 1, sz, (FILE *)ud) != sz;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: luac_embed IN OUT CHUNKNAME\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(in);
    if (!buf) {
        fprintf(stderr, "luac_embed: out of memory\n");
        return 1;
    }
    lua_State *L = luaL_newstate();
    if (!L || luaL_loadbufferx(L, buf, len, argv[3], "t") != LUA_OK) {
        fprintf(stderr, "luac_embed: %s\n", L ? lua_tostring(L, -1) : "out of memory");
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    int bad = lua_dump(L, writer, out, 0) != 0;
    if (fclose(out) != 0) bad = 1;
    if (bad) {
        fprintf(stderr, "luac_embed: cannot write %s\n", argv[2]);
        remove(argv[2]);
        return 1;
    }
    lua_close(L);
    free(buf);
    return 0;
}
