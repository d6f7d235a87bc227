/*
 * lineedit.c — glrun.readline: read lines from standard input without
 * stopping the event loop.
 *
 * On a terminal, libedit's readline-compatible callback interface does the
 * editing (cursor keys, history, ^R, ~/.editrc) while a uv_poll_t on stdin
 * feeds it one character at a time, so timers, other tasks and a "waiting"
 * indicator keep running while the user types. The line handler libedit
 * calls only stores the line; the poll callback then wakes the reading task
 * (never Lua from inside libedit). When stdin is not a terminal (a pipe, a
 * file, tests) lines are read plainly, without libedit and without a prompt.
 *
 * libedit's readline API keeps its state in globals and stdin is one, so
 * this module has one state too; it is created on first use and released
 * (terminal restored) when the Lua state closes.
 *
 * libedit is opened on first use (lazy_edit.h), when stdin turns out to be
 * a terminal: scripts that read a pipe, or nothing, never map it. If it
 * cannot be loaded, lines are read plainly (the prompt is still written)
 * and readline.interactive() returns false plus the reason.
 *
 * Ctrl-C while editing: the scheduler's SIGINT handling raises
 * "interrupted" in the reading task (with gl.trap_interrupts(true) the run
 * goes on); the line being typed is dropped on the way out, and the next
 * read() starts on a fresh line with a new prompt.
 */
#include "gl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "lazy_edit.h"   /* libedit, loaded on first use */

#define STATE_MT "glrun.readline"
#define HISTORY_MAX 1000

typedef struct rl_state {
    int tty;            /* stdin is a terminal: edit with libedit */
    int inited;         /* libedit initialised */
    int editing;        /* a libedit line handler is installed */
    int have_line;      /* line (or eof) ready for the next read() */
    int eof;
    char *line;         /* the finished line (malloc'd) */
    int last_char;      /* the last character libedit read (for ^D) */
    uv_poll_t *poll;    /* stdin watcher; NULL when stdin cannot be polled */
    int poll_failed;
    int polling;
    uv_signal_t *winch; /* terminal resized while editing */
    gl_waiter waiter;
    gl_buf in;          /* plain mode: bytes read; those before `off` are returned already */
    size_t off;         /* start of the bytes not yet returned */
    size_t scan;        /* in.p[off..scan) holds no newline: a long line is searched once */
    int closed;
    int noedit;         /* stdin is a terminal but libedit could not be loaded */
    char noedit_why[256];
} rl_state;

static rl_state *the_state; /* libedit's callbacks carry no user pointer */
static char STATE_KEY;

/* ---- libedit glue (runs inside libedit: no Lua here) ------------------ */

static int getc_hook(FILE *f) {
    unsigned char c;
    ssize_t n;
    do n = read(fileno(f), &c, 1);
    while (n < 0 && errno == EINTR);
    int ch = n == 1 ? c : EOF;
    if (the_state) the_state->last_char = ch;
    return ch;
}

static void on_line(char *line) {
    rl_state *s = the_state;
    if (!s) { free(line); return; }
    free(s->line);
    s->line = line; /* NULL: end of input */
    s->eof = line == NULL;
    s->have_line = 1;
}

/* ---- watching stdin -------------------------------------------------- */

static void poll_free(uv_handle_t *h) { free(h); }
static void winch_free(uv_handle_t *h) { free(h); }

static void poll_stop(rl_state *s) {
    if (s->poll && s->polling) uv_poll_stop(s->poll);
    s->polling = 0;
}

static void editing_stop(rl_state *s) {
    if (!s->editing) return;
    rl_callback_handler_remove(); /* back to cooked mode */
    s->editing = 0;
    if (s->winch) uv_signal_stop(s->winch);
}

static int at_veof(int c) {
    struct termios t;
    int veof = 4; /* ^D */
    if (tcgetattr(0, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE) veof = t.c_cc[VEOF];
    return c == veof;
}

/* The next newline in the bytes not yet returned, or NULL. Each byte is
 * searched once however many reads a long line takes (linear, not
 * quadratic, in the line's length). */
static char *find_nl(rl_state *s) {
    if (s->scan < s->off) s->scan = s->off;
    if (s->scan >= s->in.len) return NULL;
    char *nl = memchr(s->in.p + s->scan, '\n', s->in.len - s->scan);
    s->scan = nl ? (size_t)(nl - s->in.p) : s->in.len;
    return nl;
}

static void plain_fill(rl_state *s) {
    char buf[65536];
    ssize_t n;
    if (s->off && s->off >= s->in.len / 2) { /* drop the lines returned, in O(what is left) */
        memmove(s->in.p, s->in.p + s->off, s->in.len - s->off);
        s->in.len -= s->off;
        s->scan -= s->off;
        s->off = 0;
    }
    do n = read(0, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n > 0) gl_buf_add(&s->in, buf, (size_t)n);
    else if (n == 0 || errno != EAGAIN) s->eof = 1;
}

static void poll_cb(uv_poll_t *p, int status, int events) {
    rl_state *s = p->data;
    (void)events;
    if (status < 0) {
        s->eof = 1;
        if (s->tty) { s->have_line = 1; editing_stop(s); }
        poll_stop(s);
        gl_wake(&s->waiter);
        return;
    }
    if (s->tty) {
        if (!s->editing) { poll_stop(s); return; }
        rl_callback_read_char();
        /* libedit does not report ^D on an empty line in callback mode */
        if (!s->have_line && rl_end == 0 && (s->last_char == EOF || at_veof(s->last_char))) on_line(NULL);
        if (!s->have_line) return;
        editing_stop(s);
        if (s->eof) fputs("\n", rl_outstream);
        fflush(rl_outstream);
    } else {
        plain_fill(s);
        if (!s->eof && !find_nl(s)) return;
    }
    poll_stop(s);
    gl_wake(&s->waiter);
}

static void winch_cb(uv_signal_t *h, int sig) {
    (void)h; (void)sig;
    if (the_state && the_state->editing) rl_resize_terminal();
}

static int poll_start(lua_State *L, rl_state *s) {
    if (s->poll_failed) return -1;
    if (!s->poll) {
        s->poll = malloc(sizeof *s->poll);
        if (!s->poll) return luaL_error(L, "out of memory");
        if (uv_poll_init(gl_loop(L), s->poll, 0) != 0) {
            /* a regular file or /dev/null: reads never block, no need to poll */
            free(s->poll);
            s->poll = NULL;
            s->poll_failed = 1;
            return -1;
        }
        s->poll->data = s;
    }
    if (!s->polling) uv_poll_start(s->poll, UV_READABLE, poll_cb);
    s->polling = 1;
    return 0;
}

static void ensure_inited(lua_State *L, rl_state *s) {
    if (s->inited) return;
    rl_readline_name = "glrun";
    rl_catch_signals = 0;     /* SIGINT belongs to the scheduler */
    rl_catch_sigwinch = 0;    /* watched on the loop instead */
    rl_instream = stdin;
    rl_outstream = isatty(1) ? stdout : stderr; /* never the prompt into a redirected stdout */
    rl_getc_function = getc_hook;
    rl_initialize();
    stifle_history(HISTORY_MAX);
    s->winch = malloc(sizeof *s->winch);
    if (s->winch && uv_signal_init(gl_loop(L), s->winch) == 0) {
        uv_unref((uv_handle_t *)s->winch);
    } else {
        free(s->winch);
        s->winch = NULL;
    }
    s->inited = 1;
}

/* ---- the state userdata ---------------------------------------------- */

static void state_close(rl_state *s) {
    if (s->closed) return;
    s->closed = 1;
    if (s->editing) {
        editing_stop(s);
        fputs("\n", rl_outstream);
        fflush(rl_outstream);
    }
    gl_waiter_cancel(&s->waiter);
    if (s->poll) {
        poll_stop(s);
        uv_close((uv_handle_t *)s->poll, poll_free);
        s->poll = NULL;
    }
    if (s->winch) {
        uv_close((uv_handle_t *)s->winch, winch_free);
        s->winch = NULL;
    }
    free(s->line);
    s->line = NULL;
    gl_buf_free(&s->in);
    s->off = s->scan = 0;
    if (the_state == s) the_state = NULL;
}

static int state_gc(lua_State *L) {
    state_close(luaL_checkudata(L, 1, STATE_MT));
    return 0;
}

static rl_state *get_state(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
    rl_state *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (s) return s;
    s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    if (luaL_newmetatable(L, STATE_MT)) {
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
    s->tty = isatty(0) && getenv("GLRUN_PLAIN_INPUT") == NULL;
    if (s->tty && !gl_edit_load(s->noedit_why, sizeof s->noedit_why)) {
        s->tty = 0;     /* plain lines, prompt written by read_raw */
        s->noedit = 1;
        gl_log(GL_LOG_WARN, "readline", "no line editing: %s", s->noedit_why);
    }
    the_state = s;
    return s;
}

/* ---- read ------------------------------------------------------------ */

/* Push the next line if one is ready (1), nil at the end of input (1), or
 * nothing (0) when the task has to wait. */
static int take_line(lua_State *L, rl_state *s) {
    if (s->tty) {
        if (!s->have_line) return 0;
        s->have_line = 0;
        if (!s->line) { s->eof = 1; lua_pushnil(L); return 1; }
        lua_pushstring(L, s->line);
        free(s->line);
        s->line = NULL;
        return 1;
    }
    char *nl = find_nl(s);
    if (!nl && !s->eof) return 0;
    const char *start = s->in.p ? s->in.p + s->off : "";
    size_t n = nl ? (size_t)(nl - start) : s->in.len - s->off;
    if (!nl && n == 0) { lua_pushnil(L); return 1; }
    size_t len = n;
    if (len && start[len - 1] == '\r') len--;
    lua_pushlstring(L, start, len);
    s->off += nl ? n + 1 : n;
    s->scan = s->off;
    if (s->off == s->in.len) s->off = s->scan = s->in.len = 0;
    return 1;
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
    rl_state *s = (rl_state *)ctx;
    (void)status;
    if (take_line(L, s)) return 1;
    if (!s->tty && poll_start(L, s) != 0) {
        while (!s->eof && !find_nl(s)) plain_fill(s);
        return read_k(L, status, ctx);
    }
    if (s->tty) poll_start(L, s);
    return gl_yield(L, &s->waiter, ctx, read_k);
}

/* The reading itself, called in a protected call by readline_read. */
static int read_raw(lua_State *L) {
    const char *prompt = luaL_optstring(L, 1, "");
    rl_state *s = get_state(L);
    if (take_line(L, s)) return 1;
    if (s->eof && s->tty) { lua_pushnil(L); return 1; }
    if (!gl_in_task(L)) return luaL_error(L, "readline.read must be called inside a task");
    if (s->noedit && *prompt) {   /* a terminal without libedit: still show the prompt */
        FILE *out = isatty(1) ? stdout : stderr;
        fflush(stdout);
        fputs(prompt, out);
        fflush(out);
    }
    if (s->tty && !s->editing) {
        ensure_inited(L, s);
        fflush(stdout);
        fflush(stderr);
        rl_callback_handler_install(prompt, on_line);
        fflush(rl_outstream);
        s->editing = 1;
        if (s->winch) uv_signal_start(s->winch, winch_cb, SIGWINCH);
    }
    return read_k(L, 0, (lua_KContext)s);
}

/* After the read: on an error (Ctrl-C raises "interrupted" in the waiting
 * task) the line being edited is dropped and the terminal restored before
 * the error goes on, so whatever the script prints next starts on a line
 * of its own and the next read() shows a fresh prompt. */
static int read_done(lua_State *L, int status, lua_KContext ctx) {
    rl_state *s = (rl_state *)ctx;
    if (status == LUA_OK || status == LUA_YIELD) return 1;
    if (s->tty && s->editing) {
        editing_stop(s);
        int interrupted = 0;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "kind");
            interrupted = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "interrupted") == 0;
            lua_pop(L, 1);
        }
        fputs(interrupted ? "^C\n" : "\n", rl_outstream);
        fflush(rl_outstream);
    }
    return lua_error(L);
}

/* readline.read([prompt]) -> line | nil at the end of input (Ctrl-D).
 * Waits (the task yields) while the user types. On a terminal the line is
 * edited with libedit and the prompt shown; otherwise plain lines, no
 * prompt. A Ctrl-C raises "interrupted" (see gl.trap_interrupts) after
 * dropping the line being typed. */
static int readline_read(lua_State *L) {
    lua_settop(L, 1);
    rl_state *s = get_state(L);
    if (s->closed) return gl_closed(L, "readline");
    if (s->waiter.task) return luaL_error(L, "readline: another task is already reading");
    lua_pushcfunction(L, read_raw);
    lua_insert(L, 1);
    return read_done(L, lua_pcallk(L, 1, 1, 0, (lua_KContext)s, read_done), (lua_KContext)s);
}

/* ---- history --------------------------------------------------------- */

static int readline_add_history(lua_State *L) {
    const char *line = luaL_checkstring(L, 1);
    rl_state *s = get_state(L);
    if (!s->tty || !*line) return 0;
    ensure_inited(L, s);
    add_history(line);
    return 0;
}

/* the default history file: $XDG_STATE_HOME/glrun/history, else
 * ~/.local/state/glrun/history */
static int push_history_path(lua_State *L) {
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg) lua_pushfstring(L, "%s/glrun/history", xdg);
    else if (home && *home) lua_pushfstring(L, "%s/.local/state/glrun/history", home);
    else lua_pushnil(L);
    return 1;
}

static int readline_history_file(lua_State *L) { return push_history_path(L); }

static int mkdirs_for(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static const char *history_arg(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) return luaL_checkstring(L, 1);
    push_history_path(L);
    lua_replace(L, 1);
    return lua_tostring(L, 1);
}

/* readline.load_history([path]) -> true | nil, err. A missing file is
 * not an error (a first run). Only on a terminal; otherwise a no-op. */
static int readline_load_history(lua_State *L) {
    lua_settop(L, 1);
    rl_state *s = get_state(L);
    const char *path = history_arg(L);
    if (!s->tty || !path) { lua_pushboolean(L, 1); return 1; }
    ensure_inited(L, s);
    if (access(path, F_OK) != 0) { lua_pushboolean(L, 1); return 1; }
    errno = 0;
    if (read_history(path) != 0)
        return gl_fail(L, "io", "cannot read the history file %s: %s", path, strerror(errno ? errno : EINVAL));
    lua_pushboolean(L, 1);
    return 1;
}

/* readline.save_history([path]) -> true | nil, err (the folders are
 * created, mode 0700; the last 1000 lines are kept). */
static int readline_save_history(lua_State *L) {
    lua_settop(L, 1);
    rl_state *s = get_state(L);
    const char *path = history_arg(L);
    if (!s->tty || !s->inited || !path) { lua_pushboolean(L, 1); return 1; }
    errno = 0;
    if (mkdirs_for(path) != 0 || write_history(path) != 0)
        return gl_fail(L, "io", "cannot write the history file %s: %s", path, strerror(errno ? errno : EINVAL));
    chmod(path, 0600);
    lua_pushboolean(L, 1);
    return 1;
}

/* readline.interactive() -> true when lines are edited on a terminal;
 * false, err (kind "unsupported") when stdin is a terminal but libedit
 * cannot be loaded; false otherwise */
static int readline_interactive(lua_State *L) {
    rl_state *s = get_state(L);
    lua_pushboolean(L, s->tty);
    if (!s->noedit) return 1;
    gl_error_new(L, "unsupported", "no line editing: %s", s->noedit_why);
    return 2;
}

static const luaL_Reg readline_funcs[] = {
    {"read", readline_read},
    {"add_history", readline_add_history},
    {"load_history", readline_load_history},
    {"save_history", readline_save_history},
    {"history_file", readline_history_file},
    {"interactive", readline_interactive},
    {NULL, NULL},
};

int luaopen_glrun_readline(lua_State *L) {
    luaL_newlib(L, readline_funcs);
    return 1;
}
