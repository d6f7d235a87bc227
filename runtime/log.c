/*
 * log.c — leveled log lines on stderr, redacted before they are cut.
 */
#include "gl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = GL_LOG_WARN;
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int gl_log_set_level(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, level_names[i]) == 0) {
            log_level = i;
            return 0;
        }
    return -1;
}

int gl_log_enabled(int level) { return level <= log_level; }

static void vlog(int level, const char *module, const char *fmt, va_list ap) {
    size_t n;
    char *r = gl_redact_vfmt(2047, &n, fmt, ap);
    fprintf(stderr, "glrun[%s] %s: %s\n", level_names[level], module, r);
    free(r);
}

void gl_log(int level, const char *module, const char *fmt, ...) {
    if (level > log_level) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}
