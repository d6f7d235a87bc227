/*
 * lazy_edit.h — libedit, opened the first time a line is edited on a
 * terminal (glrun.readline; see lazy.h).
 *
 * Each libedit function or variable lineedit.c uses is listed once in
 * GL_EDIT_SYMS and redirected below: a function to a pointer, a variable
 * to the library's own variable through its address (dlsym of a data
 * symbol). Use none of them before gl_edit_load() returned 1.
 */
#ifndef GL_LAZY_EDIT_H
#define GL_LAZY_EDIT_H

#include <stdio.h>
#include <stddef.h>
#include <editline/readline.h>

#define GL_EDIT_SONAME "libedit.so.2"

#define GL_EDIT_SYMS(X) \
    X(rl_readline_name) X(rl_instream) X(rl_outstream) X(rl_end) X(rl_catch_signals) \
    X(rl_catch_sigwinch) X(rl_getc_function) X(rl_initialize) X(add_history) \
    X(stifle_history) X(read_history) X(write_history) X(rl_resize_terminal) \
    X(rl_callback_read_char) X(rl_callback_handler_install) X(rl_callback_handler_remove)

typedef struct gl_edit_api {
#define GL_EDIT_FIELD(f) __typeof__(f) *f;
    GL_EDIT_SYMS(GL_EDIT_FIELD)
#undef GL_EDIT_FIELD
} gl_edit_api;

extern gl_edit_api gl_edit;

/* Open libedit once: 1, or 0 with why in err; later calls repeat it. */
int gl_edit_load(char *err, size_t errlen);

#ifndef GL_LAZY_IMPL
/* variables */
#define rl_readline_name (*gl_edit.rl_readline_name)
#define rl_instream (*gl_edit.rl_instream)
#define rl_outstream (*gl_edit.rl_outstream)
#define rl_end (*gl_edit.rl_end)
#define rl_catch_signals (*gl_edit.rl_catch_signals)
#define rl_catch_sigwinch (*gl_edit.rl_catch_sigwinch)
#define rl_getc_function (*gl_edit.rl_getc_function)
/* functions */
#define rl_initialize (gl_edit.rl_initialize)
#define add_history (gl_edit.add_history)
#define stifle_history (gl_edit.stifle_history)
#define read_history (gl_edit.read_history)
#define write_history (gl_edit.write_history)
#define rl_resize_terminal (gl_edit.rl_resize_terminal)
#define rl_callback_read_char (gl_edit.rl_callback_read_char)
#define rl_callback_handler_install (gl_edit.rl_callback_handler_install)
#define rl_callback_handler_remove (gl_edit.rl_callback_handler_remove)
#endif

#endif
