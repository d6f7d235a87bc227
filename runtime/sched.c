/*
 * sched.c — tasks: Lua coroutines run on one libuv loop.
 *
 * A task runs until it parks on a gl_waiter (gl_yield) or finishes. Event
 * callbacks call gl_wake(), which only links the task into a ready queue;
 * an idle handle drains that queue from the loop, so Lua is never resumed
 * from inside a libcurl or libwebsockets callback.
 *
 * A count hook measures how long the running task has gone without
 * yielding: past a warning threshold it is reported once, past the limit
 * it is interrupted with an error. The same hook turns SIGINT into an
 * "interrupted" error inside a busy task. The hook is armed only when it
 * has work: with any count hook set, Lua 5.4 traces every VM instruction
 * (a fifth of a streaming script's instructions), so slices run without
 * it. A watchdog thread that sees a slice run long, and the SIGINT/TERM
 * handler, send ARM_SIGNAL to the loop thread; its handler arms the hook
 * on the Lua threads running there (lua_sethook is the one Lua call made
 * to be called from a signal handler; ldebug.c says so) and the slice's
 * end disarms it. A C function that runs long (a backtracking
 * string.find) runs no hook: the watchdog notices the slice that never
 * ends and writes a warning to stderr (never Lua: it only reads the
 * slice's start time).
 *
 * SIGTERM and SIGHUP stop the run the way an untrapped Ctrl-C does, even
 * with gl.trap_interrupts(true): every wait fails with "interrupted" (its
 * `signal` field names the signal), the script's cleanup runs, buffered
 * output is flushed and main.c exits 128 + the signal. A second one kills.
 * A module may take the first stop signal instead (gl_sched_set_stop_hook:
 * glrun.server's stop_signals); then no task is interrupted by it.
 */
#include "gl.h"
#include "glsched.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TASK_MT "glrun.task"
#define HOOK_COUNT 10000
#define ARM_SIGNAL SIGURG /* ignored by default; Go's runtime preempts with it too */
#define RUN_MAX 64        /* nested coroutines tracked for arming */

enum { T_READY, T_RUNNING, T_PARKED, T_DONE, T_FAILED };
static const char *const status_names[] = {"ready", "running", "waiting", "done", "failed"};

struct gl_task {
    lua_State *co;
    int ref;            /* registry ref to the task userdata while alive */
    int status;
    int queued;
    int joined;         /* someone collected the result */
    int id;
    gl_task *next;      /* ready queue */
    gl_waiter *waiting; /* where it is parked */
    lua_KFunction k;
    lua_KContext kctx;
    int nargs;          /* values to pass on the next resume (first run) */
    int nres;           /* results kept on co's stack when done */
    gl_waiter **joiners;
    int njoiners;
    int tb_ref;         /* traceback string of a failure */
    gl_task *prev_live, *next_live; /* all unfinished tasks */
    unsigned int_seen;  /* the last interrupt this task was told about */
};

static struct {
    lua_State *L;
    uv_loop_t *loop;
    uv_idle_t idle;
    gl_task *head, *tail;
    gl_task *current;
    int live;            /* tasks not yet finished */
    int next_id;
    double warn_after, limit_after;
    volatile sig_atomic_t interrupted;
    volatile sig_atomic_t int_epoch; /* bumped by every Ctrl-C */
    volatile sig_atomic_t stop_sig;  /* SIGTERM or SIGHUP received: the run stops */
    int trap;            /* gl.trap_interrupts(true): Ctrl-C raises once per task, the run goes on */
    uv_async_t sigasync;
    int failed_unjoined; /* count of failed tasks nobody joined */
    gl_task *all;        /* unfinished tasks, for interrupts */
    gl_task *main;       /* the main script's task (gl_sched_set_main) */
    int abort;           /* the main script failed: every wait fails from then on */
} rt;

/* The running slice, shared with the watchdog thread: slice_seq is the
 * number of the slice running now (0 between slices), warned_seq the last
 * slice a warning was written for (by the hook or by the watchdog). */
static struct {
    _Atomic uint64_t slice_seq, slice_start, warned_seq;
    _Atomic int task_id;
    uint64_t next_seq;  /* the loop thread's only */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond;
    int started, stop;
    uint64_t armed_seq; /* the watchdog's only: the slice it sent ARM_SIGNAL for */
} wd;

/* Arming the hook (see the top of the file). `running` lists the Lua
 * threads running now on the loop thread, outermost first: the task's,
 * then the coroutines it resumed (l_resume). The ARM_SIGNAL handler runs
 * on the loop thread (pthread_kill), so these need no atomics, only
 * volatile and signal fences around their updates. */
static struct {
    lua_State *volatile running[RUN_MAX];
    volatile sig_atomic_t nrunning;
    volatile sig_atomic_t armed; /* the hook was armed in this slice */
    pthread_t loop_thread;
    int installed;
} arm;

static char SENTINEL;   /* address yielded by parked tasks */
static char FAILED_KEY; /* registry table of failed, unjoined tasks */

uv_loop_t *gl_loop(lua_State *L) { (void)L; return rt.loop; }

int gl_in_task(lua_State *L) { return rt.current != NULL && lua_isyieldable(L); }

static void idle_cb(uv_idle_t *h);

static void enqueue(gl_task *t) {
    if (t->queued || t->status == T_DONE || t->status == T_FAILED) return;
    t->queued = 1;
    t->status = T_READY;
    t->next = NULL;
    if (rt.tail) rt.tail->next = t;
    else rt.head = t;
    rt.tail = t;
    if (!uv_is_active((uv_handle_t *)&rt.idle)) uv_idle_start(&rt.idle, idle_cb);
}

void gl_wake(gl_waiter *w) {
    gl_task *t = w->task;
    if (!t) return;
    w->task = NULL;
    if (t->waiting == w) t->waiting = NULL;
    enqueue(t);
}

void gl_waiter_cancel(gl_waiter *w) { gl_wake(w); }

/* Should task t see an "interrupted" error now? When the run stops (an
 * untrapped Ctrl-C, SIGTERM, SIGHUP) every wait fails from then on; a
 * running task (the hook) is told once per signal, so a script's cleanup
 * after catching it may run to its end. With a trap, Ctrl-C tells each
 * task once and the run goes on. */
static int interrupt_due(gl_task *t, int waiting) {
    if (rt.abort && waiting && t) return 1;
    if (!rt.interrupted || !t) return 0;
    if (waiting && (!rt.trap || rt.stop_sig)) {
        t->int_seen = (unsigned)rt.int_epoch;
        return 1;
    }
    if (t->int_seen == (unsigned)rt.int_epoch) return 0;
    t->int_seen = (unsigned)rt.int_epoch;
    return 1;
}

static int raise_interrupted(lua_State *L) {
    if (rt.abort && !rt.interrupted) {
        gl_error_new(L, "interrupted", "the main script failed: glrun is stopping");
        return lua_error(L);
    }
    int sig = rt.stop_sig ? rt.stop_sig : SIGINT;
    const char *name = sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
    int e = sig == SIGINT ? gl_error_new(L, "interrupted", "interrupted")
                          : gl_error_new(L, "interrupted", "interrupted by %s: glrun is stopping", name);
    lua_pushstring(L, name);
    lua_setfield(L, e, "signal");
    return lua_error(L);
}

static int task_k(lua_State *L, int status, lua_KContext ctx) {
    gl_task *t = (gl_task *)ctx;
    (void)status;
    if (interrupt_due(t, 1)) return raise_interrupted(L);
    lua_KFunction k = t->k;
    lua_KContext c = t->kctx;
    t->k = NULL;
    return k(L, LUA_YIELD, c);
}

int gl_yield(lua_State *L, gl_waiter *w, lua_KContext ctx, lua_KFunction k) {
    gl_task *t = rt.current;
    if (!t || !lua_isyieldable(L))
        return luaL_error(L, "this call waits for the network or a timer and must run inside a task "
                             "(the main script, or a function started with gl.spawn)");
    if (w->task && w->task != t) return luaL_error(L, "another task is already waiting on this handle");
    w->task = t;
    t->waiting = w;
    t->k = k;
    t->kctx = ctx;
    t->status = T_PARKED;
    /* the run is stopping: a wait begun after the signal fails too (a
     * script that caught the error and waits again must not hang), after
     * the other tasks had their turn (a catch-and-retry loop must not
     * starve them) */
    if ((rt.interrupted && (!rt.trap || rt.stop_sig)) || rt.abort) gl_wake(w);
    lua_pushlightuserdata(L, &SENTINEL);
    return lua_yieldk(L, 1, (lua_KContext)t, task_k);
}

/* ---- the runaway hook ------------------------------------------------ */

static void where(lua_State *L, char *buf, size_t len) {
    lua_Debug ar;
    buf[0] = 0;
    for (int lv = 0; lua_getstack(L, lv, &ar); lv++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            snprintf(buf, len, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
}

/* Claim the warning of slice seq: 1 for the first claimant only. */
static int claim_warning(uint64_t seq) {
    uint64_t prev = atomic_load(&wd.warned_seq);
    while (prev != seq)
        if (atomic_compare_exchange_weak(&wd.warned_seq, &prev, seq)) return 1;
    return 0;
}

static void hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (interrupt_due(rt.current, 0)) raise_interrupted(L);
    double secs = (uv_hrtime() - atomic_load_explicit(&wd.slice_start, memory_order_relaxed)) / 1e9;
    if (secs < rt.warn_after) return;
    char at[256];
    where(L, at, sizeof at);
    if (rt.limit_after > 0 && secs >= rt.limit_after) {
        gl_error_new(L, "runaway",
                     "task %d ran %.1f s without yielding (at %s); interrupted "
                     "(limit set by GLRUN_MAX_RUN_SECONDS)",
                     rt.current ? rt.current->id : 0, secs, at);
        lua_error(L);
    }
    if (claim_warning(atomic_load_explicit(&wd.slice_seq, memory_order_relaxed))) {
        gl_log(GL_LOG_WARN, "sched",
               "task %d has run %.1f s without yielding (at %s): every other task is frozen meanwhile",
               rt.current ? rt.current->id : 0, secs, at);
    }
}

/* ---- arming the hook ------------------------------------------------- */

static void arm_one(lua_State *co) {
    lua_Hook h = lua_gethook(co);
    if (h == NULL || h == hook) lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_COUNT); /* a script's own hook stays */
}

static void disarm_one(lua_State *co) {
    if (lua_gethook(co) == hook) lua_sethook(co, NULL, 0, 0);
}

/* ARM_SIGNAL, on the loop thread: arm every Lua thread running now. */
static void arm_handler(int sig) {
    (void)sig;
    int saved = errno;
    int n = arm.nrunning;
    if (n > RUN_MAX) n = RUN_MAX;
    for (int i = 0; i < n; i++)
        if (arm.running[i]) arm_one(arm.running[i]);
    if (n > 0) arm.armed = 1;
    errno = saved;
}

/* Ask the loop thread to arm the hook (from any thread, or a handler). */
static void arm_request(void) {
    if (arm.installed) pthread_kill(arm.loop_thread, ARM_SIGNAL);
}

static int co_running(lua_State *L, lua_State *co) {
    lua_Debug ar;
    if (L == co) return 1;
    if (lua_status(co) == LUA_YIELD) return 0;
    if (lua_status(co) != LUA_OK) return 1;       /* dead: lua_resume says so */
    if (lua_getstack(co, 0, &ar)) return 1;       /* normal: it resumed another */
    return lua_gettop(co) == 0;                   /* dead (nothing to run) */
}

/* core._resume(co, ...): coroutine.resume (the prelude's pass-through is
 * built on it) that tracks the running coroutine, so that an armed hook
 * reaches a busy loop inside a coroutine a task resumed. */
static int l_resume(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    int narg = lua_gettop(L) - 1, nres, status;
    if (!lua_checkstack(co, narg)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "too many arguments to resume");
        return 2;
    }
    int track = !co_running(L, co);
    int depth = arm.nrunning;
    if (track) {
        if (!arm.armed) disarm_one(co); /* a hook inherited from an armed creator */
        if (depth < RUN_MAX) arm.running[depth] = co;
        atomic_signal_fence(memory_order_seq_cst);
        arm.nrunning = depth + 1;
        atomic_signal_fence(memory_order_seq_cst);
        if (arm.armed) arm_one(co); /* the slice is already long: keep watching inside */
    }
    lua_xmove(L, co, narg);
    status = lua_resume(co, L, narg, &nres);
    if (track) {
        atomic_signal_fence(memory_order_seq_cst);
        arm.nrunning = depth;
        atomic_signal_fence(memory_order_seq_cst);
        disarm_one(co);
    }
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushboolean(L, 0);
            lua_pushliteral(L, "too many results to resume");
            return 2;
        }
        lua_pushboolean(L, 1);
        lua_xmove(co, L, nres);
        return nres + 1;
    }
    lua_pushboolean(L, 0);
    lua_xmove(co, L, 1); /* the error */
    return 2;
}

static void arm_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = arm_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    arm.loop_thread = pthread_self();
    arm.nrunning = 0;
    arm.armed = 0;
    arm.installed = sigaction(ARM_SIGNAL, &sa, NULL) == 0;
}

/* ---- running tasks --------------------------------------------------- */

static gl_task *check_task(lua_State *L, int i) { return (gl_task *)luaL_checkudata(L, i, TASK_MT); }

static void finish(gl_task *t, int failed) {
    t->status = failed ? T_FAILED : T_DONE;
    rt.live--;
    if (t->prev_live) t->prev_live->next_live = t->next_live;
    else rt.all = t->next_live;
    if (t->next_live) t->next_live->prev_live = t->prev_live;
    t->prev_live = t->next_live = NULL;
    for (int i = 0; i < t->njoiners; i++) gl_wake(t->joiners[i]);
    free(t->joiners);
    t->joiners = NULL;
    t->njoiners = 0;
    if (failed && !t->joined) {
        /* remember it, so an unjoined failure is reported at exit */
        lua_rawgetp(rt.L, LUA_REGISTRYINDEX, &FAILED_KEY);
        lua_rawgeti(rt.L, LUA_REGISTRYINDEX, t->ref);
        lua_pushboolean(rt.L, 1);
        lua_rawset(rt.L, -3);
        lua_pop(rt.L, 1);
        rt.failed_unjoined++;
    }
    luaL_unref(rt.L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
}

static int is_interrupted_error(lua_State *co);
static void gl_task_wake_all(void);

static void run(gl_task *t) {
    int nres = 0;
    rt.current = t;
    t->status = T_RUNNING;
    /* release stores: cheap on the loop thread (plain moves on x86) */
    atomic_store_explicit(&wd.task_id, t->id, memory_order_release);
    atomic_store_explicit(&wd.slice_start, uv_hrtime(), memory_order_release);
    atomic_store_explicit(&wd.slice_seq, ++wd.next_seq, memory_order_release);
    int nargs = t->nargs;
    t->nargs = 0;
    arm.running[0] = t->co;
    atomic_signal_fence(memory_order_seq_cst);
    arm.nrunning = 1;
    atomic_signal_fence(memory_order_seq_cst);
    /* the run is stopping or a Ctrl-C is pending: the hook raises it in a busy task */
    if (rt.interrupted && t->int_seen != (unsigned)rt.int_epoch) arm_handler(0);
    int st = lua_resume(t->co, rt.L, nargs, &nres);
    arm.nrunning = 0;
    atomic_signal_fence(memory_order_seq_cst);
    if (arm.armed) {
        arm.armed = 0;
        disarm_one(t->co);
    }
    atomic_store_explicit(&wd.slice_seq, 0, memory_order_release);
    rt.current = NULL;
    if (st == LUA_YIELD) {
        lua_pop(t->co, nres);
        if (t->status != T_PARKED) enqueue(t); /* a plain coroutine.yield(): let others run */
        return;
    }
    if (st == LUA_OK) {
        t->nres = nres;
        finish(t, 0);
        return;
    }
    /* failure: keep the error value on co's stack, and a traceback */
    const char *msg = lua_tostring(t->co, -1);
    if (!msg) {
        if (luaL_callmeta(t->co, -1, "__tostring") && lua_type(t->co, -1) == LUA_TSTRING) {
            msg = lua_tostring(t->co, -1);
            lua_pop(t->co, 1);
        } else msg = "(error object is not a string)";
    }
    luaL_traceback(rt.L, t->co, msg, 0);
    t->tb_ref = luaL_ref(rt.L, LUA_REGISTRYINDEX);
    t->nres = 1;
    finish(t, 1);
    /* the main script failed: the run stops (its error is reported at
     * once, not after the tasks it left waiting, say on a socket, end) */
    if (t == rt.main && !is_interrupted_error(t->co)) {
        rt.abort = 1;
        gl_task_wake_all();
    }
}

static void idle_cb(uv_idle_t *h) {
    (void)h;
    gl_task *last = rt.tail; /* run only what is ready now: I/O gets its turn */
    while (rt.head) {
        gl_task *t = rt.head;
        rt.head = t->next;
        if (!rt.head) rt.tail = NULL;
        t->queued = 0;
        t->next = NULL;
        run(t);
        if (t == last) break;
    }
    if (!rt.head) uv_idle_stop(&rt.idle);
}

/* Create a task running the function at stack index fidx with nargs args
 * above it (they are moved). Pushes the task userdata. */
gl_task *gl_task_spawn(lua_State *L, int nargs) {
    int fidx = lua_gettop(L) - nargs;
    luaL_checktype(L, fidx, LUA_TFUNCTION);
    gl_task *t = (gl_task *)lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    t->ref = LUA_NOREF;
    t->tb_ref = LUA_NOREF;
    t->id = ++rt.next_id;
    t->int_seen = (unsigned)rt.int_epoch; /* interrupts before its birth are not its own */
    luaL_setmetatable(L, TASK_MT);
    lua_State *co = lua_newthread(L);
    disarm_one(co); /* armed in its first long slice only (not inherited from an armed spawner) */
    lua_setiuservalue(L, -2, 1); /* task keeps its thread alive */
    t->co = co;
    /* move function + args to the thread */
    lua_rotate(L, fidx, 1); /* ... task fn args */
    lua_xmove(L, co, nargs + 1);
    t->nargs = nargs;
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    rt.live++;
    t->next_live = rt.all;
    if (rt.all) rt.all->prev_live = t;
    rt.all = t;
    enqueue(t);
    return t;
}

/* gl.spawn(fn, ...) -> task */
static int l_spawn(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    gl_task_spawn(L, lua_gettop(L) - 1);
    return 1;
}

static int push_results(lua_State *L, gl_task *t) {
    if (t->joined == 0 && t->status == T_FAILED) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &FAILED_KEY);
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        rt.failed_unjoined--;
    }
    t->joined = 1;
    int n = t->nres;
    luaL_checkstack(L, n + 1, "too many results");
    if (t->status == T_FAILED) {
        lua_pushnil(L);
        lua_pushvalue(t->co, -1);
        lua_xmove(t->co, L, 1);
        return 2;
    }
    int base = lua_gettop(t->co) - n;
    for (int i = 1; i <= n; i++) lua_pushvalue(t->co, base + i);
    lua_xmove(t->co, L, n);
    return n;
}

static int join_k(lua_State *L, int status, lua_KContext ctx) {
    gl_task *t = check_task(L, 1);
    gl_waiter *w = (gl_waiter *)ctx;
    if (t->status == T_DONE || t->status == T_FAILED) {
        free(w);
        return push_results(L, t);
    }
    return gl_yield(L, w, ctx, join_k);
}

/* task:join() -> the task's results, or nil, err if it failed */
static int l_join(lua_State *L) {
    gl_task *t = check_task(L, 1);
    if (t->status == T_DONE || t->status == T_FAILED) return push_results(L, t);
    if (t == rt.current) return luaL_error(L, "a task cannot join itself");
    gl_waiter *w = calloc(1, sizeof *w);
    if (!w) return luaL_error(L, "out of memory");
    gl_waiter **j = realloc(t->joiners, sizeof *j * (t->njoiners + 1));
    if (!j) { free(w); return luaL_error(L, "out of memory"); }
    t->joiners = j;
    t->joiners[t->njoiners++] = w;
    return gl_yield(L, w, (lua_KContext)w, join_k);
}

static int l_status(lua_State *L) {
    lua_pushstring(L, status_names[check_task(L, 1)->status]);
    return 1;
}

static int l_task_tostring(lua_State *L) {
    gl_task *t = check_task(L, 1);
    lua_pushfstring(L, "task %d (%s)", t->id, status_names[t->status]);
    return 1;
}

static int l_task_gc(lua_State *L) {
    gl_task *t = check_task(L, 1);
    free(t->joiners);
    t->joiners = NULL;
    if (t->tb_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, t->tb_ref);
    t->tb_ref = LUA_NOREF;
    return 0;
}

/* ---- sleep / now ----------------------------------------------------- */

typedef struct sleeper {
    uv_timer_t timer;
    gl_waiter w;
    int fired;
} sleeper;

static void sleeper_free(uv_handle_t *h) { free(h->data); }
static void sleep_cb(uv_timer_t *tm) {
    sleeper *s = tm->data;
    s->fired = 1;
    gl_wake(&s->w);
}

static void sleeper_close(sleeper **sp) {
    if (*sp) {
        uv_close((uv_handle_t *)&(*sp)->timer, sleeper_free);
        *sp = NULL;
    }
}

static int sleep_gc(lua_State *L) {
    sleeper_close(lua_touserdata(L, 1));
    return 0;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
    sleeper **sp = lua_touserdata(L, 2);
    if (!(*sp)->fired) return gl_yield(L, &(*sp)->w, ctx, sleep_k);
    sleeper_close(sp);
    return 0;
}

/* gl.sleep(seconds) — yields the task; 0 just lets other tasks run */
static int l_sleep(lua_State *L) {
    double secs = luaL_checknumber(L, 1);
    luaL_argcheck(L, secs >= 0, 1, "negative duration");
    lua_settop(L, 1);
    if (!gl_in_task(L)) return luaL_error(L, "gl.sleep must be called inside a task");
    sleeper **sp = lua_newuserdatauv(L, sizeof *sp, 0);
    *sp = NULL;
    if (luaL_newmetatable(L, "glrun.sleeper")) {
        lua_pushcfunction(L, sleep_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    sleeper *s = calloc(1, sizeof *s);
    if (!s) return luaL_error(L, "out of memory");
    uv_timer_init(rt.loop, &s->timer);
    s->timer.data = s;
    *sp = s;
    uv_timer_start(&s->timer, sleep_cb, (uint64_t)(secs * 1000 + 0.5), 0);
    return gl_yield(L, &s->w, 0, sleep_k);
}

static int l_now(lua_State *L) {
    lua_pushnumber(L, uv_hrtime() / 1e9);
    return 1;
}

static int l_time(lua_State *L) {
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    lua_pushnumber(L, tv.tv_sec + tv.tv_usec / 1e6);
    return 1;
}

static int l_current(lua_State *L) {
    if (!rt.current || rt.current->ref == LUA_NOREF) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt.current->ref);
    return 1;
}

static int l_sentinel(lua_State *L) {
    lua_pushlightuserdata(L, &SENTINEL);
    return 1;
}

/* gl.trap_interrupts(on) -> previous setting. With the trap on, Ctrl-C
 * raises an "interrupted" error (kind "interrupted") once in each task that
 * is waiting or running, and the run goes on: a REPL cancels the current
 * reply this way. */
static int l_trap_interrupts(lua_State *L) {
    int prev = rt.trap;
    rt.trap = lua_toboolean(L, 1);
    if (!rt.trap && !rt.stop_sig) rt.interrupted = 0;
    lua_pushboolean(L, prev);
    return 1;
}

const luaL_Reg gl_sched_funcs[] = {
    {"spawn", l_spawn}, {"sleep", l_sleep}, {"now", l_now}, {"time", l_time},
    {"current", l_current}, {"_sentinel", l_sentinel}, {"trap_interrupts", l_trap_interrupts},
    {"_resume", l_resume}, {NULL, NULL},
};

static const luaL_Reg task_methods[] = {
    {"join", l_join}, {"status", l_status}, {NULL, NULL},
};

/* The task metatable; core.c registers glrun.core with gl_sched_funcs. */
void gl_sched_open(lua_State *L) {
    if (luaL_newmetatable(L, TASK_MT)) {
        luaL_newlib(L, task_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_task_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, l_task_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}

/* ---- lifecycle (used by main.c) --------------------------------------- */

/* A module's stop hook (gl_sched_set_stop_hook): the first stop signal
 * goes to it, from the loop, and the run goes on; a later one acts as
 * usual. */
static struct {
    void (*fn)(int sig);
    volatile sig_atomic_t sig; /* the signal the hook has to hear of */
    int told;
} stophook;

void gl_sched_set_stop_hook(void (*fn)(int sig)) {
    if (fn && !stophook.fn) { stophook.sig = 0; stophook.told = 0; }
    stophook.fn = fn;
}

static void sig_handler(int sig) {
    if (stophook.fn && !stophook.sig) { /* the hook's: nobody is interrupted */
        stophook.sig = sig;
        uv_async_send(&rt.sigasync);
        return;
    }
    if (sig != SIGINT) {
        if (rt.stop_sig) { /* the second TERM/HUP: leave now */
            signal(sig, SIG_DFL);
            raise(sig);
            return;
        }
        rt.stop_sig = sig;
    } else if (rt.interrupted && (!rt.trap || rt.stop_sig)) { /* second Ctrl-C: leave now */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    rt.interrupted = 1;
    rt.int_epoch++;
    uv_async_send(&rt.sigasync);
    arm_request(); /* a busy task hears of it through the hook */
}

static void gl_task_wake_all(void) {
    for (gl_task *t = rt.all; t; t = t->next_live)
        if (t->waiting) gl_wake(t->waiting);
}

static void sigasync_cb(uv_async_t *a) {
    (void)a;
    if (stophook.sig && !stophook.told) {
        stophook.told = 1;
        if (stophook.fn) stophook.fn(stophook.sig);
        if (!rt.interrupted) return;
    }
    gl_log(GL_LOG_INFO, "sched", rt.stop_sig ? "terminated: stopping tasks" : "interrupted: stopping tasks");
    /* parked tasks wake up and raise "interrupted" in task_k */
    gl_task_wake_all();
}

/* ---- the watchdog thread ----------------------------------------------- */

/* Lua's count hook cannot run while a C function (string.find on a
 * pathological pattern, a huge table.sort) holds the loop thread. This
 * thread wakes a few times a second; a slice that has run past the warning
 * threshold (plus a grace, so that the hook, which knows the line, speaks
 * first in Lua code) and was not warned about gets one line on stderr. It
 * reads atomics and writes(2): no Lua, no allocation, no locks shared with
 * the loop. */
static void watchdog_main(void *arg) {
    (void)arg;
    uint64_t grace = 500 * 1000000ull, after = (uint64_t)(rt.warn_after * 1e9);
    /* the hook is armed a little before the first threshold, so it speaks on time */
    double first = rt.limit_after > 0 && rt.limit_after < rt.warn_after ? rt.limit_after : rt.warn_after;
    uint64_t arm_after = first > 0.2 ? (uint64_t)((first - 0.15) * 1e9) : 0;
    uv_mutex_lock(&wd.mu);
    while (!wd.stop) {
        uv_cond_timedwait(&wd.cond, &wd.mu, 100 * 1000000ull);
        if (wd.stop) break;
        uint64_t seq = atomic_load(&wd.slice_seq);
        if (!seq) continue;
        uint64_t start = atomic_load(&wd.slice_start);
        int id = atomic_load(&wd.task_id);
        if (atomic_load(&wd.slice_seq) != seq) continue; /* it ended meanwhile */
        uint64_t now = uv_hrtime();
        if (wd.armed_seq != seq && now >= start && now - start >= arm_after) {
            wd.armed_seq = seq;
            arm_request();
        }
        if (atomic_load(&wd.warned_seq) == seq) continue;
        if (now < start || now - start < after + grace) continue;
        if (!gl_log_enabled(GL_LOG_WARN) || !claim_warning(seq)) continue;
        char msg[320];
        int n = snprintf(msg, sizeof msg,
                         "glrun[warn] sched: task %d has run %.1f s without yielding (inside a C function? "
                         "a backtracking string.find, say): every other task is frozen meanwhile, and it "
                         "cannot be interrupted until the function returns\n",
                         id, (now - start) / 1e9);
        if (n > 0) {
            ssize_t w = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
            (void)w;
        }
    }
    uv_mutex_unlock(&wd.mu);
}

static void watchdog_start(void) {
    if (wd.started) return;
    atomic_store(&wd.slice_seq, 0);
    atomic_store(&wd.warned_seq, 0);
    if (uv_mutex_init(&wd.mu) != 0) return;
    if (uv_cond_init(&wd.cond) != 0) { uv_mutex_destroy(&wd.mu); return; }
    wd.stop = 0;
    uv_thread_options_t to = {UV_THREAD_HAS_STACK_SIZE, 256 * 1024}; /* it needs little */
    if (uv_thread_create_ex(&wd.thread, &to, watchdog_main, NULL) != 0) {
        uv_cond_destroy(&wd.cond);
        uv_mutex_destroy(&wd.mu);
        return;
    }
    wd.started = 1;
}

static void watchdog_stop(void) {
    if (!wd.started) return;
    uv_mutex_lock(&wd.mu);
    wd.stop = 1;
    uv_cond_signal(&wd.cond);
    uv_mutex_unlock(&wd.mu);
    uv_thread_join(&wd.thread);
    uv_cond_destroy(&wd.cond);
    uv_mutex_destroy(&wd.mu);
    wd.started = 0;
}

void gl_sched_init(lua_State *L, uv_loop_t *loop) {
    memset(&rt, 0, sizeof rt);
    rt.L = L;
    rt.loop = loop;
    uv_idle_init(loop, &rt.idle);
    uv_async_init(loop, &rt.sigasync, sigasync_cb);
    uv_unref((uv_handle_t *)&rt.sigasync);
    const char *w = getenv("GLRUN_WARN_RUN_SECONDS");
    const char *m = getenv("GLRUN_MAX_RUN_SECONDS");
    rt.warn_after = w ? atof(w) : 2.0;
    rt.limit_after = m ? atof(m) : 30.0;
    if (rt.warn_after <= 0) rt.warn_after = 2.0;
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &FAILED_KEY);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a hang-up stops the run too, unless it was ignored (nohup) */
    struct sigaction old;
    if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, NULL);
    arm_install();
    watchdog_start();
}


int gl_sched_interrupted(void) { return (rt.interrupted && !rt.trap) || rt.stop_sig; }

int gl_sched_stop_signal(void) { return rt.stop_sig; }



/* Run until every task is done. Returns 0, or -1 on a deadlock (tasks left
 * waiting with nothing that could wake them). */
int gl_sched_run(void) {
    while (rt.live > 0) {
        int more = uv_run(rt.loop, UV_RUN_ONCE);
        if (!more && rt.live > 0 && !rt.head) return -1;
    }
    return 0;
}

int gl_sched_live(void) { return rt.live; }

void gl_sched_set_main(gl_task *t) { rt.main = t; }

static int is_interrupted_error(lua_State *co) {
    if (!lua_istable(co, -1)) return 0;
    lua_getfield(co, -1, "kind");
    int yes = lua_type(co, -1) == LUA_TSTRING && strcmp(lua_tostring(co, -1), "interrupted") == 0;
    lua_pop(co, 1);
    return yes;
}

static int by_id(const void *a, const void *b) {
    int x = (*(gl_task *const *)a)->id, y = (*(gl_task *const *)b)->id;
    return (x > y) - (x < y);
}

#define REPORT_MAX 3

/* Report failed tasks nobody joined: the first REPORT_MAX failures (by
 * task id) with their tracebacks, then how many more; tasks that only
 * failed because the run was interrupted are counted in *cancelled, not
 * reported (2,000 tasks in flight at Ctrl-C are one line, not 14,000).
 * Returns how many failures were not interruptions. */
int gl_sched_report_failures(lua_State *L, int *cancelled) {
    int n = 0, ncancel = 0, cap = 0, count = 0;
    gl_task **list = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &FAILED_KEY);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        gl_task *t = lua_touserdata(L, -1);
        if (!t || t->tb_ref == LUA_NOREF) continue;
        if (is_interrupted_error(t->co)) { ncancel++; continue; }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            gl_task **nl = realloc(list, sizeof *nl * (size_t)cap);
            if (!nl) break;
            list = nl;
        }
        list[count++] = t;
    }
    lua_pop(L, 1);
    if (count > 1) qsort(list, (size_t)count, sizeof *list, by_id);
    for (int i = 0; i < count; i++) {
        gl_task *t = list[i];
        n++;
        if (i >= REPORT_MAX) continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->tb_ref);
        size_t len;
        const char *tb = lua_tolstring(L, -1, &len);
        char *red = gl_redact(tb, len, &len);
        fprintf(stderr, "glrun: task %d failed and nobody joined it: %s\n", t->id, red);
        free(red);
        lua_pop(L, 1);
    }
    if (count > REPORT_MAX)
        fprintf(stderr, "glrun: ... and %d more tasks failed and nobody joined them (the first %d are shown)\n",
                count - REPORT_MAX, REPORT_MAX);
    free(list);
    if (cancelled) *cancelled = ncancel;
    return n;
}

/* Main-task helpers for main.c */
gl_task *gl_task_from(lua_State *L, int idx) { return check_task(L, idx); }
int gl_task_failed(gl_task *t) { return t->status == T_FAILED; }
lua_State *gl_task_thread(gl_task *t) { return t->co; }
int gl_task_traceback(lua_State *L, gl_task *t) {
    if (t->tb_ref == LUA_NOREF) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->tb_ref);
    return 1;
}
void gl_task_mark_joined(lua_State *L, gl_task *t, int idx) {
    if (!t->joined && t->status == T_FAILED) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &FAILED_KEY);
        lua_pushvalue(L, idx);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        rt.failed_unjoined--;
    }
    t->joined = 1;
}

void gl_sched_close(void) {
    watchdog_stop();
    uv_close((uv_handle_t *)&rt.idle, NULL);
    uv_close((uv_handle_t *)&rt.sigasync, NULL);
}
