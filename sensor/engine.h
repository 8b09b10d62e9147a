/*
 * engine.h - the packet path: decode -> flows -> plugins -> reassembly ->
 * alerts, and the counters of all of it.
 */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H

#include <pcap/pcap.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "outputs.h"

struct vigil_engine_options {
    const char *plugin_dir;     /* NULL: no plugins */
    const char *rules_dir;      /* NULL: built-in defaults only */
    const char *eve_path;       /* "-" for stdout */
    int verbosity;              /* VIGIL_LOG_* shown for plugin messages */
    int quiet;                  /* no summary on stderr */
    int live;                   /* periodic stats on the wall clock */
    int64_t stats_interval_us;  /* live: 0 = only at the end */
    char *const *settings_files; /* -c: loaded after rules_dir, overriding it */
    size_t nsettings_files;
    char *const *settings;      /* "section.key=value" overriding the files */
    size_t nsettings;
    const struct vigil_output_spec *outputs;   /* sinks besides EVE */
    size_t noutputs;
    int worker;                 /* --workers: this worker's number + 1; else 0 */
    volatile sig_atomic_t *stop; /* set when the engine stops taking packets */
};

struct vigil_engine;

/* Load rules and plugins, open outputs. NULL with err on failure; *exit_code
 * is 2 for configuration problems, 1 for I/O. */
struct vigil_engine *vigil_engine_new(const struct vigil_engine_options *opt,
                                      char *err, size_t errlen, int *exit_code);

/* One captured frame. */
void vigil_engine_packet(struct vigil_engine *e, int dlt, const struct pcap_pkthdr *h,
                         const uint8_t *data);

/* Live mode: called regularly, even without packets. */
void vigil_engine_idle(struct vigil_engine *e, int64_t wall_us);

/* Kernel counters of a live capture, for the stats events. */
void vigil_engine_set_kernel_stats(struct vigil_engine *e, uint64_t received,
                                   uint64_t dropped, uint64_t if_dropped);

/* End of input: flush streams and detectors, write the final stats event and
 * the summary. Returns 0, or -1 if an output failed. */
int vigil_engine_finish(struct vigil_engine *e);

void vigil_engine_free(struct vigil_engine *e);

/*
 * Live reload (SIGUSR2), between two packets: read the rules directory and
 * the command-line settings again, load a new plugin set with its own
 * settings, alert filter and flow table, and swap them in. When anything of
 * the new set fails (a bad rule, setting or plugin) nothing changes: -1
 * with the reason in err. On success the old plugins are unloaded and the
 * per-flow state they kept is released (flows start afresh; streams that
 * libnids is following keep going); counters and outputs carry on. Settings
 * of [vigil] that size libnids (n_tcp_streams) and the outputs' own
 * sections need a restart.
 */
int vigil_engine_reload(struct vigil_engine *e, char *err, size_t errlen);

/*
 * A detector overran [vigil] plugin_budget_ms and plugin_overrun = exit:
 * the engine takes no more packets and sets *opt->stop; the caller stops
 * reading, finishes (vigil_engine_finish) and exits with its own status.
 */
int vigil_engine_stopping(const struct vigil_engine *e);

/* SIGHUP: every sink that writes a file reopens it (after log rotation).
 * 0, or -1 when some sink could not (it keeps its old file). */
int vigil_engine_reopen_outputs(struct vigil_engine *e);

/* Alerts written so far (after suppression), for progress displays. */
uint64_t vigil_engine_alert_count(const struct vigil_engine *e);

/* Print the loaded plugins (name, version, file, description) to stdout. */
void vigil_engine_list_plugins(const struct vigil_engine *e);

#endif
