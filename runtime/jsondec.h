/*
 * jsondec.h — JSON text to Lua values in one pass (no intermediate tree).
 *
 * Contract:
 *  - Strict RFC 8259: one value (any type at the top), whitespace around it,
 *    nothing else; strings valid UTF-8 with no raw control characters; no
 *    leading zeros, no '+', no NaN/Infinity, no hex, no trailing commas.
 *    Nesting deeper than JSONDEC_MAX_DEPTH arrays/objects is an error.
 *  - Objects and arrays become tables (keys as Lua strings; duplicate keys:
 *    the last wins), strings Lua strings (escapes and UTF-16 surrogate pairs
 *    decoded; a lone surrogate is an error), true/false booleans, null the
 *    lightuserdata NULL (== lua-cjson's cjson.null).
 *  - A number without fraction or exponent that fits in 64 bits becomes a
 *    Lua integer; any other number a float, rounded as strtod rounds
 *    (correctly). "-0" stays the float -0.0 so that it encodes back as -0.
 *  - Everything else is what lua-cjson 2.1.0 returns for the same text.
 *
 * The input need not be NUL-terminated. Memory errors raise as usual in the
 * Lua API; malformed input never raises.
 */
#ifndef GLRUN_JSONDEC_H
#define GLRUN_JSONDEC_H

#include <lua.h>
#include <stddef.h>

#define JSONDEC_MAX_DEPTH 1000

/* Decode s[0..len) and push the value: returns 1. On malformed input push
 * nothing, return 0 and write "invalid JSON at byte N: what" to err (N counts
 * bytes from 1; err may be NULL). */
int jsondec_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen);

/* The fast path of a streamed GenerateContentResponse (gemini.rest.stream):
 * jsondec_chunk_scan validates s[0..len) as jsondec_decode would and, when
 * the response is "simple" — a top-level object with exactly one candidate
 * (an object), no "error", "promptFeedback" or "text" key, a candidate with
 * no continuationToken and a finishReason that is absent, null or a string
 * without escapes, parts (if any) that are objects holding only "text" (a
 * string), "thought" (true/false) and "thoughtSignature", no duplicate of
 * any of those keys, no key with an escape where keys are read, nesting at
 * most 64 deep — fills ci and returns 1. Anything else (malformed input
 * too) returns 0: decode the whole text instead. ci->text: the non-empty
 * texts of the parts that are not thoughts, in order (their concatenation
 * is the chunk's text); ci->finish: the finishReason (no NUL), or NULL;
 * ci->usage: whether usageMetadata is an object or an array (a table). The spans point into s. */
#define JSONDEC_CHUNK_TEXTS 16
typedef struct {
    struct {
        const char *p; /* past the opening quote */
        size_t len;    /* to the closing quote */
        int esc;       /* holds an escape */
    } text[JSONDEC_CHUNK_TEXTS];
    int ntext;
    const char *finish;
    size_t finish_len;
    int usage;
} jsondec_chunk_info;
int jsondec_chunk_scan(const char *s, size_t len, jsondec_chunk_info *ci);
/* Push the concatenation of ci's texts, escapes decoded. */
void jsondec_chunk_push_text(lua_State *L, const jsondec_chunk_info *ci);

#endif
