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

/* Memory for records held while the file cannot be written ([vigil]
 * eve_backlog_kb). */
#define VIGIL_EVE_BACKLOG_DEFAULT ((size_t)4096 * 1024)

/* Open path for appending ("-" is stdout). NULL and errbuf on failure. */
struct vigil_eve *vigil_eve_open(const char *path, char *errbuf, size_t errlen);
/* The same, holding up to backlog_bytes of records in memory while the
 * file cannot be written (0: drop them at once, counted). */
struct vigil_eve *vigil_eve_open_backlog(const char *path, size_t backlog_bytes,
                                         char *errbuf, size_t errlen);
/* Write what is held and close; returns 0, or -1 if any record was lost
 * or could not be built (errno kept). */
int vigil_eve_close(struct vigil_eve *eve);

/* How writing went: errors, records held, delayed and dropped. */
void vigil_eve_counters(const struct vigil_eve *eve, struct vigil_output_stats *out);

/* Called regularly: while the file cannot be written, try again (at most
 * once a second). */
void vigil_eve_tick(struct vigil_eve *eve);

/*
 * Write one alert event. Returns 0 when it was written or is held in
 * memory for a file that cannot take it now; -1 when a record was lost
 * (counted; errno set) or this one could not be built.
 */
int vigil_eve_write_alert(struct vigil_eve *eve, const struct vigil_alert_event *ev);

/* Write one stats event at time ts_us. Returns 0 or -1, as above. */
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
