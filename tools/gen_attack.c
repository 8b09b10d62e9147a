/*
 * gen_attack.c - captures that push the sensor against its resource caps.
 *
 *   build/tools/gen_attack SCENARIO FILE [COUNT]
 *
 * Scenarios (COUNT overrides the default size):
 *   synflood    COUNT spoofed SYNs (default 1,000,000), each from its own
 *               source (198.19.0.0/16 x 16 source ports), to 198.18.0.2:80;
 *               never answered
 *   embryonic   one client (198.18.0.10) completes a handshake with
 *               198.18.0.2:80 and then sends a 100-byte "EVIL..." segment
 *               after every 1,000 spoofed SYNs, COUNT SYNs in all
 *               (default 200,000); the server ACKs each segment
 *   frags       COUNT first fragments (default 100,000) of UDP datagrams
 *               that are never completed, to 10,000 destination hosts
 *               (198.18.0.0/16 and up), 10 each, distinct IP ids
 *   bigstream   one TCP connection carrying COUNT MB to the server
 *               (default 200), 1448-byte segments, an ACK for every second
 *               one, FIN at the end
 *   ooo         one TCP connection whose first 100 bytes are held back:
 *               COUNT 100-byte segments (default 50,000) arrive beyond the
 *               hole in a shuffled order; the hole is filled at the end
 *
 * Ethernet link type; one packet every 10 us from 1700000000 s (the frag
 * scenario spaces them 1 ms, so 100 s of packet time pass); fixed-seed
 * PRNG: the same arguments always give the same bytes. Checksums are
 * correct. A summary of what was written goes to stdout as key=value
 * lines, for the tests to compare with the sensor's counters.
 */
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSS 1448
#define SNAPLEN 65535

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

#define IP4(a, b, c, d) \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static pcap_dumper_t *g_out;
static int64_t g_now_us = 1700000000LL * 1000000;
static int64_t g_step_us = 10;
static uint64_t g_packets;
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint8_t g_frame[SNAPLEN];

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static void be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    be16(p, v >> 16);
    be16(p + 2, v);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
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

static void emit(size_t len)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(g_now_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(g_now_us % 1000000);
    h.caplen = h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)g_out, &h, g_frame);
    g_now_us += g_step_us;
    g_packets++;
}

/* Ethernet + IPv4 header for l4len bytes of payload; returns the L4 start. */
static uint8_t *ip_header(uint32_t src, uint32_t dst, uint8_t proto, size_t l4len,
                          uint16_t id, uint16_t frag)
{
    uint8_t *e = g_frame;
    static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x02 };
    memcpy(e, mac_b, 6);
    memcpy(e + 6, mac_a, 6);
    be16(e + 12, 0x0800);
    uint8_t *ip = e + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    be16(ip + 2, (uint32_t)(20 + l4len));
    be16(ip + 4, id);
    be16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    be32(ip + 12, src);
    be32(ip + 16, dst);
    be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    return ip + 20;
}

static void tcp(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint32_t seq,
                uint32_t ack, uint8_t flags, const uint8_t *payload, size_t plen)
{
    uint8_t *t = ip_header(src, dst, 6, 20 + plen, (uint16_t)g_packets, 0x4000);
    memset(t, 0, 20);
    be16(t, sp);
    be16(t + 2, dp);
    be32(t + 4, seq);
    be32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    be16(t + 14, 65535);
    if (plen)
        memcpy(t + 20, payload, plen);
    uint8_t pseudo[12];
    be32(pseudo, src);
    be32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = 6;
    be16(pseudo + 10, (uint32_t)(20 + plen));
    be16(t + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), t, 20 + plen)));
    emit(14 + 20 + 20 + plen);
}

/* A three-way handshake; the client's and server's next sequence numbers. */
static void handshake(uint32_t c, uint32_t s, uint16_t cp, uint16_t sp, uint32_t *cseq,
                      uint32_t *sseq)
{
    tcp(c, s, cp, sp, *cseq, 0, TH_SYN, NULL, 0);
    tcp(s, c, sp, cp, *sseq, *cseq + 1, TH_SYN | TH_ACK, NULL, 0);
    (*cseq)++;
    (*sseq)++;
    tcp(c, s, cp, sp, *cseq, *sseq, TH_ACK, NULL, 0);
}

static void spoofed_syn(uint64_t i, uint32_t server)
{
    uint32_t src = IP4(198, 19, 0, 0) | (uint32_t)(i & 0xffff);
    uint16_t sport = (uint16_t)(1024 + ((i >> 16) & 0xf) * 4096 + (i & 0xfff));
    tcp(src, server, sport, 80, rnd(), 0, TH_SYN, NULL, 0);
}

static void synflood(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        spoofed_syn(i, IP4(198, 18, 0, 2));
    printf("syns=%llu\n", (unsigned long long)n);
}

static void embryonic(uint64_t n)
{
    uint32_t c = IP4(198, 18, 0, 10), s = IP4(198, 18, 0, 2);
    uint32_t cseq = 1000, sseq = 50000;
    handshake(c, s, 40000, 80, &cseq, &sseq);
    uint8_t data[100];
    uint64_t sent = 0, segments = 0;
    for (uint64_t i = 0; i < n; i++) {
        spoofed_syn(i, s);
        if (i % 1000 == 999) {
            memset(data, 'x', sizeof data);
            snprintf((char *)data, sizeof data, "EVIL %llu ", (unsigned long long)segments);
            tcp(c, s, 40000, 80, cseq, sseq, TH_PSH | TH_ACK, data, sizeof data);
            cseq += sizeof data;
            tcp(s, c, 80, 40000, sseq, cseq, TH_ACK, NULL, 0);
            sent += sizeof data;
            segments++;
        }
    }
    printf("syns=%llu\nvictim_segments=%llu\nvictim_bytes=%llu\n", (unsigned long long)n,
           (unsigned long long)segments, (unsigned long long)sent);
}

static void frags(uint64_t n)
{
    g_step_us = 1000;
    const uint64_t hosts = 10000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = i % hosts;
        uint32_t dst = IP4(198, 18, 0, 0) + 256 + (uint32_t)h;
        uint32_t src = IP4(198, 19, 0, 1) + (uint32_t)(i % 251);
        /* The first 1,000 bytes of a 2,000-byte UDP datagram: MF set. */
        uint8_t *u = ip_header(src, dst, 17, 1000, (uint16_t)(i / hosts + 1), 0x2000);
        be16(u, 5000);
        be16(u + 2, 53);
        be16(u + 4, 2000);
        be16(u + 6, 0);
        memset(u + 8, 'F', 992);
        emit(14 + 20 + 1000);
    }
    printf("fragments=%llu\nhosts=%llu\n", (unsigned long long)n, (unsigned long long)hosts);
}

static void bigstream(uint64_t mb)
{
    uint32_t c = IP4(198, 18, 0, 10), s = IP4(198, 18, 0, 2);
    uint32_t cseq = 7000, sseq = 90000;
    handshake(c, s, 40001, 80, &cseq, &sseq);
    static uint8_t seg[MSS];
    uint64_t total = mb << 20, sent = 0, k = 0;
    while (sent < total) {
        size_t len = total - sent < MSS ? (size_t)(total - sent) : MSS;
        for (size_t i = 0; i < len; i++)
            seg[i] = (uint8_t)('a' + (sent + i) % 26);
        tcp(c, s, 40001, 80, cseq, sseq, TH_ACK, seg, len);
        cseq += (uint32_t)len;
        sent += len;
        if (++k % 2 == 0)
            tcp(s, c, 80, 40001, sseq, cseq, TH_ACK, NULL, 0);
    }
    tcp(c, s, 40001, 80, cseq, sseq, TH_FIN | TH_ACK, NULL, 0);
    tcp(s, c, 80, 40001, sseq, cseq + 1, TH_FIN | TH_ACK, NULL, 0);
    tcp(c, s, 40001, 80, cseq + 1, sseq + 1, TH_ACK, NULL, 0);
    printf("stream_bytes=%llu\n", (unsigned long long)sent);
}

static void ooo(uint64_t n)
{
    uint32_t c = IP4(198, 18, 0, 10), s = IP4(198, 18, 0, 2);
    uint32_t cseq = 3000, sseq = 60000;
    handshake(c, s, 40002, 80, &cseq, &sseq);
    uint32_t *order = malloc(n * sizeof *order);
    if (order == NULL) {
        perror("gen_attack");
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rnd() % i;
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    uint8_t seg[100];
    for (uint64_t i = 0; i < n; i++) {
        memset(seg, 'o', sizeof seg);
        uint32_t k = order[i];
        tcp(c, s, 40002, 80, cseq + 100 + k * 100u, sseq, TH_PSH | TH_ACK, seg, sizeof seg);
    }
    free(order);
    memset(seg, 'h', sizeof seg);
    tcp(c, s, 40002, 80, cseq, sseq, TH_PSH | TH_ACK, seg, sizeof seg);
    printf("segments=%llu\nhole_bytes=100\n", (unsigned long long)n);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(uint64_t);
        uint64_t def;
    } scen[] = {
        { "synflood", synflood, 1000000 },
        { "embryonic", embryonic, 200000 },
        { "frags", frags, 100000 },
        { "bigstream", bigstream, 200 },
        { "ooo", ooo, 50000 },
    };
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: gen_attack synflood|embryonic|frags|bigstream|ooo FILE [COUNT]\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof scen / sizeof scen[0]; i++) {
        if (strcmp(argv[1], scen[i].name) != 0)
            continue;
        uint64_t n = argc == 4 ? strtoull(argv[3], NULL, 10) : scen[i].def;
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, SNAPLEN);
        g_out = dead ? pcap_dump_open(dead, argv[2]) : NULL;
        if (g_out == NULL) {
            fprintf(stderr, "gen_attack: %s: %s\n", argv[2], dead ? pcap_geterr(dead) : "no memory");
            return 1;
        }
        scen[i].fn(n);
        int bad = pcap_dump_flush(g_out) != 0;
        pcap_dump_close(g_out);
        pcap_close(dead);
        if (bad) {
            fprintf(stderr, "gen_attack: %s: write failed\n", argv[2]);
            return 1;
        }
        printf("packets=%llu\n", (unsigned long long)g_packets);
        return 0;
    }
    fprintf(stderr, "gen_attack: unknown scenario '%s'\n", argv[1]);
    return 2;
}
