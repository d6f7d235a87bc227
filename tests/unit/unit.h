/*
 * unit.h — the small harness the C unit tests share: CHECK/FAILF record
 * why a test failed (file:line) and return from it; unit_run runs a table
 * of tests and prints "ok NAME" / "FAIL NAME: why", then "N passed,
 * M failed", and returns the exit status.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int g_failed;
static char g_why[512];

#define FAILF(...) do { int n_ = snprintf(g_why, sizeof g_why, "%s:%d: ", __FILE__, __LINE__); \
    snprintf(g_why + n_, sizeof g_why - (size_t)n_, __VA_ARGS__); return; } while (0)
#define CHECK(cond) do { if (!(cond)) FAILF("%s", #cond); } while (0)

typedef struct { const char *name; void (*fn)(void); } unit_test;

/* Runs the tests whose name contains filter (every test when NULL); after,
 * when given, runs after each test and may set g_why (e.g. a leak check). */
static int unit_run(const unit_test *t, size_t n, const char *filter, void (*after)(void))
{
    int passed = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(t[i].name, filter)) continue;
        g_why[0] = 0;
        t[i].fn();
        if (after) after();
        if (g_why[0]) {
            printf("FAIL %s: %s\n", t[i].name, g_why);
            g_failed++;
        } else {
            printf("ok   %s\n", t[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, g_failed);
    return g_failed ? 1 : 0;
}

#endif
