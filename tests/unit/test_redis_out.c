/*
 * test_redis_out.c - the Redis Streams sink and `vigil collect`, against a
 * real redis-server each test starts on 127.0.0.1 (a free port, a temp
 * dir) and stops. Skipped when /usr/bin/redis-server is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "config.h"
#include "eve.h"
#include "output.h"
#include "redis_out.h"

#define REDIS_SERVER "/usr/bin/redis-server"

/* ---- a private redis-server ------------------------------------------------ */

struct server {
    pid_t pid;
    int port;
    int persist;                /* appendonly yes, fsync always */
    char dir[256];
    char target[64];
};

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *connect_raw(const struct server *s)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void server_start(struct server *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(REDIS_SERVER, "redis-server", "--port", port, "--bind", "127.0.0.1",
              "--dir", s->dir, "--save", "", "--appendonly", s->persist ? "yes" : "no",
              "--appendfsync", "always", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {     /* up to 5 s */
        redisContext *c = connect_raw(s);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return;
        }
        sleep_ms(50);
    }
    fail_msg("redis-server did not come up on port %d", s->port);
}

static void server_stop(struct server *s, int sig)
{
    if (s->pid > 0) {
        kill(s->pid, sig);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static int server_new(struct server *s, int persist)
{
    if (access(REDIS_SERVER, X_OK) != 0)
        return -1;
    memset(s, 0, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/vigil_redis_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(s->dir));
    s->port = free_port();
    s->persist = persist;
    snprintf(s->target, sizeof s->target, "127.0.0.1:%d", s->port);
    server_start(s);
    return 0;
}

static void server_free(struct server *s)
{
    server_stop(s, SIGTERM);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
}

#define NEED_SERVER(s, persist)                                  \
    do {                                                         \
        if (server_new((s), (persist)) < 0) {                    \
            print_message("no %s: skipped\n", REDIS_SERVER);     \
            skip();                                              \
        }                                                        \
    } while (0)

static long long xlen(const struct server *s, const char *stream)
{
    redisContext *c = connect_raw(s);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "XLEN %s", stream);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* ---- alerts ------------------------------------------------------------------ */

struct sample {
    vigil_alert al;
    struct vigil_alert_event ev;
};

static void sample_init(struct sample *s, const char *src, int64_t ts_us, uint32_t sid)
{
    memset(s, 0, sizeof *s);
    s->al.size = sizeof s->al;
    s->al.signature_id = sid;
    s->al.severity = 2;
    s->al.signature = "Port scan";
    s->al.category = "Attempted Information Leak";
    s->al.attack_category = "port_scan";
    s->al.src.family = 4;
    assert_int_equal(inet_pton(AF_INET, src, s->al.src.bytes), 1);
    s->al.dst.family = 4;
    assert_int_equal(inet_pton(AF_INET, "198.18.0.10", s->al.dst.bytes), 1);
    s->al.ip_proto = 6;
    s->ev.alert = &s->al;
    s->ev.detector = "portscan";
    s->ev.ts_us = ts_us;
    s->ev.flow_id = 0;
}

struct sink {
    struct vigil_config cfg;
    struct vigil_output out;
};

static void sink_open(struct sink *k, const char *target, const char *sensor,
                      const char *const *settings)
{
    char err[512] = "";
    vigil_config_init(&k->cfg);
    for (size_t i = 0; settings && settings[i]; i++)
        assert_int_equal(vigil_config_set_text(&k->cfg, "test", settings[i], err, sizeof err),
                         0);
    struct vigil_output_env env = { &k->cfg, NULL, sensor };
    if (vigil_output_open_redis(target, &env, &k->out, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    assert_string_equal(k->out.name, "redis");
}

static int sink_close(struct sink *k)
{
    int rc = k->out.close(k->out.self);
    vigil_config_free(&k->cfg);
    return rc;
}

static void push_alerts(struct sink *k, const char *src, int n, int64_t ts_us)
{
    for (int i = 0; i < n; i++) {
        struct sample s;
        sample_init(&s, src, ts_us + i, 1000 + (uint32_t)i);
        assert_int_equal(k->out.alert(k->out.self, &s.ev), 0);
    }
}

static void wait_delivered(struct sink *k, uint64_t n)
{
    struct vigil_redis_counters c;
    for (int i = 0; i < 200; i++) {
        vigil_redis_out_counters(k->out.self, &c);
        if (c.delivered >= n)
            return;
        sleep_ms(25);
    }
    fail_msg("only %" PRIu64 " of %" PRIu64 " delivered", c.delivered, n);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_targets(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "host:0", "host:65536", "host:x", ":6379", "unix:", "[::1", "[::1]x",
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(vigil_redis_connect(bad[i], 100, NULL, err, sizeof err));
        assert_non_null(strstr(err, "redis target"));
        struct vigil_output out;
        struct vigil_output_env env = { NULL, NULL, "x" };
        assert_int_equal(vigil_output_open_redis(bad[i], &env, &out, err, sizeof err), -1);
    }
    /* A bad setting names itself. */
    struct vigil_config cfg;
    vigil_config_init(&cfg);
    assert_int_equal(vigil_config_set_text(&cfg, "cli", "redis.queue_max=0", err, sizeof err), 0);
    struct vigil_output_env env = { &cfg, NULL, "x" };
    struct vigil_output out;
    assert_int_equal(vigil_output_open_redis("127.0.0.1:1", &env, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "queue_max"));
    vigil_config_free(&cfg);
}

/* Nothing listening: records wait in the queue, the oldest go when it is
 * full, and close() gives up after drain_sec and says so. */
static void test_queue_without_redis(void **state)
{
    (void)state;
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", free_port());
    static const char *const set[] = { "redis.queue_max=3", "redis.drain_sec=1", NULL };
    struct sink k;
    sink_open(&k, target, "A", set);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    push_alerts(&k, "198.18.7.7", 5, 1700000000000000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Pushing never waits for the network. */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 200);
    sleep_ms(150);
    struct vigil_redis_counters c;
    vigil_redis_out_counters(k.out.self, &c);
    assert_int_equal(c.queued, 5);
    assert_int_equal(c.delivered, 0);
    assert_int_equal(c.connected, 0);
    assert_int_equal(c.dropped + c.pending, 5);
    assert_true(c.dropped >= 2);
    assert_true(c.pending <= 3);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sink_close(&k), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 4000);
}

static const redisReply *entry_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1];
    fail_msg("no field %s", name);
    return NULL;
}

static void test_record_format(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 0);
    static const char *const set[] = { "redis.stream=t:alerts", "redis.stats_stream=t:stats",
                                       NULL };
    struct sink k;
    sink_open(&k, srv.target, "sensor-A", set);
    push_alerts(&k, "198.18.7.7", 2, 1700000000123456);
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    st.packets = 412;
    assert_int_equal(k.out.stats(k.out.self, 1700000010000000, &st, NULL, 0), 0);
    assert_int_equal(sink_close(&k), 0);

    redisContext *c = connect_raw(&srv);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "XRANGE t:alerts - +");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    for (size_t i = 0; i < 2; i++) {
        const redisReply *f = r->element[i]->element[1];
        assert_string_equal(entry_field(f, "sensor")->str, "sensor-A");
        assert_string_equal(entry_field(f, "type")->str, "alert");
        char want[32];
        snprintf(want, sizeof want, "%" PRId64, (int64_t)(1700000000123456 + (int64_t)i));
        assert_string_equal(entry_field(f, "ts")->str, want);
        snprintf(want, sizeof want, "%zu", i + 1);
        assert_string_equal(entry_field(f, "seq")->str, want);
        json_error_t jerr;
        json_t *eve = json_loads(entry_field(f, "eve")->str, JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(eve);
        assert_string_equal(json_string_value(json_object_get(eve, "event_type")), "alert");
        assert_string_equal(json_string_value(json_object_get(eve, "src_ip")), "198.18.7.7");
        assert_string_equal(json_string_value(json_object_get(eve, "timestamp")),
                            i == 0 ? "2023-11-14T22:13:20.123456+0000"
                                   : "2023-11-14T22:13:20.123457+0000");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(eve, "alert"),
                                                            "signature_id")), 1000 + i);
        json_decref(eve);
    }
    freeReplyObject(r);
    r = redisCommand(c, "XRANGE t:stats - +");
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    const redisReply *f = r->element[0]->element[1];
    assert_string_equal(entry_field(f, "type")->str, "stats");
    assert_string_equal(entry_field(f, "seq")->str, "3");
    json_t *eve = json_loads(entry_field(f, "eve")->str, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(eve, "event_type")), "stats");
    json_decref(eve);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(xlen(&srv, "vigil:alerts"), 0);   /* the default stream is unused */
    server_free(&srv);
}

static void test_maxlen(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 0);
    static const char *const set[] = { "redis.maxlen=10", NULL };
    struct sink k;
    sink_open(&k, srv.target, "A", set);
    push_alerts(&k, "198.18.7.7", 1000, 1700000000000000);
    assert_int_equal(sink_close(&k), 0);
    long long n = xlen(&srv, "vigil:alerts");
    /* MAXLEN ~ trims whole macro nodes (100 entries by default). */
    assert_true(n >= 10 && n < 1000);
    server_free(&srv);
}

/* Redis killed and restarted while the sensor runs: nothing lost. */
static void test_restart_loses_nothing(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 1);
    static const char *const set[] = { "redis.drain_sec=10", NULL };
    struct sink k;
    sink_open(&k, srv.target, "A", set);
    push_alerts(&k, "198.18.7.7", 50, 1700000000000000);
    wait_delivered(&k, 50);
    server_stop(&srv, SIGKILL);
    push_alerts(&k, "198.18.7.7", 50, 1700000001000000);
    sleep_ms(300);
    struct vigil_redis_counters c;
    vigil_redis_out_counters(k.out.self, &c);
    assert_int_equal(c.delivered, 50);
    assert_int_equal(c.pending, 50);
    assert_int_equal(c.connected, 0);
    server_start(&srv);
    wait_delivered(&k, 100);
    vigil_redis_out_counters(k.out.self, &c);
    assert_true(c.reconnects >= 2);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(sink_close(&k), 0);

    /* Every record exactly once, in order. */
    redisContext *rc = connect_raw(&srv);
    redisReply *r = redisCommand(rc, "XRANGE vigil:alerts - +");
    assert_int_equal(r->elements, 100);
    for (size_t i = 0; i < 100; i++) {
        char want[16];
        snprintf(want, sizeof want, "%zu", i + 1);
        assert_string_equal(entry_field(r->element[i]->element[1], "seq")->str, want);
    }
    freeReplyObject(r);
    redisFree(rc);
    server_free(&srv);
}

/* close() waits for Redis to come back within drain_sec. */
static void test_drain_waits(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 0);
    server_stop(&srv, SIGTERM);
    static const char *const set[] = { "redis.drain_sec=10", NULL };
    struct sink k;
    sink_open(&k, srv.target, "A", set);
    push_alerts(&k, "198.18.7.9", 20, 1700000000000000);
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {          /* bring Redis up while the parent is in close() */
        sleep_ms(1000);
        server_start(&srv);
        pause();
        _exit(0);
    }
    assert_int_equal(sink_close(&k), 0);
    assert_int_equal(xlen(&srv, "vigil:alerts"), 20);
    kill(helper, SIGTERM);
    waitpid(helper, NULL, 0);
    /* The redis-server is the helper's child: stop it by its port. */
    redisContext *c = connect_raw(&srv);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    sleep_ms(100);
    server_free(&srv);
}

/* ---- the collector -------------------------------------------------------------- */

static json_t *read_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    json_t *all = json_array();
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        assert_non_null(strchr(line, '\n'));
        json_t *rec = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(rec);
        json_array_append_new(all, rec);
    }
    fclose(f);
    return all;
}

static int run_collect(const struct server *srv, const char *out, const char *window)
{
    char *argv[] = { "collect", "-s", (char *)srv->target, "-o", (char *)out, "--once", "-q",
                     "--window", (char *)window, NULL };
    return vigil_collect_main(9, argv);
}

static size_t count_type(json_t *all, const char *type)
{
    size_t n = 0, i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        if (strcmp(json_string_value(json_object_get(rec, "event_type")), type) == 0)
            n++;
    }
    return n;
}

static void test_collect_merge_and_incident(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 0);
    const int64_t t0 = 1700000000000000;
    struct sink a, b;
    sink_open(&a, srv.target, "A", NULL);
    push_alerts(&a, "198.18.7.7", 3, t0);               /* seen by A and B */
    push_alerts(&a, "198.18.7.8", 2, t0);               /* A only */
    push_alerts(&a, "198.18.7.20", 1, t0 + 7200000000); /* A, and B 2 h earlier */
    assert_int_equal(sink_close(&a), 0);
    sink_open(&b, srv.target, "B", NULL);
    push_alerts(&b, "198.18.7.7", 1, t0 + 60000000);
    push_alerts(&b, "198.18.7.20", 1, t0);
    assert_int_equal(sink_close(&b), 0);

    char out[512];
    snprintf(out, sizeof out, "%s/merged.json", srv.dir);
    assert_int_equal(run_collect(&srv, out, "3600"), 0);
    json_t *all = read_lines(out);
    assert_int_equal(count_type(all, "alert"), 8);
    assert_int_equal(count_type(all, "incident"), 1);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        const char *type = json_string_value(json_object_get(rec, "event_type"));
        if (strcmp(type, "alert") == 0) {
            assert_true(json_is_string(json_object_get(rec, "sensor")));
            assert_true(json_is_string(json_object_get(rec, "stream_id")));
            continue;
        }
        assert_string_equal(json_string_value(json_object_get(rec, "src_ip")), "198.18.7.7");
        json_t *inc = json_object_get(rec, "incident");
        assert_int_equal(json_integer_value(json_object_get(inc, "alert_count")), 4);
        json_t *sensors = json_object_get(inc, "sensors");
        assert_int_equal(json_array_size(sensors), 2);
        assert_string_equal(json_string_value(json_array_get(sensors, 0)), "A");
        assert_string_equal(json_string_value(json_array_get(sensors, 1)), "B");
        assert_string_equal(json_string_value(json_array_get(json_object_get(inc, "categories"),
                                                             0)), "port_scan");
        assert_string_equal(json_string_value(json_object_get(inc, "first_seen")),
                            "2023-11-14T22:13:20.000000+0000");
        assert_string_equal(json_string_value(json_object_get(inc, "last_seen")),
                            "2023-11-14T22:14:20.000000+0000");
    }
    json_decref(all);

    /* Everything was acknowledged: a second run adds nothing. */
    assert_int_equal(run_collect(&srv, out, "3600"), 0);
    all = read_lines(out);
    assert_int_equal(json_array_size(all), 9);
    json_decref(all);

    /* A wider window makes 198.18.7.20 an incident too (for a new group). */
    char *argv[] = { "collect", "-s", srv.target, "-o", out, "--group", "g2", "-q",
                     "--window", "86400", NULL };
    assert_int_equal(vigil_collect_main(10, argv), 0);
    all = read_lines(out);
    assert_int_equal(count_type(all, "incident"), 1 + 2);
    json_decref(all);
    server_free(&srv);
}

/* An output that fails is never acknowledged: the next run delivers it. */
static void test_collect_write_error_keeps_pending(void **state)
{
    (void)state;
    struct server srv;
    NEED_SERVER(&srv, 0);
    struct sink a;
    sink_open(&a, srv.target, "A", NULL);
    push_alerts(&a, "198.18.7.7", 5, 1700000000000000);
    assert_int_equal(sink_close(&a), 0);
    assert_int_equal(run_collect(&srv, "/dev/full", "3600"), 1);

    redisContext *c = connect_raw(&srv);
    redisReply *r = redisCommand(c, "XPENDING vigil:alerts vigil-collect");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->integer, 5);
    freeReplyObject(r);
    redisFree(c);

    char out[512];
    snprintf(out, sizeof out, "%s/merged.json", srv.dir);
    assert_int_equal(run_collect(&srv, out, "3600"), 0);
    json_t *all = read_lines(out);
    assert_int_equal(count_type(all, "alert"), 5);
    json_decref(all);
    c = connect_raw(&srv);
    r = redisCommand(c, "XPENDING vigil:alerts vigil-collect");
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    server_free(&srv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_queue_without_redis),
        cmocka_unit_test(test_record_format),
        cmocka_unit_test(test_maxlen),
        cmocka_unit_test(test_restart_loses_nothing),
        cmocka_unit_test(test_drain_waits),
        cmocka_unit_test(test_collect_merge_and_incident),
        cmocka_unit_test(test_collect_write_error_keeps_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
