/*
 * collect.h - `vigil collect`: read the alerts many sensors published to a
 * Redis stream (see redis_out.h) as one consumer of a consumer group, write
 * them as merged EVE JSON lines (each with its "sensor" and "stream_id"),
 * and correlate an attacker reported by several sensors into one
 * `incident` event.
 *
 * Delivery is at-least-once: an entry is acknowledged (XACK) only after its
 * line is written and flushed, and on start the consumer first re-reads its
 * own pending entries, so a collector that died between writing and
 * acknowledging writes those lines again (same stream_id) rather than
 * losing them.
 */
#ifndef VIGIL_COLLECT_H
#define VIGIL_COLLECT_H

/* argv[0] is "collect". Returns the process exit code. */
int vigil_collect_main(int argc, char **argv);

#endif
