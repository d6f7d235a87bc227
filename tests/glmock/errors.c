/* google.rpc.Status error bodies, as the real service sends them
 * (docs/protocol.md#error-bodies). */
#include "glmock.h"

#include <stdio.h>
#include <string.h>

json_t *rpc_error(int code, const char *status, const char *message)
{
    return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", code, "message", message, "status", status);
}

static json_t *with_details(json_t *e, json_t *details)
{
    json_object_set_new(json_object_get(e, "error"), "details", details);
    return e;
}

static json_t *key_invalid(const char *msg)
{
    json_t *e = rpc_error(400, "INVALID_ARGUMENT", msg);
    return with_details(e, json_pack("[{s:s, s:s, s:s, s:{s:s}}, {s:s, s:s, s:s}]",
        "@type", "type.googleapis.com/google.rpc.ErrorInfo",
        "reason", "API_KEY_INVALID",
        "domain", "googleapis.com",
        "metadata", "service", "generativelanguage.googleapis.com",
        "@type", "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale", "en-US",
        "message", msg));
}

json_t *err_bad_key(void) { return key_invalid("API key not valid. Please pass a valid API key."); }
json_t *err_expired_key(void) { return key_invalid("API key expired. Please renew the API key."); }

/* The answer to a request from a place the API is not offered in (the key `unsupported-location`). */
json_t *err_region(void) { return rpc_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use."); }

json_t *err_no_key(void)
{
    return rpc_error(403, "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.");
}

/* A 429 RESOURCE_EXHAUSTED (the shape of docs/protocol.md#error-bodies). `delay` NULL: no RetryInfo
 * (and no "Please retry" sentence), like the older bodies. */
static json_t *quota(const char *model, const char *quota_id, const char *value, const char *delay,
                     const char *retry_text)
{
    char msg[1024];
    char retry[96] = "";
    if (retry_text) snprintf(retry, sizeof retry, "\nPlease retry in %s.", retry_text);
    snprintf(msg, sizeof msg,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
        "To monitor your current usage, head to: https://ai.dev/rate-limit. \n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
        "limit: %s, model: %s%s", value, model, retry);
    json_t *e = rpc_error(429, "RESOURCE_EXHAUSTED", msg);
    json_t *viol = json_pack("{s:s, s:s, s:{s:s, s:s}}",
        "quotaMetric", "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId", quota_id,
        "quotaDimensions", "location", "global", "model", model);
    json_object_set_new(viol, "quotaValue", json_string(value));
    json_t *details = json_pack("[{s:s, s:[{s:s, s:s}]}, {s:s, s:[o]}]",
        "@type", "type.googleapis.com/google.rpc.Help",
        "links", "description", "Learn more about Gemini API quotas",
                 "url", "https://ai.google.dev/gemini-api/docs/rate-limits",
        "@type", "type.googleapis.com/google.rpc.QuotaFailure",
        "violations", viol);
    if (delay)
        json_array_append_new(details, json_pack("{s:s, s:s}", "@type", "type.googleapis.com/google.rpc.RetryInfo",
                                                 "retryDelay", delay));
    return with_details(e, details);
}

json_t *err_ratelimited(const char *model)
{
    return quota(model, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "10", "1.5s", "1.5s");
}

json_t *err_perday(const char *model)
{
    return quota(model, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "20", "47s", "47.884324799s");
}

/* Scenario 429s: any quota id; the per-day value when the id says PerDay. */
json_t *err_quota(const char *model, const char *quota_id, const char *retry_delay)
{
    return quota(model, quota_id, strstr(quota_id, "PerDay") ? "20" : "10", retry_delay, retry_delay);
}

json_t *err_overloaded(void)
{
    return rpc_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
}

json_t *err_internal(void)
{
    return rpc_error(500, "INTERNAL", "Internal error encountered.");
}

json_t *err_not_found_model(const char *model, const char *version, const char *method)
{
    char msg[1024];
    snprintf(msg, sizeof msg,
        "models/%s is not found for API version %s, or is not supported for %s. "
        "Call ListModels to see the list of available models and their supported methods.",
        model, version, method);
    return rpc_error(404, "NOT_FOUND", msg);
}

json_t *err_bad_json(const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "Invalid JSON payload received. %s", detail);
    json_t *e = rpc_error(400, "INVALID_ARGUMENT", msg);
    return with_details(e, json_pack("[{s:s, s:[{s:s}]}]",
        "@type", "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations", "description", msg));
}

const char *status_name(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 402: case 429: return "RESOURCE_EXHAUSTED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "UNKNOWN" : "FAILED_PRECONDITION";
    }
}

/* Error bodies of scenario faults: the same bodies as the model-name faults
 * for 429 / 500 / 503 / 404, the canonical code and a plain message otherwise. */
json_t *err_for_status(int status, const scen_fault_t *f, const char *model)
{
    const char *m = model && *model ? model : "unknown";
    switch (status) {
    case 429:
        if (!f || !f->quota_id[0]) return err_ratelimited(m);
        return err_quota(m, f->quota_id, f->retry_info ? f->retry_delay : NULL);
    case 503: return err_overloaded();
    case 500: return err_internal();
    case 400: return rpc_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
    case 401: return rpc_error(401, "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.");
    case 403: return rpc_error(403, "PERMISSION_DENIED", "The caller does not have permission");
    case 404: return rpc_error(404, "NOT_FOUND", "Requested entity was not found.");
    case 499: return rpc_error(499, "CANCELLED", "The operation was cancelled.");
    case 504: return rpc_error(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.");
    default: return rpc_error(status, status_name(status), "glmock scenario fault.");
    }
}
