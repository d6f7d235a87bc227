/* /glmock/echo: a WebSocket test endpoint for glrun's ws client (not part of
 * the Gemini protocol). Every message is echoed with its own opcode, except
 * text messages starting with "!", which are commands:
 *   !close CODE REASON        close frame (CODE, REASON)
 *   !drop                     close the TCP socket, no close frame
 *   !big N [text|binary]      one N-byte message ('a'..'z' repeated), one frame
 *   !frag N K [text|binary]   the same N bytes as one message in K frames
 *   !flood COUNT SIZE         COUNT binary messages of SIZE bytes, paced by the
 *                             socket (produced lazily: memory stays bounded),
 *                             written back to back, up to 64 KiB per write
 *   !headers                  the upgrade request's headers as compact JSON
 * /glmock/stall accepts the TCP connection and never answers the upgrade. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOD_WRITE (64 * 1024)

static char *pattern(size_t n)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz";
    char *p = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) p[i] = abc[i % 26];
    p[n] = 0;
    return p;
}

static void push_frames(conn_t *c, int op, const char *p, size_t n, size_t k)
{
    if (k < 1) k = 1;
    buf_t b = {0};
    size_t each = n / k, off = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = i == k - 1 ? n - off : each;
        size_t fl;
        char *f = ws_frame(i == 0 ? op : 0, i == k - 1, p + off, len, &fl);
        buf_add(&b, f, fl);
        free(f);
        off += len;
    }
    oq_push(c, IT_DATA, b.p, b.len, 0);
    buf_free(&b);
}

/* One write per step: as many whole messages as fit in FLOOD_WRITE bytes
 * (at least one), so a flood of small messages costs the mock one write
 * per 64 KiB, not one per message, and the client, not the mock, sets the
 * pace. The next step is queued behind the write (memory stays bounded). */
static void flood_step(conn_t *c)
{
    if (!c->echo_flood_left) return;
    char *p = pattern(c->echo_flood_size);
    size_t fl;
    char *f = ws_frame(2, true, p, c->echo_flood_size, &fl);
    buf_t b = {0};
    do {
        buf_add(&b, f, fl);
        c->echo_flood_left--;
    } while (c->echo_flood_left && b.len + fl <= FLOOD_WRITE);
    oq_push(c, IT_DATA, b.p, b.len, 0);
    buf_free(&b);
    free(f);
    free(p);
    if (c->echo_flood_left) {
        item_t *it = oq_push(c, IT_CALL, NULL, 0, 0);
        it->fn = flood_step;
    }
}

static int kind_op(const char *s)
{
    return s && !strcmp(s, "binary") ? 2 : 1;
}

static void command(conn_t *c, const char *cmd)
{
    char kind[16] = "";
    unsigned long long a = 0, b = 0;
    if (!strncmp(cmd, "!close ", 7) || !strcmp(cmd, "!close")) {
        char *end;
        long code = strtol(cmd + 6, &end, 10);
        const char *reason = *end == ' ' ? end + 1 : end;
        ws_close_queued(c, code > 0 ? (int)code : 1000, reason, false);
    } else if (!strcmp(cmd, "!drop")) {
        oq_push(c, IT_ABORT, NULL, 0, 0);
    } else if (sscanf(cmd, "!big %llu %15s", &a, kind) >= 1 && a <= GLMOCK_MAX_WSMSG) {
        char *p = pattern((size_t)a);
        push_frames(c, kind_op(kind), p, (size_t)a, 1);
        free(p);
    } else if (sscanf(cmd, "!frag %llu %llu %15s", &a, &b, kind) >= 2 && a <= GLMOCK_MAX_WSMSG && b <= a + 1) {
        char *p = pattern((size_t)a);
        push_frames(c, kind_op(kind), p, (size_t)a, (size_t)b);
        free(p);
    } else if (sscanf(cmd, "!flood %llu %llu", &a, &b) == 2 && b <= GLMOCK_MAX_WSMSG) {
        c->echo_flood_left = (size_t)a;
        c->echo_flood_size = (size_t)b;
        item_t *it = oq_push(c, IT_CALL, NULL, 0, 0);
        it->fn = flood_step;
    } else if (!strcmp(cmd, "!headers")) {
        char *s = json_compact(c->echo_headers ? c->echo_headers : json_object());
        push_frames(c, 1, s, strlen(s), 1);
        free(s);
    } else {
        push_frames(c, 1, cmd, strlen(cmd), 1);   /* unknown command: plain echo */
    }
}

void echo_on_message(conn_t *c, int op, const char *p, size_t n)
{
    if (op == 1 && n > 0 && p[0] == '!' && n < 256) {
        char cmd[256];
        memcpy(cmd, p, n);
        cmd[n] = 0;
        command(c, cmd);
    } else {
        push_frames(c, op, p, n, 1);
    }
    oq_pump(c);
}
