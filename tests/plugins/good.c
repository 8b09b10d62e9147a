/* good.c - a well-formed test plugin: alerts on TCP packets to port 31337
 * and counts the per-flow state values it allocates and frees. */
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"

struct good_state {
    const vigil_host_api *host;
    int64_t threshold;
    long flows_live;
};

static int good_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct good_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return VIGIL_ENOMEM;
    s->host = host;
    static const vigil_addr any = { 4, { 0 } };
    if (host->config_int(ctx, "threshold", 1, 1, 100, &s->threshold) != VIGIL_OK ||
        host->config_addr_match(ctx, "watch", &any) == VIGIL_EINVAL) {
        free(s);
        return VIGIL_EINVAL;
    }
    *state = s;
    return VIGIL_OK;
}

static void good_fini(void *state)
{
    free(state);
}

static void good_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct good_state *s = state;
    if (s->host->flow_state(ctx) == NULL) {
        long *mark = malloc(sizeof *mark);
        if (mark && s->host->set_flow_state(ctx, mark) == VIGIL_OK)
            s->flows_live++;
        else
            free(mark);
    }
    if (pkt->ip_proto != 6 || pkt->dport != 31337)
        return;
    int home = s->host->in_home_net(ctx, &pkt->src);
    int watched = s->host->config_addr_match(ctx, "watch", &pkt->src);
    vigil_meta meta[] = { { "evidence", "port 31337" }, { "evidence", "test" },
                          { "home", home ? "yes" : "no" },
                          { "watched", watched == 1 ? "yes" : watched == 0 ? "no" : "unset" } };
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.signature_id = 9999001;
    a.severity = 2;
    a.signature = "TEST packet to port 31337";
    a.category = "Test";
    a.attack_category = "test";
    a.mitre_attack = "T0000";
    a.src = pkt->src;
    a.dst = pkt->dst;
    a.sport = pkt->sport;
    a.dport = pkt->dport;
    a.ip_proto = pkt->ip_proto;
    a.meta = meta;
    a.meta_count = 4;
    s->host->emit_alert(ctx, &a);
}

static void good_flow_free(void *state, void *flow_state)
{
    struct good_state *s = state;
    s->flows_live--;
    free(flow_state);
}

static const vigil_plugin good_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "good",
    .version = "1.0",
    .description = "test plugin: alerts on TCP port 31337",
    .init = good_init,
    .fini = good_fini,
    .on_packet = good_packet,
    .flow_free = good_flow_free,
};

const vigil_plugin *vigil_plugin_entry(void)
{
    return &good_plugin;
}
