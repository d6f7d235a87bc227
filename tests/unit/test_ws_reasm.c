/*
 * test_ws_reasm.c — unit tests for runtime/ws_reasm.c: reassembly of
 * fragmented WebSocket messages, the max_message bound, and the UTF-8
 * check of text messages (RFC 6455 §8.1, Unicode Table 3-7).
 */
#include "unit.h"
#include "../../runtime/ws_reasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ws_reasm.c needs only these two of the runtime (core.c pulls in Lua) */
void gl_buf_add(gl_buf *b, const void *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + len + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void gl_buf_free(gl_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}



#define BOUND ((size_t)1 << 20)

/* one whole text message in one frame; the in-place check of a whole
 * message (ws_reasm_check_whole, the client's fast path) must agree */
static int text1(const char *s, size_t n)
{
    ws_reasm r;
    int st;
    memset(&r, 0, sizeof r);
    st = ws_reasm_feed(&r, s, n, 0, 1, BOUND);
    ws_reasm_free(&r);
    if (ws_reasm_check_whole(s, n, 0, BOUND) != st)
        return 99;   /* the two disagree: no expected status matches */
    return st;
}
#define TEXT(lit) text1(lit, sizeof lit - 1)

static void test_fragments_and_type(void)
{
    ws_reasm r;
    size_t len;
    int bin;
    unsigned char *m;
    memset(&r, 0, sizeof r);
    CHECK(ws_reasm_feed(&r, "ab", 2, 1, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "\xff\xfe", 2, 0, 0, BOUND) == WS_REASM_MORE);  /* binary: any bytes */
    CHECK(ws_reasm_feed(&r, "cd", 2, 0, 1, BOUND) == WS_REASM_DONE);
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 6 && bin == 1 && memcmp(m, "ab\xff\xfe" "cd", 6) == 0);
    free(m);
    CHECK(ws_reasm_feed(&r, "", 0, 0, 1, BOUND) == WS_REASM_DONE);          /* empty text */
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 0 && bin == 0 && m);
    free(m);
    ws_reasm_free(&r);
}

static void test_too_big(void)
{
    ws_reasm r;
    size_t len;
    int bin;
    unsigned char *m;
    memset(&r, 0, sizeof r);
    CHECK(ws_reasm_feed(&r, "abcd", 4, 0, 0, 6) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "efg", 3, 0, 1, 6) == WS_REASM_TOO_BIG);
    CHECK(ws_reasm_feed(&r, "xyz", 3, 1, 1, 6) == WS_REASM_DONE);        /* ready for the next */
    CHECK(ws_reasm_check_whole("abcdefg", 7, 1, 6) == WS_REASM_TOO_BIG);  /* whole, in place */
    CHECK(ws_reasm_check_whole("abcdefg", 7, 0, 6) == WS_REASM_TOO_BIG);
    CHECK(ws_reasm_check_whole("abcdef", 6, 0, 6) == WS_REASM_DONE);
    CHECK(ws_reasm_check_whole("\xff", 1, 1, 6) == WS_REASM_DONE);         /* binary: any bytes */
    CHECK(ws_reasm_check_whole("", 0, 0, 6) == WS_REASM_DONE);
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 3 && bin == 1 && memcmp(m, "xyz", 3) == 0);
    free(m);
    ws_reasm_free(&r);
}

static void test_utf8_valid(void)
{
    CHECK(TEXT("plain ASCII {\"setupComplete\":{}}") == WS_REASM_DONE);
    CHECK(TEXT("\xc2\x80 \xdf\xbf") == WS_REASM_DONE);                 /* U+0080, U+07FF */
    CHECK(TEXT("\xe0\xa0\x80 \xe2\x82\xac \xef\xbf\xbf") == WS_REASM_DONE); /* U+0800, euro, U+FFFF */
    CHECK(TEXT("\xed\x9f\xbf \xee\x80\x80") == WS_REASM_DONE);         /* around the surrogates */
    CHECK(TEXT("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf") == WS_REASM_DONE); /* U+10000, U+10FFFF */
    CHECK(TEXT("h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80") == WS_REASM_DONE);
}

static void test_utf8_invalid(void)
{
    CHECK(TEXT("\x80") == WS_REASM_BAD_UTF8);                 /* lone continuation */
    CHECK(TEXT("a\xbf") == WS_REASM_BAD_UTF8);
    CHECK(TEXT("\xc0\x80") == WS_REASM_BAD_UTF8);             /* overlong NUL */
    CHECK(TEXT("\xc1\xbf") == WS_REASM_BAD_UTF8);             /* overlong */
    CHECK(TEXT("\xe0\x80\x80") == WS_REASM_BAD_UTF8);         /* overlong */
    CHECK(TEXT("\xe0\x9f\xbf") == WS_REASM_BAD_UTF8);         /* overlong */
    CHECK(TEXT("\xed\xa0\x80") == WS_REASM_BAD_UTF8);         /* surrogate U+D800 */
    CHECK(TEXT("\xed\xbf\xbf") == WS_REASM_BAD_UTF8);         /* surrogate U+DFFF */
    CHECK(TEXT("\xf0\x80\x80\x80") == WS_REASM_BAD_UTF8);     /* overlong */
    CHECK(TEXT("\xf0\x8f\xbf\xbf") == WS_REASM_BAD_UTF8);     /* overlong */
    CHECK(TEXT("\xf4\x90\x80\x80") == WS_REASM_BAD_UTF8);     /* above U+10FFFF */
    CHECK(TEXT("\xf5\x80\x80\x80") == WS_REASM_BAD_UTF8);
    CHECK(TEXT("\xfe") == WS_REASM_BAD_UTF8);
    CHECK(TEXT("\xff") == WS_REASM_BAD_UTF8);
    CHECK(TEXT("\xe2\x82") == WS_REASM_BAD_UTF8);             /* cut at the end */
    CHECK(TEXT("\xc3") == WS_REASM_BAD_UTF8);
    CHECK(TEXT("\xe2\x28\xa1") == WS_REASM_BAD_UTF8);         /* ASCII where a continuation goes */
    CHECK(TEXT("{\"setupComplete\":{},\"x\":\"\x80\xc0\x80\"}") == WS_REASM_BAD_UTF8);
}

/* every offset of a bad byte after ASCII (the 8-byte fast path) */
static void test_utf8_offsets(void)
{
    char buf[64];
    for (size_t at = 0; at < 40; at++) {
        memset(buf, 'a', sizeof buf);
        buf[at] = (char)0x80;
        if (text1(buf, sizeof buf) != WS_REASM_BAD_UTF8) {
            snprintf(g_why, sizeof g_why, "bad byte at %zu not found", at);
            return;
        }
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, "\xe2\x82\xac", 3);
        if (text1(buf, sizeof buf) != WS_REASM_DONE) {
            snprintf(g_why, sizeof g_why, "euro at %zu refused", at);
            return;
        }
    }
}

static void test_utf8_across_fragments(void)
{
    ws_reasm r;
    size_t len;
    int bin;
    unsigned char *m;
    memset(&r, 0, sizeof r);
    /* a character split over three frames is fine */
    CHECK(ws_reasm_feed(&r, "x\xe2", 2, 0, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "\x82", 1, 0, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "\xac", 1, 0, 1, BOUND) == WS_REASM_DONE);
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 4 && memcmp(m, "x\xe2\x82\xac", 4) == 0);
    free(m);
    /* an overlong form is refused at the frame that makes it so */
    CHECK(ws_reasm_feed(&r, "ok \xe0", 4, 0, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "\x80", 1, 0, 0, BOUND) == WS_REASM_BAD_UTF8);
    /* a bad byte fails the first frame, before the message ends */
    CHECK(ws_reasm_feed(&r, "\xff more to come", 15, 0, 0, BOUND) == WS_REASM_BAD_UTF8);
    /* a character still open when the message ends */
    CHECK(ws_reasm_feed(&r, "\xf0\x9f", 2, 0, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "", 0, 0, 1, BOUND) == WS_REASM_BAD_UTF8);
    /* state does not leak into the next message */
    CHECK(ws_reasm_feed(&r, "\xf0\x9f", 2, 0, 0, BOUND) == WS_REASM_MORE);
    CHECK(ws_reasm_feed(&r, "\x98", 1, 0, 0, 2) == WS_REASM_TOO_BIG);
    CHECK(ws_reasm_feed(&r, "\x80", 1, 1, 1, BOUND) == WS_REASM_DONE);     /* binary */
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 1 && bin == 1);
    free(m);
    CHECK(ws_reasm_feed(&r, "fine", 4, 0, 1, BOUND) == WS_REASM_DONE);
    m = ws_reasm_take(&r, &len, &bin);
    CHECK(len == 4 && bin == 0);
    free(m);
    ws_reasm_free(&r);
}

int main(void)
{
    static const unit_test tests[] = {
        { "fragments_and_type", test_fragments_and_type },
        { "too_big", test_too_big },
        { "utf8_valid", test_utf8_valid },
        { "utf8_invalid", test_utf8_invalid },
        { "utf8_offsets", test_utf8_offsets },
        { "utf8_across_fragments", test_utf8_across_fragments },
    };
    int rc = unit_run(tests, sizeof tests / sizeof tests[0], NULL, NULL);
    return rc;
}
