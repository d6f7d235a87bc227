/*
 * sse.c — incremental Server-Sent Events parser; the contract is sse.h.
 *
 * Lines are found with memchr and handed to process_line() straight from
 * the caller's buffer; only a line that straddles two feeds is copied into
 * p->line. Field values are copied into their buffers in one memcpy each.
 * Every buffer is kept NUL-terminated (for the caller's convenience; the
 * lengths stay authoritative since data may contain NUL bytes) and never
 * grows past max_event + 1 bytes.
 *
 * Event pointers handed to the callback are valid only during the call,
 * and the callback must not feed the same parser.
 */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSE_MIN_CAP 256

static const char bom[3] = { '\xEF', '\xBB', '\xBF' };

void sse_init(sse_parser *p, size_t max_event)
{
    memset(p, 0, sizeof *p);
    p->max_event = max_event;
    p->bom_pending = 1;
}

void sse_free(sse_parser *p)
{
    free(p->line);
    free(p->data);
    free(p->event);
    free(p->id);
    free(p->raw);
    sse_init(p, p->max_event);
}

/* Make room for need bytes plus a NUL. The caller has already checked
 * need <= max_event, so the capacity stays bounded. */
static int reserve(sse_parser *p, char **buf, size_t *cap, size_t need)
{
    size_t limit, nc;
    char *nb;

    if (need < *cap)
        return 0;
    limit = p->max_event < SIZE_MAX ? p->max_event + 1 : SIZE_MAX;
    nc = *cap ? *cap : SSE_MIN_CAP;
    while (nc <= need && nc < limit)
        nc = nc > limit / 2 ? limit : nc * 2;
    if (nc > limit)
        nc = limit;
    if (nc <= need)               /* need == SIZE_MAX: cannot add the NUL */
        return -1;
    nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

/* Overwrite a short buffer (event name, id). */
static int set_buf(sse_parser *p, char **buf, size_t *len, size_t *cap,
                   const char *s, size_t n)
{
    if (reserve(p, buf, cap, n))
        return -1;
    if (n)
        memcpy(*buf, s, n);
    (*buf)[n] = '\0';
    *len = n;
    return 0;
}

/* Append s to a '\n'-joined buffer, within max_event. sep says whether a
 * separator is due (the buffer may hold one empty line already). */
static int join_buf(sse_parser *p, char **buf, size_t *len, size_t *cap,
                    int sep, const char *s, size_t n)
{
    size_t add = n + (sep ? 1 : 0);

    if (add > p->max_event || *len > p->max_event - add)
        return -1;
    if (reserve(p, buf, cap, *len + add))
        return -1;
    if (sep)
        (*buf)[(*len)++] = '\n';
    if (n)
        memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int fail(sse_parser *p)
{
    p->failed = 1;
    return SSE_ERR_TOO_BIG;
}

static void reset_event(sse_parser *p)
{
    p->data_len = 0;
    p->event_len = 0;
    p->has_data = 0;
    p->pending = 0;
}

static int dispatch(sse_parser *p, sse_event_cb cb, void *ud)
{
    sse_event ev;
    int stop = 0;

    if (p->has_data) {
        ev.event = p->event_len ? p->event : "";
        ev.event_len = p->event_len;
        ev.data = p->data_len ? p->data : "";
        ev.data_len = p->data_len;
        ev.id = p->id_len ? p->id : "";
        ev.id_len = p->id_len;
        p->events++;
        if (cb)
            stop = cb(ud, &ev);
    }
    /* WHATWG: a blank line clears data and event type even when nothing
     * is dispatched; the last event id persists. */
    reset_event(p);
    return stop ? SSE_STOPPED : SSE_OK;
}

enum { F_RAW, F_COMMENT, F_DATA, F_EVENT, F_ID, F_RETRY };

/* Split a non-empty line into field name and value. */
static int classify(const char *line, size_t n, const char **val, size_t *vlen)
{
    const char *colon;
    size_t nlen;

    if (line[0] == ':')
        return F_COMMENT;
    colon = memchr(line, ':', n);
    if (colon) {
        nlen = (size_t)(colon - line);
        *val = colon + 1;
        *vlen = n - nlen - 1;
        if (*vlen && **val == ' ') {
            (*val)++;
            (*vlen)--;
        }
    } else {
        nlen = n;
        *val = line + n;
        *vlen = 0;
    }
    switch (nlen) {
    case 2:
        if (line[0] == 'i' && line[1] == 'd')
            return F_ID;
        break;
    case 4:
        if (!memcmp(line, "data", 4))
            return F_DATA;
        break;
    case 5:
        if (!memcmp(line, "event", 5))
            return F_EVENT;
        if (!memcmp(line, "retry", 5))
            return F_RETRY;
        break;
    }
    return F_RAW;
}

static const char *strip_bom(sse_parser *p, const char *line, size_t *n)
{
    if (p->bom_pending) {
        p->bom_pending = 0;
        if (*n >= 3 && !memcmp(line, bom, 3)) {
            *n -= 3;
            return line + 3;
        }
    }
    return line;
}

/* One complete line, without its terminator. */
static int process_line(sse_parser *p, const char *line, size_t n,
                        sse_event_cb cb, void *ud)
{
    const char *val = NULL;
    size_t vlen = 0;

    line = strip_bom(p, line, &n);
    if (n == 0)
        return dispatch(p, cb, ud);
    switch (classify(line, n, &val, &vlen)) {
    case F_COMMENT:
        return SSE_OK;
    case F_DATA:
        if (join_buf(p, &p->data, &p->data_len, &p->data_cap, p->has_data,
                     val, vlen))
            return fail(p);
        p->has_data = 1;
        break;
    case F_EVENT:
        if (set_buf(p, &p->event, &p->event_len, &p->event_cap, val, vlen))
            return fail(p);
        break;
    case F_ID:
        if (!memchr(val, '\0', vlen) &&
            set_buf(p, &p->id, &p->id_len, &p->id_cap, val, vlen))
            return fail(p);
        break;
    case F_RETRY:
        break;
    default:
        if (join_buf(p, &p->raw, &p->raw_len, &p->raw_cap, p->raw_len > 0,
                     line, n))
            return fail(p);
        return SSE_OK;            /* raw text does not start an event */
    }
    p->pending = 1;
    return SSE_OK;
}

/* Keep the start of a line that continues in the next feed. */
static int buffer_line(sse_parser *p, const char *s, size_t n)
{
    if (n > p->max_event || p->line_len > p->max_event - n)
        return -1;
    if (reserve(p, &p->line, &p->line_cap, p->line_len + n))
        return -1;
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    return 0;
}

static size_t find(const char *buf, size_t from, size_t len, int c)
{
    const char *q = memchr(buf + from, c, len - from);
    return q ? (size_t)(q - buf) : len;
}

int sse_feed(sse_parser *p, const char *buf, size_t len,
             sse_event_cb cb, void *ud, size_t *consumed)
{
    size_t pos = 0, cr, lf;
    int rc = SSE_OK;

    if (p->failed) {
        if (consumed)
            *consumed = 0;
        return SSE_ERR_TOO_BIG;
    }
    if (len == 0) {             /* also spares memchr a NULL buf */
        if (consumed)
            *consumed = 0;
        return SSE_OK;
    }
    if (p->last_cr) {
        p->last_cr = 0;
        if (buf[0] == '\n')
            pos = 1;
    }
    /* Next '\r' and '\n' at or after pos; each is searched again only once
     * passed, so a CR-free or LF-free stream is still scanned once. */
    cr = find(buf, pos, len, '\r');
    lf = find(buf, pos, len, '\n');
    while (pos < len) {
        const char *line;
        size_t n, end = cr < lf ? cr : lf;

        if (end == len) {
            if (buffer_line(p, buf + pos, len - pos)) {
                rc = fail(p);
                break;
            }
            pos = len;
            break;
        }
        if (p->line_len) {
            if (buffer_line(p, buf + pos, end - pos)) {
                rc = fail(p);
                break;
            }
            line = p->line;
            n = p->line_len;
        } else {
            if (end - pos > p->max_event) {
                rc = fail(p);
                break;
            }
            line = buf + pos;
            n = end - pos;
        }
        pos = end + 1;
        if (buf[end] == '\r') {
            if (pos == len)
                p->last_cr = 1;
            else if (buf[pos] == '\n')
                pos++;
        }
        if (cr < pos)
            cr = find(buf, pos, len, '\r');
        if (lf < pos)
            lf = find(buf, pos, len, '\n');
        rc = process_line(p, line, n, cb, ud);
        p->line_len = 0;
        if (rc != SSE_OK)
            break;
    }
    p->bytes += pos;
    if (consumed)
        *consumed = pos;
    return rc;
}

/* A final line cut inside a field name ("da") is a cut data line, not
 * raw text. */
static int field_prefix(const char *line, size_t n)
{
    static const char *const names[] = { "data", "event", "id", "retry" };
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (n < strlen(names[i]) && !memcmp(line, names[i], n))
            return 1;
    return 0;
}

int sse_finish(sse_parser *p)
{
    int rc = SSE_OK;

    if (p->failed)
        return SSE_ERR_TOO_BIG;
    if (p->line_len) {
        const char *val, *line;
        size_t vlen, n = p->line_len;

        line = strip_bom(p, p->line, &n);
        if (n) {
            switch (classify(line, n, &val, &vlen)) {
            case F_COMMENT:
                break;
            case F_RAW:
                if (field_prefix(line, n)) {
                    rc = SSE_ERR_CUT;
                    break;
                }
                if (join_buf(p, &p->raw, &p->raw_len, &p->raw_cap,
                             p->raw_len > 0, line, n))
                    rc = fail(p);
                break;
            default:
                rc = SSE_ERR_CUT;
            }
        }
        p->line_len = 0;
    }
    if (rc == SSE_OK && p->pending)
        rc = SSE_ERR_CUT;
    reset_event(p);
    p->last_cr = 0;
    return rc;
}

const char *sse_raw(const sse_parser *p, size_t *len)
{
    if (len)
        *len = p->raw_len;
    return p->raw_len ? p->raw : NULL;
}
