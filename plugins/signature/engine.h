/* engine.h - rule set building and dispatch (engine.c), used by main.c. */
#ifndef VIGIL_SIG_ENGINE_H
#define VIGIL_SIG_ENGINE_H

#include <hs/hs.h>

#include "sig.h"
#include "vigil/plugin.h"

void sig_rule_release(struct sig_rule *r);

/* Buffer groups: one Hyperscan database each. */
enum {
    G_TCP_PKT = 0,      /* tcp-pkt (and flow:no_stream) rules: every TCP segment */
    G_TCP_FALLBACK,     /* tcp and ip payload rules on segments of unreassembled flows */
    G_STREAM,           /* tcp, tcp-stream and ip payload rules on reassembled data */
    G_UDP,
    G_ICMP,
    G_OTHER,
    G_COUNT
};

struct sig_group {
    uint32_t *fast;             /* rule indexes, by Hyperscan id */
    size_t nfast;
    uint32_t *always;           /* payload rules without a prefilter pattern */
    size_t nalways;
    uint32_t *nop;              /* rules without payload items (packet groups) */
    size_t nnop;
    hs_database_t *db;
    size_t db_bytes;
};

struct skip_count {
    char keyword[64];
    unsigned count;
};

struct th_entry;

struct sig_engine {
    const vigil_host_api *host;
    struct sig_rule *rules;
    size_t nrules;
    struct sig_classes classes;
    struct sig_group g[G_COUNT];
    hs_scratch_t *scratch;
    size_t pcre_bytes;
    char **flowbit_names;
    size_t nflowbits;
    int need_flow;              /* some packet rule needs per-flow state */
    int midstream;              /* match tcp rules on segments of unreassembled flows */
    uint32_t stream_context;    /* tail bytes kept per stream direction */
    int64_t max_trackers;

    /* per-event scratch */
    uint32_t *cand;
    size_t ncand, cand_cap;
    uint32_t *merged;
    uint32_t *hits;
    uint8_t *sbuf;
    size_t sbuf_cap;

    /* threshold tracking (by_src, by_dst, by_rule) */
    struct th_entry **th_buckets;
    size_t th_nbuckets, th_count;
    int64_t last_expire_us;

    /* counters */
    uint64_t packets, stream_chunks, stream_bytes, evaluated, matched, alerts;
    uint64_t suppressed, passed, th_full;
    struct skip_count *skips;
    size_t nskips;
    unsigned nskipped, nerrors;
};

/* Build the databases once the rules are in e->rules. -1 after logging. */
int sig_engine_build(struct sig_engine *e, vigil_ctx *ctx);
void sig_engine_free(struct sig_engine *e);

void sig_engine_packet(struct sig_engine *e, vigil_ctx *ctx, const vigil_packet *p);
void sig_engine_stream(struct sig_engine *e, vigil_ctx *ctx, const vigil_stream *st);
void sig_engine_tick(struct sig_engine *e, int64_t now_us);
void sig_engine_flow_free(struct sig_engine *e, void *fs);

/* The classtype -> attack_category table (docs/detectors/signature.md). */
const char *sig_attack_category(const char *classtype);

#endif
