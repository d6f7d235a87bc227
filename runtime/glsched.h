/* sched.h — the scheduler's lifecycle, for main.c */
#ifndef GL_SCHED_H
#define GL_SCHED_H
#include "gl.h"

void gl_sched_init(lua_State *L, uv_loop_t *loop);
gl_task *gl_task_spawn(lua_State *L, int nargs); /* fn + nargs on stack -> pushes task */
int gl_sched_run(void);               /* 0, or -1 on deadlock */
void gl_sched_set_main(gl_task *t);   /* its failure stops the run: every other task's wait fails */
int gl_sched_live(void);
int gl_sched_interrupted(void);     /* the run stops: untrapped Ctrl-C, SIGTERM, SIGHUP */
int gl_sched_stop_signal(void);     /* SIGTERM or SIGHUP when one stopped the run, else 0 */
/* glrun.server's stop_signals: while fn is set, the first SIGTERM, SIGINT or
 * SIGHUP calls fn(sig) from the loop instead of stopping the run (no task
 * is interrupted); a second one stops the run as usual. NULL removes it. */
void gl_sched_set_stop_hook(void (*fn)(int sig));
int gl_sched_report_failures(lua_State *L, int *cancelled);
gl_task *gl_task_from(lua_State *L, int idx);
int gl_task_failed(gl_task *t);
lua_State *gl_task_thread(gl_task *t);
int gl_task_traceback(lua_State *L, gl_task *t);
void gl_task_mark_joined(lua_State *L, gl_task *t, int idx);
void gl_sched_close(void);

/* glrun.core's scheduler half: core.c registers it */
void gl_sched_open(lua_State *L);
extern const luaL_Reg gl_sched_funcs[];

/* log.c, trace.c, redact.c */
int gl_log_set_level(const char *name);
int gl_trace_open(const char *path);
void gl_trace_close(void);
void gl_secrets_free(void);
#endif
