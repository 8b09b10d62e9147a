/*
 * fuzz_detectors.c - detector plugins (their line, request, TCP-option,
 * fragment and ARP parsers) on arbitrary packets and stream chunks.
 *
 * The plugins are the real .so files, loaded with dlopen() and driven
 * through their ABI by a small fake host. Packets are built from the
 * input and then decoded by the sensor's own decoder, so every
 * vigil_packet a plugin sees keeps the host's promises (pointers inside
 * an exactly-sized buffer, fields consistent with the bytes). Streams
 * keep the reassembler's promises: ESTABLISHED first, DATA with offsets
 * that add up, nothing after the end event.
 *
 * Each input gets a fresh plugin instance (init ... fini), so findings
 * reproduce from the one input.
 *
 * Input:
 *   byte 0   which plugin (modulo the number loaded)
 *   byte 1   bit 0: config_int answers each knob's minimum, not its default
 *            bit 1: config_str answers a string taken from the input
 *            (length byte, then the bytes), else "absent"
 *   then records, each starting with an op byte (op % 6):
 *     0 TCP/IPv4 packet    1 UDP, ICMP or other IPv4 packet
 *     2 ARP packet         3 raw frame: link byte, length, bytes
 *     4 stream event       5 time passes (on_tick at each new second)
 *
 * Environment:
 *   VIGIL_FUZZ_PLUGIN_DIR  where the .so files are; default
 *                          $VIGIL_BUILD/plugins, else build/plugins
 *   VIGIL_FUZZ_DETECTORS   comma-separated names; default
 *                          "bruteforce,slowhttp,evasion,arpspoof"; "all"
 *                          loads every .so of the directory
 *   VIGIL_FUZZ_VERBOSE     print each alert on stderr
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz.h"
#include "vigil/plugin.h"

#define MAX_PLUGINS 32
#define NFLOWS 16
#define NSTREAMS 8
#define LINK_EN10MB 1
#define LINK_IPV4 228

/* ---- the input ---------------------------------------------------------- */

struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static uint16_t u16(struct input *in)
{
    uint16_t hi = u8(in);
    return (uint16_t)(hi << 8 | u8(in));
}

static uint32_t u32(struct input *in)
{
    uint32_t hi = u16(in);
    return hi << 16 | u16(in);
}

/* Up to want bytes of the input, in an exactly-sized heap copy. */
static uint8_t *take(struct input *in, size_t want, size_t *got)
{
    size_t n = want < in->n ? want : in->n;
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL)
        abort();
    memcpy(b, in->p, n);
    in->p += n;
    in->n -= n;
    *got = n;
    return b;
}

/* A few addresses, so flows and hosts collide: home, outside, IPv6. */
static void pick_addr(uint8_t sel, vigil_addr *a)
{
    memset(a, 0, sizeof *a);
    if (sel & 0x80) {
        a->family = 6;
        a->bytes[0] = 0x20;
        a->bytes[1] = 0x01;
        a->bytes[2] = 0x0d;
        a->bytes[3] = 0xb8;
        a->bytes[15] = sel & 7;
        return;
    }
    a->family = 4;
    a->bytes[0] = 198;
    a->bytes[1] = (sel & 0x40) ? 19 : 18;
    a->bytes[2] = 0;
    a->bytes[3] = (uint8_t)(1 + (sel & 7));
}

static uint16_t pick_port(struct input *in)
{
    static const uint16_t common[] = { 22, 21, 23, 25, 80, 110, 143, 443, 3389, 8080,
                                       3306, 5432, 445, 53, 993, 40000 };
    uint8_t s = u8(in);
    if (s < 0xf0)
        return common[s % (sizeof common / sizeof common[0])];
    return u16(in);
}

/* ---- the fake host ------------------------------------------------------ */

struct flow {
    int used;
    uint8_t proto;
    vigil_addr a, b;            /* canonical order */
    uint16_t pa, pb;
    int64_t last_us;
    void *state;
};

struct vigil_ctx {
    int in_event;
    struct flow *flow;          /* the current event's, may be NULL */
};

struct plugin_so {
    char name[64];
    void *dl;
    const vigil_plugin *desc;
};

static struct {
    struct plugin_so so[MAX_PLUGINS];
    size_t nso;
    int loaded;
    int verbose;                /* VIGIL_FUZZ_VERBOSE: print alerts */
    /* per input */
    const vigil_plugin *cur;
    void *state;
    int cfg_min;
    char *cfg_str;
    int64_t now_us;
    struct flow flows[NFLOWS];
    size_t next_evict;
} G;

static void h_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
}

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;   /* a bad pointer trips the sanitizer here */
}

static int h_emit_alert(vigil_ctx *ctx, const vigil_alert *a)
{
    if (ctx == NULL || a == NULL || a->size < offsetof(vigil_alert, meta) ||
        a->signature == NULL)
        return VIGIL_EINVAL;
    size_t sum = touch(a->signature) + touch(a->category) + touch(a->attack_category) +
                 touch(a->attack_technique) + touch(a->mitre_attack);
    if (a->size >= sizeof *a && a->meta_count > 0) {
        if (a->meta == NULL || a->meta_count > 64)
            return VIGIL_EINVAL;
        for (size_t i = 0; i < a->meta_count; i++)
            sum += touch(a->meta[i].key) + touch(a->meta[i].value);
    }
    if (G.verbose)
        fprintf(stderr, "alert %s: %s (%zu bytes of strings)\n", G.cur->name, a->signature,
                sum);
    return VIGIL_OK;
}

static int h_config_str(vigil_ctx *ctx, const char *key, const char **out)
{
    (void)ctx;
    if (key == NULL || out == NULL)
        return VIGIL_EINVAL;
    if (G.cfg_str == NULL)
        return VIGIL_ENOENT;
    *out = G.cfg_str;
    return VIGIL_OK;
}

static int h_config_int(vigil_ctx *ctx, const char *key, int64_t def, int64_t min,
                        int64_t max, int64_t *out)
{
    (void)ctx;
    if (key == NULL || out == NULL)
        return VIGIL_EINVAL;
    if (min > max || def < min || def > max)
        abort();                /* a plugin whose own default is out of range */
    *out = G.cfg_min ? min : def;
    return VIGIL_OK;
}

static void free_flow(struct flow *f)
{
    if (f->used && f->state && G.cur->flow_free)
        G.cur->flow_free(G.state, f->state);
    memset(f, 0, sizeof *f);
}

static void *h_flow_state(vigil_ctx *ctx)
{
    return ctx && ctx->in_event && ctx->flow ? ctx->flow->state : NULL;
}

static int h_set_flow_state(vigil_ctx *ctx, void *state)
{
    if (ctx == NULL || !ctx->in_event || ctx->flow == NULL)
        return VIGIL_ENOENT;
    void *old = ctx->flow->state;
    ctx->flow->state = state;
    if (old && old != state && G.cur->flow_free)
        G.cur->flow_free(G.state, old);
    return VIGIL_OK;
}

static int64_t h_now_us(vigil_ctx *ctx)
{
    (void)ctx;
    return G.now_us;
}

static int h_in_home_net(vigil_ctx *ctx, const vigil_addr *a)
{
    (void)ctx;
    return a && a->family == 4 && a->bytes[0] == 198 && a->bytes[1] == 18;
}

static int h_config_addr_match(vigil_ctx *ctx, const char *key, const vigil_addr *a)
{
    (void)ctx;
    (void)a;
    return key ? VIGIL_ENOENT : VIGIL_EINVAL;
}

static int h_config_path(vigil_ctx *ctx, const char *key, const char **out)
{
    (void)ctx;
    (void)key;
    (void)out;
    return VIGIL_ENOENT;
}

static const vigil_host_api g_api = {
    .size = sizeof(vigil_host_api),
    .abi_major = VIGIL_ABI_MAJOR,
    .abi_minor = VIGIL_ABI_MINOR,
    .log = h_log,
    .emit_alert = h_emit_alert,
    .config_str = h_config_str,
    .config_int = h_config_int,
    .flow_state = h_flow_state,
    .set_flow_state = h_set_flow_state,
    .now_us = h_now_us,
    .in_home_net = h_in_home_net,
    .config_addr_match = h_config_addr_match,
    .config_path = h_config_path,
};

/* The flow of a packet or stream (both directions alike); evicts when full. */
static struct flow *get_flow(const vigil_addr *s, const vigil_addr *d, uint16_t sp,
                             uint16_t dp, uint8_t proto)
{
    int swap = memcmp(s, d, sizeof *s) > 0 || (memcmp(s, d, sizeof *s) == 0 && sp > dp);
    const vigil_addr *a = swap ? d : s, *b = swap ? s : d;
    uint16_t pa = swap ? dp : sp, pb = swap ? sp : dp;
    struct flow *free_slot = NULL;
    for (size_t i = 0; i < NFLOWS; i++) {
        struct flow *f = &G.flows[i];
        if (!f->used) {
            if (free_slot == NULL)
                free_slot = f;
            continue;
        }
        if (f->proto == proto && f->pa == pa && f->pb == pb &&
            memcmp(&f->a, a, sizeof *a) == 0 && memcmp(&f->b, b, sizeof *b) == 0) {
            f->last_us = G.now_us;
            return f;
        }
    }
    if (free_slot == NULL) {
        free_slot = &G.flows[G.next_evict++ % NFLOWS];
        free_flow(free_slot);
    }
    free_slot->used = 1;
    free_slot->proto = proto;
    free_slot->a = *a;
    free_slot->b = *b;
    free_slot->pa = pa;
    free_slot->pb = pb;
    free_slot->last_us = G.now_us;
    return free_slot;
}

/* ---- loading ------------------------------------------------------------ */

static int wanted(const char *name, const char *list)
{
    if (strcmp(list, "all") == 0)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (end != NULL);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct plugin_so *)a)->name, ((const struct plugin_so *)b)->name);
}

static void load_plugins(void)
{
    G.loaded = 1;
    G.verbose = getenv("VIGIL_FUZZ_VERBOSE") != NULL;
    char dir[4096];
    const char *d = getenv("VIGIL_FUZZ_PLUGIN_DIR");
    const char *b = getenv("VIGIL_BUILD");
    if (d)
        snprintf(dir, sizeof dir, "%s", d);
    else
        snprintf(dir, sizeof dir, "%s/plugins", b ? b : "build");
    const char *list = getenv("VIGIL_FUZZ_DETECTORS");
    if (list == NULL)
        list = "bruteforce,slowhttp,evasion,arpspoof";
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL && G.nso < MAX_PLUGINS) {
        size_t len = strlen(de->d_name);
        if (len < 4 || len - 3 >= sizeof G.so[0].name ||
            strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        struct plugin_so *p = &G.so[G.nso];
        memcpy(p->name, de->d_name, len - 3);
        p->name[len - 3] = '\0';
        if (!wanted(p->name, list))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (p->dl == NULL) {
            fprintf(stderr, "fuzz_detectors: %s\n", dlerror());
            exit(1);
        }
        vigil_plugin_entry_fn entry;
        void *sym = dlsym(p->dl, VIGIL_PLUGIN_ENTRY_SYMBOL);
        memcpy(&entry, &sym, sizeof entry);
        p->desc = entry ? entry() : NULL;
        if (p->desc == NULL || p->desc->abi_major != VIGIL_ABI_MAJOR ||
            p->desc->size < sizeof(vigil_plugin)) {
            fprintf(stderr, "fuzz_detectors: %s: not a plugin of this ABI\n", path);
            exit(1);
        }
        G.nso++;
    }
    if (dh)
        closedir(dh);
    if (G.nso == 0) {
        fprintf(stderr, "fuzz_detectors: no plugin (%s) in %s (set VIGIL_FUZZ_PLUGIN_DIR)\n",
                list, dir);
        exit(1);
    }
    qsort(G.so, G.nso, sizeof G.so[0], by_name);    /* stable selector bytes */
}

/* ---- events ------------------------------------------------------------- */

static void deliver_packet(int dlt, const uint8_t *frame, size_t len, uint32_t extra)
{
    vigil_packet pkt;
    enum vigil_decode_event ev;
    if (vigil_decode(dlt, frame, (uint32_t)len, (uint32_t)len + extra, &pkt, &ev) !=
        VIGIL_DECODE_OK)
        return;
    pkt.ts_us = G.now_us;
    vigil_ctx ctx = { 1, NULL };
    if (pkt.l3 == VIGIL_L3_IPV4 || pkt.l3 == VIGIL_L3_IPV6) {
        int ported = (pkt.flags & VIGIL_PKT_HAS_L4) &&
                     (pkt.ip_proto == 6 || pkt.ip_proto == 17);
        ctx.flow = get_flow(&pkt.src, &pkt.dst, ported ? pkt.sport : 0,
                            ported ? pkt.dport : 0, pkt.ip_proto);
    }
    if (G.cur->on_packet)
        G.cur->on_packet(G.state, &ctx, &pkt);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

/* An IPv4 datagram whose header fields come from the input. */
static void ipv4_packet(struct input *in, uint8_t op)
{
    uint8_t proto_sel = u8(in);
    uint8_t proto = op % 6 == 0 ? 6 : (proto_sel & 3) == 0 ? 17 : (proto_sel & 3) == 1 ? 1
                                    : (proto_sel & 3) == 2 ? 17 : proto_sel;
    vigil_addr s, d;
    pick_addr(u8(in) & 0x4f, &s);
    pick_addr(u8(in) & 0x4f, &d);
    uint8_t ttl = u8(in);
    uint16_t id = u16(in);
    uint16_t frag = (op & 0x40) ? u16(in) : 0;
    size_t optlen = (op & 0x80) ? (size_t)(u8(in) % 11) * 4 : 0;
    uint8_t l4[64];
    size_t l4len = 0;
    if (proto == 6) {
        uint16_t sp = pick_port(in), dp = pick_port(in);
        uint32_t seq = u32(in), ack = u32(in);
        uint8_t flags = u8(in);
        uint16_t win = u16(in);
        size_t topt = (op & 0x20) ? (size_t)(u8(in) % 11) * 4 : 0;
        memset(l4, 0, sizeof l4);
        put16(l4, sp);
        put16(l4 + 2, dp);
        put32(l4 + 4, seq);
        put32(l4 + 8, ack);
        l4[12] = (uint8_t)((5 + topt / 4) << 4);
        l4[13] = flags;
        put16(l4 + 14, win);
        put16(l4 + 18, u16(in));        /* urgent pointer */
        for (size_t i = 0; i < topt; i++)
            l4[20 + i] = u8(in);
        l4len = 20 + topt;
    } else if (proto == 17) {
        uint16_t sp = pick_port(in), dp = pick_port(in);
        put16(l4, sp);
        put16(l4 + 2, dp);
        l4[6] = l4[7] = 0;
        l4len = 8;
    } else if (proto == 1) {
        l4[0] = u8(in);
        l4[1] = u8(in);
        l4[2] = l4[3] = 0;
        put32(l4 + 4, u32(in));
        l4len = 8;
    }
    size_t plen;
    uint8_t *payload = take(in, u16(in) % 2048, &plen);
    size_t ihl = 20 + optlen, total = ihl + l4len + plen;
    uint8_t *f = malloc(total);
    if (f == NULL)
        abort();
    memset(f, 0, ihl);
    f[0] = (uint8_t)(0x40 | ihl / 4);
    put16(f + 2, (uint32_t)total);
    put16(f + 4, id);
    put16(f + 6, frag);
    f[8] = ttl;
    f[9] = proto;
    memcpy(f + 12, s.bytes, 4);
    memcpy(f + 16, d.bytes, 4);
    for (size_t i = 0; i < optlen; i++)
        f[20 + i] = u8(in);
    if (proto == 17)
        put16(l4 + 4, (uint32_t)(l4len + plen));
    memcpy(f + ihl, l4, l4len);
    memcpy(f + ihl + l4len, payload, plen);
    free(payload);
    /* Sometimes the capture is cut short of the datagram. */
    size_t cap = (op & 0x10) && total > 20 ? total - (u8(in) % (total - 19)) : total;
    uint8_t *frame = malloc(cap);
    if (frame == NULL)
        abort();
    memcpy(frame, f, cap);
    free(f);
    deliver_packet(LINK_IPV4, frame, cap, (uint32_t)(total - cap));
    free(frame);
}

static void arp_packet(struct input *in)
{
    uint8_t f[42];
    memset(f, 0xff, 6);
    for (size_t i = 6; i < 12; i++)
        f[i] = (uint8_t)(0x02 + (i == 11 ? u8(in) & 7 : 0));
    put16(f + 12, 0x0806);
    put16(f + 14, 1);               /* Ethernet */
    put16(f + 16, 0x0800);          /* IPv4 */
    f[18] = 6;
    f[19] = 4;
    put16(f + 20, (u8(in) & 1) + 1u);
    uint8_t mac = u8(in);
    for (size_t i = 22; i < 28; i++)
        f[i] = (uint8_t)(i == 27 ? mac : 0x02);
    vigil_addr a;
    pick_addr(u8(in) & 0x47, &a);
    memcpy(f + 28, a.bytes, 4);
    for (size_t i = 32; i < 38; i++)
        f[i] = (u8(in) & 1) ? 0 : 0x02;
    pick_addr(u8(in) & 0x47, &a);
    memcpy(f + 38, a.bytes, 4);
    uint8_t *frame = malloc(sizeof f);
    if (frame == NULL)
        abort();
    memcpy(frame, f, sizeof f);
    deliver_packet(LINK_EN10MB, frame, sizeof f, 0);
    free(frame);
}

static void raw_frame(struct input *in)
{
    static const int dlts[] = { 0, 1, 12, 14, 101, 108, 113, 228, 229, 276 };
    int dlt = dlts[u8(in) % (sizeof dlts / sizeof dlts[0])];
    size_t n;
    uint8_t *frame = take(in, u16(in) % 4096, &n);
    deliver_packet(dlt, frame, n, u8(in));
    free(frame);
}

/* Reassembled streams, held to libnids' order of events. */
static struct stream {
    int open;
    vigil_stream st;
    struct flow *flow;
} g_streams[NSTREAMS];

static void stream_call(struct stream *s, uint32_t event)
{
    s->st.event = event;
    s->st.ts_us = G.now_us;
    /* The flow may have been evicted meanwhile: find or create it again. */
    vigil_ctx ctx = { 1, get_flow(&s->st.client, &s->st.server, s->st.client_port,
                                  s->st.server_port, 6) };
    if (G.cur->on_stream)
        G.cur->on_stream(G.state, &ctx, &s->st);
}

static void stream_event(struct input *in, uint8_t op)
{
    struct stream *s = &g_streams[u8(in) % NSTREAMS];
    if (!s->open) {
        memset(s, 0, sizeof *s);
        s->open = 1;
        s->st.size = sizeof s->st;
        pick_addr(u8(in) & 0x47, &s->st.client);
        pick_addr(u8(in) & 0x47, &s->st.server);
        s->st.client_port = pick_port(in);
        s->st.server_port = pick_port(in);
        stream_call(s, VIGIL_STREAM_ESTABLISHED);
    }
    switch ((op >> 3) & 3) {
    case 0:
    case 1: {
        uint32_t dir = ((op >> 3) & 3) == 0 ? VIGIL_DIR_TO_SERVER : VIGIL_DIR_TO_CLIENT;
        size_t n;
        uint8_t *data = take(in, (op & 0x80) ? u16(in) % 8192 : u8(in), &n);
        if (n > 0) {
            uint64_t *total = dir == VIGIL_DIR_TO_SERVER ? &s->st.bytes_to_server
                                                         : &s->st.bytes_to_client;
            s->st.dir = dir;
            s->st.offset = *total;
            *total += n;
            s->st.data = data;
            s->st.len = (uint32_t)n;
            stream_call(s, VIGIL_STREAM_DATA);
        }
        s->st.data = NULL;
        s->st.len = 0;
        s->st.dir = 0;
        s->st.offset = 0;
        free(data);
        break;
    }
    default: {
        static const uint32_t ends[] = { VIGIL_STREAM_CLOSED, VIGIL_STREAM_RESET,
                                         VIGIL_STREAM_TIMEOUT, VIGIL_STREAM_END };
        stream_call(s, ends[(op >> 5) & 3]);
        s->open = 0;
        break;
    }
    }
}

static void advance(int64_t us)
{
    int64_t before = G.now_us / 1000000;
    G.now_us += us;
    if (G.now_us / 1000000 != before && G.cur->on_tick) {
        vigil_ctx ctx = { 0, NULL };
        G.cur->on_tick(G.state, &ctx, G.now_us / 1000000 * 1000000);
    }
    /* Idle flows leave, as the host's expire at its timeouts. */
    for (size_t i = 0; i < NFLOWS; i++)
        if (G.flows[i].used && G.now_us - G.flows[i].last_us > 600 * 1000000LL)
            free_flow(&G.flows[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!G.loaded)
        load_plugins();
    struct input in = { data, size };
    G.cur = G.so[u8(&in) % G.nso].desc;
    uint8_t mode = u8(&in);
    G.cfg_min = mode & 1;
    G.cfg_str = NULL;
    if (mode & 2) {
        size_t n;
        uint8_t *s = take(&in, u8(&in), &n);
        G.cfg_str = malloc(n + 1);
        if (G.cfg_str == NULL)
            abort();
        memcpy(G.cfg_str, s, n);
        G.cfg_str[n] = '\0';
        free(s);
    }
    G.now_us = 1700000000LL * 1000000;
    memset(G.flows, 0, sizeof G.flows);
    memset(g_streams, 0, sizeof g_streams);
    G.next_evict = 0;
    G.state = NULL;
    vigil_ctx ctx = { 0, NULL };
    if (G.cur->init && G.cur->init(&ctx, &g_api, &G.state) != 0) {
        free(G.cfg_str);        /* refused this configuration: fine */
        return 0;
    }
    while (in.n > 0) {
        uint8_t op = u8(&in);
        advance((int64_t)(op >> 6) * 1000);    /* a little time per record */
        switch (op % 6) {
        case 0:
        case 1: ipv4_packet(&in, op); break;
        case 2: arp_packet(&in); break;
        case 3: raw_frame(&in); break;
        case 4: stream_event(&in, op); break;
        default: advance((int64_t)u16(&in) * 10000); break;
        }
    }
    /* End of input, as the host does it: streams end, on_finish, flows go. */
    for (size_t i = 0; i < NSTREAMS; i++)
        if (g_streams[i].open)
            stream_call(&g_streams[i], VIGIL_STREAM_END);
    if (G.cur->on_finish)
        G.cur->on_finish(G.state, &ctx);
    for (size_t i = 0; i < NFLOWS; i++)
        free_flow(&G.flows[i]);
    if (G.cur->fini)
        G.cur->fini(G.state);
    free(G.cfg_str);
    G.cfg_str = NULL;
    return 0;
}
