/*
 * crypto.c — module glrun.crypto: what Vertex AI service-account auth needs
 * from OpenSSL, and nothing else (docs/protocol.md#vertex-oauth).
 *
 *   crypto.rs256_sign(pem_private_key, data) -> signature bytes | nil, err
 *   crypto.b64url(s)                         -> base64url text, no padding
 *   crypto.b64url_decode(s)                  -> bytes | nil, err
 *   crypto.sha256(s)                         -> 32 raw bytes
 *
 * The private key never reaches a log line or an error message: failures
 * say what went wrong ("not a PEM private key"), never with what.
 */
#include "gl.h"

#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

/* OpenSSL keeps an error queue per thread; drain it so an old failure
 * cannot surface in a later, unrelated message. */
static void drain_errors(void) { ERR_clear_error(); }

static int crypto_rs256_sign(lua_State *L) {
    size_t klen, dlen;
    const char *pem = luaL_checklstring(L, 1, &klen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    BIO *bio = BIO_new_mem_buf(pem, (int)klen);
    if (!bio) return gl_fail(L, "crypto", "out of memory");
    /* no passphrase callback: service-account keys are not encrypted, and
     * an encrypted key must not make us prompt on the terminal */
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (!pk) {
        drain_errors();
        return gl_fail(L, "crypto", "the private key is not a PEM RSA private key (or it is encrypted)");
    }
    if (EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        return gl_fail(L, "crypto", "the private key is not an RSA key (RS256 needs RSA)");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 0;
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data, dlen) == 1;
    luaL_Buffer b;
    unsigned char *out = ok ? (unsigned char *)luaL_buffinitsize(L, &b, siglen) : NULL;
    ok = ok && EVP_DigestSign(md, out, &siglen, (const unsigned char *)data, dlen) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    if (!ok) {
        drain_errors();
        return gl_fail(L, "crypto", "RS256 signing failed");
    }
    luaL_pushresultsize(&b, siglen);
    return 1;
}

static int crypto_b64url(lua_State *L) { return gl_push_b64(L, 1, 1); }

/* base64url (or standard base64), padding optional. */
static int crypto_b64url_decode(lua_State *L) { return gl_push_unb64(L, 1, 0, "base64url"); }

static int crypto_sha256(lua_State *L) {
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(s, len, d);
    lua_pushlstring(L, (const char *)d, sizeof d);
    return 1;
}

static const luaL_Reg crypto_funcs[] = {
    {"rs256_sign", crypto_rs256_sign},
    {"b64url", crypto_b64url},
    {"b64url_decode", crypto_b64url_decode},
    {"sha256", crypto_sha256},
    {NULL, NULL},
};

int luaopen_glrun_crypto(lua_State *L) {
    luaL_newlib(L, crypto_funcs);
    return 1;
}
