/*
 * test_dnstunnel.c - the DNS parser and name analysis called directly, and
 * the dnstunnel plugin driven through its ABI by a fake host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"

/* The parser is pure code with no host dependency: test it in place. */
#include "../../plugins/dnstunnel/dns_name.c"
#include "../../plugins/dnstunnel/dns_parse.c"

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 64
#define MAX_CONF 8

/* ---- DNS message builder ------------------------------------------------------ */

static size_t build_msg(uint8_t *buf, size_t size, uint16_t id, int response, int rcode,
                        uint16_t qtype, const char *name)
{
    size_t n = 0;
    uint16_t flags = (uint16_t)((response ? 0x8000u : 0) | 0x0100u | (unsigned)rcode);
    uint8_t hdr[12] = { (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(flags >> 8), (uint8_t)flags,
                        0, 1, 0, 0, 0, 0, 0, 0 };
    memcpy(buf, hdr, sizeof hdr);
    n = sizeof hdr;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        assert_true(n + 1 + len + 5 < size);
        buf[n++] = (uint8_t)len;
        memcpy(buf + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    buf[n++] = (uint8_t)(qtype >> 8);
    buf[n++] = (uint8_t)qtype;
    buf[n++] = 0;
    buf[n++] = 1;
    return n;
}

/* ---- parser and name analysis ------------------------------------------------ */

static void test_parse_query(void **unused)
{
    (void)unused;
    uint8_t msg[300];
    struct dns_question q;
    size_t n = build_msg(msg, sizeof msg, 0x1234, 0, 0, DNS_TYPE_TXT, "AbC.Example.COM");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    assert_int_equal(q.id, 0x1234);
    assert_int_equal(q.is_response, 0);
    assert_int_equal(q.qtype, DNS_TYPE_TXT);
    assert_int_equal(q.nlabels, 3);
    char text[64];
    dns_format_labels(&q, 0, text, sizeof text);
    assert_string_equal(text, "abc.example.com");
    dns_format_labels(&q, 1, text, sizeof text);
    assert_string_equal(text, "example.com");
    /* every truncation is refused */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(dns_parse_question(msg, cut, &q), -1);
}

static void test_parse_hostile_names(void **unused)
{
    (void)unused;
    struct dns_question q;
    /* a pointer to itself, a pointer forward, a reserved label type */
    uint8_t self[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(self, sizeof self, &q), -1);
    uint8_t fwd[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 1, 'a', 0, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(fwd, sizeof fwd, &q), -1);
    uint8_t rsv[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(rsv, sizeof rsv, &q), -1);
    /* a backward pointer is followed: "x" + pointer to "a" placed earlier
     * in the header's spare bytes is impossible, so build a two-part name
     * in an answer-like layout: name at 12 is 1 'b' 0; a second message
     * region is not needed: check a name of exactly 255 wire bytes passes
     * and 256 fails. */
    uint8_t big[600];
    memset(big, 0, sizeof big);
    big[5] = 1;
    size_t n = 12;
    for (int i = 0; i < 4; i++) {       /* 4 x (1 + 63) = 256 > 255 */
        big[n++] = 63;
        memset(big + n, 'a', 63);
        n += 63;
    }
    big[n++] = 0;
    n += 4;
    assert_int_equal(dns_parse_question(big, n, &q), -1);
    n = 12;
    for (int i = 0; i < 3; i++) {
        big[n++] = 63;
        memset(big + n, 'a', 63);
        n += 63;
    }
    big[n++] = 61;                      /* 3 * 64 + 62 + root = 255 */
    memset(big + n, 'a', 61);
    n += 61;
    big[n++] = 0;
    big[n++] = 0;
    big[n++] = 1;
    big[n++] = 0;
    big[n++] = 1;
    assert_int_equal(dns_parse_question(big, n, &q), 0);
    assert_int_equal(q.nlabels, 4);
    /* a compressed question: the name at 18 points back to a label at 12 */
    uint8_t comp[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                       3, 'c', 'o', 'm', 0, 0,
                       1, 'x', 0xC0, 12, 0, 16, 0, 1 };
    /* header says the question is at 12: "com", then type 0x0000 0x0101 */
    assert_int_equal(dns_parse_question(comp, sizeof comp, &q), 0);
    assert_int_equal(q.nlabels, 1);
}

static void test_split_and_features(void **unused)
{
    (void)unused;
    uint8_t msg[300];
    struct dns_question q;
    struct dns_split s;
    size_t n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "a.b.example.com");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 2);
    assert_int_equal(s.sub_labels, 2);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "www.shop.co.uk");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 3);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "dnscat.546b03f5.19e4d098dc8c");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 0);
    assert_int_equal(s.sub_labels, 3);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 12, "4.3.2.1.in-addr.arpa");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    assert_true(dns_is_arpa(&q));

    assert_true(dns_label_looks_random((const uint8_t *)"xkqwzlvbnmfghjd", 15, 8));
    assert_true(dns_label_looks_random((const uint8_t *)"k3j9x0q7zt2m", 12, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"wikipedia", 9, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"stackoverflow", 13, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"xkqwz", 5, 8));
    assert_int_equal(dns_entropy_x100((const uint8_t *)"aaaa", 4), 0);
    assert_int_equal(dns_entropy_x100((const uint8_t *)"abcd", 4), 200);
}

/* ---- the fake host ---------------------------------------------------------- */

struct seen_alert {
    uint32_t sid;
    char category[32], technique[40], signature[192];
    vigil_addr src, dst;
    uint8_t proto;
    char meta[1024];
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
    const char *ignore_domains;
    struct seen_alert alerts[MAX_ALERTS];
    size_t nalerts;
    char last_log[1024];
    void *flow;                 /* the one TCP flow of the stream tests */
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
    if (a->size != sizeof *a || a->signature == NULL || ctx->nalerts == MAX_ALERTS)
        return VIGIL_EINVAL;
    struct seen_alert *s = &ctx->alerts[ctx->nalerts++];
    memset(s, 0, sizeof *s);
    s->sid = a->signature_id;
    snprintf(s->category, sizeof s->category, "%s", a->attack_category);
    snprintf(s->technique, sizeof s->technique, "%s", a->attack_technique);
    snprintf(s->signature, sizeof s->signature, "%s", a->signature);
    s->src = a->src;
    s->dst = a->dst;
    s->proto = a->ip_proto;
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
    if (strcmp(key, "ignore_domains") == 0 && ctx->ignore_domains) {
        *out = ctx->ignore_domains;
        return VIGIL_OK;
    }
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
    return ctx->flow;
}

static int fake_set_flow_state(vigil_ctx *ctx, void *state)
{
    if (ctx->flow && ctx->flow != state)
        ctx->desc->flow_free(ctx->state, ctx->flow);
    ctx->flow = state;
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

static void *plugin_lib;
static const vigil_plugin *plugin;

static int load_plugin(void **unused)
{
    (void)unused;
    const char *dir = getenv("VIGIL_BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/dnstunnel.so", dir ? dir : "build");
    plugin_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin_lib == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    vigil_plugin_entry_fn entry = (vigil_plugin_entry_fn)dlsym(plugin_lib, VIGIL_PLUGIN_ENTRY_SYMBOL);
    plugin = entry ? entry() : NULL;
    return plugin ? 0 : -1;
}

static int unload_plugin(void **unused)
{
    (void)unused;
    if (plugin_lib)
        dlclose(plugin_lib);
    return 0;
}

static vigil_ctx *start(void)
{
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin;
    ctx->now_us = ctx->last_tick_us = T0;
    return ctx;
}

static void set_conf(vigil_ctx *ctx, const char *key, int64_t value)
{
    assert_true(ctx->nconf < MAX_CONF);
    ctx->conf[ctx->nconf].key = key;
    ctx->conf[ctx->nconf].value = value;
    ctx->nconf++;
}

static void begin(vigil_ctx *ctx)
{
    assert_int_equal(plugin->init(ctx, &fake_api, &ctx->state), VIGIL_OK);
}

static void advance(vigil_ctx *ctx, int64_t ts_us)
{
    while (ts_us - ctx->last_tick_us >= US) {
        ctx->last_tick_us += US;
        ctx->now_us = ctx->last_tick_us;
        plugin->on_tick(ctx->state, ctx, ctx->last_tick_us);
    }
    ctx->now_us = ts_us;
}

static void finish(vigil_ctx *ctx)
{
    plugin->on_finish(ctx->state, ctx);
    if (ctx->flow)
        plugin->flow_free(ctx->state, ctx->flow);
    plugin->fini(ctx->state);
}

static vigil_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    vigil_addr x;
    memset(&x, 0, sizeof x);
    x.family = 4;
    x.bytes[0] = a;
    x.bytes[1] = b;
    x.bytes[2] = c;
    x.bytes[3] = d;
    return x;
}

static void send_dns(vigil_ctx *ctx, int64_t ts_us, vigil_addr src, vigil_addr dst, int response,
                     int rcode, uint16_t qtype, const char *name)
{
    uint8_t msg[320];
    size_t n = build_msg(msg, sizeof msg, 7, response, rcode, qtype, name);
    advance(ctx, ts_us);
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_HAS_L4;
    p.ts_us = ts_us;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = 17;
    p.src = src;
    p.dst = dst;
    p.sport = response ? 53 : 40000;
    p.dport = response ? 40000 : 53;
    p.payload = msg;
    p.payload_len = p.payload_wire_len = (uint32_t)n;
    plugin->on_packet(ctx->state, ctx, &p);
}

static void random_label(uint32_t *seed, char *out, size_t len, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < len; i++) {
        *seed = *seed * 1103515245u + 12345u;
        out[i] = alphabet[(*seed >> 16) % k];
    }
    out[len] = '\0';
}

#define CLIENT v4(198, 18, 0, 10)
#define RESOLVER v4(198, 18, 0, 53)

static void tunnel_queries(vigil_ctx *ctx, vigil_addr client, int count, uint16_t qtype,
                           const char *parent)
{
    uint32_t seed = 42;
    for (int i = 0; i < count; i++) {
        char label[40], name[128];
        random_label(&seed, label, 32, "abcdefghijklmnopqrstuvwxyz234567");
        snprintf(name, sizeof name, "%s.t.%s", label, parent);
        send_dns(ctx, T0 + i * (US / 2), client, RESOLVER, 0, 0, qtype, name);
    }
}

/* ---- plugin behaviour ------------------------------------------------------- */

static void test_tunnel_alerts_once_with_counts(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    begin(ctx);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_TXT, "evil.example");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    struct seen_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9400001);
    assert_string_equal(a->category, "dns_tunnel");
    assert_memory_equal(a->src.bytes, CLIENT.bytes, 4);
    assert_memory_equal(a->dst.bytes, RESOLVER.bytes, 4);
    assert_non_null(strstr(a->meta, "parent_domain=evil.example;"));
    assert_non_null(strstr(a->meta, "queries=40;"));
    assert_non_null(strstr(a->meta, "record_types=TXT:40;"));
    free(ctx);
}

static void test_report_delay_and_window(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    set_conf(ctx, "report_delay_sec", 5);
    begin(ctx);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_NULL, "evil.example"); /* 20 s */
    /* reported 5 s after the rule first held (query 10, t=4.5 s): by then
     * about 20 queries were counted, the rest of the window stays silent */
    assert_int_equal(ctx->nalerts, 1);
    assert_null(strstr(ctx->alerts[0].meta, "queries=40;"));
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    free(ctx);
}

static void test_benign_cdn_and_short_names_silent(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    begin(ctx);
    for (int i = 0; i < 200; i++) {
        char name[96];
        snprintf(name, sizeof name, "e%d.a.akamaiedge.net", 1000 + i * 37);
        send_dns(ctx, T0 + i * US / 4, CLIENT, RESOLVER, 0, 0, i % 2 ? DNS_TYPE_A : DNS_TYPE_AAAA, name);
        snprintf(name, sizeof name, "r%d---sn-4g5e6nsz.googlevideo.com", i % 20);
        send_dns(ctx, T0 + i * US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_A, name);
        snprintf(name, sizeof name, "%d.%d.2.1.in-addr.arpa", i, i % 7);
        send_dns(ctx, T0 + i * US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_PTR, name);
        snprintf(name, sizeof name, "_dmarc.host%d.example.org", i % 15);
        send_dns(ctx, T0 + i * US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_TXT, name);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void test_no_tld_names_grouped(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    begin(ctx);
    uint32_t seed = 7;
    for (int i = 0; i < 30; i++) {
        char a[64], b[64], c[24], name[200];
        random_label(&seed, a, 60, "0123456789abcdef");
        random_label(&seed, b, 60, "0123456789abcdef");
        random_label(&seed, c, 20, "0123456789abcdef");
        snprintf(name, sizeof name, "dnscat.%s.%s.%s", a, b, c);
        send_dns(ctx, T0 + i * US, CLIENT, RESOLVER, 0, 0, i % 2 ? DNS_TYPE_MX : DNS_TYPE_CNAME, name);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_non_null(strstr(ctx->alerts[0].signature, "no valid TLD"));
    free(ctx);
}

static void test_ignore_domains(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    ctx->ignore_domains = "Example.ORG, evil.example";
    begin(ctx);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_TXT, "evil.example");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void dga_answers(vigil_ctx *ctx, int count, int random)
{
    uint32_t seed = 99;
    for (int i = 0; i < count; i++) {
        char label[24], name[64];
        if (random)
            random_label(&seed, label, 14, "abcdefghijklmnopqrstuvwxyz0123456789");
        else
            snprintf(label, sizeof label, "%s", i % 2 ? "wpad" : "intranet");
        snprintf(name, sizeof name, "%s.%s", label, i % 3 ? "com" : "net");
        send_dns(ctx, T0 + i * US / 2, RESOLVER, CLIENT, 1, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, name);
    }
}

static void test_dga(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    begin(ctx);
    dga_answers(ctx, 50, 1);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9400010);
    assert_string_equal(ctx->alerts[0].category, "dga");
    assert_memory_equal(ctx->alerts[0].src.bytes, CLIENT.bytes, 4);
    assert_memory_equal(ctx->alerts[0].dst.bytes, RESOLVER.bytes, 4);
    free(ctx);

    ctx = start();
    begin(ctx);
    dga_answers(ctx, 50, 0);    /* the same few typos and search names */
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void test_dns_over_tcp(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    begin(ctx);
    uint32_t seed = 3;
    uint8_t data[2048];
    uint64_t offset = 0;
    for (int round = 0; round < 6; round++) {
        size_t used = 0;
        for (int k = 0; k < 3; k++) {       /* three messages per DATA event */
            char label[40], name[96];
            random_label(&seed, label, 36, "abcdefghijklmnopqrstuvwxyz234567");
            snprintf(name, sizeof name, "%s.tcp.evil.example", label);
            size_t n = build_msg(data + used + 2, sizeof data - used - 2, 1, 0, 0, DNS_TYPE_TXT, name);
            data[used] = (uint8_t)(n >> 8);
            data[used + 1] = (uint8_t)n;
            used += n + 2;
        }
        advance(ctx, T0 + round * US);
        vigil_stream st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        st.event = VIGIL_STREAM_DATA;
        st.ts_us = ctx->now_us;
        st.client = CLIENT;
        st.server = RESOLVER;
        st.client_port = 40001;
        st.server_port = 53;
        st.dir = VIGIL_DIR_TO_SERVER;
        st.offset = offset;
        st.data = data;
        st.len = (uint32_t)used;
        plugin->on_stream(ctx->state, ctx, &st);
        offset += used;
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].proto, 6);
    assert_non_null(strstr(ctx->alerts[0].meta, "queries=18;"));
    free(ctx);
}

static void test_bounded_under_random_flood(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    set_conf(ctx, "max_trackers", 256);
    set_conf(ctx, "max_clients", 64);
    begin(ctx);
    uint32_t seed = 5;
    for (int i = 0; i < 200000; i++) {
        char a[16], b[16], name[64];
        random_label(&seed, a, 10, "abcdefghijklmnopqrstuvwxyz");
        random_label(&seed, b, 8, "abcdefghijklmnopqrstuvwxyz");
        snprintf(name, sizeof name, "%s.%s.com", a, b);
        vigil_addr src = v4(198, 18, (uint8_t)(i >> 8), (uint8_t)i);
        send_dns(ctx, T0 + i * 1000, src, RESOLVER, 0, 0, DNS_TYPE_A, name);
        send_dns(ctx, T0 + i * 1000, RESOLVER, src, 1, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, name);
    }
    finish(ctx);
    assert_non_null(strstr(ctx->last_log, "trackers=256 "));
    assert_non_null(strstr(ctx->last_log, "clients=64 "));
    free(ctx);
}

static void test_deterministic(void **unused)
{
    (void)unused;
    struct seen_alert first[4];
    size_t nfirst = 0;
    for (int run = 0; run < 2; run++) {
        vigil_ctx *ctx = start();
        begin(ctx);
        tunnel_queries(ctx, v4(198, 18, 0, 11), 30, DNS_TYPE_TXT, "one.example");
        tunnel_queries(ctx, v4(198, 18, 0, 12), 30, DNS_TYPE_NULL, "two.example");
        dga_answers(ctx, 30, 1);
        finish(ctx);
        assert_int_equal(ctx->nalerts, 3);
        if (run == 0) {
            memcpy(first, ctx->alerts, 3 * sizeof first[0]);
            nfirst = ctx->nalerts;
        } else {
            assert_int_equal(nfirst, ctx->nalerts);
            assert_memory_equal(first, ctx->alerts, 3 * sizeof first[0]);
        }
        free(ctx);
    }
}

static void test_bad_config_refused(void **unused)
{
    (void)unused;
    vigil_ctx *ctx = start();
    set_conf(ctx, "min_encoded_percent", 0);
    void *state = NULL;
    assert_int_not_equal(plugin->init(ctx, &fake_api, &state), VIGIL_OK);
    free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_query),
        cmocka_unit_test(test_parse_hostile_names),
        cmocka_unit_test(test_split_and_features),
        cmocka_unit_test(test_tunnel_alerts_once_with_counts),
        cmocka_unit_test(test_report_delay_and_window),
        cmocka_unit_test(test_benign_cdn_and_short_names_silent),
        cmocka_unit_test(test_no_tld_names_grouped),
        cmocka_unit_test(test_ignore_domains),
        cmocka_unit_test(test_dga),
        cmocka_unit_test(test_dns_over_tcp),
        cmocka_unit_test(test_bounded_under_random_flood),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
