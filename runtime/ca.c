/*
 * ca.c — the CA set both transports trust (REST through curl, Live through
 * libwebsockets/OpenSSL), from one rule: CURL_CA_BUNDLE, else
 * SSL_CERT_FILE, else the system default; SSL_CERT_DIR adds a directory.
 */
#include "gl.h"

#include <stdlib.h>

static const char *nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *gl_ca_file(void) {
    const char *f = nonempty("CURL_CA_BUNDLE");
    return f ? f : nonempty("SSL_CERT_FILE");
}

const char *gl_ca_dir(void) { return nonempty("SSL_CERT_DIR"); }
