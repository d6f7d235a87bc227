/*
 * test_jsondec.c — unit tests for runtime/jsondec.c (JSON text -> Lua
 * values) and runtime/jsonenc.c (Lua values -> JSON text): integers as
 * integers, exact floats, strings and escapes, strict validation with byte
 * offsets, the depth limit, tables sized past the batches, and round trips.
 */
#include "unit.h"
#include "../../runtime/jsondec.h"
#include "../../runtime/jsonenc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *L;


/* Decode text[0..len) and run the Lua chunk `code` with the value as `...`:
 * returns NULL when the chunk returns true, else why not. */
static const char *dec_check_len(const char *text, size_t len, const char *code) {
    static char why[300];
    int top = lua_gettop(L);
    char err[200];
    if (!jsondec_decode(L, text, len, err, sizeof err)) {
        snprintf(why, sizeof why, "decode failed: %s", err);
        return why;
    }
    if (lua_gettop(L) != top + 1) return "decode left the stack unbalanced";
    if (luaL_loadstring(L, code) != LUA_OK) {
        snprintf(why, sizeof why, "bad check chunk: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        return why;
    }
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        snprintf(why, sizeof why, "check raised: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        return why;
    }
    int ok = lua_toboolean(L, -1);
    lua_settop(L, top);
    return ok ? NULL : "check returned false";
}
#define DEC(text, code) do { const char *w_ = dec_check_len(text, strlen(text), code); \
    if (w_) FAILF("%s -> %s: %s", text, code, w_); } while (0)

/* Decoding fails, says `want` (a substring) and leaves the stack as it was. */
#define DEC_ERR(text, want) do { char e_[200]; int top_ = lua_gettop(L); \
    if (jsondec_decode(L, text, strlen(text), e_, sizeof e_)) { lua_settop(L, top_); FAILF("%s decoded, expected an error", text); } \
    if (lua_gettop(L) != top_) FAILF("%s: the stack changed on error", text); \
    if (!strstr(e_, want)) FAILF("%s: error \"%s\", expected \"%s\"", text, e_, want); } while (0)

/* Run the Lua chunk `code` (jsonc-like helpers dec/enc are globals). */
static const char *lua_check(const char *code) {
    static char why[300];
    int top = lua_gettop(L);
    if (luaL_dostring(L, code) != LUA_OK) {
        snprintf(why, sizeof why, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return why;
    }
    int ok = lua_toboolean(L, -1);
    lua_settop(L, top);
    return ok ? NULL : "returned false";
}
#define LUA(code) do { const char *w_ = lua_check(code); if (w_) FAILF("%.120s...: %.300s", code, w_); } while (0)

static int l_dec(lua_State *S) {
    size_t n;
    const char *s = luaL_checklstring(S, 1, &n);
    char err[200];
    if (jsondec_decode(S, s, n, err, sizeof err)) return 1;
    lua_pushnil(S);
    lua_pushstring(S, err);
    return 2;
}

static int l_enc(lua_State *S) {
    jsonenc_encode(S, 1);
    return 1;
}

static void test_integers(void) {
    DEC("0", "return math.type(...) == 'integer' and ... == 0");
    DEC("3", "return math.type(...) == 'integer' and ... == 3");
    DEC("-17", "return math.type(...) == 'integer' and ... == -17");
    DEC("12345678901234567", "return math.type(...) == 'integer' and ... == 12345678901234567");
    DEC("9223372036854775807", "return math.type(...) == 'integer' and ... == math.maxinteger");
    DEC("-9223372036854775808", "return math.type(...) == 'integer' and ... == math.mininteger");
    DEC("9223372036854775808", "return math.type(...) == 'float' and ... == 2^63");
    DEC("-9223372036854775809", "return math.type(...) == 'float' and ... == -2^63");
    DEC("18446744073709551616", "return math.type(...) == 'float' and ... == 2^64");
    DEC("123456789012345678901234567890", "return math.type(...) == 'float' and ... == 1.2345678901234568e29");
    DEC("{\"usageMetadata\":{\"totalTokenCount\":3}}",
        "local v = ...; return math.type(v.usageMetadata.totalTokenCount) == 'integer'");
}

static void test_floats(void) {
    DEC("1.0", "return math.type(...) == 'float' and ... == 1");
    DEC("1e2", "return math.type(...) == 'float' and ... == 100");
    DEC("1E+2", "return math.type(...) == 'float' and ... == 100");
    DEC("25e-1", "return ... == 2.5");
    DEC("-0", "local v = ...; return math.type(v) == 'float' and v == 0 and 1/v < 0");
    DEC("0.1", "return ... == 0.1");
    DEC("0.30000000000000004", "return ... == 0.1 + 0.2");
    DEC("1.7976931348623157e308", "return ... == 1.7976931348623157e308");
    DEC("5e-324", "return ... == 5e-324");
    DEC("2.2250738585072014e-308", "return ... == 2.2250738585072014e-308");
    DEC("-1.5", "return ... == -1.5");
    /* a long mantissa (past the small copy buffer) */
    DEC("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798",
        "return ... == math.pi");
}

static void test_strings(void) {
    DEC("\"\"", "return ... == ''");
    DEC("\"hello\"", "return ... == 'hello'");
    DEC("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "return ... == 'a\"b\\\\c/d\\b\\f\\n\\r\\t'");
    DEC("\"\\u00e9\\u20AC\\ud83d\\ude00\"", "return ... == '\\u{e9}\\u{20ac}\\u{1f600}'");
    const char nul[] = "\"a\\u0000b\"";
    const char *w = dec_check_len(nul, sizeof nul - 1, "return ... == 'a\\0b'");
    if (w) FAILF("\\u0000: %s", w);
    DEC("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "return ... == 'caf\\u{e9} \\u{20ac} \\u{1f600}'");
    DEC("\"\x7f\"", "return ... == '\\x7f'");
    /* long strings: past 16-byte scans, with escapes late and early */
    DEC("\"0123456789abcdef0123456789abcdef0123456789abcdef\\n0123456789abcdef0123456789abcdef\"",
        "return ... == ('0123456789abcdef'):rep(3) .. '\\n' .. ('0123456789abcdef'):rep(2)");
    DEC("\"\\t\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 end\"",
        "return ... == '\\t' .. ('\\u{e9}'):rep(10) .. ' end'");
    /* keys are interned Lua strings */
    DEC("{\"k\":1,\"key with spaces\":2,\"\\u006b2\":3}", "local v = ...; return v.k == 1 and v['key with spaces'] == 2 and v.k2 == 3");
}

static void test_structures(void) {
    DEC("[]", "local v = ...; return type(v) == 'table' and next(v) == nil");
    DEC("{}", "local v = ...; return type(v) == 'table' and next(v) == nil");
    DEC(" [ 1 , \"a\" , true , false , null , [ ] , { } ] ",
        "local v = ...; return #v == 7 and v[1] == 1 and v[2] == 'a' and v[3] == true and v[4] == false"
        " and v[5] == null and type(v[6]) == 'table' and type(v[7]) == 'table'");
    DEC("null", "local v = ...; return type(v) == 'userdata' and v == null and getmetatable(v) == nil");
    DEC("{\"a\":1,\"a\":2}", "return (...).a == 2");
    DEC("{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}]}",
        "local v = ...; local c = v.candidates[1]; return c.content.parts[1].text == 'Hi' and c.content.role == 'model'"
        " and c.finishReason == 'STOP' and math.type(c.index) == 'integer'");
    /* past the batches: 1000 elements, 100 keys, nested */
    char big[16384];
    size_t n = 0;
    big[n++] = '[';
    for (int i = 1; i <= 1000; i++) n += (size_t)snprintf(big + n, sizeof big - n, "%s%d", i > 1 ? "," : "", i);
    big[n++] = ']';
    big[n] = 0;
    DEC(big, "local v = ...; if #v ~= 1000 then return false end; for i = 1, 1000 do if v[i] ~= i then return false end end; return true");
    n = 0;
    big[n++] = '{';
    for (int i = 1; i <= 100; i++) n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":[%d,{\"x\":%d}]", i > 1 ? "," : "", i, i, -i);
    big[n++] = '}';
    big[n] = 0;
    DEC(big, "local v = ...; local c = 0; for k in pairs(v) do c = c + 1 end; if c ~= 100 then return false end;"
             " for i = 1, 100 do local e = v['k' .. i]; if e[1] ~= i or e[2].x ~= -i then return false end end; return true");
    n = 0; /* 40 duplicate keys, the batch flushed in between: the last wins */
    big[n++] = '{';
    for (int i = 1; i <= 40; i++) n += (size_t)snprintf(big + n, sizeof big - n, "%s\"d\":%d", i > 1 ? "," : "", i);
    big[n++] = '}';
    big[n] = 0;
    DEC(big, "return (...).d == 40");
}

/* The string cache: strings that agree in length and in their first and
 * last 8 bytes, differing in the middle or in one byte, at every length up
 * to the short-string limit, as keys and values, decoded twice (miss, then
 * hit) and at the end of the input (no bytes after them to read). */
static void test_string_cache(void) {
    LUA("local parts = {} for n = 0, 41 do for v = 0, 2 do"
        "   local s = n >= 17 and ('A'):rep(8) .. string.char(97 + v):rep(n - 16) .. ('B'):rep(8)"
        "     or n > 0 and ('x'):rep(n - 1) .. string.char(97 + v) or ''"
        "   parts[#parts + 1] = s end end"
        " local function doc() local o, a = {}, {} for i, s in ipairs(parts) do"
        "   o[#o + 1] = ('\"%s\":%d'):format(s, i) a[#a + 1] = ('\"%s\"'):format(s) end"
        "   return '{' .. table.concat(o, ',') .. '}', '[' .. table.concat(a, ',') .. ']' end"
        " local od, ad = doc()"
        " for round = 1, 3 do"
        "   local o, a = dec(od), dec(ad)"
        "   local last = {} for i, s in ipairs(parts) do last[s] = i end"
        "   for s, i in pairs(last) do if o[s] ~= i then error('key ' .. s .. ' round ' .. round) end end"
        "   for i, s in ipairs(parts) do if a[i] ~= s then error('value ' .. s .. ' round ' .. round) end end"
        "   for _, s in ipairs(parts) do if dec('\"' .. s .. '\"') ~= s then error('alone ' .. s) end end"
        " end return true");
}

static void test_depth(void) {
    static char deep[2 * 1001 + 1];
    for (int i = 0; i < 1000; i++) deep[i] = '[', deep[1000 + i] = ']';
    deep[2000] = 0;
    const char *w = dec_check_len(deep, 2000, "local v = ...; for i = 1, 999 do v = v[1] end; return type(v) == 'table' and next(v) == nil");
    if (w) FAILF("1000 levels: %s", w);
    for (int i = 0; i < 1001; i++) deep[i] = '[', deep[1001 + i] = ']';
    deep[2002] = 0;
    DEC_ERR(deep, "invalid JSON at byte 1001: nested too deep");
    for (int i = 0; i < 1001; i++) deep[i] = '{';
    deep[1001] = 0;
    DEC_ERR(deep, "at byte 2: expected a string key");
}

static void test_errors(void) {
    DEC_ERR("", "invalid JSON at byte 1: unexpected end of input");
    DEC_ERR("   ", "at byte 4: unexpected end of input");
    DEC_ERR("[1,]", "at byte 4: expected a value");
    DEC_ERR("[1 2]", "at byte 4: expected ',' or ']'");
    DEC_ERR("{\"a\" 1}", "at byte 6: expected ':'");
    DEC_ERR("{\"a\":1,}", "at byte 8: expected a string key");
    DEC_ERR("{1:2}", "at byte 2: expected a string key");
    DEC_ERR("{\"a\":1", "at byte 7: unexpected end of input");
    DEC_ERR("{\"a\":1} x", "at byte 9: more data after the value");
    DEC_ERR("01", "at byte 1: invalid number (leading zero)");
    DEC_ERR("-01", "at byte 1: invalid number (leading zero)");
    DEC_ERR("+1", "at byte 1: expected a value");
    DEC_ERR(".5", "at byte 1: expected a value");
    DEC_ERR("1.", "at byte 3: unexpected end of input");
    DEC_ERR("1.e5", "at byte 3: invalid number (a digit must follow '.')");
    DEC_ERR("1e", "unexpected end of input");
    DEC_ERR("1e+x", "at byte 4: invalid number (a digit must follow the exponent)");
    DEC_ERR("-", "unexpected end of input");
    DEC_ERR("-x", "at byte 2: invalid number");
    DEC_ERR("0x10", "at byte 2: more data after the value");
    DEC_ERR("NaN", "at byte 1: expected a value");
    DEC_ERR("Infinity", "at byte 1: expected a value");
    DEC_ERR("-Infinity", "at byte 2: invalid number");
    DEC_ERR("tru", "at byte 1: expected a value");
    DEC_ERR("nulll", "at byte 5: more data after the value");
    DEC_ERR("\"abc", "at byte 5: unexpected end of input");
    DEC_ERR("\"a\tb\"", "at byte 3: control character in string");
    DEC_ERR("\"a\\qb\"", "at byte 3: invalid escape in string");
    DEC_ERR("\"\\u12G4\"", "at byte 2: invalid \\u escape");
    DEC_ERR("\"\\u12\"", "invalid \\u escape");
    DEC_ERR("\"\\ud800\"", "at byte 2: lone UTF-16 surrogate");
    DEC_ERR("\"\\ud800\\u0041\"", "at byte 2: lone UTF-16 surrogate");
    DEC_ERR("\"\\udc00\\ud800\"", "at byte 2: lone UTF-16 surrogate");
    DEC_ERR("\"\xff\"", "at byte 2: invalid UTF-8");
    DEC_ERR("\"\xc0\x80\"", "at byte 2: invalid UTF-8");         /* overlong NUL */
    DEC_ERR("\"\xe0\x80\xaf\"", "at byte 2: invalid UTF-8");     /* overlong '/' */
    DEC_ERR("\"\xed\xa0\x80\"", "at byte 2: invalid UTF-8");     /* a surrogate */
    DEC_ERR("\"\xf4\x90\x80\x80\"", "at byte 2: invalid UTF-8"); /* above U+10FFFF */
    DEC_ERR("\"\xc3\"", "at byte 2: invalid UTF-8");             /* cut */
    DEC_ERR("\"\\n\xc3\"", "at byte 4: invalid UTF-8");          /* cut, after an escape */
    /* the input need not end with a NUL: only len bytes are read */
    const char *w = dec_check_len("12345", 2, "return ... == 12");
    if (w) FAILF("len 2 of \"12345\": %s", w);
    char e[200];
    CHECK(!jsondec_decode(L, "\"ab\"", 3, e, sizeof e));
    CHECK(strstr(e, "at byte 4: unexpected end of input") != NULL);
    CHECK(!jsondec_decode(L, "tru", 3, NULL, 0)); /* err may be NULL */
}

static void test_encode(void) {
    LUA("return enc(12345678901234567) == '12345678901234567'");
    LUA("return enc(dec('12345678901234567')) == '12345678901234567'");
    LUA("return enc(math.mininteger) == '-9223372036854775808'");
    LUA("return enc(3.0) == '3' and enc(-0.0) == '-0' and enc(0.5) == '0.5'");
    LUA("return enc(0.1) == '0.1' and enc(0.1 + 0.2) == '0.30000000000000004'");
    LUA("return enc(1e300) == '1e+300' and dec(enc(2^63)) == 2^63 and math.type(dec(enc(2^63))) == 'float'");
    LUA("return dec(enc(5e-324)) == 5e-324 and dec(enc(2^-1074 * 3)) == 2^-1074 * 3");
    LUA("for _, s in ipairs{'0.1', '0.30000000000000004', '1e+300', '-1.5', '1.7976931348623157e+308',"
        " '123456.789', '9007199254740993', '-0', '12345678901234567', '1e-07'} do"
        " local v = dec(s); if enc(v) ~= s or math.type(dec(enc(v))) ~= math.type(v) then error(s .. ' -> ' .. enc(v)) end end; return true");
    LUA("return enc('a/b\"c\\\\d\\n\\1\\127\\u{e9}') == [[\"a\\/b\\\"c\\\\d\\n\\u0001\\u007f\xc3\xa9\"]]");
    LUA("return enc({1, 2, 'x'}) == '[1,2,\"x\"]' and enc({}) == '{}' and enc({a = true}) == '{\"a\":true}'");
    LUA("return enc({[1] = 1, [3] = 3}) == '[1,null,3]'");
    LUA("return enc({[2.5] = 1}) == '{\"2.5\":1}' and enc({[-1] = 1}) == '{\"-1\":1}'");
    LUA("return enc(dec('null')) == 'null' and enc(nil) == 'null'");
    LUA("return not pcall(enc, 0/0) and not pcall(enc, 1/0) and not pcall(enc, print)");
    LUA("local ok, e = pcall(enc, {[20] = 1}); return not ok and e == 'Cannot serialise table: excessively sparse array'");
    LUA("local ok, e = pcall(enc, {[true] = 1}); return not ok and e == 'Cannot serialise boolean: table key must be a number or string'");
    LUA("local t = {}; local c = t; for i = 1, 1000 do c[1] = {}; c = c[1] end;"
        " local ok, e = pcall(enc, t); return not ok and e:find('excessive nesting') ~= nil");
    LUA("local t = {}; local c = t; for i = 1, 998 do c[1] = {}; c = c[1] end; return #enc(t) == 1998");
    /* a document through both: same text back (keys in one order) */
    LUA("local s = '{\"usageMetadata\":{\"totalTokenCount\":12}}'; local v = dec(s);"
        " return math.type(v.usageMetadata.totalTokenCount) == 'integer' and enc(v) == s");
    /* a big text (the kept buffer is released past 1 MiB) */
    LUA("local s = ('x'):rep(3 << 20); return enc({s}) == '[\"' .. s .. '\"]' and enc(1) == '1'");
}

/* after each test: it left nothing on the Lua stack */
static void stack_empty(void)
{
    if (lua_gettop(L) != 0 && !g_why[0]) snprintf(g_why, sizeof g_why, "the Lua stack holds %d values", lua_gettop(L));
    lua_settop(L, 0);
}

int main(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "dec", l_dec);
    lua_register(L, "enc", l_enc);
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
    static const unit_test tests[] = {
        { "integers", test_integers },
        { "floats", test_floats },
        { "strings", test_strings },
        { "structures", test_structures },
        { "string_cache", test_string_cache },
        { "depth", test_depth },
        { "errors", test_errors },
        { "encode", test_encode },
    };
    int rc = unit_run(tests, sizeof tests / sizeof tests[0], NULL, stack_empty);
    lua_close(L);
    return rc;
}
