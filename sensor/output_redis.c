/*
 * output_redis.c - alerts and stats into Redis Streams (see redis_out.h).
 *
 * The packet thread turns each record into its EVE JSON text and appends
 * it to a bounded queue under a mutex; nothing else happens on the packet
 * path. The worker takes up to BATCH records at a time, pipelines one XADD
 * per record on its own connection and puts back (at the front, in order)
 * whatever Redis did not confirm. While Redis is unreachable the records
 * wait in the queue and the worker retries with exponential backoff.
 */
#include "redis_out.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "privdrop.h"

#define SECTION "redis"
#define BATCH 256
#define CONNECT_TIMEOUT_MS 1000
#define COMMAND_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

enum rec_kind { REC_ALERT, REC_STATS };

struct rec {
    enum rec_kind kind;
    int64_t ts_us;
    uint64_t seq;
    char *json;
};

struct redis_sink {
    char target[256];
    char *password;
    char *stream;
    char *stats_stream;
    char *sensor;
    int64_t maxlen;
    size_t queue_max;
    int64_t drain_sec;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    int worker_started;

    /* The queue: a ring that grows up to queue_max. Guarded by mu. */
    struct rec *ring;
    size_t cap, head, count;
    size_t inflight;
    uint64_t next_seq;
    int closing;
    struct timespec deadline;   /* CLOCK_MONOTONIC, set by close() */

    struct vigil_redis_counters ctr;
};

/* ---- time ------------------------------------------------------------ */

static struct timespec mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static struct timespec ts_add_ms(struct timespec t, int64_t ms)
{
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int64_t ts_diff_ms(struct timespec a, struct timespec b)
{
    return (int64_t)(a.tv_sec - b.tv_sec) * 1000 + (a.tv_nsec - b.tv_nsec) / 1000000L;
}

/* ---- connecting -------------------------------------------------------- */

static struct timeval ms_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

struct redisContext *vigil_redis_connect(const char *target, int timeout_ms,
                                         const char *password, char *err, size_t errlen)
{
    redisContext *c;
    struct timeval tv = ms_tv(timeout_ms > 0 ? timeout_ms : CONNECT_TIMEOUT_MS);
    if (target == NULL || *target == '\0')
        target = "127.0.0.1:6379";
    if (strncmp(target, "unix:", 5) == 0) {
        if (target[5] == '\0') {
            vigil_seterr(err, errlen, "redis target '%s': no socket path", target);
            return NULL;
        }
        c = redisConnectUnixWithTimeout(target + 5, tv);
    } else {
        char host[256];
        long port = 6379;
        const char *colon;
        size_t hlen;
        if (target[0] == '[') {             /* [v6addr]:port */
            const char *close_br = strchr(target, ']');
            if (close_br == NULL || (close_br[1] != '\0' && close_br[1] != ':')) {
                vigil_seterr(err, errlen, "redis target '%s': expected [ADDR]:PORT", target);
                return NULL;
            }
            hlen = (size_t)(close_br - target - 1);
            memcpy(host, target + 1, hlen < sizeof host ? hlen : 0);
            colon = close_br[1] == ':' ? close_br + 1 : NULL;
        } else {
            colon = strrchr(target, ':');
            hlen = colon ? (size_t)(colon - target) : strlen(target);
            memcpy(host, target, hlen < sizeof host ? hlen : 0);
        }
        if (hlen == 0 || hlen >= sizeof host) {
            vigil_seterr(err, errlen, "redis target '%s': expected HOST:PORT or unix:PATH",
                         target);
            return NULL;
        }
        host[hlen] = '\0';
        if (colon) {
            char *end;
            errno = 0;
            port = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end != '\0' || errno || port < 1 || port > 65535) {
                vigil_seterr(err, errlen, "redis target '%s': bad port", target);
                return NULL;
            }
        }
        c = redisConnectWithTimeout(host, (int)port, tv);
    }
    if (c == NULL) {
        vigil_seterr(err, errlen, "redis %s: out of memory", target);
        return NULL;
    }
    if (c->err) {
        vigil_seterr(err, errlen, "redis %s: %s", target, c->errstr);
        redisFree(c);
        return NULL;
    }
    tv = ms_tv(timeout_ms > 0 ? timeout_ms : COMMAND_TIMEOUT_MS);
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        vigil_seterr(err, errlen, "redis %s: cannot set timeout", target);
        redisFree(c);
        return NULL;
    }
    if (password && *password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        int bad = r == NULL || r->type == REDIS_REPLY_ERROR;
        vigil_seterr(err, errlen, "redis %s: AUTH: %s", target,
                     r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "ok");
        if (r)
            freeReplyObject(r);
        if (bad) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* ---- the queue (callers hold mu) ----------------------------------------- */

static void rec_free(struct rec *r)
{
    free(r->json);
    r->json = NULL;
}

static int ring_grow(struct redis_sink *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    if (ncap > s->queue_max)
        ncap = s->queue_max;
    struct rec *n = malloc(ncap * sizeof *n);
    if (n == NULL)
        return -1;
    for (size_t i = 0; i < s->count; i++)
        n[i] = s->ring[(s->head + i) % s->cap];
    free(s->ring);
    s->ring = n;
    s->cap = ncap;
    s->head = 0;
    return 0;
}

/* Room for one more, dropping the oldest when at queue_max. */
static int ring_make_room(struct redis_sink *s)
{
    if (s->count < s->cap)
        return 0;
    if (s->cap < s->queue_max && ring_grow(s) == 0)
        return 0;
    if (s->count == 0)
        return -1;              /* no memory at all */
    rec_free(&s->ring[s->head]);
    s->head = (s->head + 1) % s->cap;
    s->count--;
    s->ctr.dropped++;
    return 0;
}

static void ring_push_back(struct redis_sink *s, struct rec r)
{
    if (ring_make_room(s) < 0) {
        rec_free(&r);
        s->ctr.dropped++;
        return;
    }
    s->ring[(s->head + s->count) % s->cap] = r;
    s->count++;
}

/* Put back an unconfirmed record as the oldest; when the queue is full it
 * is itself the oldest, so it is the one dropped. */
static void ring_push_front(struct redis_sink *s, struct rec r)
{
    if (s->count == s->cap && (s->cap >= s->queue_max || ring_grow(s) < 0)) {
        rec_free(&r);
        s->ctr.dropped++;
        return;
    }
    s->head = (s->head + s->cap - 1) % s->cap;
    s->ring[s->head] = r;
    s->count++;
}

static size_t ring_pop(struct redis_sink *s, struct rec *out, size_t max)
{
    size_t n = 0;
    while (n < max && s->count > 0) {
        out[n++] = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    return n;
}

/* ---- the worker ----------------------------------------------------------- */

/* Send recs[0..n) pipelined; ok[i] = 1 for each XADD Redis confirmed.
 * Returns -1 when the connection is no longer usable. */
static int send_batch(struct redis_sink *s, redisContext *c, const struct rec *recs,
                      size_t n, int *ok, char *why, size_t whylen)
{
    char maxlen[24], ts[24], seq[24];
    snprintf(maxlen, sizeof maxlen, "%" PRId64, s->maxlen);
    for (size_t i = 0; i < n; i++) {
        const char *argv[16];
        size_t argl[16];
        int a = 0;
        snprintf(ts, sizeof ts, "%" PRId64, recs[i].ts_us);
        snprintf(seq, sizeof seq, "%" PRIu64, recs[i].seq);
        argv[a++] = "XADD";
        argv[a++] = recs[i].kind == REC_STATS ? s->stats_stream : s->stream;
        if (s->maxlen > 0) {
            argv[a++] = "MAXLEN";
            argv[a++] = "~";
            argv[a++] = maxlen;
        }
        argv[a++] = "*";
        argv[a++] = "sensor";
        argv[a++] = s->sensor;
        argv[a++] = "type";
        argv[a++] = recs[i].kind == REC_STATS ? "stats" : "alert";
        argv[a++] = "ts";
        argv[a++] = ts;
        argv[a++] = "seq";
        argv[a++] = seq;
        argv[a++] = "eve";
        argv[a++] = recs[i].json;
        for (int k = 0; k < a; k++)
            argl[k] = strlen(argv[k]);
        if (redisAppendCommandArgv(c, a, argv, argl) != REDIS_OK) {
            snprintf(why, whylen, "redis %s: %s", s->target, c->errstr);
            return -1;
        }
    }
    int broken = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        ok[i] = 0;
        if (broken)
            continue;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(why, whylen, "redis %s: %s", s->target, c->err ? c->errstr : "no reply");
            broken = 1;
            continue;
        }
        if (r->type == REDIS_REPLY_STRING)
            ok[i] = 1;
        else
            snprintf(why, whylen, "redis %s: XADD: %s", s->target,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
    }
    return broken ? -1 : 0;
}

static void *worker_main(void *arg)
{
    vigil_privdrop_thread();
    struct redis_sink *s = arg;
    redisContext *c = NULL;
    struct rec *batch = malloc(BATCH * sizeof *batch);
    int *ok = malloc(BATCH * sizeof *ok);
    int64_t backoff = BACKOFF_MIN_MS;
    struct timespec retry_at = mono_now();
    int complained = 0;
    char why[512] = "";

    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->count == 0) {
            if (s->closing)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        struct timespec now = mono_now();
        if (s->closing && ts_diff_ms(s->deadline, now) <= 0)
            break;
        if (ts_diff_ms(retry_at, now) > 0) {
            struct timespec until = retry_at;
            if (s->closing && ts_diff_ms(s->deadline, until) < 0)
                until = s->deadline;
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
            continue;
        }
        if (batch == NULL || ok == NULL)
            break;              /* no memory: close() reports the rest */
        size_t n = ring_pop(s, batch, BATCH);
        s->inflight = n;
        int closing = s->closing;
        int64_t left_ms = closing ? ts_diff_ms(s->deadline, now) : COMMAND_TIMEOUT_MS;
        pthread_mutex_unlock(&s->mu);

        int failed = 0, reconnected = 0;
        if (c == NULL) {
            int tmo = (int)(left_ms < 100 ? 100 : left_ms < CONNECT_TIMEOUT_MS
                            ? left_ms : CONNECT_TIMEOUT_MS);
            c = vigil_redis_connect(s->target, tmo, s->password, why, sizeof why);
            if (c && redisSetTimeout(c, ms_tv(COMMAND_TIMEOUT_MS)) != REDIS_OK) {
                snprintf(why, sizeof why, "redis %s: cannot set timeout", s->target);
                redisFree(c);
                c = NULL;
            }
            reconnected = c != NULL;
        }
        if (c == NULL) {
            for (size_t i = 0; i < n; i++)
                ok[i] = 0;
            failed = 1;
        } else if (send_batch(s, c, batch, n, ok, why, sizeof why) < 0) {
            redisFree(c);
            c = NULL;
            failed = 1;
        }

        pthread_mutex_lock(&s->mu);
        if (reconnected) {
            s->ctr.reconnects++;
            s->ctr.connected = 1;
            if (complained)
                vigil_err("redis %s: connected again; delivering %zu queued records",
                          s->target, s->count + n);
            complained = 0;
        }
        if (c == NULL)
            s->ctr.connected = 0;
        for (size_t i = n; i-- > 0;) {
            if (ok[i]) {
                s->ctr.delivered++;
                rec_free(&batch[i]);
            } else {
                failed = 1;
                ring_push_front(s, batch[i]);
            }
        }
        s->inflight = 0;
        if (failed) {
            if (!complained)
                vigil_err("%s; keeping records queued (up to %zu) and retrying", why,
                          s->queue_max);
            complained = 1;
            retry_at = ts_add_ms(mono_now(), backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        } else {
            backoff = BACKOFF_MIN_MS;
        }
    }
    s->ctr.connected = 0;
    pthread_mutex_unlock(&s->mu);
    if (c)
        redisFree(c);
    free(batch);
    free(ok);
    return NULL;
}

/* ---- the sink interface -------------------------------------------------- */

static int enqueue(struct redis_sink *s, enum rec_kind kind, int64_t ts_us, json_t *rec)
{
    if (rec == NULL)
        return -1;
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (text == NULL)
        return -1;
    pthread_mutex_lock(&s->mu);
    struct rec r = { kind, ts_us, ++s->next_seq, text };
    ring_push_back(s, r);
    s->ctr.queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int redis_alert(void *self, const struct vigil_alert_event *ev)
{
    if (ev == NULL || ev->alert == NULL)
        return -1;
    return enqueue(self, REC_ALERT, ev->ts_us, vigil_eve_alert_json(ev));
}

static int redis_stats(void *self, int64_t ts_us, const struct vigil_stats *st,
                       const struct vigil_detector_count *det, size_t ndet)
{
    return enqueue(self, REC_STATS, ts_us, vigil_eve_stats_json(ts_us, st, det, ndet));
}

static void sink_free(struct redis_sink *s)
{
    for (size_t i = 0; i < s->count; i++)
        rec_free(&s->ring[(s->head + i) % s->cap]);
    free(s->ring);
    free(s->password);
    free(s->stream);
    free(s->stats_stream);
    free(s->sensor);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int redis_close(void *self)
{
    struct redis_sink *s = self;
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    s->deadline = ts_add_ms(mono_now(), s->drain_sec * 1000);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->worker_started)
        pthread_join(s->worker, NULL);
    int rc = 0;
    if (s->count > 0 || s->ctr.dropped > 0) {
        vigil_err("redis %s: %" PRIu64 " of %" PRIu64 " records not delivered "
                  "(%zu still queued after %" PRId64 " s, %" PRIu64
                  " dropped from the full queue; raise [redis] queue_max or drain_sec)",
                  s->target, (uint64_t)s->count + s->ctr.dropped, s->ctr.queued, s->count,
                  s->drain_sec, s->ctr.dropped);
        rc = -1;
    }
    sink_free(s);
    return rc;
}

void vigil_redis_out_counters(void *self, struct vigil_redis_counters *c)
{
    struct redis_sink *s = self;
    pthread_mutex_lock(&s->mu);
    *c = s->ctr;
    c->pending = s->count + s->inflight;
    pthread_mutex_unlock(&s->mu);
}

/* A string setting, or def; NULL when out of memory. */
static char *setting(struct vigil_config *cfg, const char *key, const char *def)
{
    struct vigil_config_entry *e = cfg ? vigil_config_find(cfg, SECTION, key) : NULL;
    const char *v = e ? e->value : def;
    return v ? strdup(v) : NULL;
}

static int read_settings(struct redis_sink *s, const struct vigil_output_env *env,
                         char *err, size_t errlen)
{
    struct vigil_config *cfg = env ? env->cfg : NULL;
    int64_t qmax = 100000;
    s->maxlen = 1000000;
    s->drain_sec = 10;
    if (cfg && (vigil_config_int(cfg, SECTION, "maxlen", 1000000, 0, INT64_C(1) << 40,
                                 &s->maxlen, err, errlen) < 0 ||
                vigil_config_int(cfg, SECTION, "queue_max", 100000, 1, 100000000, &qmax,
                                 err, errlen) < 0 ||
                vigil_config_int(cfg, SECTION, "drain_sec", 10, 0, 86400, &s->drain_sec,
                                 err, errlen) < 0))
        return -1;
    s->queue_max = (size_t)qmax;
    s->stream = setting(cfg, "stream", "vigil:alerts");
    s->stats_stream = setting(cfg, "stats_stream", "vigil:stats");
    s->sensor = strdup(env && env->sensor_name && *env->sensor_name ? env->sensor_name
                                                                     : "vigil");
    struct vigil_config_entry *pw = cfg ? vigil_config_find(cfg, SECTION, "password") : NULL;
    if (pw && *pw->value && (s->password = strdup(pw->value)) == NULL)
        goto nomem;
    if (!s->stream || !s->stats_stream || !s->sensor)
        goto nomem;
    if (!*s->stream || !*s->stats_stream) {
        vigil_seterr(err, errlen, "[redis] stream and stats_stream must not be empty");
        return -1;
    }
    return 0;
nomem:
    vigil_seterr(err, errlen, "redis: out of memory");
    return -1;
}

int vigil_output_open_redis(const char *target, const struct vigil_output_env *env,
                            struct vigil_output *out, char *err, size_t errlen)
{
    struct redis_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        vigil_seterr(err, errlen, "redis: out of memory");
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->target, sizeof s->target, "%s", target && *target ? target : "127.0.0.1:6379");
    if (read_settings(s, env, err, errlen) < 0) {
        sink_free(s);
        return -1;
    }
    /* Check the target's syntax now; Redis itself may come up later. */
    char why[256];
    redisContext *c = vigil_redis_connect(s->target, CONNECT_TIMEOUT_MS, s->password,
                                          why, sizeof why);
    if (c)
        redisFree(c);
    else if (strstr(why, "redis target") == why) {
        vigil_seterr(err, errlen, "%s", why);
        sink_free(s);
        return -1;
    }
    /* The worker takes no signals: they belong to the capture loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->worker, NULL, worker_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        vigil_seterr(err, errlen, "redis: cannot start the sender thread: %s", strerror(rc));
        sink_free(s);
        return -1;
    }
    s->worker_started = 1;
    *out = (struct vigil_output){
        .name = "redis",
        .self = s,
        .alert = redis_alert,
        .stats = redis_stats,
        .close = redis_close,
    };
    return 0;
}
