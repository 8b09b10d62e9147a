/*
 * spool.h - a durable, append-only queue of records on disk: the source of
 * truth between an alert and a network sink that may be down.
 *
 * Layout of the spool directory (docs/sharing-taxii.md has the details):
 *     lock                  flock()ed while open: one process per spool
 *     acked                 "vigil-spool 1\nacked_seq N\n", replaced atomically
 *                           (tmp + fsync + rename + fsync of the directory)
 *     NNNNNNNNNN.seg        segments, oldest first: a 16-byte header
 *                           ("VIGSPOOL", u32 version, u32 segment number),
 *                           then records
 * A record is a 20-byte header - u32 magic "VSR1", u32 payload length,
 * u64 sequence number, u32 CRC-32C of (length, sequence, payload), all
 * little-endian - followed by the payload. Sequence numbers grow by one per
 * record and never repeat, so the acknowledgement is one number.
 *
 * Opening scans every segment: a record that does not check out followed
 * by valid ones is skipped (counted as corrupt); one that does not check
 * out at the end of a segment is a torn write and is cut off (one warning,
 * counted as torn). Records acknowledged are removed: whole segments are
 * deleted, and the last one is truncated to its header once everything is
 * acknowledged.
 *
 * Thread safety: every call may come from any thread (typically one writer,
 * the packet path, and one reader, a sink's worker). The lock is held only
 * for writes to the page cache and copies; fsync of data happens in
 * vigil_spool_sync() outside it (or in append when sync_every_record).
 */
#ifndef VIGIL_SPOOL_H
#define VIGIL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* The largest payload one record may carry. */
#define VIGIL_SPOOL_MAX_RECORD (16u << 20)
/* Bytes a record takes on disk besides its payload. */
#define VIGIL_SPOOL_RECORD_OVERHEAD 20u

/* What append does when the unacknowledged records would exceed the cap. */
enum vigil_spool_full {
    VIGIL_SPOOL_DROP_OLDEST = 0,    /* delete the oldest segment(s), counted */
    VIGIL_SPOOL_DROP_NEW = 1,       /* refuse the new record, counted */
};

struct vigil_spool_options {
    const char *dir;            /* created (0700) when missing */
    uint64_t max_bytes;         /* cap on unacknowledged records, headers included */
    uint64_t segment_bytes;     /* 0: max_bytes / 8, within [64 KiB, 32 MiB] */
    enum vigil_spool_full when_full;
    int sync_every_record;      /* fdatasync in every append (slow, safest) */
    uint64_t memory_bytes;      /* records held in memory while the disk cannot take
                                 * them (full, I/O error); 0: none, lost at once */
    const char *name;           /* prefix for messages, e.g. "taxii" */
};

struct vigil_spool_counters {
    uint64_t appended;          /* records written this run */
    uint64_t acked;             /* records acknowledged this run */
    uint64_t dropped_oldest;    /* discarded unacknowledged (drop_oldest) */
    uint64_t dropped_new;       /* refused (drop_new, or larger than the cap) */
    uint64_t unpersisted;       /* never written (disk full, I/O error): the memory
                                 * queue was full, or the disk still full at close */
    uint64_t write_errors;      /* failed append attempts */
    uint64_t waiting;           /* records held in memory for the disk now */
    uint64_t waiting_bytes;     /* their payload */
    uint64_t delayed;           /* records written late, after waiting in memory */
    uint64_t torn;              /* torn tails cut off at open */
    uint64_t corrupt;           /* unreadable records skipped */
    uint64_t pending;           /* records waiting for acknowledgement now */
    uint64_t pending_bytes;     /* their size on disk */
    uint64_t recovered;         /* records found pending at open */
};

/* One record of a batch: data points into the batch's buffer. */
struct vigil_spool_record {
    uint64_t seq;
    const unsigned char *data;
    size_t len;
};

/* Consecutive unacknowledged records, oldest first (reused across peeks). */
struct vigil_spool_batch {
    struct vigil_spool_record *recs;
    size_t count, cap;
    unsigned char *buf;
    size_t used, bufcap;
};

struct vigil_spool;

/* Open (or create) the spool; resume what a previous run left. NULL with
 * the reason in err: another process holds it, bad options, I/O errors. */
struct vigil_spool *vigil_spool_open(const struct vigil_spool_options *opt, char *err,
                                     size_t errlen);

/* Sync and close; unacknowledged records stay for the next open. Records
 * still waiting in memory get one last try, else are lost (counted, said
 * on stderr). 0, or -1 when the final sync failed or records were lost. */
int vigil_spool_close(struct vigil_spool *sp);

/*
 * Append one record of len bytes (1..VIGIL_SPOOL_MAX_RECORD). 0 when
 * written, or held in memory because the disk cannot take it now; 1 when
 * refused by the cap policy (counted); -1 when a record was lost (this one
 * or the oldest held one: the memory queue is full; counted as
 * unpersisted).
 *
 * A write that fails is cut back to the last whole record, so no torn
 * record stays on disk. The spool then holds records in memory (up to
 * memory_bytes, in order), logs that once, and tries the disk again at
 * most once a second: on the next append or vigil_spool_retry(). When a
 * write works, what waited is written first and one line says so.
 */
int vigil_spool_append(struct vigil_spool *sp, const void *data, size_t len);

/* Write the records waiting in memory if the disk takes them again; at most
 * once a second unless force. 0 when none waits any more, -1 otherwise. */
int vigil_spool_retry(struct vigil_spool *sp, int force);

/*
 * Copy the oldest unacknowledged records into b: at most max_records, and
 * no more than max_bytes of payload unless the first record alone is
 * larger. b->count is 0 when nothing is pending. 0, or -1 on I/O errors.
 */
int vigil_spool_peek(struct vigil_spool *sp, size_t max_records, size_t max_bytes,
                     struct vigil_spool_batch *b);
void vigil_spool_batch_free(struct vigil_spool_batch *b);

/* Everything up to and including seq was delivered: record it durably,
 * then delete what it frees. 0, or -1 with errno when the ack file could not
 * be written (not logged here): the records still leave the queue, but a
 * restart before the next good ack may deliver some of them again. */
int vigil_spool_ack(struct vigil_spool *sp, uint64_t seq);

/* fdatasync the segment being written if anything was appended since the
 * last call. 0 or -1. */
int vigil_spool_sync(struct vigil_spool *sp);

void vigil_spool_counters(struct vigil_spool *sp, struct vigil_spool_counters *c);

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing crc. */
uint32_t vigil_crc32c(uint32_t crc, const void *data, size_t len);

#endif
