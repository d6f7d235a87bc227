/* The Batch API (docs/protocol.md#batch-api): POST
 * models/{m}:batchGenerateContent with inline requests
 * (batch.inputConfig.requests.requests[] = {request, metadata.key}) or a JSONL
 * file from the Files API (batch.inputConfig.fileName; lines {"key",
 * "request"}); batches/{id} get, list, :cancel, delete. A job is an
 * operation: {name, metadata: {"@type", model, displayName, state, batchStats,
 * createTime, updateTime, endTime, output}, done, response}. Its output is
 * metadata.output.inlinedResponses.inlinedResponses[] for inline input, or
 * metadata.output.responsesFile (a generated JSONL file) for file input; each
 * entry a response or an error, with its key.
 *
 * Time is counted in gets, so tests need no clocks: a job is PENDING, RUNNING
 * at the first get, SUCCEEDED at the second. Faults by words in the display
 * name (README "Batch API"): "stuck" stays PENDING for ever; "half" answers
 * half of the requests, then stays RUNNING (a cancel keeps that half in the
 * output); "fail-job" ends FAILED. A request whose text holds "batch-error"
 * gets an error entry of its own. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B_PENDING, B_RUNNING, B_SUCCEEDED, B_FAILED, B_CANCELLED, B_EXPIRED };
static const char *state_names[] = {"BATCH_STATE_PENDING", "BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED",
                                    "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED"};

typedef struct job {
    struct job *next;
    char id[24];
    char *model, *display_name;
    bool embed;             /* asyncBatchEmbedContent */
    bool from_file;
    json_t *items;          /* [{key, request}] (key may be null) */
    json_t *results;        /* [{response|error, metadata.key}] computed once */
    size_t done;            /* results delivered so far */
    int state, gets;
    bool stuck, half, fail;
    double create_t, update_t, end_t;
    char *responses_file;   /* "files/..." once written */
    bool deleted;
} job_t;

static job_t *g_jobs;

static job_t *find(const char *id)
{
    for (job_t *j = g_jobs; j; j = j->next)
        if (!j->deleted && !strcmp(j->id, id)) return j;
    return NULL;
}

static bool terminal(int s) { return s >= B_SUCCEEDED; }

/* A GenerateContentResponse for one request: glmock's echo of the last user
 * text; or an error entry. */
static json_t *answer(job_t *j, json_t *request)
{
    json_t *contents = jget(request, "contents");
    if (j->embed) {
        json_t *content = jget(request, "content");
        if (!content) return json_pack("{s:{s:i, s:s}}", "error", "code", 400, "message", "content is required.");
        bool fr;
        json_t *one = json_pack("[O]", content);
        char *text = last_user_text(one, &fr, NULL);
        json_decref(one);
        json_t *vals = json_array();
        uint64_t h = fnv1a(text, strlen(text), 0);
        json_int_t dim = json_integer_value(jget(request, "outputDimensionality"));
        if (dim <= 0 || dim > 3072) dim = 3072;
        for (json_int_t i = 0; i < dim; i++) {
            h = fnv1a(&i, sizeof i, h);
            json_array_append_new(vals, json_real(((double)(h % 20001) - 10000.0) / 1e6));
        }
        free(text);
        return json_pack("{s:{s:{s:o}}}", "response", "embedding", "values", vals);
    }
    if (!json_is_array(contents) || !json_array_size(contents))
        return json_pack("{s:{s:i, s:s}}", "error", "code", 400, "message",
                         "* GenerateContentRequest.contents: contents is not specified\n");
    bool fr;
    char *text = last_user_text(contents, &fr, NULL);
    if (contains(text, "batch-error")) {
        free(text);
        return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", 400, "message", "Request contains an invalid argument.",
                         "status", "INVALID_ARGUMENT");
    }
    buf_t b = {0};
    buf_adds(&b, "echo: ");
    buf_adds(&b, text);
    int ptok = content_tokens(contents) + instruction_tokens(jget(request, "systemInstruction"));
    int ctok = (int)count_words(b.p);
    json_t *resp = json_pack("{s:[{s:{s:[{s:s}], s:s}, s:s, s:i}], s:{s:i, s:i, s:i}, s:s}",
        "candidates", "content", "parts", "text", b.p, "role", "model", "finishReason", "STOP", "index", 0,
        "usageMetadata", "promptTokenCount", ptok, "candidatesTokenCount", ctok, "totalTokenCount", ptok + ctok,
        "modelVersion", j->model + 7);
    buf_free(&b);
    free(text);
    return json_pack("{s:o}", "response", resp);
}

static void compute(job_t *j)
{
    if (j->results) return;
    j->results = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(j->items, i, it) {
        json_t *e = answer(j, jget(it, "request"));
        json_t *key = jget(it, "key");
        if (key && !json_is_null(key)) json_object_set_new(e, "metadata", json_pack("{s:O}", "key", key));
        json_array_append_new(j->results, e);
    }
}

/* The output of the results delivered so far: inline entries, or a JSONL file. */
static json_t *output(job_t *j)
{
    if (!j->done) return NULL;
    if (j->from_file) {
        if (!j->responses_file) {
            buf_t b = {0};
            for (size_t i = 0; i < j->done; i++) {
                json_t *e = json_array_get(j->results, i);
                json_t *line = json_object();
                json_t *key = json_object_get(json_object_get(e, "metadata"), "key");
                if (key) json_object_set(line, "key", key);
                if (json_object_get(e, "response")) json_object_set(line, "response", json_object_get(e, "response"));
                if (json_object_get(e, "error")) json_object_set(line, "error", json_object_get(e, "error"));
                char *s = json_compact(line);
                json_decref(line);
                buf_adds(&b, s);
                buf_adds(&b, "\n");
                free(s);
            }
            char disp[80];
            snprintf(disp, sizeof disp, "batch-%s-results", j->id);
            gfile_t *f = files_add_generated(disp, "application/jsonl", b.p ? b.p : "", b.len);
            buf_free(&b);
            char name[48];
            snprintf(name, sizeof name, "files/%s", gfile_id(f));
            j->responses_file = xstrdup(name);
        }
        return json_pack("{s:s}", "responsesFile", j->responses_file);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < j->done; i++) json_array_append(arr, json_array_get(j->results, i));
    const char *field = j->embed ? "inlinedEmbedContentResponses" : "inlinedResponses";
    return json_pack("{s:{s:o}}", field, "inlinedResponses", arr);
}

static void set_state(job_t *j, int s)
{
    j->state = s;
    j->update_t = api_now();
    if (terminal(s)) j->end_t = j->update_t;
}

/* One get: the job moves on (README "Batch API"). */
static void advance(job_t *j)
{
    if (terminal(j->state) || j->stuck) return;
    j->gets++;
    size_t n = json_array_size(j->items);
    if (j->state == B_PENDING) {
        set_state(j, B_RUNNING);
        if (j->half) { compute(j); j->done = n / 2; }
        return;
    }
    if (j->half) return; /* RUNNING for ever with half done */
    if (j->fail) { set_state(j, B_FAILED); return; }
    compute(j);
    j->done = n;
    set_state(j, B_SUCCEEDED);
}

static json_t *job_json(job_t *j)
{
    char name[48];
    snprintf(name, sizeof name, "batches/%s", j->id);
    size_t n = json_array_size(j->items), ok = 0, bad = 0;
    for (size_t i = 0; i < j->done; i++) {
        if (json_object_get(json_array_get(j->results, i), "error")) bad++;
        else ok++;
    }
    char sn[24], sp[24], so[24], sf[24];
    snprintf(sn, sizeof sn, "%zu", n);
    snprintf(sp, sizeof sp, "%zu", n - j->done);
    snprintf(so, sizeof so, "%zu", ok);
    snprintf(sf, sizeof sf, "%zu", bad);
    json_t *md = json_object();
    json_object_set_new(md, "@type", json_string(j->embed ? "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch"
                                                          : "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"));
    json_object_set_new(md, "model", json_string(j->model));
    if (j->display_name) json_object_set_new(md, "displayName", json_string(j->display_name));
    json_object_set_new(md, "createTime", api_time_json(j->create_t));
    json_object_set_new(md, "updateTime", api_time_json(j->update_t));
    if (terminal(j->state)) json_object_set_new(md, "endTime", api_time_json(j->end_t));
    json_object_set_new(md, "batchStats", json_pack("{s:s, s:s, s:s, s:s}", "requestCount", sn,
        "pendingRequestCount", sp, "successfulRequestCount", so, "failedRequestCount", sf));
    json_object_set_new(md, "state", json_string(state_names[j->state]));
    json_object_set_new(md, "name", json_string(name));
    json_t *out = output(j);
    if (out) json_object_set(md, "output", out);
    json_t *op = json_pack("{s:s, s:o}", "name", name, "metadata", md);
    if (terminal(j->state)) {
        json_object_set_new(op, "done", json_true());
        if (j->state == B_FAILED) {
            json_object_set_new(op, "error", json_pack("{s:i, s:s}", "code", 13, "message", "The batch failed."));
        } else if (out) {
            json_t *resp = json_deep_copy(out);
            json_object_set_new(resp, "@type", json_string("type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"));
            json_object_set_new(op, "response", resp);
        }
    }
    json_decref(out);
    return op;
}

/* JSONL lines {"key", "request"} of an uploaded file -> items, or NULL with *why. */
static json_t *items_from_file(const char *name, const char **why)
{
    gfile_t *f = files_find(name);
    if (!f) { *why = "The input file does not exist (or you have no permission to read it)."; return NULL; }
    const buf_t *c = files_content(f);
    if (!c) { *why = "The input file is too large for glmock."; return NULL; }
    json_t *items = json_array();
    size_t start = 0;
    for (size_t i = 0; i <= c->len; i++) {
        if (i < c->len && c->p[i] != '\n') continue;
        size_t n = i - start;
        const char *line = c->p + start;
        start = i + 1;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ')) n--;
        if (!n) continue;
        json_error_t je;
        json_t *l = json_loadb(line, n, 0, &je);
        if (!json_is_object(l)) {
            /* a line that is not a request gets an error entry of its own */
            json_decref(l);
            l = json_pack("{s:n, s:{}}", "key", "request");
        }
        json_array_append_new(items, json_pack("{s:O, s:O}", "key", jget(l, "key") ? jget(l, "key") : json_null(),
                                               "request", jget(l, "request") ? jget(l, "request") : json_object()));
        json_decref(l);
    }
    return items;
}

void batches_create(conn_t *c, req_t *r, const char *ver, const char *model, bool embed)
{
    (void)ver;
    json_t *e = api_check_key(r);
    if (e) { api_send(c, r, e, 0); return; }
    if (r->method != HTTP_POST) { api_error(c, r, 404, "The requested URL was not found on this server."); return; }
    if (contains(model, "nonexistent")) {
        api_send(c, r, err_not_found_model(model, ver, "batchGenerateContent"), 0);
        return;
    }
    json_t *b = api_body(c, r);
    if (!b) return;
    json_t *batch = jget(b, "batch");
    json_t *in = jget(batch, "inputConfig");
    json_t *reqs = jget(jget(in, "requests"), "requests");
    const char *fname = jstr(in, "fileName");
    const char *why = NULL;
    json_t *items = NULL;
    if (!json_is_object(batch)) why = "batch is required.";
    else if (fname && reqs) why = "Only one of input_config.file_name and input_config.requests may be set.";
    else if (fname) items = items_from_file(fname, &why);
    else if (json_is_array(reqs) && json_array_size(reqs)) {
        items = json_array();
        size_t i;
        json_t *it;
        json_array_foreach(reqs, i, it)
            json_array_append_new(items, json_pack("{s:O, s:O}", "key",
                jget(jget(it, "metadata"), "key") ? jget(jget(it, "metadata"), "key") : json_null(),
                "request", jget(it, "request") ? jget(it, "request") : json_object()));
    } else why = "input_config is required: file_name or requests.";
    if (why) {
        json_decref(items);
        json_decref(b);
        api_error(c, r, 400, why);
        return;
    }
    job_t *j = xcalloc(1, sizeof *j);
    api_new_id(j->id, sizeof j->id, "batch");
    char m[200];
    snprintf(m, sizeof m, "models/%s", model);
    j->model = xstrdup(m);
    const char *dn = jstr(batch, "displayName");
    j->display_name = dn ? xstrdup(dn) : NULL;
    j->embed = embed;
    j->from_file = fname != NULL;
    j->items = items;
    j->stuck = dn && contains(dn, "stuck");
    j->half = dn && contains(dn, "half");
    j->fail = dn && contains(dn, "fail-job");
    j->create_t = j->update_t = api_now();
    j->next = g_jobs;
    g_jobs = j;
    json_decref(b);
    LOG("batches: %s, %zu request(s)%s", j->id, json_array_size(items), j->from_file ? " from a file" : "");
    api_send(c, r, job_json(j), 200);
}

static void list(conn_t *c, req_t *r)
{
    long off, size;
    api_page_args(r, 50, 1000, 50, &off, &size);
    json_t *arr = json_array();
    long total = 0;
    for (job_t *j = g_jobs; j; j = j->next) {
        if (j->deleted) continue;
        if (total >= off && total < off + size) json_array_append_new(arr, job_json(j));
        total++;
    }
    api_send_page(c, r, arr, "operations", off, size, total);
}

void batches_route(conn_t *c, req_t *r, const char *ver, const char *rest)
{
    (void)ver;
    json_t *e = api_check_key(r);
    if (e) { api_send(c, r, e, 0); return; }
    if (!strcmp(rest, "batches")) {
        if (r->method == HTTP_GET) list(c, r);
        else api_error(c, r, 404, "The requested URL was not found on this server.");
        return;
    }
    const char *id = rest + 8;
    const char *colon = strchr(id, ':');
    char idb[64];
    snprintf(idb, sizeof idb, "%.*s", (int)(colon ? (size_t)(colon - id) : strlen(id)), id);
    job_t *j = find(idb);
    if (!j) {
        char msg[200];
        snprintf(msg, sizeof msg, "Batch batches/%.60s not found.", idb);
        api_error(c, r, 404, msg);
        return;
    }
    if (colon) {
        if (strcmp(colon, ":cancel") != 0 || r->method != HTTP_POST) {
            api_error(c, r, 404, "The requested URL was not found on this server.");
            return;
        }
        if (!terminal(j->state)) set_state(j, B_CANCELLED);
        api_send(c, r, json_object(), 200);
        return;
    }
    if (r->method == HTTP_GET) {
        advance(j);
        api_send(c, r, job_json(j), 200);
    } else if (r->method == HTTP_DELETE) {
        j->deleted = true;
        api_send(c, r, json_object(), 200);
    } else {
        api_error(c, r, 404, "The requested URL was not found on this server.");
    }
}
