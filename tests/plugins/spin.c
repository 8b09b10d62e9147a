/*
 * spin.c - a test plugin that behaves, until a UDP payload tells it not to.
 *
 * Normally it alerts on every UDP payload starting "MARK" (sid 9999101),
 * keeps a small per-flow state and reports at the end (sid 9999104, from
 * on_finish). A UDP payload starting with one of these words makes its
 * on_packet run for [spin] spin_ms (default 2000) of wall time:
 *   SPINLOOP   a busy loop in its own code;
 *   SPINALERT  a loop of host services: flow_state, set_flow_state, log
 *              (when -v) and emit_alert (sid 9999102, repeated: the alert
 *              filter deduplicates it);
 *   SPINSLEEP  a loop of nanosleep: blocked in the kernel, never in its
 *              own code for long;
 * and then alerts "spin completed" (sid 9999103), which only a run without
 * a watchdog (or with a budget above spin_ms) ever shows.
 *   SPINFREE   marks the packet's flow: its flow_free spins (in its own
 *              code) when the flow leaves the table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/plugin.h"

#define SPIN_ON_FREE 0x5350494eL       /* a flow state that spins when freed */

struct spin_state {
    const vigil_host_api *host;
    int64_t spin_ms;
    long flows_live;
    unsigned long marks;
};

static int spin_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct spin_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return VIGIL_ENOMEM;
    s->host = host;
    if (host->config_int(ctx, "spin_ms", 2000, 1, 600000, &s->spin_ms) != VIGIL_OK) {
        free(s);
        return VIGIL_EINVAL;
    }
    *state = s;
    return VIGIL_OK;
}

static void spin_fini(void *state)
{
    free(state);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void alert(struct spin_state *s, vigil_ctx *ctx, const vigil_packet *pkt,
                  uint32_t sid, const char *msg)
{
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.signature_id = sid;
    a.severity = 3;
    a.signature = msg;
    a.category = "Test";
    a.attack_category = "test";
    if (pkt != NULL) {
        a.src = pkt->src;
        a.dst = pkt->dst;
        a.sport = pkt->sport;
        a.dport = pkt->dport;
        a.ip_proto = pkt->ip_proto;
    }
    s->host->emit_alert(ctx, &a);
}

static int starts(const vigil_packet *pkt, const char *word)
{
    size_t n = strlen(word);
    return pkt->payload_len >= n && memcmp(pkt->payload, word, n) == 0;
}

/* Own code only: the compiler may not drop the loop (volatile). */
static void spin_loop(int64_t until_ms)
{
    volatile unsigned long x = 0;
    while (mono_ms() < until_ms)
        for (unsigned long i = 0; i < 1000000; i++)
            x += i;
}

static void spin_services(struct spin_state *s, vigil_ctx *ctx, const vigil_packet *pkt,
                          int64_t until_ms)
{
    while (mono_ms() < until_ms) {
        long *fresh = calloc(1, sizeof *fresh);
        if (fresh == NULL || s->host->set_flow_state(ctx, fresh) != VIGIL_OK)
            free(fresh);
        (void)s->host->flow_state(ctx);
        s->host->log(ctx, VIGIL_LOG_DEBUG, "spinning in host services");
        alert(s, ctx, pkt, 9999102, "TEST spin alert loop");
    }
}

static void spin_sleep(int64_t until_ms)
{
    while (mono_ms() < until_ms) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void spin_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct spin_state *s = state;
    if (pkt->ip_proto != 17 || !(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    long *mark = s->host->flow_state(ctx);
    if (mark == NULL) {
        mark = calloc(1, sizeof *mark);
        if (mark && s->host->set_flow_state(ctx, mark) == VIGIL_OK) {
            s->flows_live++;
        } else {
            free(mark);
            mark = NULL;
        }
    }
    if (starts(pkt, "SPINFREE")) {
        if (mark)
            *mark = SPIN_ON_FREE;
        return;
    }
    if (starts(pkt, "MARK")) {
        s->marks++;
        alert(s, ctx, pkt, 9999101, "TEST spin marker");
        return;
    }
    int64_t until = mono_ms() + s->spin_ms;
    if (starts(pkt, "SPINLOOP"))
        spin_loop(until);
    else if (starts(pkt, "SPINALERT"))
        spin_services(s, ctx, pkt, until);
    else if (starts(pkt, "SPINSLEEP"))
        spin_sleep(until);

    else
        return;
    alert(s, ctx, pkt, 9999103, "TEST spin completed");
}

static void spin_finish(void *state, vigil_ctx *ctx)
{
    struct spin_state *s = state;
    alert(s, ctx, NULL, 9999104, "TEST spin finished");
}

static void spin_flow_free(void *state, void *flow_state)
{
    struct spin_state *s = state;
    long *mark = flow_state;
    if (*mark == SPIN_ON_FREE)
        spin_loop(mono_ms() + s->spin_ms);
    s->flows_live--;
    free(flow_state);
}

static const vigil_plugin spin_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "spin",
    .version = "1.0",
    .description = "test plugin: spins on a trigger packet (watchdog tests)",
    .init = spin_init,
    .fini = spin_fini,
    .on_packet = spin_packet,
    .on_finish = spin_finish,
    .flow_free = spin_flow_free,
};

const vigil_plugin *vigil_plugin_entry(void)
{
    return &spin_plugin;
}
