/*
 * plugin_host.h - loads detector plugins and calls them.
 *
 * A plugin is a shared object exporting vigil_plugin_entry() (see
 * include/vigil/plugin.h). The host checks the file (regular, not
 * world-writable, in a directory that is not world-writable), loads it
 * with RTLD_NOW | RTLD_LOCAL, checks the descriptor (ABI major, struct
 * size, name) and keeps a host-owned copy, so nothing of the plugin is
 * read after it is unloaded. Plugins are called in the order they were
 * loaded (file name order within a directory), which keeps replay
 * deterministic.
 */
#ifndef VIGIL_PLUGIN_HOST_H
#define VIGIL_PLUGIN_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "flow.h"
#include "vigil/plugin.h"

struct vigil_plugin_host;

/* Receives each alert a plugin emits, already validated and normalised. */
typedef void (*vigil_alert_sink_fn)(void *user, const char *detector,
                                    size_t plugin_index, const vigil_alert *alert,
                                    struct vigil_flow *flow);

/* verbosity: VIGIL_LOG_* of the most detailed plugin log line shown. */
struct vigil_plugin_host *vigil_plugin_host_new(struct vigil_config *cfg,
                                                vigil_alert_sink_fn sink,
                                                void *sink_user, int verbosity);
/* Call every plugin's fini, unload them, free the host. */
void vigil_plugin_host_free(struct vigil_plugin_host *h);

/* Load and initialise one plugin file. 0, or -1 with "path: why" in err. */
int vigil_plugin_host_load_file(struct vigil_plugin_host *h, const char *path,
                                char *err, size_t errlen);
/* Load every *.so of dir in name order; stops at the first refusal. */
int vigil_plugin_host_load_dir(struct vigil_plugin_host *h, const char *dir,
                               char *err, size_t errlen);

size_t vigil_plugin_host_count(const struct vigil_plugin_host *h);
const char *vigil_plugin_host_name(const struct vigil_plugin_host *h, size_t i);
const char *vigil_plugin_host_version(const struct vigil_plugin_host *h, size_t i);
const char *vigil_plugin_host_description(const struct vigil_plugin_host *h, size_t i);
const char *vigil_plugin_host_path(const struct vigil_plugin_host *h, size_t i);
/* Whether any loaded plugin wants stream events. */
int vigil_plugin_host_wants_streams(const struct vigil_plugin_host *h);

struct vigil_addrset;
/* The home networks in_home_net() answers from (owned by the caller). Set
 * before loading plugins, so their init can use it. */
void vigil_plugin_host_set_home_net(struct vigil_plugin_host *h,
                                    const struct vigil_addrset *home_net);

/*
 * Finds (or creates) the flow of the packet or stream event being
 * dispatched. Called at most once per event, and only when a plugin asks
 * for its flow state or emits an alert: flows cost nothing otherwise.
 */
typedef struct vigil_flow *(*vigil_flow_resolver_fn)(void *user, const vigil_packet *pkt,
                                                    const vigil_stream *st);
void vigil_plugin_host_set_resolver(struct vigil_plugin_host *h,
                                    vigil_flow_resolver_fn fn, void *user);

/* Dispatch an event to every plugin; the host's clock follows it. */
void vigil_plugin_host_packet(struct vigil_plugin_host *h, const vigil_packet *pkt);
void vigil_plugin_host_stream(struct vigil_plugin_host *h, const vigil_stream *st);
void vigil_plugin_host_tick(struct vigil_plugin_host *h, int64_t now_us);
void vigil_plugin_host_finish(struct vigil_plugin_host *h);

/* Free the plugins' state slots of a flow that leaves the table. */
void vigil_plugin_host_release_flow(struct vigil_plugin_host *h, struct vigil_flow *flow);

/*
 * The time budget (watchdog.h). With a watchdog, every plugin call (on_packet,
 * on_stream, on_tick, on_finish, flow_free; not init and fini) is guarded:
 * a call that overruns is stopped, its plugin disabled (never called
 * again, not even on_finish, flow_free or fini; its memory is abandoned)
 * and fn hears of it once, on the thread that made the call, after the
 * jump: the host and its tables are consistent then.
 */
struct vigil_overrun {
    size_t plugin_index;
    const char *name;
    const char *callback;       /* "on_packet", ... */
    int64_t budget_ms;
    int64_t ran_ms;             /* how long it had run when stopped */
    const vigil_packet *pkt;    /* the packet being dispatched, or NULL */
    const vigil_stream *st;     /* the stream event being dispatched, or NULL */
    struct vigil_flow *flow;    /* its flow if a plugin had asked for it */
    int nested;                 /* called from inside another plugin's service */
};
typedef void (*vigil_overrun_fn)(void *user, const struct vigil_overrun *o);

struct vigil_watchdog;
/* wd NULL: no budget (the default). Set it before the first dispatch. */
void vigil_plugin_host_set_watchdog(struct vigil_plugin_host *h, struct vigil_watchdog *wd,
                                    vigil_overrun_fn fn, void *user);
int vigil_plugin_host_disabled(const struct vigil_plugin_host *h, size_t i);
size_t vigil_plugin_host_disabled_count(const struct vigil_plugin_host *h);

#endif
