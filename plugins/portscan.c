/*
 * portscan.c - vertical port scans and horizontal host sweeps.
 *
 * A "probe" is the first packet of a flow sent by its initiator when that
 * packet looks like an attempt to reach a service: a TCP SYN, a FIN, NULL
 * or XMAS segment, a bare ACK, a UDP datagram, an ICMP echo request, an
 * ARP request. Its outcome is learnt from the answers (SYN-ACK, RST, ICMP
 * unreachable, a reply) in the spirit of Threshold Random Walk (Jung et
 * al., 2004): scanners mostly fail, benign clients mostly succeed.
 *
 * Tracking is lazy, because nearly every probe on a busy network succeeds:
 *
 *  - a probe first waits in a bounded FIFO ring of pending probes, found
 *    by its flow tuple through a small hash index (no per-flow state in
 *    the host: asking the host for a flow slot creates a host flow, which
 *    costs more than everything this detector does with a benign flow);
 *  - a success only bumps a per-source counter and a ring of the source's
 *    last few successes;
 *  - a failure (refusal, ICMP unreachable, half-open reset) or a probe
 *    still unanswered after response_timeout_sec goes to two trackers of
 *    its source, created on demand:
 *
 *      vertical (source, target host, probe class) -> the ports probed
 *      sweep    (source, protocol, port)           -> the hosts probed
 *
 * A tracker alerts when enough failed items fall in a window of packet
 * time (docs/detectors.md has the rules and every knob). A "seen" filter
 * of flow hashes tells an established flow's packets from first packets
 * without a lookup. Memory is bounded by a source cap, per-source and
 * per-tracker caps, a byte budget and the fixed ring; the least recently
 * seen source is evicted first. Alerts come out of a list kept in the
 * order trackers became interesting, so the same packets always give the
 * same alerts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define SAMPLE_MAX 8            /* ports or hosts listed in an alert */
#define META_MAX 14

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58

/* A member lies inside what the writer of the struct knew about. */
/* ---- configuration ------------------------------------------------------ */

struct ps_config {
    int64_t window_us;          /* fast rules: sliding window */
    int64_t min_ports;          /* fast vertical: failed ports */
    int64_t min_hosts;          /* fast sweep: failed hosts */
    int64_t slow_window_us;     /* slow rules: refused probes kept this long */
    int64_t slow_min_ports;     /* slow vertical: refused ports (0: off) */
    int64_t slow_min_hosts;     /* slow sweep: refused hosts (0: off) */
    int64_t min_fail_percent;   /* failures among answered+failed items */
    int64_t response_timeout_us; /* no answer after this = failure */
    int64_t settle_us;          /* an armed tracker alerts after this quiet */
    int64_t report_delay_us;    /* longest wait between detection and alert */
    int64_t alert_interval_us;  /* one alert per tracker per interval */
    int64_t max_sources;
    int64_t max_trackers_per_source;
    int64_t max_items_per_tracker;
    int64_t memcap_bytes;
    int64_t pending_max;        /* probes awaiting an answer */
};

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct ps_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("window_sec", 60, 1, 86400, VGP_US_PER_SEC, window_us),
    KNOB("min_ports", 20, 2, 65536, 1, min_ports),
    KNOB("min_hosts", 20, 2, 16777216, 1, min_hosts),
    KNOB("slow_window_sec", 1800, 1, 604800, VGP_US_PER_SEC, slow_window_us),
    KNOB("slow_min_ports", 4, 0, 65536, 1, slow_min_ports),
    KNOB("slow_min_hosts", 10, 0, 16777216, 1, slow_min_hosts),
    KNOB("min_fail_percent", 60, 0, 100, 1, min_fail_percent),
    KNOB("response_timeout_sec", 3, 1, 3600, VGP_US_PER_SEC, response_timeout_us),
    KNOB("settle_sec", 10, 0, 86400, VGP_US_PER_SEC, settle_us),
    KNOB("report_delay_sec", 30, 0, 86400, VGP_US_PER_SEC, report_delay_us),
    KNOB("alert_interval_sec", 60, 1, 86400, VGP_US_PER_SEC, alert_interval_us),
    KNOB("max_sources", 65536, 16, 16777216, 1, max_sources),
    KNOB("max_trackers_per_source", 64, 2, 4096, 1, max_trackers_per_source),
    KNOB("max_items_per_tracker", 1024, 16, 65536, 1, max_items_per_tracker),
    KNOB("memcap_mb", 32, 1, 65536, 1024 * 1024, memcap_bytes),
    KNOB("pending_max", 65536, 256, 4194304, 1, pending_max),
};

/* ---- vocabulary ------------------------------------------------------- */

/* What a probe looked like; also the key of vertical trackers. */
enum probe_class {
    PC_NONE = 0,
    PC_SYN, PC_FIN, PC_NULL, PC_XMAS, PC_ACK, PC_ODD, PC_FRAG, /* TCP */
    PC_UDP,
    PC_ICMP,
    PC_ARP,
    PC_TCP_ANY,                 /* sweep trackers: any TCP probe */
};

enum tracker_kind { TK_VERTICAL = 1, TK_SWEEP = 2 };

/* What became of one probed port or host. */
enum outcome {
    OC_PENDING = 0,             /* no answer yet */
    OC_OPEN,                    /* SYN-ACK seen, initiator not heard since */
    OC_COMPLETED,               /* initiator finished the handshake */
    OC_REPLIED,                 /* UDP, ICMP or ARP reply */
    OC_TRANSIT,                 /* ICMP time exceeded: a path probe */
    OC_REFUSED,                 /* RST from the target */
    OC_UNREACH,                 /* ICMP destination unreachable */
    OC_HALF_OPEN,               /* initiator reset a SYN-ACK: raw scanner */
};

#define OC_BIT(o) (1u << (o))

static int outcome_is_success(uint8_t o)
{
    return o == OC_OPEN || o == OC_COMPLETED || o == OC_REPLIED || o == OC_TRANSIT;
}

static int outcome_is_refusal(uint8_t o)
{
    return o == OC_REFUSED || o == OC_UNREACH || o == OC_HALF_OPEN;
}

enum technique_id {
    T_SYN, T_CONNECT, T_FIN, T_NULL, T_XMAS, T_ACK, T_ODD, T_FRAG, T_UDP,
    T_SWEEP_TCP, T_SWEEP_UDP, T_SWEEP_ICMP, T_SWEEP_ARP, T_COUNT
};

struct technique {
    uint32_t sid;
    const char *name;           /* attack_technique */
    const char *label;          /* in the signature text */
};

static const struct technique techniques[T_COUNT] = {
    [T_SYN] = { 9100001, "tcp_syn_scan", "TCP SYN port scan" },
    [T_CONNECT] = { 9100002, "tcp_connect_scan", "TCP connect port scan" },
    [T_FIN] = { 9100003, "tcp_fin_scan", "TCP FIN port scan" },
    [T_NULL] = { 9100004, "tcp_null_scan", "TCP NULL port scan" },
    [T_XMAS] = { 9100005, "tcp_xmas_scan", "TCP XMAS port scan" },
    [T_ACK] = { 9100006, "tcp_ack_scan", "TCP ACK port scan" },
    [T_ODD] = { 9100007, "tcp_odd_flags_scan", "TCP odd-flags port scan" },
    [T_FRAG] = { 9100008, "tcp_fragmented_scan", "TCP fragmented port scan" },
    [T_UDP] = { 9100009, "udp_scan", "UDP port scan" },
    [T_SWEEP_TCP] = { 9100010, "horizontal_sweep", "TCP host sweep" },
    [T_SWEEP_UDP] = { 9100011, "horizontal_sweep", "UDP host sweep" },
    [T_SWEEP_ICMP] = { 9100012, "icmp_sweep", "ICMP ping sweep" },
    [T_SWEEP_ARP] = { 9100013, "arp_sweep", "ARP host sweep" },
};

/* ---- state ---------------------------------------------------------------- */

/* One probed port (vertical) or host (sweep). */
struct item {
    uint32_t key;
    uint16_t probes;
    uint8_t used;
    uint8_t outcome;
    int64_t first_us, last_us;
};

/*
 * Open addressing, linear probing. `cap` is the logical capacity: at most
 * half of it is used, and it alone decides when the set grows and when a
 * full set is pruned, which is visible in results (an expired item that is
 * probed again before it is pruned lives on). The physical storage is
 * smaller for small sets, which are most of them: one item lives inside
 * the tracker, up to three in four slots; from logical capacity 16 on,
 * physical and logical agree.
 */
struct item_set {
    struct item *slots;         /* the tracker's `one`, or the heap */
    uint32_t cap, count;
    uint32_t nslots;            /* physical slots */
};

struct source;

struct tracker {
    uint8_t kind, klass;        /* key: enum tracker_kind, enum probe_class */
    uint16_t port;              /* key (sweep) */
    uint16_t slot;              /* index in owner->trackers: creation order */
    uint8_t armed, watched, has_alerted;
    uint8_t period_started;     /* probed since the last alert */
    uint32_t hash;              /* of the key, for the tracker index */
    /* Vertical: the target host (key). Sweep: first host since the last alert. */
    vigil_addr target;
    struct source *owner;
    struct tracker *hash_next;  /* chain in the plugin-wide tracker index */
    struct tracker *watch_prev, *watch_next;
    struct item_set items;
    int64_t last_probe_us;
    int64_t last_alert_us;      /* items up to this time were reported */
    int64_t armed_us;           /* when the rules first held, if armed */
    int64_t target_us;          /* when `target` was probed */
    /* Sweeps: successes of the group made before the tracker existed. */
    uint32_t ok_before;
    int64_t ok_before_us;       /* counted up to then; void a window later */
    struct item one;            /* storage of a one-item set */
};

/* Protocol groups: sweep trackers, success counters, pending probes. */
enum group_slot { G_TCP, G_UDP, G_ICMP, G_ARP, G_COUNT };

#define RECENT_MAX 8u           /* successes a source remembers one by one */

/* A success, kept so that a tracker created later still knows it. */
struct recent {
    uint32_t host;              /* host_key() of the target */
    uint16_t port;              /* 0 for ICMP and ARP */
    uint8_t klass, outcome;
    int64_t us;
};

struct source {
    vigil_addr addr;
    uint16_t vclasses;          /* probe classes it may have vertical trackers for */
    uint8_t recent_next;        /* oldest slot of `recent`, overwritten next */
    struct source *hash_next;
    struct source *lru_prev, *lru_next; /* most recently seen at the head */
    uint64_t lru_stamp;         /* ps->lru_moves when last moved to the head */
    int64_t last_seen_us;
    struct tracker **trackers;  /* in creation order; NULL until the first failure */
    uint32_t ntrackers, cap_trackers;
    /* Successes per group over the last one or two windows. */
    uint32_t ok_cur[G_COUNT], ok_prev[G_COUNT];
    int64_t ok_since_us;        /* start of the ok_cur window */
    struct recent recent[RECENT_MAX];
};

/* A probe waiting for its answer. */
enum pending_state { PS_PENDING = 1, PS_OPEN, PS_DONE };    /* DONE: out of the index */

struct pending {
    vigil_addr src, dst;        /* normalised: prober, probed */
    uint16_t sport, dport;      /* 0 for ICMP and ARP */
    uint8_t group;              /* PC_TCP_ANY, PC_UDP, PC_ICMP, PC_ARP */
    uint8_t klass;              /* enum probe_class */
    uint8_t state;              /* enum pending_state */
    uint16_t probes;            /* ICMP and ARP count every request */
    uint32_t hash;              /* of the tuple, for the index */
    int64_t ts_us;
};

/*
 * The pending probes: a FIFO ring in probe order (so they time out in that
 * order) and an open-addressing index by tuple of the undecided ones. An
 * index slot holds the hash too, so a miss never reads the ring.
 */
struct index_slot {
    uint32_t hash;
    uint32_t pos;               /* ring position + 1; 0: empty */
};

struct pending_ring {
    struct pending *ring;
    uint32_t cap, head, count;  /* head: the oldest */
    struct index_slot *index;
    uint32_t index_mask;
};

/*
 * Flows known to need nothing more (a finished handshake, a flow met
 * mid-stream): one byte per slot holding the generation (of SEEN_GEN_US)
 * in which the flow was last marked, so a mark is a plain store and a
 * flow is forgotten after one to two generations of silence. Keyed by a
 * fixed hash: a collision hides a first packet, which must not depend on
 * a random key, or the same capture could give different alerts.
 */
struct seen_filter {
    uint8_t *gen_of;
    uint32_t mask;              /* slots - 1 */
    uint8_t gen, prev;          /* never 0, which means never marked */
    int64_t gen_start_us;
};

struct counters {
    uint64_t probes;
    uint64_t pending_overflows;
    uint64_t trackers_created;
    uint64_t sources_created;
    uint64_t sources_evicted_cap;
    uint64_t sources_evicted_memory;
    uint64_t sources_expired;
    uint64_t trackers_evicted;
    uint64_t item_cap_hits;
    uint64_t memory_refusals;
    uint64_t alerts;
    uint32_t peak_sources;
};

struct portscan {
    const vigil_host_api *host;
    struct ps_config cfg;
    uint64_t hash_key;          /* random: bucket choice is not predictable */
    struct source **buckets;
    uint32_t bucket_mask;
    uint32_t nsources;
    /* Every tracker, keyed by (source, kind, class, port or host). */
    struct tracker **tbuckets;
    uint32_t tbucket_mask, ntrackers;
    struct source *lru_head, *lru_tail;
    uint64_t lru_moves;
    struct tracker *watch_head, *watch_tail; /* in order of interest */
    size_t mem_bytes;
    int64_t now_us;             /* packet clock, never goes backwards */
    struct counters stats;
    struct pending_ring pend;
    struct seen_filter seen;
};

/* What a tracker's items say right now. */
struct tally {
    uint32_t items;             /* reported: fresh retained items */
    uint32_t fast_fail, fast_ok;
    uint32_t slow_refused, slow_ok;
    uint32_t young;             /* pending, too early to call */
    uint32_t refused, unreach, open, completed, half_open, replied, transit, none;
    uint64_t probes;
    int64_t first_us, last_us;
};

/* ---- small helpers -------------------------------------------------------- */

static int addr_is_zero(const vigil_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->bytes, zero, vgp_addr_len(a)) == 0;
}

/* Multicast and broadcast are announcements, not attempts on one host. */
static int addr_is_group(const vigil_addr *a)
{
    if (a->family == 6)
        return a->bytes[0] == 0xff;
    static const uint8_t bcast[4] = { 255, 255, 255, 255 };
    return a->bytes[0] >= 224 || memcmp(a->bytes, bcast, 4) == 0;
}

/* The item key of a host: the IPv4 address itself, a hash for IPv6. */
static uint32_t host_key(const vigil_addr *a)
{
    const uint8_t *b = a->bytes;
    if (a->family != 6)
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < 16; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t source_hash(const struct portscan *ps, const vigil_addr *a)
{
    uint64_t h = ps->hash_key ^ a->family;
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t w;
        memcpy(&w, a->bytes + i, sizeof w);
        h = vgp_mix64(h ^ w);
    }
    return (uint32_t)(h >> 32);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static void *ps_alloc(struct portscan *ps, size_t n)
{
    void *p = calloc(1, n);
    if (p)
        ps->mem_bytes += n;
    return p;
}

static void ps_free(struct portscan *ps, void *p, size_t n)
{
    if (p)
        ps->mem_bytes -= n;
    free(p);
}

/* ---- item sets -------------------------------------------------------------- */

#define SMALL_CAP 8u            /* logical capacity held in SMALL_SLOTS */
#define SMALL_SLOTS 4u

static uint32_t slot_of(uint32_t key, uint32_t nslots)
{
    uint32_t h = key * 0x9E3779B1u;
    return (h ^ (h >> 16)) & (nslots - 1);
}

/* Physical slots for `count` items in a set of logical capacity `cap`. */
static uint32_t slots_for(uint32_t cap, uint32_t count)
{
    if (cap > SMALL_CAP)
        return cap;
    return count <= 1 ? 1 : SMALL_SLOTS;
}

/* Probing stops at an empty slot or after every slot (a full inline slot). */
static struct item *set_find(const struct item_set *s, uint32_t key)
{
    uint32_t mask = s->nslots - 1;
    uint32_t i = s->nslots ? slot_of(key, s->nslots) : 0;
    for (uint32_t n = 0; n < s->nslots; n++, i = (i + 1) & mask) {
        struct item *it = &s->slots[i];
        if (!it->used)
            return NULL;
        if (it->key == key)
            return it;
    }
    return NULL;
}

/* Insert an item known to be absent into a set with a free slot. */
static struct item *set_place(struct item_set *s, const struct item *src)
{
    uint32_t i = slot_of(src->key, s->nslots);
    while (s->slots[i].used)
        i = (i + 1) & (s->nslots - 1);
    s->slots[i] = *src;
    s->slots[i].used = 1;
    s->count++;
    return &s->slots[i];
}

static void set_release(struct portscan *ps, struct tracker *tr)
{
    if (tr->items.slots != &tr->one)
        ps_free(ps, tr->items.slots, (size_t)tr->items.nslots * sizeof(struct item));
}

/* Rebuild with logical capacity `cap`, keeping the items `keep` accepts and
 * leaving physical room for `room` more. */
typedef int (*keep_fn)(const struct portscan *ps, const struct tracker *tr,
                       const struct item *it);

static int set_rebuild(struct portscan *ps, struct tracker *tr, uint32_t cap, keep_fn keep,
                       uint32_t room)
{
    const struct item_set *old = &tr->items;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < old->nslots; i++)
        if (old->slots[i].used && (keep == NULL || keep(ps, tr, &old->slots[i])))
            kept++;
    uint32_t n = slots_for(cap, kept + room);
    struct item spare;          /* an inline set is built here, then moved in */
    memset(&spare, 0, sizeof spare);
    struct item_set fresh = { &spare, cap, 0, n };
    if (n > 1 && (fresh.slots = ps_alloc(ps, (size_t)n * sizeof(struct item))) == NULL)
        return -1;
    for (uint32_t i = 0; i < old->nslots; i++)
        if (old->slots[i].used && (keep == NULL || keep(ps, tr, &old->slots[i])))
            set_place(&fresh, &old->slots[i]);
    set_release(ps, tr);
    if (n == 1) {
        tr->one = spare;
        fresh.slots = &tr->one;
    }
    tr->items = fresh;
    return 0;
}

/* An item still matters: in the window, or a refusal in the slow window. */
static int item_retained(const struct portscan *ps, const struct tracker *tr,
                         const struct item *it)
{
    (void)tr;
    if (it->last_us >= ps->now_us - ps->cfg.window_us)
        return 1;
    return outcome_is_refusal(it->outcome) &&
           it->last_us >= ps->now_us - ps->cfg.slow_window_us;
}

static uint32_t set_cap_for(uint32_t count)
{
    uint32_t cap = SMALL_CAP;
    while (cap < count * 2 + 2)
        cap *= 2;
    return cap;
}

/* Drop expired items and shrink when the set became sparse. */
static void set_prune(struct portscan *ps, struct tracker *tr)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < tr->items.nslots; i++)
        if (tr->items.slots[i].used && item_retained(ps, tr, &tr->items.slots[i]))
            kept++;
    if (kept == tr->items.count)
        return;
    uint32_t cap = set_cap_for(kept);
    if (cap > tr->items.cap)
        cap = tr->items.cap;
    (void)set_rebuild(ps, tr, cap, item_retained, 0);
}

/* ---- watch list: trackers that may alert, in order of interest ------------- */

static void watch(struct portscan *ps, struct tracker *tr)
{
    if (tr->watched)
        return;
    tr->watched = 1;
    tr->watch_next = NULL;
    tr->watch_prev = ps->watch_tail;
    if (ps->watch_tail)
        ps->watch_tail->watch_next = tr;
    else
        ps->watch_head = tr;
    ps->watch_tail = tr;
}

static void unwatch(struct portscan *ps, struct tracker *tr)
{
    if (!tr->watched)
        return;
    if (tr->watch_prev)
        tr->watch_prev->watch_next = tr->watch_next;
    else
        ps->watch_head = tr->watch_next;
    if (tr->watch_next)
        tr->watch_next->watch_prev = tr->watch_prev;
    else
        ps->watch_tail = tr->watch_prev;
    tr->watched = 0;
    tr->watch_prev = tr->watch_next = NULL;
}

/* ---- counting ------------------------------------------------------------ */

static void tally_outcome(struct tally *t, const struct item *it, int decided)
{
    switch (it->outcome) {
    case OC_REFUSED: t->refused++; break;
    case OC_UNREACH: t->unreach++; break;
    case OC_OPEN: t->open++; break;
    case OC_COMPLETED: t->completed++; break;
    case OC_HALF_OPEN: t->half_open++; break;
    case OC_REPLIED: t->replied++; break;
    case OC_TRANSIT: t->transit++; break;
    default: t->none += decided; break;
    }
}

/*
 * Count the fresh items (probed after the last alert). `final` means no
 * answer can come any more, so every pending probe has failed.
 */
static struct tally tally_tracker(const struct portscan *ps, const struct tracker *tr,
                                  int final)
{
    struct tally t;
    memset(&t, 0, sizeof t);
    int64_t fast_since = ps->now_us - ps->cfg.window_us;
    for (uint32_t i = 0; i < tr->items.nslots; i++) {
        const struct item *it = &tr->items.slots[i];
        if (!it->used || (tr->has_alerted && it->last_us <= tr->last_alert_us))
            continue;
        int pending = it->outcome == OC_PENDING;
        int decided = !pending || final ||
                      ps->now_us - it->first_us >= ps->cfg.response_timeout_us;
        t.items++;
        t.probes += it->probes;
        if (t.items == 1 || it->first_us < t.first_us)
            t.first_us = it->first_us;
        t.last_us = max64(t.last_us, it->last_us);
        tally_outcome(&t, it, decided);
        if (!decided)
            t.young++;
        int success = outcome_is_success(it->outcome);
        if (outcome_is_refusal(it->outcome))
            t.slow_refused++;
        else if (success)
            t.slow_ok++;
        if (it->last_us < fast_since)
            continue;
        if (success)
            t.fast_ok++;
        else if (decided)
            t.fast_fail++;
    }
    return t;
}

/* Failures are at least min_fail_percent of the decided items. */
static int mostly_failures(const struct portscan *ps, uint32_t fail, uint32_t ok)
{
    return (uint64_t)fail * 100 >= (uint64_t)ps->cfg.min_fail_percent * ((uint64_t)fail + ok);
}

/*
 * Successes of a sweep's group that happened before the tracker existed
 * (they were never items), while they are within the window.
 */
static uint32_t ok_before(const struct portscan *ps, const struct tracker *tr)
{
    return ps->now_us - tr->ok_before_us < ps->cfg.window_us ? tr->ok_before : 0;
}

/* Which rule holds: 1 fast, 2 slow, 0 none. */
static int rule_holds(const struct portscan *ps, const struct tracker *tr, const struct tally *t)
{
    const struct ps_config *c = &ps->cfg;
    if (tr->kind == TK_VERTICAL) {
        /* Successes never count: a client using many open ports is fine. */
        if (t->fast_fail >= c->min_ports)
            return 1;
        if (c->slow_min_ports > 0 && t->slow_refused >= c->slow_min_ports &&
            mostly_failures(ps, t->slow_refused, t->slow_ok))
            return 2;
        return 0;
    }
    uint32_t before = ok_before(ps, tr);
    if (t->fast_fail >= c->min_hosts && mostly_failures(ps, t->fast_fail, t->fast_ok + before))
        return 1;
    if (c->slow_min_hosts > 0 && t->slow_refused >= c->slow_min_hosts &&
        mostly_failures(ps, t->slow_refused, t->slow_ok + before))
        return 2;
    return 0;
}

/* ---- alerts ----------------------------------------------------------------- */

static enum technique_id technique_of(const struct tracker *tr, const struct tally *t)
{
    if (tr->kind == TK_SWEEP) {
        switch (tr->klass) {
        case PC_UDP: return T_SWEEP_UDP;
        case PC_ICMP: return T_SWEEP_ICMP;
        case PC_ARP: return T_SWEEP_ARP;
        default: return T_SWEEP_TCP;
        }
    }
    switch (tr->klass) {
    case PC_SYN:
        /*
         * connect() finishes handshakes; raw SYN scanners never do and
         * reset them. A late SYN-ACK also meets a reset after connect()
         * gave up, hence ties go to connect.
         */
        return t->completed > 0 && t->completed >= t->half_open ? T_CONNECT : T_SYN;
    case PC_FIN: return T_FIN;
    case PC_NULL: return T_NULL;
    case PC_XMAS: return T_XMAS;
    case PC_ACK: return T_ACK;
    case PC_FRAG: return T_FRAG;
    case PC_UDP: return T_UDP;
    default: return T_ODD;
    }
}

static void format_duration(char *buf, size_t len, int64_t us)
{
    if (us < 10 * VGP_US_PER_SEC)
        snprintf(buf, len, "%.1f s", (double)us / 1e6);
    else
        snprintf(buf, len, "%" PRId64 " s", us / VGP_US_PER_SEC);
}

/* The first few fresh items by time of first probe (ties: by key). */
static size_t pick_sample(const struct tracker *tr, const struct item **out)
{
    size_t n = 0;
    for (uint32_t i = 0; i < tr->items.nslots; i++) {
        const struct item *it = &tr->items.slots[i];
        if (!it->used || (tr->has_alerted && it->last_us <= tr->last_alert_us))
            continue;
        size_t pos = n;
        while (pos > 0 && (out[pos - 1]->first_us > it->first_us ||
                           (out[pos - 1]->first_us == it->first_us && out[pos - 1]->key > it->key)))
            pos--;
        if (pos >= SAMPLE_MAX)
            continue;
        size_t last = n < SAMPLE_MAX ? n : SAMPLE_MAX - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos] = it;
        if (n < SAMPLE_MAX)
            n++;
    }
    return n;
}

static void format_sample(const struct tracker *tr, char *buf, size_t len)
{
    const struct item *sample[SAMPLE_MAX + 1];
    size_t n = pick_sample(tr, sample), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        uint32_t k = sample[i]->key;
        int w;
        if (tr->kind == TK_VERTICAL)
            w = snprintf(buf + used, len - used, "%s%" PRIu32, i ? "," : "", k);
        else
            w = snprintf(buf + used, len - used, "%s%u.%u.%u.%u", i ? "," : "",
                         (unsigned)(k >> 24), (unsigned)(k >> 16 & 255),
                         (unsigned)(k >> 8 & 255), (unsigned)(k & 255));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void format_signature(const struct tracker *tr, const struct tally *t,
                             const struct technique *te, char *buf, size_t len)
{
    char dur[32];
    format_duration(dur, sizeof dur, t->last_us - t->first_us);
    if (tr->kind == TK_VERTICAL)
        snprintf(buf, len, "VIGIL SCAN %s (%" PRIu32 " ports in %s)", te->label, t->items, dur);
    else if (tr->klass == PC_ICMP || tr->klass == PC_ARP)
        snprintf(buf, len, "VIGIL SCAN %s (%" PRIu32 " hosts in %s)", te->label, t->items, dur);
    else
        snprintf(buf, len, "VIGIL SCAN %s on port %u (%" PRIu32 " hosts in %s)", te->label,
                 (unsigned)tr->port, t->items, dur);
}

static uint8_t alert_proto(const struct tracker *tr, const vigil_addr *target)
{
    switch (tr->klass) {
    case PC_ARP: return 0;
    case PC_UDP: return IPPROTO_UDP_;
    case PC_ICMP: return target->family == 6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_;
    default: return IPPROTO_TCP_;
    }
}

/* Text buffers for one alert's metadata. */
struct alert_text {
    char sig[192], count[24], probes[24], window[24], duration[24];
    char first[32], last[32], responses[160], sample[160], port[8];
};

static size_t fill_meta(const struct portscan *ps, const struct tracker *tr,
                        const struct tally *t, int rule, struct alert_text *x,
                        vigil_meta *meta)
{
    snprintf(x->count, sizeof x->count, "%" PRIu32, t->items);
    snprintf(x->probes, sizeof x->probes, "%" PRIu64, t->probes);
    snprintf(x->window, sizeof x->window, "%" PRId64,
             (rule == 2 ? ps->cfg.slow_window_us : ps->cfg.window_us) / VGP_US_PER_SEC);
    snprintf(x->duration, sizeof x->duration, "%.3f", (double)(t->last_us - t->first_us) / 1e6);
    vgp_format_ts(t->first_us, x->first, sizeof x->first);
    vgp_format_ts(t->last_us, x->last, sizeof x->last);
    snprintf(x->responses, sizeof x->responses,
             "rst=%" PRIu32 ",synack=%" PRIu32 ",icmp_unreachable=%" PRIu32
             ",reply=%" PRIu32 ",none=%" PRIu32,
             t->refused, t->open + t->completed + t->half_open, t->unreach, t->replied,
             t->none + t->young);
    x->sample[0] = '\0';
    /* Sweep items of IPv6 hosts are hashes: nothing printable. */
    if (tr->kind == TK_VERTICAL || tr->target.family != 6)
        format_sample(tr, x->sample, sizeof x->sample);
    size_t n = 0;
    int vertical = tr->kind == TK_VERTICAL;
    meta[n++] = (vigil_meta){ vertical ? "distinct_ports" : "distinct_hosts", x->count };
    meta[n++] = (vigil_meta){ "probes", x->probes };
    meta[n++] = (vigil_meta){ "window_sec", x->window };
    meta[n++] = (vigil_meta){ "duration_sec", x->duration };
    meta[n++] = (vigil_meta){ "first_seen", x->first };
    meta[n++] = (vigil_meta){ "last_seen", x->last };
    meta[n++] = (vigil_meta){ "responses", x->responses };
    meta[n++] = (vigil_meta){ "rule", rule == 2 ? "slow" : "fast" };
    if (x->sample[0])
        meta[n++] = (vigil_meta){ vertical ? "ports_sample" : "hosts_sample", x->sample };
    if (!vertical && tr->klass != PC_ICMP && tr->klass != PC_ARP) {
        snprintf(x->port, sizeof x->port, "%u", (unsigned)tr->port);
        meta[n++] = (vigil_meta){ "port", x->port };
    }
    return n;
}

static void emit(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr,
                 const struct tally *t, int rule)
{
    const struct technique *te = &techniques[technique_of(tr, t)];
    int vertical = tr->kind == TK_VERTICAL;
    const vigil_addr *target = &tr->target;
    struct alert_text x;
    vigil_meta meta[META_MAX];
    size_t nmeta = fill_meta(ps, tr, t, rule, &x, meta);
    format_signature(tr, t, te, x.sig, sizeof x.sig);

    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = te->sid;
    a.rev = 1;
    a.severity = 2;
    a.signature = x.sig;
    a.category = "Attempted Information Leak";
    a.attack_category = vertical ? "port_scan" : "host_sweep";
    a.attack_technique = te->name;
    a.mitre_attack = vertical ? "T1046" : "T1018";
    a.src = tr->owner->addr;
    a.dst = *target;
    a.dport = (!vertical && tr->klass != PC_ICMP && tr->klass != PC_ARP) ? tr->port : 0;
    a.ip_proto = alert_proto(tr, target);
    a.ts_us = ps->now_us;
    a.meta = meta;
    a.meta_count = nmeta;
    ps->host->emit_alert(ctx, &a);
    ps->stats.alerts++;
}

/*
 * Decide about one watched tracker: arm it when a rule holds, alert once
 * the scan settles (settle_sec quiet, or report_delay_sec after arming, or
 * the end), so the alert carries the whole scan rather than its start; and
 * leave the list when nothing more can happen without new packets.
 */
static void evaluate(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr, int final)
{
    set_prune(ps, tr);
    struct tally t = tally_tracker(ps, tr, final);
    int rule = rule_holds(ps, tr, &t);
    if (!rule) {
        tr->armed = 0;
        if (t.young == 0 || final)
            unwatch(ps, tr);
        return;
    }
    int due = !tr->has_alerted || ps->now_us - tr->last_alert_us >= ps->cfg.alert_interval_us;
    if (!due) {
        if (final)
            unwatch(ps, tr);
        return;
    }
    if (!tr->armed) {
        tr->armed = 1;
        tr->armed_us = ps->now_us;
    }
    int quiet = t.young == 0 && ps->now_us - tr->last_probe_us >= ps->cfg.settle_us;
    if (!final && !quiet && ps->now_us - tr->armed_us < ps->cfg.report_delay_us)
        return;
    emit(ps, ctx, tr, &t, rule);
    tr->armed = 0;
    tr->has_alerted = 1;
    tr->last_alert_us = ps->now_us;
    tr->period_started = 0;
    unwatch(ps, tr);
}

/* ---- trackers ------------------------------------------------------------- */

/*
 * The tracker index: one chained hash table for all trackers, so a probe or
 * an answer finds its trackers in constant time however many a source has.
 * Vertical trackers are keyed by target host, sweep trackers by port.
 */
static uint32_t tracker_hash(const struct portscan *ps, const struct source *owner,
                             uint8_t kind, uint8_t klass, uint16_t port, const vigil_addr *host)
{
    uint64_t h = ps->hash_key ^ (uint64_t)(uintptr_t)owner;
    h = vgp_mix64(h ^ ((uint64_t)kind << 24 | (uint64_t)klass << 16 | port));
    if (kind == TK_VERTICAL) {
        uint64_t w0, w1;
        memcpy(&w0, host->bytes, 8);
        memcpy(&w1, host->bytes + 8, 8);
        h = vgp_mix64(h ^ w0 ^ host->family);
        h = vgp_mix64(h ^ w1);
    }
    return (uint32_t)(h >> 32);
}

/* `host` is normalised; sweep trackers ignore it. */
static struct tracker *tracker_find(const struct portscan *ps, const struct source *s,
                                    uint8_t kind, uint8_t klass, uint16_t port,
                                    const vigil_addr *host)
{
    uint32_t h = tracker_hash(ps, s, kind, klass, port, host);
    for (struct tracker *tr = ps->tbuckets[h & ps->tbucket_mask]; tr; tr = tr->hash_next)
        if (tr->hash == h && tr->owner == s && tr->kind == kind && tr->klass == klass &&
            (kind == TK_SWEEP ? tr->port == port : vgp_addr_same(&tr->target, host)))
            return tr;
    return NULL;
}

static void index_insert(struct portscan *ps, struct tracker *tr)
{
    struct tracker **b = &ps->tbuckets[tr->hash & ps->tbucket_mask];
    tr->hash_next = *b;
    *b = tr;
    ps->ntrackers++;
}

static void index_remove(struct portscan *ps, struct tracker *tr)
{
    struct tracker **pp = &ps->tbuckets[tr->hash & ps->tbucket_mask];
    while (*pp != tr)
        pp = &(*pp)->hash_next;
    *pp = tr->hash_next;
    ps->ntrackers--;
}

static int ensure_memory(struct portscan *ps, vigil_ctx *ctx, size_t need,
                         const struct source *pinned);

/* Double the index when more than half full (short chains); optional. */
static void index_grow(struct portscan *ps, vigil_ctx *ctx, const struct source *pinned)
{
    uint32_t n = ps->tbucket_mask + 1;
    if (ps->ntrackers <= n / 2 || n >= (1u << 30))
        return;
    size_t bytes = (size_t)n * 2 * sizeof *ps->tbuckets;
    if (!ensure_memory(ps, ctx, bytes, pinned))
        return;
    struct tracker **fresh = ps_alloc(ps, bytes);
    if (fresh == NULL)
        return;
    uint32_t mask = n * 2 - 1;
    for (uint32_t i = 0; i < n; i++) {
        for (struct tracker *tr = ps->tbuckets[i], *next; tr; tr = next) {
            next = tr->hash_next;
            tr->hash_next = fresh[tr->hash & mask];
            fresh[tr->hash & mask] = tr;
        }
    }
    ps_free(ps, ps->tbuckets, (size_t)n * sizeof *ps->tbuckets);
    ps->tbuckets = fresh;
    ps->tbucket_mask = mask;
}

static void tracker_free(struct portscan *ps, struct tracker *tr)
{
    unwatch(ps, tr);
    index_remove(ps, tr);
    set_release(ps, tr);
    ps_free(ps, tr, sizeof *tr);
}

/* A tracker leaving: report what it holds, then free it. */
static void tracker_retire(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr)
{
    if (tr->watched)
        evaluate(ps, ctx, tr, 1);
    tracker_free(ps, tr);
}

/* Make room in a full source: the tracker probed least recently goes. */
static void evict_oldest_tracker(struct portscan *ps, vigil_ctx *ctx, struct source *s)
{
    uint32_t oldest = 0;
    for (uint32_t i = 1; i < s->ntrackers; i++)
        if (s->trackers[i]->last_probe_us < s->trackers[oldest]->last_probe_us)
            oldest = i;
    struct tracker *victim = s->trackers[oldest];
    memmove(&s->trackers[oldest], &s->trackers[oldest + 1],
            (s->ntrackers - oldest - 1) * sizeof *s->trackers);
    s->ntrackers--;
    for (uint32_t i = oldest; i < s->ntrackers; i++)
        s->trackers[i]->slot = (uint16_t)i;
    ps->stats.trackers_evicted++;
    tracker_retire(ps, ctx, victim);
}

#define INITIAL_TRACKERS 2u      /* a vertical and a sweep tracker */
#define TRACKER_BUCKETS 1024u    /* first size of the tracker index */

/* Room for one more tracker pointer in a source. */
static int grow_trackers(struct portscan *ps, vigil_ctx *ctx, struct source *s)
{
    if (s->ntrackers < s->cap_trackers)
        return 1;
    uint32_t cap = s->cap_trackers ? s->cap_trackers * 2 : INITIAL_TRACKERS;
    size_t bytes = (size_t)cap * sizeof *s->trackers;
    if (!ensure_memory(ps, ctx, bytes, s))
        return 0;
    struct tracker **grown = ps_alloc(ps, bytes);
    if (grown == NULL)
        return 0;
    if (s->ntrackers)
        memcpy(grown, s->trackers, (size_t)s->ntrackers * sizeof *grown);
    ps_free(ps, s->trackers, (size_t)s->cap_trackers * sizeof *s->trackers);
    s->trackers = grown;
    s->cap_trackers = cap;
    return 1;
}

/* A new tracker, known to be absent; `host` is normalised. */
static struct tracker *tracker_create(struct portscan *ps, vigil_ctx *ctx, struct source *s,
                                      uint8_t kind, uint8_t klass, uint16_t port,
                                      const vigil_addr *host)
{
    struct tracker *tr;
    if (s->ntrackers >= (uint32_t)ps->cfg.max_trackers_per_source)
        evict_oldest_tracker(ps, ctx, s);
    if (!ensure_memory(ps, ctx, sizeof *tr, s) || !grow_trackers(ps, ctx, s))
        return NULL;
    tr = ps_alloc(ps, sizeof *tr);
    if (tr == NULL)
        return NULL;
    tr->kind = kind;
    tr->klass = klass;
    tr->port = port;
    if (kind == TK_VERTICAL) {
        tr->target = *host;
        s->vclasses |= (uint16_t)(1u << klass);
    }
    tr->owner = s;
    tr->hash = tracker_hash(ps, s, kind, klass, port, host);
    tr->slot = (uint16_t)s->ntrackers;
    s->trackers[s->ntrackers++] = tr;
    index_insert(ps, tr);
    index_grow(ps, ctx, s);
    ps->stats.trackers_created++;
    return tr;
}

/* ---- sources -------------------------------------------------------------- */

static struct source **bucket_of(struct portscan *ps, const vigil_addr *a)
{
    return &ps->buckets[source_hash(ps, a) & ps->bucket_mask];
}

static struct source *source_find(struct portscan *ps, const vigil_addr *a)
{
    vigil_addr n = vgp_addr_norm(a);
    for (struct source *s = *bucket_of(ps, &n); s; s = s->hash_next)
        if (vgp_addr_same(&s->addr, &n))
            return s;
    return NULL;
}

static void lru_unlink(struct portscan *ps, struct source *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        ps->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        ps->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push_head(struct portscan *ps, struct source *s)
{
    s->lru_stamp = ++ps->lru_moves;
    s->lru_next = ps->lru_head;
    if (ps->lru_head)
        ps->lru_head->lru_prev = s;
    else
        ps->lru_tail = s;
    ps->lru_head = s;
}


/* Remove a source, reporting first unless `silent` (plugin shutdown). */
static void source_drop(struct portscan *ps, vigil_ctx *ctx, struct source *s, int silent)
{
    struct source **pp = bucket_of(ps, &s->addr);
    while (*pp != s)
        pp = &(*pp)->hash_next;
    *pp = s->hash_next;
    lru_unlink(ps, s);
    for (uint32_t i = 0; i < s->ntrackers; i++) {
        if (silent)
            tracker_free(ps, s->trackers[i]);
        else
            tracker_retire(ps, ctx, s->trackers[i]);
    }
    ps_free(ps, s->trackers, (size_t)s->cap_trackers * sizeof *s->trackers);
    ps_free(ps, s, sizeof *s);
    ps->nsources--;
}

/* Evict least recently seen sources until `need` more bytes fit. */
static int ensure_memory(struct portscan *ps, vigil_ctx *ctx, size_t need,
                         const struct source *pinned)
{
    while (ps->mem_bytes + need > (size_t)ps->cfg.memcap_bytes) {
        struct source *victim = ps->lru_tail;
        if (victim == pinned)
            victim = victim ? victim->lru_prev : NULL;
        if (victim == NULL) {
            ps->stats.memory_refusals++;
            return 0;
        }
        ps->stats.sources_evicted_memory++;
        source_drop(ps, ctx, victim, 0);
    }
    return 1;
}

static struct source *source_create(struct portscan *ps, vigil_ctx *ctx, const vigil_addr *a)
{
    if (ps->nsources >= (uint32_t)ps->cfg.max_sources && ps->lru_tail) {
        ps->stats.sources_evicted_cap++;
        source_drop(ps, ctx, ps->lru_tail, 0);
    }
    if (!ensure_memory(ps, ctx, sizeof(struct source), NULL))
        return NULL;
    struct source *s = ps_alloc(ps, sizeof *s);
    if (s == NULL)
        return NULL;
    s->ok_since_us = ps->now_us;
    s->addr = vgp_addr_norm(a);
    struct source **b = bucket_of(ps, &s->addr);
    s->hash_next = *b;
    *b = s;
    lru_push_head(ps, s);
    ps->nsources++;
    ps->stats.sources_created++;
    if (ps->nsources > ps->stats.peak_sources)
        ps->stats.peak_sources = ps->nsources;
    return s;
}

/* The source record of a sender, most recently seen from now on. */
static struct source *source_touch(struct portscan *ps, vigil_ctx *ctx, const vigil_addr *a)
{
    struct source *s = source_find(ps, a);
    if (s == NULL)
        s = source_create(ps, ctx, a);
    else if (ps->lru_moves - s->lru_stamp >= ps->nsources / 4) {
        /*
         * Moved to the head unless it moved there lately: then three
         * quarters of the sources are still behind it, and the move
         * (four cache misses) is not worth it.
         */
        lru_unlink(ps, s);
        lru_push_head(ps, s);
    }
    if (s)
        s->last_seen_us = ps->now_us;
    return s;
}

/* Sources quiet for a whole slow window can no longer alert: forget them. */
static void expire_sources(struct portscan *ps, vigil_ctx *ctx)
{
    while (ps->lru_tail && ps->lru_tail->last_seen_us < ps->now_us - ps->cfg.slow_window_us) {
        ps->stats.sources_expired++;
        source_drop(ps, ctx, ps->lru_tail, 0);
    }
}

/* ---- recording outcomes in trackers --------------------------------------- */

/*
 * Room for a new item: grow a logically full set (after pruning) unless the
 * caps say no, then make sure a physical slot is free.
 */
static int make_room(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr)
{
    struct item_set *set = &tr->items;
    if ((set->count + 1) * 2 > set->cap) {
        set_prune(ps, tr);
        if ((set->count + 1) * 2 > set->cap) {
            if (set->count >= (uint32_t)ps->cfg.max_items_per_tracker) {
                ps->stats.item_cap_hits++;
                return 0;
            }
            uint32_t cap = set->cap ? set->cap * 2 : SMALL_CAP;
            size_t bytes = (size_t)slots_for(cap, set->count + 1) * sizeof(struct item);
            if (!ensure_memory(ps, ctx, bytes, tr->owner))
                return 0;
            return set_rebuild(ps, tr, cap, NULL, 1) == 0;
        }
    }
    if (set->count < set->nslots)
        return 1;
    size_t bytes = (size_t)slots_for(set->cap, set->count + 1) * sizeof(struct item);
    if (!ensure_memory(ps, ctx, bytes, tr->owner))
        return 0;
    return set_rebuild(ps, tr, set->cap, NULL, 1) == 0;
}

static uint8_t sweep_group(uint8_t klass)
{
    return klass >= PC_SYN && klass <= PC_FRAG ? PC_TCP_ANY : klass;
}

/* ICMP and ARP probes have no port: their sweeps are per protocol. */
static int portless(uint8_t group)
{
    return group == PC_ICMP || group == PC_ARP;
}

static uint8_t group_slot(uint8_t group)
{
    switch (group) {
    case PC_UDP: return G_UDP;
    case PC_ICMP: return G_ICMP;
    case PC_ARP: return G_ARP;
    default: return G_TCP;
    }
}

/*
 * Another probe of a known item: the first decisive outcome stays, as an
 * answer only ever moves a pending item, or an open one to its end.
 */
static void item_merge(struct item *it, uint8_t outcome)
{
    if (it->outcome == OC_PENDING ||
        (it->outcome == OC_OPEN && (outcome == OC_COMPLETED || outcome == OC_HALF_OPEN)))
        it->outcome = outcome;
}

/*
 * A probe of `key` made at `us`, and what became of it. `target` names the
 * probed host; NULL for successes replayed into a new tracker, which must
 * not choose the host an alert names.
 */
static void tracker_add(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr, uint32_t key,
                        uint8_t outcome, uint16_t probes, int64_t us, const vigil_addr *target)
{
    struct item *it = set_find(&tr->items, key);
    if (it == NULL) {
        if (!make_room(ps, ctx, tr))
            return;
        struct item fresh = { .key = key, .outcome = outcome, .first_us = us, .last_us = us };
        it = set_place(&tr->items, &fresh);
    } else {
        item_merge(it, outcome);
        if (us < it->first_us)
            it->first_us = us;
        it->last_us = max64(it->last_us, us);
    }
    uint32_t n = (uint32_t)it->probes + probes;
    it->probes = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
    /* Failures arrive out of probe order (timeouts come late): keep the earliest. */
    if (target && (!tr->period_started || us < tr->target_us)) {
        tr->period_started = 1;
        tr->target = *target;
        tr->target_us = us;
    }
    tr->last_probe_us = max64(tr->last_probe_us, us);
    watch(ps, tr);
}

/* Age the success counters: ok_cur covers this window, ok_prev the last. */
static void ok_roll(const struct portscan *ps, struct source *s)
{
    int64_t age = ps->now_us - s->ok_since_us;
    if (age < ps->cfg.window_us)
        return;
    for (int g = 0; g < G_COUNT; g++) {
        s->ok_prev[g] = age < 2 * ps->cfg.window_us ? s->ok_cur[g] : 0;
        s->ok_cur[g] = 0;
    }
    s->ok_since_us = ps->now_us;
}

static int recent_matches(const struct tracker *tr, const struct recent *r)
{
    if (tr->kind == TK_VERTICAL)
        return r->klass == tr->klass && r->host == host_key(&tr->target);
    return sweep_group(r->klass) == tr->klass && r->port == tr->port;
}

/*
 * A new tracker learns what its source's successes say about it: the
 * recent ones become items (a connect scan's completed handshakes made
 * before its first failure), the older ones of a sweep's group weigh in
 * its failure ratio (a browser that reached 50 web servers before one
 * failed is not sweeping).
 */
static void seed_tracker(struct portscan *ps, vigil_ctx *ctx, struct tracker *tr)
{
    struct source *s = tr->owner;
    uint32_t seeded = 0;
    for (uint32_t i = 0; i < RECENT_MAX; i++) {
        const struct recent *r = &s->recent[(s->recent_next + i) % RECENT_MAX];
        if (r->klass == PC_NONE || r->us < ps->now_us - ps->cfg.window_us ||
            !recent_matches(tr, r))
            continue;
        uint32_t key = tr->kind == TK_VERTICAL ? r->port : r->host;
        tracker_add(ps, ctx, tr, key, r->outcome, 1, r->us, NULL);
        seeded++;
    }
    if (tr->kind == TK_SWEEP) {
        ok_roll(ps, s);
        uint8_t g = group_slot(tr->klass);
        uint32_t ok = s->ok_cur[g] + s->ok_prev[g];
        tr->ok_before = ok > seeded ? ok - seeded : 0;
        tr->ok_before_us = ps->now_us;
    }
}

/* A tracker of `s`, created on demand; `host` is normalised (vertical). */
static struct tracker *tracker_for(struct portscan *ps, vigil_ctx *ctx, struct source *s,
                                   uint8_t kind, uint8_t klass, uint16_t port,
                                   const vigil_addr *host)
{
    struct tracker *tr = tracker_find(ps, s, kind, klass, port, host);
    if (tr == NULL && (tr = tracker_create(ps, ctx, s, kind, klass, port, host)) != NULL)
        seed_tracker(ps, ctx, tr);
    return tr;
}

/*
 * A probe failed, or leaves the pending ring unanswered: a port of the
 * target and a host of the port, in trackers created as needed.
 */
static void record_failure(struct portscan *ps, vigil_ctx *ctx, const struct pending *p,
                           uint8_t outcome)
{
    struct source *s = source_touch(ps, ctx, &p->src);
    if (s == NULL)
        return;
    if (!portless(p->group)) {
        struct tracker *v = tracker_for(ps, ctx, s, TK_VERTICAL, p->klass, 0, &p->dst);
        if (v)
            tracker_add(ps, ctx, v, p->dport, outcome, p->probes, p->ts_us, &p->dst);
    }
    struct tracker *w = tracker_for(ps, ctx, s, TK_SWEEP, p->group, p->dport, NULL);
    if (w)
        tracker_add(ps, ctx, w, host_key(&p->dst), outcome, p->probes, p->ts_us, &p->dst);
}

/*
 * A probe succeeded: counted and remembered by its source; only trackers
 * that already exist (the source failed lately) get an item.
 */
static void record_success(struct portscan *ps, vigil_ctx *ctx, const struct pending *p,
                           uint8_t outcome)
{
    struct source *s = source_touch(ps, ctx, &p->src);
    if (s == NULL)
        return;
    ok_roll(ps, s);
    uint32_t *ok = &s->ok_cur[group_slot(p->group)];
    if (*ok < UINT32_MAX)
        (*ok)++;
    uint32_t host = host_key(&p->dst);
    s->recent[s->recent_next] = (struct recent){ host, p->dport, p->klass, outcome, p->ts_us };
    s->recent_next = (uint8_t)((s->recent_next + 1) % RECENT_MAX);
    if (s->ntrackers == 0)
        return;
    struct tracker *tr;
    if (!portless(p->group) &&
        (tr = tracker_find(ps, s, TK_VERTICAL, p->klass, 0, &p->dst)) != NULL)
        tracker_add(ps, ctx, tr, p->dport, outcome, p->probes, p->ts_us, &p->dst);
    if ((tr = tracker_find(ps, s, TK_SWEEP, p->group, p->dport, NULL)) != NULL)
        tracker_add(ps, ctx, tr, host, outcome, p->probes, p->ts_us, &p->dst);
}

/* Move an item from one of the outcomes in `from` to `to`. */
static int item_answer(struct portscan *ps, struct tracker *tr, uint32_t key,
                       uint32_t from, uint8_t to)
{
    struct item *it = set_find(&tr->items, key);
    if (it == NULL || !(from & OC_BIT(it->outcome)))
        return 0;
    it->outcome = to;
    watch(ps, tr);
    return 1;
}

/* A tracker an answer concerns, and the key of its item. */
struct answer_hit {
    struct tracker *tr;
    uint32_t key;
};

/* The trackers an answer from `responder` about `port` concerns. */
static size_t answer_hits(const struct portscan *ps, const struct source *s,
                          const vigil_addr *responder, uint8_t group, uint16_t port,
                          struct answer_hit *hits)
{
    size_t n = 0;
    /* Vertical trackers of every probe class of the group the source used. */
    for (uint8_t k = PC_SYN; k <= PC_UDP; k++) {
        if (!(s->vclasses & (1u << k)) || sweep_group(k) != group)
            continue;
        struct tracker *tr = tracker_find(ps, s, TK_VERTICAL, k, 0, responder);
        if (tr)
            hits[n++] = (struct answer_hit){ tr, port };
    }
    struct tracker *tr = tracker_find(ps, s, TK_SWEEP, group, portless(group) ? 0 : port, NULL);
    if (tr)
        hits[n++] = (struct answer_hit){ tr, host_key(responder) };
    /* In creation order, as that decides the order of the watch list. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && hits[j - 1].tr->slot > hits[j].tr->slot; j--) {
            struct answer_hit t = hits[j];
            hits[j] = hits[j - 1];
            hits[j - 1] = t;
        }
    return n;
}

/*
 * A late answer about a probe initiator -> responder:port of protocol
 * `group`, whose pending record already went to the trackers. Returns 1
 * when an item matched.
 */
static int record_answer(struct portscan *ps, const vigil_addr *initiator,
                         const vigil_addr *responder, uint8_t group, uint16_t port,
                         uint32_t from, uint8_t to)
{
    struct source *s = source_find(ps, initiator);
    if (s == NULL || s->ntrackers == 0)
        return 0;
    vigil_addr r = vgp_addr_norm(responder);
    struct answer_hit hits[PC_UDP + 2];
    size_t n = answer_hits(ps, s, &r, group, port, hits);
    int matched = 0;
    for (size_t i = 0; i < n; i++)
        matched |= item_answer(ps, hits[i].tr, hits[i].key, from, to);
    return matched;
}

/* ---- pending probes --------------------------------------------------------- */

#define SEEN_GEN_US (30 * VGP_US_PER_SEC)   /* a generation of the seen filter */

static uint64_t addr_word(const vigil_addr *a, int i)
{
    uint64_t w;
    memcpy(&w, a->bytes + 8 * i, sizeof w);
    return w;
}

static uint64_t rotl64(uint64_t x, int r)
{
    return x << r | x >> (64 - r);
}

/* The probe's direction matters; keyed, so spoofers cannot pick collisions. */
static uint32_t tuple_hash(const struct portscan *ps, uint8_t group, const vigil_addr *src,
                           uint16_t sport, const vigil_addr *dst, uint16_t dport)
{
    uint64_t h = ps->hash_key ^ ((uint64_t)group << 48 | (uint64_t)src->family << 40 |
                                 (uint64_t)sport << 16 | dport);
    h = vgp_mix64(h ^ addr_word(src, 0) ^ rotl64(addr_word(dst, 0), 32));
    if (src->family == 6)
        h = vgp_mix64(h ^ addr_word(src, 1) ^ rotl64(addr_word(dst, 1), 32));
    return (uint32_t)(h >> 32);
}

static int pending_is(const struct pending *p, uint8_t group, const vigil_addr *src,
                      uint16_t sport, const vigil_addr *dst, uint16_t dport)
{
    return p->group == group && p->sport == sport && p->dport == dport &&
           vgp_addr_same(&p->src, src) && vgp_addr_same(&p->dst, dst);
}

/* The pending probe src:sport -> dst:dport (normalised addresses), or NULL. */
static struct pending *pending_find(struct portscan *ps, uint8_t group, const vigil_addr *src,
                                    uint16_t sport, const vigil_addr *dst, uint16_t dport)
{
    struct pending_ring *r = &ps->pend;
    if (r->count == 0)
        return NULL;
    uint32_t h = tuple_hash(ps, group, src, sport, dst, dport);
    for (uint32_t i = h & r->index_mask; r->index[i].pos; i = (i + 1) & r->index_mask) {
        if (r->index[i].hash != h)
            continue;
        struct pending *p = &r->ring[r->index[i].pos - 1];
        if (pending_is(p, group, src, sport, dst, dport))
            return p;
    }
    return NULL;
}

static void index_add(struct pending_ring *r, uint32_t pos)
{
    uint32_t h = r->ring[pos].hash, i = h & r->index_mask;
    while (r->index[i].pos)
        i = (i + 1) & r->index_mask;
    r->index[i] = (struct index_slot){ h, pos + 1 };
}

/* Linear probing without tombstones: later entries of the run shift back. */
static void index_del(struct pending_ring *r, const struct pending *p)
{
    uint32_t m = r->index_mask, i = p->hash & m, pos = (uint32_t)(p - r->ring) + 1;
    while (r->index[i].pos != pos)
        i = (i + 1) & m;
    for (uint32_t j = (i + 1) & m; r->index[j].pos; j = (j + 1) & m) {
        uint32_t home = r->index[j].hash & m;
        /* Move j into the hole at i unless its home lies in (i, j]. */
        if (((j - home) & m) >= ((j - i) & m)) {
            r->index[i] = r->index[j];
            i = j;
        }
    }
    r->index[i] = (struct index_slot){ 0, 0 };
}

/* ---- the seen filter ---- */

/* An address as two words, zero beyond its length (no copy needed). */
static uint64_t addr_half(const vigil_addr *a, int i)
{
    if (a->family == 6)
        return addr_word(a, i);
    uint32_t v4;
    memcpy(&v4, a->bytes, 4);
    return i ? 0 : v4;
}

/* Symmetric in the two endpoints, so both directions meet in one slot. */
static uint32_t seen_slot(const struct portscan *ps, uint8_t group, const vigil_addr *a,
                          uint16_t pa, const vigil_addr *b, uint16_t pb)
{
    uint64_t x = addr_half(a, 0) ^ rotl64(addr_half(a, 1), 17) ^ pa * 0x9E3779B97F4A7C15ULL;
    uint64_t y = addr_half(b, 0) ^ rotl64(addr_half(b, 1), 17) ^ pb * 0x9E3779B97F4A7C15ULL;
    uint64_t h = vgp_mix64((x + y) ^ rotl64(x ^ y, 29) ^ group);
    return (uint32_t)(h >> 24) & ps->seen.mask;
}

static uint32_t seen_slot_of(const struct portscan *ps, const struct pending *p)
{
    return seen_slot(ps, p->group, &p->src, p->sport, &p->dst, p->dport);
}

/* Marked in this generation or the last; a flow still active is carried over. */
static int seen_check(struct portscan *ps, uint32_t slot)
{
    uint8_t *g = &ps->seen.gen_of[slot];
    if (*g == ps->seen.gen)
        return 1;
    if (*g == 0 || *g != ps->seen.prev)
        return 0;
    *g = ps->seen.gen;
    return 1;
}

static void seen_mark(struct portscan *ps, uint32_t slot)
{
    ps->seen.gen_of[slot] = ps->seen.gen;
}

/* A new generation forgets the flows silent during the last two. */
static void seen_rotate(struct portscan *ps)
{
    struct seen_filter *f = &ps->seen;
    if (ps->now_us - f->gen_start_us < SEEN_GEN_US)
        return;
    f->prev = f->gen;
    f->gen = f->gen == UINT8_MAX ? 1 : (uint8_t)(f->gen + 1);
    /* Marks 255 generations old would pass for new ones. */
    for (size_t i = 0; i <= f->mask; i++)
        if (f->gen_of[i] == f->gen)
            f->gen_of[i] = 0;
    f->gen_start_us = ps->now_us;
}

/* ---- the ring ---- */

/* An answer decided the probe. */
static void resolve(struct portscan *ps, vigil_ctx *ctx, struct pending *p, uint8_t outcome)
{
    index_del(&ps->pend, p);
    p->state = PS_DONE;
    if (!portless(p->group))
        seen_mark(ps, seen_slot_of(ps, p));     /* its later packets need nothing */
    if (outcome_is_success(outcome))
        record_success(ps, ctx, p, outcome);
    else
        record_failure(ps, ctx, p, outcome);
}

/*
 * The oldest pending probe leaves. Open (SYN-ACK, no end seen) is a
 * success; so is a stealth probe (FIN, ACK...) whose flow has since
 * carried data, i.e. a live connection met mid-stream. Unanswered, it
 * goes to the trackers as pending: a failure once response_timeout_sec
 * has passed since it was sent, and a late answer still finds it there.
 */
static void pending_retire(struct portscan *ps, vigil_ctx *ctx)
{
    struct pending_ring *r = &ps->pend;
    struct pending *p = &r->ring[r->head];
    if (p->state != PS_DONE) {
        index_del(r, p);
        int live = p->group == PC_TCP_ANY && p->klass != PC_SYN &&
                   seen_check(ps, seen_slot_of(ps, p));
        if (p->state == PS_OPEN || live)
            record_success(ps, ctx, p, live ? OC_REPLIED : OC_OPEN);
        else
            record_failure(ps, ctx, p, OC_PENDING);
    }
    r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
    r->count--;
}

/* Probes unanswered for response_timeout_sec leave the ring. */
static void pending_expire(struct portscan *ps, vigil_ctx *ctx)
{
    struct pending_ring *r = &ps->pend;
    while (r->count && ps->now_us - r->ring[r->head].ts_us >= ps->cfg.response_timeout_us)
        pending_retire(ps, ctx);
}

/*
 * A first packet that tries to reach a service waits for its answer.
 * When the ring is full the oldest probe goes to the trackers early, as
 * if timed out (counted: pending_overflows). A retry of a pending TCP or
 * UDP flow is no new probe; every ICMP or ARP request is one. Returns 0
 * when the packet cannot be a probe (group address, self, ...).
 */
static int probe(struct portscan *ps, vigil_ctx *ctx, uint8_t group, uint8_t klass,
                 const vigil_addr *src, uint16_t sport, const vigil_addr *dst, uint16_t dport)
{
    if (addr_is_group(dst) || addr_is_zero(dst) || addr_is_zero(src) ||
        src->family != dst->family || vgp_addr_eq(src, dst))
        return 0;
    vigil_addr s = vgp_addr_norm(src), d = vgp_addr_norm(dst);
    struct pending *p = pending_find(ps, group, &s, sport, &d, dport);
    if (p) {
        if (!portless(group))
            return 1;
        if (p->probes < UINT16_MAX)
            p->probes++;
        ps->stats.probes++;
        return 1;
    }
    struct pending_ring *r = &ps->pend;
    if (r->count == r->cap) {
        ps->stats.pending_overflows++;
        pending_retire(ps, ctx);
    }
    uint32_t pos = r->head + r->count;
    if (pos >= r->cap)
        pos -= r->cap;
    p = &r->ring[pos];
    *p = (struct pending){ .src = s, .dst = d, .sport = sport, .dport = dport, .group = group,
                           .klass = klass, .state = PS_PENDING, .probes = 1, .ts_us = ps->now_us };
    p->hash = tuple_hash(ps, group, &s, sport, &d, dport);
    index_add(r, pos);
    r->count++;
    ps->stats.probes++;
    return 1;
}

/* The pending probe the packet answers (it goes responder -> prober). */
static struct pending *answered(struct portscan *ps, uint8_t group, const vigil_packet *pkt,
                                uint16_t sport, uint16_t dport)
{
    vigil_addr s = vgp_addr_norm(&pkt->src), d = vgp_addr_norm(&pkt->dst);
    return pending_find(ps, group, &d, dport, &s, sport);
}

/* The pending probe of the packet's flow; *forward: the packet goes its way. */
static struct pending *pending_of(struct portscan *ps, uint8_t group, const vigil_packet *pkt,
                                  int *forward)
{
    vigil_addr s = vgp_addr_norm(&pkt->src), d = vgp_addr_norm(&pkt->dst);
    struct pending *p = pending_find(ps, group, &s, pkt->sport, &d, pkt->dport);
    *forward = p != NULL;
    return p ? p : pending_find(ps, group, &d, pkt->dport, &s, pkt->sport);
}

/* ---- packets ------------------------------------------------------------------ */

/* Is the first TCP segment of a flow a probe, and of which kind? */
static uint8_t classify_tcp(uint8_t flags, uint32_t payload_wire_len)
{
    uint8_t f = flags & (VIGIL_TCP_FIN | VIGIL_TCP_SYN | VIGIL_TCP_RST | VIGIL_TCP_PSH |
                         VIGIL_TCP_ACK | VIGIL_TCP_URG);
    if (f & VIGIL_TCP_RST)
        return PC_NONE;         /* an answer (or backscatter), never a probe */
    if (f & VIGIL_TCP_SYN)
        return (f & VIGIL_TCP_ACK) ? PC_NONE : PC_SYN;
    if (f == VIGIL_TCP_ACK)
        return payload_wire_len == 0 ? PC_ACK : PC_NONE; /* data: midstream */
    if (f & VIGIL_TCP_ACK)
        return PC_NONE;         /* FIN+ACK, PSH+ACK: a flow caught midstream */
    if (f == 0)
        return PC_NULL;
    if (f == VIGIL_TCP_FIN)
        return PC_FIN;
    if (f == (VIGIL_TCP_FIN | VIGIL_TCP_PSH | VIGIL_TCP_URG))
        return PC_XMAS;
    return PC_ODD;
}

static uint32_t packet_seen_slot(const struct portscan *ps, uint8_t group, const vigil_packet *pkt)
{
    return seen_slot(ps, group, &pkt->src, pkt->sport, &pkt->dst, pkt->dport);
}

/* A reset: a refusal from the target, or a raw scanner dropping a SYN-ACK. */
static void tcp_reset(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    int forward;
    struct pending *p = pending_of(ps, PC_TCP_ANY, pkt, &forward);
    if (p) {
        if (!forward && p->state == PS_PENDING)
            resolve(ps, ctx, p, OC_REFUSED);
        else if (forward && p->state == PS_OPEN)
            resolve(ps, ctx, p, OC_HALF_OPEN);
        return;
    }
    record_answer(ps, &pkt->dst, &pkt->src, PC_TCP_ANY, pkt->sport, OC_BIT(OC_PENDING), OC_REFUSED);
    record_answer(ps, &pkt->src, &pkt->dst, PC_TCP_ANY, pkt->dport, OC_BIT(OC_OPEN), OC_HALF_OPEN);
    seen_mark(ps, packet_seen_slot(ps, PC_TCP_ANY, pkt));
}

static void tcp_synack(struct portscan *ps, const vigil_packet *pkt)
{
    struct pending *p = answered(ps, PC_TCP_ANY, pkt, pkt->sport, pkt->dport);
    if (p) {
        if (p->klass == PC_SYN && p->state == PS_PENDING)
            p->state = PS_OPEN;         /* decided by what the prober does next */
        return;
    }
    uint32_t slot = packet_seen_slot(ps, PC_TCP_ANY, pkt);
    if (seen_check(ps, slot))
        return;
    record_answer(ps, &pkt->dst, &pkt->src, PC_TCP_ANY, pkt->sport, OC_BIT(OC_PENDING), OC_OPEN);
    seen_mark(ps, slot);                /* the initiator's ACK is no ACK probe */
}

/* A segment without SYN or RST on a flow with a pending probe. */
static void tcp_on_pending(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt,
                           struct pending *p, int forward)
{
    if (p->klass == PC_SYN) {
        /* The prober acknowledges: the handshake is complete, connect(). */
        if (forward && (pkt->tcp_flags & VIGIL_TCP_ACK))
            resolve(ps, ctx, p, OC_COMPLETED);
        return;
    }
    /* A stealth probe answered by anything but a reset: a live connection. */
    if (!forward)
        resolve(ps, ctx, p, OC_REPLIED);
}

static void handle_tcp(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    uint8_t f = pkt->tcp_flags;
    if (f & VIGIL_TCP_RST) {
        tcp_reset(ps, ctx, pkt);
        return;
    }
    if (f & VIGIL_TCP_SYN) {
        if (f & VIGIL_TCP_ACK)
            tcp_synack(ps, pkt);
        else
            probe(ps, ctx, PC_TCP_ANY, PC_SYN, &pkt->src, pkt->sport, &pkt->dst, pkt->dport);
        return;
    }
    uint32_t slot = packet_seen_slot(ps, PC_TCP_ANY, pkt);
    uint8_t klass = classify_tcp(f, pkt->payload_wire_len);
    if (klass == PC_NONE) {
        /* Data or FIN+ACK: never a probe. A plain store, no lookup: later bare ACKs are no probes. */
        seen_mark(ps, slot);
        return;
    }
    if (seen_check(ps, slot))
        return;                         /* a bare ACK of an established flow */
    int forward;
    struct pending *p = pending_of(ps, PC_TCP_ANY, pkt, &forward);
    if (p)
        tcp_on_pending(ps, ctx, pkt, p, forward);
    else if (!probe(ps, ctx, PC_TCP_ANY, klass, &pkt->src, pkt->sport, &pkt->dst, pkt->dport))
        seen_mark(ps, slot);
}

static void handle_udp(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    uint32_t slot = packet_seen_slot(ps, PC_UDP, pkt);
    if (seen_check(ps, slot))
        return;
    int forward;
    struct pending *p = pending_of(ps, PC_UDP, pkt, &forward);
    if (p) {
        if (!forward && p->state == PS_PENDING)
            resolve(ps, ctx, p, OC_REPLIED);
        return;
    }
    if (record_answer(ps, &pkt->dst, &pkt->src, PC_UDP, pkt->sport, OC_BIT(OC_PENDING),
                      OC_REPLIED) ||
        !probe(ps, ctx, PC_UDP, PC_UDP, &pkt->src, pkt->sport, &pkt->dst, pkt->dport))
        seen_mark(ps, slot);
}

/* The probe an ICMP error quotes. */
struct quoted {
    vigil_addr src, dst;
    uint8_t proto;
    uint16_t sport, dport;
};

static int parse_quoted_v4(const uint8_t *p, size_t len, struct quoted *q)
{
    if (len < 20 || (p[0] >> 4) != 4)
        return 0;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    if (ihl < 20 || ihl > len)
        return 0;
    q->proto = p[9];
    q->src.family = q->dst.family = 4;
    memcpy(q->src.bytes, p + 12, 4);
    memcpy(q->dst.bytes, p + 16, 4);
    if (len >= ihl + 4) {
        q->sport = (uint16_t)(p[ihl] << 8 | p[ihl + 1]);
        q->dport = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
    }
    return 1;
}

static int parse_quoted_v6(const uint8_t *p, size_t len, struct quoted *q)
{
    if (len < 40 || (p[0] >> 4) != 6)
        return 0;
    q->proto = p[6];            /* extension headers are not followed */
    q->src.family = q->dst.family = 6;
    memcpy(q->src.bytes, p + 8, 16);
    memcpy(q->dst.bytes, p + 24, 16);
    if (len >= 44) {
        q->sport = (uint16_t)(p[40] << 8 | p[41]);
        q->dport = (uint16_t)(p[42] << 8 | p[43]);
    }
    return 1;
}

/*
 * Find the quoted header from l3_hdr: the ICMP header starts right after
 * the outer IP header (IPv6: only without extension headers).
 */
static int parse_quoted(const vigil_packet *pkt, struct quoted *q)
{
    const uint8_t *l3 = pkt->l3_hdr;
    size_t len = pkt->l3_len;
    memset(q, 0, sizeof *q);
    if (l3 == NULL)
        return 0;
    if (pkt->l3 == VIGIL_L3_IPV4) {
        if (len < 20)
            return 0;
        size_t ihl = (size_t)(l3[0] & 15) * 4;
        if (ihl < 20 || ihl + 8 > len)
            return 0;
        return parse_quoted_v4(l3 + ihl + 8, len - ihl - 8, q);
    }
    if (len < 48 || l3[6] != IPPROTO_ICMPV6_)
        return 0;
    return parse_quoted_v6(l3 + 48, len - 48, q);
}


/* An ICMP error about one of our probes: unreachable or expired in transit. */
static void handle_icmp_error(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt,
                              uint8_t to)
{
    struct quoted q;
    if (!parse_quoted(pkt, &q) || !vgp_addr_eq(&q.src, &pkt->dst))
        return;
    uint8_t group;
    if (q.proto == IPPROTO_TCP_)
        group = PC_TCP_ANY;
    else if (q.proto == IPPROTO_UDP_)
        group = PC_UDP;
    else if (q.proto == IPPROTO_ICMP_ || q.proto == IPPROTO_ICMPV6_) {
        group = PC_ICMP;
        q.sport = q.dport = 0;
    } else
        return;
    vigil_addr s = vgp_addr_norm(&q.src), d = vgp_addr_norm(&q.dst);
    struct pending *p = pending_find(ps, group, &s, q.sport, &d, q.dport);
    if (p == NULL)
        record_answer(ps, &q.src, &q.dst, group, q.dport, OC_BIT(OC_PENDING), to);
    else if (p->state == PS_PENDING)
        resolve(ps, ctx, p, to);
}

enum icmp_role { ICMP_OTHER, ICMP_PROBE, ICMP_REPLY, ICMP_UNREACH, ICMP_EXPIRED };

static enum icmp_role icmp_role(int v6, uint8_t type)
{
    if (v6) {
        switch (type) {
        case 128: return ICMP_PROBE;
        case 129: return ICMP_REPLY;
        case 1: return ICMP_UNREACH;
        case 3: return ICMP_EXPIRED;
        default: return ICMP_OTHER;
        }
    }
    switch (type) {
    case 8: case 13: case 17: return ICMP_PROBE;     /* echo, timestamp, mask */
    case 0: case 14: case 18: return ICMP_REPLY;
    case 3: return ICMP_UNREACH;
    case 11: return ICMP_EXPIRED;
    default: return ICMP_OTHER;
    }
}

/* A reply (ICMP echo, ARP) from pkt->src to the prober pkt->dst. */
static void portless_reply(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt,
                           uint8_t group)
{
    struct pending *p = answered(ps, group, pkt, 0, 0);
    if (p == NULL)
        record_answer(ps, &pkt->dst, &pkt->src, group, 0, OC_BIT(OC_PENDING), OC_REPLIED);
    else if (p->state == PS_PENDING)
        resolve(ps, ctx, p, OC_REPLIED);
}

static void handle_icmp(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    switch (icmp_role(pkt->ip_proto == IPPROTO_ICMPV6_, pkt->icmp_type)) {
    case ICMP_PROBE:
        probe(ps, ctx, PC_ICMP, PC_ICMP, &pkt->src, 0, &pkt->dst, 0);
        break;
    case ICMP_REPLY:
        portless_reply(ps, ctx, pkt, PC_ICMP);
        break;
    case ICMP_UNREACH:
        handle_icmp_error(ps, ctx, pkt, OC_UNREACH);
        break;
    case ICMP_EXPIRED:
        handle_icmp_error(ps, ctx, pkt, OC_TRANSIT);
        break;
    default:
        break;
    }
}

/*
 * A first fragment too short for the TCP header (nmap -f): the ports are
 * there, the flags may not be. Other fragments carry nothing for us.
 */
static void handle_fragment(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    if (pkt->l3 != VIGIL_L3_IPV4 || pkt->ip_proto != IPPROTO_TCP_ ||
        !(pkt->flags & VIGIL_PKT_FRAG_FIRST) || pkt->l3_hdr == NULL || pkt->l3_len < 20)
        return;
    const uint8_t *l3 = pkt->l3_hdr;
    size_t ihl = (size_t)(l3[0] & 15) * 4;
    if (ihl < 20 || ihl + 4 > pkt->l3_len)
        return;
    const uint8_t *l4 = l3 + ihl;
    size_t l4_len = pkt->l3_len - ihl;
    uint16_t sport = (uint16_t)(l4[0] << 8 | l4[1]), dport = (uint16_t)(l4[2] << 8 | l4[3]);
    uint8_t klass = l4_len >= 14 ? classify_tcp(l4[13], 0) : PC_FRAG;
    if (klass != PC_NONE)
        probe(ps, ctx, PC_TCP_ANY, klass, &pkt->src, sport, &pkt->dst, dport);
}

static void handle_arp(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    if (pkt->src.family != 4 || pkt->dst.family != 4)
        return;
    if (pkt->arp_op == 1)
        probe(ps, ctx, PC_ARP, PC_ARP, &pkt->src, 0, &pkt->dst, 0);
    else if (pkt->arp_op == 2)
        portless_reply(ps, ctx, pkt, PC_ARP);
}

static void handle_ip(struct portscan *ps, vigil_ctx *ctx, const vigil_packet *pkt)
{
    if ((pkt->flags & VIGIL_PKT_FRAGMENT) && !(pkt->flags & VIGIL_PKT_HAS_L4)) {
        handle_fragment(ps, ctx, pkt);
        return;
    }
    if (!(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    switch (pkt->ip_proto) {
    case IPPROTO_TCP_: handle_tcp(ps, ctx, pkt); break;
    case IPPROTO_UDP_: handle_udp(ps, ctx, pkt); break;
    case IPPROTO_ICMP_:
    case IPPROTO_ICMPV6_: handle_icmp(ps, ctx, pkt); break;
    default: break;
    }
}

/* ---- callbacks ---------------------------------------------------------------- */

static void advance_clock(struct portscan *ps, int64_t ts_us)
{
    if (ts_us > ps->now_us)
        ps->now_us = ts_us;
}

static void ps_on_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct portscan *ps = state;
    if (!VGP_HAS_MEMBER(pkt, vigil_packet, arp_tha))
        return;
    advance_clock(ps, pkt->ts_us);
    if (pkt->l3 == VIGIL_L3_ARP)
        handle_arp(ps, ctx, pkt);
    else if (pkt->l3 == VIGIL_L3_IPV4 || pkt->l3 == VIGIL_L3_IPV6)
        handle_ip(ps, ctx, pkt);
}

static void run_watch_list(struct portscan *ps, vigil_ctx *ctx, int final)
{
    struct tracker *tr = ps->watch_head, *next;
    for (; tr; tr = next) {
        next = tr->watch_next;
        evaluate(ps, ctx, tr, final);
    }
}

static void ps_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct portscan *ps = state;
    advance_clock(ps, now_us);
    seen_rotate(ps);
    pending_expire(ps, ctx);
    expire_sources(ps, ctx);
    run_watch_list(ps, ctx, 0);
}

static void ps_on_finish(void *state, vigil_ctx *ctx)
{
    struct portscan *ps = state;
    while (ps->pend.count)
        pending_retire(ps, ctx);        /* no answer can come any more */
    run_watch_list(ps, ctx, 1);
    const struct counters *c = &ps->stats;
    ps->host->log(ctx, VIGIL_LOG_INFO,
                  "probes=%" PRIu64 " alerts=%" PRIu64 " sources_tracked=%" PRIu32
                  " sources_peak=%" PRIu32 " sources_created=%" PRIu64
                  " sources_evicted_cap=%" PRIu64 " sources_evicted_memory=%" PRIu64
                  " sources_expired=%" PRIu64 " trackers_created=%" PRIu64
                  " trackers_evicted=%" PRIu64 " item_cap_hits=%" PRIu64
                  " memory_refusals=%" PRIu64 " pending_overflows=%" PRIu64
                  " memory_bytes=%zu",
                  c->probes, c->alerts, ps->nsources, c->peak_sources, c->sources_created,
                  c->sources_evicted_cap, c->sources_evicted_memory, c->sources_expired,
                  c->trackers_created, c->trackers_evicted, c->item_cap_hits,
                  c->memory_refusals, c->pending_overflows, ps->mem_bytes);
}

static int host_usable(const vigil_host_api *host)
{
    return host && host->abi_major == VIGIL_ABI_MAJOR &&
           VGP_HAS_MEMBER(host, vigil_host_api, config_int) && host->log && host->emit_alert &&
           host->config_int;
}

static int read_config(vigil_ctx *ctx, const vigil_host_api *host, struct ps_config *cfg)
{
    if (vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], cfg) != VIGIL_OK)
        return VIGIL_EINVAL;
    if (cfg->slow_window_us < cfg->window_us)
        cfg->slow_window_us = cfg->window_us;
    return VIGIL_OK;
}


/*
 * The fixed-size parts, allocated once outside memcap_mb: the source
 * hash table, the pending ring and its index, the seen filter.
 */
static int allocate_tables(struct portscan *ps)
{
    uint32_t nb = vgp_pow2_at_least((uint64_t)ps->cfg.max_sources, 1u << 24);
    ps->buckets = calloc(nb, sizeof *ps->buckets);
    ps->bucket_mask = nb - 1;
    struct pending_ring *r = &ps->pend;
    r->cap = (uint32_t)ps->cfg.pending_max;
    r->ring = calloc(r->cap, sizeof *r->ring);
    uint32_t ni = vgp_pow2_at_least((uint64_t)r->cap * 2, 1u << 30);
    r->index = calloc(ni, sizeof *r->index);
    r->index_mask = ni - 1;
    /* About 1.5% of the slots in use per pending_max flows a generation. */
    uint32_t ns = vgp_pow2_at_least((uint64_t)r->cap * 64, 1u << 28);
    ps->seen.gen_of = calloc(ns, 1);
    ps->seen.mask = ns - 1;
    ps->seen.gen = 1;
    ps->tbuckets = ps_alloc(ps, TRACKER_BUCKETS * sizeof *ps->tbuckets);
    ps->tbucket_mask = TRACKER_BUCKETS - 1;
    return ps->buckets && r->ring && r->index && ps->seen.gen_of && ps->tbuckets;
}

static void ps_fini(void *state);

static int ps_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    if (!host_usable(host))
        return VIGIL_EINVAL;
    struct portscan *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return VIGIL_ENOMEM;
    ps->host = host;
    ps->now_us = INT64_MIN / 2;
    ps->seen.gen_start_us = INT64_MIN / 2;
    int rc = read_config(ctx, host, &ps->cfg);
    if (rc != VIGIL_OK) {
        free(ps);
        return rc;
    }
    if (!allocate_tables(ps)) {
        ps_fini(ps);
        return VIGIL_ENOMEM;
    }
    ps->hash_key = vgp_random_key(0x5bd1e9955bd1e995ULL);
    *state = ps;
    return VIGIL_OK;
}

static void ps_fini(void *state)
{
    struct portscan *ps = state;
    if (ps == NULL)
        return;
    while (ps->lru_head)
        source_drop(ps, NULL, ps->lru_head, 1);
    free(ps->tbuckets);
    free(ps->buckets);
    free(ps->pend.ring);
    free(ps->pend.index);
    free(ps->seen.gen_of);
    free(ps);
}

static const vigil_plugin portscan_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "portscan",
    .version = "1.1.0",
    .description = "vertical port scans (SYN/FIN/NULL/XMAS/ACK/connect/UDP) and horizontal host sweeps",
    .init = ps_init,
    .fini = ps_fini,
    .on_packet = ps_on_packet,
    .on_tick = ps_on_tick,
    .on_finish = ps_on_finish,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &portscan_plugin;
}
