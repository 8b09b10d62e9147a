/*
 * test_bruteforce.c - the bruteforce plugin driven through its ABI by a
 * fake host that replays reassembled-stream events: configuration from a
 * table, alerts collected in an array, a small flow map, ticks once per
 * second of packet time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"

/* ---- a fake host that drives on_stream/on_tick --------------------------- */

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 64
#define MAX_CONF 16
#define FLOW_SLOTS 4096

struct seen_alert {
    uint32_t sid;
    char technique[40];
    vigil_addr src, dst;
    char meta[768];             /* "key=value;" ... */
};

struct conf_entry {
    const char *key;
    int64_t value;
};

struct flow_entry {
    int used;
    uint32_t client, server;
    uint16_t cport, sport;
    void *state;
};

struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;
    struct conf_entry conf[MAX_CONF];
    size_t nconf;
    struct seen_alert alerts[MAX_ALERTS];
    size_t nalerts, dropped_alerts;
    char last_log[1024];
    struct flow_entry *flows;
    struct flow_entry *cur_flow;
    int64_t now_us, last_tick_us;
};

static void fake_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_log, sizeof ctx->last_log, fmt, ap);
    va_end(ap);
}

static int fake_emit(vigil_ctx *ctx, const vigil_alert *a)
{
    if (a->size != sizeof *a || a->signature == NULL || a->attack_category == NULL)
        return VIGIL_EINVAL;
    if (ctx->nalerts == MAX_ALERTS) {
        ctx->dropped_alerts++;
        return VIGIL_OK;
    }
    struct seen_alert *s = &ctx->alerts[ctx->nalerts++];
    memset(s, 0, sizeof *s);
    s->sid = a->signature_id;
    snprintf(s->technique, sizeof s->technique, "%s", a->attack_technique);
    s->src = a->src;
    s->dst = a->dst;
    size_t used = 0;
    for (size_t i = 0; i < a->meta_count && used < sizeof s->meta; i++) {
        int w = snprintf(s->meta + used, sizeof s->meta - used, "%s=%s;", a->meta[i].key,
                         a->meta[i].value);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return VIGIL_OK;
}

static int fake_config_str(vigil_ctx *ctx, const char *key, const char **out)
{
    (void)ctx;
    (void)key;
    (void)out;
    return VIGIL_ENOENT;
}

static int fake_config_int(vigil_ctx *ctx, const char *key, int64_t def, int64_t min,
                           int64_t max, int64_t *out)
{
    *out = def;
    for (size_t i = 0; i < ctx->nconf; i++) {
        if (strcmp(ctx->conf[i].key, key) != 0)
            continue;
        if (ctx->conf[i].value < min || ctx->conf[i].value > max)
            return VIGIL_EINVAL;
        *out = ctx->conf[i].value;
    }
    return VIGIL_OK;
}

static void *fake_flow_state(vigil_ctx *ctx)
{
    return ctx->cur_flow ? ctx->cur_flow->state : NULL;
}

static int fake_set_flow_state(vigil_ctx *ctx, void *state)
{
    if (ctx->cur_flow == NULL)
        return VIGIL_ENOENT;
    void *old = ctx->cur_flow->state;
    if (old && old != state)
        ctx->desc->flow_free(ctx->state, old);
    ctx->cur_flow->state = state;
    return VIGIL_OK;
}

static int64_t fake_now(vigil_ctx *ctx)
{
    return ctx->now_us;
}

static const vigil_host_api fake_api = {
    .size = sizeof(vigil_host_api),
    .abi_major = VIGIL_ABI_MAJOR,
    .abi_minor = VIGIL_ABI_MINOR,
    .log = fake_log,
    .emit_alert = fake_emit,
    .config_str = fake_config_str,
    .config_int = fake_config_int,
    .flow_state = fake_flow_state,
    .set_flow_state = fake_set_flow_state,
    .now_us = fake_now,
};

static void *plugin_handle;
static const vigil_plugin *plugin_desc;

static int load_named(const char *name)
{
    const char *build = getenv("VIGIL_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s.so", build && *build ? build : "build", name);
    plugin_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin_handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    vigil_plugin_entry_fn entry;
    void *sym = dlsym(plugin_handle, VIGIL_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    plugin_desc = entry ? entry() : NULL;
    return plugin_desc ? 0 : -1;
}

static int unload_plugin(void **st)
{
    (void)st;
    if (plugin_handle)
        dlclose(plugin_handle);
    return 0;
}

static vigil_ctx *host_new(const struct conf_entry *conf, size_t nconf)
{
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->flows = calloc(FLOW_SLOTS, sizeof *ctx->flows);
    assert_non_null(ctx->flows);
    ctx->desc = plugin_desc;
    assert_true(nconf <= MAX_CONF);
    for (size_t i = 0; i < nconf; i++)
        ctx->conf[i] = conf[i];
    ctx->nconf = nconf;
    assert_int_equal(plugin_desc->init(ctx, &fake_api, &ctx->state), VIGIL_OK);
    return ctx;
}

static void release_flow(vigil_ctx *ctx, struct flow_entry *f)
{
    if (f->used && f->state)
        ctx->desc->flow_free(ctx->state, f->state);
    memset(f, 0, sizeof *f);
}

static void host_finish(vigil_ctx *ctx)
{
    ctx->cur_flow = NULL;
    plugin_desc->on_finish(ctx->state, ctx);
    for (size_t i = 0; i < FLOW_SLOTS; i++)
        release_flow(ctx, &ctx->flows[i]);
    plugin_desc->fini(ctx->state);
    ctx->state = NULL;
}

static void host_free(vigil_ctx *ctx)
{
    free(ctx->flows);
    free(ctx);
}

static vigil_addr v4(uint32_t a)
{
    vigil_addr r;
    memset(&r, 0, sizeof r);
    r.family = 4;
    r.bytes[0] = (uint8_t)(a >> 24);
    r.bytes[1] = (uint8_t)(a >> 16);
    r.bytes[2] = (uint8_t)(a >> 8);
    r.bytes[3] = (uint8_t)a;
    return r;
}

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* A TCP connection as the reassembler reports it. */
struct tconn {
    uint32_t client, server;
    uint16_t cport, sport;
    uint64_t sent[2];           /* bytes so far per direction */
};

static void advance(vigil_ctx *ctx, int64_t ts)
{
    if (ctx->last_tick_us == 0)
        ctx->last_tick_us = ts - ts % US;
    while (ts >= ctx->last_tick_us + US) {
        ctx->last_tick_us += US;
        ctx->now_us = ctx->last_tick_us;
        ctx->cur_flow = NULL;
        plugin_desc->on_tick(ctx->state, ctx, ctx->last_tick_us);
    }
    ctx->now_us = ts;
}

static struct flow_entry *flow_of(vigil_ctx *ctx, const struct tconn *c)
{
    uint32_t h = (c->client * 2654435761u) ^ (c->server * 40503u) ^ c->cport ^
                 ((uint32_t)c->sport << 16);
    struct flow_entry *f = &ctx->flows[h % FLOW_SLOTS];
    if (f->used && (f->client != c->client || f->server != c->server || f->cport != c->cport ||
                    f->sport != c->sport))
        release_flow(ctx, f);
    if (!f->used) {
        f->used = 1;
        f->client = c->client;
        f->server = c->server;
        f->cport = c->cport;
        f->sport = c->sport;
    }
    return f;
}

static void stream_event(vigil_ctx *ctx, struct tconn *c, int64_t ts, uint32_t event,
                         uint32_t dir, const char *data, size_t len)
{
    advance(ctx, ts);
    vigil_stream st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.event = event;
    st.ts_us = ts;
    st.client = v4(c->client);
    st.server = v4(c->server);
    st.client_port = c->cport;
    st.server_port = c->sport;
    if (event == VIGIL_STREAM_DATA) {
        st.dir = dir;
        st.offset = c->sent[dir];
        st.data = (const uint8_t *)data;
        st.len = (uint32_t)len;
        c->sent[dir] += len;
    }
    st.bytes_to_server = c->sent[0];
    st.bytes_to_client = c->sent[1];
    ctx->cur_flow = flow_of(ctx, c);
    plugin_desc->on_stream(ctx->state, ctx, &st);
    ctx->cur_flow = NULL;
}

static void open_conn(vigil_ctx *ctx, struct tconn *c, int64_t ts)
{
    c->sent[0] = c->sent[1] = 0;
    stream_event(ctx, c, ts, VIGIL_STREAM_ESTABLISHED, 0, NULL, 0);
}

static void send_str(vigil_ctx *ctx, struct tconn *c, int64_t ts, uint32_t dir, const char *s)
{
    stream_event(ctx, c, ts, VIGIL_STREAM_DATA, dir, s, strlen(s));
}

static void close_conn(vigil_ctx *ctx, struct tconn *c, int64_t ts)
{
    stream_event(ctx, c, ts, VIGIL_STREAM_CLOSED, 0, NULL, 0);
}

static void tick_to(vigil_ctx *ctx, int64_t ts)
{
    ctx->cur_flow = NULL;
    advance(ctx, ts);
}

static const char *meta_value(const struct seen_alert *a, const char *key, char *buf, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = a->meta;
    while ((p = strstr(p, pat)) != NULL) {
        if (p == a->meta || p[-1] == ';') {
            p += strlen(pat);
            size_t n = strcspn(p, ";");
            if (n >= len)
                n = len - 1;
            memcpy(buf, p, n);
            buf[n] = '\0';
            return buf;
        }
        p++;
    }
    return NULL;
}

/* ---- scenarios ------------------------------------------------------------ */

#define ATT IP(198, 18, 0, 10)
#define SRV IP(198, 18, 0, 20)

static int load_plugin(void **st)
{
    (void)st;
    return load_named("bruteforce");
}

/* One FTP connection with `tries` failed USER/PASS pairs. */
static void ftp_session(vigil_ctx *ctx, uint16_t cport, int64_t t, int tries, const char *user)
{
    struct tconn c = { ATT, SRV, cport, 21, { 0, 0 } };
    char line[64];
    open_conn(ctx, &c, t);
    send_str(ctx, &c, t + 1000, VIGIL_DIR_TO_CLIENT, "220 (vsFTPd 3.0.3)\r\n");
    for (int i = 0; i < tries; i++) {
        int64_t ti = t + 10000 + i * 100000;
        snprintf(line, sizeof line, "USER %s\r\n", user);
        send_str(ctx, &c, ti, VIGIL_DIR_TO_SERVER, line);
        send_str(ctx, &c, ti + 1000, VIGIL_DIR_TO_CLIENT, "331 Please specify the password.\r\n");
        /* the command arrives split over two segments */
        send_str(ctx, &c, ti + 2000, VIGIL_DIR_TO_SERVER, "PA");
        send_str(ctx, &c, ti + 2500, VIGIL_DIR_TO_SERVER, "SS secret\r\n");
        send_str(ctx, &c, ti + 50000, VIGIL_DIR_TO_CLIENT, "530 Login incorrect.\r\n");
    }
    close_conn(ctx, &c, t + 10000 + tries * 100000);
}

static void test_ftp_guessing_alerts_once_with_counts(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 8; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), T0 + i * 400000, 2, "admin");
    tick_to(ctx, T0 + 30 * US);
    assert_int_equal(ctx->nalerts, 1);
    const struct seen_alert *a = &ctx->alerts[0];
    char buf[64];
    assert_int_equal(a->sid, 9300001);
    assert_string_equal(a->technique, "ftp_password_guessing");
    assert_memory_equal(a->src.bytes, v4(ATT).bytes, 4);
    assert_memory_equal(a->dst.bytes, v4(SRV).bytes, 4);
    assert_string_equal(meta_value(a, "failed_logins", buf, sizeof buf), "16");
    assert_string_equal(meta_value(a, "connections", buf, sizeof buf), "8");
    assert_string_equal(meta_value(a, "usernames", buf, sizeof buf), "admin");
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    host_free(ctx);
}

static void test_single_failure_is_silent(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    ftp_session(ctx, 40000, T0, 1, "hello");
    /* a few more, but below the threshold, spread beyond the window */
    for (int i = 1; i < 6; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), T0 + i * 200 * US, 1, "alice");
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_http_basic_401(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 10; i++) {
        struct tconn c = { ATT, SRV, (uint16_t)(50000 + i), 80, { 0, 0 } };
        int64_t t = T0 + i * 200000;
        open_conn(ctx, &c, t);
        send_str(ctx, &c, t + 100, VIGIL_DIR_TO_SERVER,
                 "GET /admin/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46cGFzcw==\r\n");
        send_str(ctx, &c, t + 200, VIGIL_DIR_TO_SERVER, "\r\n");
        send_str(ctx, &c, t + 900, VIGIL_DIR_TO_CLIENT,
                 "HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nno!\r\n");
        close_conn(ctx, &c, t + 1000);
    }
    /* a benign client: a 401 without credentials, then 200 with them */
    struct tconn b = { IP(198, 18, 0, 11), SRV, 50100, 80, { 0, 0 } };
    open_conn(ctx, &b, T0 + 3 * US);
    send_str(ctx, &b, T0 + 3 * US, VIGIL_DIR_TO_SERVER, "GET /admin/ HTTP/1.1\r\nHost: x\r\n\r\n");
    send_str(ctx, &b, T0 + 3 * US + 10, VIGIL_DIR_TO_CLIENT,
             "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    char buf[64];
    assert_int_equal(ctx->alerts[0].sid, 9300002);
    assert_string_equal(meta_value(&ctx->alerts[0], "failed_logins", buf, sizeof buf), "10");
    assert_string_equal(meta_value(&ctx->alerts[0], "usernames", buf, sizeof buf), "admin");
    host_free(ctx);
}

static void test_smtp_pop3_imap_telnet(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 7; i++) {
        int64_t t = T0 + i * 300000;
        struct tconn s = { ATT, SRV, (uint16_t)(41000 + i), 25, { 0, 0 } };
        open_conn(ctx, &s, t);
        send_str(ctx, &s, t + 1, VIGIL_DIR_TO_CLIENT, "220 mx ESMTP\r\n");
        send_str(ctx, &s, t + 2, VIGIL_DIR_TO_SERVER, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
        send_str(ctx, &s, t + 3, VIGIL_DIR_TO_CLIENT, "535 5.7.8 Authentication failed\r\n");
        close_conn(ctx, &s, t + 4);
        struct tconn p = { ATT, SRV, (uint16_t)(42000 + i), 110, { 0, 0 } };
        open_conn(ctx, &p, t);
        send_str(ctx, &p, t + 1, VIGIL_DIR_TO_CLIENT, "+OK ready\r\n");
        send_str(ctx, &p, t + 2, VIGIL_DIR_TO_SERVER, "USER carol\r\n");
        send_str(ctx, &p, t + 3, VIGIL_DIR_TO_CLIENT, "+OK\r\n");
        send_str(ctx, &p, t + 4, VIGIL_DIR_TO_SERVER, "PASS x\r\n");
        send_str(ctx, &p, t + 5, VIGIL_DIR_TO_CLIENT, "-ERR auth failed\r\n");
        close_conn(ctx, &p, t + 6);
        struct tconn m = { ATT, SRV, (uint16_t)(43000 + i), 143, { 0, 0 } };
        open_conn(ctx, &m, t);
        send_str(ctx, &m, t + 1, VIGIL_DIR_TO_CLIENT, "* OK IMAP ready\r\n");
        send_str(ctx, &m, t + 2, VIGIL_DIR_TO_SERVER, "a1 LOGIN \"dave\" pw\r\n");
        send_str(ctx, &m, t + 3, VIGIL_DIR_TO_CLIENT, "* BYE\r\na1 NO [AUTHENTICATIONFAILED]\r\n");
        close_conn(ctx, &m, t + 4);
        struct tconn n = { ATT, SRV, (uint16_t)(44000 + i), 23, { 0, 0 } };
        open_conn(ctx, &n, t);
        send_str(ctx, &n, t + 1, VIGIL_DIR_TO_CLIENT, "\xff\xfd\x18login: ");
        send_str(ctx, &n, t + 2, VIGIL_DIR_TO_SERVER, "root\r\n");
        send_str(ctx, &n, t + 3, VIGIL_DIR_TO_CLIENT, "Password: \r\n\r\nLogin incorrect\r\n");
        close_conn(ctx, &n, t + 4);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 4);
    uint32_t want[4] = { 9300004, 9300005, 9300006, 9300003 };
    char buf[64];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ctx->alerts[i].sid, want[i]);
        assert_string_equal(meta_value(&ctx->alerts[i], "failed_logins", buf, sizeof buf), "7");
    }
    assert_string_equal(meta_value(&ctx->alerts[0], "usernames", buf, sizeof buf), "bob");
    assert_string_equal(meta_value(&ctx->alerts[1], "usernames", buf, sizeof buf), "carol");
    assert_string_equal(meta_value(&ctx->alerts[2], "usernames", buf, sizeof buf), "dave");
    host_free(ctx);
}

static char big[4096];

static void ssh_session(vigil_ctx *ctx, uint32_t client, uint16_t cport, int64_t t, size_t kex,
                        int64_t dur)
{
    struct tconn c = { client, SRV, cport, 22, { 0, 0 } };
    open_conn(ctx, &c, t);
    send_str(ctx, &c, t + 1, VIGIL_DIR_TO_CLIENT, "SSH-2.0-OpenSSH_9.2\r\n");
    send_str(ctx, &c, t + 2, VIGIL_DIR_TO_SERVER, "SSH-2.0-libssh_0.11\r\n");
    stream_event(ctx, &c, t + 3, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, big, kex);
    stream_event(ctx, &c, t + 4, VIGIL_STREAM_DATA, VIGIL_DIR_TO_CLIENT, big, kex + 300);
    close_conn(ctx, &c, t + dur);
}

static void test_ssh_short_sessions(void **st)
{
    (void)st;
    memset(big, 'x', sizeof big);
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 9; i++)
        ssh_session(ctx, ATT, (uint16_t)(45000 + i), T0 + i * 100000, 1100 + (size_t)i * 20,
                    200000);
    /* an admin: two sessions, one long */
    ssh_session(ctx, IP(198, 18, 0, 12), 46000, T0, 1200, 200000);
    ssh_session(ctx, IP(198, 18, 0, 12), 46001, T0 + US, 3000, 120 * US);
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    char buf[64];
    assert_int_equal(ctx->alerts[0].sid, 9300007);
    assert_memory_equal(ctx->alerts[0].src.bytes, v4(ATT).bytes, 4);
    assert_string_equal(meta_value(&ctx->alerts[0], "sessions", buf, sizeof buf), "9");
    host_free(ctx);
}

static void test_scan_connections_do_not_count(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    /* connect() scans and banner grabs: no key exchange */
    for (int i = 0; i < 20; i++) {
        struct tconn c = { ATT, SRV, (uint16_t)(47000 + i), 22, { 0, 0 } };
        open_conn(ctx, &c, T0 + i * 1000);
        send_str(ctx, &c, T0 + i * 1000 + 1, VIGIL_DIR_TO_CLIENT, "SSH-2.0-OpenSSH_9.2\r\n");
        close_conn(ctx, &c, T0 + i * 1000 + 2);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_tracker_cap_bounds_memory(void **st)
{
    (void)st;
    struct conf_entry conf[] = { { "max_trackers", 64 }, { "max_conns", 32 } };
    vigil_ctx *ctx = host_new(conf, 2);
    /* 100000 sources, one failure each: a spoofed-looking crowd */
    for (uint32_t i = 0; i < 100000; i++) {
        struct tconn c = { IP(198, 18, 0, 0) + 256 + i, SRV, 40000, 21, { 0, 0 } };
        int64_t t = T0 + (int64_t)i * 100;
        open_conn(ctx, &c, t);
        send_str(ctx, &c, t + 1, VIGIL_DIR_TO_SERVER, "USER a\r\nPASS b\r\n");
        send_str(ctx, &c, t + 2, VIGIL_DIR_TO_CLIENT, "530 no\r\n");
        if (i % 2)
            close_conn(ctx, &c, t + 3);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "peak_trackers=64 "));
    assert_non_null(strstr(ctx->last_log, "peak_conns=32 "));
    host_free(ctx);
}

static void test_hostile_bytes(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    static char junk[3000];
    uint32_t x = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (char)(x >> 16);
            if ((x >> 8) % 13 == 0)
                junk[i] = '\n';
        }
        uint16_t ports[] = { 21, 25, 80, 110, 143, 23 };
        struct tconn c = { ATT, SRV, (uint16_t)(48000 + round), ports[round % 6], { 0, 0 } };
        open_conn(ctx, &c, T0 + round * 1000);
        send_str(ctx, &c, T0 + round * 1000, VIGIL_DIR_TO_SERVER, "GET / HTTP/1.1\r\nAuthorization: Basic ====\r\n");
        stream_event(ctx, &c, T0 + round * 1000 + 1, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, junk, sizeof junk);
        stream_event(ctx, &c, T0 + round * 1000 + 2, VIGIL_STREAM_DATA, VIGIL_DIR_TO_CLIENT, junk, sizeof junk);
    }
    host_finish(ctx);
    host_free(ctx);
}

static void run_ftp(struct seen_alert *out, size_t *n)
{
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 12; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), T0 + i * 300000, 1, i % 2 ? "root" : "admin");
    host_finish(ctx);
    *n = ctx->nalerts;
    memcpy(out, ctx->alerts, sizeof ctx->alerts);
    host_free(ctx);
}

static void test_deterministic(void **st)
{
    (void)st;
    static struct seen_alert a[MAX_ALERTS], b[MAX_ALERTS];
    size_t na, nb;
    run_ftp(a, &na);
    run_ftp(b, &nb);
    assert_int_equal(na, 1);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, sizeof a[0] * na);
    char buf[64];
    assert_string_equal(meta_value(&a[0], "usernames", buf, sizeof buf), "admin,root");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ftp_guessing_alerts_once_with_counts),
        cmocka_unit_test(test_single_failure_is_silent),
        cmocka_unit_test(test_http_basic_401),
        cmocka_unit_test(test_smtp_pop3_imap_telnet),
        cmocka_unit_test(test_ssh_short_sessions),
        cmocka_unit_test(test_scan_connections_do_not_count),
        cmocka_unit_test(test_tracker_cap_bounds_memory),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
