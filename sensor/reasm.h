/*
 * reasm.h - TCP stream reassembly, behind an interface of our own.
 *
 * reasm.c is the only file that includes <nids.h>. libnids keeps all its
 * state in process globals and has callbacks without a user pointer, so
 * there is one reassembler per process and reasm.c holds the one pointer
 * back to its owner.
 */
#ifndef VIGIL_REASM_H
#define VIGIL_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "vigil/plugin.h"

/*
 * Receives every stream event; `st` is valid during the call only.
 * `stream_slot` is one pointer the owner may keep per stream for as long
 * as the stream lives (until its CLOSED, RESET, TIMEOUT or END event):
 * the way to find the owner's own record without a lookup.
 */
typedef void (*vigil_reasm_event_fn)(void *user, const vigil_stream *st, void **stream_slot);

struct vigil_reasm_config {
    int n_tcp_streams;          /* libnids hash size; holds 3/4 of it */
    int max_frag_datagrams;     /* datagrams libnids may hold in reassembly */
    int max_embryonic;          /* TCP handshakes held until they complete */
    int collect_data;           /* deliver DATA events (someone listens) */
};

/* Start libnids. 0, or -1 with a message in err. Only once per process. */
int vigil_reasm_open(const struct vigil_reasm_config *cfg, struct vigil_stats *stats,
                     vigil_reasm_event_fn on_event, void *user,
                     char *err, size_t errlen);

/*
 * Hand one validated IPv4 datagram (the decoder's pkt: l3_hdr/l3_len, whole
 * datagram captured) to libnids at packet time pkt->ts_us. Returns 1, or 0
 * when it was kept from libnids: cut by the snaplen, or a fragment with
 * fewer than 8 data bytes (libnids mishandles those), or of a new datagram
 * while max_frag_datagrams are waiting (both counted as uninspected).
 * The SYN and SYN-ACK of a new TCP connection wait (see embryo.h) and go to
 * libnids just before the client's ACK that completes the handshake.
 */
int vigil_reasm_feed(const vigil_packet *pkt);

/* Whether libnids holds a stream for this TCP packet's connection (not
 * while its handshake is pending: libnids has seen nothing of it yet). */
int vigil_reasm_tracks(const vigil_packet *pkt);

/* The libnids version we were built with, e.g. "1.26". */
const char *vigil_reasm_version(void);

/* Flush every open stream (VIGIL_STREAM_END events) and stop libnids. */
void vigil_reasm_close(void);

#endif
