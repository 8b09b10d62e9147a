/* engine.c - the packet path and its bookkeeping. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addrset.h"
#include "alert_filter.h"
#include "community_id.h"
#include "config.h"
#include "decode.h"
#include "engine.h"
#include "eve.h"
#include "output.h"
#include "flow.h"
#include "log.h"
#include "plugin_host.h"
#include "reasm.h"
#include "stats.h"
#include "watchdog.h"

#define CORE_SECTION "vigil"
#define VIGIL_MAX_OUTPUTS 8
#define US_PER_SEC 1000000
#define WATCHDOG_SID 9000001        /* the sensor's own alerts: 9000001-9000099 */
#define WATCHDOG_DUMP_NAME "watchdog.pcap"
#define WATCHDOG_BUDGET_DEFAULT_MS 1000

/* [vigil] plugin_budget_ms, plugin_overrun, watchdog_dump. */
struct watchdog_settings {
    int64_t budget_ms;          /* 0: no budget */
    int exit;                   /* plugin_overrun = exit */
    char *dump;                 /* watchdog_dump, resolved; NULL: the default */
};

struct vigil_engine {
    struct vigil_engine_options opt;
    struct vigil_config cfg;
    struct vigil_stats stats;
    struct vigil_plugin_host *plugins;
    struct vigil_addrset home_net;
    struct vigil_alert_filter *filter;
    struct vigil_flow_table *flows;
    char sensor_name[256];      /* [vigil] sensor_name, else the host name */
    int64_t max_frag_datagrams; /* [vigil] fragment_datagrams */
    int64_t max_embryonic;      /* [vigil] embryonic_streams */
    struct vigil_output outputs[VIGIL_MAX_OUTPUTS];
    size_t noutputs;
    uint64_t *alerts_by_plugin;
    int reasm_open;
    int stream_data_now;        /* libnids delivered data for this packet */
    void **cur_stream_slot;     /* the stream event being dispatched */
    uint32_t output_failed;     /* bit i: outputs[i] lost a record (31: any later one) */
    int64_t now_us;             /* packet clock: never goes backwards */
    int64_t first_us;
    int64_t last_tick_sec;
    int64_t next_stats_wall_us;
    struct timespec started;
    struct engine_generation *gen;  /* settings of the last reload (NULL: cfg) */
    /* The plugin call budget (watchdog.h) and what an overrun does. */
    struct vigil_watchdog *watchdog;
    int64_t budget_ms;
    int wd_deferred;            /* start it with the next packet */
    int overrun_exit;           /* plugin_overrun = exit */
    int stopping;               /* ... and it happened: no more packets */
    char *dump_path;            /* where an overrun's packet goes; NULL: nowhere */
    int dumped;                 /* the dump file was started in this run */
    uint64_t sensor_alerts;     /* the sensor's own alerts (detector "vigil") */
    /* The frame being processed, for the dump (NULL between packets). */
    int cur_dlt;
    const struct pcap_pkthdr *cur_hdr;
    const uint8_t *cur_data;
};

/* ---- callbacks ---------------------------------------------------------- */

static void mark_output_failed(struct vigil_engine *e, size_t i)
{
    e->output_failed |= 1u << (i < 31 ? i : 31);
}

static void on_alert(void *user, const char *detector, size_t plugin_index,
                     const vigil_alert *a, struct vigil_flow *flow)
{
    struct vigil_engine *e = user;
    struct vigil_alert_event ev = {
        .alert = a,
        .detector = detector,
        .ts_us = a->ts_us,
        .flow_id = flow ? flow->flow_id
                        : vigil_flow_id(&a->src, &a->dst, a->sport, a->dport,
                                        a->ip_proto, 0),
    };
    if (!vigil_alert_filter_pass(e->filter, plugin_index, a, &e->stats))
        return;
    e->stats.alerts++;
    e->alerts_by_plugin[plugin_index]++;
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].alert(e->outputs[i].self, &ev) < 0)
            mark_output_failed(e, i);
}

static void on_flow_release(void *user, struct vigil_flow *flow)
{
    struct vigil_engine *e = user;
    if (flow->stream_slot)
        *flow->stream_slot = NULL;  /* the stream outlives its flow entry */
    vigil_plugin_host_release_flow(e->plugins, flow);
}

/* A stream's flow, remembered in the stream's own slot: no lookup twice. */
static struct vigil_flow *stream_flow(struct vigil_engine *e, const vigil_stream *st,
                                      int create)
{
    void **slot = e->cur_stream_slot;
    if (slot && *slot)
        return *slot;
    struct vigil_flow *f = vigil_flow_get(e->flows, &st->client, &st->server,
                                          st->client_port, st->server_port, 6, st->ts_us,
                                          create);
    if (f && slot) {
        *slot = f;
        f->stream_slot = slot;
    }
    return f;
}

/* A packet's flow: IP only; ports for the protocols that have them. */
static inline struct vigil_flow *packet_flow(struct vigil_engine *e, const vigil_packet *p,
                                             int create)
{
    if (p == NULL || (p->l3 != VIGIL_L3_IPV4 && p->l3 != VIGIL_L3_IPV6))
        return NULL;
    int ported = (p->flags & VIGIL_PKT_HAS_L4) &&
                 (p->ip_proto == 6 || p->ip_proto == 17 || p->ip_proto == 132);
    return vigil_flow_get(e->flows, &p->src, &p->dst, ported ? p->sport : 0,
                          ported ? p->dport : 0, p->ip_proto, p->ts_us, create);
}

/* The flow of the event a plugin asks about (see plugin_host.h). */
static struct vigil_flow *resolve_flow(void *user, const vigil_packet *p,
                                       const vigil_stream *st)
{
    struct vigil_engine *e = user;
    if (st)
        return stream_flow(e, st, 1);
    return packet_flow(e, p, 1);
}

static int stream_ends(uint32_t event)
{
    return event == VIGIL_STREAM_CLOSED || event == VIGIL_STREAM_RESET ||
           event == VIGIL_STREAM_TIMEOUT || event == VIGIL_STREAM_END;
}

static void on_stream(void *user, const vigil_stream *st, void **slot)
{
    struct vigil_engine *e = user;
    e->cur_stream_slot = slot;
    if (st->event == VIGIL_STREAM_DATA) {
        e->stream_data_now = 1;
    } else if (stream_ends(st->event) && st->event != VIGIL_STREAM_END) {
        /* Remembered only where it matters: a closed flow leaves the table
         * soon; an evicted one explains the bytes that follow. */
        int evicted = st->event == VIGIL_STREAM_TIMEOUT;
        struct vigil_flow *flow = stream_flow(e, st, evicted);
        if (flow) {
            flow->nids = evicted ? VIGIL_NIDS_EVICTED : VIGIL_NIDS_ENDED;
            if (!evicted)
                vigil_flow_closed(e->flows, flow);
        }
    }
    vigil_plugin_host_stream(e->plugins, st);
    if (stream_ends(st->event) && *slot) {
        /* libnids forgets the stream now: unlink the two. */
        ((struct vigil_flow *)*slot)->stream_slot = NULL;
        *slot = NULL;
    }
    e->cur_stream_slot = NULL;
}

/* ---- setup -------------------------------------------------------------- */

static int core_settings(struct vigil_engine *e, int64_t *n_streams, int64_t *max_flows,
                         int64_t timeout_us[VIGIL_FLOWQ_COUNT], char *err, size_t errlen)
{
    struct vigil_config *c = &e->cfg;
    int64_t tcp, other, closed, frags, embryonic;
    if (vigil_config_int(c, CORE_SECTION, "n_tcp_streams", 131072, 1024, 1 << 24,
                         n_streams, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "max_flows", 65536, 1024, 1 << 26,
                         max_flows, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "tcp_timeout_sec", 600, 1, 86400 * 7,
                         &tcp, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "other_timeout_sec", 120, 1, 86400 * 7,
                         &other, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "closed_timeout_sec", 2, 0, 3600,
                         &closed, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "fragment_datagrams", 4096, 16, 1 << 20,
                         &frags, err, errlen) < 0 ||
        vigil_config_int(c, CORE_SECTION, "embryonic_streams", 16384, 16, 1 << 22,
                         &embryonic, err, errlen) < 0)
        return -1;
    e->max_frag_datagrams = frags;
    e->max_embryonic = embryonic;
    timeout_us[VIGIL_FLOWQ_TCP] = tcp * US_PER_SEC;
    timeout_us[VIGIL_FLOWQ_OTHER] = other * US_PER_SEC;
    timeout_us[VIGIL_FLOWQ_CLOSED] = closed * US_PER_SEC;
    return 0;
}

static int read_home_net(struct vigil_engine *e, char *err, size_t errlen)
{
    struct vigil_config_entry *c = vigil_config_find(&e->cfg, CORE_SECTION, "home_net");
    char why[256];
    if (c && vigil_addrset_parse(&e->home_net, c->value, why, sizeof why) < 0) {
        vigil_seterr(err, errlen, "%s:%d: home_net: %s", c->file, c->line, why);
        return -1;
    }
    return 0;
}

/* The sinks that share alerts follow the [sharing] policy. */
static int output_shares(const struct vigil_output *o)
{
    return strcmp(o->name, "stix") == 0 || strcmp(o->name, "misp") == 0 ||
           strcmp(o->name, "taxii") == 0;
}

/* A setting nobody read is a typo or a detector that is not loaded. */
static int check_unused(struct vigil_engine *e, char *err, size_t errlen)
{
    for (size_t i = 0; i < e->cfg.count; i++) {
        struct vigil_config_entry *c = &e->cfg.entries[i];
        if (c->used)
            continue;
        int known = strcmp(c->section, CORE_SECTION) == 0;
        for (size_t p = 0; !known && p < vigil_plugin_host_count(e->plugins); p++)
            known = strcmp(c->section, vigil_plugin_host_name(e->plugins, p)) == 0;
        for (size_t o = 0; !known && o < e->noutputs; o++)
            known = strcmp(c->section, e->outputs[o].name) == 0 ||
                    (strcmp(c->section, "sharing") == 0 && output_shares(&e->outputs[o]));
        if (known) {
            vigil_seterr(err, errlen, "%s:%d: unknown setting '%s' in [%s]", c->file,
                         c->line, c->key, c->section);
            return -1;
        }
        /* Sink sections are read only when their sink is enabled. */
        static const char *const sink_sections[] = { "sharing", "taxii", "redis" };
        int sink = 0;
        for (size_t k = 0; k < sizeof sink_sections / sizeof *sink_sections; k++)
            sink |= strcmp(c->section, sink_sections[k]) == 0;
        if (e->opt.verbosity >= 2 && !sink)
            vigil_err("%s:%d: [%s] is not a loaded detector; ignored", c->file, c->line,
                      c->section);
    }
    return 0;
}

static int open_outputs(struct vigil_engine *e, char *err, size_t errlen)
{
    const struct vigil_engine_options *o = &e->opt;
    struct vigil_config_entry *name = vigil_config_find(&e->cfg, CORE_SECTION, "sensor_name");
    if (name)
        snprintf(e->sensor_name, sizeof e->sensor_name, "%s", name->value);
    else if (gethostname(e->sensor_name, sizeof e->sensor_name - 1) < 0)
        snprintf(e->sensor_name, sizeof e->sensor_name, "vigil");
    struct vigil_output_env env = { &e->cfg, &e->home_net, e->sensor_name };
    if (o->noutputs + 1 > VIGIL_MAX_OUTPUTS) {
        vigil_seterr(err, errlen, "more than %d outputs", VIGIL_MAX_OUTPUTS);
        return -1;
    }
    if (vigil_output_open_eve(o->eve_path, &env, &e->outputs[0], err, errlen) < 0)
        return -1;
    e->noutputs = 1;
    for (size_t i = 0; i < o->noutputs; i++) {
        if (vigil_outputs_open(o->outputs[i].kind, o->outputs[i].target, &env,
                               &e->outputs[e->noutputs], err, errlen) < 0)
            return -1;
        e->noutputs++;
    }
    return 0;
}

static int close_outputs(struct vigil_engine *e)
{
    int failed = 0;
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].close(e->outputs[i].self) < 0) {
            mark_output_failed(e, i);
            failed = 1;
        }
    return failed ? -1 : 0;
}

/* One line naming every output that lost a record, e.g.
 * "writing failed for eve (x.json), taxii; output is incomplete". */
static void report_failed_outputs(const struct vigil_engine *e)
{
    char names[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < e->noutputs && len < sizeof names; i++) {
        if (!(e->output_failed & (1u << (i < 31 ? i : 31))))
            continue;
        int is_eve = strcmp(e->outputs[i].name, "eve") == 0;
        int n = snprintf(names + len, sizeof names - len, "%s%s%s%s%s", len ? ", " : "",
                         e->outputs[i].name, is_eve ? " (" : "",
                         is_eve ? e->opt.eve_path : "", is_eve ? ")" : "");
        len += n > 0 ? (size_t)n : 0;
    }
    vigil_err("writing failed for %s; output is incomplete", len ? names : "an output");
}

/* ---- the plugin call budget (watchdog.h) ----------------------------------- */

static int read_watchdog_settings(struct vigil_config *c, struct watchdog_settings *w,
                                  char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (vigil_config_int(c, CORE_SECTION, "plugin_budget_ms", WATCHDOG_BUDGET_DEFAULT_MS, 0,
                         3600 * 1000, &w->budget_ms, err, errlen) < 0)
        return -1;
    struct vigil_config_entry *p = vigil_config_find(c, CORE_SECTION, "plugin_overrun");
    if (p && strcmp(p->value, "exit") == 0) {
        w->exit = 1;
    } else if (p && strcmp(p->value, "disable") != 0) {
        vigil_seterr(err, errlen, "%s:%d: plugin_overrun: expected disable or exit, got '%s'",
                     p->file, p->line, p->value);
        return -1;
    }
    struct vigil_config_entry *d = vigil_config_find(c, CORE_SECTION, "watchdog_dump");
    if (d && d->value[0] != '\0' && (w->dump = vigil_config_entry_path(d)) == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Where an overrun's packet goes: watchdog_dump, else watchdog.pcap beside
 * the EVE file, else (EVE on standard output, or to a device such as
 * /dev/null) nowhere. A worker adds its number, so workers never write one
 * file. NULL: nowhere (or no memory).
 */
static char *dump_path(const struct vigil_engine *e, const char *setting)
{
    char path[PATH_MAX + 32];
    struct stat st;
    if (setting) {
        snprintf(path, sizeof path, "%s", setting);
    } else if (strcmp(e->opt.eve_path, "-") != 0 && e->opt.worker == 0 &&
               stat(e->opt.eve_path, &st) == 0 && S_ISREG(st.st_mode)) {
        const char *slash = strrchr(e->opt.eve_path, '/');
        if (slash)
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - e->opt.eve_path),
                     e->opt.eve_path, WATCHDOG_DUMP_NAME);
        else
            snprintf(path, sizeof path, "%s", WATCHDOG_DUMP_NAME);
    } else {
        return NULL;
    }
    if (e->opt.worker > 0) {
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, ".%d", e->opt.worker - 1);
    }
    return strdup(path);
}

/* Write the frame being processed to the dump file: the first overrun of a
 * run starts the file, later ones append. 0, or -1 with why. */
static int dump_frame(struct vigil_engine *e, char *why, size_t len)
{
    if (e->cur_data == NULL) {
        vigil_seterr(why, len, "no packet was being processed");
        return -1;
    }
    if (e->dump_path == NULL) {
        vigil_seterr(why, len, "no dump file (EVE does not go to a file; set [vigil] "
                     "watchdog_dump)");
        return -1;
    }
    pcap_t *dead = pcap_open_dead(e->cur_dlt, 262144);
    if (dead == NULL) {
        vigil_seterr(why, len, "%s: out of memory", e->dump_path);
        return -1;
    }
    pcap_dumper_t *d = e->dumped ? pcap_dump_open_append(dead, e->dump_path)
                                 : pcap_dump_open(dead, e->dump_path);
    int rc = -1;
    if (d == NULL) {
        vigil_seterr(why, len, "%s", pcap_geterr(dead));
    } else {
        pcap_dump((u_char *)d, e->cur_hdr, e->cur_data);
        if (pcap_dump_flush(d) == 0)
            rc = 0;
        else
            vigil_seterr(why, len, "%s: write failed", e->dump_path);
        pcap_dump_close(d);
        e->dumped = 1;
    }
    pcap_close(dead);
    return rc;
}

static void format_endpoint(const vigil_addr *a, uint16_t port, int ported, char *buf,
                            size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == 4 || a->family == 6)
        inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, ip, sizeof ip);
    if (!ported)
        snprintf(buf, len, "%s", ip);
    else if (a->family == 6)
        snprintf(buf, len, "[%s]:%u", ip, port);
    else
        snprintf(buf, len, "%s:%u", ip, port);
}

/* The sensor's own alert: not filtered, not shared (STIX, MISP, TAXII);
 * counted under detector "vigil". */
static void emit_sensor_alert(struct vigil_engine *e, const vigil_alert *a, uint64_t flow_id)
{
    struct vigil_alert_event ev = {
        .alert = a, .detector = "vigil", .ts_us = a->ts_us, .flow_id = flow_id,
    };
    e->stats.alerts++;
    e->sensor_alerts++;
    for (size_t i = 0; i < e->noutputs; i++)
        if (!output_shares(&e->outputs[i]) && e->outputs[i].alert(e->outputs[i].self, &ev) < 0)
            mark_output_failed(e, i);
}

/*
 * A plugin call overran its budget and was stopped (the plugin is disabled
 * already): name the plugin and the packet in an alert and on stderr, dump
 * the packet, and with plugin_overrun = exit stop taking packets.
 */
static void on_overrun(void *user, const struct vigil_overrun *o)
{
    struct vigil_engine *e = user;
    e->stats.plugins_disabled++;
    vigil_packet decoded;
    const vigil_packet *p = o->pkt;
    if (p == NULL && e->cur_data != NULL) {     /* a stream, tick or expiry */
        enum vigil_decode_event ev;
        uint32_t wirelen = e->cur_hdr->len < e->cur_hdr->caplen ? e->cur_hdr->caplen
                                                                 : e->cur_hdr->len;
        if (vigil_decode(e->cur_dlt, e->cur_data, e->cur_hdr->caplen, wirelen, &decoded,
                         &ev) == VIGIL_DECODE_OK)
            p = &decoded;
    }
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    int ported = 0;
    if (p != NULL) {
        a.src = p->src;
        a.dst = p->dst;
        if (p->l3 != VIGIL_L3_ARP) {
            a.ip_proto = p->ip_proto;
            ported = (p->flags & VIGIL_PKT_HAS_L4) &&
                     (p->ip_proto == 6 || p->ip_proto == 17 || p->ip_proto == 132);
        }
        if (ported) {
            a.sport = p->sport;
            a.dport = p->dport;
        }
    } else if (o->st != NULL) {
        a.src = o->st->client;
        a.dst = o->st->server;
        a.sport = o->st->client_port;
        a.dport = o->st->server_port;
        a.ip_proto = 6;
        ported = 1;
    }
    /* The flow, if known without changing the table: a nested call may be
     * inside a table operation right now. */
    struct vigil_flow *flow = o->flow;
    if (flow == NULL && !o->nested && o->st != NULL && e->cur_stream_slot != NULL)
        flow = *e->cur_stream_slot;
    if (flow == NULL && !o->nested && o->pkt != NULL)
        flow = packet_flow(e, o->pkt, 0);
    uint64_t flow_id = flow ? flow->flow_id
                     : a.ip_proto ? vigil_flow_id(&a.src, &a.dst, a.sport, a.dport, a.ip_proto, 0)
                     : 0;

    char why[512] = "", budget[24], ran[24], number[24], sig[160];
    int dumped = dump_frame(e, why, sizeof why) == 0;
    snprintf(budget, sizeof budget, "%" PRId64, o->budget_ms);
    snprintf(ran, sizeof ran, "%" PRId64, o->ran_ms);
    snprintf(number, sizeof number, "%" PRIu64, e->stats.packets);
    snprintf(sig, sizeof sig, "detector %s disabled: one call ran longer than %" PRId64 " ms",
             o->name, o->budget_ms);
    vigil_meta meta[8];
    size_t n = 0;
    meta[n++] = (vigil_meta){ "plugin", o->name };
    meta[n++] = (vigil_meta){ "callback", o->callback };
    meta[n++] = (vigil_meta){ "budget_ms", budget };
    meta[n++] = (vigil_meta){ "ran_ms", ran };
    meta[n++] = (vigil_meta){ "policy", e->overrun_exit ? "exit" : "disable" };
    if (e->cur_data != NULL)
        meta[n++] = (vigil_meta){ "packet", number };
    if (dumped)
        meta[n++] = (vigil_meta){ "packet_dump", e->dump_path };
    a.gid = 1;
    a.signature_id = WATCHDOG_SID;
    a.rev = 1;
    a.severity = 2;
    a.signature = sig;
    a.category = "Detector disabled";
    a.attack_category = "sensor_evasion";
    a.attack_technique = "detector_overrun";
    a.ts_us = e->now_us;
    a.meta = meta;
    a.meta_count = n;
    emit_sensor_alert(e, &a, flow_id);

    char ts[40], src[64], dst[64], what[400];
    vigil_format_ts(e->now_us, ts, sizeof ts);
    format_endpoint(&a.src, a.sport, ported, src, sizeof src);
    format_endpoint(&a.dst, a.dport, ported, dst, sizeof dst);
    uint64_t shown_id = flow_id & ((UINT64_C(1) << 53) - 1);  /* as EVE prints it */
    if (e->cur_data != NULL)
        snprintf(what, sizeof what, "packet %s at %s, %s -> %s, flow %" PRIu64, number, ts,
                 src, dst, shown_id);
    else if (o->st != NULL)
        snprintf(what, sizeof what, "the stream %s -> %s at the end of input (%s), flow %"
                 PRIu64, src, dst, ts, shown_id);
    else
        snprintf(what, sizeof what, "no packet (%s)", ts);
    vigil_err("watchdog: detector %s disabled: its %s call ran %" PRId64 " ms, over its "
              "budget of %" PRId64 " ms, on %s; %s%s%s", o->name, o->callback, o->ran_ms,
              o->budget_ms, what, dumped ? "packet written to " : "packet not written: ",
              dumped ? e->dump_path : why,
              e->overrun_exit ? "; stopping (plugin_overrun = exit)" : "");
    if (e->overrun_exit) {
        e->stopping = 1;
        if (e->opt.stop)
            *e->opt.stop = 1;
    }
}

static void attach_watchdog(struct vigil_engine *e)
{
    vigil_plugin_host_set_watchdog(e->plugins, e->watchdog, on_overrun, e);
    size_t n = vigil_plugin_host_count(e->plugins);
    const char *names[64];
    for (size_t i = 0; i < n && i < 64; i++)
        names[i] = vigil_plugin_host_name(e->plugins, i);
    vigil_watchdog_set_names(e->watchdog, names, n < 64 ? n : 64);
}

/*
 * The watchdog the settings ask for starts with the first packet: its
 * timer signal never interrupts the setup (privileges, daemon, pid file).
 */
static void start_watchdog(struct vigil_engine *e)
{
    char err[256];
    e->wd_deferred = 0;
    if (e->budget_ms <= 0 || e->watchdog != NULL)
        return;
    if ((e->watchdog = vigil_watchdog_start(e->budget_ms, err, sizeof err)) == NULL) {
        vigil_err("%s; detectors run without a time budget", err);
        return;
    }
    attach_watchdog(e);
}

/* Settings w (whose dump path it takes) for the current plugins: a new
 * budget stops the running watchdog; the next packet starts its successor. */
static void apply_watchdog(struct vigil_engine *e, struct watchdog_settings *w)
{
    if (w->budget_ms != e->budget_ms) {
        vigil_watchdog_stop(e->watchdog);
        e->watchdog = NULL;
        e->budget_ms = w->budget_ms;
    }
    e->overrun_exit = w->exit;
    free(e->dump_path);
    e->dump_path = e->budget_ms > 0 ? dump_path(e, w->dump) : NULL;
    free(w->dump);
    w->dump = NULL;
    if (e->watchdog != NULL)
        attach_watchdog(e);
    else
        e->wd_deferred = e->budget_ms > 0;
}

struct vigil_engine *vigil_engine_new(const struct vigil_engine_options *opt,
                                      char *err, size_t errlen, int *exit_code)
{
    struct vigil_engine *e = calloc(1, sizeof *e);
    *exit_code = 2;
    if (e == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    e->opt = *opt;
    struct watchdog_settings wds = { 0 };
    if (vigil_community_id_init() < 0) {
        vigil_seterr(err, errlen, "cannot initialise SHA-1 (OpenSSL): out of memory?");
        *exit_code = 1;
        free(e);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &e->started);
    e->first_us = -1;
    vigil_config_init(&e->cfg);
    if (opt->rules_dir && vigil_config_load_dir(&e->cfg, opt->rules_dir, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < opt->nsettings_files; i++)
        if (vigil_config_overlay_file(&e->cfg, opt->settings_files[i], err, errlen) < 0)
            goto fail;
    for (size_t i = 0; i < opt->nsettings; i++)
        if (vigil_config_set_text(&e->cfg, "command line", opt->settings[i], err, errlen) < 0)
            goto fail;
    int64_t n_streams, max_flows, timeouts[VIGIL_FLOWQ_COUNT];
    if (core_settings(e, &n_streams, &max_flows, timeouts, err, errlen) < 0)
        goto fail;
    if (read_watchdog_settings(&e->cfg, &wds, err, errlen) < 0)
        goto fail;
    if (read_home_net(e, err, errlen) < 0)
        goto fail;
    e->plugins = vigil_plugin_host_new(&e->cfg, on_alert, e, opt->verbosity);
    if (e->plugins == NULL)
        goto fail;
    vigil_plugin_host_set_home_net(e->plugins, &e->home_net);
    if (opt->plugin_dir &&
        vigil_plugin_host_load_dir(e->plugins, opt->plugin_dir, err, errlen) < 0)
        goto fail;
    size_t nplugins = vigil_plugin_host_count(e->plugins);
    const char *names[64];
    for (size_t i = 0; i < nplugins && i < 64; i++)
        names[i] = vigil_plugin_host_name(e->plugins, i);
    e->filter = vigil_alert_filter_new(&e->cfg, names, nplugins < 64 ? nplugins : 64,
                                       err, errlen);
    if (e->filter == NULL)
        goto fail;
    if (open_outputs(e, err, errlen) < 0) {
        *exit_code = 1;
        goto fail;
    }
    if (check_unused(e, err, errlen) < 0)
        goto fail;
    e->alerts_by_plugin = calloc(nplugins + 1, sizeof *e->alerts_by_plugin);
    e->flows = vigil_flow_table_new((size_t)max_flows, nplugins, timeouts,
                                    on_flow_release, e, &e->stats);
    if (e->alerts_by_plugin == NULL || e->flows == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        goto fail;
    }
    vigil_plugin_host_set_resolver(e->plugins, resolve_flow, e);
    struct vigil_reasm_config rc = { .n_tcp_streams = (int)n_streams,
                                      .max_frag_datagrams = (int)e->max_frag_datagrams,
                                      .max_embryonic = (int)e->max_embryonic };
    if (vigil_reasm_open(&rc, &e->stats, on_stream, e, err, errlen) < 0)
        goto fail;
    e->reasm_open = 1;
    apply_watchdog(e, &wds);
    return e;
fail:
    free(wds.dump);
    vigil_engine_free(e);
    return NULL;
}

/* ---- packet path -------------------------------------------------------- */

/* Packet time as a clock: sanitised and monotonic. */
static int64_t packet_time(struct vigil_engine *e, const struct pcap_pkthdr *h)
{
    int64_t usec = h->ts.tv_usec;
    if (usec < 0 || usec >= US_PER_SEC) {
        e->stats.bad_timestamp++;
        usec = usec < 0 ? 0 : US_PER_SEC - 1;
    }
    int64_t ts = (int64_t)h->ts.tv_sec * US_PER_SEC + usec;
    if (e->first_us < 0)
        e->first_us = ts;
    if (ts < e->now_us) {
        e->stats.bad_timestamp++;
        return e->now_us;
    }
    return ts;
}

/* Once per second of packet time: detectors' windows, flow expiry. */
static void advance_clock(struct vigil_engine *e, int64_t ts)
{
    e->now_us = ts;
    int64_t sec = ts / US_PER_SEC;
    if (sec != e->last_tick_sec) {
        if (e->last_tick_sec != 0)
            vigil_plugin_host_tick(e->plugins, sec * US_PER_SEC);
        e->last_tick_sec = sec;
    }
    vigil_flow_expire(e->flows, ts);
}

static void count_decode(struct vigil_stats *s, enum vigil_decode_result r,
                         enum vigil_decode_event ev)
{
    if (r == VIGIL_DECODE_OTHER) {
        s->other_l3++;
        return;
    }
    s->decode_events[ev < VIGIL_DEV_COUNT ? ev : VIGIL_DEV_NONE]++;
    if (r == VIGIL_DECODE_TRUNCATED)
        s->truncated++;
    else
        s->malformed++;
}

static void count_layers(struct vigil_stats *s, const vigil_packet *p)
{
    s->decoded++;
    if (p->l3 == VIGIL_L3_ARP) {
        s->arp++;
        return;
    }
    if (p->l3 == VIGIL_L3_IPV4)
        s->ipv4++;
    else
        s->ipv6++;
    switch (p->ip_proto) {
    case 6: s->tcp++; break;
    case 17: s->udp++; break;
    case 1:
    case 58: s->icmp++; break;
    default: s->other_l4++; break;
    }
}

/* TCP payload libnids did not (or could not) reassemble, by reason. */
static void count_uninspected(struct vigil_engine *e, const vigil_packet *p)
{
    if (p->ip_proto != 6 || !(p->flags & VIGIL_PKT_HAS_L4) || p->payload_wire_len == 0)
        return;
    enum vigil_uninspected why;
    if (p->l3 == VIGIL_L3_IPV6) {
        why = VIGIL_UNINSPECTED_IPV6;
    } else if (p->flags & VIGIL_PKT_PAYLOAD_CUT) {
        why = VIGIL_UNINSPECTED_CUT;
    } else if (e->stream_data_now || vigil_reasm_tracks(p)) {
        return;     /* delivered, or queued/retransmitted in a live stream */
    } else {
        struct vigil_flow *f = vigil_flow_get(e->flows, &p->src, &p->dst, p->sport,
                                              p->dport, 6, p->ts_us, 0);
        why = f && f->nids == VIGIL_NIDS_EVICTED ? VIGIL_UNINSPECTED_TABLE_FULL
                                                 : VIGIL_UNINSPECTED_MIDSTREAM;
    }
    e->stats.uninspected_bytes[why] += p->payload_wire_len;
}

/* What libnids needs: TCP, and ICMP (it resets streams on unreachables). */
static int wants_reassembly(const vigil_packet *p)
{
    return p->l3 == VIGIL_L3_IPV4 && (p->ip_proto == 6 || p->ip_proto == 1);
}

static void packet_path(struct vigil_engine *e, int dlt, const struct pcap_pkthdr *h,
                        const uint8_t *data)
{
    struct vigil_stats *s = &e->stats;
    s->packets++;
    uint32_t wirelen = h->len;
    if (wirelen < h->caplen) {
        s->bad_caplen++;
        wirelen = h->caplen;
    }
    s->bytes += wirelen;
    advance_clock(e, packet_time(e, h));

    vigil_packet pkt;
    enum vigil_decode_event ev = VIGIL_DEV_NONE;
    enum vigil_decode_result r = vigil_decode(dlt, data, h->caplen, wirelen, &pkt, &ev);
    if (r != VIGIL_DECODE_OK) {
        count_decode(s, r, ev);
        return;
    }
    pkt.ts_us = e->now_us;
    count_layers(s, &pkt);
    vigil_plugin_host_packet(e->plugins, &pkt);
    e->stream_data_now = 0;
    if (wants_reassembly(&pkt))
        vigil_reasm_feed(&pkt);
    count_uninspected(e, &pkt);
}

void vigil_engine_packet(struct vigil_engine *e, int dlt, const struct pcap_pkthdr *h,
                         const uint8_t *data)
{
    if (e->stopping)
        return;
    if (e->wd_deferred)
        start_watchdog(e);
    e->cur_dlt = dlt;           /* for the watchdog's dump */
    e->cur_hdr = h;
    e->cur_data = data;
    packet_path(e, dlt, h, data);
    e->cur_data = NULL;
}

int vigil_engine_stopping(const struct vigil_engine *e)
{
    return e->stopping;
}

/* ---- stats and the end -------------------------------------------------- */

/* A failed write marks its output (the loss is reported at the end). */
static void write_stats(struct vigil_engine *e, int64_t ts_us)
{
    size_t n = vigil_plugin_host_count(e->plugins);
    struct vigil_detector_count det[65];
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        det[i].name = vigil_plugin_host_name(e->plugins, i);
        det[i].alerts = e->alerts_by_plugin[i];
    }
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].report)
            e->outputs[i].report(e->outputs[i].self, &e->stats);
    if (e->sensor_alerts > 0)
        det[n++] = (struct vigil_detector_count){ "vigil", e->sensor_alerts };
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].stats &&
            e->outputs[i].stats(e->outputs[i].self, ts_us, &e->stats, det, n) < 0)
            mark_output_failed(e, i);
}

void vigil_engine_set_kernel_stats(struct vigil_engine *e, uint64_t received,
                                   uint64_t dropped, uint64_t if_dropped)
{
    e->stats.kernel_received = received;
    e->stats.kernel_dropped = dropped;
    e->stats.iface_dropped = if_dropped;
}

void vigil_engine_idle(struct vigil_engine *e, int64_t wall_us)
{
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].tick)
            e->outputs[i].tick(e->outputs[i].self);
    if (e->opt.stats_interval_us <= 0)
        return;
    if (e->next_stats_wall_us == 0)
        e->next_stats_wall_us = wall_us + e->opt.stats_interval_us;
    if (wall_us < e->next_stats_wall_us)
        return;
    e->next_stats_wall_us = wall_us + e->opt.stats_interval_us;
    write_stats(e, wall_us);
}

static double elapsed_sec(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) +
           (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void print_summary(struct vigil_engine *e)
{
    const struct vigil_stats *s = &e->stats;
    double span = e->first_us < 0 ? 0 : (double)(e->now_us - e->first_us) / 1e6;
    fprintf(stderr, "vigil: %" PRIu64 " packets, %" PRIu64 " bytes (%.1f s of traffic) "
            "in %.2f s; %" PRIu64 " decode errors; %" PRIu64 " streams; %" PRIu64 " alerts\n",
            s->packets, s->bytes, span, elapsed_sec(&e->started),
            s->truncated + s->malformed, s->streams_established, s->alerts);
    if (e->opt.live)
        fprintf(stderr, "vigil: kernel: %" PRIu64 " received, %" PRIu64 " dropped, %" PRIu64
                " dropped by the interface\n", s->kernel_received, s->kernel_dropped,
                s->iface_dropped);
    for (size_t i = 0; i < vigil_plugin_host_count(e->plugins); i++)
        fprintf(stderr, "vigil:   %-16s %" PRIu64 " alerts%s\n",
                vigil_plugin_host_name(e->plugins, i), e->alerts_by_plugin[i],
                vigil_plugin_host_disabled(e->plugins, i)
                    ? " (disabled: one call ran longer than its time budget)" : "");
    if (e->sensor_alerts > 0)
        fprintf(stderr, "vigil:   %-16s %" PRIu64 " alerts\n", "vigil", e->sensor_alerts);
}

int vigil_engine_finish(struct vigil_engine *e)
{
    if (e->reasm_open) {
        vigil_reasm_close();        /* streams still open end here */
        e->reasm_open = 0;
    }
    vigil_plugin_host_finish(e->plugins);
    write_stats(e, e->now_us);
    close_outputs(e);
    if (e->output_failed)
        report_failed_outputs(e);
    e->noutputs = 0;
    if (!e->opt.quiet)
        print_summary(e);
    return e->output_failed ? -1 : 0;
}

/* ---- reload and reopen (SIGUSR2, SIGHUP) -------------------------------- */

/*
 * What the plugins of a reload read while they run: their settings and the
 * home networks, at addresses that stay put until the next reload. The
 * first generation lives in the engine itself (cfg, home_net), which the
 * outputs keep using.
 */
struct engine_generation {
    struct vigil_config cfg;
    struct vigil_addrset home_net;
};

static void generation_free(struct engine_generation *g)
{
    if (g == NULL)
        return;
    vigil_addrset_free(&g->home_net);
    vigil_config_free(&g->cfg);
    free(g);
}

/* check_unused() for a reloaded configuration: outputs are not reopened,
 * so their sections are not checked again. */
static int reload_check_unused(const struct vigil_engine *e, struct vigil_config *cfg,
                               const struct vigil_plugin_host *plugins, char *err,
                               size_t errlen)
{
    for (size_t i = 0; i < cfg->count; i++) {
        struct vigil_config_entry *c = &cfg->entries[i];
        if (c->used)
            continue;
        int known = strcmp(c->section, CORE_SECTION) == 0;
        for (size_t p = 0; !known && p < vigil_plugin_host_count(plugins); p++)
            known = strcmp(c->section, vigil_plugin_host_name(plugins, p)) == 0;
        int output = 0;
        for (size_t o = 0; !output && o < e->noutputs; o++)
            output = strcmp(c->section, e->outputs[o].name) == 0 ||
                     (strcmp(c->section, "sharing") == 0 && output_shares(&e->outputs[o]));
        if (known && !output) {
            vigil_seterr(err, errlen, "%s:%d: unknown setting '%s' in [%s]", c->file,
                         c->line, c->key, c->section);
            return -1;
        }
    }
    return 0;
}

int vigil_engine_reload(struct vigil_engine *e, char *err, size_t errlen)
{
    const struct vigil_engine_options *opt = &e->opt;
    struct engine_generation *g = calloc(1, sizeof *g);
    struct vigil_plugin_host *plugins = NULL;
    struct vigil_alert_filter *filter = NULL;
    struct vigil_flow_table *flows = NULL;
    uint64_t *by_plugin = NULL;
    struct watchdog_settings wds = { 0 };
    if (g == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    vigil_config_init(&g->cfg);
    if (opt->rules_dir && vigil_config_load_dir(&g->cfg, opt->rules_dir, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < opt->nsettings_files; i++)
        if (vigil_config_overlay_file(&g->cfg, opt->settings_files[i], err, errlen) < 0)
            goto fail;
    for (size_t i = 0; i < opt->nsettings; i++)
        if (vigil_config_set_text(&g->cfg, "command line", opt->settings[i], err, errlen) < 0)
            goto fail;
    /* core_settings() reads e->cfg: lend it the new entries for the call
     * (the struct is copied, the entries it points to are shared). */
    int64_t n_streams, max_flows, timeouts[VIGIL_FLOWQ_COUNT];
    struct vigil_config running = e->cfg;
    e->cfg = g->cfg;
    int rc = core_settings(e, &n_streams, &max_flows, timeouts, err, errlen);
    g->cfg = e->cfg;
    e->cfg = running;
    if (rc < 0 || read_watchdog_settings(&g->cfg, &wds, err, errlen) < 0)
        goto fail;
    struct vigil_config_entry *hn = vigil_config_find(&g->cfg, CORE_SECTION, "home_net");
    char why[256];
    if (hn && vigil_addrset_parse(&g->home_net, hn->value, why, sizeof why) < 0) {
        vigil_seterr(err, errlen, "%s:%d: home_net: %s", hn->file, hn->line, why);
        goto fail;
    }
    /* Mark the entries the outputs read at startup as read. */
    vigil_config_find(&g->cfg, CORE_SECTION, "sensor_name");
    vigil_config_find(&g->cfg, CORE_SECTION, "eve_backlog_kb");
    plugins = vigil_plugin_host_new(&g->cfg, on_alert, e, opt->verbosity);
    if (plugins == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        goto fail;
    }
    vigil_plugin_host_set_home_net(plugins, &g->home_net);
    if (opt->plugin_dir && vigil_plugin_host_load_dir(plugins, opt->plugin_dir, err, errlen) < 0)
        goto fail;
    size_t nplugins = vigil_plugin_host_count(plugins);
    const char *names[64];
    for (size_t i = 0; i < nplugins && i < 64; i++)
        names[i] = vigil_plugin_host_name(plugins, i);
    filter = vigil_alert_filter_new(&g->cfg, names, nplugins < 64 ? nplugins : 64, err, errlen);
    if (filter == NULL || reload_check_unused(e, &g->cfg, plugins, err, errlen) < 0)
        goto fail;
    by_plugin = calloc(nplugins + 1, sizeof *by_plugin);
    flows = vigil_flow_table_new((size_t)max_flows, nplugins, timeouts, on_flow_release, e,
                                 &e->stats);
    if (by_plugin == NULL || flows == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        goto fail;
    }
    /* The old detectors report what they hold before they go, as at the end
     * of a capture: a scan still settling is not lost to a reload. */
    vigil_plugin_host_finish(e->plugins);
    /* Alert counts follow the detector's name. */
    for (size_t i = 0; i < nplugins; i++)
        for (size_t j = 0; j < vigil_plugin_host_count(e->plugins); j++)
            if (strcmp(names[i], vigil_plugin_host_name(e->plugins, j)) == 0)
                by_plugin[i] = e->alerts_by_plugin[j];
    vigil_plugin_host_set_resolver(plugins, resolve_flow, e);

    /* The swap. The old table releases its flows through the old plugins
     * (and unlinks libnids' streams from them), then the old set goes. */
    uint64_t expired = e->stats.flows_expired, evicted = e->stats.flows_evicted;
    vigil_flow_table_free(e->flows);
    e->stats.flows_expired = expired;
    e->stats.flows_evicted = evicted;
    e->flows = flows;
    e->stats.flows_active = 0;
    vigil_plugin_host_free(e->plugins);
    e->plugins = plugins;
    vigil_alert_filter_free(e->filter);
    e->filter = filter;
    free(e->alerts_by_plugin);
    e->alerts_by_plugin = by_plugin;
    generation_free(e->gen);
    e->gen = g;
    /* The new set runs under the new budget (the old set is gone, so the
     * watchdog may be stopped here). */
    apply_watchdog(e, &wds);
    return 0;
fail:
    free(wds.dump);
    free(by_plugin);
    vigil_flow_table_free(flows);
    vigil_alert_filter_free(filter);
    vigil_plugin_host_free(plugins);
    generation_free(g);
    return -1;
}

int vigil_engine_reopen_outputs(struct vigil_engine *e)
{
    int rc = 0;
    for (size_t i = 0; i < e->noutputs; i++)
        if (e->outputs[i].reopen && e->outputs[i].reopen(e->outputs[i].self) < 0)
            rc = -1;
    return rc;
}

uint64_t vigil_engine_alert_count(const struct vigil_engine *e)
{
    return e->stats.alerts;
}

void vigil_engine_list_plugins(const struct vigil_engine *e)
{
    for (size_t i = 0; i < vigil_plugin_host_count(e->plugins); i++)
        printf("%-16s %-8s ABI %d.%d  %s\n    %s\n",
               vigil_plugin_host_name(e->plugins, i),
               vigil_plugin_host_version(e->plugins, i), VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR,
               vigil_plugin_host_path(e->plugins, i),
               vigil_plugin_host_description(e->plugins, i));
}

void vigil_engine_free(struct vigil_engine *e)
{
    if (e == NULL)
        return;
    if (e->reasm_open)
        vigil_reasm_close();
    vigil_flow_table_free(e->flows);    /* releases plugin flow state first */
    vigil_plugin_host_free(e->plugins);
    vigil_watchdog_stop(e->watchdog);   /* after the last plugin call */
    free(e->dump_path);
    generation_free(e->gen);            /* after the plugins that read it */
    vigil_alert_filter_free(e->filter);
    vigil_addrset_free(&e->home_net);
    close_outputs(e);
    free(e->alerts_by_plugin);
    vigil_config_free(&e->cfg);
    free(e);
}
