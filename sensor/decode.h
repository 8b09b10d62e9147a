/*
 * decode.h - the one bounds-checked decoder for L2/L3/L4.
 *
 * Nothing else in the sensor reads a packet byte before vigil_decode() has
 * validated it. Truncated (fewer bytes captured than the headers need) and
 * malformed (bytes present but impossible values) are different outcomes,
 * each with a named event so the stats can say which header failed how.
 */
#ifndef VIGIL_DECODE_H
#define VIGIL_DECODE_H

#include <stdint.h>

#include "vigil/plugin.h"

/* Link types the decoder accepts (DLT_* values as libpcap reports them). */
int vigil_decode_dlt_supported(int dlt);

/* X(name, kind): kind T = truncated, M = malformed. Names appear in stats. */
#define VIGIL_DECODE_EVENTS(X)                                                 \
    X(ETH_TRUNCATED, "eth.truncated", T)                                   \
    X(VLAN_TRUNCATED, "vlan.truncated", T)                                 \
    X(VLAN_TOO_MANY, "vlan.too_many_tags", M)                              \
    X(SLL_TRUNCATED, "sll.truncated", T)                                   \
    X(SLL2_TRUNCATED, "sll2.truncated", T)                                 \
    X(NULL_TRUNCATED, "null.truncated", T)                                 \
    X(ARP_TRUNCATED, "arp.truncated", T)                                   \
    X(ARP_BAD_FORMAT, "arp.unsupported_format", M)                         \
    X(IPV4_TRUNCATED, "ipv4.truncated", T)                                 \
    X(IPV4_BAD_VERSION, "ipv4.bad_version", M)                             \
    X(IPV4_BAD_IHL, "ipv4.bad_ihl", M)                                     \
    X(IPV4_BAD_TOTAL_LEN, "ipv4.bad_total_len", M)                         \
    X(IPV4_BAD_OPTIONS, "ipv4.bad_options", M)                             \
    X(IPV4_BAD_FRAGMENT, "ipv4.bad_fragment", M)                           \
    X(IPV6_TRUNCATED, "ipv6.truncated", T)                                 \
    X(IPV6_BAD_VERSION, "ipv6.bad_version", M)                             \
    X(IPV6_BAD_PAYLOAD_LEN, "ipv6.bad_payload_len", M)                     \
    X(IPV6_EXTHDR_TRUNCATED, "ipv6.exthdr_truncated", T)                   \
    X(IPV6_BAD_EXTHDR, "ipv6.bad_exthdr", M)                               \
    X(IPV6_TOO_MANY_EXTHDRS, "ipv6.too_many_exthdrs", M)                   \
    X(TCP_TRUNCATED, "tcp.truncated", T)                                   \
    X(TCP_BAD_OFFSET, "tcp.bad_data_offset", M)                            \
    X(TCP_OPT_TRUNCATED, "tcp.options_truncated", T)                       \
    X(TCP_BAD_OPTIONS, "tcp.bad_options", M)                               \
    X(UDP_TRUNCATED, "udp.truncated", T)                                   \
    X(UDP_BAD_LEN, "udp.bad_length", M)                                    \
    X(ICMP_TRUNCATED, "icmp.truncated", T)                                 \
    X(ICMPV6_TRUNCATED, "icmpv6.truncated", T)

enum vigil_decode_event {
    VIGIL_DEV_NONE = 0,
#define VIGIL_DEV_ENUM(id, name, kind) VIGIL_DEV_##id,
    VIGIL_DECODE_EVENTS(VIGIL_DEV_ENUM)
#undef VIGIL_DEV_ENUM
    VIGIL_DEV_COUNT
};

enum vigil_decode_result {
    VIGIL_DECODE_OK = 0,        /* pkt filled; may carry VIGIL_PKT_PAYLOAD_CUT */
    VIGIL_DECODE_TRUNCATED,     /* headers cut short: *event says which */
    VIGIL_DECODE_MALFORMED,     /* impossible header values: *event says which */
    VIGIL_DECODE_OTHER,         /* valid but not IPv4/IPv6/ARP (LLDP, STP, ...) */
};

/* Name of an event ("ipv4.bad_ihl"); "" for VIGIL_DEV_NONE. */
const char *vigil_decode_event_name(enum vigil_decode_event ev);
/* 1 when the event counts as truncated, 0 when malformed. */
int vigil_decode_event_is_truncation(enum vigil_decode_event ev);

/*
 * Decode one frame of link type `dlt`. `caplen` bytes are readable at
 * `data`; `wirelen` is what the capture header claims (untrusted: values
 * below caplen are treated as caplen). On VIGIL_DECODE_OK, *pkt describes
 * the frame; pkt->size is set by the decoder and every other field not
 * present in the frame is zero. *event is VIGIL_DEV_NONE on success.
 */
enum vigil_decode_result vigil_decode(int dlt, const uint8_t *data,
                                      uint32_t caplen, uint32_t wirelen,
                                      vigil_packet *pkt,
                                      enum vigil_decode_event *event);

#endif
