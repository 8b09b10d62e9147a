/*
 * gen_bench.c - write the large mixed capture the benchmark replays.
 *
 *   build/tools/gen_bench FILE [SCALE [CONCURRENCY]]
 *
 * SCALE 1 (the default) gives 200,000 HTTP-like TCP flows, about 300 MB:
 * handshake, a request of a few hundred bytes, a response from a few
 * hundred bytes to tens of KB in MSS-sized (1448) segments with an ACK for
 * every second segment, and a FIN teardown from both sides. At most
 * CONCURRENCY flows (default 2000) are open at once; their packets are
 * interleaved at random. Mixed in: DNS-like UDP query/answer pairs, ICMP
 * echo pairs, a SYN scan of 1000 ports and a TCP/445 sweep of 254 hosts.
 *
 * Ethernet link type. Deterministic: fixed-seed PRNG and timestamps from
 * 1700000000 s, so the same arguments always give the same bytes. All
 * checksums are correct. Addresses are from 198.18.0.0/15 only.
 * A summary goes to stderr.
 */
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSS 1448
#define SNAPLEN 262144
#define BASE_FLOWS 200000.0
#define BODY_SIZE 65536

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define IP4(a, b, c, d) \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum {
    ST_SYN,
    ST_SYNACK,
    ST_ACK,
    ST_REQ,
    ST_REQ_ACK,
    ST_RESP,
    ST_RESP_ACK,
    ST_FIN1,
    ST_FIN2,
    ST_FIN3,
    ST_DONE,
};

struct flow {
    uint32_t cip, sip;
    uint16_t cport, sport;
    uint32_t cseq, sseq;          /* next sequence number each side sends */
    uint32_t req_len, resp_len;   /* payload bytes each way */
    uint32_t req_off, resp_off;   /* bytes sent so far */
    uint32_t body_start;          /* where the response body starts in g_body */
    uint16_t resp_hlen;
    uint8_t state;
    uint8_t nseg;                 /* segments since the last ACK */
    char req[640];
    char resp_hdr[96];
};

/* Everything the generator keeps, in one place. */
static struct {
    pcap_dumper_t *d;
    FILE *fp;
    uint64_t now;                 /* microseconds since the epoch */
    uint64_t rng;
    uint16_t ipid;
    uint64_t packets, bytes, tcp_flows, udp_pairs, icmp_pairs;
    uint8_t frame[2048];
    char body[BODY_SIZE + MSS];
} g;

static uint32_t rnd(void)
{
    g.rng ^= g.rng >> 12;
    g.rng ^= g.rng << 25;
    g.rng ^= g.rng >> 27;
    return (uint32_t)((g.rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi)
{
    return lo + rnd() % (hi - lo + 1);
}

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
    uint64_t s = sum;
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/*
 * Frame layout in g.frame: Ethernet (14) + IPv4 (20) + L4. The caller has
 * written the L4 header and payload at offset 34; this fills in the rest,
 * computes the checksums and writes the record.
 */
static void send_ip(uint32_t src, uint32_t dst, uint8_t proto, size_t l4len, size_t csum_off,
                    uint8_t ttl)
{
    uint8_t *f = g.frame, *ip = f + 14, ph[12];
    struct pcap_pkthdr h;
    uint16_t c;

    f[0] = 0x02, f[1] = 0x00;
    be32(f + 2, dst);
    f[6] = 0x02, f[7] = 0x00;
    be32(f + 8, src);
    be16(f + 12, 0x0800);
    ip[0] = 0x45;
    ip[1] = 0;
    be16(ip + 2, (uint32_t)(20 + l4len));
    be16(ip + 4, g.ipid++);
    be16(ip + 6, 0x4000);
    ip[8] = ttl;
    ip[9] = proto;
    be16(ip + 10, 0);
    be32(ip + 12, src);
    be32(ip + 16, dst);
    be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    if (proto == 1) {
        be16(ip + 20 + csum_off, 0);
        be16(ip + 20 + csum_off, csum_fold(csum_add(0, ip + 20, l4len)));
    } else {
        memcpy(ph, ip + 12, 8);
        ph[8] = 0;
        ph[9] = proto;
        be16(ph + 10, (uint32_t)l4len);
        be16(ip + 20 + csum_off, 0);
        c = csum_fold(csum_add(csum_add(0, ph, 12), ip + 20, l4len));
        if (c == 0 && proto == 17)
            c = 0xffff;
        be16(ip + 20 + csum_off, c);
    }
    h.ts.tv_sec = (time_t)(g.now / 1000000u);
    h.ts.tv_usec = (suseconds_t)(g.now % 1000000u);
    h.caplen = h.len = (bpf_u_int32)(34 + l4len);
    pcap_dump((u_char *)g.d, &h, f);
    g.packets++;
    g.bytes += h.len;
    g.now += rnd_range(1, 9);
}

static const uint8_t syn_opts[8] = { 2, 4, MSS >> 8, MSS & 0xff, 1, 1, 4, 2 };

/* A TCP segment; payload, if any, is already at g.frame + 34 + 20 + olen. */
static void send_tcp(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint32_t seq,
                     uint32_t ack, uint8_t fl, uint16_t win, const uint8_t *opt, size_t olen,
                     size_t plen, uint8_t ttl)
{
    uint8_t *t = g.frame + 34;
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
    send_ip(src, dst, 6, hl + plen, 16, ttl);
}

static void flow_pkt(struct flow *f, int from_srv, uint8_t fl, size_t plen)
{
    uint32_t *seq = from_srv ? &f->sseq : &f->cseq;
    uint32_t ack = (fl & TH_ACK) ? (from_srv ? f->cseq : f->sseq) : 0;
    int syn = (fl & TH_SYN) != 0;

    send_tcp(from_srv ? f->sip : f->cip, from_srv ? f->cip : f->sip,
             from_srv ? f->sport : f->cport, from_srv ? f->cport : f->sport,
             *seq, ack, fl, from_srv ? 65160 : 64240, syn ? syn_opts : NULL,
             syn ? sizeof syn_opts : 0, plen, from_srv ? 64 : 128);
    *seq += (uint32_t)plen + (syn ? 1u : 0u) + ((fl & TH_FIN) ? 1u : 0u);
}

/* Response bytes [off, off + n) into dst. */
static void resp_bytes(const struct flow *f, uint8_t *dst, uint32_t off, uint32_t n)
{
    uint32_t k;

    if (off < f->resp_hlen) {
        k = f->resp_hlen - off < n ? f->resp_hlen - off : n;
        memcpy(dst, f->resp_hdr + off, k);
        dst += k;
        off += k;
        n -= k;
    }
    if (n)
        memcpy(dst, g.body + (f->body_start + off - f->resp_hlen) % BODY_SIZE, n);
}

static uint32_t pick_resp_len(void)
{
    uint32_t r = rnd() % 1000;

    if (r < 920)
        return rnd_range(150, 550);
    if (r < 990)
        return rnd_range(1000, 4500);
    return rnd_range(6000, 40000);
}

static void flow_init(struct flow *f, uint64_t i)
{
    static const uint16_t ports[8] = { 80, 80, 80, 80, 8080, 80, 443, 80 };
    uint32_t c = (uint32_t)(i % 4000), s = rnd() % 2000, body;
    int hl, k;

    memset(f, 0, offsetof(struct flow, req));
    f->cip = IP4(198, 18, 1 + c / 250, 1 + c % 250);
    f->cport = (uint16_t)(20000 + (i / 4000) % 45000);
    f->sip = IP4(198, 19, s / 250, 1 + s % 250);
    f->sport = ports[rnd() % 8];
    f->cseq = rnd();
    f->sseq = rnd();
    f->state = ST_SYN;

    f->req_len = rnd_range(100, 400);
    hl = snprintf(f->req, sizeof f->req,
                  "GET /objects/%u/%u.bin HTTP/1.1\r\nHost: srv%u.example.com\r\n"
                  "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nX-Pad: ",
                  (unsigned)(i % 977), (unsigned)i, (unsigned)s);
    if ((uint32_t)hl + 4 > f->req_len)
        f->req_len = (uint32_t)hl + 4;
    for (k = hl; k < (int)f->req_len - 4; k++)
        f->req[k] = (char)('a' + k % 26);
    memcpy(f->req + f->req_len - 4, "\r\n\r\n", 4);

    body = pick_resp_len();
    hl = snprintf(f->resp_hdr, sizeof f->resp_hdr,
                  "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: %u\r\n\r\n", body);
    f->resp_hlen = (uint16_t)hl;
    f->resp_len = (uint32_t)hl + body;
    f->body_start = rnd() % BODY_SIZE;
    g.tcp_flows++;
}

/* Emit the flow's next packet; returns 1 when the flow is finished. */
static int flow_step(struct flow *f)
{
    uint8_t *pl = g.frame + 34 + 20;
    uint32_t n;

    switch (f->state) {
    case ST_SYN:
        flow_pkt(f, 0, TH_SYN, 0);
        f->state = ST_SYNACK;
        break;
    case ST_SYNACK:
        flow_pkt(f, 1, TH_SYN | TH_ACK, 0);
        f->state = ST_ACK;
        break;
    case ST_ACK:
        flow_pkt(f, 0, TH_ACK, 0);
        f->state = ST_REQ;
        break;
    case ST_REQ:
        n = f->req_len - f->req_off > MSS ? MSS : f->req_len - f->req_off;
        memcpy(pl, f->req + f->req_off, n);
        f->req_off += n;
        flow_pkt(f, 0, TH_ACK | (f->req_off == f->req_len ? TH_PSH : 0), n);
        if (++f->nseg == 2 || f->req_off == f->req_len)
            f->state = ST_REQ_ACK;
        break;
    case ST_REQ_ACK:
        flow_pkt(f, 1, TH_ACK, 0);
        f->nseg = 0;
        f->state = f->req_off < f->req_len ? ST_REQ : ST_RESP;
        break;
    case ST_RESP:
        n = f->resp_len - f->resp_off > MSS ? MSS : f->resp_len - f->resp_off;
        resp_bytes(f, pl, f->resp_off, n);
        f->resp_off += n;
        flow_pkt(f, 1, TH_ACK | (f->resp_off == f->resp_len ? TH_PSH : 0), n);
        if (++f->nseg == 2 || f->resp_off == f->resp_len)
            f->state = ST_RESP_ACK;
        break;
    case ST_RESP_ACK:
        flow_pkt(f, 0, TH_ACK, 0);
        f->nseg = 0;
        f->state = f->resp_off < f->resp_len ? ST_RESP : ST_FIN1;
        break;
    case ST_FIN1:
        flow_pkt(f, 0, TH_FIN | TH_ACK, 0);
        f->state = ST_FIN2;
        break;
    case ST_FIN2:
        flow_pkt(f, 1, TH_FIN | TH_ACK, 0);
        f->state = ST_FIN3;
        break;
    case ST_FIN3:
        flow_pkt(f, 0, TH_ACK, 0);
        f->state = ST_DONE;
        return 1;
    default:
        return 1;
    }
    return 0;
}

static void dns_pair(void)
{
    static const char *const names[4] = { "www", "api", "cdn", "mail" };
    uint8_t *u = g.frame + 34, *q = u + 8;
    uint32_t c = rnd() % 4000, s = rnd() % 2000;
    uint32_t cli = IP4(198, 18, 1 + c / 250, 1 + c % 250), srv = IP4(198, 18, 0, 53);
    uint16_t id = (uint16_t)rnd(), sp = (uint16_t)rnd_range(32768, 60999);
    size_t len;
    int n;

    memset(q, 0, 12);
    be16(q, id);
    be16(q + 2, 0x0100);
    be16(q + 4, 1);
    n = snprintf((char *)q + 13, 64, "%s%u", names[s % 4], (unsigned)s);
    q[12] = (uint8_t)n;
    len = 13 + (size_t)n;
    memcpy(q + len, "\x07" "example" "\x03" "com" "\x00" "\x00\x01" "\x00\x01", 17);
    len += 17;
    be16(u, sp);
    be16(u + 2, 53);
    be16(u + 4, (uint32_t)(8 + len));
    send_ip(cli, srv, 17, 8 + len, 6, 64);
    g.now += rnd_range(20, 300);
    be16(q + 2, 0x8180);
    be16(q + 6, 1);
    memcpy(q + len, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04", 12);
    be32(q + len + 12, IP4(198, 19, s / 250, 1 + s % 250));
    len += 16;
    be16(u, 53);
    be16(u + 2, sp);
    be16(u + 4, (uint32_t)(8 + len));
    send_ip(srv, cli, 17, 8 + len, 6, 64);
    g.udp_pairs++;
}

static void icmp_pair(void)
{
    uint8_t *ic = g.frame + 34;
    uint32_t c = rnd() % 4000, s = rnd() % 2000, seq = rnd() & 0xffff;
    uint32_t cli = IP4(198, 18, 1 + c / 250, 1 + c % 250), srv = IP4(198, 19, s / 250, 1 + s % 250);
    int i;

    for (i = 0; i < 56; i++)
        ic[8 + i] = (uint8_t)i;
    ic[0] = 8;
    ic[1] = 0;
    be16(ic + 4, 0x0bee);
    be16(ic + 6, seq);
    send_ip(cli, srv, 1, 64, 2, 64);
    g.now += rnd_range(20, 200);
    ic[0] = 0;
    send_ip(srv, cli, 1, 64, 2, 64);
    g.icmp_pairs++;
}

/* One probe of the SYN scan (1000 ports) or of the sweep (254 hosts). */
static void scan_probe(int sweep, uint32_t k)
{
    static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };
    uint32_t scanner = sweep ? IP4(198, 19, 250, 2) : IP4(198, 19, 250, 1);
    uint32_t tgt = sweep ? IP4(198, 18, 200, 1 + k) : IP4(198, 19, 0, 50);
    uint16_t sp = sweep ? 47000 : 54321, dp = sweep ? 445 : (uint16_t)(1 + k);
    uint32_t seq = rnd();

    send_tcp(scanner, tgt, sp, dp, seq, 0, TH_SYN, 1024, mss_opt, 4, 0, 44);
    if (sweep) {
        if (k % 50 == 7)
            send_tcp(tgt, scanner, dp, sp, 0, seq + 1, TH_RST | TH_ACK, 0, NULL, 0, 0, 128);
    } else if (dp == 22 || dp == 80 || dp == 443) {
        send_tcp(tgt, scanner, dp, sp, rnd(), seq + 1, TH_SYN | TH_ACK, 64240, mss_opt, 4, 0, 64);
        send_tcp(scanner, tgt, sp, dp, seq + 1, 0, TH_RST, 0, NULL, 0, 0, 44);
    } else {
        send_tcp(tgt, scanner, dp, sp, 0, seq + 1, TH_RST | TH_ACK, 0, NULL, 0, 0, 64);
    }
}

int main(int argc, char **argv)
{
    struct flow *pool;
    pcap_t *dead;
    double scale = 1.0;
    uint64_t total, next = 0, steps = 0;
    uint32_t conc = 2000, active = 0, k, scan_k = 0, sweep_k = 0;
    uint32_t c;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FILE [SCALE [CONCURRENCY]]\n", argv[0]);
        return 2;
    }
    if (argc >= 3)
        scale = atof(argv[2]);
    if (argc >= 4)
        conc = (uint32_t)strtoul(argv[3], NULL, 10);
    if (!(scale > 0) || scale > 1000 || conc < 1 || conc > 1000000) {
        fprintf(stderr, "gen_bench: bad SCALE or CONCURRENCY\n");
        return 2;
    }
    total = (uint64_t)(BASE_FLOWS * scale + 0.5);
    if (total < 1)
        total = 1;
    pool = calloc(conc, sizeof *pool);
    if (!pool) {
        fprintf(stderr, "gen_bench: out of memory\n");
        return 1;
    }
    g.now = 1700000000ull * 1000000ull;
    g.rng = 0xbe4c4b3e4c4b3e11ull;
    g.ipid = 1;
    for (k = 0; k < BODY_SIZE + MSS; k++) {
        static const char text[] =
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
            "tempor incididunt ut labore et dolore magna aliqua. <div class=\"row\">\n";
        g.body[k] = text[(k * 7 + k / 97) % (sizeof text - 1)];
    }

    g.fp = fopen(argv[1], "wb");
    if (!g.fp) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(g.fp, NULL, _IOFBF, 1 << 22);
    dead = pcap_open_dead(DLT_EN10MB, SNAPLEN);
    if (!dead) {
        fprintf(stderr, "gen_bench: pcap_open_dead failed\n");
        return 1;
    }
    g.d = pcap_dump_fopen(dead, g.fp);
    if (!g.d) {
        fprintf(stderr, "gen_bench: %s\n", pcap_geterr(dead));
        return 1;
    }

    while (active < conc && next < total)
        flow_init(&pool[active++], next++);
    while (active > 0) {
        k = rnd() % active;
        if (flow_step(&pool[k])) {
            if (next < total)
                flow_init(&pool[k], next++);
            else
                pool[k] = pool[--active];
        }
        steps++;
        c = rnd() % 1000;
        if (c < 12)
            dns_pair();
        else if (c < 14)
            icmp_pair();
        /* The scan runs from 10% of the flows, the sweep from 50%. */
        if (steps % 97 == 0 && scan_k < 1000 && next * 10 >= total)
            scan_probe(0, scan_k++);
        if (steps % 211 == 0 && sweep_k < 254 && next * 2 >= total)
            scan_probe(1, sweep_k++);
    }
    while (scan_k < 1000)
        scan_probe(0, scan_k++);
    while (sweep_k < 254)
        scan_probe(1, sweep_k++);

    if (pcap_dump_flush(g.d) != 0) {
        fprintf(stderr, "gen_bench: write failed\n");
        return 1;
    }
    pcap_dump_close(g.d);
    pcap_close(dead);
    free(pool);
    fprintf(stderr,
            "gen_bench: %llu packets, %llu wire bytes, %llu TCP flows (max %u open), "
            "%llu DNS pairs, %llu ICMP pairs, 1000-port SYN scan, 254-host sweep\n",
            (unsigned long long)g.packets, (unsigned long long)g.bytes,
            (unsigned long long)g.tcp_flows, conc, (unsigned long long)g.udp_pairs,
            (unsigned long long)g.icmp_pairs);
    return 0;
}
