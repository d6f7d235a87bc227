/*
 * test_inject.c — unit tests for runtime/inject.c: the --inject specs
 * accepted (and what the Lua side gets for them) and the ones refused,
 * each with a message naming what is wrong.
 */
#include "unit.h"
#include "../../runtime/cassette.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static int add(const char *spec) { err[0] = 0; return gl_inject_add(spec, err, sizeof err); }

/* the field k of options.inject[i] as a number (-1: absent) */
static double field(lua_State *L, int i, const char *k)
{
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, k);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
    lua_pop(L, 2);
    return v;
}

static const char *sfield(lua_State *L, int i, const char *k)
{
    static char buf[256];
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, k);
    snprintf(buf, sizeof buf, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "(none)");
    lua_pop(L, 2);
    return buf;
}

static void test_accepted_specs_reach_lua(void)
{
    gl_inject_free();
    CHECK(add("rest:request=2:status=429:retry=2s") == 0);
    CHECK(add("rest:request=1:status=429:quota=day:retry=500ms") == 0);
    CHECK(add("rest:request=3:cut=100") == 0);
    CHECK(add("live:status=404") == 0);
    CHECK(add("live:session=2:frame=3:close=1011:reason=a: reason, with colons") == 0);
    CHECK(add("live:frame=2:goaway=1m") == 0);
    CHECK(gl_inject_count() == 6);
    lua_State *L = luaL_newstate();
    gl_inject_push(L);
    CHECK(lua_rawlen(L, -1) == 6);
    CHECK(strcmp(sfield(L, 1, "transport"), "rest") == 0);
    CHECK(field(L, 1, "request") == 2 && field(L, 1, "status") == 429 && field(L, 1, "retry") == 2);
    CHECK(field(L, 2, "retry") == 0.5 && strcmp(sfield(L, 2, "quota"), "day") == 0);
    CHECK(field(L, 3, "cut") == 100 && field(L, 3, "status") == -1);
    CHECK(strcmp(sfield(L, 4, "transport"), "live") == 0);
    CHECK(field(L, 4, "session") == 1 && field(L, 4, "status") == 404 && field(L, 4, "frame") == -1);
    CHECK(field(L, 5, "session") == 2 && field(L, 5, "frame") == 3 && field(L, 5, "close") == 1011);
    CHECK(strcmp(sfield(L, 5, "reason"), "a: reason, with colons") == 0);
    CHECK(field(L, 6, "goaway") == 60);
    CHECK(strcmp(sfield(L, 6, "spec"), "live:frame=2:goaway=1m") == 0);
    lua_close(L);
    gl_inject_free();
    CHECK(gl_inject_count() == 0);
}

static void test_refused_specs_say_why(void)
{
    static const struct { const char *spec, *why; } bad[] = {
        { "", "it starts with 'rest:' or 'live:'" },
        { "soap:request=1:status=500", "it starts with" },
        { "rest", "nothing to inject" },
        { "rest:status=429", "rest needs request=N" },
        { "rest:request=0:status=500", "bad value '0' for 'request'" },
        { "rest:request=1:status=200", "bad value '200' for 'status'" },
        { "rest:request=1:status=503:retry=2s", "retry= and quota= go with status=429" },
        { "rest:request=1:status=429:quota=week", "bad value 'week' for 'quota'" },
        { "rest:request=1:status=429:retry=soon", "bad value 'soon' for 'retry'" },
        { "rest:request=1:status=500:cut=10", "name exactly one fault" },
        { "rest:request=1", "name exactly one fault" },
        { "rest:request=1:colour=red", "unknown key 'colour'" },
        { "rest:request=1:frame=2:status=500", "unknown key 'frame'" },
        { "rest:request", "'request' is not KEY=VALUE" },
        { "live:frame=2", "name exactly one fault" },
        { "live:close=1011", "close= and goaway= need frame=N" },
        { "live:frame=1:status=404", "status= refuses the handshake" },
        { "live:frame=1:close=1006", "cannot be sent in a close frame" },
        { "live:frame=1:close=999", "bad value '999' for 'close'" },
        { "live:frame=1:goaway=5s:reason=x", "reason= goes with close=" },
        { "live:frame=1:cut=5", "unknown key 'cut'" },
    };
    gl_inject_free();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (add(bad[i].spec) == 0) FAILF("'%s' was accepted", bad[i].spec);
        if (!strstr(err, bad[i].why)) FAILF("'%s': \"%s\" does not say \"%s\"", bad[i].spec, err, bad[i].why);
    }
    CHECK(gl_inject_count() == 0);
}

static void test_at_most_64(void)
{
    gl_inject_free();
    for (int i = 0; i < 64; i++) CHECK(add("rest:request=1:status=500") == 0);
    CHECK(add("rest:request=1:status=500") != 0);
    CHECK(strstr(err, "at most 64") != NULL);
    gl_inject_free();
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        { "accepted_specs_reach_lua", test_accepted_specs_reach_lua },
        { "refused_specs_say_why", test_refused_specs_say_why },
        { "at_most_64", test_at_most_64 },
    };
    return unit_run(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL, NULL);
}
