/*
 * decode.c - link, network and transport headers into a vigil_packet.
 *
 * Every byte is read through a vg_cursor. Two lengths travel together
 * down the layers: the cursor holds what was captured, `wire` holds what
 * the enclosing header claims is there. A header the capture cut short is
 * TRUNCATED; a header whose values contradict the wire length (or
 * themselves) is MALFORMED. Checks against `wire` come before checks
 * against the capture, so cutting a valid frame never looks malformed.
 */
#include "decode.h"

#include <stdbool.h>
#include <string.h>

#include "cursor.h"

/* DLT values as libpcap reports them on Linux. */
enum {
    LINK_NULL = 0,
    LINK_EN10MB = 1,
    LINK_RAW_BSD = 12,
    LINK_RAW_OPENBSD = 14,
    LINK_RAW = 101,
    LINK_LOOP = 108,
    LINK_SLL = 113,
    LINK_IPV4 = 228,
    LINK_IPV6 = 229,
    LINK_SLL2 = 276,
};

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_ARP = 0x0806,
    ETHERTYPE_VLAN = 0x8100,
    ETHERTYPE_QINQ = 0x88a8,
    ETHERTYPE_QINQ_OLD = 0x9100,
    ETHERTYPE_IPV6 = 0x86dd,
};

enum {
    PROTO_HOPOPTS = 0,
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ROUTING = 43,
    PROTO_FRAGMENT = 44,
    PROTO_AH = 51,
    PROTO_ICMPV6 = 58,
    PROTO_DSTOPTS = 60,
    PROTO_MOBILITY = 135,
};

#define VLAN_MAX_TAGS 8         /* more is an evasion attempt, not a network */
#define IPV6_MAX_EXTHDRS 16
#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define TCP_MIN_HDR 20
#define UDP_HDR 8
#define ICMP_HDR 4              /* type, code, checksum */
#define ARP_FIXED 8             /* htype, ptype, hlen, plen, op */
#define ARP_ETH_IPV4_ADDRS 20   /* sha, spa, tha, tpa */
#define IPV6_OPT_JUMBO 0xc2

/* What travels from one layer to the next. */
typedef struct layer {
    vg_cursor cur;      /* captured bytes of this layer and what follows */
    uint32_t wire;      /* bytes the enclosing header says are there */
} layer;

/* One decode in progress. */
typedef struct decoder {
    vigil_packet *pkt;
    enum vigil_decode_event *event;
} decoder;

/* ---- event table ---------------------------------------------------- */

static const struct {
    const char *name;
    bool truncation;
} event_info[VIGIL_DEV_COUNT] = {
    [VIGIL_DEV_NONE] = { "", false },
#define EVENT_IS_TRUNCATION_T true
#define EVENT_IS_TRUNCATION_M false
#define VIGIL_DEV_INFO(id, str, kind) \
    [VIGIL_DEV_##id] = { str, EVENT_IS_TRUNCATION_##kind },
    VIGIL_DECODE_EVENTS(VIGIL_DEV_INFO)
#undef VIGIL_DEV_INFO
};

const char *vigil_decode_event_name(enum vigil_decode_event ev)
{
    if ((unsigned)ev >= VIGIL_DEV_COUNT)
        return "";
    return event_info[ev].name;
}

int vigil_decode_event_is_truncation(enum vigil_decode_event ev)
{
    if ((unsigned)ev >= VIGIL_DEV_COUNT)
        return 0;
    return event_info[ev].truncation;
}

int vigil_decode_dlt_supported(int dlt)
{
    switch (dlt) {
    case LINK_NULL: case LINK_EN10MB: case LINK_RAW_BSD: case LINK_RAW_OPENBSD:
    case LINK_RAW: case LINK_LOOP: case LINK_SLL: case LINK_IPV4:
    case LINK_IPV6: case LINK_SLL2:
        return 1;
    default:
        return 0;
    }
}

/* ---- shared pieces --------------------------------------------------- */

/* Record why the frame was refused; the event decides which result. */
static enum vigil_decode_result reject(decoder *d, enum vigil_decode_event ev)
{
    *d->event = ev;
    return vigil_decode_event_is_truncation(ev) ? VIGIL_DECODE_TRUNCATED
                                                : VIGIL_DECODE_MALFORMED;
}

static uint32_t min_u32(uint32_t a, size_t b)
{
    return b < a ? (uint32_t)b : a;
}

/* The captured prefix of the next `wire` bytes: a cursor never longer
 * than what the header claims, so link padding stays out of it. */
static layer take_layer(vg_cursor *c, uint32_t wire)
{
    layer l;
    l.cur = vg_sub(c, min_u32(wire, vg_left(c)));
    l.wire = wire;
    return l;
}

/* The rest of `l` is the L4 payload; note whether the capture cut it. */
static void set_payload(vigil_packet *pkt, layer *l)
{
    uint32_t cap = min_u32(l->wire, vg_left(&l->cur));

    pkt->payload = cap ? vg_here(&l->cur) : NULL;
    pkt->payload_len = cap;
    pkt->payload_wire_len = l->wire;
    if (cap < l->wire)
        pkt->flags |= VIGIL_PKT_PAYLOAD_CUT;
}

static void set_addr(vigil_addr *a, uint8_t family, vg_cursor *c, size_t n)
{
    a->family = family;
    vg_copy(c, a->bytes, n);
}

/*
 * Walk type-length options (IPv4 and TCP share the layout): kind 0 ends
 * the list, kind 1 is one byte of padding, every other kind carries a
 * length byte counting itself and the kind, which must fit.
 */
static bool options_valid(vg_cursor opts)
{
    while (vg_left(&opts) > 0) {
        uint8_t kind = vg_u8(&opts);
        if (kind == 0)
            return true;
        if (kind == 1)
            continue;
        if (vg_left(&opts) < 1)
            return false;
        uint8_t len = vg_u8(&opts);
        if (len < 2 || (size_t)len - 2 > vg_left(&opts))
            return false;
        vg_skip(&opts, (size_t)len - 2);
    }
    return true;
}

/* ---- transport ------------------------------------------------------ */

/*
 * A first fragment may end before the transport header does (tiny
 * fragment attacks do exactly that). That is legal IP, so such a
 * fragment is decoded without L4 rather than refused.
 */
static enum vigil_decode_result l4_absent(decoder *d, layer *l)
{
    set_payload(d->pkt, l);
    return VIGIL_DECODE_OK;
}

static bool is_fragment(const vigil_packet *pkt)
{
    return (pkt->flags & VIGIL_PKT_FRAGMENT) != 0;
}

static enum vigil_decode_result decode_tcp(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;

    if (l->wire < TCP_MIN_HDR && is_fragment(pkt))
        return l4_absent(d, l);
    if (vg_left(&l->cur) < TCP_MIN_HDR)
        return reject(d, VIGIL_DEV_TCP_TRUNCATED);

    vg_cursor h = l->cur;
    uint16_t sport = vg_be16(&h), dport = vg_be16(&h);
    uint32_t seq = vg_be32(&h), ack = vg_be32(&h);
    size_t hlen = (size_t)(vg_u8(&h) >> 4) * 4;
    uint8_t flags = vg_u8(&h);
    uint16_t window = vg_be16(&h);

    if (hlen < TCP_MIN_HDR)
        return reject(d, VIGIL_DEV_TCP_BAD_OFFSET);
    if (hlen > l->wire) {
        if (is_fragment(pkt))
            return l4_absent(d, l);
        return reject(d, VIGIL_DEV_TCP_BAD_OFFSET);
    }
    vg_skip(&l->cur, TCP_MIN_HDR);
    vg_cursor opts = vg_sub(&l->cur, hlen - TCP_MIN_HDR);
    if (opts.bad)
        return reject(d, VIGIL_DEV_TCP_OPT_TRUNCATED);
    if (!options_valid(opts))
        return reject(d, VIGIL_DEV_TCP_BAD_OPTIONS);

    pkt->sport = sport;
    pkt->dport = dport;
    pkt->tcp_seq = seq;
    pkt->tcp_ack = ack;
    pkt->tcp_flags = flags;
    pkt->tcp_window = window;
    pkt->flags |= VIGIL_PKT_HAS_L4;
    l->wire -= (uint32_t)hlen;
    set_payload(pkt, l);
    return VIGIL_DECODE_OK;
}

static enum vigil_decode_result decode_udp(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;

    if (l->wire < UDP_HDR && is_fragment(pkt))
        return l4_absent(d, l);
    if (vg_left(&l->cur) < UDP_HDR)
        return reject(d, VIGIL_DEV_UDP_TRUNCATED);

    uint16_t sport = vg_be16(&l->cur), dport = vg_be16(&l->cur);
    uint16_t ulen = vg_be16(&l->cur);
    vg_skip(&l->cur, 2); /* checksum */

    /* A first fragment carries only part of what the UDP length covers. */
    if (ulen < UDP_HDR || (ulen > l->wire && !is_fragment(pkt)))
        return reject(d, VIGIL_DEV_UDP_BAD_LEN);

    pkt->sport = sport;
    pkt->dport = dport;
    pkt->flags |= VIGIL_PKT_HAS_L4;
    l->wire = min_u32(ulen, l->wire) - UDP_HDR;
    set_payload(pkt, l);
    return VIGIL_DECODE_OK;
}

static enum vigil_decode_result decode_icmp(decoder *d, layer *l,
                                            enum vigil_decode_event cut)
{
    vigil_packet *pkt = d->pkt;

    if (l->wire < ICMP_HDR && is_fragment(pkt))
        return l4_absent(d, l);
    if (vg_left(&l->cur) < ICMP_HDR)
        return reject(d, cut);

    pkt->icmp_type = vg_u8(&l->cur);
    pkt->icmp_code = vg_u8(&l->cur);
    vg_skip(&l->cur, 2); /* checksum */
    pkt->sport = pkt->icmp_type;
    pkt->dport = pkt->icmp_code;
    pkt->flags |= VIGIL_PKT_HAS_L4;
    l->wire -= ICMP_HDR;
    set_payload(pkt, l);
    return VIGIL_DECODE_OK;
}

static enum vigil_decode_result decode_l4(decoder *d, layer *l)
{
    uint8_t proto = d->pkt->ip_proto;
    bool v6 = d->pkt->l3 == VIGIL_L3_IPV6;

    if (proto == PROTO_TCP)
        return decode_tcp(d, l);
    if (proto == PROTO_UDP)
        return decode_udp(d, l);
    if (proto == PROTO_ICMP && !v6)
        return decode_icmp(d, l, VIGIL_DEV_ICMP_TRUNCATED);
    if (proto == PROTO_ICMPV6 && v6)
        return decode_icmp(d, l, VIGIL_DEV_ICMPV6_TRUNCATED);
    set_payload(d->pkt, l);
    return VIGIL_DECODE_OK;
}

/* ---- ARP ------------------------------------------------------------ */

static enum vigil_decode_result decode_arp(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;
    vg_cursor *c = &l->cur;

    if (vg_left(c) < ARP_FIXED)
        return reject(d, VIGIL_DEV_ARP_TRUNCATED);
    pkt->l3_hdr = vg_here(c);
    uint16_t htype = vg_be16(c), ptype = vg_be16(c);
    uint8_t hlen = vg_u8(c), plen = vg_u8(c);
    uint16_t op = vg_be16(c);

    if (htype != 1 || ptype != ETHERTYPE_IPV4 || hlen != 6 || plen != 4)
        return reject(d, VIGIL_DEV_ARP_BAD_FORMAT);
    if (vg_left(c) < ARP_ETH_IPV4_ADDRS)
        return reject(d, VIGIL_DEV_ARP_TRUNCATED);

    pkt->l3 = VIGIL_L3_ARP;
    pkt->l3_len = ARP_FIXED + ARP_ETH_IPV4_ADDRS;
    pkt->arp_op = op;
    vg_copy(c, pkt->arp_sha, 6);
    set_addr(&pkt->src, 4, c, 4);
    vg_copy(c, pkt->arp_tha, 6);
    set_addr(&pkt->dst, 4, c, 4);
    return VIGIL_DECODE_OK;
}

/* ---- IPv4 ----------------------------------------------------------- */

/* The fragment fields; returns false when the fragment ends past 64 KiB. */
static bool ipv4_fragment(vigil_packet *pkt, uint16_t frag, uint32_t data_len)
{
    uint32_t offset = (uint32_t)(frag & 0x1fff) * 8;
    bool more = (frag & 0x2000) != 0;

    if (!more && offset == 0)
        return true;
    pkt->flags |= VIGIL_PKT_FRAGMENT;
    if (offset == 0)
        pkt->flags |= VIGIL_PKT_FRAG_FIRST;
    pkt->frag_offset = (uint16_t)offset;
    return offset + data_len <= 65535;
}

static enum vigil_decode_result decode_ipv4(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;

    if (vg_left(&l->cur) < IPV4_MIN_HDR)
        return reject(d, VIGIL_DEV_IPV4_TRUNCATED);

    vg_cursor h = l->cur;
    uint8_t vihl = vg_u8(&h);
    vg_skip(&h, 1); /* DSCP/ECN */
    uint16_t total = vg_be16(&h);
    uint16_t id = vg_be16(&h);
    uint16_t frag = vg_be16(&h);
    uint8_t ttl = vg_u8(&h), proto = vg_u8(&h);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;

    if (vihl >> 4 != 4)
        return reject(d, VIGIL_DEV_IPV4_BAD_VERSION);
    if (ihl < IPV4_MIN_HDR)
        return reject(d, VIGIL_DEV_IPV4_BAD_IHL);
    if (total < ihl || total > l->wire)
        return reject(d, VIGIL_DEV_IPV4_BAD_TOTAL_LEN);

    layer dgram = take_layer(&l->cur, total);
    pkt->l3_hdr = vg_here(&dgram.cur);
    pkt->l3_len = (uint32_t)vg_left(&dgram.cur);
    vg_skip(&dgram.cur, IPV4_MIN_HDR);
    vg_cursor opts = vg_sub(&dgram.cur, ihl - IPV4_MIN_HDR);
    if (opts.bad)
        return reject(d, VIGIL_DEV_IPV4_TRUNCATED);
    if (!options_valid(opts))
        return reject(d, VIGIL_DEV_IPV4_BAD_OPTIONS);
    dgram.wire = total - (uint32_t)ihl;
    if (!ipv4_fragment(pkt, frag, dgram.wire))
        return reject(d, VIGIL_DEV_IPV4_BAD_FRAGMENT);

    pkt->l3 = VIGIL_L3_IPV4;
    pkt->ip_proto = proto;
    pkt->ttl = ttl;
    pkt->ip_id = id;
    if (ihl > IPV4_MIN_HDR)
        pkt->flags |= VIGIL_PKT_IP_OPTIONS;
    vg_skip(&h, 2); /* checksum */
    set_addr(&pkt->src, 4, &h, 4);
    set_addr(&pkt->dst, 4, &h, 4);

    if (pkt->frag_offset != 0) {
        set_payload(pkt, &dgram);
        return VIGIL_DECODE_OK;
    }
    return decode_l4(d, &dgram);
}

/* ---- IPv6 ----------------------------------------------------------- */

static bool is_ipv6_exthdr(uint8_t nxt)
{
    return nxt == PROTO_HOPOPTS || nxt == PROTO_ROUTING
           || nxt == PROTO_DSTOPTS || nxt == PROTO_FRAGMENT
           || nxt == PROTO_AH || nxt == PROTO_MOBILITY;
}

/*
 * A payload length of 0 with a hop-by-hop header means a jumbogram when
 * that header holds a jumbo payload option. `c` and `wire` start after
 * the fixed header. Returns 1 jumbo, 0 not (including no room on the wire
 * for the hop-by-hop header), -1 when the header was not captured.
 */
static int ipv6_is_jumbo(vg_cursor c, uint32_t wire)
{
    vg_cursor peek = c;
    vg_skip(&peek, 1);
    size_t len = ((size_t)vg_u8(&peek) + 1) * 8;

    if (wire < 2 || (!peek.bad && len > wire))
        return 0;
    vg_skip(&c, 2);
    vg_cursor opts = vg_sub(&c, len - 2);
    if (peek.bad || opts.bad)
        return -1;
    while (vg_left(&opts) > 0) {
        uint8_t type = vg_u8(&opts);
        if (type == 0) /* Pad1 */
            continue;
        if (type == IPV6_OPT_JUMBO)
            return 1;
        vg_skip(&opts, vg_u8(&opts));
        if (opts.bad)
            return 0;
    }
    return 0;
}

/* Read a fragment header; returns true when L4 follows in this packet. */
static bool ipv6_fragment(vigil_packet *pkt, vg_cursor h)
{
    vg_skip(&h, 2); /* next header, reserved */
    uint16_t offlg = vg_be16(&h);
    uint32_t ident = vg_be32(&h);
    uint16_t offset = offlg & 0xfff8;

    if (offset == 0 && !(offlg & 1))
        return true; /* atomic fragment: the whole datagram */
    pkt->flags |= VIGIL_PKT_FRAGMENT;
    pkt->frag_offset = offset;
    pkt->ip_id = (uint16_t)(ident & 0xffff);
    if (offset != 0)
        return false;
    pkt->flags |= VIGIL_PKT_FRAG_FIRST;
    return true;
}

/* Length of extension header `nxt` given its length byte. */
static size_t ipv6_exthdr_len(uint8_t nxt, uint8_t len)
{
    if (nxt == PROTO_FRAGMENT)
        return 8;
    if (nxt == PROTO_AH)
        return ((size_t)len + 2) * 4;
    return ((size_t)len + 1) * 8;
}

/*
 * Skip extension headers, leaving `l` at the upper-layer header and
 * pkt->ip_proto naming it. ESP (50) and "no next header" (59) end the
 * walk like any upper-layer protocol: what follows is opaque payload. *l4_follows is false after a non-first
 * fragment header.
 */
static enum vigil_decode_result ipv6_walk_exthdrs(decoder *d, layer *l,
                                                  uint8_t nxt, bool *l4_follows)
{
    vigil_packet *pkt = d->pkt;
    unsigned count = 0;

    *l4_follows = true;
    while (is_ipv6_exthdr(nxt)) {
        if (++count > IPV6_MAX_EXTHDRS)
            return reject(d, VIGIL_DEV_IPV6_TOO_MANY_EXTHDRS);
        pkt->flags |= VIGIL_PKT_IP_OPTIONS;
        if (l->wire < 2)
            return reject(d, VIGIL_DEV_IPV6_BAD_EXTHDR);
        vg_cursor peek = l->cur;
        uint8_t next = vg_u8(&peek), len = vg_u8(&peek);
        if (peek.bad)
            return reject(d, VIGIL_DEV_IPV6_EXTHDR_TRUNCATED);
        size_t hlen = ipv6_exthdr_len(nxt, len);
        if (hlen > l->wire)
            return reject(d, VIGIL_DEV_IPV6_BAD_EXTHDR);
        vg_cursor h = vg_sub(&l->cur, hlen);
        if (h.bad)
            return reject(d, VIGIL_DEV_IPV6_EXTHDR_TRUNCATED);
        l->wire -= (uint32_t)hlen;
        if (nxt == PROTO_FRAGMENT)
            *l4_follows = ipv6_fragment(pkt, h);
        nxt = next;
        if (!*l4_follows)
            break;
    }
    pkt->ip_proto = nxt;
    return VIGIL_DECODE_OK;
}

static enum vigil_decode_result decode_ipv6(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;

    if (vg_left(&l->cur) < IPV6_HDR)
        return reject(d, VIGIL_DEV_IPV6_TRUNCATED);

    vg_cursor h = l->cur;
    uint8_t version = vg_u8(&h) >> 4;
    vg_skip(&h, 3); /* traffic class, flow label */
    uint32_t plen = vg_be16(&h);
    uint8_t nxt = vg_u8(&h), hops = vg_u8(&h);

    if (version != 6)
        return reject(d, VIGIL_DEV_IPV6_BAD_VERSION);
    if (plen + IPV6_HDR > l->wire)
        return reject(d, VIGIL_DEV_IPV6_BAD_PAYLOAD_LEN);
    if (plen == 0 && nxt == PROTO_HOPOPTS) {
        vg_skip(&h, 32); /* addresses */
        int jumbo = ipv6_is_jumbo(h, l->wire - IPV6_HDR);
        if (jumbo < 0)
            return reject(d, VIGIL_DEV_IPV6_EXTHDR_TRUNCATED);
        if (jumbo)
            plen = l->wire - IPV6_HDR;
    }

    layer dgram = take_layer(&l->cur, plen + IPV6_HDR);
    pkt->l3_hdr = vg_here(&dgram.cur);
    pkt->l3_len = (uint32_t)vg_left(&dgram.cur);
    vg_skip(&dgram.cur, 8); /* up to the addresses */
    set_addr(&pkt->src, 6, &dgram.cur, 16);
    set_addr(&pkt->dst, 6, &dgram.cur, 16);
    dgram.wire = plen;
    pkt->l3 = VIGIL_L3_IPV6;
    pkt->ttl = hops;

    bool l4_follows;
    enum vigil_decode_result r = ipv6_walk_exthdrs(d, &dgram, nxt, &l4_follows);
    if (r != VIGIL_DECODE_OK)
        return r;
    if (!l4_follows) {
        set_payload(pkt, &dgram);
        return VIGIL_DECODE_OK;
    }
    return decode_l4(d, &dgram);
}

/* ---- link layers ---------------------------------------------------- */

static enum vigil_decode_result decode_ethertype(decoder *d, layer *l,
                                                 uint16_t type)
{
    switch (type) {
    case ETHERTYPE_IPV4:
        return decode_ipv4(d, l);
    case ETHERTYPE_IPV6:
        return decode_ipv6(d, l);
    case ETHERTYPE_ARP:
        return decode_arp(d, l);
    default:
        return VIGIL_DECODE_OTHER;
    }
}

/* Raw IP: the version nibble says which. */
static enum vigil_decode_result decode_raw(decoder *d, layer *l)
{
    vg_cursor peek = l->cur;
    uint8_t version = vg_u8(&peek) >> 4;

    if (!peek.bad && version == 6)
        return decode_ipv6(d, l);
    return decode_ipv4(d, l);
}

static bool is_vlan_tpid(uint16_t type)
{
    return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ
           || type == ETHERTYPE_QINQ_OLD;
}

static enum vigil_decode_result decode_eth(decoder *d, layer *l)
{
    vigil_packet *pkt = d->pkt;
    vg_cursor *c = &l->cur;

    if (vg_left(c) < 14)
        return reject(d, VIGIL_DEV_ETH_TRUNCATED);
    vg_copy(c, pkt->eth_dst, 6);
    vg_copy(c, pkt->eth_src, 6);
    uint16_t type = vg_be16(c);
    l->wire -= 14;

    while (is_vlan_tpid(type)) {
        if (pkt->vlan_count == VLAN_MAX_TAGS)
            return reject(d, VIGIL_DEV_VLAN_TOO_MANY);
        if (vg_left(c) < 4)
            return reject(d, VIGIL_DEV_VLAN_TRUNCATED);
        uint16_t tci = vg_be16(c);
        if (pkt->vlan_count < 2)
            pkt->vlan[pkt->vlan_count] = tci & 0x0fff;
        pkt->vlan_count++;
        type = vg_be16(c);
        l->wire -= 4;
    }
    return decode_ethertype(d, l, type);
}

static enum vigil_decode_result decode_sll(decoder *d, layer *l)
{
    vg_cursor *c = &l->cur;

    if (vg_left(c) < 16)
        return reject(d, VIGIL_DEV_SLL_TRUNCATED);
    vg_skip(c, 4); /* packet type, ARPHRD type */
    uint16_t addr_len = vg_be16(c);
    vg_cursor addr = vg_sub(c, 8);
    uint16_t type = vg_be16(c);
    if (addr_len == 6)
        vg_copy(&addr, d->pkt->eth_src, 6);
    l->wire -= 16;
    return decode_ethertype(d, l, type);
}

static enum vigil_decode_result decode_sll2(decoder *d, layer *l)
{
    vg_cursor *c = &l->cur;

    if (vg_left(c) < 20)
        return reject(d, VIGIL_DEV_SLL2_TRUNCATED);
    uint16_t type = vg_be16(c);
    vg_skip(c, 9); /* reserved, ifindex, ARPHRD type, packet type */
    uint8_t addr_len = vg_u8(c);
    vg_cursor addr = vg_sub(c, 8);
    if (addr_len == 6)
        vg_copy(&addr, d->pkt->eth_src, 6);
    l->wire -= 20;
    return decode_ethertype(d, l, type);
}

/* BSD address families for IPv6 differ by OS: Linux, NetBSD/OpenBSD,
 * FreeBSD, macOS. */
static bool is_af_inet6(uint32_t af)
{
    return af == 10 || af == 24 || af == 28 || af == 30;
}

/* DLT_NULL is in the capturing host's byte order, DLT_LOOP in network
 * order; `either_order` accepts both for the former. */
static enum vigil_decode_result decode_null(decoder *d, layer *l,
                                            bool either_order)
{
    vg_cursor *c = &l->cur;

    if (vg_left(c) < 4)
        return reject(d, VIGIL_DEV_NULL_TRUNCATED);
    vg_cursor le = *c;
    uint32_t af = vg_be32(c);
    uint32_t af_le = either_order ? vg_le32(&le) : af;
    l->wire -= 4;

    if (af == 2 || af_le == 2)
        return decode_ipv4(d, l);
    if (is_af_inet6(af) || is_af_inet6(af_le))
        return decode_ipv6(d, l);
    return VIGIL_DECODE_OTHER;
}

static enum vigil_decode_result decode_link(decoder *d, int dlt, layer *l)
{
    switch (dlt) {
    case LINK_EN10MB:
        return decode_eth(d, l);
    case LINK_SLL:
        return decode_sll(d, l);
    case LINK_SLL2:
        return decode_sll2(d, l);
    case LINK_RAW_BSD: case LINK_RAW_OPENBSD: case LINK_RAW:
        return decode_raw(d, l);
    case LINK_IPV4:
        return decode_ipv4(d, l);
    case LINK_IPV6:
        return decode_ipv6(d, l);
    case LINK_NULL:
        return decode_null(d, l, true);
    case LINK_LOOP:
        return decode_null(d, l, false);
    default:
        return VIGIL_DECODE_OTHER;
    }
}

enum vigil_decode_result vigil_decode(int dlt, const uint8_t *data,
                                      uint32_t caplen, uint32_t wirelen,
                                      vigil_packet *pkt,
                                      enum vigil_decode_event *event)
{
    decoder d = { pkt, event };
    layer frame;

    memset(pkt, 0, sizeof *pkt);
    pkt->size = sizeof *pkt;
    *event = VIGIL_DEV_NONE;
    if (wirelen < caplen)
        wirelen = caplen;
    pkt->wire_len = wirelen;
    pkt->cap_len = caplen;

    frame.cur = vg_cursor_make(data, data ? caplen : 0);
    frame.wire = wirelen;
    return decode_link(&d, dlt, &frame);
}
