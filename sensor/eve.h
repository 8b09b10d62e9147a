/*
 * eve.h - EVE JSON output (one object per line, Suricata-compatible).
 *
 * All JSON goes through jansson: correct escaping, exact 64-bit integers.
 * Records are built whole and written with one write, so a reader never
 * sees half a line.
 */
#ifndef VIGIL_EVE_H
#define VIGIL_EVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "vigil/plugin.h"

/* An alert as the host recorded it (plugin fields already validated). */
struct vigil_alert_event {
    const vigil_alert *alert;   /* size-normalised copy: every field valid */
    const char *detector;       /* plugin name */
    int64_t ts_us;              /* packet time of the alert */
    uint64_t flow_id;
};

/* Per-detector counts for the stats event. */
struct vigil_detector_count {
    const char *name;
    uint64_t alerts;
};

struct vigil_eve;

/* Open path for appending ("-" is stdout). NULL and errbuf on failure. */
struct vigil_eve *vigil_eve_open(const char *path, char *errbuf, size_t errlen);
/* Flush and close; returns 0, or -1 if any write failed (errno kept). */
int vigil_eve_close(struct vigil_eve *eve);

/* Write one alert event. Returns 0 or -1 (I/O error). */
int vigil_eve_write_alert(struct vigil_eve *eve, const struct vigil_alert_event *ev);

/* Write one stats event at time ts_us. Returns 0 or -1. */
int vigil_eve_write_stats(struct vigil_eve *eve, int64_t ts_us,
                          const struct vigil_stats *st,
                          const struct vigil_detector_count *det, size_t ndet);

/*
 * The EVE records as JSON objects (new references, NULL on failure), for
 * sinks that carry EVE inside another transport (a Redis stream, say).
 */
json_t *vigil_eve_alert_json(const struct vigil_alert_event *ev);
json_t *vigil_eve_stats_json(int64_t ts_us, const struct vigil_stats *st,
                             const struct vigil_detector_count *det, size_t ndet);

/* Format a packet time as Suricata does: 2025-05-14T09:30:41.250000+0000 (UTC). */
void vigil_format_ts(int64_t ts_us, char *buf, size_t len);

#endif
