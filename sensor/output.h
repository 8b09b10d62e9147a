/*
 * output.h - where finished alerts and stats go.
 *
 * Every sink (EVE, STIX, MISP, TAXII push, Redis streams) is one file that
 * fills a vigil_output; the engine writes each alert to every sink, in the
 * order they were opened. A sink derives its format from the alert itself,
 * never by re-reading another sink's text. Sinks must not block the packet
 * path: one that talks to a network hands alerts to its own spool/thread.
 */
#ifndef VIGIL_OUTPUT_H
#define VIGIL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "addrset.h"
#include "config.h"
#include "eve.h"
#include "stats.h"

struct vigil_output {
    const char *name;           /* "eve", "stix", ... for messages */
    void *self;
    /* One alert; 0, or -1 when it could not be written (counted). */
    int (*alert)(void *self, const struct vigil_alert_event *ev);
    /* A stats event; NULL when the sink has no use for stats. */
    int (*stats)(void *self, int64_t ts_us, const struct vigil_stats *st,
                 const struct vigil_detector_count *det, size_t ndet);
    /* Flush and release; 0, or -1 if anything was lost (say so on stderr). */
    int (*close)(void *self);
    /* Reopen files after rotation (SIGHUP), between records; NULL if the
     * sink has no file. 0 or -1. */
    int (*reopen)(void *self);
    /* Called regularly (live: every poll round); NULL if not needed. A sink
     * that holds records for a file that could not take them retries here. */
    void (*tick)(void *self);
    /* Put the sink's own counters into st before a stats event; NULL if it
     * has none. */
    void (*report)(void *self, struct vigil_stats *st);
};

/* What a sink may need when it opens. */
struct vigil_output_env {
    struct vigil_config *cfg;           /* settings: a sink reads its [section] */
    const struct vigil_addrset *home_net;
    const char *sensor_name;            /* [vigil] sensor_name or the host name */
};

/* Open the EVE sink on path ("-" is stdout). */
int vigil_output_open_eve(const char *path, const struct vigil_output_env *env,
                          struct vigil_output *out, char *err, size_t errlen);

#endif
