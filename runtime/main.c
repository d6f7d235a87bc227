/*
 * main.c — the glrun command: behaves like the stock lua interpreter where
 * they overlap (script + arg table, -e, -l, -v, -, --), plus --mock,
 * --policy, --log-level and --trace. The whole run is one task on one
 * libuv loop; the process ends when every task is done.
 *
 * Exit status: 0 success, 1 script error, 2 usage error, 130 interrupted
 * (Ctrl-C), 143 SIGTERM, 129 SIGHUP (both stop the run as gracefully).
 */
#include "gl.h"
#include "glsched.h"
#include "cassette.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lualib.h>
#include <curl/curl.h>

#ifndef GLRUN_VERSION
#define GLRUN_VERSION "0.0.0"
#endif

void gl_loader_init(lua_State *L, const char *script_dir);
int gl_embedded_load(lua_State *L, const char *name);
int gl_builtin_names(lua_State *L);
void gl_http_shutdown(void);
int gl_mock_start(uv_loop_t *loop, char *url, size_t urllen);
void gl_mock_stop(void);

static const char *progname = "glrun";

/* Everything printed about a failure goes through the redactor. */
static void eprint_redacted(const char *prefix, const char *s) {
    size_t n;
    char *r = gl_redact(s, strlen(s), &n);
    fprintf(stderr, "%s%s\n", prefix, r);
    free(r);
}

/* The keys and tokens the configuration reads, and the password of a URL
 * it reads, are secrets from the first instruction on: an error raised
 * before gemini.config runs (a traceback, a log line) is redacted too. */
static void register_env_secrets(void) {
    static const char *const keys[] = {
        "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN", "GLRUN_ACCESS_TOKEN", NULL,
    };
    static const char *const urls[] = {
        "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
        "http_proxy", "ALL_PROXY", "all_proxy", NULL,
    };
    for (int i = 0; keys[i]; i++) {
        const char *v = getenv(keys[i]);
        if (!v) continue;
        while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') v++; /* as gemini.config trims */
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n' || v[n - 1] == '\r')) n--;
        gl_secret_add(v, n);
    }
    for (int i = 0; urls[i]; i++) {
        const char *v = getenv(urls[i]);
        const char *s = v ? strstr(v, "://") : NULL;
        if (!s) continue;
        s += 3;
        size_t auth = strcspn(s, "/?#");
        const char *at = memchr(s, '@', auth);
        const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
        if (colon) gl_secret_add(colon + 1, (size_t)(at - colon - 1));
    }
}

static void usage_text(FILE *f) {
    fprintf(f,
"usage: glrun [options] [script [args...]]\n"
"       glrun [options] NAME [args...]    run a built-in flow (see below)\n"
"\n"
"Runs a Lua 5.4 prompt flow for Google's Gemini API on one event loop.\n"
"\n"
"Options (like lua):\n"
"  -e CHUNK          run the Lua string CHUNK (before the script)\n"
"  -l MODULE         require MODULE and store it in the global MODULE\n"
"  -v, --version     print the version and exit\n"
"  -h, --help        print this help and exit\n"
"  -                 read the script from standard input\n"
"  --                stop handling options\n"
"glrun options:\n"
"  --mock            start glmock (the built-in offline Gemini) on a free\n"
"                    loopback port for this run and point the client at it;\n"
"                    no API key is needed and none is sent anywhere\n"
"  --policy FILE     the fallback policy file (a Lua file returning a table)\n"
"  --log-level LVL   error | warn (default) | info | debug | trace\n"
"  --redis URL       share rate limits, learned quota and Live circuits with\n"
"                    other processes through Redis (redis://[:pw@]host:port/db)\n"
"  --explain-config  print which backend (Gemini API or Vertex AI), project,\n"
"                    location, credentials, base URL, API version and models\n"
"                    would be used and which setting decided each (secrets\n"
"                    redacted; nothing is sent), then exit\n"
"  --trace FILE      write a wire-level record (JSON lines) of every request,\n"
"                    response, SSE chunk and WebSocket frame; secrets redacted\n"
"  --record DIR      write every HTTP exchange and WebSocket session as\n"
"                    cassette files in DIR (timing kept, secrets redacted)\n"
"  --replay DIR      run with no network: serve the traffic recorded in DIR;\n"
"                    a request the cassette does not hold is an error\n"
"  --inject SPEC     with --replay: turn the exchange SPEC names into a\n"
"                    failure (repeatable; docs/policy.md), e.g.\n"
"                    'rest:request=2:status=429:retry=2s', 'live:frame=3:close=1011'\n"
"\n"
"Configuration (environment, as Google's official SDKs read it):\n"
"  GEMINI_API_KEY or GOOGLE_API_KEY   API key (GOOGLE_API_KEY wins if both)\n"
"  GOOGLE_GEMINI_BASE_URL             base URL of the Gemini API\n"
"  GOOGLE_GENAI_API_VERSION           API version (default v1beta; v1beta1 on Vertex)\n"
"  GOOGLE_GENAI_USE_VERTEXAI=true     use Vertex AI (docs/vertex-ai.md), with\n"
"  GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION (default global) and\n"
"  GOOGLE_APPLICATION_CREDENTIALS     a service-account JSON key; or\n"
"  GLRUN_ACCESS_TOKEN(_COMMAND)       a ready OAuth token (or a command printing one)\n"
"  GOOGLE_VERTEX_BASE_URL             base URL of Vertex AI\n"
"  GLRUN_ALLOW_PLAINTEXT_HOSTS        hosts an http:// base URL may name (comma-\n"
"                                     separated; loopback always may): others are\n"
"                                     refused, so a key never goes out in clear text\n"
"  GLRUN_MODEL                        default REST model (gemini-2.5-flash)\n"
"  GLRUN_MAX_RUN_SECONDS              interrupt a task that runs this long\n"
"                                     without yielding (default 30)\n"
"\n"
"Built-in flows (glrun NAME --help for their options):\n"
"  chat              an interactive chat: streamed replies, line editing and\n"
"                    history, /model /transport /system /save /load /reset\n"
"  ask QUESTION      one answer on stdout, for scripts (- reads stdin; --json)\n"
"  models            the model catalog: methods, token limits, Live rules\n"
"  quota             a shared rate-limit pool (--redis): windows, learned quota, circuits\n"
"                    (--live, --json, --refresh)\n"
"  token             an ephemeral Live token for a web client (--model, --ttl)\n"
"  doctor            why REST or Live does not work here: each check, cause, fix (--json)\n"
"  batch CMD         a file of prompts as a Batch API job: submit, status,\n"
"                    wait (--deadline), fetch, cancel, list\n"
"  policy CMD        test a fallback policy: check [FILE], simulate DIR\n"
"                    (a --record session), test (failure scenarios on glmock)\n"
"  serve             a Gemini gateway: the chat page, the Gemini REST and Live\n"
"                    routes, tokens, /metrics; the key and policy server-side\n"
"\n"
"In scripts: gl.spawn(fn, ...), gl.sleep(s), gl.now(); require 'gemini'\n"
"(ask, stream, chat, rest), require 'glrun.http' (request, stream, sse),\n"
"require 'glrun.readline' (read a line without blocking the loop).\n"
"Exit status: 0 ok, 1 script error, 2 usage error, 130 interrupted (Ctrl-C);\n"
"SIGTERM and SIGHUP stop as gracefully (output flushed) and exit 143 and 129.\n"
"Docs: README.md and docs/ in the source tree.\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'glrun --help'.\n");
    return 2;
}

/* Print a failed task's error: "file:line: message" first, then the
 * traceback. Error objects that say brief=true (configuration problems)
 * print one line only. */
static void report_error(lua_State *L, gl_task *t) {
    lua_State *co = gl_task_thread(t);
    int brief = 0;
    if (lua_istable(co, -1)) {
        lua_getfield(co, -1, "brief");
        brief = lua_toboolean(co, -1);
        lua_pop(co, 1);
    }
    if (brief) {
        luaL_tolstring(co, -1, NULL);
        eprint_redacted("glrun: ", lua_tostring(co, -1));
        lua_pop(co, 1);
        return;
    }
    if (gl_task_traceback(L, t)) {
        const char *tb = lua_tostring(L, -1);
        if (lua_type(co, -1) != LUA_TSTRING) {
            /* an error object has no position of its own: find one */
            lua_Debug ar;
            for (int lv = 0; lua_getstack(co, lv, &ar); lv++) {
                lua_getinfo(co, "Sl", &ar);
                if (ar.currentline > 0) {
                    fprintf(stderr, "%s:%d: ", ar.short_src, ar.currentline);
                    break;
                }
            }
        }
        eprint_redacted("", tb);
        lua_pop(L, 1);
    }
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int load_chunk_error(lua_State *L, const char *what) {
    eprint_redacted("glrun: ", lua_tostring(L, -1));
    (void)what;
    return 1;
}

int main(int argc, char **argv) {
    const char *script = NULL;
    int script_index = 0;
    int use_mock = 0;
    int explain = 0;
    const char *policy = NULL, *trace = NULL, *level = NULL, *record = NULL, *replay = NULL, *redis = NULL;
    enum { ACT_E, ACT_L } act_kind[256];
    const char *act_arg[256];
    int nact = 0;

    /* A stream allocates an SSE event's node per event, hundreds per read,
     * and frees them as the script takes them: with glibc's default (trim
     * the heap's top once 128 KiB of it are free) the top shrank and grew
     * again with every burst, and each page came back as a fault (a trap
     * to the hypervisor on a VM). Free memory up to 32 MiB at the top stays
     * with the process; GLIBC_TUNABLES can still set another threshold. */
    if (!getenv("GLIBC_TUNABLES")) mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);

    register_env_secrets();
    level = getenv("GLRUN_LOG_LEVEL");
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') break;
        if (strcmp(a, "-") == 0) break; /* stdin script */
        if (strcmp(a, "--") == 0) { i++; break; }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage_text(stdout); return 0; }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            printf("glrun %s (%s, libuv %s, %s, libwebsockets)\n", GLRUN_VERSION, LUA_RELEASE,
                   uv_version_string(), curl_version());
            return 0;
        }
        if (strcmp(a, "--mock") == 0) { use_mock = 1; continue; }
        if (strcmp(a, "--explain-config") == 0) {
            /* a built-in flow: print the resolved configuration and why */
            if (nact == 256) return usage_error("too many -e/-l options%s", "");
            act_kind[nact] = ACT_E;
            act_arg[nact++] = "require('gemini.explain').main()";
            explain = 1;
            continue;
        }
        if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0 || strcmp(a, "--policy") == 0 ||
            strcmp(a, "--trace") == 0 || strcmp(a, "--log-level") == 0 || strcmp(a, "--record") == 0 ||
            strcmp(a, "--replay") == 0 || strcmp(a, "--redis") == 0 || strcmp(a, "--inject") == 0) {
            if (i + 1 >= argc) return usage_error("option '%s' needs an argument", a);
            const char *v = argv[++i];
            if (a[1] == 'e' || a[1] == 'l') {
                if (nact == 256) return usage_error("too many -e/-l options%s", "");
                act_kind[nact] = a[1] == 'e' ? ACT_E : ACT_L;
                act_arg[nact++] = v;
            } else if (strcmp(a, "--inject") == 0) {
                char ierr[256], msg[512];
                if (gl_inject_add(v, ierr, sizeof ierr) != 0) {
                    snprintf(msg, sizeof msg, "'%s': %s", v, ierr);
                    return usage_error("--inject %s", msg);
                }
            } else if (strcmp(a, "--policy") == 0) policy = v;
            else if (strcmp(a, "--record") == 0) record = v;
            else if (strcmp(a, "--replay") == 0) replay = v;
            else if (strcmp(a, "--trace") == 0) trace = v;
            else if (strcmp(a, "--redis") == 0) redis = v; /* gemini.state reads options.redis */
            else level = v;
            continue;
        }
        /* -eCHUNK / -lMOD glued forms, as lua accepts */
        if ((a[1] == 'e' || a[1] == 'l') && a[2]) {
            if (nact == 256) return usage_error("too many -e/-l options%s", "");
            act_kind[nact] = a[1] == 'e' ? ACT_E : ACT_L;
            act_arg[nact++] = a + 2;
            continue;
        }
        return usage_error("unknown option '%s'", a);
    }
    if (explain && i < argc) return usage_error("--explain-config runs no script ('%s')", argv[i]);
    if (i < argc) { script = argv[i]; script_index = i; }
    if (level && gl_log_set_level(level) != 0)
        return usage_error("--log-level must be error, warn, info, debug or trace, not '%s'", level);
    if (!script && nact == 0) {
        if (isatty(0)) {
            usage_text(stderr);
            return 2;
        }
        script = "-";
        script_index = argc; /* no args */
    }
    if (policy && access(policy, R_OK) != 0)
        return usage_error("--policy: cannot read '%s'", policy);
    if (record && replay) return usage_error("--record and --replay cannot be combined%s", "");
    if (record && gl_cassette_record_to(record) != 0) {
        fprintf(stderr, "%s: --record: cannot create '%s': %s\n", progname, record, strerror(errno));
        return 2;
    }
    if (replay) {
        if (access(replay, R_OK | X_OK) != 0) return usage_error("--replay: cannot read the folder '%s'", replay);
        if (use_mock) return usage_error("--replay serves recorded traffic: it cannot be combined with --mock%s", "");
        gl_cassette_set_replaying(1);
    }
    if (gl_inject_count() && !replay) return usage_error("--inject needs --replay DIR (it changes recorded traffic)%s", "");
    if (trace && gl_trace_open(trace) != 0) {
        fprintf(stderr, "%s: --trace: cannot open '%s': %s\n", progname, trace, strerror(errno));
        return 2;
    }

    /* Built-in flows: `glrun NAME` where NAME is not a file */
    int builtin_flow = 0;
    if (script && strcmp(script, "-") != 0 && access(script, F_OK) != 0 && !strchr(script, '/') &&
        !strstr(script, ".lua"))
        builtin_flow = 1;

    uv_loop_t *loop = uv_default_loop();
    lua_State *L = luaL_newstate();
    if (!L) { fprintf(stderr, "%s: cannot create Lua state\n", progname); return 1; }
    gl_lua_alloc_install(L); /* luaalloc.c: small objects from free lists */
    luaL_openlibs(L);
    gl_sched_init(L, loop);

    char script_dir[PATH_MAX];
    const char *sdir = NULL;
    if (script && strcmp(script, "-") != 0 && !builtin_flow) {
        snprintf(script_dir, sizeof script_dir, "%s", script);
        char *slash = strrchr(script_dir, '/');
        if (slash) { *slash = 0; sdir = script_dir[0] ? script_dir : "/"; }
        else sdir = ".";
    }
    gl_loader_init(L, sdir);

    int status = 0;
    char mock_url[256] = "";
    if (use_mock) {
        if (gl_mock_start(loop, mock_url, sizeof mock_url) != 0) { status = 1; goto out; }
        fprintf(stderr, "glrun: --mock: talking to glmock, the offline Gemini, at %s (no API key used)\n",
                mock_url);
    }

    /* The command line, for the Lua side: glrun.core.options (read-only).
     * Never the process environment: children of io.popen would inherit it. */
    luaL_requiref(L, "glrun.core", luaopen_glrun_core, 0);
    lua_newtable(L);
    if (policy) { lua_pushstring(L, policy); lua_setfield(L, -2, "policy"); }
    if (trace) { lua_pushstring(L, trace); lua_setfield(L, -2, "trace"); }
    if (replay) { lua_pushstring(L, replay); lua_setfield(L, -2, "replay"); }
    if (record) { lua_pushstring(L, record); lua_setfield(L, -2, "record"); }
    if (gl_inject_count()) { gl_inject_push(L); lua_setfield(L, -2, "inject"); }
    if (redis) { lua_pushstring(L, redis); lua_setfield(L, -2, "redis"); }
    if (use_mock) { lua_pushstring(L, mock_url); lua_setfield(L, -2, "mock_url"); }
    lua_pushboolean(L, use_mock);
    lua_setfield(L, -2, "mock");
    gl_readonly(L, "glrun.core.options");
    lua_setfield(L, -2, "options");
    lua_pushcfunction(L, gl_builtin_names);
    lua_setfield(L, -2, "builtin_names");
    lua_pushstring(L, GLRUN_VERSION);
    lua_setfield(L, -2, "version");
    lua_setglobal(L, "gl");

    /* arg table, as lua builds it */
    int nargs_script = script_index ? argc - script_index - 1 : 0;
    if (nargs_script < 0) nargs_script = 0;
    lua_createtable(L, nargs_script, script_index + 1);
    for (int k = 0; k < argc; k++) {
        lua_pushstring(L, argv[k]);
        lua_rawseti(L, -2, k - (script_index ? script_index : argc));
    }
    lua_setglobal(L, "arg");

    /* prelude: coroutine pass-through, globals */
    if (gl_embedded_load(L, "glrun.prelude") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "%s: internal error in prelude: %s\n", progname, lua_tostring(L, -1));
        status = 1;
        goto out;
    }
    /* the prelude returns run_main(actions) */
    lua_newtable(L); /* actions: {fn, ...} or {"-l", name} */
    int n = 0;
    for (int k = 0; k < nact; k++) {
        if (act_kind[k] == ACT_E) {
            if (luaL_loadbuffer(L, act_arg[k], strlen(act_arg[k]), "=(command line)") != LUA_OK) {
                status = load_chunk_error(L, "-e");
                goto out;
            }
        } else {
            lua_pushstring(L, act_arg[k]);
        }
        lua_rawseti(L, -2, ++n);
    }
    if (script) {
        int lst;
        if (builtin_flow) {
            char name[256];
            snprintf(name, sizeof name, "glrun.scripts.%s", script);
            lst = gl_embedded_load(L, name);
            if (lst < 0) {
                fprintf(stderr, "%s: cannot open %s (no such file, and no built-in flow of that name)\n",
                        progname, script);
                status = 1;
                goto out;
            }
        } else {
            lst = luaL_loadfile(L, strcmp(script, "-") == 0 ? NULL : script);
        }
        if (lst != LUA_OK) { status = load_chunk_error(L, script); goto out; }
        lua_rawseti(L, -2, ++n);
        lua_pushinteger(L, n);
        lua_setfield(L, -2, "script");
    }
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");

    /* main task: run_main(actions, args...) */
    int top = lua_gettop(L);
    for (int k = script_index + 1; script_index && k < argc; k++) lua_pushstring(L, argv[k]);
    int pushed = lua_gettop(L) - top;
    gl_task *main_task = gl_task_spawn(L, pushed + 1); /* run_main, actions, args */
    gl_sched_set_main(main_task);
    int main_idx = lua_gettop(L);

    if (gl_sched_run() != 0) {
        fprintf(stderr, "%s: %d task(s) wait for something that can never happen (deadlock)\n", progname,
                gl_sched_live());
        status = 1;
    }
    gl_task_mark_joined(L, main_task, main_idx);
    int main_interrupted = 0;
    if (gl_task_failed(main_task)) {
        lua_State *co = gl_task_thread(main_task);
        int interrupted = 0;
        if (lua_istable(co, -1)) {
            lua_getfield(co, -1, "kind");
            interrupted = lua_isstring(co, -1) && strcmp(lua_tostring(co, -1), "interrupted") == 0;
            lua_pop(co, 1);
        }
        if (interrupted || gl_sched_interrupted()) {
            main_interrupted = 1;
        } else {
            report_error(L, main_task);
            status = 1;
        }
    }
    /* tasks cancelled by the interruption are counted, not each reported */
    int cancelled = 0;
    int nfailed = gl_sched_report_failures(L, &cancelled);
    if (main_interrupted || gl_sched_interrupted()) {
        int sig = gl_sched_stop_signal(); /* SIGTERM, SIGHUP: 128 + the signal, as a shell reports it */
        const char *what = sig == SIGTERM ? "terminated (SIGTERM)" : sig == SIGHUP ? "hang-up (SIGHUP)" : "interrupted";
        status = sig ? 128 + sig : 130;
        if (cancelled)
            fprintf(stderr, "%s: %s; %d task%s cancelled\n", progname, what, cancelled,
                    cancelled == 1 ? " was" : "s were");
        else if (main_interrupted || sig)
            fprintf(stderr, "%s: %s\n", progname, what);
    } else if (nfailed > 0 && status == 0) {
        status = 1;
    }

out:
    fflush(stdout);
    lua_close(L); /* __gc closes handles */
    gl_http_shutdown();
    gl_mock_stop();
    gl_sched_close();
    /* let close callbacks run */
    uv_walk(loop, close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    gl_trace_close();
    gl_cassette_free();
    gl_inject_free();
    gl_secrets_free();
    return status;
}
