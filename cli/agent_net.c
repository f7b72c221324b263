/* agent_net.c — the HTTP client of conan agent's network reporters: one libcurl
 * easy handle per sending thread (connections are kept alive between dumps), one
 * request per call, and the one reading of an answer every reporter shares
 * (what is delivered, what is retried, what is refused for good). Secrets are
 * read from files here too, so none is ever inline in a config. */
#include "agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;

static void free_handle(void *h)
{
    curl_easy_cleanup(h);
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&handle_key, free_handle);
}

void *agent_http_handle(void)
{
    pthread_once(&global_once, global_init);
    CURL *h = pthread_getspecific(handle_key);
    if (!h) {
        h = curl_easy_init();
        if (h) pthread_setspecific(handle_key, h);
    }
    return h;
}

/* The first bytes of the answer's body: enough for the server's message. */
struct body_sink {
    char *buf;
    size_t cap, len;
};

static size_t keep_body(char *data, size_t size, size_t n, void *arg)
{
    struct body_sink *sink = arg;
    size_t bytes = size * n;
    size_t room = sink->cap - 1 - sink->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(sink->buf + sink->len, data, take);
    sink->len += take;
    sink->buf[sink->len] = '\0';
    return bytes;
}

int agent_http(const struct agent_http_request *req, struct agent_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *h = agent_http_handle();
    if (!h) {
        snprintf(resp->error, sizeof resp->error, "cannot start libcurl");
        return -1;
    }
    curl_easy_reset(h);
    struct curl_slist *headers = NULL;
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        struct curl_slist *more = curl_slist_append(headers, *hd);
        if (!more) break;
        headers = more;
    }
    /* curl adds "Expect: 100-continue" to large bodies; no server here needs it. */
    struct curl_slist *more = curl_slist_append(headers, "Expect:");
    if (more) headers = more;
    struct body_sink sink = { resp->body, sizeof resp->body, 0 };
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "POST");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (req->mime) {
        curl_easy_setopt(h, CURLOPT_MIMEPOST, req->mime);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(req->timeout_s > 0 ? req->timeout_s : 10));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for name lookups */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "conan-agent/" CONAN_VERSION_BUILD);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
        resp->retry_after_s = retry_after > 3600 ? 3600 : (int)retry_after;
    return 0;
}

void agent_one_line(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < len && j < 200; i++)
        out[j++] = (unsigned char)in[i] < 0x20 ? ' ' : in[i];
    out[j] = '\0';
}

void agent_http_outcome(int rc, const struct agent_http_response *resp, const char *what,
                        struct agent_outcome *out)
{
    char said[256];
    agent_one_line(resp->body, said, sizeof said);
    out->retry_after_s = resp->retry_after_s;
    if (rc != 0) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: %s", what, resp->error);
    } else if (resp->status >= 200 && resp->status < 300) {
        out->result = AGENT_SENT;
        snprintf(out->message, sizeof out->message, "%s: HTTP %ld", what, resp->status);
    } else {
        long st = resp->status;
        out->refused = st == 401 || st == 403 || st == 404 || st == 407;
        bool again = st >= 500 || st == 429 || st == 408 || out->refused;
        out->result = again ? AGENT_RETRY : AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%s: HTTP %ld%s%s", what, resp->status, said[0] ? ": " : "",
                 said);
    }
}

int agent_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    bool got = fgets(buf, (int)len, f) != NULL;
    bool whole = got && (strchr(buf, '\n') || feof(f) || fgetc(f) == EOF);
    fclose(f);
    if (got && !whole) {
        snprintf(err, errlen, "%s: its first line is longer than %zu bytes", path, len - 2);
        return -1;
    }
    if (!got) buf[0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        snprintf(err, errlen, "%s: empty (the secret is the file's first line)", path);
        return -1;
    }
    return 0;
}
