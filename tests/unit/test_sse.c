/*
 * test_sse.c — unit tests for runtime/sse.c.
 *
 * Each test is a function; a failed check returns from it with a message,
 * so one broken behaviour fails one test. Events are recorded as a flat
 * transcript ("E<event>|D<data>|I<id>\n", lengths implicit since the test
 * inputs are printable) so that split-position tests can compare whole
 * sequences with one memcmp.
 */
#include "../../runtime/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failed;
static char g_why[512];

#define CHECK(cond) do { if (!(cond)) { \
    snprintf(g_why, sizeof g_why, "%s:%d: %s", __FILE__, __LINE__, #cond); \
    return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (a), b_ = (b); if (a_ != b_) { \
    snprintf(g_why, sizeof g_why, "%s:%d: %s == %lld, expected %lld", \
             __FILE__, __LINE__, #a, a_, b_); return; } } while (0)
#define CHECK_MEM(p, n, s) do { size_t n_ = (n); const char *s_ = (s); \
    if (n_ != strlen(s_) || (n_ && memcmp((p), s_, n_))) { \
        snprintf(g_why, sizeof g_why, "%s:%d: %s is \"%.*s\" (%zu), expected \"%.80s\"", \
                 __FILE__, __LINE__, #p, (int)(n_ > 80 ? 80 : n_), \
                 (p) ? (const char *)(p) : "", n_, s_); return; } } while (0)

/* ---- event recorder ---------------------------------------------------- */

typedef struct rec {
    char *buf; size_t len, cap;
    int count;
    int stop_every;     /* stop after every n-th event (0 = never) */
} rec;

static void rec_put(rec *r, const char *s, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t nc = r->cap ? r->cap : 256;
        while (nc < r->len + n + 1)
            nc *= 2;
        r->buf = realloc(r->buf, nc);
        if (!r->buf)
            abort();
        r->cap = nc;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = '\0';
}

static int rec_cb(void *ud, const sse_event *ev)
{
    rec *r = ud;

    /* The contract says "" when absent: never NULL. */
    if (!ev->event || !ev->data || !ev->id)
        abort();
    rec_put(r, "E", 1); rec_put(r, ev->event, ev->event_len);
    rec_put(r, "|D", 2); rec_put(r, ev->data, ev->data_len);
    rec_put(r, "|I", 2); rec_put(r, ev->id, ev->id_len);
    rec_put(r, "\n", 1);
    r->count++;
    return r->stop_every && r->count % r->stop_every == 0;
}

static void rec_free(rec *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

static const char *rec_str(rec *r)
{
    if (!r->buf)
        rec_put(r, "", 0);
    return r->buf;
}

/* Feed one chunk, resuming after every SSE_STOPPED. */
static int feed_all(sse_parser *p, const char *s, size_t n, rec *r)
{
    for (;;) {
        size_t used = 12345;
        int rc = sse_feed(p, s, n, rec_cb, r, &used);
        if (used > n)
            return 99;          /* consumed more than given */
        if (rc != SSE_STOPPED)
            return rc;
        s += used;
        n -= used;
    }
}

/* Whole stream in pieces cut at the given offsets; returns finish rc, or
 * the first non-OK feed rc. Raw text is appended to the transcript. */
static int run_cuts(const char *s, size_t n, const size_t *cuts, int ncuts,
                    size_t max_event, int stop_every, rec *r)
{
    sse_parser p;
    size_t at = 0, rawlen;
    const char *raw;
    int i, rc = SSE_OK;

    r->stop_every = stop_every;
    sse_init(&p, max_event);
    for (i = 0; i <= ncuts && rc == SSE_OK; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        rc = feed_all(&p, s + at, end - at, r);
        at = end;
    }
    if (rc == SSE_OK)
        rc = sse_finish(&p);
    raw = sse_raw(&p, &rawlen);
    if (raw) {
        rec_put(r, "RAW:", 4);
        rec_put(r, raw, rawlen);
    }
    sse_free(&p);
    return rc;
}

static int run1(const char *s, rec *r)
{
    return run_cuts(s, strlen(s), NULL, 0, 1 << 20, 0, r);
}

/* ---- fixtures --------------------------------------------------------- */

/* docs/protocol.md#sse-streaming, byte for byte. */
static const char google_sse[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"}}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 8}]},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"WwyjaOzEJ-Cyx_APyabouQ0\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" capital of France\"}],\"role\": \"model\"}}],\"usageMetadata\": {\"promptTokenCount\": 8,\"totalTokenCount\": 8,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 8}]},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"WwyjaOzEJ-Cyx_APyabouQ0\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" is Paris.\\n\"}],\"role\": \"model\"},\"finishReason\": \"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\": 8,\"totalTokenCount\": 15,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 7}],\"candidatesTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 8}]},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"WwyjaOzEJ-Cyx_APyabouQ0\"}\r\n\r\n";

/* docs/protocol.md#mid-stream-errors (the "..." stand for the elided usageMetadata). */
static const char google_err[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Okay\"}],\"role\": \"model\"}}],\"usageMetadata\": {},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\"}],\"usageMetadata\": {},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"
    "{\r\n"
    "  \"error\": {\r\n"
    "    \"code\": 503,\r\n"
    "    \"message\": \"The model is overloaded. Please try again later.\",\r\n"
    "    \"status\": \"UNAVAILABLE\"\r\n"
    "  }\r\n"
    "}\r\n";

static const char google_err_raw[] =
    "{\n"
    "  \"error\": {\n"
    "    \"code\": 503,\n"
    "    \"message\": \"The model is overloaded. Please try again later.\",\n"
    "    \"status\": \"UNAVAILABLE\"\n"
    "  }\n"
    "}";

/* Everything at once: all line ends, comments, fields, BOM, raw text. */
static const char mixed_sse[] =
    "\xEF\xBB\xBF: hello\r"
    "event: a\n"
    "id: 1\r\n"
    "data: x\r"
    "data:y\n"
    "data\r\n"
    "\r"
    "retry: 100\n"
    "data:  two spaces\n"
    "\n"
    "\r\n"
    "event: ignored\n"
    "\n"
    "noise line\r"
    "data: z\r\n"
    "\r\n";

static const char mixed_expect[] =
    "Ea|Dx\ny\n|I1\n"
    "E|D two spaces|I1\n"
    "E|Dz|I1\n"
    "RAW:noise line";

/* ---- tests ------------------------------------------------------------ */

static void test_google_three_events(void)
{
    rec r = {0};
    int rc = run1(google_sse, &r);
    const char *s = rec_str(&r);

    CHECK_EQ_INT(rc, SSE_OK);
    CHECK_EQ_INT(r.count, 3);
    CHECK(!strncmp(s, "E|D{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}]",
                   strlen("E|D{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}]")));
    CHECK(strstr(s, "\"responseId\": \"WwyjaOzEJ-Cyx_APyabouQ0\"}|I\nE|D{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" capital of France\"}]"));
    CHECK(strstr(s, "{\"text\": \" is Paris.\\n\"}],\"role\": \"model\"},\"finishReason\": \"STOP\"}]"));
    CHECK(!strstr(s, "RAW:"));
    CHECK(!strchr(s, '\r'));
    rec_free(&r);
}

static void test_google_event_fields(void)
{
    /* Field values exactly as the callback sees them, not via rec. */
    sse_parser p;
    rec r = {0};
    size_t used;

    sse_init(&p, 1 << 20);
    CHECK_EQ_INT(sse_feed(&p, google_sse, strlen(google_sse), rec_cb, &r, &used), SSE_OK);
    CHECK_EQ_INT(used, strlen(google_sse));
    CHECK_EQ_INT(p.events, 3);
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    CHECK(sse_raw(&p, &used) == NULL);
    CHECK_EQ_INT(used, 0);
    sse_free(&p);
    rec_free(&r);
}

static void expect_stream(const char *in, const char *want, int want_rc)
{
    rec r = {0};
    int rc = run1(in, &r);

    CHECK_EQ_INT(rc, want_rc);
    CHECK_MEM(rec_str(&r), r.len, want);
    rec_free(&r);
}

#define EXPECT(in, want, rc) do { expect_stream(in, want, rc); if (g_why[0]) return; } while (0)

static void test_lf(void)    { EXPECT("data: a\n\ndata: b\n\n", "E|Da|I\nE|Db|I\n", SSE_OK); }
static void test_crlf(void)  { EXPECT("data: a\r\n\r\ndata: b\r\n\r\n", "E|Da|I\nE|Db|I\n", SSE_OK); }
static void test_cr(void)    { EXPECT("data: a\r\rdata: b\r\r", "E|Da|I\nE|Db|I\n", SSE_OK); }
static void test_mixed_endings(void)
{
    EXPECT("data: a\r\n\ndata: b\n\r\ndata: c\r\n\rdata: d\n\r", "E|Da|I\nE|Db|I\nE|Dc|I\nE|Dd|I\n", SSE_OK);
}
static void test_lf_cr_is_two_line_ends(void)
{
    /* "\n\r" is LF then CR: two line ends, so it dispatches. */
    EXPECT("data: a\n\rdata: b\n\n", "E|Da|I\nE|Db|I\n", SSE_OK);
}
static void test_mixed_everything(void) { EXPECT(mixed_sse, mixed_expect, SSE_OK); }

static void test_crlf_split_across_chunks(void)
{
    /* CR | LF inside one event: one line end, not a blank line. */
    static const char s[] = "data: a\r\ndata: b\r\n\r\n";
    size_t cut[1] = { 8 };
    rec r = {0};

    CHECK_EQ_INT(run_cuts(s, strlen(s), cut, 1, 1024, 0, &r), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da\nb|I\n");
    rec_free(&r);
}

static void test_crlf_split_at_blank_line(void)
{
    static const char s[] = "data: a\r\n\r\ndata: b\r\n\r\n";
    size_t cut[2] = { 10, 11 };   /* "...\r\n\r" | "\n" | "data: b..." */
    rec r = {0};

    CHECK_EQ_INT(run_cuts(s, strlen(s), cut, 2, 1024, 0, &r), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I\nE|Db|I\n");
    rec_free(&r);
}

static void test_cr_then_empty_feed_then_lf(void)
{
    sse_parser p;
    rec r = {0};

    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, "data: a\r", 8, rec_cb, &r, NULL), SSE_OK);
    CHECK_EQ_INT(sse_feed(&p, "", 0, rec_cb, &r, NULL), SSE_OK);
    CHECK_EQ_INT(sse_feed(&p, "\ndata: b\r\n\r\n", 12, rec_cb, &r, NULL), SSE_OK);
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da\nb|I\n");
    sse_free(&p);
    rec_free(&r);
}

/* The transcript of s fed in one piece must equal every split of it. */
static void check_all_splits(const char *s, size_t max_event)
{
    size_t n = strlen(s), i, j;
    size_t cuts[3];
    rec ref = {0};
    int ref_rc = run_cuts(s, n, NULL, 0, max_event, 0, &ref);

    for (i = 0; i <= n; i++) {
        rec r = {0};
        int rc;
        cuts[0] = i;
        rc = run_cuts(s, n, cuts, 1, max_event, 0, &r);
        if (rc != ref_rc || r.len != ref.len || memcmp(rec_str(&r), rec_str(&ref), r.len)) {
            snprintf(g_why, sizeof g_why, "2 pieces cut at %zu: rc %d vs %d, \"%.60s\" vs \"%.60s\"",
                     i, rc, ref_rc, rec_str(&r), rec_str(&ref));
            rec_free(&r); rec_free(&ref);
            return;
        }
        rec_free(&r);
        for (j = i; j <= n; j++) {
            cuts[1] = j;
            rc = run_cuts(s, n, cuts, 2, max_event, (int)(j % 3), &r);
            if (rc != ref_rc || r.len != ref.len || memcmp(rec_str(&r), rec_str(&ref), r.len)) {
                snprintf(g_why, sizeof g_why, "3 pieces cut at %zu,%zu: rc %d vs %d", i, j, rc, ref_rc);
                rec_free(&r); rec_free(&ref);
                return;
            }
            rec_free(&r);
        }
    }
    {
        /* One byte at a time, stopping after every event. */
        size_t *all = malloc((n ? n : 1) * sizeof *all);
        rec r = {0};
        int rc;
        for (i = 0; i < n; i++)
            all[i] = i + 1;
        rc = run_cuts(s, n, all, n ? (int)n - 1 : 0, max_event, 1, &r);
        free(all);
        if (rc != ref_rc || r.len != ref.len || memcmp(rec_str(&r), rec_str(&ref), r.len)) {
            snprintf(g_why, sizeof g_why, "byte at a time: rc %d vs %d", rc, ref_rc);
            rec_free(&r); rec_free(&ref);
            return;
        }
        rec_free(&r);
    }
    rec_free(&ref);
}

#define SPLITS(s, m) do { check_all_splits(s, m); if (g_why[0]) return; } while (0)

static void test_splits_google(void) { SPLITS(google_sse, 1 << 20); }
static void test_splits_mixed(void)  { SPLITS(mixed_sse, 1024); }
static void test_splits_error(void)  { SPLITS(google_err, 1 << 20); }
static void test_splits_cr_only(void)
{
    SPLITS("data: a\r\rdata: b\rdata: c\r\r:c\revent: e\rid: 7\rdata: d\r\r", 1024);
}
static void test_splits_cut(void)    { SPLITS("data: a\r\n\r\ndata: b\r\ndata: c", 1024); }
static void test_splits_too_big(void)
{
    /* Failure point must not depend on where the stream was cut. */
    SPLITS("data: a\n\ndata: 0123456789\n\ndata: 0123456789ABCDEFGHIJ\n\ndata: b\n\n", 16);
}

static void test_multiline_data(void)
{
    EXPECT("data: line1\ndata: line2\ndata: line3\n\n", "E|Dline1\nline2\nline3|I\n", SSE_OK);
}
static void test_comments(void)
{
    EXPECT(": keepalive\ndata: a\n:another\n: \n\n:only comment\n\n", "E|Da|I\n", SSE_OK);
}
static void test_event_and_id(void)
{
    EXPECT("event: update\nid: 42\ndata: x\n\n", "Eupdate|Dx|I42\n", SSE_OK);
}
static void test_event_name_per_event(void)
{
    EXPECT("event: a\ndata: 1\n\ndata: 2\n\n", "Ea|D1|I\nE|D2|I\n", SSE_OK);
}
static void test_blank_line_resets_event_name(void)
{
    EXPECT("event: a\n\ndata: 1\n\n", "E|D1|I\n", SSE_OK);
}
static void test_id_persists(void)
{
    EXPECT("id: 1\ndata: a\n\ndata: b\n\nid: 2\n\ndata: c\n\nid\ndata: d\n\n",
           "E|Da|I1\nE|Db|I1\nE|Dc|I2\nE|Dd|I\n", SSE_OK);
}
static void test_id_with_nul_ignored(void)
{
    static const char s[] = "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n";
    rec r = {0};
    CHECK_EQ_INT(run_cuts(s, sizeof s - 1, NULL, 0, 1024, 0, &r), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I1\nE|Db|I1\n");
    rec_free(&r);
}
static void test_nul_in_data(void)
{
    static const char s[] = "data: a\0b\n\n";
    sse_parser p;
    rec r = {0};
    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, s, sizeof s - 1, rec_cb, &r, NULL), SSE_OK);
    CHECK_EQ_INT(r.len, 9);
    CHECK(!memcmp(r.buf, "E|Da\0b|I\n", 9));
    sse_free(&p);
    rec_free(&r);
}
static void test_empty_data_line(void)
{
    EXPECT("data:\n\ndata\n\ndata:\ndata:\n\n", "E|D|I\nE|D|I\nE|D\n|I\n", SSE_OK);
}
static void test_data_without_space(void) { EXPECT("data:abc\n\n", "E|Dabc|I\n", SSE_OK); }
static void test_only_one_space_stripped(void)
{
    EXPECT("data:  a \nevent:\tb\n\n", "E\tb|D a |I\n", SSE_OK);
}
static void test_colon_in_value(void) { EXPECT("data: a: b:c\n\n", "E|Da: b:c|I\n", SSE_OK); }
static void test_retry_ignored(void)  { EXPECT("retry: 1000\ndata: a\n\nretry\n\n", "E|Da|I\n", SSE_OK); }
static void test_no_data_no_event(void)
{
    EXPECT("event: a\nid: 3\n\n\n\n", "", SSE_OK);
}
static void test_field_without_colon_is_raw(void)
{
    EXPECT("hello\ndata: a\nDATA: b\n\n", "E|Da|I\nRAW:hello\nDATA: b", SSE_OK);
}
static void test_bom_at_start(void)
{
    EXPECT("\xEF\xBB\xBF" "data: a\n\n", "E|Da|I\n", SSE_OK);
}
static void test_bom_split(void)
{
    static const char s[] = "\xEF\xBB\xBF" "data: a\n\n";
    size_t cut[2] = { 1, 2 };
    rec r = {0};
    CHECK_EQ_INT(run_cuts(s, strlen(s), cut, 2, 1024, 0, &r), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I\n");
    rec_free(&r);
}
static void test_bom_not_at_start(void)
{
    /* Only the first line may carry it; later it is just bytes. */
    EXPECT("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "E|Da|I\nRAW:\xEF\xBB\xBF" "data: b", SSE_OK);
}
static void test_bom_twice(void)
{
    EXPECT("\xEF\xBB\xBF\xEF\xBB\xBF" "data: b\n\n", "RAW:\xEF\xBB\xBF" "data: b", SSE_OK);
}

static void test_raw_json_error(void)
{
    rec r = {0};
    sse_parser p;
    size_t n;
    const char *raw;

    sse_init(&p, 1 << 20);
    CHECK_EQ_INT(feed_all(&p, google_err, strlen(google_err), &r), SSE_OK);
    CHECK_EQ_INT(r.count, 2);
    CHECK(strstr(rec_str(&r), "\"finishReason\": \"STOP\""));
    CHECK(!strstr(rec_str(&r), "error"));
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    raw = sse_raw(&p, &n);
    CHECK(raw != NULL);
    CHECK_MEM(raw, n, google_err_raw);
    CHECK(raw[n] == '\0');
    sse_free(&p);
    rec_free(&r);
}

static void test_raw_json_error_lf_unterminated(void)
{
    /* Separator unconfirmed (docs/protocol.md#mid-stream-errors): LF only, and no final line end. */
    EXPECT("data: a\n\n{\n  \"error\": {\n    \"code\": 503\n  }\n}",
           "E|Da|I\nRAW:{\n  \"error\": {\n    \"code\": 503\n  }\n}", SSE_OK);
}

static void test_raw_after_data_without_blank(void)
{
    /* The error glued to an unterminated event: raw kept, still a cut. */
    EXPECT("data: a\n\ndata: b\n{\n}\n", "E|Da|I\nRAW:{\n}", SSE_ERR_CUT);
}

static void test_cut_partial_line(void)
{
    EXPECT("data: a\n\ndata: {\"cand", "E|Da|I\n", SSE_ERR_CUT);
}
static void test_cut_partial_field_name(void)
{
    /* Could be the start of "data:": a cut, not raw text. */
    EXPECT("data: a\n\nda", "E|Da|I\n", SSE_ERR_CUT);
    EXPECT("data: a\n\nretr", "E|Da|I\n", SSE_ERR_CUT);
    EXPECT("data: a\n\nd\n", "E|Da|I\nRAW:d", SSE_OK);
    EXPECT("data: a\n\n}", "E|Da|I\nRAW:}", SSE_OK);
}
static void test_cut_after_data_line(void)
{
    EXPECT("data: a\r\n\r\ndata: b\r\n", "E|Da|I\n", SSE_ERR_CUT);
}
static void test_cut_after_cr(void)
{
    EXPECT("data: a\r\n\r\ndata: b\r", "E|Da|I\n", SSE_ERR_CUT);
}
static void test_cut_event_line(void)
{
    EXPECT("event: x\n", "", SSE_ERR_CUT);
}
static void test_clean_end(void)
{
    EXPECT("data: a\n\n", "E|Da|I\n", SSE_OK);
    EXPECT("data: a\r\n\r\n: bye\n", "E|Da|I\n", SSE_OK);
    EXPECT("data: a\r\n\r\n: bye", "E|Da|I\n", SSE_OK);
    EXPECT("", "", SSE_OK);
}
static void test_finish_resets(void)
{
    sse_parser p;
    rec r = {0};
    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, "data: a\n", 8, rec_cb, &r, NULL), SSE_OK);
    CHECK_EQ_INT(sse_finish(&p), SSE_ERR_CUT);
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    CHECK_EQ_INT(r.count, 0);
    sse_free(&p);
    rec_free(&r);
}

static void test_too_big_line(void)
{
    sse_parser p;
    rec r = {0};
    size_t used;

    sse_init(&p, 16);
    /* Exactly max_event is fine. */
    CHECK_EQ_INT(sse_feed(&p, "data: 0123456789\n\n", 18, rec_cb, &r, &used), SSE_OK);
    CHECK_EQ_INT(r.count, 1);
    CHECK_EQ_INT(sse_feed(&p, "data: 0123456789A\n\n", 19, rec_cb, &r, &used), SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(sse_feed(&p, "data: a\n\n", 9, rec_cb, &r, &used), SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(sse_finish(&p), SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(r.count, 1);
    sse_free(&p);
    rec_free(&r);
}

static void test_too_big_partial_line(void)
{
    /* No line end ever comes: memory must stay bounded anyway. */
    sse_parser p;
    size_t i;
    int rc = SSE_OK;

    sse_init(&p, 100);
    for (i = 0; i < 1000 && rc == SSE_OK; i++)
        rc = sse_feed(&p, "xxxxxxxxx", 9, NULL, NULL, NULL);
    CHECK_EQ_INT(rc, SSE_ERR_TOO_BIG);
    CHECK(i == 12);
    CHECK(p.line_cap <= 101);
    sse_free(&p);
}

static void test_too_big_event(void)
{
    sse_parser p;
    rec r = {0};
    int i, rc = SSE_OK;

    sse_init(&p, 32);
    for (i = 0; i < 10 && rc == SSE_OK; i++)
        rc = sse_feed(&p, "data: 0123456789\n", 17, rec_cb, &r, NULL);
    CHECK_EQ_INT(rc, SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(i, 4);       /* 10 + 1 + 10 + 1 + 10 = 32 fits, then 43 */
    CHECK(p.data_cap <= 33);
    CHECK_EQ_INT(sse_feed(&p, "\n", 1, rec_cb, &r, NULL), SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(r.count, 0);
    sse_free(&p);
    rec_free(&r);
}

static void test_too_big_raw(void)
{
    sse_parser p;
    int i, rc = SSE_OK;

    sse_init(&p, 32);
    for (i = 0; i < 10 && rc == SSE_OK; i++)
        rc = sse_feed(&p, "  \"error\": 1\n", 13, NULL, NULL, NULL);
    CHECK_EQ_INT(rc, SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(i, 3);
    CHECK(p.raw_cap <= 33);
    CHECK_EQ_INT(sse_finish(&p), SSE_ERR_TOO_BIG);
    sse_free(&p);
}

static void test_too_big_raw_at_finish(void)
{
    sse_parser p;
    sse_init(&p, 8);
    CHECK_EQ_INT(sse_feed(&p, "1234567\n1234567", 15, NULL, NULL, NULL), SSE_OK);
    CHECK_EQ_INT(sse_finish(&p), SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(sse_feed(&p, "\n", 1, NULL, NULL, NULL), SSE_ERR_TOO_BIG);
    sse_free(&p);
}

static int stop_cb(void *ud, const sse_event *ev)
{
    return rec_cb(ud, ev), 1;
}

static void test_stop_and_resume(void)
{
    static const char s[] = "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
    sse_parser p;
    rec r = {0};
    size_t used, at = 0;

    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, s, strlen(s), stop_cb, &r, &used), SSE_STOPPED);
    CHECK_EQ_INT(used, 11);                  /* through the whole "\r\n" */
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I\n");
    at += used;
    CHECK_EQ_INT(sse_feed(&p, s + at, strlen(s) - at, stop_cb, &r, &used), SSE_STOPPED);
    CHECK_EQ_INT(used, 9);
    at += used;
    CHECK_EQ_INT(sse_feed(&p, s + at, strlen(s) - at, stop_cb, &r, &used), SSE_STOPPED);
    at += used;
    CHECK_EQ_INT(at, strlen(s));
    CHECK_EQ_INT(sse_feed(&p, "", 0, stop_cb, &r, &used), SSE_OK);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I\nE|Db|I\nE|Dc|I\n");
    sse_free(&p);
    rec_free(&r);
}

static void test_stop_on_cr_at_chunk_end(void)
{
    /* Stopped on a CR that ended the chunk: the LF of the next chunk is
     * still part of that line end. */
    sse_parser p;
    rec r = {0};
    size_t used;

    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, "data: a\r\n\r", 10, stop_cb, &r, &used), SSE_STOPPED);
    CHECK_EQ_INT(used, 10);
    CHECK_EQ_INT(sse_feed(&p, "\ndata: b\r\n\r\n", 12, rec_cb, &r, &used), SSE_OK);
    CHECK_EQ_INT(sse_finish(&p), SSE_OK);
    CHECK_MEM(rec_str(&r), r.len, "E|Da|I\nE|Db|I\n");
    sse_free(&p);
    rec_free(&r);
}

static void test_null_callback_and_consumed(void)
{
    sse_parser p;
    sse_init(&p, 1024);
    CHECK_EQ_INT(sse_feed(&p, NULL, 0, NULL, NULL, NULL), SSE_OK);
    CHECK_EQ_INT(sse_feed(&p, "data: a\n\n", 9, NULL, NULL, NULL), SSE_OK);
    CHECK_EQ_INT(p.events, 1);
    CHECK_EQ_INT(p.bytes, 9);
    sse_free(&p);
    sse_free(&p);              /* idempotent */
}

static char *big_stream(size_t payload, size_t *n)
{
    char *s = malloc(payload + 32), *q = s;
    size_t i;

    memcpy(q, "data: ", 6); q += 6;
    for (i = 0; i < payload; i++)
        *q++ = (char)('a' + i % 26);
    memcpy(q, "\r\n\r\ndata: end\r\n\r\n", 17); q += 17;
    *n = (size_t)(q - s);
    return s;
}

static int big_cb(void *ud, const sse_event *ev)
{
    size_t *sizes = ud;
    size_t i;

    if (sizes[0] == 0) {
        for (i = 0; i < ev->data_len; i++)
            if (ev->data[i] != (char)('a' + i % 26))
                abort();
        if (ev->data[ev->data_len] != '\0')
            abort();
    }
    sizes[++sizes[0]] = ev->data_len;
    return 0;
}

static void test_large_event(void)
{
    size_t n, chunk, i;
    char *s = big_stream(1 << 20, &n);
    static const size_t chunks[] = { 0, 1, 7, 4096, 16384, 65536 };

    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        sse_parser p;
        size_t sizes[4] = {0}, at = 0;
        int rc = SSE_OK;

        chunk = chunks[i] ? chunks[i] : n;
        sse_init(&p, (1 << 20) + 6);
        while (at < n && rc == SSE_OK) {
            size_t k = n - at < chunk ? n - at : chunk;
            rc = sse_feed(&p, s + at, k, big_cb, sizes, NULL);
            at += k;
        }
        if (rc == SSE_OK)
            rc = sse_finish(&p);
        sse_free(&p);
        if (rc != SSE_OK || sizes[0] != 2 || sizes[1] != 1 << 20 || sizes[2] != 3) {
            snprintf(g_why, sizeof g_why, "chunk %zu: rc %d, %zu events, first %zu",
                     chunk, rc, sizes[0], sizes[1]);
            break;
        }
    }
    free(s);
}

static void test_large_event_too_big(void)
{
    size_t n;
    char *s = big_stream(1 << 20, &n);
    sse_parser p;
    size_t sizes[4] = {0};
    int rc;

    sse_init(&p, 1 << 20);      /* payload fits, "data: " + payload does not */
    rc = sse_feed(&p, s, n, big_cb, sizes, NULL);
    sse_free(&p);
    free(s);
    CHECK_EQ_INT(rc, SSE_ERR_TOO_BIG);
    CHECK_EQ_INT(sizes[0], 0);
}

/* ---- runner ------------------------------------------------------------ */

#define T(name) { #name, name }
static const struct { const char *name; void (*fn)(void); } tests[] = {
    T(test_google_three_events), T(test_google_event_fields),
    T(test_lf), T(test_crlf), T(test_cr), T(test_mixed_endings),
    T(test_lf_cr_is_two_line_ends), T(test_mixed_everything),
    T(test_crlf_split_across_chunks), T(test_crlf_split_at_blank_line),
    T(test_cr_then_empty_feed_then_lf),
    T(test_splits_google), T(test_splits_mixed), T(test_splits_error),
    T(test_splits_cr_only), T(test_splits_cut), T(test_splits_too_big),
    T(test_multiline_data), T(test_comments), T(test_event_and_id),
    T(test_event_name_per_event), T(test_blank_line_resets_event_name),
    T(test_id_persists), T(test_id_with_nul_ignored), T(test_nul_in_data),
    T(test_empty_data_line), T(test_data_without_space),
    T(test_only_one_space_stripped), T(test_colon_in_value),
    T(test_retry_ignored), T(test_no_data_no_event),
    T(test_field_without_colon_is_raw),
    T(test_bom_at_start), T(test_bom_split), T(test_bom_not_at_start),
    T(test_bom_twice),
    T(test_raw_json_error), T(test_raw_json_error_lf_unterminated),
    T(test_raw_after_data_without_blank),
    T(test_cut_partial_line), T(test_cut_partial_field_name),
    T(test_cut_after_data_line), T(test_cut_after_cr), T(test_cut_event_line),
    T(test_clean_end), T(test_finish_resets),
    T(test_too_big_line), T(test_too_big_partial_line), T(test_too_big_event),
    T(test_too_big_raw), T(test_too_big_raw_at_finish),
    T(test_stop_and_resume), T(test_stop_on_cr_at_chunk_end),
    T(test_null_callback_and_consumed),
    T(test_large_event), T(test_large_event_too_big),
};

int main(int argc, char **argv)
{
    size_t i;
    int passed = 0;

    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        g_why[0] = '\0';
        tests[i].fn();
        if (g_why[0]) {
            printf("FAIL %s: %s\n", tests[i].name, g_why);
            g_failed++;
        } else {
            printf("PASS %s\n", tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, g_failed);
    return g_failed ? 1 : 0;
}
