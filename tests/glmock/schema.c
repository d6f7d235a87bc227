/* Structured output (docs/protocol.md#structured-output): a generateContent
 * with generationConfig.responseMimeType "application/json" and a schema
 * (responseJsonSchema, JSON Schema; or responseSchema, the OpenAPI subset
 * with "STRING"/"OBJECT" types) is answered with JSON that fits the schema,
 * made from it deterministically: every property, strings from the reply
 * text (or the first enum value), numbers from the minimum (or 1), arrays of
 * minItems (or 2) items. Faults by words in the model id (README
 * "Structured output"): "schemabad" always answers JSON that misses the
 * required fields, "schemaflaky" does so unless the last user turn says what
 * was wrong ("did not match the JSON schema"), "schemanotjson" answers text. */
#include "glmock.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 16

static json_t *resolve_ref(json_t *root, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    json_t *node = root;
    char part[128];
    const char *p = ref + 2;
    while (*p && node) {
        size_t n = strcspn(p, "/");
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        node = json_object_get(node, part);
        p += n;
        if (*p == '/') p++;
    }
    return node;
}

static const char *type_of(json_t *s)
{
    json_t *t = json_object_get(s, "type");
    if (json_is_array(t)) { /* ["string", "null"]: the first that is not null */
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v)
            if (json_is_string(v) && strcasecmp(json_string_value(v), "null")) return json_string_value(v);
        return "null";
    }
    if (json_is_string(t)) return json_string_value(t);
    if (json_object_get(s, "properties")) return "object";
    if (json_object_get(s, "items")) return "array";
    return NULL;
}

static json_t *instance(json_t *root, json_t *s, const char *text, int depth)
{
    if (!json_is_object(s) || depth > MAX_DEPTH) return json_string(text);
    const char *ref = jstr(s, "$ref");
    if (ref) {
        json_t *t = resolve_ref(root, ref);
        if (t) return instance(root, t, text, depth + 1);
    }
    json_t *c = json_object_get(s, "const");
    if (c) return json_incref(c);
    json_t *en = json_object_get(s, "enum");
    if (json_is_array(en) && json_array_size(en)) return json_incref(json_array_get(en, 0));
    json_t *any = json_object_get(s, "anyOf");
    if (!any) any = json_object_get(s, "oneOf");
    if (json_is_array(any) && json_array_size(any)) return instance(root, json_array_get(any, 0), text, depth + 1);
    const char *t = type_of(s);
    if (!t) return json_string(text);
    if (!strcasecmp(t, "object")) {
        json_t *o = json_object();
        json_t *props = json_object_get(s, "properties");
        const char *k;
        json_t *ps;
        json_object_foreach(props, k, ps) json_object_set_new(o, k, instance(root, ps, text, depth + 1));
        return o;
    }
    if (!strcasecmp(t, "array")) {
        json_t *a = json_array();
        json_int_t n = json_integer_value(json_object_get(s, "minItems"));
        json_t *mx = json_object_get(s, "maxItems");
        if (n <= 0) n = 2;
        if (mx && json_integer_value(mx) < n) n = json_integer_value(mx);
        json_t *prefix = json_object_get(s, "prefixItems");
        for (json_int_t i = 0; i < n && i < 100; i++) {
            json_t *is = json_is_array(prefix) && (size_t)i < json_array_size(prefix)
                             ? json_array_get(prefix, (size_t)i) : json_object_get(s, "items");
            json_array_append_new(a, instance(root, is, text, depth + 1));
        }
        return a;
    }
    if (!strcasecmp(t, "integer")) {
        json_t *mn = json_object_get(s, "minimum");
        return json_integer(mn ? (json_int_t)json_number_value(mn) : 1);
    }
    if (!strcasecmp(t, "number")) {
        json_t *mn = json_object_get(s, "minimum");
        return json_real(mn ? json_number_value(mn) : 1.5);
    }
    if (!strcasecmp(t, "boolean")) return json_true();
    if (!strcasecmp(t, "null")) return json_null();
    json_int_t maxl = json_integer_value(json_object_get(s, "maxLength"));
    if (maxl > 0 && (json_int_t)strlen(text) > maxl) return json_stringn(text, (size_t)maxl);
    return json_string(text);
}

char *schema_reply(json_t *req, const char *model, const char *user_text)
{
    json_t *gc = jget(req, "generationConfig");
    const char *mt = jstr(gc, "responseMimeType");
    if (!mt || strcasecmp(mt, "application/json") != 0) return NULL;
    json_t *s = jget(gc, "responseJsonSchema");
    if (!s) s = jget(gc, "responseSchema");
    if (contains(model, "schemanotjson")) return xstrdup("Here is the answer you asked for.");
    bool told = user_text && contains(user_text, "did not match the JSON schema");
    if (contains(model, "schemabad") || (contains(model, "schemaflaky") && !told)) {
        /* JSON, but nothing the schema asked for: required fields missing, wrong type */
        return xstrdup("{\"unexpected\": true}");
    }
    if (!s) return xstrdup("{}");
    json_t *v = instance(s, s, user_text ? user_text : "", 0);
    char *out = json_compact(v);
    json_decref(v);
    return out;
}
