/* glmock — offline fake of Google's Gemini API (REST + SSE + Live WebSocket).
 * Shared types. One libuv loop, one thread; every connection is a conn_t. */
#ifndef GLMOCK_H
#define GLMOCK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* strcasecmp, gmtime_r, clock_gettime, M_PI under -std=c11 */
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <http_parser.h>
#include <jansson.h>

#define GLMOCK_MAX_BODY   (64u << 20)   /* request bodies above this -> 413 */
#define GLMOCK_MAX_WSMSG  (64u << 20)   /* client WebSocket messages above this -> close 1009 */
#define GLMOCK_MAX_QUEUED 16            /* pipelined requests parsed ahead */

/* ------------------------------------------------------------------ buf.c */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

void buf_add(buf_t *b, const void *p, size_t n);
void buf_adds(buf_t *b, const char *s);
void buf_addf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(buf_t *b, size_t n);
void buf_free(buf_t *b);
char *buf_cstr(buf_t *b);           /* NUL-terminated view (does not change len) */

char *b64_encode(const unsigned char *p, size_t n);                /* malloc'd */
unsigned char *b64_decode(const char *s, size_t *outlen);         /* malloc'd, NULL on error */
size_t count_words(const char *s);
bool utf8_valid(const char *s, size_t n);
bool contains(const char *hay, const char *needle);
char *xstrdup(const char *s);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
uint64_t fnv1a(const void *p, size_t n, uint64_t h);
char *url_decode(const char *s, size_t n);                         /* malloc'd */
char *query_get(const char *query, const char *name);              /* malloc'd or NULL */

/* ------------------------------------------------------------------ jsonu.c */
json_t *jget(json_t *obj, const char *camel);  /* camelCase or snake_case member */
const char *jstr(json_t *obj, const char *camel);
bool jtrue(json_t *obj, const char *camel);
char *json_pretty(json_t *j);      /* 2-space indent + trailing "\n"; malloc'd */
char *json_line(json_t *j);        /* one line; malloc'd */
char *json_compact(json_t *j);     /* no spaces; malloc'd */

/* ------------------------------------------------------------------ main.c */
typedef struct {
    const char *host;
    int port;
    bool text_frames;
    double lifetime;        /* seconds, 0 = unlimited */
    unsigned chunk_delay_ms;
    bool verbose;
    bool exit_on_stdin_eof;
    double date_offset;     /* seconds added to the Date header (a skewed server clock) */
} options_t;

extern options_t g_opt;
extern uv_loop_t *g_loop;
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define LOG(...) do { if (g_opt.verbose) logf_(__VA_ARGS__); } while (0)

/* ------------------------------------------------------------------ scenario.c (types) */
/* A scripted fault from a scenario rule (README "Scenarios"). */
typedef struct {
    int status;             /* rest / live_handshake: HTTP error status, 0 = none */
    bool retry_info;        /* 429: send RetryInfo (retry_delay) */
    char retry_delay[32];   /* 429: RetryInfo.retryDelay, e.g. "1.5s" */
    char quota_id[128];     /* 429: QuotaFailure quotaId */
    int cut_after;          /* rest streams: N good events then a cut; -1 = none */
    int midstream_error;    /* rest streams: status of the error after `after_events` events; 0 = none */
    int after_events;
    unsigned delay_ms;      /* rest: wait before answering */
    int close_code;         /* live_setup / live_turn: close frame code, 0 = none */
    bool has_reason;
    char reason[512];
    bool drop;              /* live_turn: TCP drop, no close frame */
    int after_chunks;       /* live_turn: reply chunks sent before close/drop */
    char go_away[32];       /* live_turn: goAway timeLeft, "" = none */
    unsigned go_away_ms;
    int rule;               /* index of the rule that fired */
} scen_fault_t;

/* ------------------------------------------------------------------ conn.c */
typedef struct req {
    struct req *next;
    int method;                 /* enum http_method */
    char *url;
    char *path;                 /* decoded, '//' collapsed */
    char *query;                /* raw, without '?', or "" */
    char *api_key;              /* x-goog-api-key header */
    char *authorization;        /* Authorization header (Vertex: "Bearer <token>") */
    char *content_type;
    char *upgrade, *connection, *ws_key, *ws_version;
    buf_t body;
    bool keep_alive;
    bool is_upgrade;
    bool too_large;
    bool expect_continue;
    json_t *headers;            /* all headers, kept only for /glmock/ test endpoints */
} req_t;

/* A paced output queue: REST streams and Live turns are rendered into items
 * up front and written one by one, honouring per-item delays. */
enum item_kind {
    IT_DATA,            /* write bytes */
    IT_END,             /* HTTP response done: next request (or close if !keep_alive) */
    IT_END_CLOSE,       /* flush, then graceful close */
    IT_ABORT,           /* flush, then close the TCP socket (no terminator, no close frame) */
    IT_WS_CLOSE,        /* data = close frame; marks close sent, then closes after reply/timeout */
    IT_TURN_END,        /* marker: Live turn fully written */
    IT_CALL,            /* call fn(conn) when reached */
};

struct conn;
typedef void (*item_fn)(struct conn *c);

typedef struct item {
    struct item *next;
    int kind;
    unsigned delay_ms;
    int turn;               /* Live: turn id that owns the item, 0 = none */
    item_fn fn;
    size_t len;
    char data[];
} item_t;

struct live;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t tick;        /* pacing of the output queue */
    uv_timer_t deadline;    /* goAway close / lifetime / close handshake */
    int open_handles;
    uint64_t id;
    struct conn *prev, *next;

    http_parser parser;
    http_parser_settings *settings;
    req_t *cur;             /* request being parsed */
    buf_t hfield, hval;
    bool in_value;
    req_t *rq_head, *rq_tail;   /* complete requests waiting */
    int rq_len;
    bool busy;              /* an asynchronous response is in progress */
    bool reading;
    bool eof;               /* peer finished sending */
    bool closing;           /* uv_close started */
    bool shutting;          /* no more writes; close after flush */

    item_t *oq_head, *oq_tail;
    bool delay_done;
    bool timer_running;

    int mode;               /* 0 = HTTP, 1 = WebSocket */
    buf_t wsin;             /* raw bytes not yet parsed as frames */
    buf_t wsmsg;            /* fragmented message being reassembled */
    int wsmsg_op;
    bool ws_close_sent, ws_close_rcvd;
    struct live *live;
    uint64_t started_ms;
    bool echo;              /* /glmock/echo test endpoint */
    json_t *echo_headers;   /* upgrade request headers, for "!headers" */
    size_t echo_flood_left, echo_flood_size;
    req_t *held;            /* request waiting for a scenario delay_ms */
    scen_fault_t held_fault;
    bool sync_only;         /* dispatching synchronously: scenario delays are skipped */
} conn_t;

void conn_write(conn_t *c, const void *p, size_t n);
void conn_write_owned(conn_t *c, char *p, size_t n);   /* takes ownership of malloc'd p */
void conn_close(conn_t *c);
void conn_shutdown(conn_t *c);      /* flush pending writes, then close */
item_t *oq_push(conn_t *c, int kind, const void *p, size_t n, unsigned delay_ms);
void oq_clear_turn(conn_t *c, int turn);   /* drop unwritten items of a Live turn */
bool oq_has_turn(conn_t *c, int turn);
void oq_pump(conn_t *c);
void conn_request_done(conn_t *c);  /* async response finished; serve the next request */
void req_free(req_t *r);
int server_start(const char *host, int port, int *bound_port);
void server_stop(void);

/* ------------------------------------------------------------------ http_resp.c */
void http_respond(conn_t *c, req_t *r, int status, const char *ctype,
                  const char *body, size_t blen, const char *extra_headers);
void http_respond_json(conn_t *c, req_t *r, int status, json_t *j, const char *extra_headers);
void http_begin_chunked(conn_t *c, req_t *r, int status, const char *ctype, const char *extra);
void chunk_item(conn_t *c, const char *p, size_t n, unsigned delay_ms);  /* queue one chunk */
void chunk_end_item(conn_t *c, req_t *r);                               /* queue "0\r\n\r\n" + END */
const char *http_reason(int status);

/* ------------------------------------------------------------------ errors.c */
json_t *rpc_error(int code, const char *status, const char *message);
json_t *err_bad_key(void);
json_t *err_expired_key(void);
json_t *err_region(void);
json_t *err_no_key(void);
json_t *err_ratelimited(const char *model);
json_t *err_perday(const char *model);
json_t *err_overloaded(void);
json_t *err_internal(void);
json_t *err_not_found_model(const char *model, const char *version, const char *method);
json_t *err_bad_json(const char *detail);
json_t *err_quota(const char *model, const char *quota_id, const char *retry_delay);  /* NULL delay: no RetryInfo */
json_t *err_for_status(int status, const scen_fault_t *f, const char *model);   /* scenario error bodies */
const char *status_name(int status);

/* ------------------------------------------------------------------ catalog.c */
#define MODEL_MAX_METHODS 8
typedef struct {
    const char *id;
    const char *display;
    const char *description;
    int input_limit, output_limit;
    const char *methods[MODEL_MAX_METHODS];
    bool live;          /* serves bidiGenerateContent */
    bool live_text;     /* Live model accepts responseModalities TEXT */
    bool thinking;
    const char *version;    /* models.list "version"; NULL = "001" */
    const char *base;       /* baseModelId; NULL = id (aliases: the model they point to) */
    bool live3;             /* Gemini 3.x Live rules (README "Gemini 3.x Live sessions") */
    bool no_async_tools;    /* NON_BLOCKING function declarations -> 1008 "Operation is not implemented..." */
} model_t;

extern const model_t g_models[];
extern const size_t g_nmodels;
const model_t *catalog_find(const char *id);
const model_t *catalog_live_find(const char *id);   /* exact Live id, or Live id + "-suffix" */
bool model_supports(const model_t *m, const char *method);
json_t *model_json(const model_t *m);
json_t *model_json_generic(const char *id);

/* ------------------------------------------------------------------ reply.c */
typedef struct {
    char *text;             /* full reply text ("echo: ...") or NULL for a function call */
    char *fn_name;          /* function call */
    char *fn_location;
    int prompt_tokens;
} reply_t;

char *last_user_text(json_t *contents, bool *has_fnresp, json_t **fnresp_parts);
char *weather_location(const char *text);
char *first_function_name(json_t *tools);
int content_tokens(json_t *contents);
int instruction_tokens(json_t *si);
size_t split_chunks(const char *text, size_t **starts);   /* piece boundaries at word starts */
char *response_id(const char *model, const char *body, size_t n);

/* ------------------------------------------------------------------ rest.c / sse.c */
void rest_handle(conn_t *c, req_t *r);
bool rest_upgrade_refused(conn_t *c, req_t *r, int status, json_t *body);  /* plain HTTP error, no upgrade */
typedef struct {
    const char *model;
    const char *version;
    bool sse;
    unsigned delay_ms;
    json_t **events;     /* GenerateContentResponse objects */
    size_t nevents;
    bool cut, midstream_error, malformed, hang;
    size_t fault_at;     /* events sent before the cut / mid-stream error */
    json_t *mid_error;   /* mid-stream error body (NULL: 503 overloaded) */
} stream_plan_t;
void stream_run(conn_t *c, req_t *r, stream_plan_t *sp);

/* ------------------------------------------------------------------ oauth.c */
void oauth_token(conn_t *c, req_t *r);
json_t *vertex_check_bearer(req_t *r);      /* NULL when accepted, else an error body */
char *bearer_token(req_t *r);               /* malloc'd or NULL */
int oauth_add_public_key(const char *arg);  /* --oauth-public-key [KID=]FILE */
void oauth_set_token_lifetime(double secs); /* --token-lifetime */
void oauth_stats(conn_t *c, req_t *r);      /* GET /glmock/oauth/stats */

/* ------------------------------------------------------------------ ws.c */
enum { WS_NONE = 0, WS_GEMINI = 1, WS_VERTEX = 2, WS_ECHO = 3, WS_STALL = 4 };
int ws_path_version(const char *path, char *ver, size_t vn);
void ws_accept(conn_t *c, req_t *r, const char *version, const char *rest, size_t restn);
void ws_on_data(conn_t *c, const char *p, size_t n);
char *ws_frame(int opcode, bool fin, const void *p, size_t n, size_t *outlen);
void ws_send_msg(conn_t *c, const char *json, size_t n, unsigned delay, bool fragment, int turn);
void ws_close_now(conn_t *c, int code, const char *reason);   /* drop pending output, close */
void ws_close_queued(conn_t *c, int code, const char *reason, bool drop_pending);
void ws_on_close_handshake_done(conn_t *c);

/* ------------------------------------------------------------------ echo.c */
void echo_on_message(conn_t *c, int op, const char *p, size_t n);

/* ------------------------------------------------------------------ live.c */
struct live *live_new(conn_t *c, const char *version, const char *key, bool vertex, const char *path);
void live_free(struct live *l);
void live_on_message(conn_t *c, const char *p, size_t n);
void live_on_close(conn_t *c);
int live_handles_count(void);
void live_global_free(void);

/* ------------------------------------------------------------------ scenario.c */
enum { SC_REST = 1, SC_LIVE_HANDSHAKE = 2, SC_LIVE_SETUP = 4, SC_LIVE_TURN = 8 };
#define SCEN_MAX_RULES 1000
void scen_http(conn_t *c, req_t *r);                        /* GET/POST/DELETE /glmock/scenario */
int scen_load_file(const char *file, char *err, size_t en); /* --scenario FILE; rules added or -1 */
void scen_count(int kind);
bool scen_wants_text(int kind);      /* an active rule of this kind matches on text */
bool scen_any(int kind);             /* an active rule may match this kind */
bool scen_match(int kind, const char *model, const char *path, const char *text, bool stream, scen_fault_t *out);
bool scen_handshake(conn_t *c, req_t *r);   /* count + match an upgrade; true when a fault answered it */
void scen_free(void);

/* ------------------------------------------------------------------ api.c (Files, Batch, caches, tokens) */
bool api_route(conn_t *c, req_t *r, const char *path);     /* true when it answered */
const char *api_version_of(const char *path, const char **rest);
char *api_key_of(req_t *r);                                  /* malloc'd or NULL */
/* A list's pageSize (dflt when absent or <= 0; `over` when above max) and
 * pageToken (an offset); then the page: {field: [...], nextPageToken}. */
void api_page_args(req_t *r, long dflt, long max, long over, long *off, long *size);
void api_send_page(conn_t *c, req_t *r, json_t *arr, const char *field, long off, long size, long total);
json_t *api_check_key(req_t *r);                             /* NULL when accepted, else an error body */
void api_send(conn_t *c, req_t *r, json_t *body, int status); /* takes body; status 0: its error.code */
void api_error(conn_t *c, req_t *r, int code, const char *message);
const char *api_header(req_t *r, const char *lower_name);    /* kept for /upload/ and /glmock/ URLs */
void api_new_id(char *out, size_t n, const char *salt);
double api_now(void);
void api_time(char *out, size_t n, double t);
json_t *api_time_json(double t);
double api_parse_time(const char *s);                        /* RFC 3339 -> epoch s, -1 */
double api_parse_duration(const char *s);                    /* "300s" -> s, -1 */
json_t *api_body(conn_t *c, req_t *r);                       /* NULL after answering 400 */

/* files.c */
typedef struct gfile gfile_t;
void files_upload(conn_t *c, req_t *r, const char *ver);
void files_route(conn_t *c, req_t *r, const char *ver, const char *rest);
void files_test_generate(conn_t *c, req_t *r);               /* POST /glmock/files */
gfile_t *files_find(const char *name);
const buf_t *files_content(gfile_t *f);                      /* NULL when not kept */
gfile_t *files_add_generated(const char *display, const char *mime, const char *data, size_t n);
const char *gfile_id(gfile_t *f);
json_t *file_json(gfile_t *f);

/* batches.c */
void batches_route(conn_t *c, req_t *r, const char *ver, const char *rest);
void batches_create(conn_t *c, req_t *r, const char *ver, const char *model, bool embed);

/* caches.c */
void caches_route(conn_t *c, req_t *r, const char *ver, const char *rest);
/* generateContent with "cachedContent": NULL when fine (*tokens = the cache's
 * tokens, its contents prepended to req), else an error body. */
json_t *caches_apply(json_t *req, const char *model, int *tokens);

/* tokens.c */
void tokens_route(conn_t *c, req_t *r, const char *ver);
/* A Live setup on a connection authenticated by `key`: 0 when fine (locked
 * fields written into setup), else a close code with `why`. */
int tokens_live_setup(const char *key, bool constrained, json_t *setup, bool resuming, char *why, size_t wn);

/* schema.c (structured output) */
/* generateContent asking for JSON (responseMimeType application/json with
 * responseJsonSchema or responseSchema): a malloc'd JSON text that fits the
 * schema (or, for the faults, does not), else NULL. */
char *schema_reply(json_t *req, const char *model, const char *user_text);

#endif
