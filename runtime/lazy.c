/*
 * lazy.c — dlopen on first use (see lazy.h), and the function tables of
 * libwebsockets (lazy_lws.h) and libedit (lazy_edit.h).
 */
#define GL_LAZY_IMPL
#include "lazy.h"
#include "lazy_lws.h"
#include "lazy_edit.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gl_lazy_open(const char *soname, const char *package, const char *const *names,
                 void **slots, size_t n, int *state, char *keep_err, size_t keep_len,
                 char *err, size_t errlen)
{
    if (*state == 0) {
        /* GLRUN_LAZY_FAIL=soname pretends the library is missing (tests) */
        const char *fail = getenv("GLRUN_LAZY_FAIL");
        void *h = NULL;
        const char *why = "not installed";
        size_t i;
        if (fail && strcmp(fail, soname) == 0) why = "not installed (GLRUN_LAZY_FAIL)";
        else if (!(h = dlopen(soname, RTLD_NOW | RTLD_LOCAL))) why = dlerror();
        for (i = 0; h && i < n; i++) {
            slots[i] = dlsym(h, names[i]);
            if (!slots[i]) {
                why = dlerror();
                memset(slots, 0, n * sizeof *slots);
                h = NULL;   /* a mismatched version: keep the handle, use none of it */
            }
        }
        if (h) *state = 1;
        else {
            *state = -1;
            snprintf(keep_err, keep_len, "%s cannot be loaded (Debian package %s): %s",
                     soname, package, why ? why : "unknown error");
        }
    }
    if (*state == 1) return 1;
    if (err && errlen) snprintf(err, errlen, "%s", keep_err);
    return 0;
}

/* A library's function table, filled once: the answer (and why it failed)
 * is kept, so a second call costs nothing and says the same. */
typedef struct {
    int state;
    char keep[512];
} lazy_lib;

static int load_table(lazy_lib *lib, const char *soname, const char *package, const char *const *names,
                      void *table, size_t n, char *err, size_t errlen)
{
    void *slots[64];
    if (lib->state == 1) return 1;
    if (n > sizeof slots / sizeof slots[0]) abort(); /* a list longer than this loader knows */
    if (!gl_lazy_open(soname, package, names, slots, n, &lib->state, lib->keep, sizeof lib->keep, err, errlen))
        return 0;
    memcpy(table, slots, n * sizeof slots[0]);
    return 1;
}

/* ---- libwebsockets ------------------------------------------------------ */

gl_lws_api gl_lws;

static const char *const lws_names[] = {
#define GL_LWS_NAME(f) #f,
    GL_LWS_FUNCS(GL_LWS_NAME)
#undef GL_LWS_NAME
};
_Static_assert(sizeof lws_names / sizeof lws_names[0] * sizeof(void *) == sizeof gl_lws,
               "one slot per libwebsockets function");

int gl_lws_load(char *err, size_t errlen)
{
    static lazy_lib lib;
    return load_table(&lib, GL_LWS_SONAME, "libwebsockets17", lws_names, &gl_lws,
                      sizeof lws_names / sizeof lws_names[0], err, errlen);
}

/* ---- libedit ------------------------------------------------------------ */

gl_edit_api gl_edit;

static const char *const edit_names[] = {
#define GL_EDIT_NAME(f) #f,
    GL_EDIT_SYMS(GL_EDIT_NAME)
#undef GL_EDIT_NAME
};
_Static_assert(sizeof edit_names / sizeof edit_names[0] * sizeof(void *) == sizeof gl_edit,
               "one slot per libedit symbol");

int gl_edit_load(char *err, size_t errlen)
{
    static lazy_lib lib;
    return load_table(&lib, GL_EDIT_SONAME, "libedit2", edit_names, &gl_edit,
                      sizeof edit_names / sizeof edit_names[0], err, errlen);
}
