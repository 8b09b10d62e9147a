/*
 * oot_example.c - a detector built outside the source tree, against the
 * installed header only:  cc $(pkg-config --cflags vigil) -shared -fPIC ...
 * It alerts once per TCP handshake it sees to port 80.
 */
#include <string.h>

#include <vigil/plugin.h>

static int oot_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    (void)ctx;
    *state = (void *)host;
    return VIGIL_OK;
}

static void oot_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    const vigil_host_api *host = state;
    if (pkt->ip_proto != 6 || pkt->dport != 80 || pkt->tcp_flags != VIGIL_TCP_SYN)
        return;
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.signature_id = 9900001;
    a.signature = "EXAMPLE connection to port 80";
    a.category = "Not Suspicious Traffic";
    a.attack_category = "example";
    a.severity = 4;
    a.src = pkt->src;
    a.dst = pkt->dst;
    a.sport = pkt->sport;
    a.dport = pkt->dport;
    a.ip_proto = 6;
    host->emit_alert(ctx, &a);
}

static const vigil_plugin oot_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "oot_example",
    .version = "1.0",
    .description = "example: one alert per TCP SYN to port 80",
    .init = oot_init,
    .on_packet = oot_packet,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &oot_plugin;
}
