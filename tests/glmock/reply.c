/* The deterministic "model": reads a conversation, decides the reply
 * (echo text, a function call, or the echo of a function response), counts
 * tokens as whitespace-separated words and splits replies into chunks at
 * word boundaries. Shared by REST and Live. */
#include "glmock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parts_tokens(json_t *parts)
{
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        const char *t = jstr(p, "text");
        if (t) n += (int)count_words(t);
    }
    return n;
}

int content_tokens(json_t *contents)
{
    int n = 0;
    size_t i;
    json_t *ct;
    if (json_is_object(contents)) return parts_tokens(jget(contents, "parts"));
    json_array_foreach(contents, i, ct) n += parts_tokens(jget(ct, "parts"));
    return n;
}

int instruction_tokens(json_t *si)
{
    if (json_is_string(si)) return (int)count_words(json_string_value(si));
    return si ? parts_tokens(jget(si, "parts")) : 0;
}

/* Text of the last user turn (text parts joined). When that turn carries
 * functionResponse parts, *has_fnresp is set and the parts are returned. */
char *last_user_text(json_t *contents, bool *has_fnresp, json_t **fnresp_parts)
{
    *has_fnresp = false;
    if (fnresp_parts) *fnresp_parts = NULL;
    json_t *last = NULL;
    if (json_is_array(contents)) {
        for (size_t i = json_array_size(contents); i-- > 0;) {
            json_t *ct = json_array_get(contents, i);
            const char *role = jstr(ct, "role");
            if (!role || !strcmp(role, "user")) { last = ct; break; }
        }
    } else if (json_is_object(contents)) {
        last = contents;
    }
    buf_t b = {0};
    buf_adds(&b, "");
    if (last) {
        json_t *parts = jget(last, "parts");
        size_t i;
        json_t *p;
        json_array_foreach(parts, i, p) {
            const char *t = jstr(p, "text");
            if (t) buf_adds(&b, t);
            if (jget(p, "functionResponse")) *has_fnresp = true;
        }
        if (*has_fnresp && fnresp_parts) *fnresp_parts = parts;
    }
    return b.p;
}

/* "What's the weather in Paris?" -> "Paris"; no "in " -> "Paris". */
char *weather_location(const char *text)
{
    const char *best = NULL;
    for (const char *p = text; (p = strstr(p, "in ")) != NULL; p++)
        if (p == text || isspace((unsigned char)p[-1])) best = p + 3;
    if (!best) return xstrdup("Paris");
    while (isspace((unsigned char)*best)) best++;
    size_t n = strlen(best);
    while (n && (isspace((unsigned char)best[n - 1]) || strchr("?.!,;:\"'", best[n - 1]))) n--;
    if (!n) return xstrdup("Paris");
    char *out = xmalloc(n + 1);
    memcpy(out, best, n);
    out[n] = 0;
    return out;
}

char *first_function_name(json_t *tools)
{
    size_t i, k;
    json_t *t, *fd;
    json_array_foreach(tools, i, t) {
        json_t *decls = jget(t, "functionDeclarations");
        json_array_foreach(decls, k, fd) {
            const char *name = jstr(fd, "name");
            if (name) return xstrdup(name);
        }
    }
    return NULL;
}

/* Split at word starts into pieces; returns the number of pieces and their
 * start offsets. Concatenating the pieces gives the text back exactly. */
size_t split_chunks(const char *text, size_t **starts)
{
    size_t len = strlen(text), nw = 0;
    size_t *ws = xmalloc((len + 2) * sizeof *ws);
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)text[i]) && (i == 0 || isspace((unsigned char)text[i - 1]))) {
            /* A piece starts at the whitespace before a word (the first at 0). */
            size_t s = i;
            while (s > 0 && isspace((unsigned char)text[s - 1])) s--;
            ws[nw] = nw == 0 ? 0 : s;
            nw++;
        }
    }
    if (nw == 0) ws[nw++] = 0;
    size_t nchunks = nw < 3 ? nw : (nw + 3) / 4 < 3 ? 3 : (nw + 3) / 4;
    if (nchunks > 64) nchunks = 64;
    size_t *out = xmalloc((nchunks + 1) * sizeof *out);
    for (size_t k = 0; k < nchunks; k++) out[k] = ws[k * nw / nchunks];
    out[nchunks] = len;
    free(ws);
    *starts = out;
    return nchunks;
}

char *response_id(const char *model, const char *body, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t h1 = fnv1a(model, strlen(model), 0);
    h1 = fnv1a(body, n, h1);
    uint64_t h2 = fnv1a(body, n, h1 ^ 0x9e3779b97f4a7c15ull);
    char *out = xmalloc(24);
    for (int i = 0; i < 23; i++) {
        uint64_t *h = i < 11 ? &h1 : &h2;
        out[i] = al[*h & 63];
        *h >>= 6;
        if (i == 10) h1 = h1 ? h1 : 1;
    }
    out[23] = 0;
    return out;
}
