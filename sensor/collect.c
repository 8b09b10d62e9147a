/* collect.c - `vigil collect`: the consumer side of the Redis stream sink. */
#include "collect.h"

#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eve.h"
#include "log.h"
#include "redis_out.h"

enum { EXIT_OK = 0, EXIT_IO = 1, EXIT_USAGE = 2 };

#define TIMEOUT_MS 5000
#define BLOCK_MS 1000
#define MAX_SENSORS 64          /* per attacker; more are counted, not named */
#define MAX_CATEGORIES 16
#define NAME_MAX_LEN 128

static volatile sig_atomic_t g_collect_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_collect_stop = 1;
}

struct opts {
    const char *server;
    const char *group;
    const char *consumer;
    const char *stream;
    const char *out_path;
    int follow;
    int quiet;
    int64_t window_sec;
    long batch;
    long max_attackers;
    char host[256];
};

/* ---- correlation: a bounded table of attackers, least recently seen out ---- */

struct seen_sensor {
    char name[NAME_MAX_LEN];
    int64_t first_us, last_us;
};

struct attacker {
    char ip[64];
    struct seen_sensor sensors[MAX_SENSORS];
    size_t nsensors;
    uint64_t sensors_over;      /* sensors beyond MAX_SENSORS */
    char cats[MAX_CATEGORIES][64];
    size_t ncats;
    int64_t first_us, last_us;
    uint64_t alerts;
    size_t reported;            /* sensors in the last incident event; 0 none */
    struct attacker *hnext;     /* hash chain */
    struct attacker *lprev, *lnext;     /* LRU list, most recent first */
};

struct table {
    struct attacker **buckets;
    size_t nbuckets;            /* power of two */
    size_t count, max;
    struct attacker *lru_head, *lru_tail;
    uint64_t evicted;
};

static uint64_t hash_ip(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int table_init(struct table *t, size_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max;
    t->nbuckets = 64;
    while (t->nbuckets < max && t->nbuckets < ((size_t)1 << 22))
        t->nbuckets *= 2;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

static void lru_unlink(struct table *t, struct attacker *a)
{
    if (a->lprev)
        a->lprev->lnext = a->lnext;
    else
        t->lru_head = a->lnext;
    if (a->lnext)
        a->lnext->lprev = a->lprev;
    else
        t->lru_tail = a->lprev;
    a->lprev = a->lnext = NULL;
}

static void lru_push(struct table *t, struct attacker *a)
{
    a->lnext = t->lru_head;
    a->lprev = NULL;
    if (t->lru_head)
        t->lru_head->lprev = a;
    t->lru_head = a;
    if (t->lru_tail == NULL)
        t->lru_tail = a;
}

static void table_remove(struct table *t, struct attacker *a)
{
    struct attacker **pp = &t->buckets[hash_ip(a->ip) & (t->nbuckets - 1)];
    while (*pp && *pp != a)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = a->hnext;
    lru_unlink(t, a);
    t->count--;
    free(a);
}

static void table_free(struct table *t)
{
    while (t->lru_head)
        table_remove(t, t->lru_head);
    free(t->buckets);
}

static struct attacker *table_get(struct table *t, const char *ip)
{
    size_t b = hash_ip(ip) & (t->nbuckets - 1);
    for (struct attacker *a = t->buckets[b]; a; a = a->hnext)
        if (strcmp(a->ip, ip) == 0) {
            lru_unlink(t, a);
            lru_push(t, a);
            return a;
        }
    if (t->count >= t->max && t->lru_tail) {
        table_remove(t, t->lru_tail);
        t->evicted++;
    }
    struct attacker *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    a->hnext = t->buckets[b];
    t->buckets[b] = a;
    lru_push(t, a);
    t->count++;
    return a;
}

static void attacker_reset(struct attacker *a)
{
    a->nsensors = 0;
    a->sensors_over = 0;
    a->ncats = 0;
    a->alerts = 0;
    a->reported = 0;
    a->first_us = a->last_us = 0;
}

static void add_category(struct attacker *a, const char *cat)
{
    if (cat == NULL || *cat == '\0')
        return;
    for (size_t i = 0; i < a->ncats; i++)
        if (strcmp(a->cats[i], cat) == 0)
            return;
    if (a->ncats < MAX_CATEGORIES)
        snprintf(a->cats[a->ncats++], sizeof a->cats[0], "%s", cat);
}

/* Record one alert; returns the number of sensors that reported the
 * attacker within the window. */
static size_t attacker_update(struct attacker *a, const char *sensor, const char *cat,
                              int64_t ts_us, int64_t window_us)
{
    if (a->alerts > 0 && (ts_us - a->last_us > window_us || a->first_us - ts_us > window_us))
        attacker_reset(a);       /* quiet for a whole window: a new campaign */
    if (a->alerts == 0 || ts_us < a->first_us)
        a->first_us = ts_us;
    if (a->alerts == 0 || ts_us > a->last_us)
        a->last_us = ts_us;
    a->alerts++;
    add_category(a, cat);
    size_t i;
    for (i = 0; i < a->nsensors; i++)
        if (strcmp(a->sensors[i].name, sensor) == 0)
            break;
    if (i == a->nsensors) {
        if (a->nsensors < MAX_SENSORS) {
            snprintf(a->sensors[i].name, sizeof a->sensors[i].name, "%s", sensor);
            a->sensors[i].first_us = a->sensors[i].last_us = ts_us;
            a->nsensors++;
        } else {
            a->sensors_over++;
        }
    } else {
        if (ts_us > a->sensors[i].last_us)
            a->sensors[i].last_us = ts_us;
        if (ts_us < a->sensors[i].first_us)
            a->sensors[i].first_us = ts_us;
    }
    size_t active = 0;
    for (size_t k = 0; k < a->nsensors; k++)
        if (a->sensors[k].last_us >= a->last_us - window_us)
            active++;
    return active;
}

static json_t *incident_json(const struct attacker *a, int64_t window_us)
{
    char first[64], last[64], id[128];
    vigil_format_ts(a->first_us, first, sizeof first);
    vigil_format_ts(a->last_us, last, sizeof last);
    snprintf(id, sizeof id, "%s@%" PRId64, a->ip, a->first_us);
    json_t *sensors = json_array(), *cats = json_array();
    for (size_t i = 0; sensors && i < a->nsensors; i++)
        if (a->sensors[i].last_us >= a->last_us - window_us)
            json_array_append_new(sensors, json_string(a->sensors[i].name));
    for (size_t i = 0; cats && i < a->ncats; i++)
        json_array_append_new(cats, json_string(a->cats[i]));
    json_t *inc = json_pack("{s:s, s:o, s:o, s:s, s:s, s:I, s:I}",
                            "id", id, "sensors", sensors, "categories", cats,
                            "first_seen", first, "last_seen", last,
                            "alert_count", (json_int_t)a->alerts,
                            "window_sec", (json_int_t)(window_us / 1000000));
    if (inc == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o}", "timestamp", last, "event_type", "incident",
                     "src_ip", a->ip, "incident", inc);
}

/* ---- output ---------------------------------------------------------------- */

struct out {
    FILE *f;
    int is_file;
    const char *path;
};

static int out_line(struct out *o, json_t *rec)
{
    char *s = json_dumps(rec, JSON_COMPACT);
    if (s == NULL)
        return -1;
    int rc = fputs(s, o->f) < 0 || fputc('\n', o->f) == EOF ? -1 : 0;
    free(s);
    return rc;
}

static int out_flush(struct out *o)
{
    if (fflush(o->f) != 0)
        return -1;
    if (o->is_file && fsync(fileno(o->f)) != 0)
        return -1;
    return 0;
}

/* ---- reading the stream ----------------------------------------------------- */

struct collector {
    struct opts *o;
    redisContext *c;
    struct out out;
    struct table attackers;
    uint64_t written, alerts, incidents, redelivered, malformed, trimmed;
};

static const char *field(const redisReply *fields, const char *name, size_t *len)
{
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, name) == 0) {
            if (len)
                *len = v->len;
            return v->str;
        }
    }
    return NULL;
}

/* The attack category of an EVE alert: metadata attack_category, else the
 * alert category. */
static const char *alert_category(json_t *rec)
{
    json_t *al = json_object_get(rec, "alert");
    json_t *v = json_object_get(json_object_get(al, "metadata"), "attack_category");
    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (json_is_string(v))
        return json_string_value(v);
    v = json_object_get(al, "category");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One stream entry: write its line (and any incident it completes). */
static int handle_entry(struct collector *k, const char *id, const redisReply *fields)
{
    size_t evelen = 0;
    const char *sensor = field(fields, "sensor", NULL);
    const char *type = field(fields, "type", NULL);
    const char *ts = field(fields, "ts", NULL);
    const char *eve = field(fields, "eve", &evelen);
    if (fields == NULL) {       /* pending, but trimmed from the stream */
        k->trimmed++;
        return 0;
    }
    json_error_t jerr;
    json_t *rec = eve ? json_loadb(eve, evelen, 0, &jerr) : NULL;
    if (!json_is_object(rec) || sensor == NULL) {
        if (k->malformed++ < 10)
            vigil_err("collect: entry %s: %s; skipped", id,
                      eve == NULL ? "no eve field" : sensor == NULL ? "no sensor field"
                                                                    : "eve is not a JSON object");
        json_decref(rec);
        return 0;
    }
    json_object_set_new(rec, "sensor", json_string(sensor));
    json_object_set_new(rec, "stream_id", json_string(id));
    if (out_line(&k->out, rec) < 0) {
        json_decref(rec);
        return -1;
    }
    k->written++;
    json_t *src = json_object_get(rec, "src_ip");
    int is_alert = (type && strcmp(type, "alert") == 0) ||
                   (type == NULL && json_is_string(json_object_get(rec, "event_type")) &&
                    strcmp(json_string_value(json_object_get(rec, "event_type")), "alert") == 0);
    int rc = 0;
    if (is_alert) {
        k->alerts++;
        if (json_is_string(src)) {
            int64_t ts_us = 0;
            if (ts)
                ts_us = strtoll(ts, NULL, 10);
            if (ts_us <= 0) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                ts_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
            }
            int64_t window_us = k->o->window_sec * 1000000;
            struct attacker *a = table_get(&k->attackers, json_string_value(src));
            if (a) {
                size_t active = attacker_update(a, sensor, alert_category(rec), ts_us,
                                                window_us);
                if (active >= 2 && active > a->reported) {
                    a->reported = active;
                    json_t *inc = incident_json(a, window_us);
                    if (inc == NULL || out_line(&k->out, inc) < 0)
                        rc = -1;
                    else
                        k->incidents++;
                    json_decref(inc);
                }
            }
        }
    }
    json_decref(rec);
    return rc;
}

static redisReply *command_argv(struct collector *k, int argc, const char **argv)
{
    size_t lens[64];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return redisCommandArgv(k->c, argc, argv, lens);
}

static int ensure_group(struct collector *k)
{
    const char *argv[] = { "XGROUP", "CREATE", k->o->stream, k->o->group, "0", "MKSTREAM" };
    redisReply *r = command_argv(k, 6, argv);
    if (r == NULL) {
        vigil_err("collect: redis %s: %s", k->o->server, k->c->errstr);
        return -1;
    }
    int ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
    if (!ok)
        vigil_err("collect: XGROUP CREATE %s %s: %s", k->o->stream, k->o->group, r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* XACK the ids of one batch. */
static int ack(struct collector *k, char **ids, size_t n)
{
    if (n == 0)
        return 0;
    const char **argv = malloc((n + 3) * sizeof *argv);
    size_t *lens = malloc((n + 3) * sizeof *lens);
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        return -1;
    }
    argv[0] = "XACK";
    argv[1] = k->o->stream;
    argv[2] = k->o->group;
    for (size_t i = 0; i < n; i++)
        argv[i + 3] = ids[i];
    for (size_t i = 0; i < n + 3; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(k->c, (int)(n + 3), argv, lens);
    free(argv);
    free(lens);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (rc < 0)
        vigil_err("collect: XACK: %s", r ? (r->type == REDIS_REPLY_ERROR ? r->str : "?")
                                         : k->c->errstr);
    if (r)
        freeReplyObject(r);
    return rc;
}

/*
 * One XREADGROUP from id ("0": our pending entries, ">": new ones). Writes
 * and acknowledges what it got. Returns the number of entries, or -1 on a
 * Redis error (connection), -2 on an output error. *last gets the last id.
 */
static long read_batch(struct collector *k, const char *from, int block, char *last,
                       size_t lastlen)
{
    char count[24], blockms[24];
    snprintf(count, sizeof count, "%ld", k->o->batch);
    snprintf(blockms, sizeof blockms, "%d", BLOCK_MS);
    const char *argv[12];
    int a = 0;
    argv[a++] = "XREADGROUP";
    argv[a++] = "GROUP";
    argv[a++] = k->o->group;
    argv[a++] = k->o->consumer;
    argv[a++] = "COUNT";
    argv[a++] = count;
    if (block) {
        argv[a++] = "BLOCK";
        argv[a++] = blockms;
    }
    argv[a++] = "STREAMS";
    argv[a++] = k->o->stream;
    argv[a++] = from;
    redisReply *r = command_argv(k, a, argv);
    if (r == NULL) {
        vigil_err("collect: redis %s: %s", k->o->server, k->c->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements < 2 ||
        r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        vigil_err("collect: XREADGROUP: %s",
                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    redisReply *entries = r->element[0]->element[1];
    char **ids = calloc(entries->elements + 1, sizeof *ids);
    size_t nids = 0;
    long rc = 0;
    if (ids == NULL)
        rc = -2;
    for (size_t i = 0; rc == 0 && i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        redisReply *fields = e->element[1]->type == REDIS_REPLY_ARRAY ? e->element[1] : NULL;
        if (handle_entry(k, id, fields) < 0) {
            rc = -2;
            break;
        }
        ids[nids++] = e->element[0]->str;
        snprintf(last, lastlen, "%s", id);
    }
    if (rc == 0 && out_flush(&k->out) < 0)
        rc = -2;
    if (rc == -2)
        vigil_err("collect: %s: %s; nothing of this batch acknowledged",
                  k->out.path, strerror(errno));
    else if (ack(k, ids, nids) < 0)
        rc = -1;
    else
        rc = (long)nids;
    free(ids);
    freeReplyObject(r);
    return rc;
}

/* Deliver our pending entries, then new ones. 0 done (--once), -1 Redis
 * error, -2 output error. */
static int consume(struct collector *k)
{
    char last[64] = "0";
    for (;;) {                  /* entries delivered to us but never acknowledged */
        if (g_collect_stop)
            return 0;
        long n = read_batch(k, last, 0, last, sizeof last);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        k->redelivered += (uint64_t)n;
    }
    for (;;) {
        if (g_collect_stop)
            return 0;
        long n = read_batch(k, ">", k->o->follow, last, sizeof last);
        if (n < 0)
            return (int)n;
        if (n == 0 && !k->o->follow)
            return 0;
    }
}

static void collect_usage(FILE *f)
{
    fprintf(f,
"Usage: vigil collect [options]\n"
"Read the alerts that sensors publish to a Redis stream (output 'redis'),\n"
"write them as merged EVE JSON lines and report attackers seen by several\n"
"sensors as 'incident' events.\n"
"\n"
"  -s, --server T      Redis: HOST:PORT, HOST or unix:PATH (default 127.0.0.1:6379)\n"
"  --stream S          stream to read (default vigil:alerts)\n"
"  --group G           consumer group, created if absent (default vigil-collect)\n"
"  --consumer C        this consumer's name in the group (default: the host name);\n"
"                      restart with the same name to get back unacknowledged entries\n"
"  -o FILE             append the merged EVE JSON to FILE ('-' = stdout, the default)\n"
"  --once              read everything available, then exit (the default)\n"
"  --follow            keep reading new entries until interrupted\n"
"  --window SEC        an attacker reported by 2 or more sensors within SEC\n"
"                      seconds is an incident (default 3600)\n"
"  --batch N           entries per read (default 100)\n"
"  --max-attackers N   attackers tracked for incidents; least recently seen\n"
"                      are forgotten first (default 100000)\n"
"  -q                  no summary on stderr\n"
"  -h, --help          this text\n"
"\n"
"An entry is acknowledged only after its line is written and flushed: after a\n"
"crash some lines may be written twice (same stream_id), none are lost.\n"
"The Redis password, if any, is read from the environment variable\n"
"VIGIL_REDIS_PASSWORD.\n"
"Exit status: 0 success; 1 Redis or output error; 2 bad usage.\n");
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

enum { OPT_GROUP = 256, OPT_CONSUMER, OPT_STREAM, OPT_ONCE, OPT_FOLLOW, OPT_WINDOW,
       OPT_BATCH, OPT_MAXATT };

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "server", required_argument, NULL, 's' },
        { "group", required_argument, NULL, OPT_GROUP },
        { "consumer", required_argument, NULL, OPT_CONSUMER },
        { "stream", required_argument, NULL, OPT_STREAM },
        { "once", no_argument, NULL, OPT_ONCE },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        { "window", required_argument, NULL, OPT_WINDOW },
        { "batch", required_argument, NULL, OPT_BATCH },
        { "max-attackers", required_argument, NULL, OPT_MAXATT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long v;
    int ch;
    optind = 0;                 /* a fresh scan, whoever used getopt before */
    while ((ch = getopt_long(argc, argv, "s:o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': o->server = optarg; break;
        case 'o': o->out_path = optarg; break;
        case 'q': o->quiet = 1; break;
        case OPT_GROUP: o->group = optarg; break;
        case OPT_CONSUMER: o->consumer = optarg; break;
        case OPT_STREAM: o->stream = optarg; break;
        case OPT_ONCE: o->follow = 0; break;
        case OPT_FOLLOW: o->follow = 1; break;
        case OPT_WINDOW:
            if (parse_long(optarg, 1, 315360000L, &v) < 0) {
                vigil_err("collect: --window: expected seconds (1-315360000), got '%s'", optarg);
                return -1;
            }
            o->window_sec = v;
            break;
        case OPT_BATCH:
            if (parse_long(optarg, 1, 10000, &o->batch) < 0) {
                vigil_err("collect: --batch: expected 1-10000, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_MAXATT:
            if (parse_long(optarg, 1, 10000000, &o->max_attackers) < 0) {
                vigil_err("collect: --max-attackers: expected 1-10000000, got '%s'", optarg);
                return -1;
            }
            break;
        case 'h': collect_usage(stdout); return 1;
        default:
            fprintf(stderr, "Try 'vigil collect --help'.\n");
            return -1;
        }
    }
    if (optind < argc) {
        vigil_err("collect: unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!*o->group || !*o->consumer || !*o->stream) {
        vigil_err("collect: --group, --consumer and --stream must not be empty");
        return -1;
    }
    return 0;
}

static int open_output(struct collector *k)
{
    k->out.path = k->o->out_path;
    if (strcmp(k->o->out_path, "-") == 0) {
        k->out.f = stdout;
        return 0;
    }
    k->out.f = fopen(k->o->out_path, "a");
    if (k->out.f == NULL) {
        vigil_err("collect: %s: %s", k->o->out_path, strerror(errno));
        return -1;
    }
    struct stat st;
    k->out.is_file = fstat(fileno(k->out.f), &st) == 0 && S_ISREG(st.st_mode);
    return 0;
}

int vigil_collect_main(int argc, char **argv)
{
    struct opts o = {
        .server = "127.0.0.1:6379", .group = "vigil-collect", .stream = "vigil:alerts",
        .out_path = "-", .window_sec = 3600, .batch = 100, .max_attackers = 100000,
    };
    if (gethostname(o.host, sizeof o.host - 1) < 0 || o.host[0] == '\0')
        snprintf(o.host, sizeof o.host, "vigil-collect");
    o.consumer = o.host;
    int p = parse_opts(&o, argc, argv);
    if (p != 0)
        return p > 0 ? EXIT_OK : EXIT_USAGE;

    struct collector k;
    memset(&k, 0, sizeof k);
    k.o = &o;
    if (table_init(&k.attackers, (size_t)o.max_attackers) < 0) {
        vigil_err("collect: out of memory");
        return EXIT_IO;
    }
    struct sigaction sa, old_int, old_term, old_pipe;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    g_collect_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = SIG_IGN;    /* a closed output is a write error, not death */
    sigaction(SIGPIPE, &sa, &old_pipe);

    int code = EXIT_OK;
    if (open_output(&k) < 0) {
        code = EXIT_IO;
        goto done;
    }
    const char *password = getenv("VIGIL_REDIS_PASSWORD");
    int backoff_ms = 100, complained = 0;
    for (;;) {
        char err[512];
        k.c = vigil_redis_connect(o.server, TIMEOUT_MS, password, err, sizeof err);
        int rc = -1;
        if (k.c == NULL) {
            if (strstr(err, "redis target") == err) {
                vigil_err("collect: %s", err);
                code = EXIT_USAGE;
                break;
            }
            if (!o.follow || !complained)
                vigil_err("collect: %s%s", err, o.follow ? "; retrying" : "");
            complained = 1;
        } else {
            if (complained)
                vigil_err("collect: redis %s: connected", o.server);
            complained = 0;
            backoff_ms = 100;
            rc = ensure_group(&k) < 0 ? -1 : consume(&k);
            redisFree(k.c);
            k.c = NULL;
        }
        if (rc == 0)
            break;
        if (rc == -2 || !o.follow) {
            code = EXIT_IO;
            break;
        }
        /* --follow: Redis went away; back off and start again from our pending. */
        for (int slept = 0; slept < backoff_ms && !g_collect_stop; slept += 50)
            usleep(50000);
        if (g_collect_stop)
            break;
        backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
    }
    if (k.out.f && k.out.f != stdout && fclose(k.out.f) != 0 && code == EXIT_OK) {
        vigil_err("collect: %s: %s", o.out_path, strerror(errno));
        code = EXIT_IO;
    } else if (k.out.f == stdout && fflush(stdout) != 0 && code == EXIT_OK) {
        code = EXIT_IO;
    }
    if (!o.quiet)
        fprintf(stderr,
                "vigil collect: %" PRIu64 " records written (%" PRIu64 " alerts, %" PRIu64
                " re-delivered), %" PRIu64 " incidents, %" PRIu64 " malformed, %" PRIu64
                " trimmed before delivery, %" PRIu64 " attackers forgotten\n",
                k.written, k.alerts, k.redelivered, k.incidents, k.malformed, k.trimmed,
                k.attackers.evicted);
done:
    table_free(&k.attackers);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return code;
}
