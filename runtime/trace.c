/*
 * trace.c — the wire trace (--trace FILE): one redacted JSON object per
 * line.
 */
#include "gl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *trace_fp;
static uint64_t trace_t0;

int gl_trace_open(const char *path) {
    trace_fp = fopen(path, "w");
    if (!trace_fp) return -1;
    trace_t0 = uv_hrtime();
    return 0;
}

void gl_trace_close(void) {
    if (trace_fp) fclose(trace_fp);
    trace_fp = NULL;
}

int gl_trace_on(void) { return trace_fp != NULL; }

void gl_trace_record(const char *kind, const char *fields_json) {
    if (!trace_fp) return;
    gl_buf b = {0};
    char head[96];
    snprintf(head, sizeof head, "{\"t\":%.6f,\"kind\":", (uv_hrtime() - trace_t0) / 1e9);
    gl_buf_adds(&b, head);
    gl_buf_json_str(&b, kind, strlen(kind));
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, ",");
        gl_buf_adds(&b, fields_json);
    }
    gl_buf_adds(&b, "}\n");
    size_t n;
    char *r = gl_redact(b.p, b.len, &n);
    fwrite(r, 1, n, trace_fp);
    fflush(trace_fp);
    free(r);
    gl_buf_free(&b);
}

void gl_trace_data(gl_redstream *rs, const char *kind, const char *fields_json, const char *p, size_t len) {
    if (!trace_fp) return;
    gl_buf red = {0}, b = {0};
    gl_redstream_feed(rs, p, len, &red);
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, fields_json);
        gl_buf_adds(&b, ",");
    }
    gl_buf_adds(&b, "\"data\":");
    gl_buf_json_str(&b, red.p ? red.p : "", red.len);
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
    gl_buf_free(&red);
}

void gl_trace_data_end(gl_redstream *rs, const char *kind, const char *fields_json) {
    if (!rs->held.len || !trace_fp) {
        gl_redstream_free(rs);
        return;
    }
    gl_buf red = {0}, b = {0};
    gl_redstream_finish(rs, &red);
    if (fields_json && *fields_json) {
        gl_buf_adds(&b, fields_json);
        gl_buf_adds(&b, ",");
    }
    gl_buf_adds(&b, "\"data\":");
    gl_buf_json_str(&b, red.p ? red.p : "", red.len);
    gl_buf_adds(&b, ",\"end\":true");
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
    gl_buf_free(&red);
}
