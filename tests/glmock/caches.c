/* Context caches (docs/protocol.md#context-caches): cachedContents create /
 * get / list / patch (ttl or expireTime) / delete, and generateContent with
 * "cachedContent": the cache's contents and system instruction come first,
 * usageMetadata.cachedContentTokenCount says how many tokens it held. As the
 * service: a cache below the model's minimum size is refused (1024 tokens,
 * 4096 for a "pro" model; a token is a word here), an expired or deleted
 * cache is "not found (or permission denied)", and a request that uses a
 * cache may not set systemInstruction, tools or toolConfig again. README
 * "Context caches". */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache {
    struct cache *next;
    char id[24];
    char *model;            /* "models/x" */
    char *display_name;
    json_t *contents, *system, *tools, *tool_config;
    int tokens;
    double create_t, update_t, expire_t;
} cache_t;

static cache_t *g_caches;

static int min_tokens(const char *model)
{
    return contains(model, "pro") ? 4096 : 1024;
}

static cache_t *find(const char *name)
{
    if (!name) return NULL;
    const char *p = strstr(name, "cachedContents/");
    const char *id = p ? p + 15 : name;
    double now = api_now();
    for (cache_t *c = g_caches; c; c = c->next)
        if (!strcmp(c->id, id)) return c->expire_t > now ? c : NULL;
    return NULL;
}

static json_t *not_found(void)
{
    return rpc_error(403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)");
}

static json_t *cache_json(cache_t *c)
{
    char name[48];
    snprintf(name, sizeof name, "cachedContents/%s", c->id);
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "model", json_string(c->model));
    if (c->display_name) json_object_set_new(j, "displayName", json_string(c->display_name));
    json_object_set_new(j, "createTime", api_time_json(c->create_t));
    json_object_set_new(j, "updateTime", api_time_json(c->update_t));
    json_object_set_new(j, "expireTime", api_time_json(c->expire_t));
    json_object_set_new(j, "usageMetadata", json_pack("{s:i}", "totalTokenCount", c->tokens));
    return j;
}

/* ttl or expireTime of a create / patch body: the new expiry, or -1 after
 * answering 400 (*msg set). Neither: `dflt`. */
static double expiry(json_t *b, double dflt, const char **msg)
{
    const char *ttl = jstr(b, "ttl");
    const char *exp = jstr(b, "expireTime");
    if (ttl && exp) { *msg = "Only one of ttl and expire_time may be set."; return -1; }
    if (ttl) {
        double s = api_parse_duration(ttl);
        if (s < 0) { *msg = "ttl must be a duration such as \"300s\"."; return -1; }
        return api_now() + s;
    }
    if (exp) {
        double t = api_parse_time(exp);
        if (t < 0) { *msg = "expire_time is not a valid timestamp."; return -1; }
        return t;
    }
    return dflt;
}

static void create(conn_t *c, req_t *r)
{
    json_t *b = api_body(c, r);
    if (!b) return;
    const char *model = jstr(b, "model");
    const char *msg = NULL;
    if (!model || !*model) msg = "model is required.";
    double exp = msg ? 0 : expiry(b, api_now() + 3600, &msg);
    if (!msg && exp <= api_now()) msg = "The cache's expiry is in the past.";
    json_t *contents = jget(b, "contents");
    if (!msg && contents && !json_is_array(contents)) msg = "contents must be a list.";
    if (msg) {
        json_decref(b);
        api_error(c, r, 400, msg);
        return;
    }
    const char *id = strncmp(model, "models/", 7) ? model : model + 7;
    if (contains(id, "nonexistent")) {
        json_t *e = err_not_found_model(id, "v1beta", "createCachedContent");
        json_decref(b);
        api_send(c, r, e, 0);
        return;
    }
    int tokens = content_tokens(contents) + instruction_tokens(jget(b, "systemInstruction"));
    if (tokens < min_tokens(id)) {
        char m[200];
        snprintf(m, sizeof m, "Cached content is too small. total_token_count=%d, min_total_token_count=%d",
                 tokens, min_tokens(id));
        json_decref(b);
        api_error(c, r, 400, m);
        return;
    }
    cache_t *k = xcalloc(1, sizeof *k);
    api_new_id(k->id, sizeof k->id, "cache");
    char mname[200];
    snprintf(mname, sizeof mname, "models/%s", id);
    k->model = xstrdup(mname);
    k->display_name = jstr(b, "displayName") ? xstrdup(jstr(b, "displayName")) : NULL;
    k->contents = contents ? json_deep_copy(contents) : json_array();
    k->system = jget(b, "systemInstruction") ? json_deep_copy(jget(b, "systemInstruction")) : NULL;
    k->tools = jget(b, "tools") ? json_deep_copy(jget(b, "tools")) : NULL;
    k->tool_config = jget(b, "toolConfig") ? json_deep_copy(jget(b, "toolConfig")) : NULL;
    k->tokens = tokens;
    k->create_t = k->update_t = api_now();
    k->expire_t = exp;
    k->next = g_caches;
    g_caches = k;
    json_decref(b);
    LOG("caches: %s, %d tokens", k->id, tokens);
    api_send(c, r, cache_json(k), 200);
}

static void list(conn_t *c, req_t *r)
{
    long off, size;
    api_page_args(r, 100, 1000, 100, &off, &size);
    double now = api_now();
    json_t *arr = json_array();
    long total = 0;
    for (cache_t *k = g_caches; k; k = k->next) {
        if (k->expire_t <= now) continue;
        if (total >= off && total < off + size) json_array_append_new(arr, cache_json(k));
        total++;
    }
    api_send_page(c, r, arr, "cachedContents", off, size, total);
}

void caches_route(conn_t *c, req_t *r, const char *ver, const char *rest)
{
    (void)ver;
    json_t *e = api_check_key(r);
    if (e) { api_send(c, r, e, 0); return; }
    if (!strcmp(rest, "cachedContents")) {
        if (r->method == HTTP_POST) create(c, r);
        else if (r->method == HTTP_GET) list(c, r);
        else api_error(c, r, 404, "The requested URL was not found on this server.");
        return;
    }
    const char *id = rest + 15;
    if (!*id || strchr(id, '/') || strchr(id, ':')) {
        api_error(c, r, 404, "The requested URL was not found on this server.");
        return;
    }
    cache_t *k = find(id);
    if (!k) { api_send(c, r, not_found(), 403); return; }
    if (r->method == HTTP_GET) {
        api_send(c, r, cache_json(k), 200);
    } else if (r->method == HTTP_PATCH) {
        json_t *b = api_body(c, r);
        if (!b) return;
        const char *msg = NULL;
        double exp = expiry(b, -2, &msg);
        json_decref(b);
        if (msg) { api_error(c, r, 400, msg); return; }
        if (exp == -2) { api_error(c, r, 400, "Only ttl or expire_time can be updated."); return; }
        k->expire_t = exp;
        k->update_t = api_now();
        api_send(c, r, cache_json(k), 200);
    } else if (r->method == HTTP_DELETE) {
        k->expire_t = 0; /* gone: never found again */
        api_send(c, r, json_object(), 200);
    } else {
        api_error(c, r, 404, "The requested URL was not found on this server.");
    }
}

json_t *caches_apply(json_t *req, const char *model, int *tokens)
{
    *tokens = 0;
    const char *name = jstr(req, "cachedContent");
    if (!name) return NULL;
    cache_t *k = find(name);
    if (!k) return not_found();
    const char *id = strncmp(model, "models/", 7) ? model : model + 7;
    if (strcmp(k->model + 7, id) != 0) {
        char m[400];
        snprintf(m, sizeof m, "Model used by GenerateContent request (models/%.100s) and CachedContent (%.100s) "
                 "has to be the same.", id, k->model);
        return rpc_error(400, "INVALID_ARGUMENT", m);
    }
    if (jget(req, "systemInstruction") || jget(req, "tools") || jget(req, "toolConfig"))
        return rpc_error(400, "INVALID_ARGUMENT",
                         "CachedContent can not be used with GenerateContent request setting system_instruction, "
                         "tools or tool_config.\n\nProposed fix: move those values to CachedContent from "
                         "GenerateContent request.");
    /* the model sees the cache first, then the request */
    json_t *all = json_deep_copy(k->contents);
    json_array_extend(all, jget(req, "contents"));
    json_object_set_new(req, "contents", all);
    if (k->system) json_object_set(req, "systemInstruction", k->system);
    if (k->tools) json_object_set(req, "tools", k->tools);
    *tokens = k->tokens;
    return NULL;
}
