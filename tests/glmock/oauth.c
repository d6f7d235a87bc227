/* Vertex AI authentication: the OAuth2 token endpoint (RFC 7523 JWT-bearer
 * grant and refresh-token grant, PROTOCOL.md §5.3) and the Bearer check on
 * Vertex routes. Signatures are not verified (glmock has no public keys);
 * the JWT's structure and claims are. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JWT_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"

char *bearer_token(req_t *r)
{
    const char *a = r->authorization;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return NULL;
    a += 7;
    while (*a == ' ') a++;
    return *a ? xstrdup(a) : NULL;
}

static json_t *unauthenticated(const char *msg, const char *reason)
{
    json_t *e = rpc_error(401, "UNAUTHENTICATED", msg);
    if (reason)
        json_object_set_new(json_object_get(e, "error"), "details",
            json_pack("[{s:s, s:s, s:s, s:{s:s, s:s}}]",
                "@type", "type.googleapis.com/google.rpc.ErrorInfo", "reason", reason,
                "domain", "googleapis.com", "metadata", "service", "aiplatform.googleapis.com",
                "method", "google.cloud.aiplatform.v1beta1.PredictionService.GenerateContent"));
    return e;
}

/* Vertex routes: "Authorization: Bearer <token>" (any token glmock could have
 * issued; "expired" and "bad" are refused), or an express-mode API key. */
json_t *vertex_check_bearer(req_t *r)
{
    char *key = r->api_key ? xstrdup(r->api_key) : query_get(r->query, "key");
    if (key && *key) {
        json_t *e = NULL;
        if (!strcmp(key, "bad")) e = err_bad_key();
        else if (!strcmp(key, "expired")) e = err_expired_key();
        free(key);
        return e;
    }
    free(key);
    char *tok = bearer_token(r);
    json_t *e = NULL;
    if (!tok) {
        e = unauthenticated("Request is missing required authentication credential. Expected OAuth 2 access "
                            "token, login cookie or other valid authentication credential. See "
                            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                            "CREDENTIALS_MISSING");
    } else if (!strcmp(tok, "expired") || !strcmp(tok, "bad")) {
        e = unauthenticated("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                            "login cookie or other valid authentication credential. See "
                            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                            !strcmp(tok, "expired") ? "ACCESS_TOKEN_EXPIRED" : "ACCESS_TOKEN_TYPE_UNSUPPORTED");
    }
    free(tok);
    return e;
}

static void oauth_error(conn_t *c, req_t *r, int status, const char *err, const char *desc)
{
    json_t *j = json_pack("{s:s, s:s}", "error", err, "error_description", desc);
    http_respond_json(c, r, status, j, NULL);
    json_decref(j);
}

static json_t *b64_json(const char *p, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    size_t len;
    unsigned char *raw = b64_decode(s, &len);
    free(s);
    if (!raw) return NULL;
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    return j;
}

static void issue(conn_t *c, req_t *r, const char *seed)
{
    char tok[64];
    snprintf(tok, sizeof tok, "ya29.glmock-%016llx", (unsigned long long)fnv1a(seed, strlen(seed), 0));
    json_t *j = json_pack("{s:s, s:i, s:s}", "access_token", tok, "expires_in", 3599, "token_type", "Bearer");
    http_respond_json(c, r, 200, j, NULL);
    json_decref(j);
}

void oauth_token(conn_t *c, req_t *r)
{
    if (r->method != HTTP_POST) {
        oauth_error(c, r, 400, "invalid_request", "Token endpoint requires POST.");
        return;
    }
    const char *body = r->body.p ? buf_cstr(&r->body) : "";
    char *grant = query_get(body, "grant_type");
    if (grant && !strcmp(grant, "refresh_token")) {
        char *rt = query_get(body, "refresh_token");
        if (!rt || !*rt || !strcmp(rt, "bad")) oauth_error(c, r, 400, "invalid_grant", "Bad Request");
        else issue(c, r, rt);
        free(rt);
        free(grant);
        return;
    }
    if (!grant || strcmp(grant, JWT_GRANT) != 0) {
        oauth_error(c, r, 400, "unsupported_grant_type", "Invalid grant_type: ");
        free(grant);
        return;
    }
    free(grant);
    char *jwt = query_get(body, "assertion");
    const char *d1 = jwt ? strchr(jwt, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *hdr = d1 ? b64_json(jwt, (size_t)(d1 - jwt)) : NULL;
    json_t *cl = d2 ? b64_json(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
    time_t now = time(NULL);
    json_int_t iat = json_integer_value(json_object_get(cl, "iat"));
    json_int_t exp = json_integer_value(json_object_get(cl, "exp"));
    const char *iss = json_string_value(json_object_get(cl, "iss"));
    const char *scope = json_string_value(json_object_get(cl, "scope"));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!hdr || !cl || !d2 || !d2[1] || !alg || strcmp(alg, "RS256") != 0) {
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT Signature.");
    } else if (!iss || !*iss || contains(iss, "bad")) {
        oauth_error(c, r, 400, "invalid_grant", "Invalid grant: account not found");
    } else if (!json_object_get(cl, "aud")) {
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT: Missing required claim 'aud'.");
    } else if (exp <= iat || exp - iat > 3600 || exp < now || iat > now + 300) {
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in "
                    "a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    } else if (!scope || !*scope) {
        oauth_error(c, r, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    } else {
        issue(c, r, iss);
    }
    json_decref(hdr);
    json_decref(cl);
    free(jwt);
}
