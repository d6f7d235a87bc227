/* REST routes (docs/protocol.md#rest, #errors, #glmock-checklist): generateContent, streamGenerateContent,
 * countTokens, embedContent, batchEmbedContents, models.list, models.get, under
 * /v1, /v1beta, /v1alpha (and /proxy/... which strips the prefix and refuses
 * WebSocket upgrades). Faults are chosen by words in the model id. */
#include "glmock.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEE_MANY 5000
#define HUGE_BYTES (20u << 20)

/* The scenario fault of the request being handled (stream faults), or NULL. */
static const scen_fault_t *g_fault;

static void not_found_route(conn_t *c, req_t *r, const char *path)
{
    char msg[512];
    snprintf(msg, sizeof msg, "The requested URL %.400s was not found on this server.", path);
    json_t *e = rpc_error(404, "NOT_FOUND", msg);
    http_respond_json(c, r, 404, e, NULL);
    json_decref(e);
}

/* Pre-stream errors. For alt=sse the recorded model-not-found 404 carries
 * Content-Type text/event-stream (docs/protocol.md#error-bodies); other errors are sent as
 * application/json, which is what the official JS SDK needs to surface the
 * google.rpc.Status body (it only parses error bodies typed application/json).
 * The JSON-array stream wraps the error in a one-element array (docs/protocol.md#json-array-streaming). */
static void send_error(conn_t *c, req_t *r, json_t *e, int mode, const char *extra)
{
    int code = (int)json_integer_value(json_object_get(json_object_get(e, "error"), "code"));
    if (mode == 1 && code != 404) mode = 0;
    if (mode == 0) {
        http_respond_json(c, r, code, e, extra);
    } else {
        char *s = json_pretty(e);
        size_t n = strlen(s);
        if (n && s[n - 1] == '\n') s[--n] = 0;
        if (mode == 1) {
            http_respond(c, r, code, "text/event-stream", s, n, extra);
        } else {
            buf_t b = {0};
            buf_adds(&b, "[");
            buf_add(&b, s, n);
            buf_adds(&b, "\n]");
            http_respond(c, r, code, "application/json; charset=UTF-8", b.p, b.len, extra);
            buf_free(&b);
        }
        free(s);
    }
    json_decref(e);
}

static json_t *vertex_not_found(const char *resource)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "Publisher Model `%.600s` was not found or your project does not have access to it. "
             "Please ensure you are using a valid model version. For more information, see: "
             "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions", resource);
    return rpc_error(404, "NOT_FOUND", msg);
}

static json_t *model_fault(const char *model, const char *version, const char *method, const char *vresource)
{
    if (contains(model, "nonexistent"))
        return vresource ? vertex_not_found(vresource) : err_not_found_model(model, version, method);
    if (contains(model, "ratelimited")) return err_ratelimited(model);
    if (contains(model, "perday")) return err_perday(model);
    if (contains(model, "overloaded")) return err_overloaded();
    if (contains(model, "internal")) return err_internal();
    const model_t *m = catalog_find(model);
    if (m && !model_supports(m, method))
        return vresource ? vertex_not_found(vresource) : err_not_found_model(model, version, method);
    return NULL;
}

static const char *fault_extra_headers(const char *model)
{
    if (contains(model, "ratelimited")) return "Retry-After: 2\r\n";
    return NULL;
}

/* ------------------------------------------------------------------ replies */

typedef struct {
    char *text;          /* reply text, or NULL for a function call */
    char *fn_name, *fn_loc;
    int ptok;
    char *rid;
    bool vertex;
    const char *version; /* modelVersion: the model id, or an alias's baseModelId */
    char tier[16];       /* serviceTier asked for ("" = none): echoed in usageMetadata */
    bool longdecode;     /* answer in hops (README "Long answers") */
    size_t ld_start;     /* word where this hop starts (from continuationToken) */
    char finish[48];     /* "finish-<reason>" / "finishafter-<reason>": that finishReason */
    bool finish_after;   /* ... after the whole text (else: no content; MAX_TOKENS: half) */
} answer_t;

static void answer_free(answer_t *a)
{
    free(a->text);
    free(a->fn_name);
    free(a->fn_loc);
    free(a->rid);
}

/* ------------------------------------------------------------------ long answers */

/* "longdecode" in the model id: the answer comes in hops of LD_HOP words.
 * One chunk per word; the second word of a hop carries a checkpoint
 * continuationToken (no finishReason); the hop's last word carries
 * finishReason CONTINUATION and the token of the next hop, or STOP at the
 * end. A request with that token (top-level "continuationToken") continues
 * from there (docs/protocol.md#continuation-tokens). */
#define LD_HOP 4

static char *ld_token(size_t offset, const char *text)
{
    char raw[96];
    snprintf(raw, sizeof raw, "glmock-continuation:%zu:%08x", offset,
             (unsigned)(fnv1a(text, strlen(text), 0) & 0xffffffffu));
    return b64_encode((const unsigned char *)raw, strlen(raw));
}

/* The word offset a token names for this reply text, or -1. */
static long ld_parse(const char *tok, const char *text)
{
    size_t n;
    unsigned char *raw = b64_decode(tok, &n);
    if (!raw) return -1;
    char buf[96];
    if (n >= sizeof buf) { free(raw); return -1; }
    memcpy(buf, raw, n);
    buf[n] = 0;
    free(raw);
    unsigned long off;
    unsigned h;
    int used = 0;
    if (sscanf(buf, "glmock-continuation:%lu:%8x%n", &off, &h, &used) != 2 || (size_t)used != n) return -1;
    if (h != (unsigned)(fnv1a(text, strlen(text), 0) & 0xffffffffu)) return -1;
    return (long)off;
}

/* Word starts of text (a piece starts at the whitespace before its word),
 * starts[n] = strlen(text); returns n. */
static size_t word_starts(const char *text, size_t **starts)
{
    size_t len = strlen(text), nw = 0;
    size_t *ws = xmalloc((len + 2) * sizeof *ws);
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)text[i]) && (i == 0 || isspace((unsigned char)text[i - 1]))) {
            size_t st = i;
            while (st > 0 && isspace((unsigned char)text[st - 1])) st--;
            ws[nw] = nw == 0 ? 0 : st;
            nw++;
        }
    }
    if (nw == 0) ws[nw++] = 0;
    ws[nw] = len;
    *starts = ws;
    return nw;
}

static void set_finish(json_t *chunk, const char *reason, const char *token)
{
    json_t *cand = json_array_get(json_object_get(chunk, "candidates"), 0);
    if (reason) json_object_set_new(cand, "finishReason", json_string(reason));
    else json_object_del(cand, "finishReason");
    if (token) json_object_set_new(cand, "continuationToken", json_string(token));
}

/* finish-<reason>: a candidate without content carries the reason, with
 * the safety ratings of a block (SAFETY-like reasons) or a finishMessage
 * (refused function calls). */
static void finish_details(json_t *chunk, const char *reason)
{
    json_t *cand = json_array_get(json_object_get(chunk, "candidates"), 0);
    if (!strcmp(reason, "MALFORMED_FUNCTION_CALL") || !strcmp(reason, "UNEXPECTED_TOOL_CALL") ||
        !strcmp(reason, "TOO_MANY_TOOL_CALLS")) {
        json_object_set_new(cand, "finishMessage", json_string("Malformed function call: call:default_api."));
        return;
    }
    if (!strcmp(reason, "MAX_TOKENS") || !strcmp(reason, "STOP")) return;
    json_object_set_new(cand, "safetyRatings", json_pack("[{s:s, s:s, s:b}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
        "category", "HARM_CATEGORY_DANGEROUS_CONTENT", "probability", "HIGH", "blocked", 1,
        "category", "HARM_CATEGORY_HARASSMENT", "probability", "NEGLIGIBLE",
        "category", "HARM_CATEGORY_HATE_SPEECH", "probability", "NEGLIGIBLE",
        "category", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability", "NEGLIGIBLE"));
}

static void decide(json_t *req, const char *model, const char *body, size_t blen, answer_t *a, bool vertex)
{
    memset(a, 0, sizeof *a);
    a->vertex = vertex;
    /* an alias answers with the model it points to (its baseModelId) */
    const model_t *cm = catalog_find(model);
    a->version = cm && cm->base ? cm->base : model;
    const char *tier = jstr(req, "serviceTier");
    if (tier) snprintf(a->tier, sizeof a->tier, "%s", tier);
    a->longdecode = contains(model, "longdecode");
    const char *fin = strstr(model, "finishafter-");
    size_t skip = 12;
    if (!fin) { fin = strstr(model, "finish-"); skip = 7; }
    if (fin) {
        a->finish_after = skip == 12;
        size_t k = 0;
        for (const char *q = fin + skip; (isalpha((unsigned char)*q) || *q == '_') && k + 1 < sizeof a->finish; q++)
            a->finish[k++] = (char)toupper((unsigned char)*q);
        a->finish[k] = 0;
    }
    json_t *contents = jget(req, "contents");
    a->ptok = content_tokens(contents) + instruction_tokens(jget(req, "systemInstruction"));
    a->rid = response_id(model, body, blen);
    bool fnresp;
    json_t *frparts;
    char *text = last_user_text(contents, &fnresp, &frparts);
    buf_t b = {0};
    if (fnresp) {
        buf_adds(&b, "echo: ");
        size_t i, k = 0;
        json_t *p;
        json_array_foreach(frparts, i, p) {
            json_t *fr = jget(p, "functionResponse");
            if (!fr) continue;
            char *s = json_compact(jget(fr, "response") ? jget(fr, "response") : json_null());
            if (k++) buf_adds(&b, ", ");
            buf_adds(&b, s);
            free(s);
        }
        a->text = b.p;
    } else {
        char *fn = contains(text, "weather") ? first_function_name(jget(req, "tools")) : NULL;
        if (fn) {
            a->fn_name = fn;
            a->fn_loc = weather_location(text);
        } else {
            buf_adds(&b, "echo: ");
            buf_adds(&b, text);
            a->text = b.p;
        }
    }
    free(text);
}

static int g_cached_tokens; /* tokens of the request's context cache (caches.c) */

static json_t *usage(int ptok, int ctok, bool vertex, const char *tier)
{
    json_t *u = json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}]}",
        "promptTokenCount", ptok, "candidatesTokenCount", ctok, "totalTokenCount", ptok + ctok,
        "promptTokensDetails", "modality", "TEXT", "tokenCount", ptok);
    if (g_cached_tokens) json_object_set_new(u, "cachedContentTokenCount", json_integer(g_cached_tokens));
    if (vertex) json_object_set_new(u, "trafficType", json_string("ON_DEMAND"));
    /* the tier that served the request (python-genai UsageMetadata.service_tier) */
    if (tier && *tier) json_object_set_new(u, "serviceTier", json_string(tier));
    return u;
}

/* Vertex chunks (docs/protocol.md#vertex-rest-urls) carry createTime and trafficType, no index. */
static json_t *make_chunk(const char *model, answer_t *a, json_t *parts, bool last, int ctok)
{
    (void)model;
    json_t *cand = parts ? json_pack("{s:{s:o, s:s}}", "content", "parts", parts, "role", "model") : json_object();
    if (last) json_object_set_new(cand, "finishReason", json_string("STOP"));
    if (!a->vertex) json_object_set_new(cand, "index", json_integer(0));
    json_t *j = json_pack("{s:[o], s:o, s:s, s:s}", "candidates", cand, "usageMetadata",
                          usage(a->ptok, ctok, a->vertex, a->tier), "modelVersion", a->version, "responseId", a->rid);
    if (a->vertex) json_object_set_new(j, "createTime", json_string("2026-01-01T00:00:00.000000Z"));
    return j;
}

static json_t *text_part(const char *s, size_t n)
{
    return json_pack("{s:s%}", "text", s, n);
}

static json_t *fn_parts(answer_t *a)
{
    return json_pack("[{s:{s:s, s:{s:s}}}]", "functionCall", "name", a->fn_name, "args", "location", a->fn_loc);
}

static char *huge_text(const char *base)
{
    buf_t b = {0};
    buf_adds(&b, base);
    static const char *w[] = {" lorem", " ipsum", " dolor", " sit", " amet"};
    for (size_t i = 0; b.len < HUGE_BYTES; i++) buf_adds(&b, w[i % 5]);
    return b.p;
}

/* Events of a stream, per the reply and the model-id faults. */
/* The answers that end other than with STOP on one request (README "Long
 * answers and finish reasons"): a blocked prompt, finish-<reason>, a hop
 * of a long answer. 0 when the answer is an ordinary one. */
static size_t special_events(const char *model, answer_t *a, json_t ***out)
{
    if (contains(model, "blockprompt")) {
        json_t *j = json_pack("{s:{s:s, s:[{s:s, s:s}]}, s:o, s:s, s:s}",
            "promptFeedback", "blockReason", "SAFETY", "safetyRatings",
            "category", "HARM_CATEGORY_DANGEROUS_CONTENT", "probability", "HIGH",
            "usageMetadata", usage(a->ptok, 0, a->vertex, a->tier), "modelVersion", a->version, "responseId", a->rid);
        *out = xmalloc(sizeof(json_t *));
        (*out)[0] = j;
        return 1;
    }
    if (a->fn_name) return 0;
    size_t *ws;
    size_t nw = word_starts(a->text, &ws);
    if (a->finish[0]) {
        bool empty = strlen(a->finish) > 6 && !strcmp(a->finish + strlen(a->finish) - 6, "_EMPTY");
        if (empty) a->finish[strlen(a->finish) - 6] = 0;
        bool maxtok = !strcmp(a->finish, "MAX_TOKENS");
        size_t upto = a->finish_after ? nw : maxtok && !empty ? (nw + 1) / 2 : 0;
        size_t n = upto ? upto : 1;
        json_t **ev = xmalloc(n * sizeof *ev);
        for (size_t k = 0; k < n; k++) {
            json_t *parts = upto ? json_pack("[o]", text_part(a->text + ws[k], ws[k + 1] - ws[k])) : NULL;
            ev[k] = make_chunk(model, a, parts, false, (int)(upto ? k + 1 : 0));
        }
        set_finish(ev[n - 1], a->finish, NULL);
        if (!a->finish_after) finish_details(ev[n - 1], a->finish);
        free(ws);
        *out = ev;
        return n;
    }
    if (!a->longdecode) { free(ws); return 0; }
    size_t from = a->ld_start < nw ? a->ld_start : nw;
    size_t to = from + LD_HOP < nw ? from + LD_HOP : nw;
    size_t n = to > from ? to - from : 1;
    json_t **ev = xmalloc(n * sizeof *ev);
    for (size_t k = 0; k < n; k++) {
        size_t w = from + k;
        json_t *parts = w < nw ? json_pack("[o]", text_part(a->text + ws[w], ws[w + 1] - ws[w])) : json_array();
        ev[k] = make_chunk(model, a, parts, false, (int)(k + 1));
        if (k == n - 1) {
            char *tok = to < nw ? ld_token(to, a->text) : NULL;
            set_finish(ev[k], tok ? "CONTINUATION" : "STOP", tok);
            free(tok);
        } else if (k == 1) {
            char *tok = ld_token(w + 1, a->text);   /* a checkpoint: no finishReason */
            set_finish(ev[k], NULL, tok);
            free(tok);
        }
    }
    free(ws);
    *out = ev;
    return n;
}

/* One response from a special answer's events: their text joined, the
 * last event's finish, token and usage. */
static json_t *special_unary(json_t **ev, size_t n)
{
    json_t *resp = json_deep_copy(ev[n - 1]);
    json_t *cand = json_array_get(json_object_get(resp, "candidates"), 0);
    if (!cand || n == 1) return resp;
    buf_t b = {0};
    buf_adds(&b, "");
    for (size_t k = 0; k < n; k++) {
        json_t *c0 = json_array_get(json_object_get(ev[k], "candidates"), 0);
        json_t *p0 = json_array_get(json_object_get(json_object_get(c0, "content"), "parts"), 0);
        const char *t = jstr(p0, "text");
        if (t) buf_adds(&b, t);
    }
    json_object_set_new(cand, "content", json_pack("{s:[{s:s%}], s:s}", "parts", "text", b.p, b.len, "role", "model"));
    buf_free(&b);
    return resp;
}

static size_t build_events(const char *model, answer_t *a, json_t ***out)
{
    size_t ns = special_events(model, a, out);
    if (ns) return ns;
    if (a->fn_name) {
        *out = xmalloc(sizeof(json_t *));
        (*out)[0] = make_chunk(model, a, fn_parts(a), true, 1);
        return 1;
    }
    if (contains(model, "huge")) {
        char *t = huge_text(a->text);
        *out = xmalloc(sizeof(json_t *));
        (*out)[0] = make_chunk(model, a, json_pack("[o]", text_part(t, strlen(t))), true, (int)count_words(t));
        free(t);
        return 1;
    }
    size_t *st;
    size_t np = split_chunks(a->text, &st);
    if (contains(model, "many")) {
        /* 5000 events cycling through the pieces: the text repeated. */
        json_t **ev = xmalloc(SEE_MANY * sizeof *ev);
        int ctok = 0;
        for (size_t i = 0; i < SEE_MANY; i++) {
            size_t k = i % np;
            buf_t b = {0};
            if (k == 0 && i) buf_adds(&b, " ");
            buf_add(&b, a->text + st[k], st[k + 1] - st[k]);
            ctok += (int)count_words(b.p);
            ev[i] = make_chunk(model, a, json_pack("[o]", text_part(b.p, b.len)), i == SEE_MANY - 1, ctok);
            buf_free(&b);
        }
        free(st);
        *out = ev;
        return SEE_MANY;
    }
    json_t **ev = xmalloc(np * sizeof *ev);
    int ctok = 0;
    for (size_t k = 0; k < np; k++) {
        size_t n = st[k + 1] - st[k];
        char *piece = xmalloc(n + 1);
        memcpy(piece, a->text + st[k], n);
        piece[n] = 0;
        ctok += (int)count_words(piece);
        ev[k] = make_chunk(model, a, json_pack("[o]", text_part(piece, n)), k == np - 1, ctok);
        free(piece);
    }
    free(st);
    *out = ev;
    return np;
}

/* ------------------------------------------------------------------ handlers */

static void do_generate(conn_t *c, req_t *r, json_t *req, const char *model, const char *ver, int mode, bool vertex)
{
    if (!json_is_array(jget(req, "contents")) || json_array_size(jget(req, "contents")) == 0) {
        send_error(c, r, rpc_error(400, "INVALID_ARGUMENT",
                   "* GenerateContentRequest.contents: contents is not specified\n"), mode, NULL);
        return;
    }
    if (contains(model, "hang")) {
        LOG("conn %llu: hanging", (unsigned long long)c->id);
        return;     /* busy until the client goes away */
    }
    /* a context cache: its contents come first (caches.c); JSON replies (schema.c) */
    json_t *ce = caches_apply(req, model, &g_cached_tokens);
    if (ce) { send_error(c, r, ce, mode, NULL); return; }
    answer_t a;
    decide(req, model, r->body.p ? r->body.p : "", r->body.len, &a, vertex);
    char *sj = a.fn_name ? NULL : schema_reply(req, model, a.text);
    if (sj) { free(a.text); a.text = sj; }
    /* flex capacity shed under load (docs/protocol.md#service-tiers) */
    if (!strcmp(a.tier, "flex") && contains(model, "shedflex")) {
        send_error(c, r, err_overloaded(), mode, NULL);
        answer_free(&a);
        return;
    }
    const char *ctoken = jstr(req, "continuationToken");
    if (ctoken) {
        long off = a.longdecode && a.text ? ld_parse(ctoken, a.text) : -1;
        if (off < 0) {
            send_error(c, r, rpc_error(400, "INVALID_ARGUMENT", "Invalid continuation token."), mode, NULL);
            answer_free(&a);
            return;
        }
        a.ld_start = (size_t)off;
    }
    if (mode == 0) {
        json_t **sev;
        size_t ns = special_events(model, &a, &sev);
        if (ns) {
            json_t *resp = special_unary(sev, ns);
            http_respond_json(c, r, 200, resp, NULL);
            json_decref(resp);
            for (size_t i = 0; i < ns; i++) json_decref(sev[i]);
            free(sev);
            answer_free(&a);
            return;
        }
    }
    if (mode == 0) {
        json_t *resp;
        if (a.fn_name) {
            resp = make_chunk(model, &a, fn_parts(&a), true, 1);
        } else {
            char *t = contains(model, "huge") ? huge_text(a.text) : xstrdup(a.text);
            resp = make_chunk(model, &a, json_pack("[o]", text_part(t, strlen(t))), true, (int)count_words(t));
            free(t);
        }
        if (contains(model, "malformed")) {
            const char *bad = "{\"candidates\": [}";
            http_respond(c, r, 200, "application/json; charset=UTF-8", bad, strlen(bad), NULL);
        } else {
            http_respond_json(c, r, 200, resp, NULL);
        }
        json_decref(resp);
        answer_free(&a);
        return;
    }
    stream_plan_t sp = {0};
    sp.model = model;
    sp.version = ver;
    sp.sse = mode == 1;
    sp.delay_ms = contains(model, "slow") ? 300 : g_opt.chunk_delay_ms;
    sp.cut = contains(model, "cutstream");
    sp.midstream_error = contains(model, "midstreamerror");
    sp.malformed = contains(model, "malformed");
    sp.fault_at = 2;
    sp.nevents = build_events(model, &a, &sp.events);
    if ((sp.cut || sp.midstream_error) && sp.nevents < 3) {
        /* Guarantee "2 good events, then the fault". */
        sp.events = realloc(sp.events, 3 * sizeof *sp.events);
        while (sp.nevents < 3) sp.events[sp.nevents++] = json_incref(sp.events[0]);
    }
    if (g_fault && g_fault->cut_after >= 0) {
        /* Scenario: N good events (all of them when the reply is shorter), then the cut. */
        sp.cut = true;
        sp.midstream_error = false;
        sp.fault_at = (size_t)g_fault->cut_after;
    } else if (g_fault && g_fault->midstream_error) {
        sp.midstream_error = true;
        sp.cut = false;
        sp.fault_at = (size_t)g_fault->after_events;
        sp.mid_error = err_for_status(g_fault->midstream_error, g_fault, model);
    }
    if (sp.fault_at > sp.nevents) sp.fault_at = sp.nevents;
    stream_run(c, r, &sp);
    json_decref(sp.mid_error);
    for (size_t i = 0; i < sp.nevents; i++) json_decref(sp.events[i]);
    free(sp.events);
    answer_free(&a);
}

static void do_count(conn_t *c, req_t *r, json_t *req)
{
    json_t *g = jget(req, "generateContentRequest");
    json_t *src = g ? g : req;
    int n = content_tokens(jget(src, "contents")) + instruction_tokens(jget(src, "systemInstruction"));
    json_t *resp = json_pack("{s:i, s:[{s:s, s:i}]}", "totalTokens", n,
                             "promptTokensDetails", "modality", "TEXT", "tokenCount", n);
    http_respond_json(c, r, 200, resp, NULL);
    json_decref(resp);
}

static json_t *embedding(json_t *ereq)
{
    json_t *content = jget(ereq, "content");
    char *text = NULL;
    bool fr;
    text = last_user_text(content, &fr, NULL);
    json_int_t dim = json_integer_value(jget(ereq, "outputDimensionality"));
    if (dim <= 0 || dim > 3072) dim = 3072;
    json_t *vals = json_array();
    uint64_t h = fnv1a(text, strlen(text), 0);
    for (json_int_t i = 0; i < dim; i++) {
        h = fnv1a(&i, sizeof i, h);
        json_array_append_new(vals, json_real(((double)(h % 20001) - 10000.0) / 1e6));
    }
    free(text);
    return json_pack("{s:o}", "values", vals);
}

static void do_embed(conn_t *c, req_t *r, json_t *req, bool batch)
{
    json_t *resp;
    if (batch && json_array_size(jget(req, "requests")) > 100) { /* the service's limit (docs/protocol.md) */
        send_error(c, r, rpc_error(400, "INVALID_ARGUMENT",
                   "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n"), 0, NULL);
        return;
    }
    if (batch) {
        json_t *arr = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(jget(req, "requests"), i, e) json_array_append_new(arr, embedding(e));
        resp = json_pack("{s:o}", "embeddings", arr);
    } else {
        resp = json_pack("{s:o}", "embedding", embedding(req));
    }
    http_respond_json(c, r, 200, resp, NULL);
    json_decref(resp);
}

static void do_list(conn_t *c, req_t *r)
{
    char *ps = query_get(r->query, "pageSize");
    char *pt = query_get(r->query, "pageToken");
    long size = ps && *ps ? strtol(ps, NULL, 10) : 50;
    if (size <= 0) size = 50;
    if (size > 1000) size = 1000;
    long off = 0;
    if (pt && *pt) {
        char *end;
        off = strncmp(pt, "glmock-", 7) == 0 ? strtol(pt + 7, &end, 10) : -1;
        if (off < 0 || off > (long)g_nmodels || (off >= 0 && *end)) {
            free(ps);
            free(pt);
            json_t *e = rpc_error(400, "INVALID_ARGUMENT", "Invalid page token.");
            http_respond_json(c, r, 400, e, NULL);
            json_decref(e);
            return;
        }
    }
    free(ps);
    free(pt);
    json_t *models = json_array();
    long i;
    for (i = off; i < (long)g_nmodels && i < off + size; i++)
        json_array_append_new(models, model_json(&g_models[i]));
    json_t *resp = json_pack("{s:o}", "models", models);
    if (i < (long)g_nmodels) {
        char tok[32];
        snprintf(tok, sizeof tok, "glmock-%ld", i);
        json_object_set_new(resp, "nextPageToken", json_string(tok));
    }
    http_respond_json(c, r, 200, resp, NULL);
    json_decref(resp);
}

static void do_get_model(conn_t *c, req_t *r, const char *model, const char *ver)
{
    if (contains(model, "nonexistent")) {
        char msg[1024];
        snprintf(msg, sizeof msg, "models/%.400s is not found for API version %s, or is not supported for get. "
                 "Call ListModels to see the list of available models and their supported methods.", model, ver);
        json_t *e = rpc_error(404, "NOT_FOUND", msg);
        http_respond_json(c, r, 404, e, NULL);
        json_decref(e);
        return;
    }
    const model_t *m = catalog_find(model);
    json_t *j = m ? model_json(m) : model_json_generic(model);
    http_respond_json(c, r, 200, j, NULL);
    json_decref(j);
}

static void model_method(conn_t *c, req_t *r, const char *ver, const char *mpart, const char *colon,
                         const char *vresource);

/* Vertex AI: /{v1,v1beta1}/projects/P/locations/L/publishers/google/models/...
 * or (express mode) /{v1,v1beta1}/publishers/google/models/...; returns the
 * part after "models/" or NULL. */
static const char *vertex_route(const char *path, char *ver)
{
    static const char *vers[] = {"v1beta1", "v1"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(vers[i]);
        if (path[0] != '/' || strncmp(path + 1, vers[i], n) != 0 || path[n + 1] != '/') continue;
        const char *p = path + n + 2;
        if (!strncmp(p, "projects/", 9)) {
            const char *loc = strstr(p, "/locations/");
            if (!loc) return NULL;
            const char *pub = strchr(loc + 11, '/');
            if (!pub) return NULL;
            p = pub + 1;
        }
        if (strncmp(p, "publishers/google/models/", 25) != 0) return NULL;
        strcpy(ver, vers[i]);
        return p + 25;
    }
    return NULL;
}

static void vertex_handle(conn_t *c, req_t *r, const char *ver, const char *mpart, const char *path)
{
    const char *colon = strrchr(mpart, ':');
    if (!colon || strchr(mpart, '/') || r->method != HTTP_POST) {
        not_found_route(c, r, r->path);
        return;
    }
    /* The resource name as the service quotes it in errors. */
    size_t n = (size_t)(colon - (path + strlen(ver) + 2));
    char *res = xmalloc(n + 1);
    memcpy(res, path + strlen(ver) + 2, n);
    res[n] = 0;
    model_method(c, r, ver, mpart, colon, res);
    free(res);
}

/* An upgrade request answered with a plain HTTP error (no upgrade, connection
 * closed): `body` NULL = Google's HTML 404 page, else a google.rpc.Status. */
bool rest_upgrade_refused(conn_t *c, req_t *r, int status, json_t *body)
{
    LOG("conn %llu: upgrade refused on %s with %d", (unsigned long long)c->id, r->path, status);
    r->keep_alive = false;
    if (body) {
        http_respond_json(c, r, status, body, NULL);
        json_decref(body);
    } else {
        const char *html = "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title>"
                           "<p><b>404.</b> <ins>That's an error.</ins><p>The requested URL was not found on this server."
                           " <ins>That's all we know.</ins></html>\n";
        http_respond(c, r, status, "text/html; charset=UTF-8", html, strlen(html), NULL);
    }
    return true;
}

/* ------------------------------------------------------------------ scenarios */

/* What a REST path names: model id (malloc'd or NULL), method after ':'
 * ("" when none), API version, Vertex resource (malloc'd or NULL), stream mode. */
typedef struct {
    char *model;
    const char *method;
    char ver[16];
    char *vres;
    int mode;           /* 0 JSON, 1 SSE, 2 JSON-array stream */
} peek_t;

static const char *vertex_route(const char *path, char *ver);

static void peek_path(req_t *r, peek_t *pk)
{
    memset(pk, 0, sizeof *pk);
    pk->method = "";
    const char *path = r->path;
    if (!strncmp(path, "/proxy/", 7)) path += 6;
    const char *mpart = vertex_route(path, pk->ver);
    if (mpart) {
        const char *colon = strrchr(mpart, ':');
        const char *start = path + strlen(pk->ver) + 2;
        size_t n = colon ? (size_t)(colon - start) : strlen(start);
        pk->vres = xmalloc(n + 1);
        memcpy(pk->vres, start, n);
        pk->vres[n] = 0;
    } else {
        const char *rest;
        const char *v = api_version_of(path, &rest);
        if (!v || strncmp(rest, "/models/", 8) != 0) {
            snprintf(pk->ver, sizeof pk->ver, "%s", v ? v : "v1beta");
            return;
        }
        snprintf(pk->ver, sizeof pk->ver, "%s", v);
        mpart = rest + 8;
    }
    const char *colon = strrchr(mpart, ':');
    size_t n = colon ? (size_t)(colon - mpart) : strlen(mpart);
    pk->model = xmalloc(n + 1);
    memcpy(pk->model, mpart, n);
    pk->model[n] = 0;
    if (colon) pk->method = colon + 1;
    if (!strcmp(pk->method, "streamGenerateContent")) {
        char *alt = query_get(r->query, "alt");
        pk->mode = alt && !strcmp(alt, "sse") ? 1 : 2;
        free(alt);
    }
}

/* The last user text of a REST request body (contents, generateContentRequest
 * or an embedding's content); NULL when there is none. */
static char *request_text(req_t *r)
{
    if (!r->body.len) return NULL;
    json_t *req = json_loadb(r->body.p, r->body.len, 0, NULL);
    if (!json_is_object(req)) { json_decref(req); return NULL; }
    json_t *src = jget(req, "contents");
    if (!src) src = jget(jget(req, "generateContentRequest"), "contents");
    if (!src) src = jget(req, "content");
    char *text = NULL;
    if (src) {
        bool fr;
        text = last_user_text(src, &fr, NULL);
    }
    json_decref(req);
    return text;
}

/* A scenario status fault: the same bodies and framing as the model-id faults. */
static void scen_send_status(conn_t *c, req_t *r, const scen_fault_t *f)
{
    peek_t pk;
    peek_path(r, &pk);
    json_t *e;
    if (f->status == 404 && pk.vres) {
        e = vertex_not_found(pk.vres);
    } else if (f->status == 404 && pk.model) {
        const char *m = !strcmp(pk.method, "streamGenerateContent") ? "generateContent" : *pk.method ? pk.method : "get";
        e = err_not_found_model(pk.model, pk.ver, m);
    } else {
        e = err_for_status(f->status, f, pk.model);
    }
    char extra[64] = "";
    if (f->status == 429 && f->retry_info && !strstr(f->quota_id, "PerDay"))
        snprintf(extra, sizeof extra, "Retry-After: %.0f\r\n", ceil(strtod(f->retry_delay, NULL)));
    send_error(c, r, e, pk.mode, extra[0] ? extra : NULL);
    free(pk.model);
    free(pk.vres);
}

static void rest_route(conn_t *c, req_t *r);

/* After a scenario delay_ms: answer the held request (with the rest of its fault). */
static void rest_resume(conn_t *c)
{
    req_t *r = c->held;
    c->held = NULL;
    if (!r) return;
    scen_fault_t f = c->held_fault;
    if (f.status) {
        scen_send_status(c, r, &f);
    } else {
        g_fault = (f.cut_after >= 0 || f.midstream_error) ? &f : NULL;
        rest_route(c, r);
        g_fault = NULL;
    }
    req_free(r);
    if (!c->busy) conn_request_done(c);
}

void rest_handle(conn_t *c, req_t *r)
{
    if (!strcmp(r->path, "/glmock/scenario")) {
        scen_http(c, r);
        return;
    }
    bool test_endpoint = !strncmp(r->path, "/glmock/", 8);
    if (r->is_upgrade) {
        /* Not a Live endpoint (or behind the proxy, which has no WebSocket support). */
        if (!test_endpoint && scen_handshake(c, r)) return;
        rest_upgrade_refused(c, r, 404, NULL);
        return;
    }
    if (test_endpoint) {
        rest_route(c, r);
        return;
    }
    scen_count(SC_REST);
    scen_fault_t f;
    bool fired = false;
    if (scen_any(SC_REST)) {
        peek_t pk;
        peek_path(r, &pk);
        char *text = scen_wants_text(SC_REST) ? request_text(r) : NULL;
        fired = scen_match(SC_REST, pk.model, r->path, text, pk.mode != 0, &f);
        free(text);
        free(pk.model);
        free(pk.vres);
    }
    if (fired && f.delay_ms && !c->sync_only) {
        /* Keep the request; answer it when the delay is over. */
        c->held = r;
        c->held_fault = f;
        c->held_fault.delay_ms = 0;
        item_t *it = oq_push(c, IT_CALL, NULL, 0, f.delay_ms);
        it->fn = rest_resume;
        oq_pump(c);
        return;
    }
    if (fired && f.status) {
        scen_send_status(c, r, &f);
        return;
    }
    g_fault = fired && (f.cut_after >= 0 || f.midstream_error) ? &f : NULL;
    rest_route(c, r);
    g_fault = NULL;
}

static void rest_route(conn_t *c, req_t *r)
{
    const char *path = r->path;
    if (!strncmp(path, "/proxy/", 7)) path += 6;
    if (!strcmp(path, "/token") || !strcmp(path, "/oauth2/token") || !strcmp(path, "/o/oauth2/token") ||
        !strcmp(path, "/oauth2/v4/token")) {
        oauth_token(c, r);
        return;
    }
    if (!strcmp(path, "/glmock/oauth/stats")) {
        oauth_stats(c, r);
        return;
    }
    if (api_route(c, r, path)) return;  /* Files, Batch, caches, tokens: api.c */
    char vver[16];
    const char *vmodels = vertex_route(path, vver);
    if (vmodels) {
        vertex_handle(c, r, vver, vmodels, path);
        return;
    }
    const char *rest;
    const char *ver = api_version_of(path, &rest);
    if (!ver || strncmp(rest, "/models", 7) != 0 || (rest[7] != 0 && rest[7] != '/')) {
        not_found_route(c, r, r->path);
        return;
    }
    const char *mpart = rest[7] == '/' ? rest + 8 : NULL;
    if (!mpart || !*mpart) {
        if (r->method != HTTP_GET) { not_found_route(c, r, r->path); return; }
        json_t *e = api_check_key(r);
        if (e) { send_error(c, r, e, 0, NULL); return; }
        do_list(c, r);
        return;
    }
    const char *colon = strrchr(mpart, ':');
    if (strchr(mpart, '/')) { not_found_route(c, r, r->path); return; }
    if (!colon) {
        if (r->method != HTTP_GET) { not_found_route(c, r, r->path); return; }
        json_t *e = api_check_key(r);
        if (e) { send_error(c, r, e, 0, NULL); return; }
        do_get_model(c, r, mpart, ver);
        return;
    }
    model_method(c, r, ver, mpart, colon, NULL);
}

/* POST .../models/{m}:{method}, shared by the Gemini API and Vertex routes
 * (vresource = the Vertex publisher-model resource name, else NULL). */
static void model_method(conn_t *c, req_t *r, const char *ver, const char *mpart, const char *colon,
                         const char *vresource)
{
    bool vertex = vresource != NULL;
    char *model = xmalloc((size_t)(colon - mpart) + 1);
    memcpy(model, mpart, (size_t)(colon - mpart));
    model[colon - mpart] = 0;
    const char *method = colon + 1;
    static const char *methods[] = {"generateContent", "streamGenerateContent", "countTokens",
                                    "embedContent", "batchEmbedContents"};
    int mi = -1;
    for (int i = 0; i < 5; i++) if (!strcmp(method, methods[i])) mi = i;
    if (mi < 0 || r->method != HTTP_POST || !*model) {
        free(model);
        not_found_route(c, r, r->path);
        return;
    }
    int mode = 0;
    if (mi == 1) {
        char *alt = query_get(r->query, "alt");
        mode = alt && !strcmp(alt, "sse") ? 1 : 2;
        free(alt);
    }
    if (vertex && mi >= 3) {
        free(model);
        not_found_route(c, r, r->path);
        return;
    }
    json_t *e = vertex ? vertex_check_bearer(r) : api_check_key(r);
    if (e) { send_error(c, r, e, mode, NULL); free(model); return; }

    json_error_t jerr;
    json_t *req = r->body.len ? json_loadb(r->body.p, r->body.len, 0, &jerr) : json_object();
    if (!req || !json_is_object(req)) {
        char detail[300];
        if (req) snprintf(detail, sizeof detail, "Proto field is not repeating, cannot start list.");
        else snprintf(detail, sizeof detail, "%s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        json_decref(req);
        send_error(c, r, err_bad_json(detail), mode, NULL);
        free(model);
        return;
    }
    const char *check_method = mi == 1 ? "generateContent" : method;
    json_t *fault = model_fault(model, ver, check_method, vresource);
    if (fault) {
        send_error(c, r, fault, mode, fault_extra_headers(model));
    } else if (mi <= 1) {
        do_generate(c, r, req, model, ver, mode, vertex);
    } else if (mi == 2) {
        do_count(c, r, req);
    } else {
        do_embed(c, r, req, mi == 4);
    }
    json_decref(req);
    free(model);
}
