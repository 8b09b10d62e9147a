/*
 * progress.h - the replay progress line on stderr: a bar, bytes read of
 * the total, packet rate, alerts so far and the time left.
 *
 * Shown only when stderr is a terminal; the clock is read once every
 * VIGIL_PROGRESS_EVERY packets (a coarse monotonic clock) and the line is
 * redrawn a few times a second at most.
 */
#ifndef VIGIL_PROGRESS_H
#define VIGIL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VIGIL_PROGRESS_EVERY 1024   /* packets between clock reads */

/*
 * Format one progress line (no newline, no control characters) into buf
 * and return its length. `width` is the terminal width in columns; the
 * line never exceeds width - 1 (the bar shrinks first, then disappears).
 * total == 0 means the size is unknown: no bar, percentage or ETA.
 */
size_t vigil_progress_format(char *buf, size_t len, uint64_t done, uint64_t total,
                             uint64_t packets, uint64_t alerts, double elapsed_sec,
                             int width);

/* Human-readable byte count: "512 B", "1.5 KiB", "2.00 GiB". */
void vigil_progress_bytes(char *buf, size_t len, uint64_t bytes);

struct vigil_progress {
    FILE *out;                  /* NULL: disabled */
    int width;
    int drawn;                  /* a line is on screen */
    uint64_t packets;
    double start;               /* seconds, CLOCK_MONOTONIC_COARSE */
    double last_draw;
};

/* Enable the display when `out` is a terminal and not `quiet`. */
void vigil_progress_init(struct vigil_progress *p, FILE *out, int quiet);

/*
 * Count one packet. Returns 1 when the caller should call
 * vigil_progress_draw() (every VIGIL_PROGRESS_EVERY packets, if enabled),
 * so the hot path is a counter and a branch.
 */
static inline int vigil_progress_tick(struct vigil_progress *p)
{
    return p->out != NULL && (++p->packets % VIGIL_PROGRESS_EVERY) == 0;
}

/* Redraw if enough time has passed since the last draw (or if force). */
void vigil_progress_draw(struct vigil_progress *p, uint64_t done, uint64_t total,
                         uint64_t alerts, int force);

/* Erase the line, leaving the terminal as it was. */
void vigil_progress_finish(struct vigil_progress *p);

#endif
