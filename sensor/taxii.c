/*
 * taxii.c - the TAXII 2.1 push client: spool reader, envelope builder,
 * HTTP with libcurl, status following, backoff and dead letters. Runs in
 * its own thread; the packet path only appends to the spool.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log.h"
#include "privdrop.h"
#include "taxii.h"

#define MAX_BODY (1u << 20)     /* response bytes kept */
#define URL_MAX 2048

enum push_result {
    PUSH_OK,                    /* acknowledged (possibly with dead letters) */
    PUSH_RETRY,                 /* transient: back off, try again */
    PUSH_BLOCKED,               /* the operator must act: back off, try again */
    PUSH_REJECT,                /* the content: split, or dead-letter one record */
};

struct vigil_taxii {
    struct vigil_taxii_options o;
    struct vigil_spool *spool;
    CURL *curl;
    struct curl_slist *post_headers, *get_headers;
    char objects_url[URL_MAX];
    char status_prefix[URL_MAX];
    char dead_path[4096];
    char curl_err[CURL_ERROR_SIZE];

    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int work;                   /* appended since the worker last looked */
    atomic_int stopping;
    _Atomic int64_t deadline_ms;

    /* worker-only state */
    int outage;                 /* in a failure episode (one message) */
    int last_kind;              /* what the last problem was, for repeats */
    int curl_rc;                /* CURLcode of the last transport error */
    int ack_broken;             /* the ack file cannot be written */
    unsigned seed;              /* backoff jitter */
    char last_problem[256];

    pthread_mutex_t cmu;        /* counters */
    struct vigil_taxii_counters c;
};

/* ---- time --------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int past_deadline(struct vigil_taxii *t)
{
    return atomic_load(&t->stopping) && now_ms() >= atomic_load(&t->deadline_ms);
}

/*
 * Sleep until abs_ms (monotonic). Returns early when the drain deadline
 * passes, and, if wake_on_work, when there is new work or close() began.
 */
static void wait_until(struct vigil_taxii *t, int64_t abs_ms, int wake_on_work)
{
    pthread_mutex_lock(&t->mu);
    for (;;) {
        int64_t now = now_ms();
        if (now >= abs_ms || past_deadline(t))
            break;
        if (wake_on_work && (t->work || atomic_load(&t->stopping)))
            break;
        int64_t until = abs_ms;
        if (atomic_load(&t->stopping) && atomic_load(&t->deadline_ms) < until)
            until = atomic_load(&t->deadline_ms);
        struct timespec ts = { .tv_sec = (time_t)(until / 1000),
                               .tv_nsec = (long)(until % 1000) * 1000000 };
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    t->work = 0;
    pthread_mutex_unlock(&t->mu);
}

/* ---- URLs --------------------------------------------------------------- */

static int is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0)
        return 1;
    unsigned a, b, c, d;
    char extra;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 &&
           b < 256 && c < 256 && d < 256;
}

int vigil_taxii_parse_url(const char *collection, int allow_http, char *objects_url,
                          size_t objects_len, char *status_prefix, size_t status_len,
                          char *err, size_t errlen)
{
    int rc = -1;
    char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *frag = NULL;
    CURLU *u = curl_url();
    if (u == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    if (collection == NULL || *collection == '\0' ||
        curl_url_set(u, CURLUPART_URL, collection, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        vigil_seterr(err, errlen, "'%s' is not a URL (want https://host/API-ROOT/"
                     "collections/ID/)", collection ? collection : "");
        goto out;
    }
    int https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0) {
        vigil_seterr(err, errlen, "%s: only https:// (or http:// to loopback) is supported",
                     collection);
        goto out;
    }
    if (!https && !allow_http && !is_loopback(host)) {
        vigil_seterr(err, errlen, "%s: http:// is only allowed to a loopback address; "
                     "use https://", collection);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        vigil_seterr(err, errlen, "%s: put no credentials in the URL; use [taxii] username "
                     "and password_file, or token_file", collection);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        vigil_seterr(err, errlen, "%s: a collection URL has no query or fragment", collection);
        goto out;
    }
    size_t len = strlen(collection);
    char url[URL_MAX];
    if (len + 2 > sizeof url) {
        vigil_seterr(err, errlen, "collection URL too long");
        goto out;
    }
    memcpy(url, collection, len + 1);
    if (url[len - 1] != '/') {
        url[len++] = '/';
        url[len] = '\0';
    }
    /* .../collections/ID/ : find the last "/collections/" with one segment after */
    char *mark = NULL;
    for (char *p = strstr(url, "/collections/"); p; p = strstr(p + 1, "/collections/"))
        mark = p;
    const char *id = mark ? mark + strlen("/collections/") : NULL;
    const char *slash = id ? strchr(id, '/') : NULL;
    if (mark == NULL || slash == id || slash == NULL || slash[1] != '\0') {
        vigil_seterr(err, errlen, "%s: not a collection URL (want .../API-ROOT/collections/"
                     "ID/)", collection);
        goto out;
    }
    size_t root_len = (size_t)(mark - url) + 1;     /* api-root with its '/' */
    if ((size_t)snprintf(objects_url, objects_len, "%sobjects/", url) >= objects_len ||
        (size_t)snprintf(status_prefix, status_len, "%.*sstatus/", (int)root_len, url) >=
            status_len) {
        vigil_seterr(err, errlen, "collection URL too long");
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return rc;
}

/* ---- HTTP --------------------------------------------------------------- */

struct resp {
    char *buf;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    struct resp *r = user;
    size_t bytes = size * n, keep = bytes;
    if (r->len + keep > MAX_BODY)
        keep = MAX_BODY - r->len;
    if (keep > 0) {
        char *nb = realloc(r->buf, r->len + keep + 1);
        if (nb == NULL)
            return 0;
        r->buf = nb;
        memcpy(r->buf + r->len, p, keep);
        r->len += keep;
        r->buf[r->len] = '\0';
    }
    return bytes;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return past_deadline(user);     /* close() waited long enough: abort */
}

/* One request; the HTTP status, or 0 with t->curl_err on a transport error. */
static long request(struct vigil_taxii *t, const char *url, const char *body, size_t len,
                    struct resp *r, long *retry_after)
{
    CURL *c = t->curl;
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
    t->curl_err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->post_headers);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->get_headers);
    }
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    CURLcode rc = curl_easy_perform(c);
    t->curl_rc = (int)rc;
    if (rc != CURLE_OK) {
        if (t->curl_err[0] == '\0')
            snprintf(t->curl_err, sizeof t->curl_err, "%s", curl_easy_strerror(rc));
        return 0;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t ra = 0;
    *retry_after = 0;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        *retry_after = ra > 86400 ? 86400 : (long)ra;
    return code;
}

/* Kinds of problem: an HTTP status, or one of these. */
enum { KIND_STATUS = 1, KIND_SPOOL = 2, KIND_MEMORY = 3, KIND_TRANSPORT = 1000 };

static void problem(struct vigil_taxii *t, int kind, const char *fmt, ...) VIGIL_FMT(3, 4);

/* A delivery problem: said once per episode, and again when its kind changes
 * (not when only details such as timings in the text differ). */
static void problem(struct vigil_taxii *t, int kind, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!t->outage || kind != t->last_kind)
        vigil_err("taxii %s: %s; retrying with backoff (alerts stay in the spool)",
                  t->objects_url, msg);
    t->last_kind = kind;
    t->outage = 1;
}

/* The title/description of a TAXII error resource, or the start of the body. */
static void error_text(const struct resp *r, char *out, size_t len)
{
    out[0] = '\0';
    if (r->buf == NULL)
        return;
    json_t *j = json_loadb(r->buf, r->len, 0, NULL);
    const char *title = json_string_value(json_object_get(j, "title"));
    const char *desc = json_string_value(json_object_get(j, "description"));
    if (title)
        snprintf(out, len, "%s%s%s", title, desc ? ": " : "", desc ? desc : "");
    else
        snprintf(out, len, "%.*s", (int)(r->len < 200 ? r->len : 200), r->buf);
    json_decref(j);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

/* ---- dead letters ------------------------------------------------------- */

static void dead_letter(struct vigil_taxii *t, json_t *objects, long http, const char *why,
                        uint64_t seq)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *line = json_pack("{s:s, s:s, s:I, s:I, s:s, s:O}", "time", ts, "url",
                             t->objects_url, "record", (json_int_t)seq, "http_status",
                             (json_int_t)http, "error", why, "objects",
                             objects ? objects : json_null());
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    int ok = 0;
    int fd = open(t->dead_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0 && text) {
        size_t n = strlen(text);
        struct iovec v[2] = { { text, n }, { (void *)(uintptr_t)"\n", 1 } };
        ok = writev(fd, v, 2) == (ssize_t)(n + 1) && fsync(fd) == 0;
    }
    if (fd >= 0)
        close(fd);
    free(text);
    vigil_err("taxii %s: server rejected record %" PRIu64 " (HTTP %ld: %s); %s %s",
              t->objects_url, seq, http, why[0] ? why : "no reason given",
              ok ? "moved to" : "COULD NOT be written to", t->dead_path);
    pthread_mutex_lock(&t->cmu);
    t->c.dead_letter++;
    pthread_mutex_unlock(&t->cmu);
}

/* ---- envelopes and status ----------------------------------------------- */

/* The objects of a batch's records, each (id, modified) once. NULL when a
 * record is not a JSON array of objects (*bad_seq names it). */
static json_t *build_objects(const struct vigil_spool_batch *b, uint64_t *bad_seq)
{
    json_t *objs = json_array(), *seen = json_object();
    for (size_t i = 0; objs && seen && i < b->count; i++) {
        json_t *arr = json_loadb((const char *)b->recs[i].data, b->recs[i].len, 0, NULL);
        if (!json_is_array(arr)) {
            json_decref(arr);
            *bad_seq = b->recs[i].seq;
            json_decref(objs);
            objs = NULL;
            break;
        }
        size_t k;
        json_t *o;
        json_array_foreach(arr, k, o) {
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *mod = json_string_value(json_object_get(o, "modified"));
            char key[512];
            if (id == NULL)
                continue;
            snprintf(key, sizeof key, "%s|%s", id, mod ? mod : "");
            if (json_object_get(seen, key))
                continue;
            json_object_set_new(seen, key, json_true());
            json_array_append(objs, o);
        }
        json_decref(arr);
    }
    json_decref(seen);
    return objs;
}

static int status_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= 128 && strspn(id, "0123456789abcdefABCDEF-") == n;
}

/* Objects of the envelope named by a status's failures, with the reasons. */
static void dead_letter_failures(struct vigil_taxii *t, json_t *status, json_t *objs,
                                 uint64_t seq)
{
    json_t *fails = json_object_get(status, "failures");
    json_t *bad = json_array();
    char why[300] = "";
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f) {
        const char *id = json_string_value(json_object_get(f, "id"));
        const char *msg = json_string_value(json_object_get(f, "message"));
        if (why[0] == '\0')
            snprintf(why, sizeof why, "%s: %s", id ? id : "?", msg ? msg : "failed");
        size_t k;
        json_t *o;
        json_array_foreach(objs, k, o) {
            const char *oid = json_string_value(json_object_get(o, "id"));
            if (id && oid && strcmp(id, oid) == 0)
                json_array_append(bad, o);
        }
    }
    json_int_t nfail = json_integer_value(json_object_get(status, "failure_count"));
    char text[400];
    snprintf(text, sizeof text, "status reports %" JSON_INTEGER_FORMAT " failed objects; "
             "first: %s", nfail, why[0] ? why : "(none listed)");
    dead_letter(t, bad, 202, text, seq);
    json_decref(bad);
}

/*
 * Follow a status resource until it is complete: PUSH_OK, or PUSH_RETRY
 * when it stays pending past status_timeout_sec (the envelope is sent
 * again; the server must accept duplicates).
 */
static enum push_result follow_status(struct vigil_taxii *t, json_t *status, json_t *objs,
                                      uint64_t last_seq)
{
    int64_t give_up = now_ms() + t->o.status_timeout_sec * 1000;
    int64_t delay = 100;
    json_t *cur = json_incref(status);
    struct resp r = { 0 };
    enum push_result res = PUSH_RETRY;
    for (;;) {
        const char *st = json_string_value(json_object_get(cur, "status"));
        if (st && strcmp(st, "complete") == 0) {
            if (json_integer_value(json_object_get(cur, "failure_count")) > 0)
                dead_letter_failures(t, cur, objs, last_seq);
            res = PUSH_OK;
            break;
        }
        const char *id = json_string_value(json_object_get(cur, "id"));
        if (!status_id_ok(id)) {
            problem(t, KIND_STATUS, "status resource without a usable id");
            break;
        }
        if (now_ms() + delay > give_up || past_deadline(t)) {
            problem(t, KIND_STATUS, "status %s still pending after %lds", id,
                    t->o.status_timeout_sec);
            break;
        }
        wait_until(t, now_ms() + delay, 0);
        if (past_deadline(t))
            break;
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
        char url[URL_MAX + 160];
        snprintf(url, sizeof url, "%s%s/", t->status_prefix, id);
        long ra;
        long code = request(t, url, NULL, 0, &r, &ra);
        if (code != 200)
            continue;   /* keep asking until the timeout */
        json_t *next = json_loadb(r.buf, r.len, 0, NULL);
        if (json_is_object(next) && json_is_string(json_object_get(next, "status"))) {
            json_decref(cur);
            cur = next;
        } else {
            json_decref(next);
        }
    }
    free(r.buf);
    json_decref(cur);
    return res;
}

/* POST one batch. *http gets the status for messages. */
static enum push_result push(struct vigil_taxii *t, const struct vigil_spool_batch *b,
                             long *http, long *retry_after, char *why, size_t whylen)
{
    uint64_t bad_seq = 0;
    *http = 0;
    *retry_after = 0;
    why[0] = '\0';
    json_t *objs = build_objects(b, &bad_seq);
    if (objs == NULL) {
        snprintf(why, whylen, "record %" PRIu64 " is not a JSON array of objects", bad_seq);
        return PUSH_REJECT;
    }
    json_t *env = json_pack("{s:O}", "objects", objs);
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (body == NULL) {
        json_decref(objs);
        problem(t, KIND_MEMORY, "out of memory");
        return PUSH_RETRY;
    }
    struct resp r = { 0 };
    pthread_mutex_lock(&t->cmu);
    t->c.posts++;
    pthread_mutex_unlock(&t->cmu);
    long code = request(t, t->objects_url, body, strlen(body), &r, retry_after);
    free(body);
    *http = code;
    enum push_result res;
    char text[256];
    error_text(&r, text, sizeof text);
    if (code == 0) {
        problem(t, KIND_TRANSPORT + t->curl_rc, "cannot deliver: %s", t->curl_err);
        res = PUSH_RETRY;
    } else if (code >= 200 && code < 300) {
        json_t *status = json_loadb(r.buf ? r.buf : "", r.len, 0, NULL);
        if (json_is_object(status) && json_is_string(json_object_get(status, "status"))) {
            res = follow_status(t, status, objs, b->recs[b->count - 1].seq);
        } else {
            /* Accepted, but no status to follow: take the server's word. */
            if (code == 202)
                vigil_err("taxii %s: HTTP 202 without a status resource; taken as "
                          "delivered", t->objects_url);
            res = PUSH_OK;
        }
        json_decref(status);
    } else if (code == 401) {
        problem(t, (int)code, "the server refused the credentials (HTTP 401): check [taxii] "
                "username/password_file or token_file");
        res = PUSH_BLOCKED;
    } else if (code == 403) {
        problem(t, (int)code, "not allowed to write to this collection (HTTP 403)");
        res = PUSH_BLOCKED;
    } else if (code == 404) {
        problem(t, (int)code, "no such API root or collection, or no access to it (HTTP 404)");
        res = PUSH_BLOCKED;
    } else if (code == 406 || code == 415) {
        problem(t, (int)code, "the server does not accept %s (HTTP %ld)", VIGIL_TAXII_MEDIA_TYPE, code);
        res = PUSH_BLOCKED;
    } else if (code == 408 || code == 429 || code >= 500) {
        problem(t, (int)code, "HTTP %ld%s%s", code, text[0] ? ": " : "", text);
        res = PUSH_RETRY;
    } else {
        snprintf(why, whylen, "%s", text);
        res = PUSH_REJECT;
    }
    free(r.buf);
    json_decref(objs);
    return res;
}

/* ---- the worker ----------------------------------------------------------- */

static long backoff_ms(struct vigil_taxii *t, int attempts, long retry_after)
{
    long d = t->o.retry_min_ms;
    for (int i = 1; i < attempts && d < t->o.retry_max_ms; i++)
        d *= 2;
    if (d > t->o.retry_max_ms)
        d = t->o.retry_max_ms;
    /* jitter: 50-100 %, so many sensors do not come back in step */
    d = d / 2 + (long)((unsigned long)rand_r(&t->seed) % (unsigned long)(d / 2 + 1));
    if (retry_after > 0 && retry_after * 1000 > d)
        d = retry_after * 1000 > t->o.retry_max_ms ? t->o.retry_max_ms : retry_after * 1000;
    return d;
}

static void *worker(void *arg)
{
    vigil_privdrop_thread();
    struct vigil_taxii *t = arg;
    struct vigil_spool_batch b = { 0 };
    int attempts = 0;
    uint64_t one_by_one = 0;    /* after a rejected batch: single records up to here */
    int64_t next_sync = now_ms() + t->o.sync_ms;
    for (;;) {
        vigil_spool_retry(t->spool, 0);     /* records waiting for a full disk */
        if (t->o.sync_ms > 0 && now_ms() >= next_sync) {
            vigil_spool_sync(t->spool);
            next_sync = now_ms() + t->o.sync_ms;
        }
        if (past_deadline(t))
            break;
        size_t max = one_by_one ? 1 : t->o.batch_records;
        if (vigil_spool_peek(t->spool, max, t->o.batch_bytes, &b) < 0) {
            problem(t, KIND_SPOOL, "cannot read the spool: %s", strerror(errno));
            wait_until(t, now_ms() + backoff_ms(t, ++attempts, 0), 0);
            continue;
        }
        if (b.count == 0) {
            one_by_one = 0;
            if (atomic_load(&t->stopping))
                break;      /* drained */
            int64_t idle = t->o.sync_ms > 0 ? t->o.sync_ms : 1000;
            wait_until(t, now_ms() + idle, 1);
            continue;
        }
        long http, retry_after;
        char why[256];
        uint64_t last = b.recs[b.count - 1].seq;
        enum push_result res = push(t, &b, &http, &retry_after, why, sizeof why);
        if (res == PUSH_REJECT && b.count > 1) {
            one_by_one = last;      /* find the record the server objects to */
            continue;
        }
        if (res == PUSH_REJECT) {
            json_t *objs = json_loadb((const char *)b.recs[0].data, b.recs[0].len, 0, NULL);
            dead_letter(t, objs, http, why, b.recs[0].seq);
            json_decref(objs);
            res = PUSH_OK;
        }
        if (res == PUSH_OK) {
            if (vigil_spool_ack(t->spool, last) < 0) {
                if (!t->ack_broken)
                    vigil_err("taxii: cannot record acknowledgements in %s: %s; a restart "
                              "will send some delivered alerts again", t->o.spool.dir,
                              strerror(errno));
                t->ack_broken = 1;
            } else if (t->ack_broken) {
                vigil_err("taxii: acknowledgements are recorded in %s again", t->o.spool.dir);
                t->ack_broken = 0;
            }
            pthread_mutex_lock(&t->cmu);
            t->c.accepted += b.count;
            pthread_mutex_unlock(&t->cmu);
            if (t->outage)
                vigil_err("taxii %s: delivering again after %d failed attempt%s",
                          t->objects_url, attempts, attempts == 1 ? "" : "s");
            t->outage = 0;
            attempts = 0;
            if (one_by_one && last >= one_by_one)
                one_by_one = 0;
            continue;
        }
        pthread_mutex_lock(&t->cmu);
        t->c.retries++;
        pthread_mutex_unlock(&t->cmu);
        wait_until(t, now_ms() + backoff_ms(t, ++attempts, retry_after), 0);
    }
    vigil_spool_batch_free(&b);
    return NULL;
}

/* ---- open / submit / close ------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int setup_curl(struct vigil_taxii *t, char *err, size_t errlen)
{
    CURL *c = t->curl = curl_easy_init();
    t->post_headers = curl_slist_append(NULL, "Accept: " VIGIL_TAXII_MEDIA_TYPE);
    t->post_headers = t->post_headers
        ? curl_slist_append(t->post_headers, "Content-Type: " VIGIL_TAXII_MEDIA_TYPE) : NULL;
    t->get_headers = curl_slist_append(NULL, "Accept: " VIGIL_TAXII_MEDIA_TYPE);
    if (c == NULL || t->post_headers == NULL || t->get_headers == NULL) {
        vigil_seterr(err, errlen, "taxii: cannot set up libcurl");
        return -1;
    }
    int bad = 0;
#define SET(opt, val) bad |= curl_easy_setopt(c, opt, val) != CURLE_OK
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, t->curl_err);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, t);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_USERAGENT, "vigil");
    SET(CURLOPT_CONNECTTIMEOUT, t->o.connect_timeout_sec);
    SET(CURLOPT_TIMEOUT, t->o.timeout_sec);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, t->o.insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, t->o.insecure ? 0L : 2L);
    if (t->o.ca_file)
        SET(CURLOPT_CAINFO, t->o.ca_file);
    if (t->o.token) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_XOAUTH2_BEARER, t->o.token);
    } else if (t->o.username) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, t->o.username);
        SET(CURLOPT_PASSWORD, t->o.password ? t->o.password : "");
    }
#undef SET
    if (bad) {
        vigil_seterr(err, errlen, "taxii: libcurl lacks a needed option (TLS 1.2, bearer "
                     "tokens)");
        return -1;
    }
    return 0;
}

static void taxii_free(struct vigil_taxii *t)
{
    if (t->curl)
        curl_easy_cleanup(t->curl);
    curl_slist_free_all(t->post_headers);
    curl_slist_free_all(t->get_headers);
    if (t->spool)
        vigil_spool_close(t->spool);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->cmu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

struct vigil_taxii *vigil_taxii_open(const struct vigil_taxii_options *opt, char *err,
                                     size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ok) {
        vigil_seterr(err, errlen, "taxii: libcurl failed to initialise");
        return NULL;
    }
    struct vigil_taxii *t = calloc(1, sizeof *t);
    if (t == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    t->o = *opt;
    if (t->o.connect_timeout_sec <= 0)
        t->o.connect_timeout_sec = 10;
    if (t->o.timeout_sec <= 0)
        t->o.timeout_sec = 30;
    if (t->o.status_timeout_sec <= 0)
        t->o.status_timeout_sec = 60;
    if (t->o.retry_min_ms <= 0)
        t->o.retry_min_ms = 500;
    if (t->o.retry_max_ms <= 0)
        t->o.retry_max_ms = 60000;
    if (t->o.retry_max_ms < t->o.retry_min_ms)
        t->o.retry_max_ms = t->o.retry_min_ms;
    if (t->o.batch_records == 0)
        t->o.batch_records = 100;
    if (t->o.batch_bytes == 0)
        t->o.batch_bytes = 1u << 20;
    if (t->o.drain_sec < 0)
        t->o.drain_sec = 0;
    t->o.spool.sync_every_record = t->o.sync_ms <= 0;
    t->o.spool.name = "taxii";
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->cmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);

    if (t->o.token && t->o.username) {
        vigil_seterr(err, errlen, "taxii: give either a bearer token or a username, not both");
        goto fail;
    }
    if (t->o.username && strchr(t->o.username, ':')) {
        vigil_seterr(err, errlen, "taxii: a Basic username cannot contain ':'");
        goto fail;
    }
    if (vigil_taxii_parse_url(t->o.collection_url, t->o.allow_http, t->objects_url,
                              sizeof t->objects_url, t->status_prefix, sizeof t->status_prefix,
                              err, errlen) < 0)
        goto fail;
    if (setup_curl(t, err, errlen) < 0)
        goto fail;
    if ((size_t)snprintf(t->dead_path, sizeof t->dead_path, "%s/dead-letter.jsonl",
                         t->o.spool.dir ? t->o.spool.dir : "") >= sizeof t->dead_path) {
        vigil_seterr(err, errlen, "taxii: spool directory name too long");
        goto fail;
    }
    char serr[512];
    t->spool = vigil_spool_open(&t->o.spool, serr, sizeof serr);
    if (t->spool == NULL) {
        vigil_seterr(err, errlen, "taxii: %s", serr);
        goto fail;
    }
    if (t->o.insecure)
        vigil_err("taxii %s: insecure = 1: the server's certificate is NOT checked",
                  t->objects_url);
    struct vigil_spool_counters sc;
    vigil_spool_counters(t->spool, &sc);
    if (sc.recovered > 0)
        vigil_err("taxii %s: resuming %" PRIu64 " undelivered records from %s",
                  t->objects_url, sc.recovered, t->o.spool.dir);
    t->seed = (unsigned)now_ms() ^ (unsigned)getpid();
    if (pthread_create(&t->thread, NULL, worker, t) != 0) {
        vigil_seterr(err, errlen, "taxii: cannot start the worker thread");
        goto fail;
    }
    t->started = 1;
    return t;
fail:
    taxii_free(t);
    return NULL;
}

int vigil_taxii_submit(struct vigil_taxii *t, const char *objects_json, size_t len)
{
    if (vigil_spool_append(t->spool, objects_json, len) != 0)
        return -1;
    pthread_mutex_lock(&t->mu);
    t->work = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void vigil_taxii_counters(struct vigil_taxii *t, struct vigil_taxii_counters *c)
{
    pthread_mutex_lock(&t->cmu);
    *c = t->c;
    pthread_mutex_unlock(&t->cmu);
    vigil_spool_counters(t->spool, &c->spool);
}

int vigil_taxii_close(struct vigil_taxii *t)
{
    if (t == NULL)
        return 0;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        atomic_store(&t->deadline_ms, now_ms() + t->o.drain_sec * 1000);
        atomic_store(&t->stopping, 1);
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    vigil_spool_retry(t->spool, 1);     /* a last try for records waiting in memory */
    struct vigil_taxii_counters c;
    vigil_taxii_counters(t, &c);
    if (c.spool.pending > 0)
        vigil_err("taxii %s: %" PRIu64 " records not delivered yet; they stay in %s for "
                  "the next run", t->objects_url, c.spool.pending, t->o.spool.dir);
    uint64_t unwritable = c.spool.unpersisted + c.spool.waiting;  /* waiting: lost at close */
    uint64_t lost = c.spool.dropped_new + c.spool.dropped_oldest + unwritable;
    if (lost > 0)
        vigil_err("taxii %s: %" PRIu64 " records lost (%" PRIu64 " dropped by the spool cap, "
                  "%" PRIu64 " unwritable)", t->objects_url, lost,
                  c.spool.dropped_new + c.spool.dropped_oldest, unwritable);
    int rc = lost > 0 ? -1 : 0;
    struct vigil_spool *sp = t->spool;
    t->spool = NULL;
    if (vigil_spool_close(sp) < 0)
        rc = -1;
    taxii_free(t);
    return rc;
}
