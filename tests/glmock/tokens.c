/* Ephemeral auth tokens (docs/protocol.md#ephemeral-tokens): POST
 * /v1alpha/auth_tokens creates one; a Live session on the v1alpha
 * BidiGenerateContentConstrained method spends it (Authorization: Token
 * auth_tokens/..., or ?access_token= as js-genai sends it). Checked at the
 * session's setup: known, not expired, a new session before
 * newSessionExpireTime, uses left (resuming a session is not a use); then the
 * token's locked setup fields replace the client's (no fieldMask: every field
 * the token sets; a fieldMask: those paths). README "Ephemeral tokens". */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct token {
    struct token *next;
    char name[64];
    long uses_left;
    double expire_t, new_session_t;
    json_t *setup;          /* bidiGenerateContentSetup, or NULL */
    json_t *mask;           /* array of "a.b" paths, or NULL: the whole setup */
    int sessions;
} token_t;

static token_t *g_tokens;

static token_t *find(const char *name)
{
    for (token_t *t = g_tokens; t; t = t->next)
        if (name && !strcmp(t->name, name)) return t;
    return NULL;
}

static json_t *split_mask(const char *s)
{
    json_t *a = json_array();
    while (s && *s) {
        size_t n = strcspn(s, ",");
        char *p = xmalloc(n + 1);
        memcpy(p, s, n);
        p[n] = 0;
        char *b = p, *e = p + n;
        while (*b == ' ') b++;
        while (e > b && e[-1] == ' ') *--e = 0;
        if (*b) json_array_append_new(a, json_string(b));
        free(p);
        s += n;
        if (*s == ',') s++;
    }
    return a;
}

void tokens_route(conn_t *c, req_t *r, const char *ver)
{
    if (strcmp(ver, "v1alpha") != 0 || r->method != HTTP_POST) {
        /* auth_tokens exists on v1alpha only */
        char msg[200];
        snprintf(msg, sizeof msg, "The requested URL /%s/auth_tokens was not found on this server.", ver);
        api_error(c, r, 404, msg);
        return;
    }
    json_t *e = api_check_key(r);
    if (e) { api_send(c, r, e, 0); return; }
    char *key = api_key_of(r);
    bool token_key = key && !strncmp(key, "auth_tokens/", 12);
    free(key);
    if (token_key) {
        api_error(c, r, 401, "An ephemeral token cannot create tokens: use an API key.");
        return;
    }
    json_t *b = api_body(c, r);
    if (!b) return;
    double now = api_now();
    token_t *t = xcalloc(1, sizeof *t);
    json_t *uses = jget(b, "uses");
    t->uses_left = uses ? (long)json_integer_value(uses) : 1;
    const char *exp = jstr(b, "expireTime");
    const char *nse = jstr(b, "newSessionExpireTime");
    t->expire_t = exp ? api_parse_time(exp) : now + 30 * 60;
    t->new_session_t = nse ? api_parse_time(nse) : now + 60;
    const char *bad = NULL;
    if (uses && (!json_is_integer(uses) || json_integer_value(uses) < 0)) bad = "uses must be a non-negative integer.";
    else if (t->expire_t < 0) bad = "expireTime is not a valid RFC 3339 timestamp.";
    else if (t->new_session_t < 0) bad = "newSessionExpireTime is not a valid RFC 3339 timestamp.";
    else if (t->expire_t > now + 20 * 3600) bad = "expireTime must be within 20 hours.";
    else if (t->new_session_t > t->expire_t) bad = "newSessionExpireTime must not be after expireTime.";
    json_t *setup = jget(b, "bidiGenerateContentSetup");
    if (!bad && setup && !json_is_object(setup)) bad = "bidiGenerateContentSetup must be an object.";
    json_t *fm = jget(b, "fieldMask");
    if (!bad && fm && !json_is_string(fm)) bad = "fieldMask must be a string of comma-separated paths.";
    if (bad) {
        free(t);
        json_decref(b);
        api_error(c, r, 400, bad);
        return;
    }
    if (t->uses_left == 0) t->uses_left = 1; /* 0 means the default */
    t->setup = setup ? json_deep_copy(setup) : NULL;
    t->mask = fm ? split_mask(json_string_value(fm)) : NULL;
    char id[24];
    api_new_id(id, sizeof id, "token");
    snprintf(t->name, sizeof t->name, "auth_tokens/%s%s", id, id);
    t->next = g_tokens;
    g_tokens = t;
    json_decref(b);
    LOG("tokens: %s, %ld use(s)", t->name, t->uses_left);
    api_send(c, r, json_pack("{s:s}", "name", t->name), 200);
}

/* setup[path] = token[path] ("a.b" paths; absent in the token: removed) */
static void lock_path(json_t *setup, json_t *tok, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot) {
        json_t *v = json_object_get(tok, path);
        if (v) json_object_set(setup, path, v);
        else json_object_del(setup, path);
        return;
    }
    char head[128];
    snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
    json_t *ts = json_object_get(tok, head);
    json_t *ss = json_object_get(setup, head);
    if (!json_is_object(ss)) {
        if (!json_is_object(ts)) return;
        ss = json_object();
        json_object_set_new(setup, head, ss);
    }
    lock_path(ss, json_is_object(ts) ? ts : NULL, dot + 1);
}

int tokens_live_setup(const char *key, bool constrained, json_t *setup, bool resuming, char *why, size_t wn)
{
    bool is_token = key && !strncmp(key, "auth_tokens/", 12);
    if (!constrained) {
        if (!is_token) return 0;
        snprintf(why, wn, "API key not valid. Please pass a valid API key. (An ephemeral token is accepted by "
                 "the v1alpha BidiGenerateContentConstrained method only.)");
        return 1007;
    }
    if (!is_token) return 0; /* an API key on the Constrained method: the setup is the client's */
    token_t *t = find(key);
    double now = api_now();
    if (!t) { snprintf(why, wn, "The auth token is not valid."); return 1007; }
    if (now > t->expire_t) { snprintf(why, wn, "The auth token has expired."); return 1007; }
    if (!resuming) {
        if (now > t->new_session_t) {
            snprintf(why, wn, "The auth token can no longer start new sessions (newSessionExpireTime has passed).");
            return 1007;
        }
        if (t->uses_left <= 0) { snprintf(why, wn, "The auth token has been used up (no uses left)."); return 1007; }
        t->uses_left--;
        t->sessions++;
    }
    if (t->setup && json_is_object(setup)) {
        if (!t->mask) {
            const char *k;
            json_t *v;
            json_object_foreach(t->setup, k, v) json_object_set(setup, k, v);
        } else {
            size_t i;
            json_t *p;
            json_array_foreach(t->mask, i, p) lock_path(setup, t->setup, json_string_value(p));
            /* the token's other fields are defaults the client may change */
            const char *k;
            json_t *v;
            json_object_foreach(t->setup, k, v)
                if (!json_object_get(setup, k)) json_object_set(setup, k, v);
        }
    }
    return 0;
}
