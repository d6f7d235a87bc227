/* The model catalog served by GET models, mirroring PROTOCOL.md §1.7 / §4.1.
 * Retired Live ids (gemini-2.0-flash-live-001, gemini-live-2.5-flash-preview,
 * gemini-2.0-flash-exp) and ids that never existed (gemini-2.5-flash-live)
 * are deliberately absent. */
#include "glmock.h"

#include <stdio.h>
#include <string.h>

#define GEN "generateContent", "countTokens", "createCachedContent", "batchGenerateContent"

const model_t g_models[] = {
    {"gemini-2.5-flash", "Gemini 2.5 Flash",
     "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
     1048576, 65536, {GEN}, false, false, true},
    {"gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite",
     "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
     1048576, 65536, {GEN}, false, false, true},
    {"gemini-2.5-pro", "Gemini 2.5 Pro", "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
     1048576, 65536, {GEN}, false, false, true},
    {"gemini-embedding-001", "Gemini Embedding 001", "Obtain a distributed representation of a text.",
     2048, 1, {"embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"}, false, false, false},
    {"gemini-2.5-flash-native-audio-latest", "Gemini 2.5 Flash Native Audio Latest",
     "Latest release of Gemini 2.5 Flash Native Audio",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true},
    {"gemini-2.5-flash-native-audio-preview-12-2025", "Gemini 2.5 Flash Native Audio Preview 12-2025",
     "Gemini 2.5 Flash Native Audio Preview 12-2025",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true},
    {"gemini-2.5-flash-native-audio-preview-09-2025", "Gemini 2.5 Flash Native Audio Preview 09-2025",
     "Gemini 2.5 Flash Native Audio Preview 09-2025",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true},
    {"gemini-3.1-flash-live-preview", "Gemini 3.1 Flash Live Preview", "Gemini 3.1 Flash Live Preview",
     131072, 65536, {"bidiGenerateContent"}, true, false, true},
    {"gemini-live-text-test", "glmock Live Text Test",
     "glmock-only Live model that accepts responseModalities TEXT (and AUDIO), for tests.",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, true, false},
};
const size_t g_nmodels = sizeof g_models / sizeof g_models[0];

static const char *strip_models(const char *id)
{
    return strncmp(id, "models/", 7) == 0 ? id + 7 : id;
}

const model_t *catalog_find(const char *id)
{
    id = strip_models(id);
    for (size_t i = 0; i < g_nmodels; i++)
        if (!strcmp(g_models[i].id, id)) return &g_models[i];
    return NULL;
}

/* Live: the exact id, or the id followed by "-<anything>" so that tests can
 * compose fault words (e.g. "gemini-live-text-test-slow"). */
const model_t *catalog_live_find(const char *id)
{
    id = strip_models(id);
    const model_t *best = NULL;
    for (size_t i = 0; i < g_nmodels; i++) {
        const model_t *m = &g_models[i];
        if (!m->live) continue;
        size_t n = strlen(m->id);
        if (!strncmp(m->id, id, n) && (id[n] == 0 || id[n] == '-'))
            if (!best || strlen(best->id) < n) best = m;
    }
    return best;
}

bool model_supports(const model_t *m, const char *method)
{
    for (int i = 0; i < 6 && m->methods[i]; i++)
        if (!strcmp(m->methods[i], method)) return true;
    return false;
}

json_t *model_json(const model_t *m)
{
    json_t *methods = json_array();
    for (int i = 0; i < 6 && m->methods[i]; i++) json_array_append_new(methods, json_string(m->methods[i]));
    char name[160];
    snprintf(name, sizeof name, "models/%s", m->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:o}",
        "name", name, "version", "001", "displayName", m->display, "description", m->description,
        "inputTokenLimit", m->input_limit, "outputTokenLimit", m->output_limit,
        "supportedGenerationMethods", methods);
    if (strcmp(m->id, "gemini-embedding-001") != 0) {
        json_object_set_new(j, "temperature", json_integer(1));
        json_object_set_new(j, "topP", json_real(0.95));
        json_object_set_new(j, "topK", json_integer(64));
        json_object_set_new(j, "maxTemperature", json_integer(2));
    }
    if (m->thinking) json_object_set_new(j, "thinking", json_true());
    return j;
}

/* Any other id is served by REST (tests use arbitrary ids). */
json_t *model_json_generic(const char *id)
{
    model_t m = {strip_models(id), "glmock model", "A model id glmock serves without a catalog entry.",
                 1048576, 65536, {GEN}, false, false, false};
    return model_json(&m);
}
