/* ws_reasm.h — reassembly of fragmented WebSocket messages, bounded, with
 * the UTF-8 check RFC 6455 asks of text messages.
 * Pure C (no lws, no Lua) so that it can be fuzzed on its own. */
#ifndef GL_WS_REASM_H
#define GL_WS_REASM_H
#include "gl.h"

typedef struct ws_reasm {
    gl_buf buf;      /* the message so far */
    int active;      /* a message is in progress */
    int binary;      /* its type, from its first frame */
    int u8_need;     /* text: continuation bytes the last character still needs */
    unsigned char u8_lo, u8_hi;   /* and the range of the next one */
} ws_reasm;

enum { WS_REASM_MORE = 0, WS_REASM_DONE = 1, WS_REASM_TOO_BIG = -1, WS_REASM_BAD_UTF8 = -2 };

/* Add a piece of a message. `binary` counts only for the first piece of a
 * message; `final` says the piece ends it. Returns WS_REASM_DONE when the
 * message is complete (take it with ws_reasm_take), WS_REASM_MORE,
 * WS_REASM_TOO_BIG when it would pass `max` bytes, or WS_REASM_BAD_UTF8
 * when a text message is not valid UTF-8 (found at the first piece that
 * makes it so; an unfinished character at the end counts). On either
 * failure the partial message is dropped and the reassembler is ready for
 * the next message. */
int ws_reasm_feed(ws_reasm *r, const void *in, size_t len, int binary, int final, size_t max);

/* A whole message in one piece while no message is in progress: the same
 * checks as ws_reasm_feed (size, then UTF-8 for text), nothing copied and
 * the reassembler untouched. Returns WS_REASM_DONE, WS_REASM_TOO_BIG or
 * WS_REASM_BAD_UTF8. */
int ws_reasm_check_whole(const void *in, size_t len, int binary, size_t max);

/* The completed message: the caller owns the bytes (free()); never NULL. */
unsigned char *ws_reasm_take(ws_reasm *r, size_t *len, int *binary);

void ws_reasm_free(ws_reasm *r);

/* A close code an endpoint may put in a close frame (RFC 6455 7.4): the
 * registered 1000-1014 except 1004 (reserved), 1005 and 1006 (never sent:
 * they mean "no code" and "dropped"), and the private 3000-4999. */
static inline int ws_close_code_valid(long long code)
{
    return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
           (code >= 3000 && code <= 4999);
}
#endif
