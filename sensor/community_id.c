/*
 * community_id.c - Community ID v1 flow hashes and the EVE flow_id.
 *
 * Community ID (corelight/community-id-spec) lets an analyst join our
 * alerts with Zeek, Suricata and ECS records of the same flow, so the
 * byte layout and the endpoint ordering must match the spec exactly; the
 * unit test checks every published baseline tuple.
 */
#include "community_id.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

enum {
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ICMPV6 = 58,
    PROTO_SCTP = 132,
    SHA1_LEN = 20,
};

/* One side of a flow: the address bytes that get hashed and its port. */
struct endpoint {
    const uint8_t *addr;
    uint16_t port;
};

/* Request/response ICMP types: a message and its counterpart form one flow. */
struct icmp_pair {
    uint8_t a, b;
};

static const struct icmp_pair icmp4_pairs[] = {
    {8, 0},     /* echo request / reply */
    {13, 14},   /* timestamp */
    {15, 16},   /* information */
    {10, 9},    /* router solicitation / advertisement */
    {17, 18},   /* address mask */
};

static const struct icmp_pair icmp6_pairs[] = {
    {128, 129}, /* echo request / reply */
    {133, 134}, /* router solicitation / advertisement */
    {135, 136}, /* neighbor solicitation / advertisement */
    {130, 131}, /* multicast listener query / report */
    {144, 145}, /* home agent address discovery */
    {146, 147}, /* mobile prefix solicitation / advertisement */
    {139, 140}, /* node information query / response */
};

static size_t addr_len(uint8_t family)
{
    return family == 4 ? 4 : family == 6 ? 16 : 0;
}

static int has_ports(uint8_t proto)
{
    return proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP ||
           proto == PROTO_ICMP || proto == PROTO_ICMPV6;
}

/*
 * The counterpart of an ICMP type, or -1 when the message has none: then
 * the flow is one-way and the endpoints keep their order.
 */
static int icmp_counterpart(uint8_t proto, uint16_t type)
{
    const struct icmp_pair *pairs = proto == PROTO_ICMP ? icmp4_pairs : icmp6_pairs;
    size_t n = proto == PROTO_ICMP ? sizeof icmp4_pairs / sizeof icmp4_pairs[0]
                                   : sizeof icmp6_pairs / sizeof icmp6_pairs[0];

    for (size_t i = 0; i < n; i++) {
        if (pairs[i].a == type)
            return pairs[i].b;
        if (pairs[i].b == type)
            return pairs[i].a;
    }
    return -1;
}

/* < 0 when a sorts before b: address bytes first, then the port. */
static int endpoint_cmp(const struct endpoint *a, const struct endpoint *b, size_t alen)
{
    int c = memcmp(a->addr, b->addr, alen);

    if (c != 0)
        return c;
    return (int)a->port - (int)b->port;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void write_hex(const uint8_t *md, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < SHA1_LEN; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[2 * SHA1_LEN] = '\0';
}

/* "1:" + 28 base64 characters, or "1:" + 40 hex digits, and the NUL. */
static size_t output_len(int base64)
{
    return 2 + (base64 ? 28 : 2 * SHA1_LEN) + 1;
}

int vigil_community_id(const vigil_addr *src, const vigil_addr *dst,
                       uint16_t sport, uint16_t dport, uint8_t proto,
                       uint16_t seed, int base64, char *out, size_t outlen)
{
    size_t alen;
    int one_way = 0;

    if (!src || !dst || !out || src->family != dst->family)
        return -1;
    alen = addr_len(src->family);
    if (alen == 0 || outlen < output_len(base64))
        return -1;

    if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
        int peer = icmp_counterpart(proto, sport);

        if (peer < 0)
            one_way = 1;        /* ports stay (type, code) */
        else
            dport = (uint16_t)peer;
    }

    struct endpoint lo = {src->bytes, sport}, hi = {dst->bytes, dport};
    if (!one_way && endpoint_cmp(&lo, &hi, alen) > 0) {
        struct endpoint tmp = lo;
        lo = hi;
        hi = tmp;
    }

    /* seed | saddr | daddr | proto | 0 | sport | dport */
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    put_be16(buf + n, seed);
    n += 2;
    memcpy(buf + n, lo.addr, alen);
    n += alen;
    memcpy(buf + n, hi.addr, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (has_ports(proto)) {
        put_be16(buf + n, lo.port);
        put_be16(buf + n + 2, hi.port);
        n += 4;
    }

    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != SHA1_LEN)
        return -1;

    out[0] = '1';
    out[1] = ':';
    if (base64)
        EVP_EncodeBlock((unsigned char *)out + 2, md, SHA1_LEN);
    else
        write_hex(md, out + 2);
    return 0;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t fnv1a_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fnv1a(h, b, sizeof b);
}

/* FNV-1a mixes the low bits poorly; a final avalanche spreads every input bit. */
static uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t vigil_flow_id(const vigil_addr *a, const vigil_addr *b,
                       uint16_t aport, uint16_t bport, uint8_t proto,
                       int64_t start_us)
{
    static const vigil_addr none;
    const vigil_addr *lo = a ? a : &none, *hi = b ? b : &none;
    uint16_t loport = aport, hiport = bport;

    /* Order the endpoints so both directions hash the same bytes. */
    int c = (int)lo->family - (int)hi->family;
    if (c == 0)
        c = memcmp(lo->bytes, hi->bytes, addr_len(lo->family));
    if (c > 0 || (c == 0 && loport > hiport)) {
        const vigil_addr *t = lo;
        lo = hi;
        hi = t;
        loport = bport;
        hiport = aport;
    }

    uint64_t h = 0xcbf29ce484222325ULL;
    uint8_t head[2] = {lo->family, proto};
    h = fnv1a(h, head, sizeof head);
    h = fnv1a(h, lo->bytes, addr_len(lo->family));
    h = fnv1a_u64(h, loport);
    h = fnv1a(h, &hi->family, 1);
    h = fnv1a(h, hi->bytes, addr_len(hi->family));
    h = fnv1a_u64(h, hiport);
    h = fnv1a_u64(h, (uint64_t)start_us);

    uint64_t id = avalanche(h) & ((UINT64_C(1) << 53) - 1);
    return id != 0 ? id : 1;   /* 0 means "no flow" to the EVE writer */
}

int vigil_community_id_init(void)
{
    /* OpenSSL sets itself up on the first digest and does not survive an
     * allocation failure at that moment: do it once at start, where
     * failing is a clean error, not in the middle of writing an alert. */
    static const uint8_t probe[1] = { 0 };
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    return EVP_Digest(probe, sizeof probe, md, &mdlen, EVP_sha1(), NULL) == 1 &&
                   mdlen == SHA1_LEN
               ? 0 : -1;
}
