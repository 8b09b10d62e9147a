/*
 * fragbudget.h - how many IPv4 datagrams may wait in libnids' defragmenter.
 *
 * libnids bounds fragment memory per destination host only (256 KiB each)
 * and expires fragments on the wall clock, so fragments that never
 * complete, sent to many hosts, grow its memory without limit. The sensor
 * tracks the datagrams it hands over (source, destination, id, protocol)
 * in a fixed table and refuses fragments of new datagrams while the table
 * is full; the caller counts what it refused.
 */
#ifndef VIGIL_FRAGBUDGET_H
#define VIGIL_FRAGBUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/plugin.h"

struct vigil_fragbudget;

struct vigil_fragbudget *vigil_fragbudget_new(size_t max_datagrams);
void vigil_fragbudget_free(struct vigil_fragbudget *b);

/*
 * May this IPv4 fragment go to libnids? 1 when its datagram is tracked
 * already or could be added, 0 when the budget is full. A datagram leaves
 * the table when its fragments add up to its length, or when both 30 s of
 * packet time and 30 s of wall time have passed (libnids' own timeout is
 * on the wall clock).
 */
int vigil_fragbudget_admit(struct vigil_fragbudget *b, const vigil_packet *pkt,
                           int64_t wall_us);

/* Datagrams tracked now. */
size_t vigil_fragbudget_count(const struct vigil_fragbudget *b);

#endif
