/*
 * test_portscan.c - the portscan plugin driven through its ABI by a fake
 * host: configuration from a table, alerts collected in an array, a small
 * bidirectional flow map, ticks once per second of packet time.
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
#include <sys/resource.h>

#include "vigil/plugin.h"

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 64
#define MAX_CONF 16
#define FLOW_SLOTS 4096

/* ---- the fake host ---------------------------------------------------------- */

struct seen_alert {
    uint32_t sid;
    char signature[192], category[32], technique[32], mitre[16];
    vigil_addr src, dst;
    uint16_t dport;
    int64_t ts_us;
    char meta[768];             /* "key=value;" ... */
};

struct flow_entry {
    int used;
    vigil_addr lo, hi;
    uint16_t lo_port, hi_port;
    uint8_t proto;
    void *state;
};

struct conf_entry {
    const char *key;
    int64_t value;
};

struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;
    struct conf_entry conf[MAX_CONF];
    size_t nconf;
    struct seen_alert alerts[MAX_ALERTS];
    size_t nalerts;
    size_t dropped_alerts;
    char last_log[1024];
    struct flow_entry *flows;   /* FLOW_SLOTS, direct-mapped */
    struct flow_entry *cur_flow; /* of the packet being delivered */
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

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static int fake_emit(vigil_ctx *ctx, const vigil_alert *a)
{
    if (a->size != sizeof *a || a->signature == NULL)
        return VIGIL_EINVAL;
    if (ctx->nalerts == MAX_ALERTS) {
        ctx->dropped_alerts++;
        return VIGIL_OK;
    }
    struct seen_alert *s = &ctx->alerts[ctx->nalerts++];
    memset(s, 0, sizeof *s);
    s->sid = a->signature_id;
    copy_str(s->signature, sizeof s->signature, a->signature);
    copy_str(s->category, sizeof s->category, a->attack_category);
    copy_str(s->technique, sizeof s->technique, a->attack_technique);
    copy_str(s->mitre, sizeof s->mitre, a->mitre_attack);
    s->src = a->src;
    s->dst = a->dst;
    s->dport = a->dport;
    s->ts_us = a->ts_us;
    size_t used = 0;
    for (size_t i = 0; i < a->meta_count && used < sizeof s->meta; i++) {
        int w = snprintf(s->meta + used, sizeof s->meta - used, "%s=%s;",
                         a->meta[i].key, a->meta[i].value);
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

static void release_flow(vigil_ctx *ctx, struct flow_entry *f)
{
    if (f->used && f->state && ctx->desc->flow_free)
        ctx->desc->flow_free(ctx->state, f->state);
    memset(f, 0, sizeof *f);
}

static int fake_set_flow_state(vigil_ctx *ctx, void *state)
{
    if (ctx->cur_flow == NULL)
        return VIGIL_ENOENT;
    void *old = ctx->cur_flow->state;
    if (old && old != state && ctx->desc->flow_free)
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

/* ---- flows: canonical 5-tuple, one entry per hash slot ------------------------ */

static int endpoint_less(const vigil_addr *a, uint16_t ap, const vigil_addr *b, uint16_t bp)
{
    int c = memcmp(a->bytes, b->bytes, 16);
    return c < 0 || (c == 0 && ap < bp);
}

static struct flow_entry *flow_for(vigil_ctx *ctx, const vigil_packet *p)
{
    if (p->l3 != VIGIL_L3_IPV4 && p->l3 != VIGIL_L3_IPV6)
        return NULL;
    int ported = p->ip_proto == 6 || p->ip_proto == 17;
    struct flow_entry key;
    memset(&key, 0, sizeof key);
    uint16_t sp = ported ? p->sport : 0, dp = ported ? p->dport : 0;
    int fwd = endpoint_less(&p->src, sp, &p->dst, dp);
    key.lo = fwd ? p->src : p->dst;
    key.hi = fwd ? p->dst : p->src;
    key.lo_port = fwd ? sp : dp;
    key.hi_port = fwd ? dp : sp;
    key.proto = p->ip_proto;
    uint32_t h = 2166136261u;
    const uint8_t *parts[2] = { key.lo.bytes, key.hi.bytes };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 16; i++)
            h = (h ^ parts[k][i]) * 16777619u;
    h = (h ^ key.lo_port) * 16777619u;
    h = (h ^ key.hi_port) * 16777619u;
    h = (h ^ key.proto) * 16777619u;
    struct flow_entry *f = &ctx->flows[h % FLOW_SLOTS];
    if (f->used && (memcmp(&f->lo, &key.lo, sizeof key.lo) || memcmp(&f->hi, &key.hi, sizeof key.hi) ||
                    f->lo_port != key.lo_port || f->hi_port != key.hi_port || f->proto != key.proto))
        release_flow(ctx, f);   /* evicted, as a full table would */
    if (!f->used) {
        *f = key;
        f->used = 1;
    }
    return f;
}

/* ---- the plugin under test ----------------------------------------------------- */

static void *plugin_handle;
static const vigil_plugin *plugin_desc;

static int load_plugin(void **st)
{
    (void)st;
    const char *build = getenv("VIGIL_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/portscan.so", build && *build ? build : "build");
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

/* End of input: on_finish, release flows, fini. Alerts stay readable. */
static void host_finish(vigil_ctx *ctx)
{
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

/* Deliver one packet, ticking first for each second boundary crossed. */
static void deliver(vigil_ctx *ctx, vigil_packet *p)
{
    if (ctx->last_tick_us == 0)
        ctx->last_tick_us = p->ts_us - p->ts_us % US;
    while (p->ts_us >= ctx->last_tick_us + US) {
        ctx->last_tick_us += US;
        ctx->now_us = ctx->last_tick_us;
        ctx->cur_flow = NULL;
        plugin_desc->on_tick(ctx->state, ctx, ctx->last_tick_us);
    }
    ctx->now_us = p->ts_us;
    ctx->cur_flow = flow_for(ctx, p);
    plugin_desc->on_packet(ctx->state, ctx, p);
    ctx->cur_flow = NULL;
}

/* ---- packets ------------------------------------------------------------------ */

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

static vigil_packet base_packet(int64_t ts, uint32_t src, uint32_t dst, uint8_t proto)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = ts;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.ttl = 64;
    p.src = v4(src);
    p.dst = v4(dst);
    p.flags = VIGIL_PKT_HAS_L4;
    return p;
}

static void tcp(vigil_ctx *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                uint16_t dport, uint8_t flags)
{
    vigil_packet p = base_packet(ts, src, dst, 6);
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    deliver(ctx, &p);
}

static void udp(vigil_ctx *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                uint16_t dport)
{
    vigil_packet p = base_packet(ts, src, dst, 17);
    p.sport = sport;
    p.dport = dport;
    deliver(ctx, &p);
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ICMP port unreachable from `from` about a UDP probe prober:sport -> from:dport. */
static void icmp_port_unreachable(vigil_ctx *ctx, int64_t ts, uint32_t from, uint32_t prober,
                                  uint16_t sport, uint16_t dport)
{
    uint8_t raw[20 + 8 + 20 + 8];
    memset(raw, 0, sizeof raw);
    raw[0] = 0x45;
    raw[9] = 1;
    put32(raw + 12, from);
    put32(raw + 16, prober);
    raw[20] = 3;                /* destination unreachable */
    raw[21] = 3;                /* port */
    uint8_t *in = raw + 28;
    in[0] = 0x45;
    in[9] = 17;
    put32(in + 12, prober);
    put32(in + 16, from);
    in[20] = (uint8_t)(sport >> 8);
    in[21] = (uint8_t)sport;
    in[22] = (uint8_t)(dport >> 8);
    in[23] = (uint8_t)dport;
    vigil_packet p = base_packet(ts, from, prober, 1);
    p.icmp_type = 3;
    p.icmp_code = 3;
    p.sport = 3;
    p.dport = 3;
    p.l3_hdr = raw;
    p.l3_len = sizeof raw;
    p.payload = raw + 24;
    p.payload_len = p.payload_wire_len = sizeof raw - 24;
    deliver(ctx, &p);
}

static void arp(vigil_ctx *ctx, int64_t ts, uint16_t op, uint32_t sender, uint32_t target)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = ts;
    p.l3 = VIGIL_L3_ARP;
    p.src = v4(sender);
    p.dst = v4(target);
    p.arp_op = op;
    deliver(ctx, &p);
}

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20 };

static const uint32_t ATTACKER = IP(10, 0, 0, 66);
static const uint32_t VICTIM = IP(10, 0, 0, 2);

/*
 * A stealth scan of `nports` ports, each answered by RST (closed). Like
 * nmap, each scan type uses its own source port, hence its own flows.
 */
static void stealth_scan(vigil_ctx *ctx, int64_t start, uint8_t flags, int nports)
{
    uint16_t sport = (uint16_t)(40000 + flags);
    for (int i = 0; i < nports; i++) {
        int64_t ts = start + i * 1000;
        tcp(ctx, ts, ATTACKER, sport, VICTIM, (uint16_t)(1 + i), flags);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, sport, RST | ACK);
    }
}

/* ---- assertions ---------------------------------------------------------------- */

static const char *meta_value(const struct seen_alert *a, const char *key, char *buf, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *m = a->meta;
    while ((m = strstr(m, pat)) != NULL) {
        if (m == a->meta || m[-1] == ';')
            break;
        m++;
    }
    if (m == NULL)
        return "";
    m += strlen(pat);
    size_t n = strcspn(m, ";");
    if (n >= len)
        n = len - 1;
    memcpy(buf, m, n);
    buf[n] = '\0';
    return buf;
}

static void assert_alert(const struct seen_alert *a, const char *category, const char *technique,
                         uint32_t src, uint32_t dst)
{
    assert_string_equal(a->category, category);
    assert_string_equal(a->technique, technique);
    vigil_addr s = v4(src);
    assert_memory_equal(&a->src, &s, sizeof s);
    if (dst) {
        vigil_addr d = v4(dst);
        assert_memory_equal(&a->dst, &d, sizeof d);
    }
    assert_true(a->sid >= 9100001 && a->sid <= 9100099);
    assert_string_equal(a->mitre, strcmp(category, "port_scan") == 0 ? "T1046" : "T1018");
}

static void assert_meta(const struct seen_alert *a, const char *key, const char *want)
{
    char buf[256];
    assert_string_equal(meta_value(a, key, buf, sizeof buf), want);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_descriptor(void **st)
{
    (void)st;
    assert_string_equal(plugin_desc->name, "portscan");
    assert_int_equal(plugin_desc->abi_major, VIGIL_ABI_MAJOR);
    assert_true(plugin_desc->size == sizeof(vigil_plugin));
    assert_non_null(plugin_desc->on_packet);
    assert_non_null(plugin_desc->on_tick);
    assert_non_null(plugin_desc->on_finish);
}

static void test_bad_config_refused(void **st)
{
    (void)st;
    struct conf_entry conf[] = { { "min_ports", 1 } };
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin_desc;
    ctx->conf[0] = conf[0];
    ctx->nconf = 1;
    void *state = NULL;
    assert_int_not_equal(plugin_desc->init(ctx, &fake_api, &state), VIGIL_OK);
    free(ctx);
}

static void test_syn_scan_100_ports(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    stealth_scan(ctx, T0, SYN, 100);
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    const struct seen_alert *a = &ctx->alerts[0];
    assert_alert(a, "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_int_equal(a->sid, 9100001);
    assert_meta(a, "distinct_ports", "100");
    assert_meta(a, "probes", "100");
    assert_meta(a, "responses", "rst=100,synack=0,icmp_unreachable=0,reply=0,none=0");
    assert_meta(a, "ports_sample", "1,2,3,4,5,6,7,8");
    assert_non_null(strstr(a->signature, "TCP SYN port scan (100 ports"));
    host_free(ctx);
}

static void check_stealth(uint8_t flags, const char *technique)
{
    vigil_ctx *ctx = host_new(NULL, 0);
    stealth_scan(ctx, T0, flags, 50);
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", technique, ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "50");
    host_free(ctx);
}

static void test_fin_null_xmas_ack_scans(void **st)
{
    (void)st;
    check_stealth(FIN, "tcp_fin_scan");
    check_stealth(0, "tcp_null_scan");
    check_stealth(FIN | PSH | URG, "tcp_xmas_scan");
    check_stealth(ACK, "tcp_ack_scan");
}

static void test_connect_scan(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 40; i++) {
        int64_t ts = T0 + i * 2000;
        uint16_t sport = (uint16_t)(30000 + i), port = (uint16_t)(100 + i);
        tcp(ctx, ts, ATTACKER, sport, VICTIM, port, SYN);
        if (i % 10 == 0) {      /* open: full handshake, then reset */
            tcp(ctx, ts + 10, VICTIM, port, ATTACKER, sport, SYN | ACK);
            tcp(ctx, ts + 20, ATTACKER, sport, VICTIM, port, ACK);
            tcp(ctx, ts + 30, ATTACKER, sport, VICTIM, port, RST | ACK);
        } else {
            tcp(ctx, ts + 10, VICTIM, port, ATTACKER, sport, RST | ACK);
        }
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_connect_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "40");
    host_free(ctx);
}

static void test_udp_scan_with_unreachables(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 30; i++) {
        int64_t ts = T0 + i * 5000;
        udp(ctx, ts, ATTACKER, 50000, VICTIM, (uint16_t)(1000 + i));
        if (i != 7)             /* one open|filtered port stays silent */
            icmp_port_unreachable(ctx, ts + 50, VICTIM, ATTACKER, 50000, (uint16_t)(1000 + i));
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "udp_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "30");
    assert_meta(&ctx->alerts[0], "responses", "rst=0,synack=0,icmp_unreachable=29,reply=0,none=1");
    host_free(ctx);
}

static void test_sweep_445_unanswered(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 40; i++)
        tcp(ctx, T0 + i * 50000, ATTACKER, 40000, IP(10, 9, 9, i), 445, SYN);
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    const struct seen_alert *a = &ctx->alerts[0];
    assert_alert(a, "host_sweep", "horizontal_sweep", ATTACKER, IP(10, 9, 9, 0));
    assert_int_equal(a->dport, 445);
    assert_meta(a, "distinct_hosts", "40");
    assert_meta(a, "hosts_sample", "10.9.9.0,10.9.9.1,10.9.9.2,10.9.9.3,10.9.9.4,10.9.9.5,10.9.9.6,10.9.9.7");
    host_free(ctx);
}

static void test_arp_sweep(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 1; i < 255; i++) {
        arp(ctx, T0 + i * 10000, 1, ATTACKER, IP(10, 0, 0, i));
        if (i == 1 || i == 2)
            arp(ctx, T0 + i * 10000 + 50, 2, IP(10, 0, 0, i), ATTACKER);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "host_sweep", "arp_sweep", ATTACKER, 0);
    assert_meta(&ctx->alerts[0], "distinct_hosts", "253"); /* not itself */
    host_free(ctx);
}

static void test_benign_client_443(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    uint32_t client = IP(192, 168, 1, 20);
    for (int i = 0; i < 50; i++) {
        int64_t ts = T0 + i * 200000;
        uint32_t server = IP(93, 184, 0, i + 1);
        uint16_t sport = (uint16_t)(50000 + i);
        tcp(ctx, ts, client, sport, server, 443, SYN);
        tcp(ctx, ts + 20000, server, 443, client, sport, SYN | ACK);
        tcp(ctx, ts + 20100, client, sport, server, 443, ACK);
        tcp(ctx, ts + 20200, client, sport, server, 443, PSH | ACK);
        tcp(ctx, ts + 60000, server, 443, client, sport, PSH | ACK);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_server_answering_clients(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    uint32_t server = IP(10, 1, 1, 1);
    for (int i = 0; i < 100; i++) {
        int64_t ts = T0 + i * 100000;
        uint32_t client = IP(172, 16, i / 250, i % 250 + 1);
        uint16_t sport = (uint16_t)(1024 + i * 7);
        tcp(ctx, ts, client, sport, server, 80, SYN);
        tcp(ctx, ts + 100, server, 80, client, sport, SYN | ACK);
        tcp(ctx, ts + 200, client, sport, server, 80, ACK);
        tcp(ctx, ts + 300, server, 80, client, sport, PSH | ACK);
        tcp(ctx, ts + 400, server, 80, client, sport, FIN | ACK);
        udp(ctx, ts + 500, client, (uint16_t)(20000 + i), server, 53);
        udp(ctx, ts + 600, server, 53, client, (uint16_t)(20000 + i));
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_below_thresholds(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    stealth_scan(ctx, T0, SYN, 3);      /* under slow_min_ports */
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);

    struct conf_entry no_slow[] = { { "slow_min_ports", 0 } };
    ctx = host_new(no_slow, 1);
    stealth_scan(ctx, T0, SYN, 19);     /* one under min_ports */
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);

    ctx = host_new(no_slow, 1);
    stealth_scan(ctx, T0, SYN, 20);     /* exactly min_ports */
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    host_free(ctx);
}

static void test_spread_beyond_window(void **st)
{
    (void)st;
    struct conf_entry no_slow[] = { { "slow_min_ports", 0 } };
    vigil_ctx *ctx = host_new(no_slow, 1);
    /* 40 ports, one every 5 s: never more than 13 in a 60 s window. */
    for (int i = 0; i < 40; i++) {
        int64_t ts = T0 + (int64_t)i * 5 * US;
        tcp(ctx, ts, ATTACKER, 40000, VICTIM, (uint16_t)(1 + i), SYN);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, 40000, RST | ACK);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_slow_scan(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    static const uint16_t ports[] = { 21, 22, 80, 443 };
    for (int i = 0; i < 4; i++) {
        int64_t ts = T0 + (int64_t)i * 8 * US;
        tcp(ctx, ts, ATTACKER, 52664, VICTIM, ports[i], SYN);
        tcp(ctx, ts + 30, VICTIM, ports[i], ATTACKER, 52664, SYN | ACK);
        tcp(ctx, ts + 40, ATTACKER, 52664, VICTIM, ports[i], RST);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "rule", "slow");
    host_free(ctx);
}

/* A scan going on for three alert intervals: one alert per interval at most. */
static void test_dedup_long_scan(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 900; i++) {     /* 180 s, a new port every 200 ms */
        int64_t ts = T0 + (int64_t)i * 200000;
        tcp(ctx, ts, ATTACKER, 40000, VICTIM, (uint16_t)(1 + i), SYN);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, 40000, RST | ACK);
    }
    host_finish(ctx);
    assert_true(ctx->nalerts >= 1 && ctx->nalerts <= 3);
    for (size_t i = 1; i < ctx->nalerts; i++)
        assert_true(ctx->alerts[i].ts_us - ctx->alerts[i - 1].ts_us >= 60 * US);
    unsigned total = 0;
    for (size_t i = 0; i < ctx->nalerts; i++) {
        char buf[32];
        assert_alert(&ctx->alerts[i], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
        total += (unsigned)atoi(meta_value(&ctx->alerts[i], "distinct_ports", buf, sizeof buf));
    }
    assert_true(total <= 900);
    host_free(ctx);
}

static void mixed_traffic(vigil_ctx *ctx)
{
    stealth_scan(ctx, T0, SYN, 60);
    for (int i = 0; i < 30; i++)
        tcp(ctx, T0 + 100000 + i * 1000, IP(10, 5, 5, 5), 41000, IP(10, 7, 0, i), 22, SYN);
    for (int i = 0; i < 25; i++)
        udp(ctx, T0 + 200000 + i * 1000, IP(10, 6, 6, 6), 5000, VICTIM, (uint16_t)(2000 + i));
    stealth_scan(ctx, T0 + 90 * US, FIN, 30);
}

static void test_deterministic(void **st)
{
    (void)st;
    vigil_ctx *a = host_new(NULL, 0), *b = host_new(NULL, 0);
    mixed_traffic(a);
    mixed_traffic(b);
    host_finish(a);
    host_finish(b);
    assert_true(a->nalerts >= 4);
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++) {
        assert_string_equal(a->alerts[i].signature, b->alerts[i].signature);
        assert_string_equal(a->alerts[i].meta, b->alerts[i].meta);
        assert_memory_equal(&a->alerts[i].src, &b->alerts[i].src, sizeof(vigil_addr));
        assert_int_equal(a->alerts[i].ts_us, b->alerts[i].ts_us);
    }
    host_free(a);
    host_free(b);
}

static uint64_t log_counter(const char *log, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(log, pat);
    if (p == NULL && strncmp(log, pat + 1, strlen(pat + 1)) == 0)
        p = log - 1;
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A million spoofed sources with a small cap; a real scan still shows. */
static void test_source_cap_flood(void **st)
{
    (void)st;
    struct conf_entry conf[] = { { "max_sources", 1024 } };
    vigil_ctx *ctx = host_new(conf, 1);
    long rss_before = max_rss_kb();
    const uint32_t flood = 1000000;
    for (uint32_t i = 0; i < flood; i++) {
        uint32_t spoofed = IP(100, 64, 0, 0) + i;
        tcp(ctx, T0 + i, spoofed, (uint16_t)(1024 + i % 60000), VICTIM, 80, SYN);
    }
    long rss_growth_kb = max_rss_kb() - rss_before;
    stealth_scan(ctx, T0 + 2 * US, SYN, 100);
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "100");
    assert_true(log_counter(ctx->last_log, "sources_peak") <= 1024);
    assert_true(log_counter(ctx->last_log, "sources_evicted_cap") >= flood - 1024);
    assert_true(log_counter(ctx->last_log, "sources_created") >= flood);
#if !defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine, so RSS says nothing there. */
    assert_true(rss_growth_kb < 64 * 1024);
#else
    (void)rss_growth_kb;
#endif
    host_free(ctx);
}

/* A tiny memcap still holds: sources are evicted instead of growing. */
static void test_memcap(void **st)
{
    (void)st;
    struct conf_entry conf[] = { { "memcap_mb", 1 } };
    vigil_ctx *ctx = host_new(conf, 1);
    for (uint32_t s = 0; s < 200; s++)
        for (int p = 0; p < 200; p++)
            tcp(ctx, T0 + (int64_t)s * 1000 + p, IP(100, 65, 0, 0) + s, 40000, VICTIM,
                (uint16_t)(1 + p), SYN);
    host_finish(ctx);
    assert_true(log_counter(ctx->last_log, "sources_evicted_memory") > 0);
    char *end = NULL;
    const char *mem = strstr(ctx->last_log, "memory_bytes=");
    assert_non_null(mem);
    assert_true(strtoull(mem + 13, &end, 10) <= 1024 * 1024);
    host_free(ctx);
}

/* A busy benign client: 10,000 successful connections create no tracker. */
static void test_successes_cost_little(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    uint32_t client = IP(192, 168, 7, 7);
    for (int i = 0; i < 10000; i++) {
        int64_t ts = T0 + (int64_t)i * 1000;
        uint32_t server = IP(203, 0, (uint32_t)(i / 250) % 40, (uint32_t)(i % 250) + 1);
        uint16_t sport = (uint16_t)(20000 + i), dport = (uint16_t)(1 + i % 1000);
        tcp(ctx, ts, client, sport, server, dport, SYN);
        tcp(ctx, ts + 100, server, dport, client, sport, SYN | ACK);
        tcp(ctx, ts + 200, client, sport, server, dport, ACK);
        tcp(ctx, ts + 300, client, sport, server, dport, PSH | ACK);
        tcp(ctx, ts + 400, server, dport, client, sport, ACK);
    }
    host_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_int_equal(log_counter(ctx->last_log, "probes"), 10000);
    assert_int_equal(log_counter(ctx->last_log, "trackers_created"), 0);
    assert_int_equal(log_counter(ctx->last_log, "sources_created"), 1);
    /* The empty tracker index (8 KB) and one source record. */
    assert_true(log_counter(ctx->last_log, "memory_bytes") < 8192 + 1024);
    host_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_syn_scan_100_ports),
        cmocka_unit_test(test_fin_null_xmas_ack_scans),
        cmocka_unit_test(test_connect_scan),
        cmocka_unit_test(test_udp_scan_with_unreachables),
        cmocka_unit_test(test_sweep_445_unanswered),
        cmocka_unit_test(test_arp_sweep),
        cmocka_unit_test(test_benign_client_443),
        cmocka_unit_test(test_server_answering_clients),
        cmocka_unit_test(test_below_thresholds),
        cmocka_unit_test(test_spread_beyond_window),
        cmocka_unit_test(test_slow_scan),
        cmocka_unit_test(test_dedup_long_scan),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_source_cap_flood),
        cmocka_unit_test(test_memcap),
        cmocka_unit_test(test_successes_cost_little),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
