/*
 * lazy.h — shared libraries glrun opens on first use instead of at exec.
 *
 * A one-shot script (ask one question, print the answer) needs libcurl,
 * OpenSSL and libuv; it never opens a WebSocket or edits a line. Linking
 * libwebsockets and libedit made the dynamic loader map them and their own
 * dependencies (libcap, libtinfo, libbsd, libmd) and bind their symbols in
 * every process. They are dlopen'ed instead, the first time a WebSocket
 * connects (lazy_lws.h) or a line is edited on a terminal (lazy_edit.h),
 * and the few functions glrun calls are looked up once into a table.
 */
#ifndef GL_LAZY_H
#define GL_LAZY_H

#include <stddef.h>

/* Open soname (RTLD_NOW | RTLD_LOCAL) and resolve names[0..n) into
 * slots[0..n). Returns 1 on success; on failure 0 with a message naming
 * the library, the Debian package that ships it, and dlerror()'s reason in
 * err. The first outcome is remembered in *state (0 = not tried, 1 = open,
 * -1 = failed) and in keep_err, so later calls cost a compare. */
int gl_lazy_open(const char *soname, const char *package, const char *const *names,
                 void **slots, size_t n, int *state, char *keep_err, size_t keep_len,
                 char *err, size_t errlen);

#endif
