/*
 * luaalloc.c — the Lua state's allocator: small blocks from free lists.
 *
 * Why: every streamed event becomes ~20 small Lua objects (tables, their
 * node arrays, strings) that the collector frees in bursts. glibc keeps 7
 * freed blocks per size in its fast cache; the rest of each burst goes
 * through its slower bins and consolidation, which cost as much as the
 * decoding itself (bench/json_decode.lua, bench/sse100k.sh).
 *
 * How: blocks of up to SMALL_MAX bytes come from one free list per
 * 16-byte size class, last freed first reused; a list is refilled from a
 * region reserved once (virtual memory, pages committed as they are
 * first used). Lua passes the size of a block with every free and resize,
 * so no block carries a header. Larger blocks, and any block that was
 * allocated before the switch, stay with malloc/realloc/free (told apart
 * by address). Freed small blocks are kept for reuse, not returned to the
 * system.
 *
 * Off (plain malloc) under AddressSanitizer and valgrind, so that they
 * keep seeing every Lua object, and with GLRUN_MALLOC=system;
 * GLRUN_MALLOC=pool keeps it on under valgrind (to profile it).
 * One Lua state, one thread: no locking.
 */
#define _GNU_SOURCE
#include "gl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define NO_POOL 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_POOL 1
#endif
#endif

#define CLASS 16
#define SMALL_MAX 512 /* an SSE event's data string (~300 bytes) fits: at 256 it went to malloc (+1 % instructions per event) */
#define NCLASS (SMALL_MAX / CLASS)

static struct {
    void *free[NCLASS + 1]; /* [c]: blocks of c * CLASS bytes */
    char *base, *next, *end; /* the reserved region; next: never used yet */
} P;

static inline unsigned class_of(size_t n) { return (unsigned)((n + CLASS - 1) / CLASS); }
static inline int in_pool(const void *p) { return (const char *)p >= P.base && (const char *)p < P.end; }

/* A block of class c (1..NCLASS), or malloc's when the region is used up. */
static inline void *take(unsigned c) {
    void *p = P.free[c];
    if (p) {
        P.free[c] = *(void **)p;
        return p;
    }
    size_t sz = (size_t)c * CLASS;
    if ((size_t)(P.end - P.next) < sz) return malloc(sz);
    p = P.next;
    P.next += sz;
    return p;
}

static inline void give(void *p, unsigned c) {
    *(void **)p = P.free[c];
    P.free[c] = p;
}

static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    if (!ptr) /* (osize is then a type tag, not a size) */
        return nsize == 0 ? NULL : nsize <= SMALL_MAX ? take(class_of(nsize)) : malloc(nsize);
    if (!in_pool(ptr)) { /* malloc's: stays malloc's */
        if (nsize == 0) {
            free(ptr);
            return NULL;
        }
        return realloc(ptr, nsize);
    }
    unsigned oc = class_of(osize);
    if (nsize == 0) {
        give(ptr, oc);
        return NULL;
    }
    if (nsize <= SMALL_MAX && class_of(nsize) == oc) return ptr;
    void *q = nsize <= SMALL_MAX ? take(class_of(nsize)) : malloc(nsize);
    if (!q) return nsize <= osize ? ptr : NULL; /* a shrink must not fail */
    memcpy(q, ptr, osize < nsize ? osize : nsize);
    give(ptr, oc);
    return q;
}

static int wanted(void) {
#ifdef NO_POOL
    return 0;
#else
    const char *m = getenv("GLRUN_MALLOC");
    if (m && strcmp(m, "system") == 0) return 0;
    if (m && strcmp(m, "pool") == 0) return 1;
    const char *pre = getenv("LD_PRELOAD"); /* valgrind preloads its vgpreload_*.so */
    if (pre && strstr(pre, "vgpreload")) return 0;
    return 1;
#endif
}

void gl_lua_alloc_install(lua_State *L) {
    if (P.base) { /* already reserved (a second state on this thread) */
        lua_setallocf(L, pool_alloc, NULL);
        return;
    }
    if (!wanted()) return;
    for (size_t size = (size_t)1 << 30; size >= (size_t)1 << 26; size >>= 2) {
        void *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (b == MAP_FAILED) continue;
        P.base = P.next = b;
        P.end = P.base + size;
        lua_setallocf(L, pool_alloc, NULL);
        return;
    }
}
