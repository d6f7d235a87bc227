/* cassette.h — record and replay of wire exchanges (see cassette.c) */
#ifndef GL_CASSETTE_H
#define GL_CASSETTE_H
#include "gl.h"

typedef struct gl_rec gl_rec;

int gl_cassette_record_to(const char *dir);   /* main.c: --record DIR */
void gl_cassette_set_replaying(int on);       /* main.c: --replay DIR */
int gl_cassette_replaying(void);
int gl_cassette_recording(void);
void gl_cassette_free(void);

/* Recording one exchange; every function accepts NULL (not recording). */
gl_rec *gl_rec_begin(const char *kind, const char *method, const char *url, const char *headers_json,
                     const char *body, size_t body_len);
void gl_rec_response(gl_rec *r, long status, const char *headers, size_t len);
void gl_rec_event(gl_rec *r, const char *dir, const char *type, const char *p, size_t len);
void gl_rec_end(gl_rec *r, int result, const char *error, int close_code, const char *reason);
void gl_rec_abandon(gl_rec *r);
/* An extra string field of the exchange (e.g. "error_kind"). */
void gl_rec_field(gl_rec *r, const char *key, const char *value);

/* Replay: push the recorded exchange table (see lua/glrun/cassette.lua)
 * and return 1, or push a message saying why nothing matches and return 0. */
int gl_play_match(lua_State *L, const char *kind, const char *method, const char *url, const char *body,
                  size_t body_len);

/* --inject SPEC (inject.c): parsed at the command line, pushed as
 * glrun.core.options.inject for lua/glrun/inject.lua. */
int gl_inject_add(const char *spec, char *err, size_t errlen);
int gl_inject_count(void);
void gl_inject_push(lua_State *L);
void gl_inject_free(void);
#endif
