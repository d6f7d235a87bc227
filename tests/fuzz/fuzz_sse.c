/*
 * fuzz_sse.c — libFuzzer target for runtime/sse.c.
 *
 * Input: byte 0 picks max_event, bytes 1..4 seed the split points and the
 * callback's stop pattern, the rest is the stream. The stream is parsed
 * four ways — in one piece, in random pieces with stops and resumes, one
 * byte at a time, and by a deliberately naive line-at-a-time model of
 * sse.h written here — and the transcripts (events, final status, raw
 * text) must be identical. Any difference abort()s.
 */
#include "../../runtime/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    unsigned char *buf; size_t len, cap;
    unsigned count, stop_every;
} out;

static void put(out *o, const void *s, size_t n)
{
    if (o->len + n > o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 1024;
        while (nc < o->len + n)
            nc *= 2;
        o->buf = realloc(o->buf, nc);
        if (!o->buf)
            abort();
        o->cap = nc;
    }
    if (n)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_field(out *o, char tag, const char *s, size_t n)
{
    uint32_t n32 = (uint32_t)n;
    put(o, &tag, 1);
    put(o, &n32, sizeof n32);
    put(o, s, n);
}

static void put_event(out *o, const char *ev, size_t evn, const char *d,
                      size_t dn, const char *id, size_t idn)
{
    put_field(o, 'E', ev, evn);
    put_field(o, 'D', d, dn);
    put_field(o, 'I', id, idn);
    o->count++;
}

static void put_end(out *o, int rc, const char *raw, size_t rawn)
{
    put_field(o, 'R', raw, rawn);
    put(o, &rc, sizeof rc);
}

static int cb(void *ud, const sse_event *ev)
{
    out *o = ud;

    if (!ev->event || !ev->data || !ev->id)
        abort();
    put_event(o, ev->event, ev->event_len, ev->data, ev->data_len,
              ev->id, ev->id_len);
    return o->stop_every && o->count % o->stop_every == 0;
}

/* ---- the parser under test, fed in pieces ------------------------------ */

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* piece == 0: random piece sizes from the seed; otherwise fixed size. */
static void run(const char *s, size_t n, size_t max_event, uint32_t seed,
                size_t piece, unsigned stop_every, out *o)
{
    sse_parser p;
    size_t at = 0, rawn;
    const char *raw;
    int rc = SSE_OK;
    uint32_t st = seed | 1;
    size_t span = 1 + (seed >> 24) % 64;

    o->stop_every = stop_every;
    sse_init(&p, max_event);
    while (at < n && rc == SSE_OK) {
        size_t k = piece ? piece : rng(&st) % span + (rng(&st) % 8 == 0 ? 0 : 1);
        if (k > n - at)
            k = n - at;
        for (;;) {
            size_t used = (size_t)-1;
            rc = sse_feed(&p, s + at, k, cb, o, &used);
            if (used > k)
                abort();
            if (rc == SSE_STOPPED && used == 0)
                abort();            /* would loop forever */
            at += used;
            k -= used;
            if (rc != SSE_STOPPED)
                break;
            rc = SSE_OK;
        }
        if (rc == SSE_OK && k)
            abort();                /* OK must consume everything */
    }
    if (rc == SSE_OK)
        rc = sse_finish(&p);
    if (rc == SSE_ERR_TOO_BIG && sse_feed(&p, "\n", 1, cb, o, NULL) != SSE_ERR_TOO_BIG)
        abort();                    /* failed parsers stay failed */
    if (p.line_cap > max_event + 1 || p.data_cap > max_event + 1 ||
        p.raw_cap > max_event + 1)
        abort();
    raw = sse_raw(&p, &rawn);
    put_end(o, rc, raw, rawn);
    sse_free(&p);
}

/* ---- a naive model of sse.h ------------------------------------------ */

typedef struct model {
    size_t max;
    char *data; size_t dn; int has_data, pending;
    char *ev; size_t evn;
    char *id; size_t idn;
    char *raw; size_t rawn;
} model;

static int is_field(const char *name, size_t n, const char *f)
{
    return n == strlen(f) && !memcmp(name, f, n);
}

/* 0 ok, -1 too big */
static int model_line(model *m, const char *l, size_t n, out *o)
{
    size_t c, vn;
    const char *v;

    if (n == 0) {
        if (m->has_data)
            put_event(o, m->ev, m->evn, m->data, m->dn, m->id, m->idn);
        m->dn = m->evn = 0;
        m->has_data = m->pending = 0;
        return 0;
    }
    if (l[0] == ':')
        return 0;
    for (c = 0; c < n && l[c] != ':'; c++)
        ;
    v = c < n ? l + c + 1 : l + n;
    vn = c < n ? n - c - 1 : 0;
    if (vn && v[0] == ' ')
        v++, vn--;
    if (is_field(l, c, "data")) {
        size_t need = m->dn + (m->has_data ? 1 : 0) + vn;
        if (need > m->max)
            return -1;
        if (m->has_data)
            m->data[m->dn++] = '\n';
        memcpy(m->data + m->dn, v, vn);
        m->dn += vn;
        m->has_data = 1;
    } else if (is_field(l, c, "event")) {
        memcpy(m->ev, v, vn);
        m->evn = vn;
    } else if (is_field(l, c, "id")) {
        if (!memchr(v, 0, vn)) {
            memcpy(m->id, v, vn);
            m->idn = vn;
        }
    } else if (!is_field(l, c, "retry")) {
        size_t need = m->rawn + (m->rawn ? 1 : 0) + n;
        if (need > m->max)
            return -1;
        if (m->rawn)
            m->raw[m->rawn++] = '\n';
        memcpy(m->raw + m->rawn, l, n);
        m->rawn += n;
        return 0;
    }
    m->pending = 1;
    return 0;
}

static int prefix_of_field(const char *l, size_t n)
{
    static const char *const f[] = { "data", "event", "id", "retry" };
    size_t i;
    for (i = 0; i < 4; i++)
        if (n < strlen(f[i]) && !memcmp(l, f[i], n))
            return 1;
    return 0;
}

static void run_model(const char *s, size_t n, size_t max_event, out *o)
{
    model m;
    size_t i = 0, cap = n + 1;
    int rc = SSE_OK, first = 1;

    memset(&m, 0, sizeof m);
    m.max = max_event;
    m.data = malloc(cap);
    m.ev = malloc(cap);
    m.id = malloc(cap);
    m.raw = malloc(cap + 1);
    if (!m.data || !m.ev || !m.id || !m.raw)
        abort();
    for (;;) {
        size_t start = i, len, skip = 0;
        while (i < n && s[i] != '\r' && s[i] != '\n')
            i++;
        len = i - start;
        if (len > max_event) {        /* BOM included, as in sse.c */
            rc = SSE_ERR_TOO_BIG;
            break;
        }
        if (first && len >= 3 && !memcmp(s + start, "\xEF\xBB\xBF", 3))
            skip = 3;
        if (i == n) {                 /* end of stream */
            const char *l = s + start + skip;
            size_t ln = len - skip;
            if (len == 0) {
                rc = m.pending ? SSE_ERR_CUT : SSE_OK;
            } else if (ln == 0 || l[0] == ':') {
                rc = m.pending ? SSE_ERR_CUT : SSE_OK;
            } else {
                size_t c;
                for (c = 0; c < ln && l[c] != ':'; c++)
                    ;
                if (is_field(l, c, "data") || is_field(l, c, "event") ||
                    is_field(l, c, "id") || is_field(l, c, "retry") ||
                    (c == ln && prefix_of_field(l, ln)))
                    rc = SSE_ERR_CUT;
                else if (m.rawn + (m.rawn ? 1 : 0) + ln > m.max)
                    rc = SSE_ERR_TOO_BIG;
                else {
                    if (m.rawn)
                        m.raw[m.rawn++] = '\n';
                    memcpy(m.raw + m.rawn, l, ln);
                    m.rawn += ln;
                    rc = m.pending ? SSE_ERR_CUT : SSE_OK;
                }
            }
            break;
        }
        first = 0;
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            i++;
        i++;
        if (model_line(&m, s + start + skip, len - skip, o)) {
            rc = SSE_ERR_TOO_BIG;
            break;
        }
    }
    put_end(o, rc, m.raw, m.rawn);
    free(m.data);
    free(m.ev);
    free(m.id);
    free(m.raw);
}

static void same(const out *a, const out *b)
{
    if (a->len != b->len || (a->len && memcmp(a->buf, b->buf, a->len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    out ref = {0}, o = {0};
    const char *s;
    size_t n, max_event;
    uint32_t seed;

    if (size < 5)
        return 0;
    max_event = data[0] < 192 ? data[0] : (size_t)1 << 20;
    seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
           (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    s = (const char *)data + 5;
    n = size - 5;

    run(s, n, max_event, seed, n ? n : 1, 0, &ref);

    run_model(s, n, max_event, &o);
    same(&ref, &o);

    o.len = o.count = 0;
    run(s, n, max_event, seed, 0, data[1] % 4, &o);
    same(&ref, &o);

    o.len = o.count = 0;
    run(s, n, max_event, seed, 1, data[2] % 3, &o);
    same(&ref, &o);

    free(ref.buf);
    free(o.buf);
    return 0;
}
