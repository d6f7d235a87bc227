/*
 * jsonenc.h — Lua values to JSON text, as lua-cjson 2.1.0 writes them
 * (same escapes, same array detection, same errors), except numbers:
 *  - an integer is written as its digits (lua-cjson goes through a double
 *    and 14 significant digits: 12345678901234567 became 1.2345678901235e+16);
 *  - a float is written with the fewest significant digits (14 to 17) that
 *    read back as the same double, so a decoded float encodes back unchanged.
 * NaN and infinities cannot be encoded; nil and the lightuserdata NULL
 * (cjson.null) are null. Tables: a table whose keys are all positive
 * integers is an array (holes are null; more than half holes past index 10
 * is an error), any other table an object (number and string keys only);
 * an empty table is {}. Nesting deeper than 1000 tables is an error.
 */
#ifndef GLRUN_JSONENC_H
#define GLRUN_JSONENC_H

#include <lua.h>

/* Push the JSON text of the value at idx. Raises a Lua error (a message
 * string, no position) when the value cannot be encoded. */
void jsonenc_encode(lua_State *L, int idx);

#endif
