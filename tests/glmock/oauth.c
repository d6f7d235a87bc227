/* Vertex AI authentication: the OAuth2 token endpoint (RFC 7523 JWT-bearer
 * grant and refresh-token grant, docs/protocol.md#vertex-oauth) and the Bearer check on
 * Vertex routes. With --oauth-public-key the JWT's RS256 signature is
 * verified against the test key pair's public key; the structure and the
 * claims always are. Issued tokens expire after --token-lifetime seconds
 * (3600); an expired one gets 401 UNAUTHENTICATED like the real service.
 * GET /glmock/oauth/stats reports the counters (tests check that
 * concurrent tasks share one refresh) and the last assertion received. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#define JWT_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define TOKEN_PREFIX "ya29.glmock-"
#define MAX_KEYS 8

static struct { char *kid; EVP_PKEY *pk; } g_keys[MAX_KEYS];
static int g_nkeys;
static double g_token_lifetime = 3600;
static json_t *g_issued;        /* token -> expiry (uv_now ms) */
static unsigned long g_seq;
static struct {
    unsigned long token_requests, tokens_issued, grants_rejected, bad_signatures;
    unsigned long bearer_ok, bearer_missing, bearer_expired, bearer_unknown;
} g_st;
static char *g_last_assertion;

/* --oauth-public-key [KID=]FILE (PEM public key or certificate), repeatable.
 * Returns 0, or -1 with a message on stderr. */
int oauth_add_public_key(const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *file = eq ? eq + 1 : arg;
    if (g_nkeys == MAX_KEYS) { fprintf(stderr, "glmock: at most %d --oauth-public-key\n", MAX_KEYS); return -1; }
    FILE *f = fopen(file, "r");
    if (!f) { fprintf(stderr, "glmock: --oauth-public-key: cannot open %s\n", file); return -1; }
    EVP_PKEY *pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    if (!pk) {
        rewind(f);
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        if (x) { pk = X509_get_pubkey(x); X509_free(x); }
    }
    fclose(f);
    ERR_clear_error();
    if (!pk) { fprintf(stderr, "glmock: --oauth-public-key: %s holds no PEM public key\n", file); return -1; }
    g_keys[g_nkeys].kid = eq ? strndup(arg, (size_t)(eq - arg)) : NULL;
    g_keys[g_nkeys].pk = pk;
    g_nkeys++;
    return 0;
}

void oauth_set_token_lifetime(double secs)
{
    if (secs > 0) g_token_lifetime = secs;
}

/* RS256 over "header.claims" with the key named by kid, else any key. */
static bool signature_ok(const char *kid, const char *input, size_t inlen, const char *sig_b64)
{
    size_t slen;
    unsigned char *sig = b64_decode(sig_b64, &slen);
    if (!sig) return false;
    bool named = false, ok = false;
    for (int i = 0; i < g_nkeys; i++) if (kid && g_keys[i].kid && !strcmp(kid, g_keys[i].kid)) named = true;
    for (int i = 0; i < g_nkeys && !ok; i++) {
        if (named && strcmp(kid, g_keys[i].kid) != 0) continue;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, g_keys[i].pk) == 1 &&
             EVP_DigestVerify(md, sig, slen, (const unsigned char *)input, inlen) == 1;
        EVP_MD_CTX_free(md);
    }
    ERR_clear_error();
    free(sig);
    return ok;
}

void oauth_stats(conn_t *c, req_t *r)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:f, s:b}",
        "token_requests", (json_int_t)g_st.token_requests, "tokens_issued", (json_int_t)g_st.tokens_issued,
        "grants_rejected", (json_int_t)g_st.grants_rejected, "bad_signatures", (json_int_t)g_st.bad_signatures,
        "bearer_ok", (json_int_t)g_st.bearer_ok, "bearer_missing", (json_int_t)g_st.bearer_missing,
        "bearer_expired", (json_int_t)g_st.bearer_expired, "bearer_unknown", (json_int_t)g_st.bearer_unknown,
        "public_keys", g_nkeys, "token_lifetime", g_token_lifetime, "verifies_signatures", g_nkeys > 0);
    if (g_last_assertion) json_object_set_new(j, "last_assertion", json_string(g_last_assertion));
    http_respond_json(c, r, 200, j, NULL);
    json_decref(j);
}

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
        g_st.bearer_missing++;
        e = unauthenticated("Request is missing required authentication credential. Expected OAuth 2 access "
                            "token, login cookie or other valid authentication credential. See "
                            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                            "CREDENTIALS_MISSING");
    } else {
        /* literal "expired"/"bad", tokens glmock issued (checked against
         * their expiry), and, unless signatures are verified (a test of
         * the whole OAuth flow), any other token */
        const char *reason = NULL;
        if (!strcmp(tok, "expired")) reason = "ACCESS_TOKEN_EXPIRED";
        else if (!strcmp(tok, "bad")) reason = "ACCESS_TOKEN_TYPE_UNSUPPORTED";
        else if (!strncmp(tok, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) || g_nkeys > 0) {
            json_t *exp = g_issued ? json_object_get(g_issued, tok) : NULL;
            if (!exp) reason = "ACCESS_TOKEN_TYPE_UNSUPPORTED";
            else if ((uint64_t)json_integer_value(exp) <= uv_now(g_loop)) reason = "ACCESS_TOKEN_EXPIRED";
        }
        if (reason) {
            if (!strcmp(reason, "ACCESS_TOKEN_EXPIRED")) g_st.bearer_expired++;
            else g_st.bearer_unknown++;
            e = unauthenticated("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                "login cookie or other valid authentication credential. See "
                                "https://developers.google.com/identity/sign-in/web/devconsole-project.", reason);
        } else {
            g_st.bearer_ok++;
        }
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
    char tok[96];
    g_seq++;
    uint64_t h = fnv1a(seed, strlen(seed), 0) ^ fnv1a(&g_seq, sizeof g_seq, 0) ^ uv_hrtime();
    snprintf(tok, sizeof tok, TOKEN_PREFIX "%lu-%016llx", g_seq, (unsigned long long)h);
    if (!g_issued) g_issued = json_object();
    json_object_set_new(g_issued, tok, json_integer((json_int_t)(uv_now(g_loop) + (uint64_t)(g_token_lifetime * 1000))));
    g_st.tokens_issued++;
    json_int_t expires_in = (json_int_t)g_token_lifetime;
    if (expires_in < 1) expires_in = 1;
    json_t *j = json_pack("{s:s, s:I, s:s}", "access_token", tok, "expires_in", expires_in, "token_type", "Bearer");
    http_respond_json(c, r, 200, j, NULL);
    json_decref(j);
}

void oauth_token(conn_t *c, req_t *r)
{
    g_st.token_requests++;
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
    if (jwt) {
        free(g_last_assertion);
        g_last_assertion = xstrdup(jwt);
    }
    if (!hdr || !cl || !d2 || !d2[1] || !alg || strcmp(alg, "RS256") != 0) {
        g_st.grants_rejected++;
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT Signature.");
    } else if (g_nkeys > 0 && !signature_ok(json_string_value(json_object_get(hdr, "kid")), jwt,
                                           (size_t)(d2 - jwt), d2 + 1)) {
        g_st.grants_rejected++;
        g_st.bad_signatures++;
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT Signature.");
    } else if (!iss || !*iss || contains(iss, "bad")) {
        g_st.grants_rejected++;
        oauth_error(c, r, 400, "invalid_grant", "Invalid grant: account not found");
    } else if (!json_object_get(cl, "aud")) {
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT: Missing required claim 'aud'.");
    } else if (exp <= iat || exp - iat > 3600 || exp < now || iat > now + 300) {
        g_st.grants_rejected++;
        oauth_error(c, r, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in "
                    "a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    } else if (!scope || !*scope) {
        g_st.grants_rejected++;
        oauth_error(c, r, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    } else {
        issue(c, r, iss);
    }
    json_decref(hdr);
    json_decref(cl);
    free(jwt);
}
