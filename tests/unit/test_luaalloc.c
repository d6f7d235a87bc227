/*
 * test_luaalloc.c — unit tests for runtime/luaalloc.c, the Lua state's
 * small-object allocator: blocks keep their contents across resizes within
 * and across size classes and to and from malloc's sizes, freed blocks are
 * reused, blocks from before the switch go back to malloc, a shrink never
 * fails, and a Lua workload (tables, strings, closures, collection) runs
 * the same on it. Under ASan the allocator is off by design; the tests then
 * check that the state kept malloc's allocator.
 */
#include "unit.h"
#include "../../runtime/gl.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static lua_State *L;
static lua_Alloc fa;
static void *fud;
static int pooled; /* did the switch happen (not under ASan) */

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int same(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

static void test_resize_keeps_contents(void) {
    /* grow and shrink through every class and past the small limit */
    static const size_t sizes[] = {1, 8, 15, 16, 17, 31, 33, 64, 100, 200, 255, 256, 257, 300, 1000, 5000, 257, 256, 40, 3};
    unsigned char *p = fa(fud, NULL, LUA_TTABLE, sizes[0]);
    CHECK(p != NULL);
    fill(p, sizes[0], 11);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t o = sizes[i - 1], n = sizes[i], keep = o < n ? o : n;
        p = fa(fud, p, o, n);
        CHECK(p != NULL);
        CHECK(same(p, keep, 11));
        fill(p, n, 11);
    }
    CHECK(fa(fud, p, sizes[sizeof sizes / sizeof sizes[0] - 1], 0) == NULL);
}

static void test_reuse(void) {
    if (!pooled) return;
    void *a = fa(fud, NULL, 0, 40), *b = fa(fud, NULL, 0, 40);
    CHECK(a && b && a != b);
    fa(fud, a, 40, 0);
    void *c = fa(fud, NULL, 0, 48); /* same 16-byte class (33..48) */
    CHECK(c == a);
    void *d = fa(fud, NULL, 0, 24); /* another class: not a */
    CHECK(d != a && d != b);
    fa(fud, b, 40, 0);
    fa(fud, c, 48, 0);
    fa(fud, d, 24, 0);
    /* many live blocks at once are distinct and keep their bytes */
    enum { N = 20000 };
    static unsigned char *v[N];
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)(i * 37) % 256;
        v[i] = fa(fud, NULL, 0, n);
        CHECK(v[i] != NULL);
        fill(v[i], n, (unsigned)i);
    }
    for (int i = 0; i < N; i++) CHECK(same(v[i], 1 + (size_t)(i * 37) % 256, (unsigned)i));
    for (int i = 0; i < N; i++) fa(fud, v[i], 1 + (size_t)(i * 37) % 256, 0);
}

static void test_foreign_blocks(void) {
    /* a block malloc'd before the switch is resized and freed by malloc */
    unsigned char *m = malloc(24);
    CHECK(m != NULL);
    fill(m, 24, 5);
    m = fa(fud, m, 24, 100);
    CHECK(m != NULL && same(m, 24, 5));
    m = fa(fud, m, 100, 8);
    CHECK(m != NULL && same(m, 8, 5));
    fa(fud, m, 8, 0); /* free(): ASan/valgrind would flag a wrong one */
}

static void test_shrink_never_fails(void) {
    unsigned char *p = fa(fud, NULL, 0, 200);
    CHECK(p != NULL);
    fill(p, 200, 3);
    unsigned char *q = fa(fud, p, 200, 10);
    CHECK(q != NULL && same(q, 10, 3));
    fa(fud, q, 10, 0);
}

static void test_lua_workload(void) {
    const char *code =
        "local t = {}\n"
        "for r = 1, 20 do\n"
        "  for i = 1, 5000 do t[i] = { i, tostring(i) .. 'x', { a = i, b = { i * 2 } }, function() return i end } end\n"
        "  for i = 1, 5000, 3 do t[i] = nil end\n"
        "  collectgarbage()\n"
        "end\n"
        "local n = 0\n"
        "for i, v in pairs(t) do\n"
        "  assert(v[1] == i and v[2] == i .. 'x' and v[3].a == i and v[3].b[1] == 2 * i and v[4]() == i)\n"
        "  n = n + 1\n"
        "end\n"
        "local s = {}\n"
        "for i = 1, 300 do s[#s + 1] = string.rep('y', i) end\n"
        "assert(#table.concat(s) == 300 * 301 / 2)\n"
        "return n\n";
    CHECK(luaL_loadstring(L, code) == LUA_OK);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        snprintf(g_why, sizeof g_why, "workload: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    CHECK(lua_tointeger(L, -1) == 5000 - 1667);
    lua_pop(L, 1);
}

int main(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_Alloc before = lua_getallocf(L, NULL);
    unsetenv("GLRUN_MALLOC");
    unsetenv("LD_PRELOAD");
    gl_lua_alloc_install(L);
    fa = lua_getallocf(L, &fud);
    pooled = fa != before;
    printf("allocator: %s\n", pooled ? "luaalloc pool" : "malloc (pool off in this build)");
    static const unit_test tests[] = {
        { "resize_keeps_contents", test_resize_keeps_contents },
        { "reuse", test_reuse },
        { "foreign_blocks", test_foreign_blocks },
        { "shrink_never_fails", test_shrink_never_fails },
        { "lua_workload", test_lua_workload },
    };
    int rc = unit_run(tests, sizeof tests / sizeof tests[0], NULL, NULL);
    lua_close(L);
    return rc;
}
