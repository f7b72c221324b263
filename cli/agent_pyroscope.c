/* agent_pyroscope.c — the Pyroscope reporter of conan agent: every dump, as
 * it is on disk (a gzipped pprof), to Grafana Pyroscope, one request per
 * dump and one attempt per send() (agent.c retries).
 *
 * api push (the default): POST <url>/push.v1.PusherService/Push, Connect
 * unary (Content-Type: application/proto, Connect-Protocol-Version: 1), body
 * a PushRequest (cli/proto/push.proto) with one series: the labels, sorted by
 * name, and one RawSample whose ID is a UUID derived from the host and the
 * dump's file name (never the event's app, which may differ), so a resend
 * after a crash carries the same ID.
 *
 * api ingest (legacy): POST <url>/ingest?name=app{k=v,...}&from=&until=
 * &spyName=conan, with either the pprof as the body and format=pprof (body
 * raw), or multipart/form-data without format (body multipart): file parts
 * 'profile' and 'sample_type_config' (every sample type of the profile
 * marked non-cumulative, so the server keeps alloc_* of a heap snapshot).
 * Never both: the server looks at format=pprof first and would read a
 * multipart body as a pprof.
 *
 * Labels: __name__ from the kind (cpu process_cpu, heap memory, threads
 * threads, threadcreate threadcreate, wall wall, mutex mutex), service_name = app, pid, trigger
 * ("cpu spike", "manual", ...), __delta__="false" for heap (no server-side
 * deltas of a snapshot's alloc_*), version, report.pyroscope.labels, then
 * the config's tags. A configured name that is not a valid label name
 * ([a-zA-Z_][a-zA-Z0-9_]*) is sent with '_' in place of each bad character;
 * one starting with "__" (Pyroscope's own) or repeating a name already taken
 * is left out; each of these says so once, when the reporter is made.
 *
 * The url's userinfo (user:password@), should it have any, never reaches a
 * log line or the reporter's id (which is written into the state file). */
#include "agent.h"
#include "conan.h"
#include "profile.h"
#include "push.pb-c.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PYRO_MAX_LABELS (CONAN_MAX_TAGS * 2 + 8)
#define PYRO_VALUE_MAX 512
/* Pyroscope's default max_label_names_per_series. */
#define PYRO_SERVER_MAX_LABELS 30
/* Largest dump sent: far above any profile Pyroscope accepts by default. */
#define PYRO_MAX_DUMP_BYTES ((size_t)256 << 20)

struct label {
    char name[CONAN_NAME_MAX];
    char value[PYRO_VALUE_MAX];
};

struct pyro {
    char url[CONAN_URL_MAX];            /* without a trailing '/' */
    char shown[CONAN_URL_MAX];          /* the same without userinfo: for messages */
    enum conan_pyroscope_api api;
    enum conan_ingest_body body;
    char tenant_header[CONAN_NAME_MAX + 32];
    char auth_header[1024];             /* "" = none */
    int timeout_s;
    struct label fixed[PYRO_MAX_LABELS]; /* version, labels, tags: the same for every dump */
    int nfixed;
};

/* ---- labels ---- */

/* key with '_' for each character a label name cannot have (and before a
 * leading digit). */
static void sanitize_label_name(const char *key, char *out, size_t len)
{
    size_t o = 0;
    if (key[0] >= '0' && key[0] <= '9' && o + 1 < len) out[o++] = '_';
    for (const char *s = key; *s && o + 1 < len; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_';
        out[o++] = ok ? *s : '_';
    }
    out[o] = '\0';
}

/* The length of the UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && s[0] < 0xc2) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* value copied with '?' for each byte that is not part of valid UTF-8
 * (Pyroscope refuses a label value that is not). */
static void copy_label_value(const char *value, char *out, size_t len)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)value;
    while (*s && o + 1 < len) {
        size_t n = utf8_sequence(s);
        if (n == 0 || o + n >= len) {
            out[o++] = '?';
            s++;
            continue;
        }
        memcpy(out + o, s, n);
        o += n;
        s += n;
    }
    out[o] = '\0';
}

static bool label_taken(const struct label *ls, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ls[i].name, name) == 0) return true;
    return false;
}

/* The names every send sets itself. */
static bool per_dump_label(const char *name)
{
    static const char *const own[] = { "service_name", "pid", "trigger" };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(name, own[i]) == 0) return true;
    return false;
}

/* Adds config labels (what names report.pyroscope.labels or tags) to p->fixed,
 * each name made valid, with a log line for each change or omission. */
static void add_config_labels(struct pyro *p, const struct conan_tags *tags, const char *what)
{
    for (int i = 0; i < tags->n; i++) {
        char name[CONAN_NAME_MAX];
        sanitize_label_name(tags->key[i], name, sizeof name);
        if (!name[0] || strncmp(name, "__", 2) == 0) {
            cli_command_error("agent", "pyroscope: %s '%s' left out: names starting with '__' are Pyroscope's own",
                              what, tags->key[i]);
            continue;
        }
        if (per_dump_label(name) || label_taken(p->fixed, p->nfixed, name)) {
            cli_command_error("agent", "pyroscope: %s '%s' left out: label '%s' is already set", what, tags->key[i],
                              name);
            continue;
        }
        if (strcmp(name, tags->key[i]) != 0)
            cli_command_error("agent", "pyroscope: %s '%s' sent as label '%s' (not a valid label name)", what,
                              tags->key[i], name);
        struct label *l = &p->fixed[p->nfixed++];
        snprintf(l->name, sizeof l->name, "%s", name);
        copy_label_value(tags->value[i], l->value, sizeof l->value);
    }
}

/* __name__ of a kind: a valid metric name Pyroscope groups the profile by. */
static const char *metric_name(const char *kind)
{
    if (strcmp(kind, "cpu") == 0) return "process_cpu";
    if (strcmp(kind, "heap") == 0) return "memory";
    if (strcmp(kind, "threads") == 0) return "threads";
    if (strcmp(kind, "threadcreate") == 0) return "threadcreate";
    if (strcmp(kind, "wall") == 0) return "wall"; /* its sample type wall/nanoseconds is Pyroscope's wall */
    if (strcmp(kind, "mutex") == 0) return "mutex"; /* Go's name: contentions/count, delay/nanoseconds */
    return NULL;
}

/* "cpu spike", "heap abs", "manual", "continuous": the rule (the event's
 * metric) and the reason. */
static void trigger_text(const cJSON *event, char *out, size_t len)
{
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(event, "metric");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(event, "reason");
    const char *r = cJSON_IsString(reason) && reason->valuestring[0] ? reason->valuestring : "unknown";
    if (cJSON_IsString(metric) && metric->valuestring[0])
        snprintf(out, len, "%s %s", metric->valuestring, r);
    else
        snprintf(out, len, "%s", r);
}

static void set_label(struct label *ls, int *n, const char *name, const char *value)
{
    if (*n >= PYRO_MAX_LABELS) return;
    snprintf(ls[*n].name, sizeof ls[*n].name, "%s", name);
    copy_label_value(value, ls[*n].value, sizeof ls[*n].value);
    (*n)++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* Every label of the dump's series, sorted by name (Pyroscope sorts them
 * too and refuses a name given twice). -1 with out filled when the kind is
 * not one Pyroscope can be told. */
static int dump_labels(const struct pyro *p, const struct agent_dump *d, struct label *ls, int *n,
                       struct agent_outcome *out)
{
    const char *metric = metric_name(d->kind);
    if (!metric) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%s: kind '%s' has no Pyroscope profile name", d->file, d->kind);
        return -1;
    }
    char pid[32], trigger[PYRO_VALUE_MAX];
    snprintf(pid, sizeof pid, "%ld", d->pid);
    trigger_text(d->event, trigger, sizeof trigger);
    *n = 0;
    set_label(ls, n, "__name__", metric);
    /* Pyroscope turns cumulative profiles of these kinds into deltas unless
     * told not to: heap's in-use values are a state, and a mutex profile
     * already holds only the waits since the previous one. */
    if (strcmp(d->kind, "heap") == 0 || strcmp(d->kind, "mutex") == 0) set_label(ls, n, "__delta__", "false");
    set_label(ls, n, "service_name", d->app);
    set_label(ls, n, "pid", pid);
    set_label(ls, n, "trigger", trigger);
    for (int i = 0; i < p->nfixed; i++) set_label(ls, n, p->fixed[i].name, p->fixed[i].value);
    qsort(ls, (size_t)*n, sizeof ls[0], by_name);
    return 0;
}

/* ---- the profile's ID ---- */

/* conan's namespace for dump IDs (a random UUID, fixed for ever). */
static const unsigned char id_namespace[16] = {
    0x55, 0x48, 0x90, 0x04, 0x79, 0x50, 0x46, 0xa4, 0xae, 0x3d, 0x50, 0x23, 0x15, 0x71, 0xfb, 0x02,
};

/* A name-based UUID (RFC 9562 version 5: SHA-1 of namespace and name) of
 * "host/file": the same dump always gets the same ID, whatever its event
 * says (the file name already holds the app, the pid and the time). */
static int dump_id(const struct agent_dump *d, char out[37])
{
    char name[1024];
    int len = snprintf(name, sizeof name, "%s/%s", d->host ? d->host : "", d->file);
    if (len < 0 || (size_t)len >= sizeof name) return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, id_namespace, 16) &&
             EVP_DigestUpdate(ctx, name, (size_t)len) && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen >= 16;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
             md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
    return 0;
}

/* ---- the requests ---- */

/* The headers every request carries, then extra ones; NULL-terminated. */
static void request_headers(const struct pyro *p, const char **h, size_t cap, const char *const *extra)
{
    size_t n = 0;
    for (; extra && *extra && n + 1 < cap; extra++) h[n++] = *extra;
    if (p->tenant_header[0] && n + 1 < cap) h[n++] = p->tenant_header;
    if (p->auth_header[0] && n + 1 < cap) h[n++] = p->auth_header;
    h[n] = NULL;
}

/* POST to url; path ("/ingest") names the endpoint in messages. */
static void post(const struct pyro *p, const char *url, const char *path, const char *const *headers,
                 const void *body, size_t len, struct curl_mime *mime, struct agent_outcome *out)
{
    struct agent_http_request req = {
        .method = "POST", .url = url, .headers = headers, .body = body, .body_len = len, .mime = mime,
        .timeout_s = p->timeout_s,
    };
    struct agent_http_response resp;
    memset(&resp, 0, sizeof resp);
    int rc = agent_http(&req, &resp);
    char what[CONAN_URL_MAX + 32];
    snprintf(what, sizeof what, "pyroscope %s%s", p->shown, path);
    agent_http_outcome(rc, &resp, what, out);
}

static void send_push(const struct pyro *p, const struct agent_dump *d, const void *data, size_t len,
                      struct agent_outcome *out)
{
    struct label ls[PYRO_MAX_LABELS];
    int n;
    if (dump_labels(p, d, ls, &n, out) < 0) return;
    char id[37];
    if (dump_id(d, id) < 0) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%s: no profile ID could be made", d->file);
        return;
    }
    Types__V1__LabelPair pairs[PYRO_MAX_LABELS], *pair_ptrs[PYRO_MAX_LABELS];
    for (int i = 0; i < n; i++) {
        types__v1__label_pair__init(&pairs[i]);
        pairs[i].name = ls[i].name;
        pairs[i].value = ls[i].value;
        pair_ptrs[i] = &pairs[i];
    }
    Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *sample_ptr = &sample;
    sample.raw_profile.data = (uint8_t *)data;
    sample.raw_profile.len = len;
    sample.id = id;
    Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT, *series_ptr = &series;
    series.n_labels = (size_t)n;
    series.labels = pair_ptrs;
    series.n_samples = 1;
    series.samples = &sample_ptr;
    Push__V1__PushRequest request = PUSH__V1__PUSH_REQUEST__INIT;
    request.n_series = 1;
    request.series = &series_ptr;

    size_t body_len = push__v1__push_request__get_packed_size(&request);
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (!body) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: out of memory for a %zu-byte request", d->file, body_len);
        return;
    }
    push__v1__push_request__pack(&request, body);
    char url[CONAN_URL_MAX + 64], timeout[64];
    snprintf(url, sizeof url, "%s/push.v1.PusherService/Push", p->url);
    snprintf(timeout, sizeof timeout, "Connect-Timeout-Ms: %d", p->timeout_s * 1000);
    const char *extra[] = { "Content-Type: application/proto", "Connect-Protocol-Version: 1", timeout, NULL };
    const char *headers[12];
    request_headers(p, headers, sizeof headers / sizeof headers[0], extra);
    post(p, url, "/push.v1.PusherService/Push", headers, body, body_len, NULL, out);
    free(body);
}

/* The ingest name: app{k=v,...}. The app keeps only what a Pyroscope
 * service name may hold ([a-zA-Z0-9_.-/], others '_'); a value loses ','
 * and '}' (they would end it), and __name__, __delta__ and service_name are
 * left to the server (it makes them from the app and the profile). */
static void ingest_name(const char *app, const struct label *ls, int n, char *out, size_t len)
{
    size_t o = 0;
    for (const char *s = app; *s && o + 1 < len; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                  *s == '.' || *s == '-' || *s == '/';
        out[o++] = ok ? *s : '_';
    }
    int written = 0;
    if (o + 1 < len) out[o++] = '{';
    for (int i = 0; i < n; i++) {
        if (strcmp(ls[i].name, "__name__") == 0 || strcmp(ls[i].name, "__delta__") == 0 ||
            strcmp(ls[i].name, "service_name") == 0)
            continue;
        if (written++ && o + 1 < len) out[o++] = ',';
        for (const char *s = ls[i].name; *s && o + 1 < len; s++) out[o++] = *s;
        if (o + 1 < len) out[o++] = '=';
        for (const char *s = ls[i].value; *s && o + 1 < len; s++) out[o++] = (*s == ',' || *s == '}') ? '_' : *s;
    }
    if (o + 1 < len) out[o++] = '}';
    out[o] = '\0';
}

/* sample_type_config for the multipart form: each of the profile's sample
 * types, summed and not cumulative (the dump is a whole profile, not a
 * counter to subtract from the previous one). Malloc'd JSON, NULL with out
 * filled. */
static char *sample_type_config(const struct agent_dump *d, const void *data, size_t len, struct agent_outcome *out)
{
    char err[256];
    Perftools__Profiles__Profile *pb = profile_unpack(data, len, d->file, err, sizeof err);
    if (!pb) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%s", err);
        return NULL;
    }
    cJSON *config = cJSON_CreateObject();
    for (size_t i = 0; config && i < pb->n_sample_type; i++) {
        const Perftools__Profiles__ValueType *vt = pb->sample_type[i];
        if (vt->type < 0 || (size_t)vt->type >= pb->n_string_table || vt->unit < 0 ||
            (size_t)vt->unit >= pb->n_string_table)
            continue;
        cJSON *t = cJSON_AddObjectToObject(config, pb->string_table[vt->type]);
        if (!t) continue;
        cJSON_AddStringToObject(t, "units", pb->string_table[vt->unit]);
        cJSON_AddStringToObject(t, "aggregation", "sum");
        cJSON_AddBoolToObject(t, "cumulative", false);
    }
    char *text = config ? cJSON_PrintUnformatted(config) : NULL;
    cJSON_Delete(config);
    perftools__profiles__profile__free_unpacked(pb, NULL);
    if (!text) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: out of memory for sample_type_config", d->file);
    }
    return text;
}

static int add_file_part(struct curl_mime *mime, const char *field, const char *filename, const char *type,
                         const void *data, size_t len)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    if (!part) return -1;
    if (curl_mime_name(part, field) != CURLE_OK || curl_mime_filename(part, filename) != CURLE_OK ||
        curl_mime_type(part, type) != CURLE_OK || curl_mime_data(part, data, len) != CURLE_OK)
        return -1;
    return 0;
}

static void send_ingest(const struct pyro *p, const struct agent_dump *d, const void *data, size_t len,
                        struct agent_outcome *out)
{
    struct label ls[PYRO_MAX_LABELS];
    int n;
    if (dump_labels(p, d, ls, &n, out) < 0) return;
    char name[4096];
    ingest_name(d->app, ls, n, name, sizeof name);
    char *escaped = curl_easy_escape(agent_http_handle(), name, 0);
    if (!escaped) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: out of memory for the ingest URL", d->file);
        return;
    }
    long from = (long)d->start_s, until = (long)d->end_s;
    if ((double)until < d->end_s) until++;
    if (until < from) until = from;
    bool raw = p->body == CONAN_INGEST_RAW;
    char url[CONAN_URL_MAX + 4096 * 3 + 128];
    snprintf(url, sizeof url, "%s/ingest?name=%s&from=%ld&until=%ld&spyName=conan%s", p->url, escaped, from, until,
             raw ? "&format=pprof" : "");
    curl_free(escaped);
    const char *headers[12];
    if (raw) {
        const char *extra[] = { "Content-Type: application/octet-stream", NULL };
        request_headers(p, headers, sizeof headers / sizeof headers[0], extra);
        post(p, url, "/ingest", headers, data, len, NULL, out);
        return;
    }
    char *config = sample_type_config(d, data, len, out);
    if (!config) return;
    struct curl_mime *mime = curl_mime_init(agent_http_handle());
    if (!mime || add_file_part(mime, "profile", "profile.pprof", "application/octet-stream", data, len) < 0 ||
        add_file_part(mime, "sample_type_config", "sample_type_config.json", "application/json", config,
                      strlen(config)) < 0) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: the multipart form could not be made", d->file);
    } else {
        request_headers(p, headers, sizeof headers / sizeof headers[0], NULL);
        post(p, url, "/ingest", headers, NULL, 0, mime, out);
    }
    curl_mime_free(mime);
    free(config);
}

static void pyro_send(struct agent_reporter *r, const struct agent_dump *d, struct agent_outcome *out)
{
    const struct pyro *p = r->impl;
    memset(out, 0, sizeof *out);
    char err[512];
    size_t len = 0;
    void *data = profile_slurp(d->path, PYRO_MAX_DUMP_BYTES, &len, err, sizeof err);
    if (!data) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%s", err);
        return;
    }
    if (p->api == CONAN_PYROSCOPE_PUSH)
        send_push(p, d, data, len, out);
    else
        send_ingest(p, d, data, len, out);
    free(data);
}

static void pyro_destroy(struct agent_reporter *r)
{
    if (!r) return;
    if (r->impl) memset(r->impl, 0, sizeof(struct pyro)); /* the credentials */
    free(r->impl);
    free(r);
}

/* ---- construction ---- */

/* url without its userinfo ("http://user:pass@host/" -> "http://host/"),
 * otherwise as written (the reporter's id must not change for a url that
 * has none). */
static void url_without_userinfo(const char *url, char *out, size_t len)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = NULL;
    for (const char *c = host; *c && !strchr("/?#", *c); c++)
        if (*c == '@') at = c;
    if (!at) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s%s", (int)(host - url), url, at + 1);
}

/* "Authorization: ..." from basic_auth_file ("user:password") or
 * bearer_token_file; "" when neither is set. */
static int auth_header(const struct conan_config *cfg, char *out, size_t len, char *err, size_t errlen)
{
    const char *basic = cfg->report.pyroscope.basic_auth_file, *bearer = cfg->report.pyroscope.bearer_token_file;
    char secret[512], what[256];
    out[0] = '\0';
    if (basic[0] && bearer[0]) {
        snprintf(err, errlen, "report.pyroscope: basic_auth_file and bearer_token_file are both set; keep one");
        return -1;
    }
    if (!basic[0] && !bearer[0]) return 0;
    const char *key = basic[0] ? "report.pyroscope.basic_auth_file" : "report.pyroscope.bearer_token_file";
    if (agent_read_secret(basic[0] ? basic : bearer, secret, sizeof secret, what, sizeof what) < 0) {
        snprintf(err, errlen, "%s: %s", key, what);
        return -1;
    }
    if (bearer[0]) {
        snprintf(out, len, "Authorization: Bearer %s", secret);
    } else if (!strchr(secret, ':')) {
        snprintf(err, errlen, "%s: %s: not user:password", key, basic);
        memset(secret, 0, sizeof secret);
        return -1;
    } else {
        unsigned char b64[4 * (sizeof secret / 3) + 8];
        EVP_EncodeBlock(b64, (const unsigned char *)secret, (int)strlen(secret));
        snprintf(out, len, "Authorization: Basic %s", (const char *)b64);
        memset(b64, 0, sizeof b64);
    }
    memset(secret, 0, sizeof secret);
    return 0;
}

struct agent_reporter *agent_pyroscope_new(const struct conan_config *cfg, char *err, size_t errlen)
{
    const char *url = cfg->report.pyroscope.url;
    if (!url[0]) {
        snprintf(err, errlen, "report.pyroscope.url: not set");
        return NULL;
    }
    struct agent_reporter *r = calloc(1, sizeof *r);
    struct pyro *p = calloc(1, sizeof *p);
    if (!r || !p) {
        free(r);
        free(p);
        snprintf(err, errlen, "report.pyroscope: out of memory");
        return NULL;
    }
    r->impl = p;
    r->send = pyro_send;
    r->destroy = pyro_destroy;
    url_without_userinfo(url, p->shown, sizeof p->shown);
    snprintf(r->id, sizeof r->id, "pyroscope %s", p->shown);
    snprintf(r->name, sizeof r->name, "pyroscope");
    snprintf(p->url, sizeof p->url, "%s", url);
    for (size_t n = strlen(p->url); n > 0 && p->url[n - 1] == '/'; n--) p->url[n - 1] = '\0';
    for (size_t n = strlen(p->shown); n > 0 && p->shown[n - 1] == '/'; n--) p->shown[n - 1] = '\0';
    p->api = cfg->report.pyroscope.api;
    p->body = cfg->report.pyroscope.body;
    p->timeout_s = cfg->report.pyroscope.timeout_s > 0 ? cfg->report.pyroscope.timeout_s : 10;
    if (cfg->report.pyroscope.tenant[0])
        snprintf(p->tenant_header, sizeof p->tenant_header, "X-Scope-OrgID: %s", cfg->report.pyroscope.tenant);
    if (auth_header(cfg, p->auth_header, sizeof p->auth_header, err, errlen) < 0) {
        pyro_destroy(r);
        return NULL;
    }
    if (cfg->version[0]) {
        snprintf(p->fixed[0].name, sizeof p->fixed[0].name, "version");
        copy_label_value(cfg->version, p->fixed[0].value, sizeof p->fixed[0].value);
        p->nfixed = 1;
    }
    add_config_labels(p, &cfg->report.pyroscope.labels, "report.pyroscope.labels key");
    add_config_labels(p, &cfg->tags, "tag");
    int total = p->nfixed + 5; /* __name__, __delta__, service_name, pid, trigger */
    if (total > PYRO_SERVER_MAX_LABELS)
        cli_command_error("agent", "pyroscope: up to %d labels a profile; Pyroscope's default limit is %d", total,
                          PYRO_SERVER_MAX_LABELS);
    return r;
}
