/*
 * gen_pcaps.c - write the reference captures in pcaps/.
 *
 *   build/tools/gen_pcaps DIR
 *
 * Every capture is built from scratch here: fixed timestamps from
 * 2023-11-14 22:13:20 UTC (1700000000 s) and a fixed-seed PRNG, so two runs
 * give byte-identical files. All IPv4/TCP/UDP/ICMP checksums are correct,
 * except where a malformed frame breaks a header on purpose. Addresses are
 * from 198.18.0.0/15 and 2001:db8::/32 only. pcaps/README.md describes
 * every file and what the sensor is expected to report for it.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define EPOCH_US (1700000000ull * 1000000ull)
#define SNAPLEN 262144
#define MSS 1448

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define IP4(a, b, c, d) \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ------------------------------------------------------------------ */
/* Deterministic state: clock, PRNG, IP identification counter.        */

static uint64_t g_now = EPOCH_US;
static uint64_t g_rng = 0x5eed5eed12345678ull;
static uint16_t g_ipid = 0x1000;
static const char *g_dir;

static void clock_set(uint64_t offset_us)
{
    g_now = EPOCH_US + offset_us;
}

static void adv(uint64_t us)
{
    g_now += us;
}

static uint32_t rnd(void)
{
    /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi)
{
    return lo + rnd() % (hi - lo + 1);
}

/* ------------------------------------------------------------------ */
/* Byte helpers and checksums.                                         */

static void be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ------------------------------------------------------------------ */
/* Output files and link-layer framing.                                */

#define MAX_TAGS 9

struct out {
    pcap_t *p;
    pcap_dumper_t *d;
    int dlt;
    int ntags;
    uint16_t tpid[MAX_TAGS];
    uint16_t vid[MAX_TAGS];
};

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "gen_pcaps: %s: %s\n", what, detail);
    exit(1);
}

static void out_open(struct out *o, const char *name, int dlt)
{
    char path[4096];

    memset(o, 0, sizeof *o);
    o->dlt = dlt;
    o->p = pcap_open_dead(dlt, SNAPLEN);
    if (!o->p)
        die(name, "pcap_open_dead failed");
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    o->d = pcap_dump_open(o->p, path);
    if (!o->d)
        die(path, pcap_geterr(o->p));
}

static void out_close(struct out *o)
{
    if (pcap_dump_flush(o->d) != 0)
        die("flush", "write failed");
    pcap_dump_close(o->d);
    pcap_close(o->p);
}

/* Write one record; wirelen may exceed caplen for a snapped frame. */
static void put_rec(struct out *o, const uint8_t *f, size_t caplen, size_t wirelen)
{
    struct pcap_pkthdr h;

    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)(g_now / 1000000u);
    h.ts.tv_usec = (suseconds_t)(g_now % 1000000u);
    h.caplen = (bpf_u_int32)caplen;
    h.len = (bpf_u_int32)wirelen;
    pcap_dump((u_char *)o->d, &h, f);
}

/* Locally administered MAC derived from an IPv4 address. */
static void mac_of(uint8_t *m, uint32_t ip)
{
    m[0] = 0x02;
    m[1] = 0x00;
    be32(m + 2, ip);
}

static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Ethernet frame with the out's VLAN tags; payload after the ethertype. */
static void emit_eth(struct out *o, const uint8_t *dst, const uint8_t *src, uint16_t type,
                     const uint8_t *pl, size_t n)
{
    static uint8_t f[70000];
    size_t off = 12;
    int i;

    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    for (i = 0; i < o->ntags; i++) {
        be16(f + off, o->tpid[i]);
        be16(f + off + 2, o->vid[i]);
        off += 4;
    }
    be16(f + off, type);
    off += 2;
    memcpy(f + off, pl, n);
    put_rec(o, f, off + n, off + n);
}

/* Emit an IPv4 or IPv6 packet framed for the out's link type. */
static void emit_ip(struct out *o, const uint8_t *l3, size_t n)
{
    static uint8_t f[70000];
    uint8_t smac[6], dmac[6];
    int v6 = (l3[0] >> 4) == 6;
    uint32_t src, dst, af;
    size_t off = 0;

    if (v6) {
        src = (uint32_t)l3[20] << 24 | (uint32_t)l3[21] << 16 | (uint32_t)l3[22] << 8 | l3[23];
        dst = (uint32_t)l3[36] << 24 | (uint32_t)l3[37] << 16 | (uint32_t)l3[38] << 8 | l3[39];
    } else {
        src = (uint32_t)l3[12] << 24 | (uint32_t)l3[13] << 16 | (uint32_t)l3[14] << 8 | l3[15];
        dst = (uint32_t)l3[16] << 24 | (uint32_t)l3[17] << 16 | (uint32_t)l3[18] << 8 | l3[19];
    }
    mac_of(smac, src);
    mac_of(dmac, dst);
    switch (o->dlt) {
    case DLT_EN10MB:
        emit_eth(o, dmac, smac, v6 ? 0x86dd : 0x0800, l3, n);
        return;
    case DLT_LINUX_SLL:
        be16(f, src < dst ? 4 : 0);       /* outgoing / to us */
        be16(f + 2, 1);                   /* ARPHRD_ETHER */
        be16(f + 4, 6);
        memset(f + 6, 0, 8);
        memcpy(f + 6, smac, 6);
        be16(f + 14, v6 ? 0x86dd : 0x0800);
        off = 16;
        break;
    case DLT_LINUX_SLL2:
        be16(f, v6 ? 0x86dd : 0x0800);
        be16(f + 2, 0);
        be32(f + 4, 2);                   /* interface index */
        be16(f + 8, 1);                   /* ARPHRD_ETHER */
        f[10] = src < dst ? 4 : 0;
        f[11] = 6;
        memset(f + 12, 0, 8);
        memcpy(f + 12, smac, 6);
        off = 20;
        break;
    case DLT_NULL:
        af = 2;                           /* AF_INET, host byte order */
        memcpy(f, &af, 4);
        off = 4;
        break;
    case DLT_LOOP:
        be32(f, 2);                       /* AF_INET, network byte order */
        off = 4;
        break;
    case DLT_RAW:
    case DLT_IPV4:
        break;
    default:
        die("emit_ip", "unsupported link type");
    }
    memcpy(f + off, l3, n);
    put_rec(o, f, off + n, off + n);
}

/* ------------------------------------------------------------------ */
/* L3/L4 builders. Each writes a whole IP packet and returns its size. */

static void ip4_hdr(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len,
                    uint8_t ttl)
{
    b[0] = 0x45;
    b[1] = 0;
    be16(b + 2, (uint32_t)(20 + l4len));
    be16(b + 4, g_ipid++);
    be16(b + 6, 0x4000);                  /* DF */
    b[8] = ttl;
    b[9] = proto;
    be16(b + 10, 0);
    be32(b + 12, src);
    be32(b + 16, dst);
    be16(b + 10, csum_fold(csum_add(0, b, 20)));
}

/* L4 checksum with the IPv4 pseudo-header; b is the IP packet. */
static void l4_csum4(uint8_t *b, size_t l4len, size_t csum_off)
{
    uint8_t ph[12];
    uint32_t s;
    uint16_t c;

    memcpy(ph, b + 12, 8);
    ph[8] = 0;
    ph[9] = b[9];
    be16(ph + 10, (uint32_t)l4len);
    be16(b + 20 + csum_off, 0);
    s = csum_add(0, ph, 12);
    s = csum_add(s, b + 20, l4len);
    c = csum_fold(s);
    if (c == 0 && b[9] == 17)
        c = 0xffff;
    be16(b + 20 + csum_off, c);
}

static size_t tcp_hdr(uint8_t *t, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                      uint8_t fl, uint16_t win, const uint8_t *opt, size_t olen,
                      const void *pl, size_t plen)
{
    size_t hl = 20 + olen;

    be16(t, sp);
    be16(t + 2, dp);
    be32(t + 4, seq);
    be32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = fl;
    be16(t + 14, win);
    be16(t + 16, 0);
    be16(t + 18, 0);
    if (olen)
        memcpy(t + 20, opt, olen);
    if (plen)
        memcpy(t + hl, pl, plen);
    return hl + plen;
}

static size_t mk_tcp4(uint8_t *b, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp,
                      uint32_t seq, uint32_t ack, uint8_t fl, uint16_t win,
                      const uint8_t *opt, size_t olen, const void *pl, size_t plen, uint8_t ttl)
{
    size_t l4 = tcp_hdr(b + 20, sp, dp, seq, ack, fl, win, opt, olen, pl, plen);

    ip4_hdr(b, s, d, 6, l4, ttl);
    l4_csum4(b, l4, 16);
    return 20 + l4;
}

static size_t mk_udp4(uint8_t *b, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp,
                      const void *pl, size_t plen)
{
    uint8_t *u = b + 20;

    be16(u, sp);
    be16(u + 2, dp);
    be16(u + 4, (uint32_t)(8 + plen));
    be16(u + 6, 0);
    if (plen)
        memcpy(u + 8, pl, plen);
    ip4_hdr(b, s, d, 17, 8 + plen, 64);
    l4_csum4(b, 8 + plen, 6);
    return 28 + plen;
}

static size_t mk_icmp4(uint8_t *b, uint32_t s, uint32_t d, uint8_t type, uint8_t code,
                       uint32_t rest, const void *pl, size_t plen)
{
    uint8_t *c = b + 20;

    c[0] = type;
    c[1] = code;
    be16(c + 2, 0);
    be32(c + 4, rest);
    if (plen)
        memcpy(c + 8, pl, plen);
    be16(c + 2, csum_fold(csum_add(0, c, 8 + plen)));
    ip4_hdr(b, s, d, 1, 8 + plen, 64);
    return 28 + plen;
}

static void ip6_addr(uint8_t *a, uint32_t low)
{
    static const uint8_t pfx[4] = { 0x20, 0x01, 0x0d, 0xb8 };

    memset(a, 0, 16);
    memcpy(a, pfx, 4);
    be32(a + 12, low);
}

static size_t mk_tcp6(uint8_t *b, const uint8_t *s, const uint8_t *d, uint16_t sp, uint16_t dp,
                      uint32_t seq, uint32_t ack, uint8_t fl, uint16_t win,
                      const uint8_t *opt, size_t olen, const void *pl, size_t plen)
{
    size_t l4 = tcp_hdr(b + 40, sp, dp, seq, ack, fl, win, opt, olen, pl, plen);
    uint8_t ph[8];
    uint32_t sum;

    be32(b, 0x60000000u | 0x12345u);      /* version 6, flow label */
    be16(b + 4, (uint32_t)l4);
    b[6] = 6;
    b[7] = 64;
    memcpy(b + 8, s, 16);
    memcpy(b + 24, d, 16);
    be32(ph, (uint32_t)l4);
    ph[4] = ph[5] = ph[6] = 0;
    ph[7] = 6;
    sum = csum_add(0, b + 8, 32);
    sum = csum_add(sum, ph, 8);
    sum = csum_add(sum, b + 40, l4);
    be16(b + 40 + 16, csum_fold(sum));
    return 40 + l4;
}

/* ------------------------------------------------------------------ */
/* TCP connections.                                                    */

struct conn {
    struct out *o;
    int v6;
    uint32_t cip, sip;
    uint8_t c6[16], s6[16];
    uint16_t cport, sport;
    uint32_t cseq, sseq;      /* next sequence number each side sends */
    uint32_t rtt;             /* microseconds */
};

static const uint8_t syn_opts[12] = { 2, 4, MSS >> 8, MSS & 0xff, 1, 1, 4, 2, 1, 3, 3, 0 };

static void conn_init(struct conn *c, struct out *o, uint32_t cip, uint16_t cport,
                      uint32_t sip, uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->cip = cip;
    c->sip = sip;
    c->cport = cport;
    c->sport = sport;
    c->cseq = rnd();
    c->sseq = rnd();
    c->rtt = rnd_range(800, 30000);
}

/* One segment; advances that side's sequence number. */
static void seg(struct conn *c, int from_srv, uint8_t fl, const uint8_t *opt, size_t olen,
                const void *pl, size_t n)
{
    static uint8_t b[70000];
    uint32_t *seq = from_srv ? &c->sseq : &c->cseq;
    uint32_t ack = (fl & TH_ACK) ? (from_srv ? c->cseq : c->sseq) : 0;
    uint16_t win = from_srv ? 65160 : 64240;
    size_t len;

    if (c->v6)
        len = mk_tcp6(b, from_srv ? c->s6 : c->c6, from_srv ? c->c6 : c->s6,
                      from_srv ? c->sport : c->cport, from_srv ? c->cport : c->sport,
                      *seq, ack, fl, win, opt, olen, pl, n);
    else
        len = mk_tcp4(b, from_srv ? c->sip : c->cip, from_srv ? c->cip : c->sip,
                      from_srv ? c->sport : c->cport, from_srv ? c->cport : c->sport,
                      *seq, ack, fl, win, opt, olen, pl, n, 64);
    emit_ip(c->o, b, len);
    *seq += (uint32_t)n + ((fl & TH_SYN) ? 1u : 0u) + ((fl & TH_FIN) ? 1u : 0u);
}

static void conn_open(struct conn *c)
{
    seg(c, 0, TH_SYN, syn_opts, sizeof syn_opts, NULL, 0);
    adv(c->rtt / 2);
    seg(c, 1, TH_SYN | TH_ACK, syn_opts, sizeof syn_opts, NULL, 0);
    adv(c->rtt / 2);
    seg(c, 0, TH_ACK, NULL, 0, NULL, 0);
    adv(200);
}

/* Send n bytes from one side in MSS segments; the peer ACKs every second. */
static void conn_send(struct conn *c, int from_srv, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t off = 0, k;
    int nseg = 0;

    while (off < n) {
        k = n - off > MSS ? MSS : n - off;
        seg(c, from_srv, TH_ACK | (off + k == n ? TH_PSH : 0), NULL, 0, p + off, k);
        off += k;
        adv(30);
        if (++nseg % 2 == 0 || off == n) {
            adv(c->rtt / 2);
            seg(c, !from_srv, TH_ACK, NULL, 0, NULL, 0);
            adv(100);
        }
    }
}

/* Client closes first; both FINs are acknowledged. */
static void conn_close(struct conn *c)
{
    seg(c, 0, TH_FIN | TH_ACK, NULL, 0, NULL, 0);
    adv(c->rtt / 2);
    seg(c, 1, TH_ACK, NULL, 0, NULL, 0);
    adv(50);
    seg(c, 1, TH_FIN | TH_ACK, NULL, 0, NULL, 0);
    adv(c->rtt / 2);
    seg(c, 0, TH_ACK, NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Application payloads.                                               */

static size_t http_request(char *buf, size_t cap, int n)
{
    int k = snprintf(buf, cap,
                     "GET /articles/%d/index.html HTTP/1.1\r\n"
                     "Host: www%d.example.com\r\n"
                     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
                     "Accept: text/html,application/xhtml+xml\r\n"
                     "Accept-Language: en-US,en;q=0.5\r\n"
                     "Connection: keep-alive\r\n\r\n",
                     1000 + n, n % 20 + 1);
    return (size_t)k;
}

/* A response whose total length is about want bytes. */
static size_t http_response(char *buf, size_t cap, size_t want)
{
    static const char words[] =
        "<p>The quick brown fox jumps over the lazy dog near the river bank.</p>\n";
    char hdr[256];
    size_t body, hl, i;

    body = want > 300 ? want - 160 : 140;
    hl = (size_t)snprintf(hdr, sizeof hdr,
                          "HTTP/1.1 200 OK\r\n"
                          "Server: nginx/1.24.0\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "Content-Length: %zu\r\n\r\n", body);
    if (hl + body > cap)
        die("http_response", "buffer too small");
    memcpy(buf, hdr, hl);
    for (i = 0; i < body; i++)
        buf[hl + i] = words[i % (sizeof words - 1)];
    return hl + body;
}

/* A complete HTTP/1.1 exchange on one connection; resp_segs is 1..3. */
static void http_session(struct out *o, uint32_t cip, uint16_t cport, uint32_t sip, int n,
                         int resp_segs)
{
    static char req[1024], resp[8192];
    struct conn c;
    size_t rq, rs;

    conn_init(&c, o, cip, cport, sip, 80);
    conn_open(&c);
    rq = http_request(req, sizeof req, n);
    conn_send(&c, 0, req, rq);
    adv(c.rtt);
    rs = http_response(resp, sizeof resp, (size_t)(resp_segs - 1) * MSS + 400 + (size_t)(n * 37 % 900));
    conn_send(&c, 1, resp, rs);
    adv(5000);
    conn_close(&c);
}

static size_t dns_name(uint8_t *p, const char *name)
{
    size_t off = 0;
    const char *s = name, *dot;

    while (*s) {
        dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        p[off++] = (uint8_t)l;
        memcpy(p + off, s, l);
        off += l;
        s += l;
        if (*s == '.')
            s++;
    }
    p[off++] = 0;
    return off;
}

/* A DNS A query and its answer over UDP. */
static void dns_exchange(struct out *o, uint32_t cli, uint32_t srv, const char *name,
                         uint32_t answer)
{
    static uint8_t q[512], r[512], b[2048];
    uint16_t id = (uint16_t)rnd(), sp = (uint16_t)rnd_range(32768, 60999);
    size_t ql, rl, nl;

    be16(q, id);
    be16(q + 2, 0x0100);                  /* RD */
    be16(q + 4, 1);
    be16(q + 6, 0);
    be16(q + 8, 0);
    be16(q + 10, 0);
    nl = dns_name(q + 12, name);
    be16(q + 12 + nl, 1);                 /* A */
    be16(q + 14 + nl, 1);                 /* IN */
    ql = 16 + nl;
    memcpy(r, q, ql);
    be16(r + 2, 0x8180);                  /* QR RD RA, NOERROR */
    be16(r + 6, 1);
    rl = ql;
    be16(r + rl, 0xc00c);
    be16(r + rl + 2, 1);
    be16(r + rl + 4, 1);
    be32(r + rl + 6, 300);
    be16(r + rl + 10, 4);
    be32(r + rl + 12, answer);
    rl += 16;
    emit_ip(o, b, mk_udp4(b, cli, srv, sp, 53, q, ql));
    adv(rnd_range(1500, 9000));
    emit_ip(o, b, mk_udp4(b, srv, cli, 53, sp, r, rl));
}

/* Echo request/reply pairs, 56 data bytes as ping(8) sends. */
static void ping(struct out *o, uint32_t src, uint32_t dst, uint16_t id, int count)
{
    static uint8_t b[256];
    uint8_t data[56];
    int i, s;

    for (s = 1; s <= count; s++) {
        be32(data, (uint32_t)(g_now / 1000000u));
        be32(data + 4, (uint32_t)(g_now % 1000000u));
        for (i = 8; i < 56; i++)
            data[i] = (uint8_t)i;
        emit_ip(o, b, mk_icmp4(b, src, dst, 8, 0, (uint32_t)id << 16 | (uint32_t)s, data, 56));
        adv(rnd_range(400, 2000));
        emit_ip(o, b, mk_icmp4(b, dst, src, 0, 0, (uint32_t)id << 16 | (uint32_t)s, data, 56));
        adv(1000000);
    }
}

static void arp_frame(uint8_t *a, uint16_t op, const uint8_t *sha, uint32_t spa,
                      const uint8_t *tha, uint32_t tpa)
{
    be16(a, 1);
    be16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    be16(a + 6, op);
    memcpy(a + 8, sha, 6);
    be32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    be32(a + 24, tpa);
}

static void arp_exchange(struct out *o, uint32_t asker, uint32_t target)
{
    static const uint8_t zero[6] = { 0 };
    uint8_t a[28], ma[6], mt[6];

    mac_of(ma, asker);
    mac_of(mt, target);
    arp_frame(a, 1, ma, asker, zero, target);
    emit_eth(o, mac_bcast, ma, 0x0806, a, 28);
    adv(350);
    arp_frame(a, 2, mt, target, ma, asker);
    emit_eth(o, ma, mt, 0x0806, a, 28);
}

/* ------------------------------------------------------------------ */
/* The captures.                                                       */

static void background(struct out *o)
{
    dns_exchange(o, IP4(198, 18, 0, 100), IP4(198, 18, 0, 53), "www.example.com", IP4(198, 18, 2, 1));
    adv(rnd_range(100000, 900000));
}

static void gen_scan_syn(void)
{
    static uint8_t b[256];
    struct out o;
    uint32_t scan = IP4(198, 18, 7, 7), tgt = IP4(198, 18, 0, 10);
    uint16_t ports[200], sp = 54321;
    const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };
    int i, j;

    clock_set(0);
    out_open(&o, "scan-syn.pcap", DLT_EN10MB);
    for (i = 0; i < 200; i++)
        ports[i] = (uint16_t)(i + 1);
    for (i = 199; i > 0; i--) {           /* scan order is shuffled */
        j = (int)(rnd() % (uint32_t)(i + 1));
        uint16_t t = ports[i];
        ports[i] = ports[j];
        ports[j] = t;
    }
    background(&o);
    ping(&o, IP4(198, 18, 0, 101), IP4(198, 18, 2, 2), 0x2a01, 2);
    for (i = 0; i < 200; i++) {
        uint32_t iss = rnd(), srv_iss = rnd();
        uint16_t dp = ports[i];

        emit_ip(&o, b, mk_tcp4(b, scan, tgt, sp, dp, iss, 0, TH_SYN, 1024, mss_opt, 4, NULL, 0, 41));
        adv(rnd_range(300, 900));
        if (dp == 22 || dp == 80) {
            emit_ip(&o, b, mk_tcp4(b, tgt, scan, dp, sp, srv_iss, iss + 1, TH_SYN | TH_ACK, 64240,
                                   mss_opt, 4, NULL, 0, 64));
            adv(rnd_range(100, 300));
            emit_ip(&o, b, mk_tcp4(b, scan, tgt, sp, dp, iss + 1, 0, TH_RST, 0, NULL, 0, NULL, 0, 41));
        } else {
            emit_ip(&o, b, mk_tcp4(b, tgt, scan, dp, sp, 0, iss + 1, TH_RST | TH_ACK, 0, NULL, 0,
                                   NULL, 0, 64));
        }
        adv(rnd_range(45000, 52000));
        if (i == 100)
            background(&o);
    }
    dns_exchange(&o, IP4(198, 18, 0, 102), IP4(198, 18, 0, 53), "mail.example.org", IP4(198, 18, 2, 3));
    out_close(&o);
}

static void stealth_scan(struct out *o, uint32_t scan, uint32_t tgt, uint8_t flags, uint16_t sp)
{
    static uint8_t b[256];
    int p;

    for (p = 1; p <= 100; p++) {
        uint32_t seq = rnd();

        emit_ip(o, b, mk_tcp4(b, scan, tgt, sp, (uint16_t)p, seq, 0, flags, 1024, NULL, 0, NULL, 0, 44));
        adv(rnd_range(200, 700));
        if (p != 22 && p != 80)           /* closed ports answer RST/ACK */
            emit_ip(o, b, mk_tcp4(b, tgt, scan, (uint16_t)p, sp, 0,
                                  seq + ((flags & TH_FIN) ? 1u : 0u), TH_RST | TH_ACK, 0,
                                  NULL, 0, NULL, 0, 64));
        adv(rnd_range(18000, 22000));
    }
}

static void gen_scan_stealth(void)
{
    static uint8_t b[256], ic[128];
    struct out o;
    uint32_t tcp_tgt = IP4(198, 18, 0, 11), udp_scan = IP4(198, 18, 7, 11),
             udp_tgt = IP4(198, 18, 0, 12);
    int p;

    clock_set(0);
    out_open(&o, "scan-stealth.pcap", DLT_EN10MB);
    background(&o);
    stealth_scan(&o, IP4(198, 18, 7, 8), tcp_tgt, TH_FIN, 61001);
    adv(500000);
    stealth_scan(&o, IP4(198, 18, 7, 9), tcp_tgt, 0, 61002);
    adv(500000);
    background(&o);
    stealth_scan(&o, IP4(198, 18, 7, 10), tcp_tgt, TH_FIN | TH_PSH | TH_URG, 61003);
    adv(500000);
    for (p = 1; p <= 100; p++) {
        size_t n = mk_udp4(b, udp_scan, udp_tgt, 50555, (uint16_t)(1000 + p), NULL, 0);

        emit_ip(&o, b, n);
        adv(rnd_range(300, 800));
        memcpy(ic, b, 28);                /* original IP header + 8 bytes */
        emit_ip(&o, b, mk_icmp4(b, udp_tgt, udp_scan, 3, 3, 0, ic, 28));
        adv(rnd_range(18000, 22000));
    }
    background(&o);
    out_close(&o);
}

static void gen_sweep(void)
{
    static uint8_t b[256];
    const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };
    struct out o;
    uint32_t scan = IP4(198, 18, 7, 12);
    int h;

    clock_set(0);
    out_open(&o, "sweep.pcap", DLT_EN10MB);
    background(&o);
    for (h = 1; h <= 60; h++) {
        uint32_t dst = IP4(198, 18, 1, h), seq = rnd();

        emit_ip(&o, b, mk_tcp4(b, scan, dst, 47000, 445, seq, 0, TH_SYN, 1024, mss_opt, 4, NULL, 0, 45));
        adv(rnd_range(300, 900));
        if (h == 7 || h == 23 || h == 42)
            emit_ip(&o, b, mk_tcp4(b, dst, scan, 445, 47000, 0, seq + 1, TH_RST | TH_ACK, 0,
                                   NULL, 0, NULL, 0, 128));
        adv(rnd_range(95000, 102000));
    }
    background(&o);
    out_close(&o);
}

static void ipv6_session(struct out *o)
{
    static char req[512], resp[4096];
    struct conn c;
    size_t i;

    conn_init(&c, o, 0, 51443, 0, 443);
    c.v6 = 1;
    ip6_addr(c.c6, 1);
    ip6_addr(c.s6, 2);
    conn_open(&c);
    /* Opaque bytes shaped like TLS records. */
    req[0] = 0x16, req[1] = 0x03, req[2] = 0x01, req[3] = 0x01, req[4] = 0x00;
    for (i = 5; i < 261; i++)
        req[i] = (char)(rnd() & 0xff);
    conn_send(&c, 0, req, 261);
    adv(c.rtt);
    resp[0] = 0x16, resp[1] = 0x03, resp[2] = 0x03, resp[3] = 0x0b, resp[4] = 0xb8;
    for (i = 5; i < 3005; i++)
        resp[i] = (char)(rnd() & 0xff);
    conn_send(&c, 1, resp, 3005);
    adv(20000);
    conn_close(&c);
}

static void gen_benign(void)
{
    struct out o, ov, oq;
    int i;

    clock_set(0);
    out_open(&o, "benign.pcap", DLT_EN10MB);
    arp_exchange(&o, IP4(198, 18, 0, 100), IP4(198, 18, 0, 1));
    adv(2000);
    dns_exchange(&o, IP4(198, 18, 0, 100), IP4(198, 18, 0, 53), "www1.example.com", IP4(198, 18, 2, 1));
    adv(3000);
    for (i = 0; i < 20; i++) {
        http_session(&o, IP4(198, 18, 0, 100 + i % 5), (uint16_t)(40000 + i * 7),
                     IP4(198, 18, 2, 1 + i), i, 1 + i % 3);
        adv(rnd_range(50000, 400000));
        if (i % 4 == 1) {
            char name[64];

            snprintf(name, sizeof name, "www%d.example.com", i + 2);
            dns_exchange(&o, IP4(198, 18, 0, 100 + i % 5), IP4(198, 18, 0, 53), name,
                         IP4(198, 18, 2, 2 + i));
            adv(rnd_range(1000, 5000));
        }
        if (i == 9)
            ping(&o, IP4(198, 18, 0, 102), IP4(198, 18, 2, 5), 0x4d2, 3);
    }
    ipv6_session(&o);
    adv(200000);
    ov = o;
    ov.ntags = 1;
    ov.tpid[0] = 0x8100;
    ov.vid[0] = 100;
    http_session(&ov, IP4(198, 18, 0, 105), 41000, IP4(198, 18, 2, 21), 21, 2);
    adv(200000);
    oq = o;
    oq.ntags = 2;
    oq.tpid[0] = 0x88a8;
    oq.vid[0] = 200;
    oq.tpid[1] = 0x8100;
    oq.vid[1] = 300;
    http_session(&oq, IP4(198, 18, 0, 106), 41001, IP4(198, 18, 2, 22), 22, 3);
    out_close(&o);
}

static void gen_linktypes(void)
{
    static const struct {
        const char *name;
        int dlt;
        int vlan;
    } lt[] = {
        { "linktypes/ethernet.pcap", DLT_EN10MB, 0 },
        { "linktypes/ether-vlan.pcap", DLT_EN10MB, 1 },
        { "linktypes/linux-sll.pcap", DLT_LINUX_SLL, 0 },
        { "linktypes/linux-sll2.pcap", DLT_LINUX_SLL2, 0 },
        { "linktypes/raw.pcap", DLT_RAW, 0 },
        { "linktypes/null.pcap", DLT_NULL, 0 },
        { "linktypes/loop.pcap", DLT_LOOP, 0 },
        { "linktypes/ipv4.pcap", DLT_IPV4, 0 },
    };
    size_t i;
    struct out o;

    for (i = 0; i < sizeof lt / sizeof lt[0]; i++) {
        clock_set(0);
        g_rng = 0x11223344556677ull;      /* same session bytes in every file */
        g_ipid = 0x2000;
        out_open(&o, lt[i].name, lt[i].dlt);
        if (lt[i].vlan) {
            o.ntags = 1;
            o.tpid[0] = 0x8100;
            o.vid[0] = 10;
        }
        http_session(&o, IP4(198, 18, 0, 100), 40100, IP4(198, 18, 2, 1), 1, 1);
        out_close(&o);
    }
}

/* One valid packet (TCP SYN, DNS query, echo request) between the broken frames. */
static void malformed_valid(struct out *o, int which)
{
    static uint8_t b[512], q[64];
    uint8_t data[56];
    uint32_t c = IP4(198, 18, 0, 100), s = IP4(198, 18, 2, 1);
    size_t nl;
    int i;

    if (which == 0) {
        emit_ip(o, b, mk_tcp4(b, c, s, 43210, 80, 0x01020304, 0, TH_SYN, 64240, syn_opts,
                              sizeof syn_opts, NULL, 0, 64));
    } else if (which == 1) {
        memset(q, 0, 12);
        be16(q, 0x5151);
        be16(q + 2, 0x0100);
        be16(q + 4, 1);
        nl = dns_name(q + 12, "valid.example.com");
        be16(q + 12 + nl, 1);
        be16(q + 14 + nl, 1);
        emit_ip(o, b, mk_udp4(b, c, IP4(198, 18, 0, 53), 40053, 53, q, 16 + nl));
    } else {
        for (i = 0; i < 56; i++)
            data[i] = (uint8_t)i;
        emit_ip(o, b, mk_icmp4(b, c, s, 8, 0, 0x00770001, data, 56));
    }
}

static void gen_malformed(void)
{
    static uint8_t b[2048], f[2048];
    struct out o;
    uint8_t sm[6], dm[6];
    uint32_t c = IP4(198, 18, 0, 100), s = IP4(198, 18, 2, 1);
    const char pl[] = "GET / HTTP/1.1\r\n\r\n";
    size_t n;
    int i;

    clock_set(0);
    out_open(&o, "malformed.pcap", DLT_EN10MB);
    mac_of(sm, c);
    mac_of(dm, s);

    /* 1. IPv4 IHL 4 (16-byte header, below the 20-byte minimum). */
    n = mk_tcp4(b, c, s, 43001, 80, 1000, 2000, TH_ACK | TH_PSH, 64240, NULL, 0, pl, sizeof pl - 1, 64);
    b[0] = 0x44;
    be16(b + 10, 0);
    be16(b + 10, csum_fold(csum_add(0, b, 16)));
    emit_eth(&o, dm, sm, 0x0800, b, n);
    adv(10000);

    /* 2. IHL 15 (60-byte header) but only 20 bytes captured. */
    n = mk_tcp4(b, c, s, 43002, 80, 1000, 2000, TH_ACK, 64240, NULL, 0, NULL, 0, 64);
    b[0] = 0x4f;
    be16(b + 2, 60 + 20);
    memcpy(f, dm, 6);
    memcpy(f + 6, sm, 6);
    be16(f + 12, 0x0800);
    memcpy(f + 14, b, 20);
    put_rec(&o, f, 34, 14 + 80);
    adv(10000);

    malformed_valid(&o, 0);
    adv(10000);

    /* 3. IPv4 total length larger than the frame. */
    n = mk_tcp4(b, c, s, 43003, 80, 1000, 2000, TH_ACK | TH_PSH, 64240, NULL, 0, pl, sizeof pl - 1, 64);
    be16(b + 2, 1400);
    be16(b + 10, 0);
    be16(b + 10, csum_fold(csum_add(0, b, 20)));
    emit_eth(&o, dm, sm, 0x0800, b, n);
    adv(10000);

    /* 4. TCP data offset 3 (12 bytes, below the 20-byte minimum). */
    n = mk_tcp4(b, c, s, 43004, 80, 1000, 2000, TH_ACK | TH_PSH, 64240, NULL, 0, pl, sizeof pl - 1, 64);
    b[20 + 12] = 3 << 4;
    l4_csum4(b, n - 20, 16);
    emit_eth(&o, dm, sm, 0x0800, b, n);
    adv(10000);

    /* 5. TCP options with a zero-length option (window scale, len 0). */
    {
        static const uint8_t bad_opt[12] = { 2, 4, 0x05, 0xb4, 3, 0, 1, 1, 1, 1, 1, 0 };

        n = mk_tcp4(b, c, s, 43005, 80, 5000, 0, TH_SYN, 64240, bad_opt, sizeof bad_opt, NULL, 0, 64);
        emit_eth(&o, dm, sm, 0x0800, b, n);
        adv(10000);
    }

    /* 6. UDP length 4 (below the 8-byte header). */
    n = mk_udp4(b, c, IP4(198, 18, 0, 53), 40404, 53, "\x12\x34\x01\x00", 4);
    be16(b + 24, 4);
    l4_csum4(b, n - 20, 6);
    emit_eth(&o, dm, sm, 0x0800, b, n);
    adv(10000);

    malformed_valid(&o, 1);
    adv(10000);

    /* 7. Truncated IPv6 header: 20 of 40 bytes. */
    ip6_addr(b + 8, 1);
    be32(b, 0x60000000u);
    be16(b + 4, 20);
    b[6] = 6;
    b[7] = 64;
    {
        uint8_t m6s[6] = { 0x02, 0x00, 0x20, 0x01, 0x00, 0x01 };
        uint8_t m6d[6] = { 0x02, 0x00, 0x20, 0x01, 0x00, 0x02 };

        emit_eth(&o, m6d, m6s, 0x86dd, b, 20);
        adv(10000);

        /* 8. IPv6 extension chain that runs off the end: hop-by-hop (8 bytes),
         * then a routing header claiming 88 bytes with only 16 present. */
        memset(b, 0, 80);
        be32(b, 0x60000000u);
        be16(b + 4, 24);
        b[6] = 0;                         /* hop-by-hop */
        b[7] = 64;
        ip6_addr(b + 8, 1);
        ip6_addr(b + 24, 2);
        b[40] = 43;                       /* next: routing */
        b[41] = 0;
        b[42] = 1;                        /* PadN, 4 bytes */
        b[43] = 4;
        b[48] = 6;                        /* next: TCP */
        b[49] = 10;                       /* (10 + 1) * 8 = 88 bytes */
        b[50] = 4;
        b[51] = 1;
        emit_eth(&o, m6d, m6s, 0x86dd, b, 64);
        adv(10000);
    }

    /* 9. ARP with hardware address length 7. */
    {
        static const uint8_t zero[6] = { 0 };
        uint8_t a[30];

        arp_frame(a, 1, sm, c, zero, IP4(198, 18, 0, 1));
        a[4] = 7;
        emit_eth(&o, mac_bcast, sm, 0x0806, a, 28);
        adv(10000);
    }

    /* 10. Runt Ethernet frame: 10 bytes. */
    memcpy(f, dm, 6);
    memcpy(f + 6, sm, 4);
    put_rec(&o, f, 10, 10);
    adv(10000);

    malformed_valid(&o, 2);
    adv(10000);

    /* 11. Nine stacked 802.1Q tags around a valid TCP SYN. */
    {
        struct out ot = o;

        ot.ntags = 9;
        for (i = 0; i < 9; i++) {
            ot.tpid[i] = 0x8100;
            ot.vid[i] = (uint16_t)(100 + i);
        }
        n = mk_tcp4(b, c, s, 43011, 80, 9000, 0, TH_SYN, 64240, NULL, 0, NULL, 0, 64);
        emit_eth(&ot, dm, sm, 0x0800, b, n);
    }
    out_close(&o);
}

static void gen_midstream(void)
{
    static char req[256], resp[4096];
    struct out o;
    struct conn c;
    size_t rq, i;

    clock_set(0);
    out_open(&o, "midstream.pcap", DLT_EN10MB);
    conn_init(&c, &o, IP4(198, 18, 0, 107), 51000, IP4(198, 18, 2, 23), 80);
    rq = (size_t)snprintf(req, sizeof req,
                          "GET /midstream/object.bin HTTP/1.1\r\nHost: mid.example.com\r\n"
                          "Accept: */*\r\nUser-Agent: curl/8.4.0\r\n\r\n");
    conn_send(&c, 0, req, rq);
    adv(c.rtt);
    i = http_response(resp, sizeof resp, 3459);
    conn_send(&c, 1, resp, i);
    adv(5000);
    conn_close(&c);
    out_close(&o);
    if (rq + i != 3500)
        fprintf(stderr, "gen_pcaps: midstream payload is %zu bytes (README says 3500)\n", rq + i);
}

static void gen_multi(void)
{
    struct out early, middle, late;
    struct conn span, span2;
    static char req[1024], resp[8192];
    size_t n;

    /* File names sort a, b, c; timestamps run b, c, a. */
    out_open(&early, "multi/b-early.pcap", DLT_EN10MB);
    out_open(&middle, "multi/c-middle.pcap", DLT_EN10MB);
    out_open(&late, "multi/a-late.pcap", DLT_EN10MB);

    clock_set(0);
    http_session(&early, IP4(198, 18, 0, 100), 42000, IP4(198, 18, 2, 1), 1, 1);
    adv(300000);
    http_session(&early, IP4(198, 18, 0, 101), 42001, IP4(198, 18, 2, 2), 2, 2);
    adv(300000);
    conn_init(&span, &early, IP4(198, 18, 0, 103), 45000, IP4(198, 18, 2, 10), 80);
    conn_open(&span);                     /* handshake only in b-early */
    adv(300000);
    conn_init(&span2, &early, IP4(198, 18, 0, 104), 45001, IP4(198, 18, 2, 11), 80);
    conn_open(&span2);                    /* its data is in a-late */
    adv(300000);
    http_session(&early, IP4(198, 18, 0, 102), 42002, IP4(198, 18, 2, 3), 3, 3);

    clock_set(10000000);
    span.o = &middle;                     /* data and FIN in c-middle */
    n = http_request(req, sizeof req, 10);
    conn_send(&span, 0, req, n);
    adv(span.rtt);
    n = http_response(resp, sizeof resp, 2 * MSS + 300);
    conn_send(&span, 1, resp, n);
    adv(5000);
    conn_close(&span);
    adv(300000);
    http_session(&middle, IP4(198, 18, 0, 104), 42003, IP4(198, 18, 2, 4), 4, 1);
    adv(300000);
    http_session(&middle, IP4(198, 18, 0, 100), 42004, IP4(198, 18, 2, 5), 5, 2);

    clock_set(20000000);
    dns_exchange(&late, IP4(198, 18, 0, 101), IP4(198, 18, 0, 53), "www6.example.com", IP4(198, 18, 2, 6));
    adv(5000);
    http_session(&late, IP4(198, 18, 0, 101), 42005, IP4(198, 18, 2, 6), 6, 3);
    adv(300000);
    http_session(&late, IP4(198, 18, 0, 102), 42006, IP4(198, 18, 2, 7), 7, 1);
    adv(300000);
    http_session(&late, IP4(198, 18, 0, 103), 42007, IP4(198, 18, 2, 8), 8, 2);
    adv(300000);
    span2.o = &late;                      /* sorts before its handshake's file */
    n = http_request(req, sizeof req, 11);
    conn_send(&span2, 0, req, n);
    adv(span2.rtt);
    n = http_response(resp, sizeof resp, MSS + 500);
    conn_send(&span2, 1, resp, n);
    adv(5000);
    conn_close(&span2);

    out_close(&early);
    out_close(&middle);
    out_close(&late);
}

static void mkdir_p(const char *sub)
{
    char path[4096];

    snprintf(path, sizeof path, "%s%s%s", g_dir, sub ? "/" : "", sub ? sub : "");
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    mkdir_p(NULL);
    mkdir_p("linktypes");
    mkdir_p("multi");
    gen_scan_syn();
    gen_scan_stealth();
    gen_sweep();
    gen_benign();
    gen_linktypes();
    gen_malformed();
    gen_midstream();
    gen_multi();
    return 0;
}
