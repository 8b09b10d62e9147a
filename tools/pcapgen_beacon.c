/*
 * pcapgen_beacon.c - deterministic captures for the beacon detector.
 *
 *   build/tools/pcapgen_beacon DIR
 *
 * writes DIR/beacon-c2.pcap, DIR/beacon-exfil.pcap and DIR/beacon-benign.pcap.
 * Timestamps start at 1700000000 s, randomness comes from a fixed-seed
 * xorshift generator, checksums are correct and every TCP connection has a
 * full handshake and FIN teardown. 198.18.0.0/16 is the inside and
 * 198.19.0.0/16 plays the Internet (rules/beacon.conf `internal`).
 *
 * Bulk uploads in beacon-exfil.pcap are large segments (as a host capture
 * with segmentation offload shows them) cut to the snap length, so a 60 MB
 * upload fits in a small file: the headers still tell the payload size.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000LL
#define US 1000000LL
#define FULL_SNAPLEN 65535
#define CUT_SNAPLEN 256
#define MAX_FRAME 65600

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* ---- a deterministic random source ---------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* Uniform in [lo, hi]. */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- frames, collected then written in time order --------------------------- */

struct frame {
    int64_t ts_us;
    uint64_t seq;               /* creation order breaks timestamp ties */
    uint32_t wire_len, cap_len;
    uint8_t *data;
};

struct capture {
    struct frame *f;
    size_t n, cap;
    uint64_t seq;
    uint32_t snaplen;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void add_frame(struct capture *c, int64_t ts, const uint8_t *data, uint32_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->f = realloc(c->f, c->cap * sizeof *c->f);
        if (c->f == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    struct frame *f = &c->f[c->n++];
    f->ts_us = ts;
    f->seq = c->seq++;
    f->wire_len = len;
    f->cap_len = len < c->snaplen ? len : c->snaplen;
    f->data = malloc(f->cap_len);
    if (f->data == NULL) {
        perror("malloc");
        exit(1);
    }
    memcpy(f->data, data, f->cap_len);
}

/* One IPv4 packet over Ethernet; l4 holds the TCP/UDP header and payload
 * (checksum field zero), its checksum is filled in here. */
static void ip_packet(struct capture *c, int64_t ts, uint32_t src, uint32_t dst, uint8_t proto,
                      uint8_t *l4, uint32_t l4_len)
{
    static uint8_t frame[MAX_FRAME];
    uint8_t *eth = frame, *ip = frame + 14;
    memset(eth, 0, 14);
    memcpy(eth, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(eth + 6, "\x02\x00\x00\x00\x00\x02", 6);
    put16(eth + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4_len));
    put16(ip + 4, (uint16_t)(c->seq & 0xffff));
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    uint8_t pseudo[12];
    put32(pseudo, src);
    put32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = proto;
    put16(pseudo + 10, (uint16_t)l4_len);
    uint16_t ck = fold(sum16(l4, l4_len, sum16(pseudo, 12, 0)));
    if (proto == 17 && ck == 0)
        ck = 0xffff;
    put16(l4 + (proto == 6 ? 16 : 6), ck);
    memcpy(ip + 20, l4, l4_len);
    add_frame(c, ts, frame, 14 + 20 + l4_len);
}

/* ---- TCP connections ------------------------------------------------------------ */

struct endpoint {
    uint32_t ip;
    uint16_t port;
    uint32_t seq;
};

static void tcp_segment(struct capture *c, int64_t ts, struct endpoint *from, const struct endpoint *to,
                        uint8_t flags, uint32_t len)
{
    static uint8_t l4[MAX_FRAME];
    memset(l4, 0, 20);
    put16(l4, from->port);
    put16(l4 + 2, to->port);
    put32(l4 + 4, from->seq);
    put32(l4 + 8, (flags & 0x10) ? to->seq : 0);
    l4[12] = 5 << 4;
    l4[13] = flags;
    put16(l4 + 14, 64240);
    for (uint32_t i = 0; i < len; i++)
        l4[20 + i] = (uint8_t)('a' + (i % 26));
    ip_packet(c, ts, from->ip, to->ip, 6, l4, 20 + len);
    from->seq += len + ((flags & 0x03) ? 1 : 0);   /* SYN and FIN take a number */
}

/* Send len bytes in segments of at most mss; the peer acknowledges every
 * segment, or every eighth of large (offloaded) ones, and the last. */
static int64_t tcp_send(struct capture *c, int64_t ts, struct endpoint *from, struct endpoint *to,
                        uint64_t len, uint32_t mss, int64_t step_us)
{
    unsigned every = mss > 1448 ? 8 : 1, sent = 0;
    while (len > 0) {
        uint32_t n = len < mss ? (uint32_t)len : mss;
        tcp_segment(c, ts, from, to, 0x18, n);
        len -= n;
        if (++sent % every == 0 || len == 0)
            tcp_segment(c, ts + step_us / 2, to, from, 0x10, 0);
        ts += step_us;
    }
    return ts;
}

struct conn_spec {
    uint32_t client, server;
    uint16_t cport, sport;
    uint64_t up, down;          /* payload bytes each way */
    uint32_t up_mss;            /* segment size of the upload */
    int64_t rtt_us, step_us;
};

/* A whole connection starting at ts: handshake, request, response, FINs. */
static void tcp_conn(struct capture *c, int64_t ts, const struct conn_spec *s, struct rng *r)
{
    struct endpoint cli = { s->client, s->cport, (uint32_t)rng_next(r) };
    struct endpoint srv = { s->server, s->sport, (uint32_t)rng_next(r) };
    int64_t half = s->rtt_us / 2;
    tcp_segment(c, ts, &cli, &srv, 0x02, 0);
    tcp_segment(c, ts + half, &srv, &cli, 0x12, 0);
    tcp_segment(c, ts + s->rtt_us, &cli, &srv, 0x10, 0);
    ts += s->rtt_us + 1000;
    ts = tcp_send(c, ts, &cli, &srv, s->up, s->up_mss, s->step_us);
    ts = tcp_send(c, ts + half, &srv, &cli, s->down, 1448, s->step_us);
    tcp_segment(c, ts + 1000, &cli, &srv, 0x11, 0);
    tcp_segment(c, ts + 1000 + half, &srv, &cli, 0x11, 0);
    tcp_segment(c, ts + 1000 + s->rtt_us, &cli, &srv, 0x10, 0);
}

static uint16_t ephemeral(struct rng *r)
{
    return (uint16_t)rng_range(r, 32768, 60999);
}

/* A small request and response, as a web call or a C2 check-in makes. */
static void small_conn(struct capture *c, struct rng *r, int64_t ts, uint32_t client, uint32_t server,
                       uint16_t port, uint64_t up, uint64_t down)
{
    struct conn_spec s = { client, server, ephemeral(r), port, up, down, 1448, 20000, 2000 };
    tcp_conn(c, ts, &s, r);
}

/* A UDP request and its answer. */
static void udp_exchange(struct capture *c, struct rng *r, int64_t ts, uint32_t client, uint32_t server,
                         uint16_t port, uint32_t len)
{
    static uint8_t l4[1500];
    uint16_t cport = ephemeral(r);
    memset(l4, 0, 8 + len);
    put16(l4, cport);
    put16(l4 + 2, port);
    put16(l4 + 4, (uint16_t)(8 + len));
    ip_packet(c, ts, client, server, 17, l4, 8 + len);
    memset(l4, 0, 8 + len);
    put16(l4, port);
    put16(l4 + 2, cport);
    put16(l4 + 4, (uint16_t)(8 + len));
    ip_packet(c, ts + 15000, server, client, 17, l4, 8 + len);
}

/* ---- traffic patterns --------------------------------------------------------- */

/* Irregular browsing: visits at random gaps, 1-3 connections each, to a few sites. */
static void browsing(struct capture *c, struct rng *r, uint32_t client, int64_t start, int64_t end)
{
    for (int64_t ts = start + rng_range(r, 0, 20 * US); ts < end; ts += rng_range(r, 10 * US, 200 * US)) {
        uint32_t site = IP4(198, 19, 10, (uint8_t)rng_range(r, 1, 8));
        int n = (int)rng_range(r, 1, 3);
        for (int i = 0; i < n; i++)
            small_conn(c, r, ts + rng_range(r, 0, 400000), client, site, i == 2 ? 80 : 443,
                       (uint64_t)rng_range(r, 100, 400), (uint64_t)rng_range(r, 300, 1500));
    }
}

/* A client that calls the same server every period_us +- jitter_us. */
static void periodic(struct capture *c, struct rng *r, uint32_t client, uint32_t server, uint16_t port,
                     int64_t start, int64_t end, int64_t period_us, int64_t jitter_us)
{
    for (int64_t ts = start; ts < end; ts += period_us + rng_range(r, -jitter_us, jitter_us))
        small_conn(c, r, ts, client, server, port, (uint64_t)rng_range(r, 150, 220),
                   (uint64_t)rng_range(r, 300, 500));
}

/* ---- output ------------------------------------------------------------------- */

static int frame_cmp(const void *a, const void *b)
{
    const struct frame *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int write_capture(struct capture *c, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    qsort(c->f, c->n, sizeof *c->f, frame_cmp);
    pcap_t *p = pcap_open_dead(DLT_EN10MB, (int)c->snaplen);
    pcap_dumper_t *d = p ? pcap_dump_open(p, path) : NULL;
    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", path, p ? pcap_geterr(p) : "pcap_open_dead failed");
        if (p)
            pcap_close(p);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof h);
        h.ts.tv_sec = (time_t)(c->f[i].ts_us / US);
        h.ts.tv_usec = (suseconds_t)(c->f[i].ts_us % US);
        h.caplen = c->f[i].cap_len;
        h.len = c->f[i].wire_len;
        pcap_dump((u_char *)d, &h, c->f[i].data);
        free(c->f[i].data);
    }
    pcap_dump_close(d);
    pcap_close(p);
    printf("%s: %zu packets\n", path, c->n);
    free(c->f);
    c->f = NULL;
    c->n = c->cap = 0;
    return 0;
}

/* ---- the three captures ---------------------------------------------------------- */

/* One infected host checks in every 30 s +- 1 s for an hour, among browsing. */
static void make_c2(struct capture *c)
{
    struct rng r = { 0x9e3779b97f4a7c15ULL };
    int64_t t0 = T0 * US, end = t0 + 3600 * US;
    periodic(c, &r, IP4(198, 18, 5, 20), IP4(198, 19, 66, 6), 443, t0 + 7 * US, end, 30 * US, US);
    browsing(c, &r, IP4(198, 18, 5, 20), t0, end);
    browsing(c, &r, IP4(198, 18, 5, 21), t0, end);
    /* an internal client fetching a page from an internal server every ~1.3 s */
    periodic(c, &r, IP4(198, 18, 5, 30), IP4(198, 18, 1, 10), 80, t0, t0 + 180 * US, 1300000, 100000);
}

/* Small hourly uploads for eight hours, then 60 MB in one go. */
static void make_exfil(struct capture *c)
{
    struct rng r = { 0x243f6a8885a308d3ULL };
    int64_t t0 = T0 * US;
    uint32_t victim = IP4(198, 18, 7, 40), other = IP4(198, 18, 7, 41);
    for (int hour = 0; hour < 9; hour++) {
        int64_t h0 = t0 + hour * 3600 * US;
        int uploads = (int)rng_range(&r, 3, 5);
        for (int i = 0; i < uploads; i++) {
            struct conn_spec s = { victim, IP4(198, 19, 20, 5), ephemeral(&r), 443,
                                   (uint64_t)rng_range(&r, 60000, 140000), 2000, 16000, 20000, 5000 };
            tcp_conn(c, h0 + rng_range(&r, 0, 3500) * US, &s, &r);
            s.client = other;
            s.cport = ephemeral(&r);
            tcp_conn(c, h0 + rng_range(&r, 0, 3500) * US, &s, &r);
        }
    }
    /* the spike: 60 MB to a host the victim never talked to */
    struct conn_spec big = { victim, IP4(198, 19, 99, 9), 51515, 443, 60 * 1000 * 1000, 4000,
                             64000, 30000, 400000 };
    tcp_conn(c, t0 + (8 * 3600 + 1800) * US, &big, &r);
    /* a large transfer inside the network: a backup, not exfiltration */
    big.client = other;
    big.server = IP4(198, 18, 1, 20);
    big.up = 30 * 1000 * 1000;
    tcp_conn(c, t0 + (8 * 3600 + 1900) * US, &big, &r);
}

/* Periodic but harmless: resolvers, NTP, internal polling, fast polling. */
static void make_benign(struct capture *c)
{
    struct rng r = { 0x13198a2e03707344ULL };
    int64_t t0 = T0 * US, end = t0 + 3600 * US;
    uint32_t a = IP4(198, 18, 9, 10);
    browsing(c, &r, a, t0, end);
    browsing(c, &r, IP4(198, 18, 9, 11), t0, end);
    for (int64_t ts = t0 + 3 * US; ts < end; ts += 30 * US)
        udp_exchange(c, &r, ts, a, IP4(198, 19, 0, 53), 53, 40);
    for (int64_t ts = t0 + 5 * US; ts < end; ts += 64 * US)
        udp_exchange(c, &r, ts, a, IP4(198, 19, 0, 123), 123, 48);
    periodic(c, &r, IP4(198, 18, 9, 11), IP4(198, 18, 1, 10), 8080, t0, end, 20 * US, 0);
    periodic(c, &r, IP4(198, 18, 9, 12), IP4(198, 18, 1, 10), 80, t0, t0 + 180 * US, 1300000, 100000);
    periodic(c, &r, IP4(198, 18, 9, 13), IP4(198, 19, 30, 3), 443, t0, t0 + 180 * US, 1500000, 200000);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    struct capture c;
    memset(&c, 0, sizeof c);
    c.snaplen = FULL_SNAPLEN;
    make_c2(&c);
    if (write_capture(&c, argv[1], "beacon-c2.pcap") < 0)
        return 1;
    c.snaplen = CUT_SNAPLEN;
    make_exfil(&c);
    if (write_capture(&c, argv[1], "beacon-exfil.pcap") < 0)
        return 1;
    c.snaplen = FULL_SNAPLEN;
    make_benign(&c);
    if (write_capture(&c, argv[1], "beacon-benign.pcap") < 0)
        return 1;
    return 0;
}
