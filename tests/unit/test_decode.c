/*
 * test_decode.c - the packet decoder, layer by layer.
 *
 * Frames are built in memory by small builders that write correct header
 * fields (checksums are not checked by the decoder and left zero). Every
 * decode copies the bytes into a buffer of exactly `caplen` bytes, so
 * AddressSanitizer reports any read past what was captured.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"

#define MAX_FRAME 2048

enum {
    L_NULL = 0, L_EN10MB = 1, L_RAW12 = 12, L_RAW14 = 14, L_RAW = 101,
    L_LOOP = 108, L_SLL = 113, L_IPV4 = 228, L_IPV6 = 229, L_SLL2 = 276,
};

static const int supported_dlts[] = {
    L_NULL, L_EN10MB, L_RAW12, L_RAW14, L_RAW, L_LOOP, L_SLL, L_IPV4,
    L_IPV6, L_SLL2,
};
#define N_DLTS (sizeof supported_dlts / sizeof supported_dlts[0])

enum {
    ET_IPV4 = 0x0800, ET_ARP = 0x0806, ET_IPV6 = 0x86dd, ET_VLAN = 0x8100,
    ET_QINQ = 0x88a8, ET_QINQ_OLD = 0x9100, ET_LLDP = 0x88cc,
};

static const uint8_t MAC_SRC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t MAC_DST[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t IP4_SRC[4] = { 198, 18, 0, 1 };
static const uint8_t IP4_DST[4] = { 198, 19, 0, 2 };
static const uint8_t IP6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t IP6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
#define IP_ID 0x1234
#define TTL 61
#define SPORT 40000
#define DPORT 443
#define SEQ 0x01020304u
#define ACK 0xa0b0c0d0u
#define WINDOW 29200

/* A frame under construction, with the layer boundaries it was built with. */
typedef struct frame {
    int dlt;
    uint8_t b[MAX_FRAME];
    size_t len;
    size_t l3_off;      /* network header */
    size_t l4_off;      /* transport header (= pay_off when there is none) */
    size_t pay_off;     /* L4 payload */
    size_t data_end;    /* end of the datagram; link padding follows */
    size_t ip_off;      /* IP header whose length finish() fills in */
    size_t udp_off;     /* UDP header whose length finish() fills in; 0 none */
    int ip_version;     /* 4, 6, or 0 for ARP */
    uint8_t l4;         /* transport decoded: 6, 17, 1, 58, or 0 */
} frame;

/* ---- builders ------------------------------------------------------- */

static void put8(frame *f, uint8_t v)
{
    assert_true(f->len < MAX_FRAME);
    f->b[f->len++] = v;
}

static void put16(frame *f, uint16_t v)
{
    put8(f, (uint8_t)(v >> 8));
    put8(f, (uint8_t)v);
}

static void put32(frame *f, uint32_t v)
{
    put16(f, (uint16_t)(v >> 16));
    put16(f, (uint16_t)v);
}

static void put_bytes(frame *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(f, p[i]);
}

static void put_fill(frame *f, uint8_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(f, v);
}

static void set16(frame *f, size_t off, size_t v)
{
    assert_true(v <= 0xffff);
    f->b[off] = (uint8_t)(v >> 8);
    f->b[off + 1] = (uint8_t)v;
}

/* The link header of `dlt` carrying `ethertype`, after `ntags` VLAN tags. */
static void link_tagged(frame *f, int dlt, uint16_t ethertype,
                        const uint16_t *tpids, size_t ntags)
{
    uint8_t af_le = ethertype == ET_IPV6 ? 10 : 2;
    uint32_t af_be = ethertype == ET_IPV6 ? 24 : 2;

    memset(f, 0, sizeof *f);
    f->dlt = dlt;
    switch (dlt) {
    case L_EN10MB:
        put_bytes(f, MAC_DST, 6);
        put_bytes(f, MAC_SRC, 6);
        for (size_t i = 0; i < ntags; i++) {
            put16(f, tpids[i]);
            put16(f, (uint16_t)(0x2000 | (100 + i))); /* PCP 1, VID 100+i */
        }
        put16(f, ethertype);
        break;
    case L_SLL:
        put16(f, 0);            /* sent to us */
        put16(f, 1);            /* ARPHRD_ETHER */
        put16(f, 6);
        put_bytes(f, MAC_SRC, 6);
        put_fill(f, 0, 2);
        put16(f, ethertype);
        break;
    case L_SLL2:
        put16(f, ethertype);
        put16(f, 0);
        put32(f, 2);            /* interface index */
        put16(f, 1);            /* ARPHRD_ETHER */
        put8(f, 0);
        put8(f, 6);
        put_bytes(f, MAC_SRC, 6);
        put_fill(f, 0, 2);
        break;
    case L_NULL:                /* host order: written little-endian here */
        put8(f, af_le);
        put_fill(f, 0, 3);
        break;
    case L_LOOP:
        put32(f, af_be);
        break;
    default:                    /* raw IP: no link header */
        break;
    }
    f->l3_off = f->l4_off = f->pay_off = f->len;
}

static void link_begin(frame *f, int dlt, uint16_t ethertype)
{
    link_tagged(f, dlt, ethertype, NULL, 0);
}

static void mark_l4(frame *f)
{
    f->l4_off = f->pay_off = f->len;
}

static void ipv4_begin(frame *f, uint8_t proto, uint16_t frag,
                       const uint8_t *opts, size_t optlen)
{
    assert_int_equal(optlen % 4, 0);
    f->ip_off = f->len;
    f->ip_version = 4;
    put8(f, (uint8_t)(0x45 + optlen / 4));
    put8(f, 0);
    put16(f, 0);                /* total length: finish() */
    put16(f, IP_ID);
    put16(f, frag);
    put8(f, TTL);
    put8(f, proto);
    put16(f, 0);                /* checksum */
    put_bytes(f, IP4_SRC, 4);
    put_bytes(f, IP4_DST, 4);
    put_bytes(f, opts, optlen);
    mark_l4(f);
}

static void ipv6_begin(frame *f, uint8_t nxt)
{
    f->ip_off = f->len;
    f->ip_version = 6;
    put32(f, 0x60000000);
    put16(f, 0);                /* payload length: finish() */
    put8(f, nxt);
    put8(f, TTL);
    put_bytes(f, IP6_SRC, 16);
    put_bytes(f, IP6_DST, 16);
    mark_l4(f);
}

/* Hop-by-hop, routing, destination options or mobility: (len+1)*8 bytes,
 * the body one PadN option. */
static void ipv6_ext(frame *f, uint8_t nxt, uint8_t len)
{
    size_t body = ((size_t)len + 1) * 8 - 2;
    put8(f, nxt);
    put8(f, len);
    put8(f, 1);                 /* PadN */
    put8(f, (uint8_t)(body - 2));
    put_fill(f, 0, body - 2);
    mark_l4(f);
}

static void ipv6_ah(frame *f, uint8_t nxt, uint8_t len)
{
    put8(f, nxt);
    put8(f, len);
    put_fill(f, 0xa5, ((size_t)len + 2) * 4 - 2);
    mark_l4(f);
}

static void ipv6_frag(frame *f, uint8_t nxt, uint16_t offset, bool more,
                      uint32_t ident)
{
    put8(f, nxt);
    put8(f, 0);
    put16(f, (uint16_t)(offset | (more ? 1 : 0)));
    put32(f, ident);
    mark_l4(f);
}

static void tcp_put(frame *f, uint8_t flags, const uint8_t *opts, size_t optlen)
{
    assert_int_equal(optlen % 4, 0);
    put16(f, SPORT);
    put16(f, DPORT);
    put32(f, SEQ);
    put32(f, ACK);
    put8(f, (uint8_t)((5 + optlen / 4) << 4));
    put8(f, flags);
    put16(f, WINDOW);
    put16(f, 0);                /* checksum */
    put16(f, 0);                /* urgent pointer */
    put_bytes(f, opts, optlen);
    f->pay_off = f->len;
    f->l4 = 6;
}

static void udp_put(frame *f)
{
    f->udp_off = f->len;
    put16(f, 5353);
    put16(f, 53);
    put16(f, 0);                /* length: finish() */
    put16(f, 0);
    f->pay_off = f->len;
    f->l4 = 17;
}

static void icmp_put(frame *f, uint8_t proto, uint8_t type, uint8_t code)
{
    put8(f, type);
    put8(f, code);
    put16(f, 0);
    f->pay_off = f->len;
    f->l4 = proto;
}

static void arp_put(frame *f, uint16_t op, uint16_t htype, uint8_t hlen,
                    uint8_t plen)
{
    put16(f, htype);
    put16(f, ET_IPV4);
    put8(f, hlen);
    put8(f, plen);
    put16(f, op);
    put_bytes(f, MAC_SRC, 6);
    put_bytes(f, IP4_SRC, 4);
    put_bytes(f, op == 1 ? (const uint8_t[6]){ 0 } : MAC_DST, 6);
    put_bytes(f, IP4_DST, 4);
    mark_l4(f);
}

static void data_put(frame *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(f, (uint8_t)('a' + i % 26));
}

/* Fill in the lengths the headers carry; what follows is link padding. */
static void finish(frame *f)
{
    f->data_end = f->len;
    if (f->ip_version == 4)
        set16(f, f->ip_off + 2, f->len - f->ip_off);
    if (f->ip_version == 6)
        set16(f, f->ip_off + 4, f->len - f->ip_off - 40);
    if (f->udp_off)
        set16(f, f->udp_off + 4, f->len - f->udp_off);
}

static void pad_to(frame *f, size_t n)
{
    while (f->len < n)
        put8(f, 0);
}

/* ---- decoding utilities ---------------------------------------------- */

/* Decode the first `caplen` bytes from an exactly-sized heap copy; the
 * caller frees the returned buffer after looking at pkt's pointers. */
static uint8_t *decode_prefix(int dlt, const uint8_t *bytes, size_t caplen,
                              size_t wirelen, vigil_packet *pkt,
                              enum vigil_decode_event *ev,
                              enum vigil_decode_result *res)
{
    uint8_t *buf = malloc(caplen ? caplen : 1);
    assert_non_null(buf);
    if (caplen)
        memcpy(buf, bytes, caplen);
    *res = vigil_decode(dlt, buf, (uint32_t)caplen, (uint32_t)wirelen, pkt, ev);
    return buf;
}

/* A whole frame that must decode; pkt pointers stay valid until free. */
static uint8_t *decode_ok(const frame *f, vigil_packet *pkt)
{
    enum vigil_decode_event ev;
    enum vigil_decode_result r;
    uint8_t *buf = decode_prefix(f->dlt, f->b, f->len, f->len, pkt, &ev, &r);
    if (r != VIGIL_DECODE_OK)
        fail_msg("dlt %d: result %d event %s", f->dlt, r,
                 vigil_decode_event_name(ev));
    assert_int_equal(ev, VIGIL_DEV_NONE);
    return buf;
}

/* Decode a whole frame expected to fail with `want` (or OTHER/NONE). */
static void expect_result(const frame *f, size_t caplen, size_t wirelen,
                          enum vigil_decode_result want,
                          enum vigil_decode_event want_ev)
{
    vigil_packet pkt;
    enum vigil_decode_event ev;
    enum vigil_decode_result r;
    free(decode_prefix(f->dlt, f->b, caplen, wirelen, &pkt, &ev, &r));
    if (r != want || ev != want_ev)
        fail_msg("dlt %d: got result %d event '%s', want %d '%s'", f->dlt, r,
                 vigil_decode_event_name(ev), want, vigil_decode_event_name(want_ev));
}

static void expect_event(const frame *f, enum vigil_decode_event want_ev)
{
    enum vigil_decode_result want = vigil_decode_event_is_truncation(want_ev)
                                        ? VIGIL_DECODE_TRUNCATED
                                        : VIGIL_DECODE_MALFORMED;
    expect_result(f, f->len, f->len, want, want_ev);
}

static void assert_addr4(const vigil_addr *a, const uint8_t *want)
{
    assert_int_equal(a->family, 4);
    assert_memory_equal(a->bytes, want, 4);
    for (size_t i = 4; i < 16; i++)
        assert_int_equal(a->bytes[i], 0);
}

static void assert_addr6(const vigil_addr *a, const uint8_t *want)
{
    assert_int_equal(a->family, 6);
    assert_memory_equal(a->bytes, want, 16);
}

static void assert_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(b[i], 0);
}

/* ---- frame kinds used by the sweep and the fuzzer ------------------- */

static const uint8_t TCP_OPTS[] = {
    2, 4, 0x05, 0xb4,           /* MSS 1460 */
    1, 3, 3, 7,                 /* NOP, window scale 7 */
    4, 2, 1, 1,                 /* SACK permitted, NOP, NOP */
    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, /* NOP, NOP, timestamps */
    1, 1, 1, 0,                 /* NOP NOP NOP EOL */
};
static const uint8_t IP_OPTS[] = {
    7, 7, 4, 0, 0, 0, 0,        /* record route, one empty slot */
    1,                          /* NOP */
    0x94, 4, 0, 0,              /* router alert */
    0, 0, 0, 0,                 /* EOL + padding */
};

static void make_tcp4(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 6, 0x4000, NULL, 0);  /* DF */
    tcp_put(f, 0x18, TCP_OPTS, sizeof TCP_OPTS);
    data_put(f, 10);
    finish(f);
}

static void make_tcp4_ipopts(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 6, 0, IP_OPTS, sizeof IP_OPTS);
    tcp_put(f, 0x02, NULL, 0);
    finish(f);
}

/* Small enough that Ethernet pads it. */
static void make_tcp4_padded(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 6, 0, NULL, 0);
    tcp_put(f, 0x10, NULL, 0);
    data_put(f, 2);
    finish(f);
    if (dlt == L_EN10MB)
        pad_to(f, 60);
}

static void make_udp4(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 17, 0, NULL, 0);
    udp_put(f);
    data_put(f, 12);
    finish(f);
}

static void make_icmp4(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 1, 0, NULL, 0);
    icmp_put(f, 1, 8, 0);
    data_put(f, 12);
    finish(f);
}

static void make_gre4(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 47, 0, NULL, 0);
    data_put(f, 8);
    finish(f);
}

static void make_frag4_first(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 17, 0x2000, NULL, 0); /* MF, offset 0 */
    udp_put(f);
    data_put(f, 16);
    finish(f);
    set16(f, f->udp_off + 4, 8 + 1000); /* the whole datagram is longer */
}

static void make_frag4_later(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV4);
    ipv4_begin(f, 17, 0x2000 | 3, NULL, 0); /* MF, offset 24 */
    data_put(f, 24);
    finish(f);
}

static void make_tcp6(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 6);
    tcp_put(f, 0x02, TCP_OPTS, sizeof TCP_OPTS);
    data_put(f, 5);
    finish(f);
}

/* Hop-by-hop, routing, destination options, first fragment, UDP. */
static void make_udp6_chain(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 0);
    ipv6_ext(f, 43, 0);
    ipv6_ext(f, 60, 1);
    ipv6_ext(f, 44, 0);
    ipv6_frag(f, 17, 0, true, 0xdeadbeef);
    udp_put(f);
    data_put(f, 9);
    finish(f);
}

static void make_tcp6_chain(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 0);
    ipv6_ext(f, 43, 0);
    ipv6_ext(f, 60, 0);
    ipv6_ext(f, 51, 0);
    ipv6_ah(f, 6, 4);
    tcp_put(f, 0x12, TCP_OPTS, 4);
    data_put(f, 3);
    finish(f);
}

static void make_icmp6_chain(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 0);
    ipv6_ext(f, 60, 0);
    ipv6_ext(f, 58, 0);
    icmp_put(f, 58, 128, 0);
    data_put(f, 8);
    finish(f);
}

static void make_frag6_later(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 44);
    ipv6_frag(f, 6, 1448, false, 0x00051234);
    data_put(f, 20);
    finish(f);
}

static void make_esp6(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 60);
    ipv6_ext(f, 50, 0);
    data_put(f, 24);
    finish(f);
}

/* Payload length 0 and a jumbo payload option (RFC 2675 layout; the
 * decoder takes the length from the wire). */
static void make_udp6_jumbo(frame *f, int dlt)
{
    link_begin(f, dlt, ET_IPV6);
    ipv6_begin(f, 0);
    size_t hbh = f->len;
    put8(f, 17);
    put8(f, 0);
    put8(f, 0xc2);              /* jumbo payload option */
    put8(f, 4);
    put32(f, 0);                /* filled below */
    mark_l4(f);
    udp_put(f);
    data_put(f, 6);
    finish(f);
    set16(f, f->ip_off + 4, 0);
    set16(f, hbh + 6, f->len - f->ip_off - 40);
}

static void make_arp(frame *f, int dlt)
{
    link_begin(f, dlt, ET_ARP);
    arp_put(f, 1, 1, 6, 4);
    finish(f);
    if (dlt == L_EN10MB)
        pad_to(f, 60);
}

static void make_qinq_tcp4(frame *f, int dlt)
{
    static const uint16_t tags[] = { ET_QINQ, ET_VLAN, ET_QINQ_OLD };
    link_tagged(f, dlt, ET_IPV4, tags, dlt == L_EN10MB ? 3 : 0);
    ipv4_begin(f, 6, 0, NULL, 0);
    tcp_put(f, 0x11, NULL, 0);
    data_put(f, 4);
    finish(f);
}

enum { CARRIES_V4 = 4, CARRIES_V6 = 6, CARRIES_ARP = 1 };

static const struct frame_kind {
    const char *name;
    void (*make)(frame *f, int dlt);
    int carries;
} kinds[] = {
    { "tcp4", make_tcp4, CARRIES_V4 },
    { "tcp4_ipopts", make_tcp4_ipopts, CARRIES_V4 },
    { "tcp4_padded", make_tcp4_padded, CARRIES_V4 },
    { "udp4", make_udp4, CARRIES_V4 },
    { "icmp4", make_icmp4, CARRIES_V4 },
    { "gre4", make_gre4, CARRIES_V4 },
    { "frag4_first", make_frag4_first, CARRIES_V4 },
    { "frag4_later", make_frag4_later, CARRIES_V4 },
    { "qinq_tcp4", make_qinq_tcp4, CARRIES_V4 },
    { "tcp6", make_tcp6, CARRIES_V6 },
    { "udp6_chain", make_udp6_chain, CARRIES_V6 },
    { "tcp6_chain", make_tcp6_chain, CARRIES_V6 },
    { "icmp6_chain", make_icmp6_chain, CARRIES_V6 },
    { "frag6_later", make_frag6_later, CARRIES_V6 },
    { "esp6", make_esp6, CARRIES_V6 },
    { "udp6_jumbo", make_udp6_jumbo, CARRIES_V6 },
    { "arp", make_arp, CARRIES_ARP },
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static bool link_carries(int dlt, int what)
{
    bool ethertype = dlt == L_EN10MB || dlt == L_SLL || dlt == L_SLL2;
    if (what == CARRIES_ARP)
        return ethertype;
    if (what == CARRIES_V4)
        return dlt != L_IPV6;
    return dlt != L_IPV4;
}

/* ---- event names ---------------------------------------------------- */

static void test_event_names(void **state)
{
    (void)state;
    assert_string_equal(vigil_decode_event_name(VIGIL_DEV_NONE), "");
    assert_string_equal(vigil_decode_event_name(VIGIL_DEV_IPV4_BAD_IHL), "ipv4.bad_ihl");
    assert_string_equal(vigil_decode_event_name(VIGIL_DEV_ICMPV6_TRUNCATED),
                        "icmpv6.truncated");
    assert_string_equal(vigil_decode_event_name(VIGIL_DEV_COUNT), "");
    assert_int_equal(vigil_decode_event_is_truncation(VIGIL_DEV_NONE), 0);
    assert_int_equal(vigil_decode_event_is_truncation(VIGIL_DEV_TCP_TRUNCATED), 1);
    assert_int_equal(vigil_decode_event_is_truncation(VIGIL_DEV_UDP_BAD_LEN), 0);

    for (int ev = 1; ev < VIGIL_DEV_COUNT; ev++) {
        const char *name = vigil_decode_event_name((enum vigil_decode_event)ev);
        bool says_truncated = strstr(name, "truncated") != NULL;
        assert_true(strchr(name, '.') != NULL);
        assert_int_equal(says_truncated,
                         vigil_decode_event_is_truncation((enum vigil_decode_event)ev));
        for (int other = 1; other < ev; other++)
            assert_string_not_equal(name, vigil_decode_event_name(
                                              (enum vigil_decode_event)other));
    }
}

static void test_dlt_supported(void **state)
{
    (void)state;
    int count = 0;
    for (int dlt = -1; dlt < 400; dlt++)
        count += vigil_decode_dlt_supported(dlt);
    assert_int_equal(count, (int)N_DLTS);
    for (size_t i = 0; i < N_DLTS; i++)
        assert_int_equal(vigil_decode_dlt_supported(supported_dlts[i]), 1);
    assert_int_equal(vigil_decode_dlt_supported(127), 0); /* radiotap */
}

/* ---- link layers ---------------------------------------------------- */

static void test_link_types_ipv4_tcp(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DLTS; i++) {
        int dlt = supported_dlts[i];
        if (!link_carries(dlt, CARRIES_V4))
            continue;
        frame f;
        vigil_packet pkt;
        make_tcp4(&f, dlt);
        uint8_t *buf = decode_ok(&f, &pkt);

        assert_int_equal(pkt.size, sizeof(vigil_packet));
        assert_int_equal(pkt.ts_us, 0);
        assert_int_equal(pkt.wire_len, f.len);
        assert_int_equal(pkt.cap_len, f.len);
        assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
        if (dlt == L_EN10MB) {
            assert_memory_equal(pkt.eth_src, MAC_SRC, 6);
            assert_memory_equal(pkt.eth_dst, MAC_DST, 6);
        } else if (dlt == L_SLL || dlt == L_SLL2) {
            assert_memory_equal(pkt.eth_src, MAC_SRC, 6);
            assert_zero(pkt.eth_dst, 6);
        } else {
            assert_zero(pkt.eth_src, 6);
            assert_zero(pkt.eth_dst, 6);
        }
        assert_int_equal(pkt.vlan_count, 0);
        assert_zero(pkt.vlan, sizeof pkt.vlan);
        assert_int_equal(pkt.l3, VIGIL_L3_IPV4);
        assert_int_equal(pkt.ip_proto, 6);
        assert_int_equal(pkt.ttl, TTL);
        assert_int_equal(pkt.ip_id, IP_ID);
        assert_int_equal(pkt.frag_offset, 0);
        assert_addr4(&pkt.src, IP4_SRC);
        assert_addr4(&pkt.dst, IP4_DST);
        assert_ptr_equal(pkt.l3_hdr, buf + f.l3_off);
        assert_int_equal(pkt.l3_len, f.len - f.l3_off);
        assert_int_equal(pkt.sport, SPORT);
        assert_int_equal(pkt.dport, DPORT);
        assert_int_equal(pkt.tcp_flags, VIGIL_TCP_PSH | VIGIL_TCP_ACK);
        assert_int_equal(pkt.tcp_window, WINDOW);
        assert_int_equal(pkt.tcp_seq, SEQ);
        assert_int_equal(pkt.tcp_ack, ACK);
        assert_int_equal(pkt.icmp_type, 0);
        assert_int_equal(pkt.icmp_code, 0);
        assert_ptr_equal(pkt.payload, buf + f.pay_off);
        assert_int_equal(pkt.payload_len, 10);
        assert_int_equal(pkt.payload_wire_len, 10);
        assert_memory_equal(pkt.payload, "abcdefghij", 10);
        assert_int_equal(pkt.arp_op, 0);
        assert_zero(pkt.arp_sha, 6);
        assert_zero(pkt.arp_tha, 6);
        free(buf);
    }
}

static void test_link_types_ipv6(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DLTS; i++) {
        int dlt = supported_dlts[i];
        if (!link_carries(dlt, CARRIES_V6))
            continue;
        frame f;
        vigil_packet pkt;
        make_tcp6(&f, dlt);
        uint8_t *buf = decode_ok(&f, &pkt);
        assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
        assert_int_equal(pkt.ip_proto, 6);
        assert_int_equal(pkt.ttl, TTL);
        assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
        assert_addr6(&pkt.src, IP6_SRC);
        assert_addr6(&pkt.dst, IP6_DST);
        assert_int_equal(pkt.l3_len, f.len - f.l3_off);
        assert_int_equal(pkt.tcp_flags, VIGIL_TCP_SYN);
        assert_int_equal(pkt.payload_len, 5);
        free(buf);
    }
}

/* DLT_NULL is host order, so either order is accepted; DLT_LOOP is not. */
static void test_null_and_loop_families(void **state)
{
    (void)state;
    static const uint32_t v6_families[] = { 10, 24, 28, 30 };
    frame f;
    vigil_packet pkt;

    make_tcp4(&f, L_NULL);
    memcpy(f.b, (const uint8_t[4]){ 0, 0, 0, 2 }, 4);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.l3, VIGIL_L3_IPV4);

    for (size_t i = 0; i < 4; i++) {
        uint8_t af = (uint8_t)v6_families[i];
        make_tcp6(&f, L_NULL);
        memcpy(f.b, (const uint8_t[4]){ af, 0, 0, 0 }, 4);
        free(decode_ok(&f, &pkt));
        assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
        memcpy(f.b, (const uint8_t[4]){ 0, 0, 0, af }, 4);
        free(decode_ok(&f, &pkt));
        assert_int_equal(pkt.l3, VIGIL_L3_IPV6);

        make_tcp6(&f, L_LOOP);
        memcpy(f.b, (const uint8_t[4]){ 0, 0, 0, af }, 4);
        free(decode_ok(&f, &pkt));
        assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
    }

    make_tcp4(&f, L_LOOP);
    memcpy(f.b, (const uint8_t[4]){ 2, 0, 0, 0 }, 4); /* wrong order */
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
    make_tcp4(&f, L_NULL);
    memcpy(f.b, (const uint8_t[4]){ 7, 0, 0, 0 }, 4); /* AF_UNIX-ish */
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
}

/* Raw links pick IPv4 or IPv6 by the version nibble. */
static void test_raw_version_nibble(void **state)
{
    (void)state;
    static const int raw[] = { L_RAW12, L_RAW14, L_RAW };
    frame f;
    vigil_packet pkt;

    for (size_t i = 0; i < 3; i++) {
        make_udp6_chain(&f, raw[i]);
        free(decode_ok(&f, &pkt));
        assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
        make_udp4(&f, raw[i]);
        free(decode_ok(&f, &pkt));
        assert_int_equal(pkt.l3, VIGIL_L3_IPV4);
        f.b[0] = 0x55;
        expect_event(&f, VIGIL_DEV_IPV4_BAD_VERSION);
    }
    make_udp6_chain(&f, L_IPV4); /* DLT_IPV4 carrying IPv6 */
    expect_event(&f, VIGIL_DEV_IPV4_BAD_VERSION);
    make_udp4(&f, L_IPV6);
    expect_event(&f, VIGIL_DEV_IPV6_BAD_VERSION);
}

static void test_sll_address_length(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_udp4(&f, L_SLL);
    f.b[5] = 4;                 /* not a MAC: not copied */
    free(decode_ok(&f, &pkt));
    assert_zero(pkt.eth_src, 6);

    make_udp4(&f, L_SLL2);
    f.b[11] = 0;
    free(decode_ok(&f, &pkt));
    assert_zero(pkt.eth_src, 6);
}

static void test_vlan_single(void **state)
{
    (void)state;
    static const uint16_t tag[] = { ET_VLAN };
    frame f;
    vigil_packet pkt;

    link_tagged(&f, L_EN10MB, ET_IPV4, tag, 1);
    ipv4_begin(&f, 17, 0, NULL, 0);
    udp_put(&f);
    data_put(&f, 3);
    finish(&f);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.vlan_count, 1);
    assert_int_equal(pkt.vlan[0], 100);
    assert_int_equal(pkt.vlan[1], 0);
    assert_ptr_equal(pkt.l3_hdr, buf + 18);
    assert_int_equal(pkt.sport, 5353);
    assert_int_equal(pkt.payload_len, 3);
    free(buf);
}

static void test_vlan_qinq(void **state)
{
    (void)state;
    static const uint16_t tags[] = { ET_QINQ, ET_VLAN };
    frame f;
    vigil_packet pkt;

    link_tagged(&f, L_EN10MB, ET_IPV6, tags, 2);
    ipv6_begin(&f, 58);
    icmp_put(&f, 58, 135, 0);
    data_put(&f, 20);
    finish(&f);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.vlan_count, 2);
    assert_int_equal(pkt.vlan[0], 100);
    assert_int_equal(pkt.vlan[1], 101);
    assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
    assert_int_equal(pkt.icmp_type, 135);
    assert_int_equal(pkt.sport, 135);
    free(buf);
}

static void make_tagged(frame *f, size_t ntags)
{
    uint16_t tags[9];
    for (size_t i = 0; i < ntags; i++)
        tags[i] = i % 3 == 0 ? ET_QINQ : i % 3 == 1 ? ET_VLAN : ET_QINQ_OLD;
    link_tagged(f, L_EN10MB, ET_IPV4, tags, ntags);
    ipv4_begin(f, 6, 0, NULL, 0);
    tcp_put(f, 0x02, NULL, 0);
    finish(f);
}

static void test_vlan_eight_and_nine_tags(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_tagged(&f, 8);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.vlan_count, 8);
    assert_int_equal(pkt.vlan[0], 100);
    assert_int_equal(pkt.vlan[1], 101);
    assert_int_equal(pkt.l3, VIGIL_L3_IPV4);

    make_tagged(&f, 9);
    expect_event(&f, VIGIL_DEV_VLAN_TOO_MANY);
}

static void test_other_ethertypes(void **state)
{
    (void)state;
    frame f;

    link_begin(&f, L_EN10MB, ET_LLDP);
    data_put(&f, 30);
    finish(&f);
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
    link_begin(&f, L_EN10MB, 46);  /* 802.3 length field */
    data_put(&f, 46);
    finish(&f);
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
    link_begin(&f, L_SLL2, 0x0004); /* 802.2 LLC on SLL */
    data_put(&f, 10);
    finish(&f);
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
    f.dlt = 127;                   /* not a link we decode */
    expect_result(&f, f.len, f.len, VIGIL_DECODE_OTHER, VIGIL_DEV_NONE);
}

/* ---- ARP ------------------------------------------------------------ */

static void test_arp_request_reply(void **state)
{
    (void)state;
    static const int links[] = { L_EN10MB, L_SLL, L_SLL2 };
    for (size_t i = 0; i < 3; i++) {
        for (uint16_t op = 1; op <= 2; op++) {
            frame f;
            vigil_packet pkt;
            link_begin(&f, links[i], ET_ARP);
            arp_put(&f, op, 1, 6, 4);
            finish(&f);
            pad_to(&f, 60);
            uint8_t *buf = decode_ok(&f, &pkt);
            assert_int_equal(pkt.l3, VIGIL_L3_ARP);
            assert_int_equal(pkt.arp_op, op);
            assert_memory_equal(pkt.arp_sha, MAC_SRC, 6);
            if (op == 1)
                assert_zero(pkt.arp_tha, 6);
            else
                assert_memory_equal(pkt.arp_tha, MAC_DST, 6);
            assert_addr4(&pkt.src, IP4_SRC);
            assert_addr4(&pkt.dst, IP4_DST);
            assert_ptr_equal(pkt.l3_hdr, buf + f.l3_off);
            assert_int_equal(pkt.l3_len, 28);
            assert_int_equal(pkt.ip_proto, 0);
            assert_int_equal(pkt.flags, 0);
            assert_null(pkt.payload);
            assert_int_equal(pkt.payload_len, 0);
            free(buf);
        }
    }
}

static void test_arp_bad(void **state)
{
    (void)state;
    frame f;

    link_begin(&f, L_EN10MB, ET_ARP);
    arp_put(&f, 1, 6, 6, 4);    /* IEEE 802 hardware */
    finish(&f);
    expect_event(&f, VIGIL_DEV_ARP_BAD_FORMAT);

    link_begin(&f, L_EN10MB, ET_ARP);
    arp_put(&f, 1, 1, 6, 16);   /* 16-byte protocol addresses */
    finish(&f);
    expect_event(&f, VIGIL_DEV_ARP_BAD_FORMAT);

    link_begin(&f, L_EN10MB, ET_ARP);
    arp_put(&f, 2, 1, 6, 4);
    finish(&f);
    expect_result(&f, f.len - 1, f.len, VIGIL_DECODE_TRUNCATED, VIGIL_DEV_ARP_TRUNCATED);
    expect_result(&f, 14 + 7, f.len, VIGIL_DECODE_TRUNCATED, VIGIL_DEV_ARP_TRUNCATED);
}

/* ---- IPv4 ----------------------------------------------------------- */

static void test_ipv4_options(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_tcp4_ipopts(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.l3_len, 20 + sizeof IP_OPTS + 20);
    assert_int_equal(pkt.sport, SPORT);
    assert_int_equal(pkt.tcp_flags, VIGIL_TCP_SYN);
    assert_int_equal(pkt.payload_len, 0);
    free(buf);

    static const uint8_t len_one[] = { 1, 7, 1, 0 };          /* length 1 */
    static const uint8_t len_zero[] = { 0x83, 0, 0, 0 };      /* length 0 */
    static const uint8_t too_long[] = { 1, 1, 7, 3 };         /* 3 > 2 left */
    static const uint8_t no_len[] = { 1, 1, 1, 0x44 };        /* kind, no length */
    static const uint8_t fits[] = { 0x44, 4, 5, 0 };          /* exactly fits */
    static const uint8_t *const bad[] = { len_one, len_zero, too_long, no_len };
    for (size_t i = 0; i < 4; i++) {
        link_begin(&f, L_EN10MB, ET_IPV4);
        ipv4_begin(&f, 6, 0, bad[i], 4);
        tcp_put(&f, 0x02, NULL, 0);
        finish(&f);
        expect_event(&f, VIGIL_DEV_IPV4_BAD_OPTIONS);
    }
    link_begin(&f, L_EN10MB, ET_IPV4);
    ipv4_begin(&f, 6, 0, fits, 4);
    tcp_put(&f, 0x02, NULL, 0);
    finish(&f);
    free(decode_ok(&f, &pkt));
    assert_true(pkt.flags & VIGIL_PKT_IP_OPTIONS);
}

static void test_ipv4_bad_headers(void **state)
{
    (void)state;
    frame f;

    make_udp4(&f, L_EN10MB);
    f.b[14] = 0x65;
    expect_event(&f, VIGIL_DEV_IPV4_BAD_VERSION);

    make_udp4(&f, L_EN10MB);
    f.b[14] = 0x44;
    expect_event(&f, VIGIL_DEV_IPV4_BAD_IHL);

    make_udp4(&f, L_EN10MB);
    set16(&f, 16, 19);          /* shorter than the header */
    expect_event(&f, VIGIL_DEV_IPV4_BAD_TOTAL_LEN);

    make_udp4(&f, L_EN10MB);
    set16(&f, 16, f.len - 14 + 1); /* one byte more than the wire held */
    expect_event(&f, VIGIL_DEV_IPV4_BAD_TOTAL_LEN);
    /* ... but fine when the wire length says the bytes were there */
    expect_result(&f, f.len, f.len + 1, VIGIL_DECODE_OK, VIGIL_DEV_NONE);

    /* IHL 15 (60 bytes) with 40 captured and total length 60 on the wire */
    make_udp4(&f, L_EN10MB);
    f.b[14] = 0x4f;
    set16(&f, 16, 60);
    expect_result(&f, f.len, 14 + 60, VIGIL_DECODE_TRUNCATED, VIGIL_DEV_IPV4_TRUNCATED);

    make_udp4(&f, L_EN10MB);
    expect_result(&f, 14 + 19, f.len, VIGIL_DECODE_TRUNCATED, VIGIL_DEV_IPV4_TRUNCATED);
}

static void test_ipv4_fragments(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_frag4_first(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_FRAGMENT | VIGIL_PKT_FRAG_FIRST | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.frag_offset, 0);
    assert_int_equal(pkt.sport, 5353);
    assert_int_equal(pkt.dport, 53);
    assert_int_equal(pkt.payload_len, 16);
    assert_int_equal(pkt.payload_wire_len, 16);
    free(buf);

    make_frag4_later(&f, L_EN10MB);
    buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_FRAGMENT);
    assert_int_equal(pkt.frag_offset, 24);
    assert_int_equal(pkt.ip_proto, 17);
    assert_int_equal(pkt.ip_id, IP_ID);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.dport, 0);
    assert_ptr_equal(pkt.payload, buf + 34);
    assert_int_equal(pkt.payload_len, 24);
    assert_int_equal(pkt.payload_wire_len, 24);
    free(buf);

    /* The last fragment (MF clear, offset set) is a fragment too. */
    make_frag4_later(&f, L_EN10MB);
    set16(&f, 20, 3);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.flags, VIGIL_PKT_FRAGMENT);

    /* 8189*8 + 24 bytes ends past 65535 */
    make_frag4_later(&f, L_EN10MB);
    set16(&f, 20, 8189);
    expect_event(&f, VIGIL_DEV_IPV4_BAD_FRAGMENT);
    /* 8188*8 + 24 = 65528: fits */
    set16(&f, 20, 8188);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.frag_offset, 65504);
}

/* A first fragment that ends inside the TCP header: legal IP, no L4. */
static void test_ipv4_tiny_first_fragment(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    link_begin(&f, L_EN10MB, ET_IPV4);
    ipv4_begin(&f, 6, 0x2000, NULL, 0);
    put16(&f, SPORT);
    put16(&f, DPORT);
    put32(&f, SEQ);
    finish(&f);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_FRAGMENT | VIGIL_PKT_FRAG_FIRST);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.payload_len, 8);
    free(buf);

    /* the same bytes unfragmented: the TCP header is cut */
    set16(&f, 20, 0);
    expect_event(&f, VIGIL_DEV_TCP_TRUNCATED);
}

static void test_icmp4(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_icmp4(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 1);
    assert_int_equal(pkt.icmp_type, 8);
    assert_int_equal(pkt.icmp_code, 0);
    assert_int_equal(pkt.sport, 8);
    assert_int_equal(pkt.dport, 0);
    assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.payload_len, 12);
    free(buf);
}

static void test_other_ip_protocol(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_gre4(&f, L_RAW);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 47);
    assert_int_equal(pkt.flags, 0);
    assert_ptr_equal(pkt.payload, buf + 20);
    assert_int_equal(pkt.payload_len, 8);
    free(buf);
}

/* ---- IPv6 ----------------------------------------------------------- */

static void test_ipv6_chain_udp(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_udp6_chain(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.l3, VIGIL_L3_IPV6);
    assert_int_equal(pkt.ip_proto, 17);
    assert_int_equal(pkt.ttl, TTL);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_FRAGMENT
                                    | VIGIL_PKT_FRAG_FIRST | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.ip_id, 0xbeef);
    assert_int_equal(pkt.frag_offset, 0);
    assert_int_equal(pkt.sport, 5353);
    assert_int_equal(pkt.dport, 53);
    assert_ptr_equal(pkt.payload, buf + f.pay_off);
    assert_int_equal(pkt.payload_len, 9);
    assert_int_equal(pkt.l3_len, f.len - 14);
    free(buf);
}

static void test_ipv6_chain_tcp_ah(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_tcp6_chain(&f, L_SLL2);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 6);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.tcp_flags, VIGIL_TCP_SYN | VIGIL_TCP_ACK);
    assert_int_equal(pkt.tcp_seq, SEQ);
    assert_ptr_equal(pkt.payload, buf + f.pay_off);
    assert_int_equal(pkt.payload_len, 3);
    free(buf);
}

static void test_ipv6_chain_icmpv6(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_icmp6_chain(&f, L_IPV6);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 58);
    assert_int_equal(pkt.icmp_type, 128);
    assert_int_equal(pkt.sport, 128);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.payload_len, 8);
    free(buf);

    /* ICMP (1) inside IPv6 is not ICMPv6: an unknown protocol. */
    link_begin(&f, L_IPV6, ET_IPV6);
    ipv6_begin(&f, 1);
    icmp_put(&f, 0, 8, 0);
    finish(&f);
    buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 1);
    assert_int_equal(pkt.flags, 0);
    assert_int_equal(pkt.payload_len, 4);
    free(buf);
}

static void test_ipv6_later_fragment(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_frag6_later(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_FRAGMENT);
    assert_int_equal(pkt.frag_offset, 1448);
    assert_int_equal(pkt.ip_id, 0x1234);
    assert_int_equal(pkt.ip_proto, 6);
    assert_ptr_equal(pkt.payload, buf + f.pay_off);
    assert_int_equal(pkt.payload_len, 20);
    free(buf);

    /* offset 0, no more fragments: an atomic fragment, not a fragment */
    link_begin(&f, L_EN10MB, ET_IPV6);
    ipv6_begin(&f, 44);
    ipv6_frag(&f, 17, 0, false, 7);
    udp_put(&f);
    finish(&f);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.ip_id, 0);
}

static void test_ipv6_esp_and_no_next(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_esp6(&f, L_EN10MB);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 50);
    assert_int_equal(pkt.flags, VIGIL_PKT_IP_OPTIONS);
    assert_ptr_equal(pkt.payload, buf + f.pay_off);
    assert_int_equal(pkt.payload_len, 24);
    free(buf);

    link_begin(&f, L_EN10MB, ET_IPV6);
    ipv6_begin(&f, 59);
    finish(&f);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.ip_proto, 59);
    assert_int_equal(pkt.flags, 0);
    assert_int_equal(pkt.payload_len, 0);
    assert_null(pkt.payload);
}

static void make_dstopts_chain(frame *f, size_t count)
{
    link_begin(f, L_RAW, ET_IPV6);
    ipv6_begin(f, 60);
    for (size_t i = 0; i < count; i++)
        ipv6_ext(f, i + 1 < count ? 60 : 17, 0);
    udp_put(f);
    finish(f);
}

static void test_ipv6_too_many_exthdrs(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_dstopts_chain(&f, 16);
    free(decode_ok(&f, &pkt));
    assert_int_equal(pkt.ip_proto, 17);
    make_dstopts_chain(&f, 17);
    expect_event(&f, VIGIL_DEV_IPV6_TOO_MANY_EXTHDRS);
}

static void test_ipv6_bad_lengths(void **state)
{
    (void)state;
    frame f;

    make_udp6_chain(&f, L_EN10MB);
    set16(&f, 14 + 4, f.len - 14 - 40 + 1);
    expect_event(&f, VIGIL_DEV_IPV6_BAD_PAYLOAD_LEN);

    make_udp6_chain(&f, L_EN10MB);
    f.b[14] = 0x40;
    expect_event(&f, VIGIL_DEV_IPV6_BAD_VERSION);

    /* the routing header claims 16 bytes but the payload ends after 12 */
    link_begin(&f, L_EN10MB, ET_IPV6);
    ipv6_begin(&f, 43);
    ipv6_ext(&f, 59, 0);
    put_fill(&f, 0, 4);
    finish(&f);
    f.b[14 + 40 + 1] = 1;
    expect_event(&f, VIGIL_DEV_IPV6_BAD_EXTHDR);

    /* an extension header announced by an empty payload */
    link_begin(&f, L_EN10MB, ET_IPV6);
    ipv6_begin(&f, 60);
    finish(&f);
    pad_to(&f, 60);
    expect_event(&f, VIGIL_DEV_IPV6_BAD_EXTHDR);

    /* captured short inside the extension header */
    make_udp6_chain(&f, L_EN10MB);
    expect_result(&f, 14 + 40 + 5, f.len, VIGIL_DECODE_TRUNCATED,
                  VIGIL_DEV_IPV6_EXTHDR_TRUNCATED);
    expect_result(&f, 14 + 39, f.len, VIGIL_DECODE_TRUNCATED, VIGIL_DEV_IPV6_TRUNCATED);
}

static void test_ipv6_jumbo(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_udp6_jumbo(&f, L_RAW);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.ip_proto, 17);
    assert_int_equal(pkt.payload_len, 6);
    assert_int_equal(pkt.l3_len, f.len);
    free(buf);

    /* cut inside the hop-by-hop header: cannot tell yet */
    expect_result(&f, 40 + 5, f.len, VIGIL_DECODE_TRUNCATED,
                  VIGIL_DEV_IPV6_EXTHDR_TRUNCATED);

    /* without the option, payload length 0 leaves no room for the header */
    f.b[40 + 2] = 1;
    expect_event(&f, VIGIL_DEV_IPV6_BAD_EXTHDR);

    /* a hop-by-hop header announced where the wire ends */
    link_begin(&f, L_RAW, ET_IPV6);
    ipv6_begin(&f, 0);
    finish(&f);
    expect_event(&f, VIGIL_DEV_IPV6_BAD_EXTHDR);
}

/* ---- transport ------------------------------------------------------ */

static void test_udp_lengths(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_udp4(&f, L_EN10MB);
    set16(&f, f.udp_off + 4, 7);
    expect_event(&f, VIGIL_DEV_UDP_BAD_LEN);

    make_udp4(&f, L_EN10MB);
    set16(&f, f.udp_off + 4, f.len - f.udp_off + 1);
    expect_event(&f, VIGIL_DEV_UDP_BAD_LEN);

    /* shorter than the IP payload: the payload follows the UDP length */
    make_udp4(&f, L_EN10MB);
    set16(&f, f.udp_off + 4, 8 + 5);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.payload_len, 5);
    assert_int_equal(pkt.payload_wire_len, 5);
    assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
    free(buf);

    make_udp6_chain(&f, L_SLL);
    set16(&f, f.udp_off + 4, 3);
    expect_event(&f, VIGIL_DEV_UDP_BAD_LEN);
}

static void make_tcp_opts(frame *f, const uint8_t *opts, size_t len)
{
    link_begin(f, L_EN10MB, ET_IPV4);
    ipv4_begin(f, 6, 0, NULL, 0);
    tcp_put(f, 0x02, opts, len);
    finish(f);
}

static void test_tcp_options(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_tcp_opts(&f, TCP_OPTS, sizeof TCP_OPTS);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
    assert_int_equal(pkt.payload_len, 0);
    free(buf);

    static const uint8_t len_zero[] = { 2, 0, 0, 0 };
    static const uint8_t len_one[] = { 1, 1, 8, 1 };
    static const uint8_t too_long[] = { 2, 4, 5, 0xb4, 1, 3, 4, 7 };
    static const uint8_t no_len[] = { 1, 1, 1, 4 };
    make_tcp_opts(&f, len_zero, 4);
    expect_event(&f, VIGIL_DEV_TCP_BAD_OPTIONS);
    make_tcp_opts(&f, len_one, 4);
    expect_event(&f, VIGIL_DEV_TCP_BAD_OPTIONS);
    make_tcp_opts(&f, too_long, 8);
    expect_event(&f, VIGIL_DEV_TCP_BAD_OPTIONS);
    make_tcp_opts(&f, no_len, 4);
    expect_event(&f, VIGIL_DEV_TCP_BAD_OPTIONS);

    /* options cut by the capture */
    make_tcp_opts(&f, TCP_OPTS, sizeof TCP_OPTS);
    expect_result(&f, f.len - 1, f.len, VIGIL_DECODE_TRUNCATED,
                  VIGIL_DEV_TCP_OPT_TRUNCATED);
}

static void test_tcp_data_offset(void **state)
{
    (void)state;
    frame f;

    make_tcp4(&f, L_EN10MB);
    f.b[f.l4_off + 12] = 0x40;
    expect_event(&f, VIGIL_DEV_TCP_BAD_OFFSET);

    /* 60-byte header in a 58-byte IP payload */
    make_tcp4(&f, L_EN10MB);
    f.b[f.l4_off + 12] = 0xf0;
    expect_event(&f, VIGIL_DEV_TCP_BAD_OFFSET);

    make_tcp4(&f, L_EN10MB);
    expect_result(&f, f.l4_off + 19, f.len, VIGIL_DECODE_TRUNCATED,
                  VIGIL_DEV_TCP_TRUNCATED);
}

static void test_payload_cut_by_snaplen(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;
    enum vigil_decode_event ev;
    enum vigil_decode_result r;

    link_begin(&f, L_EN10MB, ET_IPV4);
    ipv4_begin(&f, 6, 0, NULL, 0);
    tcp_put(&f, 0x18, NULL, 0);
    data_put(&f, 1000);
    finish(&f);
    uint8_t *buf = decode_prefix(f.dlt, f.b, 96, f.len, &pkt, &ev, &r);
    assert_int_equal(r, VIGIL_DECODE_OK);
    assert_int_equal(ev, VIGIL_DEV_NONE);
    assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4 | VIGIL_PKT_PAYLOAD_CUT);
    assert_int_equal(pkt.cap_len, 96);
    assert_int_equal(pkt.wire_len, f.len);
    assert_int_equal(pkt.l3_len, 96 - 14);
    assert_int_equal(pkt.payload_len, 96 - 54);
    assert_int_equal(pkt.payload_wire_len, 1000);
    assert_ptr_equal(pkt.payload, buf + 54);
    free(buf);

    /* a wire length below caplen is treated as caplen */
    buf = decode_prefix(f.dlt, f.b, 96, 10, &pkt, &ev, &r);
    assert_int_equal(r, VIGIL_DECODE_MALFORMED);
    assert_int_equal(ev, VIGIL_DEV_IPV4_BAD_TOTAL_LEN);
    assert_int_equal(pkt.wire_len, 96);
    free(buf);
}

static void test_ethernet_padding(void **state)
{
    (void)state;
    frame f;
    vigil_packet pkt;

    make_tcp4_padded(&f, L_EN10MB);
    assert_int_equal(f.len, 60);
    uint8_t *buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.l3_len, 42);
    assert_int_equal(pkt.payload_len, 2);
    assert_int_equal(pkt.payload_wire_len, 2);
    assert_int_equal(pkt.flags, VIGIL_PKT_HAS_L4);
    free(buf);

    link_begin(&f, L_EN10MB, ET_IPV4);
    ipv4_begin(&f, 17, 0, NULL, 0);
    udp_put(&f);
    finish(&f);
    pad_to(&f, 60);
    buf = decode_ok(&f, &pkt);
    assert_int_equal(pkt.l3_len, 28);
    assert_int_equal(pkt.payload_len, 0);
    assert_null(pkt.payload);
    free(buf);
}

/* ---- every truncation point ----------------------------------------- */

static bool event_in(enum vigil_decode_event ev, const enum vigil_decode_event *set,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == ev)
            return true;
    return false;
}

/* The truncation events that may report a cut at `caplen` in `f`. */
static bool truncation_fits(const frame *f, size_t caplen, enum vigil_decode_event ev)
{
    if (caplen < f->l3_off) {
        static const enum vigil_decode_event eth[] = { VIGIL_DEV_ETH_TRUNCATED,
                                                       VIGIL_DEV_VLAN_TRUNCATED };
        switch (f->dlt) {
        case L_EN10MB: return event_in(ev, eth, 2);
        case L_SLL: return ev == VIGIL_DEV_SLL_TRUNCATED;
        case L_SLL2: return ev == VIGIL_DEV_SLL2_TRUNCATED;
        default: return ev == VIGIL_DEV_NULL_TRUNCATED;
        }
    }
    if (caplen < f->l4_off) {
        bool raw = f->dlt == L_RAW12 || f->dlt == L_RAW14 || f->dlt == L_RAW;
        if (f->ip_version == 0)
            return ev == VIGIL_DEV_ARP_TRUNCATED;
        if (f->ip_version == 4)
            return ev == VIGIL_DEV_IPV4_TRUNCATED;
        if (raw && caplen == f->l3_off && ev == VIGIL_DEV_IPV4_TRUNCATED)
            return true; /* no version nibble to go by */
        return ev == VIGIL_DEV_IPV6_TRUNCATED || ev == VIGIL_DEV_IPV6_EXTHDR_TRUNCATED;
    }
    switch (f->l4) {
    case 6: return ev == VIGIL_DEV_TCP_TRUNCATED || ev == VIGIL_DEV_TCP_OPT_TRUNCATED;
    case 17: return ev == VIGIL_DEV_UDP_TRUNCATED;
    case 1: return ev == VIGIL_DEV_ICMP_TRUNCATED;
    case 58: return ev == VIGIL_DEV_ICMPV6_TRUNCATED;
    default: return false;
    }
}

/* Everything but what the cut may change matches the whole decode. */
static void assert_same_headers(const vigil_packet *a, const vigil_packet *b)
{
    assert_int_equal(a->flags & ~(uint32_t)VIGIL_PKT_PAYLOAD_CUT, b->flags);
    assert_memory_equal(a->eth_src, b->eth_src, 6);
    assert_memory_equal(a->eth_dst, b->eth_dst, 6);
    assert_int_equal(a->vlan_count, b->vlan_count);
    assert_int_equal(a->vlan[0], b->vlan[0]);
    assert_int_equal(a->vlan[1], b->vlan[1]);
    assert_int_equal(a->l3, b->l3);
    assert_int_equal(a->ip_proto, b->ip_proto);
    assert_int_equal(a->ttl, b->ttl);
    assert_int_equal(a->ip_id, b->ip_id);
    assert_int_equal(a->frag_offset, b->frag_offset);
    assert_memory_equal(&a->src, &b->src, sizeof a->src);
    assert_memory_equal(&a->dst, &b->dst, sizeof a->dst);
    assert_int_equal(a->sport, b->sport);
    assert_int_equal(a->dport, b->dport);
    assert_int_equal(a->tcp_flags, b->tcp_flags);
    assert_int_equal(a->icmp_type, b->icmp_type);
    assert_int_equal(a->icmp_code, b->icmp_code);
    assert_int_equal(a->tcp_window, b->tcp_window);
    assert_int_equal(a->tcp_seq, b->tcp_seq);
    assert_int_equal(a->tcp_ack, b->tcp_ack);
    assert_int_equal(a->payload_wire_len, b->payload_wire_len);
    assert_int_equal(a->arp_op, b->arp_op);
    assert_memory_equal(a->arp_sha, b->arp_sha, 6);
    assert_memory_equal(a->arp_tha, b->arp_tha, 6);
}

static void check_cut(const frame *f, const vigil_packet *whole, size_t caplen)
{
    vigil_packet pkt;
    enum vigil_decode_event ev;
    enum vigil_decode_result r;
    uint8_t *buf = decode_prefix(f->dlt, f->b, caplen, f->len, &pkt, &ev, &r);

    if (caplen < f->pay_off) {
        if (r != VIGIL_DECODE_TRUNCATED || !truncation_fits(f, caplen, ev))
            fail_msg("dlt %d cut at %zu of %zu: result %d event '%s'", f->dlt,
                     caplen, f->len, r, vigil_decode_event_name(ev));
    } else {
        size_t end = caplen < f->data_end ? caplen : f->data_end;
        if (r != VIGIL_DECODE_OK)
            fail_msg("dlt %d cut at %zu of %zu: result %d event '%s'", f->dlt,
                     caplen, f->len, r, vigil_decode_event_name(ev));
        assert_same_headers(&pkt, whole);
        assert_int_equal(!!(pkt.flags & VIGIL_PKT_PAYLOAD_CUT), caplen < f->data_end);
        assert_int_equal(pkt.payload_len, end - f->pay_off);
        assert_int_equal(pkt.l3_len, end - f->l3_off);
        assert_int_equal(pkt.cap_len, caplen);
        assert_int_equal(pkt.wire_len, f->len);
        if (pkt.payload_len)
            assert_ptr_equal(pkt.payload, buf + f->pay_off);
        else
            assert_null(pkt.payload);
    }
    free(buf);
}

static void sweep_frame(const frame *f)
{
    vigil_packet whole;
    uint8_t *buf = decode_ok(f, &whole);
    assert_int_equal(whole.payload_len, f->data_end - f->pay_off);
    assert_int_equal(whole.l3_len, f->data_end - f->l3_off);
    for (size_t caplen = 0; caplen < f->len; caplen++)
        check_cut(f, &whole, caplen);
    free(buf);
}

static void test_every_truncation_point(void **state)
{
    (void)state;
    size_t swept = 0;
    for (size_t d = 0; d < N_DLTS; d++) {
        for (size_t k = 0; k < N_KINDS; k++) {
            int dlt = supported_dlts[d];
            if (!link_carries(dlt, kinds[k].carries))
                continue;
            frame f;
            kinds[k].make(&f, dlt);
            sweep_frame(&f);
            swept++;
        }
    }
    /* the tagged and ext-header-heavy frames from the other tests too */
    frame f;
    make_tagged(&f, 8);
    sweep_frame(&f);
    make_dstopts_chain(&f, 16);
    sweep_frame(&f);
    assert_true(swept >= 100);
}

/* ---- random and mutated frames -------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic, good enough to pick bytes */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* Whatever the input, the result, the event and the pointers agree. */
static void check_invariants(const uint8_t *buf, size_t caplen,
                             enum vigil_decode_result r,
                             enum vigil_decode_event ev, const vigil_packet *pkt)
{
    switch (r) {
    case VIGIL_DECODE_OK:
    case VIGIL_DECODE_OTHER:
        assert_int_equal(ev, VIGIL_DEV_NONE);
        break;
    case VIGIL_DECODE_TRUNCATED:
        assert_true(vigil_decode_event_is_truncation(ev));
        break;
    case VIGIL_DECODE_MALFORMED:
        assert_true(ev != VIGIL_DEV_NONE && !vigil_decode_event_is_truncation(ev));
        break;
    default:
        fail_msg("unknown result %d", r);
    }
    assert_int_equal(pkt->size, sizeof *pkt);
    if (r != VIGIL_DECODE_OK)
        return;
    if (pkt->l3_hdr) {
        size_t off = (size_t)(pkt->l3_hdr - buf);
        assert_true(off <= caplen && pkt->l3_len <= caplen - off);
    }
    if (pkt->payload) {
        size_t off = (size_t)(pkt->payload - buf);
        assert_true(off <= caplen && pkt->payload_len <= caplen - off);
    }
    assert_true(pkt->payload_len <= pkt->payload_wire_len);
    assert_int_equal(!!(pkt->flags & VIGIL_PKT_PAYLOAD_CUT),
                     pkt->payload_len < pkt->payload_wire_len);
}

static const uint8_t interesting[] = { 0x00, 0xff, 0x45, 0x4f, 0x60, 0x81, 0x86, 0xdd,
                                       0x88, 0xa8, 0x2c, 0x3c, 0x06, 0x11, 0x3a, 0x01 };

static size_t mutate(uint8_t *b, size_t len, uint64_t *s)
{
    size_t n = 1 + rng_below(s, 4);
    for (size_t i = 0; i < n && len; i++) {
        size_t at = rng_below(s, len < 96 ? len : 96);
        if (rng_below(s, 3) == 0)
            b[at] = interesting[rng_below(s, sizeof interesting)];
        else
            b[at] ^= (uint8_t)(1u << rng_below(s, 8));
    }
    return rng_below(s, 2) ? len : rng_below(s, len + 1);
}

static void test_random_and_mutated_frames(void **state)
{
    (void)state;
    enum { ITERATIONS = 200000 };
    static frame templates[N_DLTS * N_KINDS];
    size_t ntemplates = 0;
    uint64_t seed = 0x5eed0f1a2b3c4d5eull;
    uint64_t ok = 0;

    for (size_t d = 0; d < N_DLTS; d++)
        for (size_t k = 0; k < N_KINDS; k++)
            if (link_carries(supported_dlts[d], kinds[k].carries))
                kinds[k].make(&templates[ntemplates++], supported_dlts[d]);

    for (int i = 0; i < ITERATIONS; i++) {
        uint8_t bytes[MAX_FRAME];
        size_t caplen;
        int dlt;
        if (rng_below(&seed, 5) == 0) {
            caplen = rng_below(&seed, 200);
            for (size_t j = 0; j < caplen; j++)
                bytes[j] = (uint8_t)rng_next(&seed);
            dlt = supported_dlts[rng_below(&seed, N_DLTS)];
        } else {
            const frame *t = &templates[rng_below(&seed, ntemplates)];
            memcpy(bytes, t->b, t->len);
            caplen = mutate(bytes, t->len, &seed);
            dlt = rng_below(&seed, 4) ? t->dlt : supported_dlts[rng_below(&seed, N_DLTS)];
        }
        size_t wire_choices[] = { caplen, caplen + rng_below(&seed, 70000), 0,
                                  caplen + 1 };
        size_t wirelen = wire_choices[rng_below(&seed, 4)];

        vigil_packet pkt;
        enum vigil_decode_event ev;
        enum vigil_decode_result r;
        uint8_t *buf = decode_prefix(dlt, bytes, caplen, wirelen, &pkt, &ev, &r);
        check_invariants(buf, caplen, r, ev, &pkt);
        ok += r == VIGIL_DECODE_OK;
        free(buf);
    }
    /* the mutations must leave plenty of frames that still decode */
    assert_true(ok > ITERATIONS / 10);
}

/* ---- captures from the reliability research ------------------------- */

static const char *shared_dir(void)
{
    const char *env = getenv("VIGIL_SHARED");
    return env && *env ? env : "../shared";
}

/* Decode every packet of a capture; returns how many decoded OK, or -1
 * when the file is not there. */
static int decode_capture(const char *name)
{
    char path[4096];
    char errbuf[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/reliability/%s", shared_dir(), name);
    if (access(path, R_OK) != 0)
        return -1;
    pcap_t *p = pcap_open_offline(path, errbuf);
    if (!p)
        fail_msg("%s: %s", path, errbuf);

    int dlt = pcap_datalink(p), decoded_ok = 0, packets = 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    while (pcap_next_ex(p, &hdr, &data) == 1) {
        vigil_packet pkt;
        enum vigil_decode_event ev;
        enum vigil_decode_result r;
        free(decode_prefix(dlt, data, hdr->caplen, hdr->len, &pkt, &ev, &r));
        decoded_ok += r == VIGIL_DECODE_OK;
        packets++;
    }
    pcap_close(p);
    assert_true(packets > 0);
    return decoded_ok;
}

static void test_reliability_captures(void **state)
{
    (void)state;
    int overread = decode_capture("libnids-iphdr-checksum-overread.pcap");
    int radiotap = decode_capture("libnids-radiotap-oob-read.pcap");
    if (overread < 0 && radiotap < 0)
        skip();
    assert_true(overread <= 0);
    assert_true(radiotap <= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names),
        cmocka_unit_test(test_dlt_supported),
        cmocka_unit_test(test_link_types_ipv4_tcp),
        cmocka_unit_test(test_link_types_ipv6),
        cmocka_unit_test(test_null_and_loop_families),
        cmocka_unit_test(test_raw_version_nibble),
        cmocka_unit_test(test_sll_address_length),
        cmocka_unit_test(test_vlan_single),
        cmocka_unit_test(test_vlan_qinq),
        cmocka_unit_test(test_vlan_eight_and_nine_tags),
        cmocka_unit_test(test_other_ethertypes),
        cmocka_unit_test(test_arp_request_reply),
        cmocka_unit_test(test_arp_bad),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_ipv4_bad_headers),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv4_tiny_first_fragment),
        cmocka_unit_test(test_icmp4),
        cmocka_unit_test(test_other_ip_protocol),
        cmocka_unit_test(test_ipv6_chain_udp),
        cmocka_unit_test(test_ipv6_chain_tcp_ah),
        cmocka_unit_test(test_ipv6_chain_icmpv6),
        cmocka_unit_test(test_ipv6_later_fragment),
        cmocka_unit_test(test_ipv6_esp_and_no_next),
        cmocka_unit_test(test_ipv6_too_many_exthdrs),
        cmocka_unit_test(test_ipv6_bad_lengths),
        cmocka_unit_test(test_ipv6_jumbo),
        cmocka_unit_test(test_udp_lengths),
        cmocka_unit_test(test_tcp_options),
        cmocka_unit_test(test_tcp_data_offset),
        cmocka_unit_test(test_payload_cut_by_snaplen),
        cmocka_unit_test(test_ethernet_padding),
        cmocka_unit_test(test_every_truncation_point),
        cmocka_unit_test(test_random_and_mutated_frames),
        cmocka_unit_test(test_reliability_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
