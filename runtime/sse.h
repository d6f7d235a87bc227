/*
 * sse.h — incremental Server-Sent Events parser (pure C, no Lua, no I/O).
 *
 * Feed it bytes as they arrive, split anywhere; it calls back once per
 * complete event. Lines end in "\n", "\r\n" or "\r" (a "\r" at the end of
 * one chunk followed by "\n" at the start of the next is ONE line end).
 * Fields per the WHATWG SSE spec: "data" (several data lines are joined
 * with "\n"), "event", "id", "retry" (ignored), ":comment" (ignored);
 * one optional space after the colon is stripped; an empty line dispatches
 * the event (an event with no data line is not dispatched).
 *
 * Google quirk (docs/protocol.md#mid-stream-errors): a mid-stream error is a raw pretty JSON
 * object appended WITHOUT "data:". Lines whose field name is not one of
 * data/event/id/retry are kept verbatim (joined with "\n") in a bounded
 * "raw" buffer that the caller inspects (sse_raw) — it is not an event.
 *
 * Bounds: a line (the whole line, "data: " included) or an event's data
 * larger than max_event bytes makes sse_feed return SSE_ERR_TOO_BIG and
 * the parser stays failed (a failed allocation is reported the same way).
 * Event pointers are valid only during the callback; the callback must not
 * feed the same parser. sse_finish discards an unfinished event (a second
 * call returns SSE_OK) and may also return SSE_ERR_TOO_BIG; the raw text
 * stays readable until sse_free. A last unterminated line that is a field
 * line (or the start of a field name) counts as a cut; a comment does not;
 * anything else goes to raw.
 */
#ifndef GL_SSE_H
#define GL_SSE_H

#include <stddef.h>

enum {
    SSE_OK = 0,
    SSE_ERR_TOO_BIG = -1,   /* a line/event/raw text over max_event */
    SSE_ERR_CUT = -2,       /* sse_finish: stream ended inside an event */
    SSE_STOPPED = -3        /* the callback returned nonzero */
};

typedef struct sse_event {
    const char *event; size_t event_len;   /* "" when absent (len 0) */
    const char *data;  size_t data_len;    /* lines joined with '\n' */
    const char *id;    size_t id_len;      /* last id seen (persists) */
} sse_event;

/* Return 0 to continue, nonzero to stop parsing (sse_feed returns
 * SSE_STOPPED; the rest of the buffer is consumed on the next call with
 * the remaining bytes: *consumed tells how far it got). */
typedef int (*sse_event_cb)(void *ud, const sse_event *ev);

typedef struct sse_parser {
    /* private */
    char *line; size_t line_len, line_cap;   /* current partial line */
    char *data; size_t data_len, data_cap;   /* accumulating data */
    char *event; size_t event_len, event_cap;
    char *id; size_t id_len, id_cap;
    char *raw; size_t raw_len, raw_cap;      /* non-SSE lines */
    size_t max_event;
    int has_data;        /* at least one data: line in current event */
    int pending;         /* any field line seen since the last dispatch */
    int last_cr;         /* previous chunk ended with '\r' */
    int bom_pending;     /* first line not yet seen: strip a UTF-8 BOM */
    int failed;
    unsigned long events;/* events dispatched so far */
    unsigned long long bytes; /* bytes fed so far */
} sse_parser;

void sse_init(sse_parser *p, size_t max_event);
void sse_free(sse_parser *p);

/* Parse len bytes. Returns SSE_OK, SSE_ERR_TOO_BIG or SSE_STOPPED.
 * *consumed (may be NULL) receives the number of bytes consumed. */
int sse_feed(sse_parser *p, const char *buf, size_t len,
             sse_event_cb cb, void *ud, size_t *consumed);

/* End of stream. Returns SSE_OK when the stream ended on an event
 * boundary (or with only raw/comment lines pending), SSE_ERR_CUT when an
 * event was started (a field line or a partial line) but never ended by
 * a blank line. An unterminated final line of raw text is moved to raw. */
int sse_finish(sse_parser *p);

/* The non-SSE lines seen so far (e.g. a raw JSON error), or NULL/0. */
const char *sse_raw(const sse_parser *p, size_t *len);

#endif
