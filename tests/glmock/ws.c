/* WebSocket server side (RFC 6455), by hand so that faults can be injected
 * at frame level: the handshake (SHA-1 + base64 Sec-WebSocket-Accept, no
 * subprotocol), unmasking client frames, reassembling fragmented client
 * messages, ping/pong, the close handshake, and server frames that may be
 * fragmented, text or binary. Messages go to live.c. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/sha.h>

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Only the exact Live paths (after '//' collapsing): the Gemini API's
 * ".../GenerativeService.BidiGenerateContent" (a dot; the slash form is not a
 * Live endpoint there) and Vertex AI's ".../LlmBidiService/BidiGenerateContent". */
int ws_path_version(const char *path, char *ver, size_t vn)
{
    static const char pre[] = "/ws/google.ai.generativelanguage.";
    static const char post[] = ".GenerativeService.BidiGenerateContent";
    static const char *vers[] = {"v1", "v1beta", "v1alpha"};
    static const char vpre[] = "/ws/google.cloud.aiplatform.";
    static const char vpost[] = ".LlmBidiService/BidiGenerateContent";
    static const char *vvers[] = {"v1", "v1beta1"};
    if (!strncmp(path, pre, sizeof pre - 1)) {
        const char *v = path + sizeof pre - 1;
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(vers[i]);
            if (!strncmp(v, vers[i], n) && !strcmp(v + n, post)) {
                snprintf(ver, vn, "%s", vers[i]);
                return WS_GEMINI;
            }
            /* ephemeral tokens: the Constrained method, v1alpha only (tokens.c) */
            if (i == 2 && !strncmp(v, vers[i], n) && !strncmp(v + n, post, sizeof post - 1) &&
                !strcmp(v + n + sizeof post - 1, "Constrained")) {
                snprintf(ver, vn, "%s", vers[i]);
                return WS_GEMINI;
            }
        }
    } else if (!strncmp(path, vpre, sizeof vpre - 1)) {
        const char *v = path + sizeof vpre - 1;
        for (int i = 0; i < 2; i++) {
            size_t n = strlen(vvers[i]);
            if (!strncmp(v, vvers[i], n) && !strcmp(v + n, vpost)) {
                snprintf(ver, vn, "%s", vvers[i]);
                return WS_VERTEX;
            }
        }
    }
    if (!strcmp(path, "/glmock/echo")) return WS_ECHO;
    if (!strcmp(path, "/glmock/stall")) return WS_STALL;
    return WS_NONE;
}

static bool header_has_token(const char *h, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = h; p && *p; p++)
        if (!strncasecmp(p, tok, n)) return true;
    return false;
}

char *ws_frame(int opcode, bool fin, const void *p, size_t n, size_t *outlen)
{
    char *f = xmalloc(n + 10);
    size_t h = 0;
    f[h++] = (char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (n < 126) {
        f[h++] = (char)n;
    } else if (n <= 0xffff) {
        f[h++] = 126;
        f[h++] = (char)(n >> 8);
        f[h++] = (char)n;
    } else {
        f[h++] = 127;
        for (int i = 7; i >= 0; i--) f[h++] = (char)((uint64_t)n >> (8 * i));
    }
    if (n) memcpy(f + h, p, n);
    *outlen = h + n;
    return f;
}

/* One server message as an output-queue item. `fragment` splits it into
 * three frames (first + two continuations), written back to back. */
void ws_send_msg(conn_t *c, const char *json, size_t n, unsigned delay, bool fragment, int turn)
{
    int op = g_opt.text_frames ? 1 : 2;
    buf_t b = {0};
    size_t fl;
    if (fragment && n >= 3) {
        size_t a = n / 3, bsz = n / 3;
        char *f1 = ws_frame(op, false, json, a, &fl);
        buf_add(&b, f1, fl);
        free(f1);
        char *f2 = ws_frame(0, false, json + a, bsz, &fl);
        buf_add(&b, f2, fl);
        free(f2);
        char *f3 = ws_frame(0, true, json + a + bsz, n - a - bsz, &fl);
        buf_add(&b, f3, fl);
        free(f3);
    } else {
        char *f = ws_frame(op, true, json, n, &fl);
        buf_add(&b, f, fl);
        free(f);
    }
    item_t *it = oq_push(c, IT_DATA, b.p, b.len, delay);
    it->turn = turn;
    buf_free(&b);
}

static char *close_payload(int code, const char *reason, size_t *n)
{
    /* Control frames carry at most 125 bytes: 2 for the code, 123 for the
     * reason (cut like the real service, but never inside a UTF-8 sequence). */
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123) {
        rl = 123;
        while (rl > 0 && ((unsigned char)reason[rl] & 0xC0) == 0x80) rl--;
    }
    char *p = xmalloc(2 + rl + 1);
    p[0] = (char)(code >> 8);
    p[1] = (char)code;
    if (rl) memcpy(p + 2, reason, rl);
    *n = 2 + rl;
    return p;
}

static void on_close_wait(uv_timer_t *t)
{
    conn_t *c = t->data;
    LOG("conn %llu: no close reply from client; closing", (unsigned long long)c->id);
    conn_close(c);
}

void ws_close_now(conn_t *c, int code, const char *reason)
{
    ws_close_queued(c, code, reason, true);
}

/* Queue a close frame; `drop_pending` discards unwritten messages first
 * (faults), otherwise the close goes out after them (echo "!close"). */
void ws_close_queued(conn_t *c, int code, const char *reason, bool drop_pending)
{
    if (c->ws_close_sent || c->closing || c->shutting) return;
    LOG("conn %llu: ws close %d %s", (unsigned long long)c->id, code, reason ? reason : "");
    size_t pn, fl;
    char *pl = close_payload(code, reason, &pn);
    char *f = ws_frame(8, true, pl, pn, &fl);
    free(pl);
    if (drop_pending) {
        while (c->oq_head) oq_clear_turn(c, c->oq_head->turn);
        c->delay_done = false;
        if (c->timer_running) { uv_timer_stop(&c->tick); c->timer_running = false; }
    }
    oq_push(c, IT_WS_CLOSE, f, fl, 0);
    free(f);
    oq_pump(c);
}

void ws_on_close_handshake_done(conn_t *c)
{
    if (c->ws_close_rcvd) conn_shutdown(c);
    else uv_timer_start(&c->deadline, on_close_wait, 2000, 0);
}

static void ws_fail(conn_t *c, int code, const char *reason)
{
    ws_close_now(c, code, reason);
}

void ws_accept(conn_t *c, req_t *r, const char *version, const char *rest, size_t restn)
{
    if (!r->upgrade || !header_has_token(r->upgrade, "websocket") || !r->ws_key ||
        !r->ws_version || strcmp(r->ws_version, "13") != 0) {
        const char *body = "Bad WebSocket handshake\n";
        buf_t b = {0};
        buf_addf(&b, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        conn_write_owned(c, b.p, b.len);
        conn_shutdown(c);
        return;
    }
    char vbuf[16];
    int kind = ws_path_version(r->path, vbuf, sizeof vbuf);
    bool vertex = kind == WS_VERTEX;
    if (kind == WS_STALL) {
        /* Never answer: the client's handshake timeout is under test. */
        LOG("conn %llu: stalling the upgrade", (unsigned long long)c->id);
        c->busy = true;
        return;
    }
    if ((kind == WS_GEMINI || kind == WS_VERTEX) && scen_handshake(c, r)) return;
    if (vertex) {
        /* Vertex authenticates the upgrade itself (OAuth bearer or express-mode key). */
        json_t *e = vertex_check_bearer(r);
        if (e) {
            char *body = json_pretty(e);
            int code = (int)json_integer_value(json_object_get(json_object_get(e, "error"), "code"));
            json_decref(e);
            buf_t b = {0};
            buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, http_reason(code), strlen(body), body);
            free(body);
            conn_write_owned(c, b.p, b.len);
            conn_shutdown(c);
            return;
        }
    }
    buf_t k = {0};
    buf_adds(&k, r->ws_key);
    buf_adds(&k, WS_GUID);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)k.p, k.len, sha);
    buf_free(&k);
    char *accept = b64_encode(sha, sizeof sha);
    buf_t b = {0};
    buf_addf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    free(accept);
    conn_write_owned(c, b.p, b.len);
    c->mode = 1;
    c->busy = false;
    if (kind == WS_ECHO) {
        c->echo = true;
        c->echo_headers = r->headers ? json_incref(r->headers) : json_object();
        LOG("conn %llu: websocket open (echo)", (unsigned long long)c->id);
        if (restn) ws_on_data(c, rest, restn);
        return;
    }
    char *key = r->api_key ? xstrdup(r->api_key) : query_get(r->query, "key");
    if (!key) key = query_get(r->query, "access_token");          /* js-genai's ephemeral token */
    if (!key && r->authorization && !strncmp(r->authorization, "Token ", 6))
        key = xstrdup(r->authorization + 6);                        /* python-genai's, glrun's */
    if (!key && vertex) key = bearer_token(r);
    LOG("conn %llu: websocket open (%s%s)%s", (unsigned long long)c->id, vertex ? "Vertex " : "", version,
        key ? "" : " without key");
    c->live = live_new(c, version, key, vertex, r->path);
    free(key);
    if (restn) ws_on_data(c, rest, restn);
}

static void handle_control(conn_t *c, int op, const unsigned char *p, size_t n)
{
    if (op == 9) {          /* ping -> pong with the same payload, right away */
        size_t fl;
        char *f = ws_frame(10, true, p, n, &fl);
        conn_write_owned(c, f, fl);
    } else if (op == 8) {   /* close */
        c->ws_close_rcvd = true;
        if (c->ws_close_sent) {
            conn_shutdown(c);
            return;
        }
        int code = n >= 2 ? (p[0] << 8 | p[1]) : 1000;
        LOG("conn %llu: client close %d", (unsigned long long)c->id, n >= 2 ? code : 1005);
        size_t pn, fl;
        char *pl = close_payload(n >= 2 ? code : 1000, NULL, &pn);
        char *f = ws_frame(8, true, pl, pn, &fl);
        free(pl);
        c->ws_close_sent = true;
        while (c->oq_head) oq_clear_turn(c, c->oq_head->turn);
        conn_write_owned(c, f, fl);
        conn_shutdown(c);
    }
}

void ws_on_data(conn_t *c, const char *data, size_t len)
{
    buf_add(&c->wsin, data, len);
    size_t off = 0;
    while (!c->closing && !c->shutting) {
        const unsigned char *p = (const unsigned char *)c->wsin.p + off;
        size_t avail = c->wsin.len - off;
        if (avail < 2) break;
        bool fin = p[0] & 0x80;
        int rsv = p[0] & 0x70, op = p[0] & 0x0f;
        bool masked = p[1] & 0x80;
        uint64_t plen = p[1] & 0x7f;
        size_t h = 2;
        if (plen == 126) {
            if (avail < 4) break;
            plen = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (plen == 127) {
            if (avail < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | p[2 + i];
            h = 10;
        }
        if (rsv || !masked) { ws_fail(c, 1002, rsv ? "Reserved bits set." : "Client frames must be masked."); break; }
        if (op >= 8 && (!fin || plen > 125)) { ws_fail(c, 1002, "Invalid control frame."); break; }
        if (plen > GLMOCK_MAX_WSMSG || c->wsmsg.len + plen > GLMOCK_MAX_WSMSG) {
            ws_fail(c, 1009, "Message too big.");
            break;
        }
        if (avail < h + 4 + plen) break;
        unsigned char mask[4];
        memcpy(mask, p + h, 4);
        unsigned char *pl = (unsigned char *)c->wsin.p + off + h + 4;
        for (uint64_t i = 0; i < plen; i++) pl[i] ^= mask[i & 3];
        off += h + 4 + (size_t)plen;
        if (op >= 8) {
            handle_control(c, op, pl, (size_t)plen);
            continue;
        }
        if (c->ws_close_sent || c->ws_close_rcvd) continue;   /* data after close: ignored */
        if (op == 0) {
            if (!c->wsmsg_op) { ws_fail(c, 1002, "Unexpected continuation frame."); break; }
        } else if (op == 1 || op == 2) {
            if (c->wsmsg_op) { ws_fail(c, 1002, "Expected a continuation frame."); break; }
            c->wsmsg_op = op;
            c->wsmsg.len = 0;
        } else {
            ws_fail(c, 1002, "Unknown opcode.");
            break;
        }
        buf_add(&c->wsmsg, pl, (size_t)plen);
        if (fin) {
            int mop = c->wsmsg_op;
            c->wsmsg_op = 0;
            if (c->echo) echo_on_message(c, mop, buf_cstr(&c->wsmsg), c->wsmsg.len);
            else live_on_message(c, buf_cstr(&c->wsmsg), c->wsmsg.len);
            if (!c->closing) c->wsmsg.len = 0;
        }
    }
    if (!c->closing) buf_consume(&c->wsin, off);
}
