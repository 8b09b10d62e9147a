/*
 * flow.h - the sensor's bounded, bidirectional flow table.
 *
 * Keyed by (proto, the two endpoints) in a canonical order, so both
 * directions of a conversation share one entry. The table holds at most
 * `max_flows` entries: an entry idle longer than the timeout (packet time)
 * expires, and when the table is full an entry not seen for a while is
 * evicted to make room (CLOCK, an approximation of least recently used
 * that touches only the entry itself on each packet). Each entry carries
 * one state slot per plugin; the owner's release callback frees them when
 * the entry goes.
 */
#ifndef VIGIL_FLOW_H
#define VIGIL_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "vigil/plugin.h"

/* What libnids did with this flow's stream (TCP over IPv4 only). */
enum vigil_flow_nids {
    VIGIL_NIDS_NONE = 0,
    VIGIL_NIDS_EVICTED,         /* dropped when the stream table was full */
    VIGIL_NIDS_ENDED,           /* closed or reset */
};

struct vigil_flow {
    vigil_addr lo, hi;          /* endpoints, canonical order */
    uint16_t lo_port, hi_port;
    uint8_t proto;
    uint8_t nids;               /* enum vigil_flow_nids */
    uint8_t queue;              /* enum vigil_flow_queue */
    int64_t first_us, last_us;
    int64_t queued_us;          /* last_us when it joined the queue */
    uint64_t flow_id;
    void **stream_slot;         /* libnids' pointer back to this flow, if any */
    struct vigil_flow *hash_next;
    struct vigil_flow *q_prev, *q_next; /* age queue: newest at the head */
    void *slots[];              /* one per plugin */
};

/* Each queue has its own idle timeout; entries age in queue order. */
enum vigil_flow_queue {
    VIGIL_FLOWQ_TCP = 0,        /* TCP, open */
    VIGIL_FLOWQ_OTHER,          /* UDP, ICMP, anything else */
    VIGIL_FLOWQ_CLOSED,         /* TCP after FIN/FIN or RST: goes soon */
    VIGIL_FLOWQ_COUNT
};

/* Called for each entry leaving the table, before it is freed. */
typedef void (*vigil_flow_release_fn)(void *user, struct vigil_flow *flow);

struct vigil_flow_table;

struct vigil_flow_table *vigil_flow_table_new(size_t max_flows, size_t nslots,
                                              const int64_t timeout_us[VIGIL_FLOWQ_COUNT],
                                              vigil_flow_release_fn release,
                                              void *user, struct vigil_stats *stats);
/* Release every entry, then the table. */
void vigil_flow_table_free(struct vigil_flow_table *t);

/*
 * The flow of (src:sport -> dst:dport, proto) at time now_us, created when
 * absent and `create` is set (evicting as needed). NULL when absent and
 * not created, or on allocation failure.
 */
struct vigil_flow *vigil_flow_get(struct vigil_flow_table *t, const vigil_addr *src,
                                  const vigil_addr *dst, uint16_t sport,
                                  uint16_t dport, uint8_t proto, int64_t now_us,
                                  int create);

/* The TCP connection of f ended: it expires after the closed timeout. */
void vigil_flow_closed(struct vigil_flow_table *t, struct vigil_flow *f);

/* Expire entries idle longer than their queue's timeout (a few per call). */
void vigil_flow_expire(struct vigil_flow_table *t, int64_t now_us);

size_t vigil_flow_count(const struct vigil_flow_table *t);

#endif
