/*
 * evasion.h - shared declarations of the evasion detector: the observation
 * layer that sees what TCP reassembly and IP defragmentation decide
 * silently (conflicting overlaps, bad RSTs, urgent data, tiny or
 * overlapping fragments) and TCP flag combinations no stack sends.
 */
#ifndef VIGIL_EVASION_H
#define VIGIL_EVASION_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/plugin.h"

#define US_PER_SEC ((int64_t)1000000)

/* Every technique this detector reports; the index into technique_table. */
enum technique_id {
    TQ_TCP_OVERLAP = 0,     /* overlapping segment, different bytes */
    TQ_TCP_LOW_TTL,         /* the same, one copy with an odd TTL */
    TQ_TCP_RST_SEQ,         /* RST with a wrong seq, then more data */
    TQ_TCP_URGENT,          /* urgent pointer inside the payload */
    TQ_FRAG_OVERLAP,        /* overlapping fragments */
    TQ_FRAG_TINY,           /* first fragment shorter than the L4 header */
    TQ_FRAG_MISALIGNED,     /* non-last fragment not a multiple of 8 */
    TQ_FRAG_EXCESSIVE,      /* too many fragments in one datagram */
    TQ_FLAGS_NULL,
    TQ_FLAGS_XMAS,
    TQ_FLAGS_SYN_FIN,
    TQ_FLAGS_SYN_RST,
    TQ_FLAGS_FIN_NO_ACK,
    TQ_FLAGS_NO_ACK,        /* any other data/control flags without ACK */
    TQ_COUNT
};

struct technique {
    uint32_t sid;
    const char *name;
    const char *category;       /* attack_category vocabulary */
    const char *text;           /* signature text */
    uint32_t severity;
    int per_source;             /* aggregate per attacker, not per target */
};

extern const struct technique technique_table[TQ_COUNT];

struct ev_config {
    int64_t history_bytes;      /* per TCP direction, power of two */
    int64_t memcap_bytes;       /* TCP histories together */
    int64_t ttl_delta;
    int64_t frag_timeout_us;
    int64_t max_datagrams;
    int64_t max_frags;          /* "excessive" above this */
    int64_t flags_min_packets;
    int64_t settle_us;
    int64_t max_delay_us;
    int64_t alert_interval_us;
    int64_t max_reports;
};

/* One piece of evidence for a report. */
struct evidence {
    enum technique_id tq;
    vigil_addr src, dst;
    uint16_t sport, dport;
    uint8_t ip_proto;
    uint32_t bytes;             /* overlapping / conflicting bytes */
    uint8_t ttl_seen, ttl_usual;
};

struct report_table;
struct frag_table;

struct ev_stats {
    uint64_t tcp_tracked, tcp_untracked, tcp_memcap_refusals;
    uint64_t frag_evicted, reports_evicted, alerts, updates_dropped;
};

struct evasion {
    const vigil_host_api *host;
    struct ev_config cfg;
    struct report_table *reports;
    struct frag_table *frags;
    int64_t tcp_mem;            /* bytes held by TCP histories */
    int64_t now_us;
    struct ev_stats stats;
};

/* report.c: aggregation, one alert per (attacker, target, technique) per interval. */
struct report_table *report_new(int64_t max_reports);
void report_free(struct report_table *t);
void report_add(struct evasion *ev, vigil_ctx *ctx, const struct evidence *e);
void report_tick(struct evasion *ev, vigil_ctx *ctx, int final);

/* tcp.c: the per-flow segment observer. */
void tcp_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p);
void tcp_state_free(struct evasion *ev, void *state);

/* frag.c: IPv4/IPv6 fragment bookkeeping. */
struct frag_table *frag_new(int64_t max_datagrams);
void frag_free(struct frag_table *t);
void frag_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p);

/* flags.c: flag combinations no TCP stack sends. */
void flags_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p);

/* Shared helpers. */
uint64_t ev_hash_bytes(uint64_t h, const uint8_t *p, size_t n);
size_t ev_addr_len(const vigil_addr *a);

#endif
