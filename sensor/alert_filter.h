/*
 * alert_filter.h - what stands between a detector's alert and the output:
 * allow lists (alerts about known-good hosts are dropped, and counted) and
 * a deduplication window (the same detector, attacker, target and technique
 * within the window is counted, not written again).
 *
 * Settings: [vigil] allow_src, allow_dst, alert_dedup_sec, dedup_max; and
 * allow_src, allow_dst and alert_dedup_sec in any detector's section for
 * that detector alone.
 */
#ifndef VIGIL_ALERT_FILTER_H
#define VIGIL_ALERT_FILTER_H

#include <stddef.h>

#include "config.h"
#include "stats.h"
#include "vigil/plugin.h"

struct vigil_alert_filter;

/* Read the settings for the core and for each named detector. NULL with err
 * ("file:line: why") on a bad setting. */
struct vigil_alert_filter *vigil_alert_filter_new(struct vigil_config *cfg,
                                                  const char *const *detectors,
                                                  size_t ndetectors, char *err,
                                                  size_t errlen);
void vigil_alert_filter_free(struct vigil_alert_filter *f);

/* 1 if the alert of detector `index` should be written; else 0, counted in
 * stats (alerts_suppressed or alerts_deduplicated). */
int vigil_alert_filter_pass(struct vigil_alert_filter *f, size_t index,
                            const vigil_alert *a, struct vigil_stats *stats);

#endif
