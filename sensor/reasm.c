/*
 * reasm.c - libnids behind our own interface.
 *
 * libnids' traps, handled here once (see docs/architecture.md):
 *  - it reads from our packet loop, never from its own pcap handle: we
 *    give it a pcap_open_dead(DLT_RAW) handle and call nids_pcap_handler()
 *    with datagrams our decoder already validated (libnids itself over-reads
 *    crafted headers);
 *  - checksum verification is off, or offloaded captures yield nothing;
 *  - its port-scan detector is broken: scan_num_hosts = 0;
 *  - its default syslog handler can overflow a stack buffer: ours counts;
 *  - callbacks are dropped by nids_init(), so they are registered after;
 *  - a stream evicted because the table is full arrives as NIDS_TIMED_OUT
 *    (libnids has no idle timeout of its own);
 *  - it creates a stream for every client SYN and evicts the oldest-created
 *    one when full, so handshakes wait in embryo.c until they complete.
 *    Held SYN and SYN-ACK lose any payload: libnids ignores the payload of
 *    both, and with checksums off the shorter copies are equivalent.
 */
#include <pcap/pcap.h>
#include <nids.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "embryo.h"
#include "fragbudget.h"
#include "log.h"
#include "reasm.h"

/* A datagram (at most 65535 bytes) plus zeroed slack: libnids' fragment
 * code reads a few bytes past a fragment shorter than 8 data bytes. */
#define REASM_SLACK 64
#define REASM_SCRATCH (65536 + REASM_SLACK)

/* libnids callbacks carry no user pointer: this is the way back. */
static struct {
    int open;
    pcap_t *dead;               /* DLT_RAW descriptor libnids reads the DLT of */
    struct vigil_stats *stats;
    vigil_reasm_event_fn on_event;
    void *user;
    int64_t now_us;             /* packet time of the datagram being fed */
    uint8_t *scratch;           /* writable copy for datagrams with options */
    struct vigil_fragbudget *frags;
    struct vigil_embryo *embryo;
} g_reasm;

/* Must outlive every nids_init(): libnids keeps the pointer. */
static struct nids_chksum_ctl g_no_checksums[1] = { { 0, 0, NIDS_DONT_CHKSUM, 0 } };

static enum vigil_nids_warning warning_kind(int errnum)
{
    switch (errnum) {
    case NIDS_WARN_IP_OVERSIZED: return VIGIL_NW_IP_OVERSIZED;
    case NIDS_WARN_IP_INVLIST: return VIGIL_NW_IP_INVLIST;
    case NIDS_WARN_IP_OVERLAP: return VIGIL_NW_IP_OVERLAP;
    case NIDS_WARN_IP_HDR: return VIGIL_NW_IP_HDR;
    case NIDS_WARN_IP_SRR: return VIGIL_NW_IP_SRR;
    case NIDS_WARN_TCP_TOOMUCH: return VIGIL_NW_TCP_TOOMUCH;
    case NIDS_WARN_TCP_HDR: return VIGIL_NW_TCP_HDR;
    case NIDS_WARN_TCP_BIGQUEUE: return VIGIL_NW_TCP_BIGQUEUE;
    case NIDS_WARN_TCP_BADFLAGS: return VIGIL_NW_TCP_BADFLAGS;
    default: return VIGIL_NW_OTHER;
    }
}

/* libnids' syslog hook: void f(int type, int errnum, struct ip *, void *). */
static void on_nids_warning(int type, int errnum, void *iph, void *data)
{
    (void)iph;
    (void)data;
    if (type == NIDS_WARN_SCAN)
        return;                 /* detector disabled; never expected */
    g_reasm.stats->nids_warnings[warning_kind(errnum)]++;
}

static void addr_from_nids(vigil_addr *a, u_int saddr)
{
    memset(a, 0, sizeof *a);
    a->family = 4;
    memcpy(a->bytes, &saddr, 4);    /* libnids keeps network order */
}

static void emit(struct tcp_stream *ts, uint32_t event, uint32_t dir,
                 const struct half_stream *half)
{
    vigil_stream st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.event = event;
    st.ts_us = g_reasm.now_us;
    addr_from_nids(&st.client, ts->addr.saddr);
    addr_from_nids(&st.server, ts->addr.daddr);
    st.client_port = ts->addr.source;
    st.server_port = ts->addr.dest;
    st.bytes_to_server = (uint64_t)ts->server.count;
    st.bytes_to_client = (uint64_t)ts->client.count;
    if (half != NULL && half->count_new > 0) {
        /* The new bytes are the last count_new of the buffer. */
        int buffered = half->count - half->offset;
        st.dir = dir;
        st.len = (uint32_t)half->count_new;
        st.offset = (uint64_t)(half->count - half->count_new);
        st.data = (const uint8_t *)half->data + (buffered - half->count_new);
    }
    g_reasm.on_event(g_reasm.user, &st, &ts->user);   /* user: free for applications */
}

static void on_tcp(struct tcp_stream *ts, void **param)
{
    (void)param;
    struct vigil_stats *s = g_reasm.stats;
    switch (ts->nids_state) {
    case NIDS_JUST_EST:
        ts->client.collect++;
        ts->server.collect++;
        s->streams_established++;
        emit(ts, VIGIL_STREAM_ESTABLISHED, 0, NULL);
        break;
    case NIDS_DATA:
        if (ts->server.count_new > 0) {
            s->stream_bytes += (uint64_t)ts->server.count_new;
            emit(ts, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, &ts->server);
        }
        if (ts->client.count_new > 0) {
            s->stream_bytes += (uint64_t)ts->client.count_new;
            emit(ts, VIGIL_STREAM_DATA, VIGIL_DIR_TO_CLIENT, &ts->client);
        }
        break;
    case NIDS_CLOSE:
        s->streams_closed++;
        emit(ts, VIGIL_STREAM_CLOSED, 0, NULL);
        break;
    case NIDS_RESET:
        s->streams_reset++;
        emit(ts, VIGIL_STREAM_RESET, 0, NULL);
        break;
    case NIDS_TIMED_OUT:
        s->streams_evicted++;
        emit(ts, VIGIL_STREAM_TIMEOUT, 0, NULL);
        break;
    case NIDS_EXITING:
        s->streams_open_at_end++;
        emit(ts, VIGIL_STREAM_END, 0, NULL);
        break;
    default:
        break;
    }
}

int vigil_reasm_open(const struct vigil_reasm_config *cfg, struct vigil_stats *stats,
                     vigil_reasm_event_fn on_event, void *user,
                     char *err, size_t errlen)
{
    if (g_reasm.open) {
        vigil_seterr(err, errlen, "reassembly: already open");
        return -1;
    }
    g_reasm.dead = pcap_open_dead(DLT_RAW, 262144);
    g_reasm.scratch = calloc(1, REASM_SCRATCH);
    g_reasm.frags = vigil_fragbudget_new(cfg->max_frag_datagrams > 0
                                             ? (size_t)cfg->max_frag_datagrams : 4096);
    g_reasm.embryo = vigil_embryo_new(cfg->max_embryonic > 0 ? (size_t)cfg->max_embryonic
                                                             : 16384,
                                      NULL, &stats->embryonic);
    if (g_reasm.dead == NULL || g_reasm.scratch == NULL || g_reasm.frags == NULL ||
        g_reasm.embryo == NULL) {
        vigil_seterr(err, errlen, "reassembly: out of memory");
        goto fail;
    }
    g_reasm.stats = stats;
    g_reasm.on_event = on_event;
    g_reasm.user = user;

    nids_params.pcap_desc = g_reasm.dead;
    nids_params.filename = NULL;
    nids_params.device = NULL;
    nids_params.pcap_filter = NULL;
    /* The field is an unprototyped pointer; copy ours in without a cast. */
    void (*warn_fn)(int, int, void *, void *) = on_nids_warning;
    memcpy(&nids_params.syslog, &warn_fn, sizeof warn_fn);
    nids_params.scan_num_hosts = 0;
    nids_params.n_tcp_streams = cfg->n_tcp_streams;
    nids_params.multiproc = 0;
    nids_params.tcp_workarounds = 0;
    if (!nids_init()) {
        /* nids_errbuf may be stale; never call nids_init() again after this. */
        vigil_seterr(err, errlen, "reassembly: libnids failed to start: %s",
                     nids_errbuf);
        goto fail;
    }
    nids_register_chksum_ctl(g_no_checksums, 1);
    nids_register_tcp((void *)on_tcp);
    g_reasm.open = 1;
    return 0;
fail:
    if (g_reasm.dead)
        pcap_close(g_reasm.dead);
    free(g_reasm.scratch);
    vigil_fragbudget_free(g_reasm.frags);
    vigil_embryo_free(g_reasm.embryo);
    memset(&g_reasm, 0, sizeof g_reasm);
    return -1;
}

static int64_t wall_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fragments libnids must not see, counted by why. */
static int admit_fragment(const vigil_packet *pkt)
{
    enum vigil_uninspected why;
    /* libnids' defragmenter reads past its own copy of a fragment that
     * carries fewer than 8 data bytes (found by valgrind): keep those out. */
    if (pkt->payload_len < 8)
        why = VIGIL_UNINSPECTED_TINY_FRAGMENT;
    else if (!vigil_fragbudget_admit(g_reasm.frags, pkt, wall_now_us()))
        why = VIGIL_UNINSPECTED_FRAG_BUDGET;
    else
        return 1;
    g_reasm.stats->uninspected_bytes[why] += pkt->payload_wire_len;
    return 0;
}

/* One datagram to libnids at packet time ts_us (the header lengths
 * describe exactly len bytes). */
static void hand_over(const uint8_t *ip, uint32_t len, int64_t ts_us, int copy)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(ts_us % 1000000);
    h.caplen = h.len = len;
    g_reasm.stats->nids_packets++;
    /* libnids writes into IPv4 option bytes: give it a copy of those (with
     * zeroed slack after the datagram, for its word-sized reads). */
    u_char *data = (u_char *)(uintptr_t)ip;
    if (copy) {
        memcpy(g_reasm.scratch, ip, len);
        memset(g_reasm.scratch + len, 0, REASM_SLACK);
        data = g_reasm.scratch;
    }
    nids_pcap_handler(NULL, &h, data);
}

/* Whether libnids has a stream for this TCP packet's connection. */
static int nids_tracks(const vigil_packet *pkt)
{
    struct tuple4 t;
    t.source = pkt->sport;
    t.dest = pkt->dport;
    memcpy(&t.saddr, pkt->src.bytes, 4);
    memcpy(&t.daddr, pkt->dst.bytes, 4);
    if (nids_find_tcp_stream(&t))
        return 1;
    struct tuple4 r = { t.dest, t.source, t.daddr, t.saddr };   /* from the server */
    return nids_find_tcp_stream(&r) != NULL;
}

static int client_syn(const vigil_packet *pkt)
{
    return pkt->ip_proto == 6 && (pkt->flags & VIGIL_PKT_HAS_L4) &&
           (pkt->tcp_flags & (VIGIL_TCP_SYN | VIGIL_TCP_ACK | VIGIL_TCP_RST)) == VIGIL_TCP_SYN;
}

int vigil_reasm_feed(const vigil_packet *pkt)
{
    if (!g_reasm.open || pkt->l3 != VIGIL_L3_IPV4 || pkt->l3_len < 20 ||
        pkt->l3_len > 65535 || (pkt->flags & VIGIL_PKT_PAYLOAD_CUT))
        return 0;
    if ((pkt->flags & VIGIL_PKT_FRAGMENT) && !admit_fragment(pkt))
        return 0;
    /* libnids trusts the header's lengths: they must describe exactly the
     * bytes we hand over (the decoder guarantees it; this keeps it local). */
    const uint8_t *ip = pkt->l3_hdr;
    uint32_t total = (uint32_t)ip[2] << 8 | ip[3];
    if (total != pkt->l3_len || (uint32_t)(ip[0] & 0x0f) * 4 > total)
        return 0;
    g_reasm.now_us = pkt->ts_us;
    struct vigil_embryo_release rel;
    int tracked = client_syn(pkt) && nids_tracks(pkt);
    switch (vigil_embryo_packet(g_reasm.embryo, pkt, tracked, &rel)) {
    case VIGIL_EMBRYO_HOLD:
        return 1;
    case VIGIL_EMBRYO_RELEASE:
        hand_over(rel.syn.bytes, rel.syn.len, rel.syn.ts_us, 1);
        hand_over(rel.synack.bytes, rel.synack.len, rel.synack.ts_us, 1);
        break;
    case VIGIL_EMBRYO_PASS:
        break;
    }
    hand_over(ip, pkt->l3_len, pkt->ts_us,
              (pkt->flags & (VIGIL_PKT_IP_OPTIONS | VIGIL_PKT_FRAGMENT)) != 0);
    return 1;
}

int vigil_reasm_tracks(const vigil_packet *pkt)
{
    if (!g_reasm.open || pkt->l3 != VIGIL_L3_IPV4)
        return 0;
    return nids_tracks(pkt);
}

void vigil_reasm_close(void)
{
    if (!g_reasm.open)
        return;
    nids_exit();                /* NIDS_EXITING for every open stream */
    pcap_close(g_reasm.dead);   /* only after nids_exit, which uses it */
    free(g_reasm.scratch);
    vigil_fragbudget_free(g_reasm.frags);
    vigil_embryo_free(g_reasm.embryo);    /* pending handshakes stay counted as pending */
    memset(&g_reasm, 0, sizeof g_reasm);
}

#define VIGIL_STR2(x) #x
#define VIGIL_STR(x) VIGIL_STR2(x)

const char *vigil_reasm_version(void)
{
    return VIGIL_STR(NIDS_MAJOR) "." VIGIL_STR(NIDS_MINOR);
}
