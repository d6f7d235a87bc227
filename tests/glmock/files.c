/* The Files API (docs/protocol.md#files-api): the resumable upload protocol
 * the SDKs speak (start -> x-goog-upload-url; chunks "upload" / "upload,
 * finalize" at X-Goog-Upload-Offset; "query" -> X-Goog-Upload-Size-Received),
 * files.get / list / delete / download, and the faults of README "Files".
 *
 * Uploaded bytes are hashed as they come; they are kept in memory only up to
 * KEEP_MAX (a batch's JSONL input is read back from them), so a 2 GB upload
 * costs glmock one chunk at a time. */
#include "glmock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#define KEEP_MAX (64u << 20)
#define PROCESSING_GETS 2       /* a video is PROCESSING for this many gets */
#define KEEP_HOURS 48

struct gfile {
    struct gfile *next;
    char id[24];
    char *display_name, *mime;
    uint64_t size;
    double create_t;
    char sha_b64[96];
    int state;              /* FS_* */
    int gets_processing;    /* gets left while PROCESSING */
    bool fail_processing;
    bool generated;
    bool kept;
    buf_t content;
};
enum { FS_PROCESSING, FS_ACTIVE, FS_FAILED };

typedef struct upload {
    struct upload *next;
    char uid[40];
    char *display_name, *mime, *name;
    uint64_t declared, received;
    EVP_MD_CTX *sha;
    buf_t content;
    bool keep;
    int64_t break_at;       /* "break-at-N": cut the connection at byte N once; -1 none */
    int flaky;              /* "flaky-chunk": chunk requests answered 503 before one succeeds */
    gfile_t *file;          /* set once finalized */
} upload_t;

static gfile_t *g_files;
static upload_t *g_uploads;

static const char *fs_name(int s)
{
    return s == FS_ACTIVE ? "ACTIVE" : s == FS_FAILED ? "FAILED" : "PROCESSING";
}

static char *host_of(req_t *r)
{
    const char *h = api_header(r, "host");
    return xstrdup(h && *h ? h : "127.0.0.1");
}

json_t *file_json(gfile_t *f)
{
    char sz[32];
    snprintf(sz, sizeof sz, "%" PRIu64, f->size);
    char uri[128];
    snprintf(uri, sizeof uri, "https://generativelanguage.googleapis.com/v1beta/files/%s", f->id);
    char name[40];
    snprintf(name, sizeof name, "files/%s", f->id);
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(name));
    if (f->display_name) json_object_set_new(j, "displayName", json_string(f->display_name));
    json_object_set_new(j, "mimeType", json_string(f->mime));
    json_object_set_new(j, "sizeBytes", json_string(sz));
    json_object_set_new(j, "createTime", api_time_json(f->create_t));
    json_object_set_new(j, "updateTime", api_time_json(f->create_t));
    json_object_set_new(j, "expirationTime", api_time_json(f->create_t + KEEP_HOURS * 3600.0));
    json_object_set_new(j, "sha256Hash", json_string(f->sha_b64));
    json_object_set_new(j, "uri", json_string(uri));
    if (f->generated) {
        char d[160];
        snprintf(d, sizeof d, "https://generativelanguage.googleapis.com/download/v1beta/files/%s:download?alt=media", f->id);
        json_object_set_new(j, "downloadUri", json_string(d));
    }
    json_object_set_new(j, "state", json_string(fs_name(f->state)));
    json_object_set_new(j, "source", json_string(f->generated ? "GENERATED" : "UPLOADED"));
    if (f->state == FS_FAILED)
        json_object_set_new(j, "error", json_pack("{s:i, s:s}", "code", 400, "message",
                                                  "The file could not be processed."));
    if (!strncmp(f->mime, "video/", 6) && f->state == FS_ACTIVE)
        json_object_set_new(j, "videoMetadata", json_pack("{s:s}", "videoDuration", "1s"));
    return j;
}

/* "files/abc", "abc" or a files URI -> the file, or NULL. */
gfile_t *files_find(const char *name)
{
    if (!name) return NULL;
    const char *p = strstr(name, "files/");
    const char *id = p ? p + 6 : name;
    size_t n = strcspn(id, ":?/");
    for (gfile_t *f = g_files; f; f = f->next)
        if (strlen(f->id) == n && !strncmp(f->id, id, n)) return f;
    return NULL;
}

const buf_t *files_content(gfile_t *f)
{
    return f && f->kept ? &f->content : NULL;
}

static void sha_b64(EVP_MD_CTX *ctx, char *out, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(ctx, md, &ml);
    /* the service's sha256Hash: base64 of the hex digest */
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < ml; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char *b = b64_encode((const unsigned char *)hex, 2 * ml);
    snprintf(out, n, "%s", b);
    free(b);
}

static gfile_t *file_new(const char *display, const char *mime, const char *want_name)
{
    gfile_t *f = xcalloc(1, sizeof *f);
    if (want_name && *want_name) {
        const char *id = !strncmp(want_name, "files/", 6) ? want_name + 6 : want_name;
        snprintf(f->id, sizeof f->id, "%s", id);
    } else {
        api_new_id(f->id, sizeof f->id, display ? display : "file");
    }
    f->display_name = display && *display ? xstrdup(display) : NULL;
    f->mime = xstrdup(mime && *mime ? mime : "application/octet-stream");
    f->create_t = api_now();
    f->state = FS_ACTIVE;
    if (!strncmp(f->mime, "video/", 6) || (display && contains(display, "processing"))) {
        f->state = FS_PROCESSING;
        f->gets_processing = PROCESSING_GETS;
    }
    f->fail_processing = display && contains(display, "fail-processing");
    if (f->fail_processing && f->state != FS_PROCESSING) {
        f->state = FS_PROCESSING;
        f->gets_processing = PROCESSING_GETS;
    }
    f->next = g_files;
    g_files = f;
    return f;
}

gfile_t *files_add_generated(const char *display, const char *mime, const char *data, size_t n)
{
    gfile_t *f = file_new(display, mime, NULL);
    f->state = FS_ACTIVE;
    f->gets_processing = 0;
    f->generated = true;
    f->size = n;
    f->kept = true;
    buf_add(&f->content, data, n);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, data, n);
    sha_b64(ctx, f->sha_b64, sizeof f->sha_b64);
    EVP_MD_CTX_free(ctx);
    return f;
}

const char *gfile_id(gfile_t *f) { return f->id; }

static void file_free(gfile_t *f)
{
    free(f->display_name);
    free(f->mime);
    buf_free(&f->content);
    free(f);
}

/* ------------------------------------------------------------------ upload */

static upload_t *upload_find(const char *uid)
{
    for (upload_t *u = g_uploads; u; u = u->next)
        if (uid && !strcmp(u->uid, uid)) return u;
    return NULL;
}

static int64_t fault_number(const char *s, const char *word)
{
    const char *p = s ? strstr(s, word) : NULL;
    if (!p) return -1;
    return strtoll(p + strlen(word), NULL, 10);
}

static void upload_status(buf_t *h, upload_t *u, const char *status)
{
    buf_addf(h, "X-Goog-Upload-Status: %s\r\n", status);
    if (u) buf_addf(h, "X-Goog-Upload-Size-Received: %" PRIu64 "\r\n", u->received);
}

static void start(conn_t *c, req_t *r, const char *ver)
{
    const char *len = api_header(r, "x-goog-upload-header-content-length");
    const char *ctype = api_header(r, "x-goog-upload-header-content-type");
    char *end = NULL;
    unsigned long long declared = len ? strtoull(len, &end, 10) : 0;
    if (!len || !*len || (end && *end)) {
        api_error(c, r, 400, "X-Goog-Upload-Header-Content-Length is required for a resumable upload.");
        return;
    }
    json_t *body = api_body(c, r);
    if (!body) return;
    json_t *file = jget(body, "file");
    const char *display = jstr(file, "displayName");
    const char *mime = jstr(file, "mimeType");
    const char *want = jstr(file, "name");
    if (!mime || !*mime) mime = ctype;
    if (!mime || !*mime) {
        json_decref(body);
        api_error(c, r, 400, "The file's MIME type is required (X-Goog-Upload-Header-Content-Type).");
        return;
    }
    if (want && *want && files_find(want)) {
        json_decref(body);
        api_error(c, r, 409, "A file with this name already exists.");
        return;
    }
    upload_t *u = xcalloc(1, sizeof *u);
    char id[24];
    api_new_id(id, sizeof id, display ? display : "upload");
    snprintf(u->uid, sizeof u->uid, "glmock-%s", id);
    u->display_name = display ? xstrdup(display) : NULL;
    u->mime = xstrdup(mime);
    u->name = want ? xstrdup(want) : NULL;
    u->declared = declared;
    u->sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL);
    u->keep = declared <= KEEP_MAX;
    const char *fname = api_header(r, "x-goog-upload-file-name");
    u->break_at = fault_number(display, "break-at-");
    if (u->break_at < 0) u->break_at = fault_number(fname, "break-at-");
    u->flaky = (display && contains(display, "flaky-chunk")) || (fname && contains(fname, "flaky-chunk")) ? 1 : 0;
    u->next = g_uploads;
    g_uploads = u;
    json_decref(body);
    char *host = host_of(r);
    buf_t h = {0};
    buf_addf(&h, "X-Goog-Upload-URL: http://%s/upload/%s/files?upload_id=%s&upload_protocol=resumable\r\n",
             host, ver, u->uid);
    buf_adds(&h, "X-Goog-Upload-Control-URL: ");
    buf_addf(&h, "http://%s/upload/%s/files?upload_id=%s&upload_protocol=resumable\r\n", host, ver, u->uid);
    buf_adds(&h, "X-Goog-Upload-Chunk-Granularity: 262144\r\n");
    upload_status(&h, NULL, "active");
    free(host);
    http_respond(c, r, 200, "text/plain; charset=utf-8", "", 0, buf_cstr(&h));
    buf_free(&h);
}

static void take(upload_t *u, const char *p, size_t n)
{
    EVP_DigestUpdate(u->sha, p, n);
    if (u->keep) buf_add(&u->content, p, n);
    u->received += n;
}

static void finalize(conn_t *c, req_t *r, upload_t *u)
{
    if (u->received != u->declared) {
        char msg[200];
        snprintf(msg, sizeof msg, "Upload finalized with %" PRIu64 " bytes, but %" PRIu64
                 " were declared (X-Goog-Upload-Header-Content-Length).", u->received, u->declared);
        buf_t h = {0};
        upload_status(&h, u, "active");
        json_t *e = rpc_error(400, "INVALID_ARGUMENT", msg);
        http_respond_json(c, r, 400, e, buf_cstr(&h));
        json_decref(e);
        buf_free(&h);
        return;
    }
    gfile_t *f = file_new(u->display_name, u->mime, u->name);
    f->size = u->received;
    sha_b64(u->sha, f->sha_b64, sizeof f->sha_b64);
    if (u->keep) {
        f->kept = true;
        f->content = u->content;
        memset(&u->content, 0, sizeof u->content);
    }
    u->file = f;
    LOG("files: %s finalized, %" PRIu64 " bytes", f->id, f->size);
    buf_t h = {0};
    upload_status(&h, u, "final");
    json_t *j = json_pack("{s:o}", "file", file_json(f));
    http_respond_json(c, r, 200, j, buf_cstr(&h));
    json_decref(j);
    buf_free(&h);
}

static void chunk(conn_t *c, req_t *r, upload_t *u, const char *cmd)
{
    bool fin = strstr(cmd, "finalize") != NULL;
    bool up = strstr(cmd, "upload") != NULL;
    buf_t h = {0};
    if (u->file) { /* already final: the same answer again */
        upload_status(&h, u, "final");
        json_t *j = json_pack("{s:o}", "file", file_json(u->file));
        http_respond_json(c, r, 200, j, buf_cstr(&h));
        json_decref(j);
        buf_free(&h);
        return;
    }
    if (u->flaky > 0 && up) {
        u->flaky--;
        api_error(c, r, 503, "The service is currently unavailable.");
        buf_free(&h);
        return;
    }
    const char *off = api_header(r, "x-goog-upload-offset");
    char *end = NULL;
    unsigned long long offset = off ? strtoull(off, &end, 10) : 0;
    if (up && (!off || (end && *end) || offset != u->received)) {
        char msg[200];
        snprintf(msg, sizeof msg, "X-Goog-Upload-Offset %s does not match the %" PRIu64
                 " bytes received so far (query the upload to resume).", off ? off : "(missing)", u->received);
        upload_status(&h, u, "active");
        json_t *e = rpc_error(400, "INVALID_ARGUMENT", msg);
        http_respond_json(c, r, 400, e, buf_cstr(&h));
        json_decref(e);
        buf_free(&h);
        return;
    }
    if (up) {
        size_t n = r->body.len;
        if (u->received + n > u->declared) {
            upload_status(&h, u, "active");
            json_t *e = rpc_error(400, "INVALID_ARGUMENT", "The upload is larger than the declared size.");
            http_respond_json(c, r, 400, e, buf_cstr(&h));
            json_decref(e);
            buf_free(&h);
            return;
        }
        if (u->break_at >= 0 && u->received + n > (uint64_t)u->break_at) {
            /* the fault: keep the bytes up to the offset, then the connection drops */
            size_t keep = (size_t)((uint64_t)u->break_at - u->received);
            take(u, r->body.p, keep);
            LOG("files: upload %s broken at offset %" PRIu64, u->uid, u->received);
            u->break_at = -1;
            buf_free(&h);
            oq_push(c, IT_ABORT, NULL, 0, 0);
            oq_pump(c);
            return;
        }
        take(u, r->body.p, n);
    }
    if (fin) {
        buf_free(&h);
        finalize(c, r, u);
        return;
    }
    upload_status(&h, u, "active");
    http_respond(c, r, 200, "text/plain; charset=utf-8", "", 0, buf_cstr(&h));
    buf_free(&h);
}

void files_upload(conn_t *c, req_t *r, const char *ver)
{
    if (r->method != HTTP_POST && r->method != HTTP_PUT) {
        api_error(c, r, 404, "The requested URL was not found on this server.");
        return;
    }
    char *uid = query_get(r->query, "upload_id");
    const char *cmd = api_header(r, "x-goog-upload-command");
    if (!uid) {
        json_t *e = api_check_key(r);
        if (e) { api_send(c, r, e, 0); return; }
        const char *proto = api_header(r, "x-goog-upload-protocol");
        if (!proto || strcasecmp(proto, "resumable") || !cmd || strcasecmp(cmd, "start")) {
            /* a multipart or plain upload: not what the SDKs send */
            api_error(c, r, 400, "glmock speaks the resumable upload protocol only (X-Goog-Upload-Protocol: "
                      "resumable, X-Goog-Upload-Command: start).");
            return;
        }
        start(c, r, ver);
        return;
    }
    upload_t *u = upload_find(uid);
    free(uid);
    if (!u) {
        api_error(c, r, 404, "No such upload session (upload_id).");
        return;
    }
    if (!cmd || !*cmd) {
        api_error(c, r, 400, "X-Goog-Upload-Command is required.");
        return;
    }
    if (!strcasecmp(cmd, "query")) {
        buf_t h = {0};
        upload_status(&h, u, u->file ? "final" : "active");
        if (u->file) {
            json_t *j = json_pack("{s:o}", "file", file_json(u->file));
            http_respond_json(c, r, 200, j, buf_cstr(&h));
            json_decref(j);
        } else {
            http_respond(c, r, 200, "text/plain; charset=utf-8", "", 0, buf_cstr(&h));
        }
        buf_free(&h);
        return;
    }
    if (!strcasecmp(cmd, "cancel")) {
        buf_t h = {0};
        upload_status(&h, u, "cancelled");
        http_respond(c, r, 200, "text/plain; charset=utf-8", "", 0, buf_cstr(&h));
        buf_free(&h);
        return;
    }
    if (!strstr(cmd, "upload") && !strstr(cmd, "finalize")) {
        api_error(c, r, 400, "Unknown X-Goog-Upload-Command.");
        return;
    }
    chunk(c, r, u, cmd);
}

/* ------------------------------------------------------------------ get / list / delete / download */

static json_t *not_found(const char *id)
{
    char msg[300];
    snprintf(msg, sizeof msg, "You do not have permission to access the File %.100s or it may not exist.", id);
    return rpc_error(403, "PERMISSION_DENIED", msg);
}

static void list(conn_t *c, req_t *r)
{
    long off, size;
    api_page_args(r, 10, 100, 100, &off, &size);
    /* newest first, as the service lists them */
    json_t *arr = json_array();
    long i = 0, total = 0;
    for (gfile_t *f = g_files; f; f = f->next, total++)
        if (total >= off && i < size) {
            json_array_append_new(arr, file_json(f));
            i++;
        }
    api_send_page(c, r, arr, "files", off, size, total);
}

void files_route(conn_t *c, req_t *r, const char *ver, const char *rest)
{
    (void)ver;
    json_t *e = api_check_key(r);
    if (e) { api_send(c, r, e, 0); return; }
    if (!strcmp(rest, "files")) {
        if (r->method == HTTP_GET) { list(c, r); return; }
        api_error(c, r, 400, "Use the upload endpoint (/upload/v1beta/files) to create a file.");
        return;
    }
    const char *id = rest + 6; /* past "files/" */
    const char *colon = strchr(id, ':');
    char idb[64];
    snprintf(idb, sizeof idb, "%.*s", (int)(colon ? (size_t)(colon - id) : strlen(id)), id);
    gfile_t *f = files_find(idb);
    if (colon && !strcmp(colon, ":download")) {
        if (r->method != HTTP_GET) { api_error(c, r, 404, "The requested URL was not found on this server."); return; }
        if (!f) { api_send(c, r, not_found(idb), 403); return; }
        if (!f->generated) {
            api_error(c, r, 400, "Only generated files can be downloaded; uploaded files can't be downloaded.");
            return;
        }
        char *alt = query_get(r->query, "alt");
        bool media = alt && !strcmp(alt, "media");
        free(alt);
        if (!media) { api_send(c, r, json_pack("{s:o}", "file", file_json(f)), 200); return; }
        http_respond(c, r, 200, f->mime, f->content.p ? f->content.p : "", f->content.len, NULL);
        return;
    }
    if (colon || strchr(idb, '/')) { api_error(c, r, 404, "The requested URL was not found on this server."); return; }
    if (r->method == HTTP_GET) {
        if (!f) { api_send(c, r, not_found(idb), 403); return; }
        if (f->state == FS_PROCESSING && f->gets_processing > 0 && --f->gets_processing == 0)
            f->state = f->fail_processing ? FS_FAILED : FS_ACTIVE;
        api_send(c, r, file_json(f), 200);
        return;
    }
    if (r->method == HTTP_DELETE) {
        if (!f) { api_send(c, r, not_found(idb), 403); return; }
        for (gfile_t **pp = &g_files; *pp; pp = &(*pp)->next)
            if (*pp == f) { *pp = f->next; break; }
        for (upload_t *u = g_uploads; u; u = u->next)
            if (u->file == f) u->file = NULL;
        file_free(f);
        api_send(c, r, json_object(), 200);
        return;
    }
    api_error(c, r, 404, "The requested URL was not found on this server.");
}

/* POST /glmock/files {displayName, mimeType, text}: a GENERATED file (what a
 * batch job writes), for tests of files.download. */
void files_test_generate(conn_t *c, req_t *r)
{
    json_t *b = api_body(c, r);
    if (!b) return;
    const char *text = jstr(b, "text");
    gfile_t *f = files_add_generated(jstr(b, "displayName"), jstr(b, "mimeType") ? jstr(b, "mimeType") : "text/plain",
                                     text ? text : "", text ? strlen(text) : 0);
    json_decref(b);
    api_send(c, r, file_json(f), 200);
}
