/*
 * tap.h — the wire tap: one call per wire event feeds both the wire trace
 * (--trace FILE, trace.c) and the cassette (--record DIR, cassette.c), so
 * a transport (HTTP, WebSocket, and whatever comes next: a server side,
 * Redis) gets both by calling the tap once at each event.
 *
 *   gl_tap *t = gl_tap_begin(GL_TAP_HTTP, "POST", url, headers, body, n, NULL);
 *   gl_tap_response(t, 200, raw_headers, len);        response head / upgrade
 *   gl_tap_data(t, GL_TAP_RECV, GL_TAP_BYTES, p, n);  body bytes, or a frame
 *   gl_tap_end(t, result, error, kind, code, reason, status);  how it ended
 *   gl_tap_free(t);                                    the handle goes away
 *
 * Every function accepts NULL: gl_tap_begin returns NULL when neither
 * --trace nor --record is on, and the transport pays nothing more.
 * Redaction is the tap's job and happens before any encoding or
 * truncation: a byte stream (HTTP bodies) is redacted as one stream with a
 * carry-over window (gl_redstream), so a key split between two reads is
 * still caught; a message (a WebSocket frame) is redacted whole, then cut
 * for the trace; the cassette redacts the reassembled exchange when it is
 * written (gl_redact_cuts). The formats are those of trace.c (one JSON
 * object a line: http_request, http_response, http_chunk, http_done,
 * ws_connect, ws_handshake, ws_send, ws_recv, ws_close, ws_error) and of
 * cassette.c.
 */
#ifndef GL_TAP_H
#define GL_TAP_H

#include "gl.h"

typedef struct gl_tap gl_tap;

enum { GL_TAP_HTTP, GL_TAP_WS };                                /* transport: the trace's names */
enum { GL_TAP_SEND, GL_TAP_RECV };                              /* direction of data */
enum { GL_TAP_BYTES = -1, GL_TAP_TEXT = 0, GL_TAP_BINARY = 1 }; /* stream bytes or a message */

/* An exchange begins: a request (method, url as sent, headers_json: the
 * inside of a JSON array of "Name: value" strings, or NULL; the body) or a
 * WebSocket connect. trace_extra: more trace fields (",\"k\":v"), or NULL. */
gl_tap *gl_tap_begin(int transport, const char *method, const char *url, const char *headers_json, const char *body,
                     size_t body_len, const char *trace_extra);
/* The response head: HTTP status and raw header lines (already redacted),
 * or the WebSocket upgrade's status (101, or the refusal). */
void gl_tap_response(gl_tap *t, long status, const char *headers, size_t len);
/* Bytes on the wire: kind GL_TAP_BYTES for a byte stream (HTTP body), or
 * GL_TAP_TEXT / GL_TAP_BINARY for one whole message. */
void gl_tap_data(gl_tap *t, int dir, int kind, const char *p, size_t len);
/* A trace-only event of this exchange (e.g. "ws_close"): fields as in
 * gl_trace_record, after the url. */
void gl_tap_note(gl_tap *t, const char *kind, const char *fields_json);
/* A cassette-only field of this exchange (e.g. "closed_by"). */
void gl_tap_field(gl_tap *t, const char *key, const char *value);
/* How the exchange ended: result (curl code, 0), error text or NULL, its
 * kind, a close code and reason (WebSocket), the HTTP status. Once. */
void gl_tap_end(gl_tap *t, int result, const char *error, const char *error_kind, int close_code, const char *reason,
                long status);
/* The handle goes away: an exchange not ended is recorded as abandoned; the
 * rest of a held-back stream is written. */
void gl_tap_free(gl_tap *t);

#endif
