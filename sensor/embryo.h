/*
 * embryo.h - TCP handshakes held back from libnids until they complete.
 *
 * libnids creates a stream for every client SYN and, when its table is
 * full, evicts the oldest-created stream, established or not. A flood of
 * spoofed SYNs therefore pushes live sessions out. The sensor keeps the
 * handshake packets of each new IPv4 connection (headers only) in a
 * bounded table of its own and hands them to libnids only when the
 * client's ACK of the server's SYN-ACK completes the handshake, so
 * libnids holds streams of completed handshakes only.
 *
 * Eviction and expiry follow packet time and arrival order, never the
 * hash key, so a replay gives the same result every time.
 */
#ifndef VIGIL_EMBRYO_H
#define VIGIL_EMBRYO_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "vigil/plugin.h"

/* IPv4 header (at most 60 bytes) plus TCP header with options (60). */
#define VIGIL_EMBRYO_HDR_MAX 120

/* A pending handshake idle this long in packet time is dropped. */
#define VIGIL_EMBRYO_LIFETIME_US (30 * 1000000LL)

/* A held handshake packet: its headers, the IPv4 total length set to them. */
struct vigil_embryo_segment {
    int64_t ts_us;              /* its packet time */
    uint32_t len;
    uint8_t bytes[VIGIL_EMBRYO_HDR_MAX];
};

/* What a completed handshake hands over, in this order, before its ACK. */
struct vigil_embryo_release {
    struct vigil_embryo_segment syn, synack;
};

enum vigil_embryo_verdict {
    VIGIL_EMBRYO_PASS = 0,      /* hand the packet to libnids as usual */
    VIGIL_EMBRYO_HOLD,          /* held, or a repeat libnids would ignore: do not */
    VIGIL_EMBRYO_RELEASE,       /* hand over rel->syn, rel->synack, then the packet */
};

struct vigil_embryo;

/*
 * A table of at most max_pending handshakes. key: 16 bytes for the bucket
 * hash, NULL for random ones. The counters are updated in place.
 */
struct vigil_embryo *vigil_embryo_new(size_t max_pending, const uint8_t *key,
                                      struct vigil_embryo_counts *counts);
void vigil_embryo_free(struct vigil_embryo *t);

/*
 * Decide about one validated IPv4 datagram (any protocol; the table only
 * acts on unfragmented TCP) at packet time pkt->ts_us. `tracked`: libnids
 * follows this connection already, so a SYN for it is not a new handshake.
 *
 * - A client SYN (SYN without ACK or RST) of a new connection is held; at
 *   the cap the least recently active pending handshake makes room. A
 *   repeated SYN replaces the held one; one with another sequence number
 *   also forgets the SYN-ACK held for the old one.
 * - The server's SYN-ACK acknowledging the held SYN is held.
 * - The client's ACK of that SYN-ACK releases the entry.
 * - A RST that the endpoint would accept (from the server: ACK of the SYN;
 *   from the client: the sequence number after its SYN) drops the entry.
 * Everything else passes; the entry stays.
 */
enum vigil_embryo_verdict vigil_embryo_packet(struct vigil_embryo *t, const vigil_packet *pkt,
                                              int tracked, struct vigil_embryo_release *rel);

/* Pending handshakes now. */
size_t vigil_embryo_count(const struct vigil_embryo *t);

#endif
