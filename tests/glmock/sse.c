/* Stream writers for streamGenerateContent: SSE (`data: <one-line JSON>\r\n\r\n`,
 * no terminator, docs/protocol.md#sse-streaming) and the JSON-array form (`[obj\n,\r\nobj\n]`,
 * docs/protocol.md#json-array-streaming), with the stream faults (cut, mid-stream error, malformed event). */
#include "glmock.h"

#include <stdlib.h>
#include <string.h>

static const char CUT_TAIL[] = "{\"candidates\": [{\"con";
static const char BAD_JSON[] = "{\"candidates\": [}";

static void emit_sse(conn_t *c, const char *json, unsigned delay)
{
    buf_t b = {0};
    buf_adds(&b, "data: ");
    buf_adds(&b, json);
    buf_adds(&b, "\r\n\r\n");
    chunk_item(c, b.p, b.len, delay);
    buf_free(&b);
}

static void emit_elem(conn_t *c, size_t i, const char *pretty, unsigned delay)
{
    buf_t b = {0};
    buf_adds(&b, i == 0 ? "[" : "\n,\r\n");
    buf_adds(&b, pretty);
    chunk_item(c, b.p, b.len, delay);
    buf_free(&b);
}

static char *pretty_nonl(json_t *j)
{
    char *s = json_pretty(j);
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') s[n - 1] = 0;
    return s;
}

void stream_run(conn_t *c, req_t *r, stream_plan_t *sp)
{
    const char *ctype = sp->sse ? "text/event-stream" : "application/json; charset=UTF-8";
    /* The connection is closed after a mid-stream error: say so up front, so
     * that a client does not race to reuse it for its next request. */
    if (sp->midstream_error) r->keep_alive = false;
    http_begin_chunked(c, r, 200, ctype, NULL);
    for (size_t i = 0; i <= sp->nevents; i++) {
        unsigned delay = i ? sp->delay_ms : 0;
        if (i == sp->fault_at && sp->cut) {
            buf_t b = {0};
            buf_adds(&b, sp->sse ? "data: " : i == 0 ? "[" : "\n,\r\n");
            buf_adds(&b, CUT_TAIL);
            chunk_item(c, b.p, b.len, delay);
            buf_free(&b);
            oq_push(c, IT_ABORT, NULL, 0, 0);
            oq_pump(c);
            return;
        }
        if (i == sp->fault_at && sp->midstream_error) {
            json_t *e = sp->mid_error ? json_incref(sp->mid_error) : err_overloaded();
            char *s = pretty_nonl(e);
            json_decref(e);
            buf_t b = {0};
            if (sp->sse) { buf_adds(&b, s); buf_adds(&b, "\r\n"); }
            else { buf_adds(&b, i == 0 ? "[" : "\n,\r\n"); buf_adds(&b, s); buf_adds(&b, "\n]"); }
            free(s);
            chunk_item(c, b.p, b.len, delay);
            buf_free(&b);
            oq_push(c, IT_DATA, "0\r\n\r\n", 5, 0);
            oq_push(c, IT_END_CLOSE, NULL, 0, 0);
            oq_pump(c);
            return;
        }
        if (i == sp->nevents) break;
        if (i == 1 && sp->malformed) {
            if (sp->sse) emit_sse(c, BAD_JSON, delay);
            else emit_elem(c, i, BAD_JSON, delay);
            continue;
        }
        char *s = sp->sse ? json_line(sp->events[i]) : pretty_nonl(sp->events[i]);
        if (sp->sse) emit_sse(c, s, delay);
        else emit_elem(c, i, s, delay);
        free(s);
    }
    if (!sp->sse) chunk_item(c, "\n]", 2, 0);
    chunk_end_item(c, r);
    oq_pump(c);
}
