/* Live API sessions (BidiGenerateContent, docs/protocol.md#live): setup checks and
 * the close codes of docs/protocol.md#live-close-codes, text and audio turns, transcription, tool calls,
 * interruption, session resumption, goAway, and the per-turn faults chosen
 * by words in the user's text. Server messages are pretty JSON + "\n", one
 * per (binary) frame.
 *
 * Models flagged live3 follow the Gemini 3.x rules (docs/protocol.md,
 * "Gemini 3 Live rules"): clientContent only seeds the initial history, only
 * with setup.historyConfig.initialHistoryInClientContent, and only until a
 * clientContent with turnComplete; user text is realtimeInput.text; a
 * usage-only serverContent precedes the first model turn; several parts
 * per message. */
#include "glmock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID_ARG "Request contains an invalid argument."
#define NOT_IMPLEMENTED "Operation is not implemented, or supported, or enabled."
#define BIGFRAME_BYTES (8u << 20)

enum {
    F_DROP = 1, F_FRAGMENT = 2, F_SLOW = 4, F_BIG = 8, F_GOAWAY = 16,
};

typedef struct live {
    conn_t *c;
    char version[16];
    char *key;
    bool setup_done;
    bool vertex;            /* Vertex AI LlmBidiService dialect */
    char *model;
    const model_t *m;
    bool audio, in_tx, out_tx, resumption;
    char *fn_name;
    int next_turn;          /* turn ids tag queued messages, for interruption */
    int cur_turn;
    char *pending_id;       /* tool call awaiting its toolResponse */
    int pending_flags;
    int pending_ptok;
    int calls;
    uint64_t audio_bytes;
    int audio_rate;
    uint64_t tone_pos;
    int model_flags;        /* faults from words in the model id, applied to every turn */
    int history_tokens;     /* conversation so far, carried over by resumption */
    int turns_done;
    char *path;             /* WebSocket path (scenario match.path) */
    scen_fault_t tf;        /* scenario fault for the current turn's reply */
    bool tf_set;
    unsigned goaway_ms;     /* scenario goAway: close after this long */
    /* Gemini 3.x rules (l->m->live3) */
    bool seeding;           /* historyConfig given and no clientContent with turnComplete yet */
    bool seeded;            /* some history was seeded (replies then say "(history: N turns)") */
    int contents;           /* Content turns of the conversation so far (seeded + answered) */
    bool usage_sent;        /* the usage-only serverContent before the first model turn */
    json_t *held;           /* realtimeInput.text received while seeding: answered when it ends */
} live_t;

/* Resumption handles issued by this process: "h-<n>" -> conversation state. */
typedef struct {
    int n;
    int turns, history;
    int contents;
    bool seeded;
} handle_t;
static handle_t *g_handles;
static size_t g_nhandles, g_caphandles;
static int g_next_handle = 1;

#define MAX_HANDLES 100000

int live_handles_count(void) { return (int)g_nhandles; }

void live_global_free(void)
{
    free(g_handles);
    g_handles = NULL;
    g_nhandles = g_caphandles = 0;
}

static int handle_issue(live_t *l)
{
    if (g_nhandles == MAX_HANDLES) {     /* forget the oldest half */
        memmove(g_handles, g_handles + MAX_HANDLES / 2, (MAX_HANDLES / 2) * sizeof *g_handles);
        g_nhandles = MAX_HANDLES / 2;
    }
    if (g_nhandles == g_caphandles) {
        g_caphandles = g_caphandles ? g_caphandles * 2 : 64;
        g_handles = realloc(g_handles, g_caphandles * sizeof *g_handles);
        if (!g_handles) abort();
    }
    handle_t *h = &g_handles[g_nhandles++];
    h->n = g_next_handle++;
    h->turns = l->turns_done;
    h->history = l->history_tokens;
    h->contents = l->contents;
    h->seeded = l->seeded;
    return h->n;
}

static handle_t *handle_find(const char *s)
{
    if (strncmp(s, "h-", 2) != 0) return NULL;
    char *end;
    long n = strtol(s + 2, &end, 10);
    if (*end || n <= 0) return NULL;
    for (size_t i = 0; i < g_nhandles; i++)
        if (g_handles[i].n == n) return &g_handles[i];
    return NULL;
}

/* ------------------------------------------------------------------ sending */

static void send_json(live_t *l, json_t *j, unsigned delay, int flags, int turn)
{
    char *s = json_pretty(j);
    ws_send_msg(l->c, s, strlen(s), delay, flags & F_FRAGMENT, turn);
    free(s);
    json_decref(j);
}

static void close_with(live_t *l, int code, const char *reason)
{
    ws_close_now(l->c, code, reason);
}

static void on_goaway_close(uv_timer_t *t)
{
    conn_t *c = t->data;
    LOG("conn %llu: goAway time is up", (unsigned long long)c->id);
    ws_close_now(c, 1000, "");
}

static void start_goaway_timer(conn_t *c)
{
    uv_timer_start(&c->deadline, on_goaway_close, 2000, 0);
}

static void start_scen_goaway_timer(conn_t *c)
{
    uv_timer_start(&c->deadline, on_goaway_close, c->live ? c->live->goaway_ms : 2000, 0);
}

/* Default close reasons of scenario faults (docs/protocol.md#live-close-codes). */
static const char *scen_reason(live_t *l, const scen_fault_t *f, const char *model, char *buf, size_t n)
{
    if (f->has_reason) return f->reason;
    const char *full = model ? model : l->model ? l->model : "unknown";
    const char *id = strncmp(full, "models/", 7) == 0 ? full + 7 : full;
    switch (f->close_code) {
    case 1008:
        if (l->vertex)
            snprintf(buf, n, "Publisher Model `%.300s` was not found or your project does not have "
                     "access to it. Please ensure you are using a valid model version.", full);
        else
            snprintf(buf, n, "models/%.300s is not found for API version %s, or is not supported for "
                     "bidiGenerateContent. Call ListModels to see the list of available models and their supported "
                     "methods.", id, l->version);
        return buf;
    case 1007: return INVALID_ARG;
    case 1011: return "Internal error encountered.";
    default: return "";
    }
}

/* A scenario close or drop after the messages already queued. */
static void scen_stop(live_t *l, const scen_fault_t *f, unsigned delay, int turn)
{
    conn_t *c = l->c;
    if (f->drop) {
        LOG("conn %llu: scenario: drop", (unsigned long long)c->id);
        item_t *it = oq_push(c, IT_ABORT, NULL, 0, delay);
        it->turn = turn;
        oq_pump(c);
    } else {
        char buf[512];
        ws_close_queued(c, f->close_code, scen_reason(l, f, NULL, buf, sizeof buf), false);
    }
}

static void on_lifetime_close(uv_timer_t *t)
{
    conn_t *c = t->data;
    ws_close_now(c, 1000, "");
}

static void on_lifetime_goaway(uv_timer_t *t)
{
    conn_t *c = t->data;
    live_t *l = c->live;
    if (!l || c->ws_close_sent) return;
    double lead = g_opt.lifetime >= 4 ? 2.0 : g_opt.lifetime / 2;
    char tl[32];
    snprintf(tl, sizeof tl, "%gs", lead);
    LOG("conn %llu: lifetime reached: goAway", (unsigned long long)c->id);
    send_json(l, json_pack("{s:{s:s}}", "goAway", "timeLeft", tl), 0, 0, 0);
    oq_pump(c);
    uv_timer_start(&c->deadline, on_lifetime_close, (uint64_t)(lead * 1000), 0);
}

/* Gemini API Live says responseTokenCount; Vertex says candidatesTokenCount (docs/protocol.md#live-server-messages). */
static json_t *usage_json(int ptok, int rtok, bool audio, bool vertex)
{
    json_t *u = json_pack("{s:i, s:i, s:i, s:[{s:s, s:i}], s:[{s:s, s:i}]}",
        "promptTokenCount", ptok, vertex ? "candidatesTokenCount" : "responseTokenCount", rtok,
        "totalTokenCount", ptok + rtok,
        "promptTokensDetails", "modality", "TEXT", "tokenCount", ptok,
        vertex ? "candidatesTokensDetails" : "responseTokensDetails", "modality", audio ? "AUDIO" : "TEXT",
        "tokenCount", rtok);
    if (vertex) json_object_set_new(u, "trafficType", json_string("ON_DEMAND"));
    return u;
}

static void send_resumption_update(live_t *l, int turn)
{
    if (!l->resumption) return;
    char h[32];
    snprintf(h, sizeof h, "h-%d", handle_issue(l));
    send_json(l, json_pack("{s:{s:s, s:b}}", "sessionResumptionUpdate", "newHandle", h, "resumable", 1), 0, 0, turn);
}

/* 440 Hz, PCM16LE mono 24 kHz, 100 ms per word; phase continues across frames. */
static json_t *audio_part(live_t *l, size_t words)
{
    size_t samples = 2400 * (words ? words : 1);
    unsigned char *pcm = xmalloc(samples * 2);
    for (size_t i = 0; i < samples; i++) {
        double t = (double)(l->tone_pos++) / 24000.0;
        int16_t v = (int16_t)lrint(0.3 * 32767.0 * sin(2 * M_PI * 440.0 * t));
        pcm[2 * i] = (unsigned char)(v & 0xff);
        pcm[2 * i + 1] = (unsigned char)((uint16_t)v >> 8);
    }
    char *b64 = b64_encode(pcm, samples * 2);
    free(pcm);
    json_t *p = json_pack("{s:{s:s, s:s}}", "inlineData", "mimeType", l->vertex ? "audio/pcm" : "audio/pcm;rate=24000",
                          "data", b64);
    free(b64);
    return p;
}

/* Stream one model reply: modelTurn chunks (text, or audio + transcription),
 * generationComplete, turnComplete + usageMetadata, sessionResumptionUpdate. */
static void emit_reply(live_t *l, const char *text, int ptok, int flags)
{
    conn_t *c = l->c;
    int turn = ++l->next_turn;
    l->cur_turn = turn;
    unsigned delay = (flags & F_SLOW) ? 200 : g_opt.chunk_delay_ms;
    char *big = NULL;
    if (flags & F_BIG) {
        buf_t b = {0};
        buf_adds(&b, text);
        static const char *w[] = {" lorem", " ipsum", " dolor", " sit", " amet"};
        for (size_t i = 0; b.len < BIGFRAME_BYTES; i++) buf_adds(&b, w[i % 5]);
        big = b.p;
        text = big;
    }
    size_t *st;
    size_t np = (flags & F_BIG) ? 1 : split_chunks(text, &st);
    if (flags & F_BIG) {
        st = xmalloc(2 * sizeof *st);
        st[0] = 0;
        st[1] = strlen(text);
    }
    /* Faults that end the reply after some chunks: "drop" (1 chunk) or a scenario close/drop. */
    scen_fault_t tf = l->tf;
    bool tf_set = l->tf_set;
    l->tf_set = false;
    scen_fault_t stop = {0};
    bool stopping = false;
    size_t stop_at = 0;
    if (flags & F_DROP) { stop.drop = true; stopping = true; stop_at = 1; }
    if (tf_set && (tf.close_code || tf.drop)) { stop = tf; stopping = true; stop_at = (size_t)tf.after_chunks; }
    int rtok = 0;
    bool first = true;
    bool live3 = l->m && l->m->live3;
    if (live3 && !l->usage_sent) {
        /* 3.x: one serverContent holding only usageMetadata before the first model turn */
        l->usage_sent = true;
        send_json(l, json_pack("{s:{}, s:o}", "serverContent", "usageMetadata",
                               usage_json(l->history_tokens + ptok, 0, l->audio, l->vertex)), 0, flags, turn);
        first = false;
    }
    /* 3.x: two pieces (parts) per modelTurn message; "chunks" below are messages */
    size_t step = live3 ? 2 : 1;
    size_t nmsg = (np + step - 1) / step;
    for (size_t k = 0; k <= nmsg; k++) {
        if (stopping && (k == stop_at || k == nmsg)) {
            free(st);
            free(big);
            scen_stop(l, &stop, k ? delay : 0, turn);
            return;
        }
        if (k == nmsg) break;
        json_t *parts = json_array();
        buf_t tx = {0};
        for (size_t j = k * step; j < np && j < (k + 1) * step; j++) {
            size_t n = st[j + 1] - st[j];
            char *piece = xmalloc(n + 1);
            memcpy(piece, text + st[j], n);
            piece[n] = 0;
            size_t words = count_words(piece);
            rtok += (int)words;
            json_array_append_new(parts, l->audio ? audio_part(l, words) : json_pack("{s:s}", "text", piece));
            buf_adds(&tx, piece);
            free(piece);
        }
        json_t *mt = json_pack("{s:{s:{s:o}}}", "serverContent", "modelTurn", "parts", parts);
        if (l->vertex) json_object_set_new(json_object_get(json_object_get(mt, "serverContent"), "modelTurn"),
                                           "role", json_string("model"));
        send_json(l, mt, first ? 0 : delay, flags, turn);
        first = false;
        if (l->audio && l->out_tx)
            send_json(l, json_pack("{s:{s:{s:s}}}", "serverContent", "outputTranscription", "text", buf_cstr(&tx)),
                      0, flags, turn);
        buf_free(&tx);
    }
    free(st);
    free(big);
    send_json(l, json_pack("{s:{s:b}}", "serverContent", "generationComplete", 1), delay, flags, turn);
    int total_prompt = l->history_tokens + ptok;
    send_json(l, json_pack("{s:{s:b}, s:o}", "serverContent", "turnComplete", 1,
                           "usageMetadata", usage_json(total_prompt, rtok, l->audio, l->vertex)), 0, flags, turn);
    l->history_tokens += ptok + rtok;
    l->turns_done++;
    l->contents++;          /* the model's turn */
    send_resumption_update(l, turn);
    if (tf_set && tf.go_away[0]) {
        send_json(l, json_pack("{s:{s:s}}", "goAway", "timeLeft", tf.go_away), 0, 0, 0);
        l->goaway_ms = tf.go_away_ms;
        item_t *it = oq_push(c, IT_CALL, NULL, 0, 0);
        it->fn = start_scen_goaway_timer;
    } else if (flags & F_GOAWAY) {
        send_json(l, json_pack("{s:{s:s}}", "goAway", "timeLeft", "2s"), 0, 0, 0);
        item_t *it = oq_push(c, IT_CALL, NULL, 0, 0);
        it->fn = start_goaway_timer;
    }
    oq_pump(c);
}

/* A new turn while the previous reply is still being written: cut it. */
static void interrupt_current(live_t *l)
{
    conn_t *c = l->c;
    if (l->pending_id) {
        send_json(l, json_pack("{s:{s:[s]}}", "toolCallCancellation", "ids", l->pending_id), 0, 0, 0);
        free(l->pending_id);
        l->pending_id = NULL;
    } else if (!(l->cur_turn && oq_has_turn(c, l->cur_turn))) {
        return;
    } else {
        oq_clear_turn(c, l->cur_turn);
    }
    l->cur_turn = 0;
    send_json(l, json_pack("{s:{s:b}}", "serverContent", "interrupted", 1), 0, 0, 0);
    send_json(l, json_pack("{s:{s:b}}", "serverContent", "turnComplete", 1), 0, 0, 0);
    send_resumption_update(l, 0);
}

static void start_turn(live_t *l, const char *text, int ptok)
{
    interrupt_current(l);
    scen_count(SC_LIVE_TURN);
    l->tf_set = scen_match(SC_LIVE_TURN, l->model, l->path, text, false, &l->tf);
    if (l->tf_set && (l->tf.close_code || l->tf.drop) && l->tf.after_chunks == 0) {
        /* Before any reply (and before a tool call). */
        l->tf_set = false;
        scen_stop(l, &l->tf, 0, 0);
        return;
    }
    if (contains(text, "internal")) {
        close_with(l, 1011, "Internal error encountered.");
        return;
    }
    int before = l->contents;   /* Content turns the model sees before this input */
    l->contents++;
    int flags = l->model_flags;
    if (contains(text, "drop")) flags |= F_DROP;
    if (contains(text, "fragment")) flags |= F_FRAGMENT;
    if (contains(text, "slowframes")) flags |= F_SLOW;
    if (contains(text, "bigframe")) flags |= F_BIG;
    if (contains(text, "goaway")) flags |= F_GOAWAY;
    if (l->fn_name && contains(text, "weather")) {
        char id[48];
        snprintf(id, sizeof id, "function-call-%d", ++l->calls);
        char *loc = weather_location(text);
        send_json(l, json_pack("{s:{s:[{s:s, s:s, s:{s:s}}]}}", "toolCall", "functionCalls",
                               "id", id, "name", l->fn_name, "args", "location", loc), 0, flags, 0);
        free(loc);
        free(l->pending_id);
        l->pending_id = xstrdup(id);
        l->pending_flags = flags;
        l->pending_ptok = ptok;
        l->contents++;          /* the model's functionCall turn */
        oq_pump(l->c);
        return;
    }
    buf_t b = {0};
    buf_adds(&b, "echo: ");
    buf_adds(&b, text);
    /* 3.x with a seeded history: the reply proves what the model saw */
    if (l->m && l->m->live3 && l->seeded) buf_addf(&b, " (history: %d turns)", before);
    emit_reply(l, b.p, ptok, flags);
    buf_free(&b);
}

/* ------------------------------------------------------------------ client messages */

/* A function declared with behavior NON_BLOCKING (asynchronous function
 * calling), which 3.1 Flash Live does not offer. */
static bool has_non_blocking(json_t *tools)
{
    size_t i, k;
    json_t *t, *fd;
    json_array_foreach(tools, i, t) {
        json_t *decls = jget(t, "functionDeclarations");
        json_array_foreach(decls, k, fd) {
            const char *b = jstr(fd, "behavior");
            if (b && !strcmp(b, "NON_BLOCKING")) return true;
        }
    }
    return false;
}

static bool key_ok(live_t *l)
{
    if (!l->key || !*l->key) { close_with(l, 1007, "API Key not found. Please pass a valid API key."); return false; }
    if (!strcmp(l->key, "bad")) { close_with(l, 1007, "API key not valid. Please pass a valid API key."); return false; }
    if (!strcmp(l->key, "expired")) { close_with(l, 1007, "API key expired. Please renew the API key."); return false; }
    if (!strcmp(l->key, "unsupported-location")) { close_with(l, 1007, "User location is not supported for the API use."); return false; }
    return true;
}

static void on_setup(live_t *l, json_t *setup)
{
    scen_count(SC_LIVE_SETUP);
    scen_fault_t sf;
    const char *smodel = json_is_object(setup) ? jstr(setup, "model") : NULL;
    if (scen_match(SC_LIVE_SETUP, smodel, l->path, NULL, false, &sf) && sf.close_code) {
        char buf[512];
        close_with(l, sf.close_code, scen_reason(l, &sf, smodel, buf, sizeof buf));
        return;
    }
    if (!json_is_object(setup)) { close_with(l, 1007, INVALID_ARG); return; }
    if (!l->vertex && !key_ok(l)) return;    /* Vertex checked the bearer at the upgrade */
    if (!l->vertex) { /* ephemeral tokens: spent, and their locked fields applied (tokens.c) */
        char twhy[256];
        int tcode = tokens_live_setup(l->key, l->path && strstr(l->path, "Constrained"), setup,
                                      json_is_string(jget(jget(setup, "sessionResumption"), "handle")), twhy, sizeof twhy);
        if (tcode) { close_with(l, tcode, twhy); return; }
    }
    const char *model = jstr(setup, "model");
    if (!model || !*model) { close_with(l, 1007, INVALID_ARG); return; }
    const char *id = strncmp(model, "models/", 7) == 0 ? model + 7 : model;
    if (l->vertex) {
        const char *m = strstr(model, "models/");
        id = m ? m + 7 : model;
    }
    char reason[512];
    if (contains(id, "nonexistent") || !(contains(id, "internal") || catalog_live_find(id))) {
        if (l->vertex)
            snprintf(reason, sizeof reason, "Publisher Model `%.300s` was not found or your project does not have "
                     "access to it. Please ensure you are using a valid model version.", model);
        else
            snprintf(reason, sizeof reason, "models/%.300s is not found for API version %s, or is not supported for "
                     "bidiGenerateContent. Call ListModels to see the list of available models and their supported "
                     "methods.", id, l->version);
        close_with(l, 1008, reason);
        return;
    }
    if (contains(id, "internal")) { close_with(l, 1011, "Internal error encountered."); return; }
    l->m = catalog_live_find(id);
    l->model = xstrdup(id);
    if (contains(id, "slow")) l->model_flags |= F_SLOW;
    if (contains(id, "fragment")) l->model_flags |= F_FRAGMENT;
    json_t *gc = jget(setup, "generationConfig");
    json_t *mods = jget(gc, "responseModalities");
    bool text = false, audio = false;
    size_t i;
    json_t *v;
    json_array_foreach(mods, i, v) {
        const char *s = json_string_value(v);
        if (s && !strcasecmp(s, "TEXT")) text = true;
        else if (s && !strcasecmp(s, "AUDIO")) audio = true;
        else { close_with(l, 1007, INVALID_ARG); return; }
    }
    if (text && (audio || !l->m->live_text)) {
        snprintf(reason, sizeof reason, "The requested combination of response modalities (%s) is not supported "
                 "by the model. models/%.300s", audio ? "AUDIO, TEXT" : "TEXT", id);
        close_with(l, 1007, reason);
        return;
    }
    l->audio = audio || (!text && !l->m->live_text);
    l->in_tx = json_is_object(jget(setup, "inputAudioTranscription"));
    l->out_tx = json_is_object(jget(setup, "outputAudioTranscription"));
    l->fn_name = first_function_name(jget(setup, "tools"));
    if (l->m->no_async_tools && has_non_blocking(jget(setup, "tools"))) {
        /* a feature this model does not offer: not the "not found" 1008 */
        close_with(l, 1008, NOT_IMPLEMENTED);
        return;
    }
    if (l->m->live3)
        l->seeding = jtrue(jget(setup, "historyConfig"), "initialHistoryInClientContent");
    json_t *sr = jget(setup, "sessionResumption");
    if (json_is_object(sr)) {
        l->resumption = true;
        const char *h = jstr(sr, "handle");
        if (h && *h) {
            handle_t *rec = handle_find(h);
            if (!rec) { close_with(l, 1007, INVALID_ARG); return; }
            l->turns_done = rec->turns;
            l->history_tokens = rec->history;
            l->contents = rec->contents;
            l->seeded = rec->seeded;
            LOG("conn %llu: resumed %s (%d turns)", (unsigned long long)l->c->id, h, rec->turns);
        }
    }
    l->history_tokens += instruction_tokens(jget(setup, "systemInstruction"));
    l->setup_done = true;
    LOG("conn %llu: setup %s (%s)", (unsigned long long)l->c->id, id, l->audio ? "AUDIO" : "TEXT");
    if (l->vertex) {
        /* Vertex answers with a session id (a UUID; deterministic here). */
        uint64_t h = fnv1a(&l->c->id, sizeof l->c->id, 0);
        char sid[40];
        snprintf(sid, sizeof sid, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h >> 32), (unsigned)(h >> 16) & 0xffff,
                 (unsigned)h & 0xfff, (unsigned)(h >> 20) & 0xfff, (unsigned long long)(h * 2654435761u) & 0xffffffffffffull);
        send_json(l, json_pack("{s:{s:s}}", "setupComplete", "sessionId", sid), 0, 0, 0);
    } else {
        send_json(l, json_pack("{s:{}}", "setupComplete"), 0, 0, 0);
    }
    oq_pump(l->c);
    if (g_opt.lifetime > 0) {
        double lead = g_opt.lifetime >= 4 ? 2.0 : g_opt.lifetime / 2;
        uint64_t age = uv_now(g_loop) - l->c->started_ms;
        uint64_t at = (uint64_t)((g_opt.lifetime - lead) * 1000);
        uv_timer_start(&l->c->deadline, on_lifetime_goaway, at > age ? at - age : 0, 0);
    }
}

static void on_realtime(live_t *l, json_t *ri);

/* 3.x: clientContent only seeds the initial history (no model call), and
 * only while the window historyConfig opened is open; anything else is the
 * 1007 the real service sends, with its generic reason. */
static void on_client_content3(live_t *l, json_t *cc)
{
    if (!l->seeding) {
        LOG("conn %llu: clientContent on a 3.x Live model outside the initial history: 1007",
            (unsigned long long)l->c->id);
        close_with(l, 1007, INVALID_ARG);
        return;
    }
    json_t *turns = jget(cc, "turns");
    size_t n = json_is_array(turns) ? json_array_size(turns) : json_object_size(turns) ? 1 : 0;
    l->history_tokens += content_tokens(turns);
    l->contents += (int)n;
    if (n) l->seeded = true;
    if (!jtrue(cc, "turnComplete")) return;
    l->seeding = false;
    LOG("conn %llu: initial history seeded (%d turns)", (unsigned long long)l->c->id, l->contents);
    /* text that arrived while the window was open is answered now */
    conn_t *c = l->c;
    json_t *held = l->held;
    l->held = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(held, i, t) {
        /* a turn may close the connection (and free l) */
        if (c->closing || c->ws_close_sent || c->live != l) break;
        json_t *ri = json_pack("{s:O}", "text", t);
        on_realtime(l, ri);
        json_decref(ri);
    }
    json_decref(held);
}

static void on_client_content(live_t *l, json_t *cc)
{
    if (l->m && l->m->live3) {
        on_client_content3(l, cc);
        return;
    }
    json_t *turns = jget(cc, "turns");
    int ptok = content_tokens(turns);
    if (!jtrue(cc, "turnComplete")) {
        l->history_tokens += ptok;
        return;
    }
    bool fr;
    char *text = last_user_text(turns, &fr, NULL);
    start_turn(l, text, ptok);
    free(text);
}

static int rate_of(const char *mime)
{
    const char *r = mime ? strstr(mime, "rate=") : NULL;
    int rate = r ? atoi(r + 5) : 16000;
    return rate > 0 ? rate : 16000;
}

static void add_audio(live_t *l, json_t *blob)
{
    const char *data = jstr(blob, "data");
    if (!data) return;
    size_t n = strlen(data);
    size_t pad = (n >= 1 && data[n - 1] == '=') + (n >= 2 && data[n - 2] == '=');
    l->audio_bytes += n / 4 * 3 - pad;
    l->audio_rate = rate_of(jstr(blob, "mimeType"));
}

static void audio_turn(live_t *l)
{
    if (!l->audio_bytes) return;
    uint64_t ms = l->audio_bytes * 1000 / 2 / (uint64_t)(l->audio_rate ? l->audio_rate : 16000);
    l->audio_bytes = 0;
    char text[64];
    if (l->in_tx) {
        snprintf(text, sizeof text, "%llu ms of audio", (unsigned long long)ms);
        send_json(l, json_pack("{s:{s:{s:s}}}", "serverContent", "inputTranscription", "text", text), 0, 0, 0);
    }
    snprintf(text, sizeof text, "audio %llu ms", (unsigned long long)ms);
    start_turn(l, text, 2);
}

static void on_realtime(live_t *l, json_t *ri)
{
    json_t *v;
    if (l->seeding && jstr(ri, "text")) {
        /* the server processes the initial history first */
        if (!l->held) l->held = json_array();
        json_array_append_new(l->held, json_string(jstr(ri, "text")));
        return;
    }
    if ((v = jget(ri, "mediaChunks"))) {
        if (l->m && l->m->live3) {
            close_with(l, 1007, "realtime_input.media_chunks is deprecated. Use audio, video, or text instead.");
            return;
        }
        size_t i;
        json_t *ch;
        json_array_foreach(v, i, ch) {
            const char *mt = jstr(ch, "mimeType");
            if (!mt || !strncmp(mt, "audio/", 6)) add_audio(l, ch);
        }
    }
    if ((v = jget(ri, "audio"))) add_audio(l, v);
    if (jget(ri, "activityStart")) {
        interrupt_current(l);
        l->audio_bytes = 0;
    }
    if (jget(ri, "activityEnd") || jtrue(ri, "audioStreamEnd")) audio_turn(l);
    const char *text = jstr(ri, "text");
    if (text) start_turn(l, text, (int)count_words(text));
    oq_pump(l->c);
}

static void on_tool_response(live_t *l, json_t *tr)
{
    json_t *frs = jget(tr, "functionResponses");
    if (!l->pending_id) { LOG("conn %llu: toolResponse without a pending call", (unsigned long long)l->c->id); return; }
    buf_t b = {0};
    buf_adds(&b, "echo: ");
    size_t i, k = 0;
    json_t *fr;
    bool matched = false;
    json_array_foreach(frs, i, fr) {
        const char *id = jstr(fr, "id");
        if (id && strcmp(id, l->pending_id) != 0) continue;
        matched = true;
        json_t *resp = jget(fr, "response");
        char *s = json_compact(resp ? resp : json_null());
        if (k++) buf_adds(&b, ", ");
        buf_adds(&b, jstr(fr, "name") ? jstr(fr, "name") : "");
        buf_adds(&b, " -> ");
        buf_adds(&b, s);
        free(s);
    }
    if (!matched) {
        LOG("conn %llu: toolResponse for an unknown call id", (unsigned long long)l->c->id);
        buf_free(&b);
        return;
    }
    free(l->pending_id);
    l->pending_id = NULL;
    l->contents++;              /* the functionResponse turn */
    emit_reply(l, b.p, l->pending_ptok, l->pending_flags);
    buf_free(&b);
}

void live_on_message(conn_t *c, const char *p, size_t n)
{
    live_t *l = c->live;
    if (!l) return;
    json_error_t err;
    json_t *msg = json_loadb(p, n, 0, &err);
    if (!json_is_object(msg)) {
        json_decref(msg);
        close_with(l, 1007, INVALID_ARG);
        return;
    }
    json_t *v;
    if (!l->setup_done) {
        on_setup(l, jget(msg, "setup"));
    } else if (jget(msg, "setup")) {
        close_with(l, 1007, INVALID_ARG);
    } else if ((v = jget(msg, "clientContent"))) {
        on_client_content(l, v);
    } else if ((v = jget(msg, "realtimeInput"))) {
        on_realtime(l, v);
    } else if ((v = jget(msg, "toolResponse"))) {
        on_tool_response(l, v);
    } else {
        close_with(l, 1007, INVALID_ARG);
    }
    json_decref(msg);
}

struct live *live_new(conn_t *c, const char *version, const char *key, bool vertex, const char *path)
{
    live_t *l = xcalloc(1, sizeof *l);
    l->path = xstrdup(path ? path : "");
    l->c = c;
    l->vertex = vertex;
    snprintf(l->version, sizeof l->version, "%s", version);
    l->key = key ? xstrdup(key) : NULL;
    return l;
}

void live_on_close(conn_t *c) { (void)c; }

void live_free(struct live *l)
{
    if (!l) return;
    free(l->key);
    free(l->path);
    free(l->model);
    free(l->fn_name);
    free(l->pending_id);
    json_decref(l->held);
    free(l);
}
