/*
 * fuzz_chunk.c — gemini.rest.stream's fast path (jsondec_chunk_scan and
 * jsondec_chunk_push_text, runtime/jsondec.c) against the full decoder plus
 * the Lua that reads a chunk on the slow path (rest.lua's scan_parts, its
 * first candidate and finishReason, re-implemented below over the decoded
 * table). When the scan says "simple":
 *  - jsondec_decode accepts the same bytes (the scan never lets malformed
 *    JSON through), and the value is an object with no "error",
 *    "promptFeedback" or "text", exactly one candidate (a table) with no
 *    continuationToken, whose parts carry no call, inline data or code;
 *  - the text (non-thought, non-empty texts of the parts, concatenated)
 *    is byte for byte the slow path's, and it "carries an answer" exactly
 *    when it is not empty;
 *  - the finishReason is the slow path's (a string, or absent/null);
 *  - ci.usage is whether usageMetadata is a table.
 * "Not simple" needs no check: the caller decodes everything then.
 * Any mismatch aborts with both sides printed.
 */
#include "jsondec.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;

/* t -> ok, text, answer, finish, usage (ok false + why when the decoded
 * value is not a chunk the fast path may take) */
static const char *REF =
    "local null = ...\n"
    "return function(t)\n"
    "  if type(t) ~= 'table' then return false, 'not a table' end\n"
    "  if t.error ~= nil then return false, 'error' end\n"
    "  if t.promptFeedback ~= nil then return false, 'promptFeedback' end\n"
    "  if t.text ~= nil then return false, 'top-level text' end\n"
    "  local cands = t.candidates\n"
    "  if type(cands) ~= 'table' or type(cands[1]) ~= 'table' or cands[2] ~= nil then return false, 'candidates' end\n"
    "  for k in pairs(cands) do if k ~= 1 then return false, 'candidates key' end end\n"
    "  local cand = cands[1]\n"
    "  if cand.continuationToken ~= nil then return false, 'continuationToken' end\n"
    "  local content = cand.content\n"
    "  local parts = content ~= nil and type(content) == 'table' and content.parts\n"
    "  local text, buf, answer = '', nil, false\n"
    "  if type(parts) == 'table' then\n"
    "    local i = 1\n"
    "    while true do\n"
    "      local p = parts[i]\n"
    "      if p == nil then break end\n"
    "      if type(p) == 'table' then\n"
    "        local s = p.text\n"
    "        if type(s) == 'string' and s ~= '' and not p.thought then\n"
    "          answer = true\n"
    "          if buf then buf[#buf + 1] = s elseif text == '' then text = s else buf = { text, s } end\n"
    "        end\n"
    "        if type(p.functionCall) == 'table' or type(p.inlineData) == 'table'\n"
    "           or type(p.executableCode) == 'table' then return false, 'call/data/code part' end\n"
    "      end\n"
    "      i = i + 1\n"
    "    end\n"
    "  end\n"
    "  if buf then text = table.concat(buf) end\n"
    "  local fr = cand.finishReason\n"
    "  if fr == null then fr = nil end\n"
    "  if fr ~= nil and type(fr) ~= 'string' then return false, 'finishReason type' end\n"
    "  return true, text, answer, fr, type(t.usageMetadata) == 'table'\n"
    "end\n";

static void dump(const uint8_t *data, size_t size) {
    fprintf(stderr, "input (%zu bytes): ", size);
    fwrite(data, 1, size, stderr);
    fputc('\n', stderr);
}

#define MISMATCH(...)                                                                                                \
    do {                                                                                                             \
        fprintf(stderr, "fuzz_chunk: " __VA_ARGS__);                                                                 \
        fputc('\n', stderr);                                                                                         \
        dump(data, size);                                                                                            \
        abort();                                                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        if (luaL_loadstring(L, REF) != LUA_OK) abort();
        lua_pushlightuserdata(L, NULL);
        lua_call(L, 1, 1);
        lua_setglobal(L, "ref");
    }
    int top = lua_gettop(L);
    jsondec_chunk_info ci;
    int simple = jsondec_chunk_scan((const char *)data, size, &ci);
    if (!simple) {
        if (ci.ntext || ci.finish || ci.usage) MISMATCH("not simple, but ci is not cleared");
        return 0;
    }
    char err[256];
    if (!jsondec_decode(L, (const char *)data, size, err, sizeof err)) MISMATCH("simple, but jsondec: %s", err);
    lua_getglobal(L, "ref");
    lua_insert(L, -2);
    lua_call(L, 1, 5);
    if (!lua_toboolean(L, top + 1)) MISMATCH("simple, but the slow path says: %s", lua_tostring(L, top + 2));
    size_t rl;
    const char *rt = lua_tolstring(L, top + 2, &rl);
    int answer = lua_toboolean(L, top + 3);
    jsondec_chunk_push_text(L, &ci);
    size_t fl;
    const char *ft = lua_tolstring(L, -1, &fl);
    if (fl != rl || memcmp(ft, rt, rl) != 0)
        MISMATCH("text: fast %zu bytes \"%.*s\", slow %zu bytes \"%.*s\"", fl, (int)fl, ft, rl, (int)rl, rt);
    if (answer != (fl > 0)) MISMATCH("answer: slow %d, fast text of %zu bytes", answer, fl);
    if (lua_isnil(L, top + 4)) {
        if (ci.finish) MISMATCH("finishReason: fast \"%.*s\", slow none", (int)ci.finish_len, ci.finish);
    } else {
        size_t l;
        const char *r = lua_tolstring(L, top + 4, &l);
        if (!ci.finish || ci.finish_len != l || memcmp(ci.finish, r, l) != 0)
            MISMATCH("finishReason: slow \"%s\", fast %s", r, ci.finish ? "another" : "none");
    }
    if (lua_toboolean(L, top + 5) != ci.usage) MISMATCH("usage: fast %d", ci.usage);
    lua_settop(L, top);
    return 0;
}
