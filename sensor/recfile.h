/*
 * recfile.h - a file of whole records (JSON lines), written so that a full
 * disk or an I/O error never leaves half a record behind.
 *
 * Each record goes out with write(2) as soon as it is given, so an error
 * shows at once (stdio would report it only at a later flush). When a
 * write fails or stops short:
 *   - on a regular file the bytes of the record that did land are cut off
 *     again (ftruncate to the end of the last whole record);
 *   - on a pipe, a terminal or another device nothing can be taken back,
 *     so the rest of that record is written first when writing works
 *     again: the reader sees the line whole, only later.
 * The writer then is degraded: it says so once on stderr (path and
 * reason), keeps later records in a bounded in-memory backlog (dropping
 * the oldest when it is full, each one counted), and tries again at most
 * once per retry interval, when a record comes or on vigil_recfile_tick()
 * (with nothing held, as with no backlog at all, each new record is tried).
 * When a write works, the backlog is written in order, one line says that
 * writing resumed (with how many records were held and dropped), and the
 * writer is healthy again.
 */
#ifndef VIGIL_RECFILE_H
#define VIGIL_RECFILE_H

#include <stddef.h>
#include <stdint.h>

/* Records are tagged with a kind so losses can be told apart. */
#define VIGIL_RECFILE_KINDS 2

struct vigil_recfile_options {
    size_t backlog_bytes;       /* memory for records held while degraded (0: none) */
    int64_t retry_us;           /* between attempts while degraded; 0: 1 s */
    const char *what;           /* for messages, e.g. "EVE output"; NULL: "output" */
    const char *const *kind_names;  /* VIGIL_RECFILE_KINDS plural names, or NULL */
};

struct vigil_recfile_counters {
    uint64_t written;           /* records now in the file */
    uint64_t write_errors;      /* failed write attempts */
    uint64_t delayed;           /* records written late, after waiting in memory */
    uint64_t held;              /* records waiting in memory now */
    uint64_t held_bytes;        /* their size */
    uint64_t dropped;           /* records lost: backlog full or unwritable at the end */
    uint64_t dropped_kind[VIGIL_RECFILE_KINDS];
    uint64_t cut_bytes;         /* bytes of failed writes cut off again */
    int degraded;               /* 1 while the file cannot be written */
    int first_errno;            /* of the first failure this run (0: none) */
};

struct vigil_recfile;

/* Open path for appending ("-": standard output, never closed here). NULL
 * with the reason in err. */
struct vigil_recfile *vigil_recfile_open(const char *path,
                                         const struct vigil_recfile_options *opt,
                                         char *err, size_t errlen);

/*
 * One record of len bytes, its final newline included. 0 when it was
 * written or is held for later; -1 when this call had to drop a record
 * (this one or an older one; counted), errno set.
 */
int vigil_recfile_write(struct vigil_recfile *rf, const char *rec, size_t len, int kind);

/* While degraded: try the backlog again if the retry interval has passed.
 * Cheap when healthy. */
void vigil_recfile_tick(struct vigil_recfile *rf);

/*
 * After rotation (SIGHUP): open the path again and continue at the end of
 * the new file; held records go there. When the path cannot be opened the
 * old file stays in use: -1 (said on stderr).
 */
int vigil_recfile_reopen(struct vigil_recfile *rf);

/*
 * Try the backlog one last time, then close. Records still held are
 * dropped and counted; a line on stderr says what was lost. 0, or -1 when
 * any record was lost this run (errno: the first failure's).
 */
int vigil_recfile_close(struct vigil_recfile *rf);

void vigil_recfile_counters(const struct vigil_recfile *rf, struct vigil_recfile_counters *c);

/* The path given at open ("-" for standard output). */
const char *vigil_recfile_path(const struct vigil_recfile *rf);

/* The descriptor written to (for a forked child to close). */
int vigil_recfile_fd(const struct vigil_recfile *rf);

#endif
