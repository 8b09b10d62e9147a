/*
 * stats.h - the sensor's counters, one struct owned by the engine.
 *
 * Every place that drops, skips or evicts something counts it here, so
 * nothing is silently invisible. The EVE `stats` event prints all of it.
 */
#ifndef VIGIL_STATS_H
#define VIGIL_STATS_H

#include <stdint.h>

#include "decode.h"

/* Warnings libnids reports through its syslog callback, by kind. */
#define VIGIL_NIDS_WARNINGS(X)                                            \
    X(IP_OVERSIZED, "ip_oversized")                                       \
    X(IP_INVLIST, "ip_invalid_list")                                      \
    X(IP_OVERLAP, "ip_overlap")                                           \
    X(IP_SRR, "ip_source_routed")                                         \
    X(IP_HDR, "ip_invalid_header")                                        \
    X(TCP_TOOMUCH, "tcp_too_many_streams")                                \
    X(TCP_HDR, "tcp_invalid_header")                                      \
    X(TCP_BIGQUEUE, "tcp_queue_too_big")                                  \
    X(TCP_BADFLAGS, "tcp_bad_flags")                                      \
    X(OTHER, "other")

enum vigil_nids_warning {
#define VIGIL_NW_ENUM(id, name) VIGIL_NW_##id,
    VIGIL_NIDS_WARNINGS(VIGIL_NW_ENUM)
#undef VIGIL_NW_ENUM
    VIGIL_NW_COUNT
};

const char *vigil_nids_warning_name(enum vigil_nids_warning w);

/* Why TCP payload bytes were not reassembled. */
enum vigil_uninspected {
    VIGIL_UNINSPECTED_MIDSTREAM = 0,  /* no handshake seen by libnids */
    VIGIL_UNINSPECTED_IPV6,           /* libnids is IPv4-only */
    VIGIL_UNINSPECTED_TABLE_FULL,     /* stream evicted from the table */
    VIGIL_UNINSPECTED_CUT,            /* snaplen cut the packet */
    VIGIL_UNINSPECTED_TINY_FRAGMENT,  /* fragment too small for libnids */
    VIGIL_UNINSPECTED_FRAG_BUDGET,    /* too many datagrams in reassembly */
    VIGIL_UNINSPECTED_COUNT
};

const char *vigil_uninspected_name(enum vigil_uninspected u);

/* How a sink that writes a file fared (stats.output.NAME). */
struct vigil_output_stats {
    uint64_t write_errors;      /* failed write attempts (disk full, I/O error) */
    uint64_t records_delayed;   /* written late, after waiting in memory */
    uint64_t records_held;      /* waiting in memory now */
    uint64_t records_dropped;   /* lost: memory backlog full, or unwritable at the end */
    uint64_t alerts_dropped;    /* of those, alerts */
    uint64_t degraded;          /* 1 while the file cannot be written */
};

/* TCP handshakes held back from libnids until they complete (embryo.c):
 * held = completed + evicted + expired + reset + pending. */
struct vigil_embryo_counts {
    uint64_t held;              /* new connections' client SYNs */
    uint64_t completed;         /* the client ACKed the SYN-ACK: to libnids */
    uint64_t evicted;           /* table full: least recently active dropped */
    uint64_t expired;           /* idle 30 s of packet time */
    uint64_t reset;             /* ended by an acceptable RST */
    uint64_t pending;           /* held now */
};

struct vigil_stats {
    uint64_t packets;           /* read from the capture */
    uint64_t bytes;             /* wire bytes */
    uint64_t decoded;           /* reached the detectors */
    uint64_t ipv4, ipv6, arp, other_l3;
    uint64_t tcp, udp, icmp, other_l4;
    uint64_t truncated;         /* headers cut short (sum of T events) */
    uint64_t malformed;         /* impossible headers (sum of M events) */
    uint64_t decode_events[VIGIL_DEV_COUNT];
    uint64_t bad_caplen;        /* capture header claimed len < caplen */
    uint64_t bad_timestamp;     /* usec >= 1e6 or time going backwards */

    uint64_t nids_packets;      /* IPv4 datagrams handed to libnids */
    uint64_t nids_warnings[VIGIL_NW_COUNT];
    uint64_t streams_established;
    uint64_t streams_closed;
    uint64_t streams_reset;
    uint64_t streams_evicted;   /* libnids table full: oldest removed */
    uint64_t streams_open_at_end;
    uint64_t stream_bytes;      /* reassembled bytes delivered */
    uint64_t uninspected_bytes[VIGIL_UNINSPECTED_COUNT];
    struct vigil_embryo_counts embryonic;

    uint64_t flows_created;
    uint64_t flows_expired;     /* idle timeout in packet time */
    uint64_t flows_evicted;     /* table at its cap: least recently seen */
    uint64_t flows_active;

    uint64_t alerts;            /* written */
    uint64_t alerts_suppressed; /* matched an allow list */
    uint64_t alerts_deduplicated; /* repeated within the dedup window */
    uint64_t plugins_disabled;  /* overran [vigil] plugin_budget_ms */
    uint64_t kernel_received;   /* pcap_stats, live mode */
    uint64_t kernel_dropped;
    uint64_t iface_dropped;

    struct vigil_output_stats eve_output;   /* filled by the EVE sink */
};

#endif
