/*
 * assets.c — `glrun.assets`: the chat page's files (web/), compiled into
 * the binary by embed.cmake, as a Lua table
 *   { ["/index.html"] = { body = "...", type = "text/html; charset=utf-8" }, ... }
 * for `glrun serve` to answer GET requests from. Nothing is read from disk.
 */
#include "gl.h"

#include <string.h>

struct gl_web_asset {
    const char *path;
    const unsigned char *data;
    size_t len;
};
extern const struct gl_web_asset gl_web_assets[];

/* The Content-Type of a file, by its extension. */
static const char *asset_type(const char *path) {
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

int luaopen_glrun_assets(lua_State *L) {
    lua_newtable(L);
    for (const struct gl_web_asset *a = gl_web_assets; a->path; a++) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, (const char *)a->data, a->len);
        lua_setfield(L, -2, "body");
        lua_pushstring(L, asset_type(a->path));
        lua_setfield(L, -2, "type");
        lua_setfield(L, -2, a->path);
    }
    return 1;
}
