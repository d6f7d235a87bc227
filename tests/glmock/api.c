/* The resource APIs beside generateContent: one router for the Files API
 * (files.c), the Batch API (batches.c), context caches (caches.c) and
 * ephemeral auth tokens (tokens.c), plus the helpers they share (key check,
 * resource ids, timestamps, JSON answers). rest.c hands every path to
 * api_route() before its own /models routes. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *api_version_of(const char *path, const char **rest)
{
    static const char *vers[] = {"v1alpha", "v1beta", "v1"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(vers[i]);
        if (path[0] == '/' && !strncmp(path + 1, vers[i], n) && (path[n + 1] == '/' || path[n + 1] == 0)) {
            *rest = path + n + 1;
            return vers[i];
        }
    }
    return NULL;
}

char *api_key_of(req_t *r)
{
    if (r->api_key) return xstrdup(r->api_key);
    return query_get(r->query, "key");
}

json_t *api_check_key(req_t *r)
{
    char *key = api_key_of(r);
    json_t *e = NULL;
    if (!key || !*key) e = err_no_key();
    else if (!strcmp(key, "bad")) e = err_bad_key();
    else if (!strcmp(key, "expired")) e = err_expired_key();
    else if (!strcmp(key, "unsupported-location")) e = err_region();
    free(key);
    return e;
}

void api_send(conn_t *c, req_t *r, json_t *e_or_body, int status)
{
    if (!status)
        status = (int)json_integer_value(json_object_get(json_object_get(e_or_body, "error"), "code"));
    http_respond_json(c, r, status ? status : 500, e_or_body, NULL);
    json_decref(e_or_body);
}

void api_error(conn_t *c, req_t *r, int code, const char *message)
{
    api_send(c, r, rpc_error(code, status_name(code), message), code);
}

void api_page_args(req_t *r, long dflt, long max, long over, long *off, long *size)
{
    char *ps = query_get(r->query, "pageSize");
    char *pt = query_get(r->query, "pageToken");
    *size = ps && *ps ? strtol(ps, NULL, 10) : dflt;
    if (*size <= 0) *size = dflt;
    if (*size > max) *size = over;
    *off = pt && *pt ? strtol(pt, NULL, 10) : 0;
    free(ps);
    free(pt);
}

void api_send_page(conn_t *c, req_t *r, json_t *arr, const char *field, long off, long size, long total)
{
    json_t *j = json_object();
    if (json_array_size(arr)) json_object_set(j, field, arr);
    json_decref(arr);
    if (off + size < total) {
        char tok[32];
        snprintf(tok, sizeof tok, "%ld", off + size);
        json_object_set_new(j, "nextPageToken", json_string(tok));
    }
    api_send(c, r, j, 200);
}

const char *api_header(req_t *r, const char *lower_name)
{
    return json_string_value(json_object_get(r->headers, lower_name));
}

/* A resource id like the service's: 12 lowercase letters and digits. */
void api_new_id(char *out, size_t n, const char *salt)
{
    static uint64_t counter;
    uint64_t h = fnv1a(salt, strlen(salt), 0xcbf29ce484222325ULL ^ ++counter);
    h = fnv1a(&counter, sizeof counter, h);
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    for (; i < 12 && i + 1 < n; i++) {
        out[i] = al[h % 36];
        h = h / 36 ^ (h << 7) ^ (counter * 0x9E3779B97F4A7C15ULL);
    }
    out[i] = 0;
}

double api_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* RFC 3339 with microseconds, as the service writes them. */
void api_time(char *out, size_t n, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06ldZ", base, (long)((t - (double)s) * 1e6));
}

json_t *api_time_json(double t)
{
    char b[48];
    api_time(b, sizeof b, t);
    return json_string(b);
}

/* "2026-11-29T10:00:00Z" / with fractions / "+01:00" -> epoch seconds; -1 if unreadable. */
double api_parse_time(const char *s)
{
    if (!s) return -1;
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    long off = 0;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%d:%d", &hh, &mm) < 1) return -1;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != 0) {
        return -1;
    }
    return (double)timegm(&tm) - (double)off + frac;
}

/* "300s", "1.5s" -> seconds; -1 if unreadable. */
double api_parse_duration(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || strcmp(end, "s") != 0) return -1;
    return v;
}

/* The request body as a JSON object, or NULL after answering 400. */
json_t *api_body(conn_t *c, req_t *r)
{
    json_error_t jerr;
    json_t *j = r->body.len ? json_loadb(r->body.p, r->body.len, 0, &jerr) : json_object();
    if (!j || !json_is_object(j)) {
        char detail[300];
        if (j) snprintf(detail, sizeof detail, "Invalid JSON payload received. Expected an object.");
        else snprintf(detail, sizeof detail, "%s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        json_decref(j);
        api_send(c, r, err_bad_json(detail), 400);
        return NULL;
    }
    return j;
}

bool api_route(conn_t *c, req_t *r, const char *path)
{
    const char *rest;
    if (!strcmp(path, "/glmock/files") && r->method == HTTP_POST) {
        files_test_generate(c, r);
        return true;
    }
    if (!strncmp(path, "/upload/", 8)) {
        const char *ver = api_version_of(path + 7, &rest);
        if (ver && !strcmp(rest, "/files")) {
            files_upload(c, r, ver);
            return true;
        }
        return false;
    }
    if (!strncmp(path, "/download/", 10)) {
        const char *ver = api_version_of(path + 9, &rest);
        if (ver && !strncmp(rest, "/files/", 7)) {
            files_route(c, r, ver, rest + 1);
            return true;
        }
        return false;
    }
    const char *ver = api_version_of(path, &rest);
    if (!ver || !*rest) return false;
    rest++; /* past '/' */
    if (!strncmp(rest, "files", 5) && (rest[5] == 0 || rest[5] == '/')) {
        files_route(c, r, ver, rest);
        return true;
    }
    if (!strncmp(rest, "batches", 7) && (rest[7] == 0 || rest[7] == '/')) {
        batches_route(c, r, ver, rest);
        return true;
    }
    if (!strncmp(rest, "cachedContents", 14) && (rest[14] == 0 || rest[14] == '/')) {
        caches_route(c, r, ver, rest);
        return true;
    }
    if (!strcmp(rest, "auth_tokens")) {
        tokens_route(c, r, ver);
        return true;
    }
    if (!strncmp(rest, "models/", 7)) {
        const char *colon = strrchr(rest, ':');
        if (colon && (!strcmp(colon, ":batchGenerateContent") || !strcmp(colon, ":asyncBatchEmbedContent"))) {
            char *model = xmalloc((size_t)(colon - rest) + 1);
            memcpy(model, rest, (size_t)(colon - rest));
            model[colon - rest] = 0;
            batches_create(c, r, ver, model + 7, !strcmp(colon, ":asyncBatchEmbedContent"));
            free(model);
            return true;
        }
    }
    return false;
}
