/* The model catalog served by GET models and GET models/{id}
 * (docs/protocol.md, "Other REST methods", "Live models", "Model catalog
 * and aliases"; the late-2026 line-up): the model fields
 * of the API's Model resource (name, baseModelId, version, displayName,
 * description, token limits, supportedGenerationMethods, sampling defaults,
 * thinking). Retired Live ids (gemini-2.0-flash-live-001,
 * gemini-live-2.5-flash-preview, gemini-2.0-flash-exp) and ids that never
 * existed (gemini-2.5-flash-live) are deliberately absent.
 *
 * Aliases (gemini-flash-latest, ...) are entries of their own, as in the
 * real list; glmock says which model an alias points to in its baseModelId
 * (the real service's choice there is not documented). */
#include "glmock.h"

#include <stdio.h>
#include <string.h>

#define GEN "generateContent", "countTokens", "createCachedContent", "batchGenerateContent"
#define M1 1048576
#define K64 65536

const model_t g_models[] = {
    /* REST text models: the 2.5 line (shutdown announced for the end of 2026) */
    {"gemini-2.5-flash", "Gemini 2.5 Flash",
     "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
     M1, K64, {GEN}, false, false, true, .version = "001"},
    {"gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite",
     "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
     M1, K64, {GEN}, false, false, true, .version = "001"},
    {"gemini-2.5-pro", "Gemini 2.5 Pro", "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
     M1, K64, {GEN}, false, false, true, .version = "2.5"},
    /* the late-2026 line-up */
    {"gemini-3.5-flash-lite", "Gemini 3.5 Flash-Lite",
     "Gemini 3.5 Flash-Lite, our most cost-efficient model for high-volume tasks.",
     M1, K64, {GEN}, false, false, true, .version = "3.5"},
    {"gemini-3.8-flash", "Gemini 3.8 Flash",
     "Gemini 3.8 Flash, our fast multimodal model with thinking, up to 1 million tokens of context.",
     M1, K64, {GEN}, false, false, true, .version = "3.8"},
    {"gemini-4-argon", "Gemini 4 Argon",
     "Gemini 4 Argon, our most capable model for complex reasoning, coding and long outputs.",
     M1, K64, {GEN}, false, false, true, .version = "4.0"},
    /* aliases, re-pointed by Google over time */
    {"gemini-flash-latest", "Gemini Flash Latest", "Latest release of Gemini Flash",
     M1, K64, {GEN}, false, false, true, .version = "Gemini Flash Latest", .base = "gemini-3.8-flash"},
    {"gemini-flash-lite-latest", "Gemini Flash-Lite Latest", "Latest release of Gemini Flash-Lite",
     M1, K64, {GEN}, false, false, true, .version = "Gemini Flash-Lite Latest", .base = "gemini-3.5-flash-lite"},
    {"gemini-pro-latest", "Gemini Pro Latest", "Latest release of Gemini Pro",
     M1, K64, {GEN}, false, false, true, .version = "Gemini Pro Latest", .base = "gemini-4-argon"},
    /* embeddings */
    {"gemini-embedding-001", "Gemini Embedding 001", "Obtain a distributed representation of a text.",
     2048, 1, {"embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"}, false, false, false,
     .version = "001"},
    /* Live: 2.5 native audio (clientContent at any time) */
    {"gemini-2.5-flash-native-audio-latest", "Gemini 2.5 Flash Native Audio Latest",
     "Latest release of Gemini 2.5 Flash Native Audio",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true,
     .version = "Gemini 2.5 Flash Native Audio Latest", .base = "gemini-2.5-flash-native-audio-preview-12-2025"},
    {"gemini-2.5-flash-native-audio-preview-12-2025", "Gemini 2.5 Flash Native Audio Preview 12-2025",
     "Gemini 2.5 Flash Native Audio Preview 12-2025",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true, .version = "2.5-preview-12-2025"},
    {"gemini-2.5-flash-native-audio-preview-09-2025", "Gemini 2.5 Flash Native Audio Preview 09-2025",
     "Gemini 2.5 Flash Native Audio Preview 09-2025",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, false, true, .version = "2.5-preview-09-2025"},
    /* Live: 3.x (clientContent only to seed the initial history; text as realtimeInput.text) */
    {"gemini-3.1-flash-live-preview", "Gemini 3.1 Flash Live Preview", "Gemini 3.1 Flash Live Preview",
     131072, K64, {"bidiGenerateContent"}, true, false, true,
     .version = "3.1-preview-03-2026", .live3 = true, .no_async_tools = true},
    {"gemini-3.8-live", "Gemini 3.8 Live", "Gemini 3.8 Live, the default model of the Live API: native audio in and out.",
     131072, K64, {"countTokens", "bidiGenerateContent"}, true, false, true, .version = "3.8", .live3 = true},
    /* glmock-only Live test models: TEXT and AUDIO, 2.5-style and 3.x-style */
    {"gemini-live-text-test", "glmock Live Text Test",
     "glmock-only Live model that accepts responseModalities TEXT (and AUDIO), for tests.",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, true, false, .version = "001"},
    {"gemini-3-live-text-test", "glmock 3.x Live Text Test",
     "glmock-only Live model with the Gemini 3.x Live rules that accepts responseModalities TEXT (and AUDIO), for tests.",
     131072, 8192, {"countTokens", "bidiGenerateContent"}, true, true, false,
     .version = "001", .live3 = true, .no_async_tools = true},
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
 * compose fault words (e.g. "gemini-live-text-test-slow"). The longest
 * matching id wins ("gemini-3-live-text-test-slow" is the 3.x twin). */
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
    /* the SDKs embed through batchEmbedContents whether models.list names it or not */
    if (!strcmp(method, "batchEmbedContents")) return model_supports(m, "embedContent");
    for (int i = 0; i < MODEL_MAX_METHODS && m->methods[i]; i++)
        if (!strcmp(m->methods[i], method)) return true;
    return false;
}

json_t *model_json(const model_t *m)
{
    json_t *methods = json_array();
    for (int i = 0; i < MODEL_MAX_METHODS && m->methods[i]; i++)
        json_array_append_new(methods, json_string(m->methods[i]));
    char name[160];
    snprintf(name, sizeof name, "models/%s", m->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:o}",
        "name", name, "baseModelId", m->base ? m->base : m->id, "version", m->version ? m->version : "001",
        "displayName", m->display, "description", m->description,
        "inputTokenLimit", m->input_limit, "outputTokenLimit", m->output_limit,
        "supportedGenerationMethods", methods);
    if (!model_supports(m, "embedContent")) {
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
                 M1, K64, {GEN}, false, false, false, .version = "001"};
    return model_json(&m);
}
