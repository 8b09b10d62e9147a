/*
 * main.c - the evasion detector's entry point: configuration, and the
 * dispatch of each packet to the fragment, flag and TCP observers.
 */
#include "evasion.h"
#include "vgp.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct ev_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("history_bytes", 1024, 256, 65536, 1, history_bytes),
    KNOB("memcap_mb", 32, 1, 65536, 1024 * 1024, memcap_bytes),
    KNOB("ttl_delta", 5, 1, 255, 1, ttl_delta),
    KNOB("frag_timeout_sec", 30, 1, 3600, US_PER_SEC, frag_timeout_us),
    KNOB("max_datagrams", 8192, 16, 1 << 22, 1, max_datagrams),
    KNOB("max_fragments", 64, 2, 8192, 1, max_frags),
    KNOB("flags_min_packets", 3, 1, 1000000, 1, flags_min_packets),
    KNOB("settle_sec", 5, 0, 3600, US_PER_SEC, settle_us),
    KNOB("max_delay_sec", 30, 0, 3600, US_PER_SEC, max_delay_us),
    KNOB("alert_interval_sec", 60, 1, 86400, US_PER_SEC, alert_interval_us),
    KNOB("max_reports", 4096, 16, 1 << 20, 1, max_reports),
};

static int read_config(vigil_ctx *ctx, const vigil_host_api *host, struct ev_config *cfg)
{
    if (vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], cfg) != VIGIL_OK)
        return VIGIL_EINVAL;
    if ((cfg->history_bytes & (cfg->history_bytes - 1)) != 0) {
        host->log(ctx, VIGIL_LOG_ERROR, "history_bytes must be a power of two");
        return VIGIL_EINVAL;
    }
    return VIGIL_OK;
}

static void ev_fini(void *state)
{
    struct evasion *ev = state;
    if (ev == NULL)
        return;
    report_free(ev->reports);
    frag_free(ev->frags);
    free(ev);
}

static int ev_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct evasion *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return VIGIL_ENOMEM;
    ev->host = host;
    int rc = read_config(ctx, host, &ev->cfg);
    if (rc != VIGIL_OK) {
        ev_fini(ev);
        return rc;
    }
    ev->reports = report_new(ev->cfg.max_reports);
    ev->frags = frag_new(ev->cfg.max_datagrams);
    if (ev->reports == NULL || ev->frags == NULL) {
        ev_fini(ev);
        return VIGIL_ENOMEM;
    }
    *state = ev;
    return VIGIL_OK;
}

static void ev_packet(void *state, vigil_ctx *ctx, const vigil_packet *p)
{
    struct evasion *ev = state;
    if (p->l3 != VIGIL_L3_IPV4 && p->l3 != VIGIL_L3_IPV6)
        return;
    ev->now_us = p->ts_us;
    if (p->flags & VIGIL_PKT_FRAGMENT)
        frag_observe(ev, ctx, p);
    if (p->ip_proto != 6 || !(p->flags & VIGIL_PKT_HAS_L4))
        return;
    flags_observe(ev, ctx, p);
    /* a first fragment is only part of a segment: its bytes are not the stream's */
    if (!(p->flags & VIGIL_PKT_FRAGMENT))
        tcp_observe(ev, ctx, p);
}

static void ev_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct evasion *ev = state;
    ev->now_us = now_us;
    report_tick(ev, ctx, 0);
}

static void ev_finish(void *state, vigil_ctx *ctx)
{
    struct evasion *ev = state;
    report_tick(ev, ctx, 1);
    const struct ev_stats *s = &ev->stats;
    ev->host->log(ctx, VIGIL_LOG_INFO,
                  "alerts %" PRIu64 ", tcp flows tracked %" PRIu64 " untracked %" PRIu64
                  ", histories refused %" PRIu64 ", datagrams evicted %" PRIu64
                  ", reports evicted %" PRIu64 ", updates dropped %" PRIu64,
                  s->alerts, s->tcp_tracked, s->tcp_untracked, s->tcp_memcap_refusals,
                  s->frag_evicted, s->reports_evicted, s->updates_dropped);
}

static void ev_flow_free(void *state, void *flow_state)
{
    tcp_state_free(state, flow_state);
}

static const vigil_plugin descriptor = {
    VIGIL_PLUGIN_HEADER,
    .name = "evasion",
    .version = "1.0.0",
    .description = "IDS evasion: conflicting TCP overlaps, bad RSTs, urgent data, "
                   "overlapping or tiny IP fragments, invalid TCP flags",
    .init = ev_init,
    .fini = ev_fini,
    .on_packet = ev_packet,
    .on_tick = ev_tick,
    .on_finish = ev_finish,
    .flow_free = ev_flow_free,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &descriptor;
}
