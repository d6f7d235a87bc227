/*
 * inject.c — `glrun --replay DIR --inject SPEC`: the fault specs, parsed
 * and checked before anything runs (a bad one is a usage error of one
 * line), then handed to the replay side as glrun.core.options.inject.
 * lua/glrun/inject.lua turns each recorded exchange the spec names into
 * the failure the real service would have sent (docs/policy.md).
 *
 *   rest:request=N:status=CODE[:retry=DUR][:quota=minute|day]
 *   rest:request=N:cut=BYTES
 *   live[:session=K]:status=CODE                 the handshake refused
 *   live[:session=K]:frame=N:close=CODE[:reason=TEXT]
 *   live[:session=K]:frame=N:goaway=DUR
 *
 * DUR: a number of seconds, optionally with "s", "ms" or "m". `reason`
 * takes the rest of the spec, colons included.
 */
#include "gl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INJECT 64

struct inject {
    const char *spec;
    int live;              /* 0 rest, 1 live */
    long request, session, frame, status, cut, close;
    double retry, goaway;  /* < 0: not given */
    const char *quota;     /* "minute", "day" or NULL */
    char *reason;
};

static struct inject injects[MAX_INJECT];
static int ninject;

static int positive(const char *v, long lo, long hi, long *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) return -1;
    *out = n;
    return 0;
}

/* "2", "2s", "1.5s", "500ms", "1m" -> seconds */
static int duration(const char *v, double *out) {
    char *end;
    double d = strtod(v, &end);
    if (end == v || d < 0 || d > 86400) return -1;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) *out = d;
    else if (strcmp(end, "ms") == 0) *out = d / 1000;
    else if (strcmp(end, "m") == 0) *out = d * 60;
    else return -1;
    return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); free(in->reason); in->reason = NULL; return -1; } while (0)

static int parse(const char *spec, struct inject *in, char *err, size_t errlen) {
    memset(in, 0, sizeof *in);
    in->spec = spec;
    in->retry = in->goaway = -1;
    in->request = in->session = in->frame = in->status = in->cut = in->close = -1;
    const char *p = spec, *colon = strchr(p, ':');
    size_t tl = colon ? (size_t)(colon - p) : strlen(p);
    if (tl == 4 && strncmp(p, "rest", 4) == 0) in->live = 0;
    else if (tl == 4 && strncmp(p, "live", 4) == 0) in->live = 1;
    else FAIL("it starts with 'rest:' or 'live:'");
    if (!colon) FAIL("nothing to inject after '%.*s'", (int)tl, p);
    p = colon + 1;
    while (*p) {
        const char *eq = strchr(p, '=');
        colon = strchr(p, ':');
        if (!eq || (colon && colon < eq)) FAIL("'%.*s' is not KEY=VALUE", (int)(colon ? colon - p : (long)strlen(p)), p);
        char key[16], val[128];
        size_t kl = (size_t)(eq - p);
        if (kl >= sizeof key) FAIL("unknown key '%.*s'", (int)kl, p);
        memcpy(key, p, kl);
        key[kl] = 0;
        if (in->live && strcmp(key, "reason") == 0) { /* the rest of the spec */
            in->reason = strdup(eq + 1);
            break;
        }
        const char *v0 = eq + 1;
        size_t vl = colon ? (size_t)(colon - v0) : strlen(v0);
        if (vl >= sizeof val) FAIL("the value of '%s' is too long", key);
        memcpy(val, v0, vl);
        val[vl] = 0;
        p = colon ? colon + 1 : v0 + vl;
        int bad = 0;
        if (!in->live && strcmp(key, "request") == 0) bad = positive(val, 1, 1000000, &in->request);
        else if (in->live && strcmp(key, "session") == 0) bad = positive(val, 1, 1000000, &in->session);
        else if (in->live && strcmp(key, "frame") == 0) bad = positive(val, 1, 1000000, &in->frame);
        else if (strcmp(key, "status") == 0) bad = positive(val, 400, 599, &in->status);
        else if (!in->live && strcmp(key, "retry") == 0) bad = duration(val, &in->retry);
        else if (!in->live && strcmp(key, "cut") == 0) bad = positive(val, 0, 1L << 30, &in->cut);
        else if (!in->live && strcmp(key, "quota") == 0) {
            if (strcmp(val, "minute") == 0) in->quota = "minute";
            else if (strcmp(val, "day") == 0) in->quota = "day";
            else bad = 1;
        } else if (in->live && strcmp(key, "close") == 0) {
            bad = positive(val, 1000, 4999, &in->close);
            if (!bad && (in->close == 1004 || in->close == 1005 || in->close == 1006 || in->close == 1015))
                FAIL("close=%ld cannot be sent in a close frame", in->close);
        } else if (in->live && strcmp(key, "goaway") == 0) bad = duration(val, &in->goaway);
        else
            FAIL("unknown key '%s' (%s)", key,
                 in->live ? "live takes session, frame, status, close, reason, goaway"
                          : "rest takes request, status, retry, quota, cut");
        if (bad) FAIL("bad value '%s' for '%s'", val, key);
    }
    int faults = (in->status >= 0) + (in->cut >= 0) + (in->close >= 0) + (in->goaway >= 0);
    if (faults != 1)
        FAIL("name exactly one fault (%s)", in->live ? "status=, close= or goaway=" : "status= or cut=");
    if (!in->live && in->request < 0) FAIL("rest needs request=N (the Nth HTTP request of the run)");
    if (in->live && in->session < 0) in->session = 1;
    if (in->live && in->status >= 0 && in->frame >= 0) FAIL("status= refuses the handshake: it takes no frame=");
    if (in->live && in->status < 0 && in->frame < 0) FAIL("close= and goaway= need frame=N (the Nth server message)");
    if (in->reason && in->close < 0) FAIL("reason= goes with close=");
    if ((in->retry >= 0 || in->quota) && in->status != 429) FAIL("retry= and quota= go with status=429");
    return 0;
}

/* 0, or -1 with a one-line message in err. */
int gl_inject_add(const char *spec, char *err, size_t errlen) {
    if (ninject == MAX_INJECT) {
        snprintf(err, errlen, "at most %d --inject options", MAX_INJECT);
        return -1;
    }
    if (parse(spec, &injects[ninject], err, errlen) != 0) return -1;
    ninject++;
    return 0;
}

int gl_inject_count(void) { return ninject; }

static void set_int(lua_State *L, const char *k, long v) {
    if (v < 0) return;
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v) {
    if (v < 0) return;
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* Push the list {{transport=, request=|session=, frame=, status=, ...}, ...}. */
void gl_inject_push(lua_State *L) {
    lua_createtable(L, ninject, 0);
    for (int i = 0; i < ninject; i++) {
        struct inject *in = &injects[i];
        lua_newtable(L);
        lua_pushstring(L, in->spec);
        lua_setfield(L, -2, "spec");
        lua_pushstring(L, in->live ? "live" : "rest");
        lua_setfield(L, -2, "transport");
        set_int(L, "request", in->request);
        set_int(L, "session", in->session);
        set_int(L, "frame", in->frame);
        set_int(L, "status", in->status);
        set_int(L, "cut", in->cut);
        set_int(L, "close", in->close);
        set_num(L, "retry", in->retry);
        set_num(L, "goaway", in->goaway);
        if (in->quota) {
            lua_pushstring(L, in->quota);
            lua_setfield(L, -2, "quota");
        }
        if (in->reason) {
            lua_pushstring(L, in->reason);
            lua_setfield(L, -2, "reason");
        }
        lua_rawseti(L, -2, i + 1);
    }
}

void gl_inject_free(void) {
    for (int i = 0; i < ninject; i++) free(injects[i].reason);
    ninject = 0;
}
