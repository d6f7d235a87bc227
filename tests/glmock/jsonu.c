/* JSON helpers: proto3-JSON field lookup (camelCase or snake_case) and the
 * three output shapes glmock writes (pretty, one-line, compact). */
#include "glmock.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

json_t *jget(json_t *obj, const char *camel)
{
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, camel);
    if (v) return v;
    char snake[128];
    size_t o = 0;
    for (const char *s = camel; *s && o + 2 < sizeof snake; s++) {
        if (isupper((unsigned char)*s)) {
            snake[o++] = '_';
            snake[o++] = (char)tolower((unsigned char)*s);
        } else {
            snake[o++] = *s;
        }
    }
    snake[o] = 0;
    return json_object_get(obj, snake);
}

const char *jstr(json_t *obj, const char *camel)
{
    return json_string_value(jget(obj, camel));
}

bool jtrue(json_t *obj, const char *camel)
{
    return json_is_true(jget(obj, camel));
}

char *json_pretty(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) return xstrdup("{}\n");
    size_t n = strlen(s);
    char *out = xmalloc(n + 2);
    memcpy(out, s, n);
    out[n] = '\n';
    out[n + 1] = 0;
    free(s);
    return out;
}

char *json_line(json_t *j)
{
    char *s = json_dumps(j, JSON_PRESERVE_ORDER);
    return s ? s : xstrdup("{}");
}

char *json_compact(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    return s ? s : xstrdup("null");
}
