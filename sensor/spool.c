/*
 * spool.c - the durable record queue behind network sinks (see spool.h for
 * the on-disk format and docs/sharing-taxii.md for the guarantees).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define SEG_MAGIC "VIGSPOOL"
#define SEG_VERSION 1u
#define SEG_HDR 16u
#define REC_MAGIC 0x31525356u   /* "VSR1" as little-endian bytes */
#define REC_HDR VIGIL_SPOOL_RECORD_OVERHEAD
#define ACK_FILE "acked"
#define ACK_TMP "acked.tmp"
#define RETRY_MS 1000           /* between attempts while the disk fails */

/* A record the disk could not take yet, waiting in memory. */
struct waiting {
    struct waiting *next;
    size_t len;
    unsigned char data[];
};

struct seg {
    uint32_t id;
    uint64_t size;              /* file size, header included */
    uint64_t nrec;
    uint64_t last_seq;          /* 0 when empty */
};

struct vigil_spool {
    pthread_mutex_t mu;         /* everything below */
    pthread_mutex_t ack_mu;     /* one acknowledgement at a time */
    char *dir;
    char name[32];
    int dir_fd, lock_fd;
    int fd;                     /* the last segment, appended to */
    struct seg *segs;
    size_t nsegs, segcap;
    uint64_t max_bytes, seg_bytes;
    enum vigil_spool_full when_full;
    int sync_every;
    uint64_t next_seq;
    uint64_t acked_seq;         /* nothing at or below is pending */
    uint64_t durable_seq;       /* what the ack file says */
    size_t ack_seg;             /* first pending record, or the end */
    uint64_t ack_off;
    int dirty;                  /* appended since the last sync */
    int full;                   /* in a cap episode (for one message) */
    int degraded;               /* in a write-error episode */
    struct waiting *wq_head, *wq_tail;  /* records waiting for the disk, oldest first */
    uint64_t mem_max;           /* cap on their payload */
    int64_t next_try_ms;        /* next attempt while degraded */
    int64_t since_ms;           /* degraded since */
    int last_errno;
    uint64_t ep_waited, ep_lost;    /* this episode */
    struct vigil_spool_counters c;
};

static void wq_pop(struct vigil_spool *sp);

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t vigil_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little helpers ----------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void seg_name(char *buf, size_t len, uint32_t id)
{
    snprintf(buf, len, "%010" PRIu32 ".seg", id);
}

/* Whole pread; 0, or -1 (short read counts as an error, errno EIO). */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void rec_header(unsigned char h[REC_HDR], uint64_t seq, const void *data, size_t len)
{
    put32(h, REC_MAGIC);
    put32(h + 4, (uint32_t)len);
    put64(h + 8, seq);
    uint32_t crc = vigil_crc32c(0, h + 4, 12);
    put32(h + 16, vigil_crc32c(crc, data, len));
}

/* A record at off in fd (file size `size`) that checks out: its sequence
 * number and payload length. buf is scratch of VIGIL_SPOOL_MAX_RECORD. */
static int rec_valid(int fd, uint64_t off, uint64_t size, unsigned char *buf, uint64_t *seq,
                     uint32_t *len)
{
    unsigned char h[REC_HDR];
    if (size - off < REC_HDR || read_at(fd, h, REC_HDR, off) < 0)
        return 0;
    uint32_t l = get32(h + 4);
    if (get32(h) != REC_MAGIC || l == 0 || l > VIGIL_SPOOL_MAX_RECORD ||
        size - off - REC_HDR < l || read_at(fd, buf, l, off + REC_HDR) < 0)
        return 0;
    uint32_t crc = vigil_crc32c(vigil_crc32c(0, h + 4, 12), buf, l);
    if (crc != get32(h + 16))
        return 0;
    *seq = get64(h + 8);
    *len = l;
    return 1;
}

/* The first offset from `from` on where a record after prev_seq checks out,
 * or 0. Reads windows of the file and tries every magic number in them. */
static uint64_t find_next_record(int fd, uint64_t from, uint64_t size, uint64_t prev_seq,
                                 unsigned char *scratch)
{
    unsigned char *win = malloc(65536);
    uint64_t at = from, found = 0;
    while (win != NULL && !found && at + REC_HDR <= size) {
        size_t n = size - at < 65536 ? (size_t)(size - at) : 65536;
        if (read_at(fd, win, n, at) < 0)
            break;
        for (size_t i = 0; i + 4 <= n; i++) {
            uint64_t sq;
            uint32_t ln;
            if (get32(win + i) == REC_MAGIC && rec_valid(fd, at + i, size, scratch, &sq, &ln) &&
                sq > prev_seq) {
                found = at + i;
                break;
            }
        }
        at += n - 3;
    }
    free(win);
    return found;
}

/* ---- the acknowledgement file ------------------------------------------ */

static int write_ack_file(struct vigil_spool *sp, uint64_t seq)
{
    char text[64];
    int n = snprintf(text, sizeof text, "vigil-spool 1\nacked_seq %" PRIu64 "\n", seq);
    int fd = openat(sp->dir_fd, ACK_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (close(fd) < 0 || renameat(sp->dir_fd, ACK_TMP, sp->dir_fd, ACK_FILE) < 0 ||
        fsync(sp->dir_fd) < 0)
        return -1;
    return 0;
}

static int read_ack_file(struct vigil_spool *sp, uint64_t *seq, char *err, size_t errlen)
{
    *seq = 0;
    int fd = openat(sp->dir_fd, ACK_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        vigil_seterr(err, errlen, "%s/%s: %s", sp->dir, ACK_FILE, strerror(errno));
        return -1;
    }
    char text[128];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    unsigned long long v;
    if (n > 0) {
        text[n] = '\0';
        if (sscanf(text, "vigil-spool 1\nacked_seq %llu", &v) == 1) {
            *seq = v;
            return 0;
        }
    }
    /* Replaced atomically, so this is damage from outside: redeliver. */
    vigil_err("%s spool %s/%s: unreadable; delivering every record again", sp->name,
              sp->dir, ACK_FILE);
    return 0;
}

/* ---- segments ----------------------------------------------------------- */

static int seg_push(struct vigil_spool *sp, struct seg s)
{
    if (sp->nsegs == sp->segcap) {
        size_t cap = sp->segcap ? sp->segcap * 2 : 16;
        struct seg *n = realloc(sp->segs, cap * sizeof *n);
        if (n == NULL)
            return -1;
        sp->segs = n;
        sp->segcap = cap;
    }
    sp->segs[sp->nsegs++] = s;
    return 0;
}

static void seg_remove(struct vigil_spool *sp, size_t i)
{
    char name[32];
    seg_name(name, sizeof name, sp->segs[i].id);
    if (unlinkat(sp->dir_fd, name, 0) < 0 && errno != ENOENT)
        vigil_err("%s spool %s/%s: cannot delete: %s", sp->name, sp->dir, name,
                  strerror(errno));
    memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof *sp->segs);
    sp->nsegs--;
    if (sp->ack_seg > i)
        sp->ack_seg--;
}

static int seg_create(struct vigil_spool *sp, uint32_t id)
{
    char name[32];
    unsigned char h[SEG_HDR];
    seg_name(name, sizeof name, id);
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, SEG_VERSION);
    put32(h + 12, id);
    int fd = openat(sp->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_all(fd, h, SEG_HDR) < 0 || fdatasync(fd) < 0 || fsync(sp->dir_fd) < 0 ||
        seg_push(sp, (struct seg){ .id = id, .size = SEG_HDR }) < 0) {
        int e = errno ? errno : ENOMEM;
        close(fd);
        unlinkat(sp->dir_fd, name, 0);
        errno = e;
        return -1;
    }
    return fd;
}

/* Start a new segment for appends; the old one is synced and closed. */
static int seg_roll(struct vigil_spool *sp)
{
    uint32_t id = sp->nsegs ? sp->segs[sp->nsegs - 1].id + 1 : 1;
    if (sp->fd >= 0 && sp->dirty && fdatasync(sp->fd) < 0)
        return -1;
    int fd = seg_create(sp, id);
    if (fd < 0)
        return -1;
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = fd;
    sp->dirty = 0;
    return 0;
}

/* Move the acknowledgement position past the ends of segments. */
static void ack_normalize(struct vigil_spool *sp)
{
    while (sp->ack_seg + 1 < sp->nsegs && sp->ack_off >= sp->segs[sp->ack_seg].size) {
        sp->ack_seg++;
        sp->ack_off = SEG_HDR;
    }
}

/* An fd to read segment i: the writer's for the last one, else a new one. */
static int seg_open_read(struct vigil_spool *sp, size_t i)
{
    if (i == sp->nsegs - 1)
        return sp->fd;
    char name[32];
    seg_name(name, sizeof name, sp->segs[i].id);
    return openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
}

static void seg_close_read(struct vigil_spool *sp, int fd)
{
    if (fd >= 0 && fd != sp->fd)
        close(fd);
}

/*
 * Mark pending records up to seq (and, with seq UINT64_MAX, the rest of the
 * acknowledgement segment) as done; returns how many records that passed.
 * The records between were written by us or checked at open.
 */
static uint64_t ack_walk(struct vigil_spool *sp, uint64_t seq, int whole_segment)
{
    uint64_t passed = 0;
    for (;;) {
        ack_normalize(sp);
        struct seg *s = &sp->segs[sp->ack_seg];
        if (sp->ack_off >= s->size)
            break;
        int fd = seg_open_read(sp, sp->ack_seg);
        unsigned char h[REC_HDR];
        int ok = fd >= 0 && read_at(fd, h, REC_HDR, sp->ack_off) == 0 && get32(h) == REC_MAGIC;
        if (ok && !whole_segment && get64(h + 8) > seq) {
            seg_close_read(sp, fd);
            break;
        }
        uint64_t next = ok ? sp->ack_off + REC_HDR + get32(h + 4) : s->size;
        if (next > s->size)
            next = s->size;
        if (!ok)
            vigil_err("%s spool %s: segment %" PRIu32 " unreadable at byte %" PRIu64
                      "; skipping the rest of it", sp->name, sp->dir, s->id, sp->ack_off);
        seg_close_read(sp, fd);
        sp->c.pending_bytes -= next - sp->ack_off;
        if (ok) {
            sp->c.pending--;
            passed++;
        } else {
            sp->c.corrupt++;
            sp->c.pending = 0;
            /* recount what is left after this segment */
            for (size_t i = sp->ack_seg + 1; i < sp->nsegs; i++)
                sp->c.pending += sp->segs[i].nrec;
        }
        sp->ack_off = next;
        if (whole_segment && next >= s->size)
            break;
    }
    ack_normalize(sp);
    return passed;
}

/* Delete segments wholly acknowledged; empty the last one when all is. */
static void compact(struct vigil_spool *sp)
{
    while (sp->ack_seg > 0)
        seg_remove(sp, 0);
    struct seg *last = &sp->segs[sp->nsegs - 1];
    if (sp->ack_seg == sp->nsegs - 1 && sp->ack_off >= last->size && last->size > SEG_HDR) {
        if (ftruncate(sp->fd, SEG_HDR) < 0) {
            vigil_err("%s spool %s: cannot truncate: %s", sp->name, sp->dir, strerror(errno));
            return;
        }
        last->size = SEG_HDR;
        last->nrec = 0;
        sp->ack_off = SEG_HDR;
        sp->c.pending_bytes = 0;
    }
}

/* Drop the oldest segments until `need` more bytes fit under the cap. */
static void drop_oldest(struct vigil_spool *sp, uint64_t need)
{
    while (sp->c.pending > 0 && sp->c.pending_bytes + need > sp->max_bytes) {
        ack_normalize(sp);
        size_t i = sp->ack_seg;
        if (sp->ack_off >= sp->segs[i].size)
            break;      /* counts out of step: nothing left to drop */
        if (i == sp->nsegs - 1 && seg_roll(sp) < 0)
            return;     /* cannot free the segment being written: go over */
        uint64_t before = sp->c.pending;
        if (sp->segs[i].last_seq > sp->acked_seq)
            sp->acked_seq = sp->segs[i].last_seq;
        ack_walk(sp, UINT64_MAX, 1);
        sp->c.dropped_oldest += before - sp->c.pending;
        compact(sp);
    }
}

/* ---- open: scan, repair, resume ----------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int list_segments(struct vigil_spool *sp, uint32_t **ids, size_t *n, char *err,
                         size_t errlen)
{
    int fd = dup(sp->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        vigil_seterr(err, errlen, "%s: %s", sp->dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len != 14 || strcmp(nm + 10, ".seg") != 0 || strspn(nm, "0123456789") != 10)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint32_t *g = realloc(*ids, cap * sizeof *g);
            if (g == NULL) {
                closedir(d);
                vigil_seterr(err, errlen, "out of memory");
                return -1;
            }
            *ids = g;
        }
        unsigned long long v = strtoull(nm, NULL, 10);
        if (v == 0 || v > UINT32_MAX)
            continue;
        (*ids)[(*n)++] = (uint32_t)v;
    }
    closedir(d);
    if (*n)
        qsort(*ids, *n, sizeof **ids, cmp_u32);
    return 0;
}

/* Copy the good extents of a segment into a fresh file that replaces it. */
static int rewrite_segment(struct vigil_spool *sp, int fd, uint32_t id, const uint64_t *ext,
                           size_t next, unsigned char *buf, uint64_t *size)
{
    char name[32], tmp[40];
    seg_name(name, sizeof name, id);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int out = openat(sp->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return -1;
    uint64_t total = SEG_HDR;
    int ok = read_at(fd, buf, SEG_HDR, 0) == 0 && write_all(out, buf, SEG_HDR) == 0;
    for (size_t i = 0; ok && i < next; i++) {
        uint64_t off = ext[2 * i], len = ext[2 * i + 1];
        total += len;
        while (ok && len > 0) {
            size_t n = len < VIGIL_SPOOL_MAX_RECORD ? (size_t)len : VIGIL_SPOOL_MAX_RECORD;
            ok = read_at(fd, buf, n, off) == 0 && write_all(out, buf, n) == 0;
            off += n;
            len -= n;
        }
    }
    ok = ok && fdatasync(out) == 0;
    ok = close(out) == 0 && ok;
    if (!ok || renameat(sp->dir_fd, tmp, sp->dir_fd, name) < 0 || fsync(sp->dir_fd) < 0) {
        unlinkat(sp->dir_fd, tmp, 0);
        return -1;
    }
    *size = total;
    return 0;
}

/*
 * Check every record of one segment. A bad record followed by a good one is
 * corruption (the good ones are kept); a bad one with nothing good after it
 * is a torn tail (cut off). Appends the segment to sp->segs.
 */
static int scan_segment(struct vigil_spool *sp, uint32_t id, uint64_t *prev_seq,
                        unsigned char *buf, char *err, size_t errlen)
{
    char name[32];
    seg_name(name, sizeof name, id);
    int fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        vigil_seterr(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char h[SEG_HDR];
    if (size < SEG_HDR) {
        /* Created but its header never made it: nothing was in it. */
        close(fd);
        if (unlinkat(sp->dir_fd, name, 0) < 0) {
            vigil_seterr(err, errlen, "%s/%s: %s", sp->dir, name, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (read_at(fd, h, SEG_HDR, 0) < 0 || memcmp(h, SEG_MAGIC, 8) != 0 ||
        get32(h + 8) != SEG_VERSION) {
        close(fd);
        vigil_seterr(err, errlen, "%s/%s: not a vigil spool segment (version %u); "
                     "move it away", sp->dir, name, SEG_VERSION);
        return -1;
    }
    struct seg s = { .id = id };
    uint64_t *ext = NULL;       /* (offset, length) of good runs when rewriting */
    size_t next = 0, extcap = 0;
    int damaged = 0;
    uint64_t off = SEG_HDR, run = SEG_HDR, bad_bytes = 0;
    while (off < size) {
        uint64_t seq;
        uint32_t len;
        if (rec_valid(fd, off, size, buf, &seq, &len) && seq > *prev_seq) {
            *prev_seq = seq;
            s.nrec++;
            s.last_seq = seq;
            if (seq > sp->acked_seq) {
                sp->c.pending++;
                sp->c.pending_bytes += REC_HDR + len;
            }
            off += REC_HDR + len;
            continue;
        }
        /* Look for the next record that checks out. */
        uint64_t found = find_next_record(fd, off + 1, size, *prev_seq, buf);
        if (!found) {
            vigil_err("%s spool %s/%s: torn record at byte %" PRIu64 " (%" PRIu64
                      " bytes cut off)", sp->name, sp->dir, name, off, size - off);
            sp->c.torn++;
            if (damaged) {
                size = off;     /* the rewrite below stops here */
            } else if (ftruncate(fd, (off_t)off) < 0 || fdatasync(fd) < 0) {
                vigil_seterr(err, errlen, "%s/%s: cannot cut the torn tail: %s", sp->dir,
                             name, strerror(errno));
                close(fd);
                free(ext);
                return -1;
            }
            size = off;
            break;
        }
        /* Corruption in the middle: keep [run, off), skip [off, found). */
        if (next + 1 >= extcap) {
            extcap = extcap ? extcap * 2 : 8;
            uint64_t *g = realloc(ext, extcap * 2 * sizeof *g);
            if (g == NULL) {
                close(fd);
                free(ext);
                vigil_seterr(err, errlen, "out of memory");
                return -1;
            }
            ext = g;
        }
        if (off > run) {
            ext[2 * next] = run;
            ext[2 * next + 1] = off - run;
            next++;
        }
        bad_bytes += found - off;
        sp->c.corrupt++;
        damaged = 1;
        off = run = found;
    }
    if (damaged) {
        if (size > run) {
            ext[2 * next] = run;
            ext[2 * next + 1] = size - run;
            next++;
        }
        vigil_err("%s spool %s/%s: %" PRIu64 " damaged bytes skipped; the records around "
                  "them are kept", sp->name, sp->dir, name, bad_bytes);
        if (rewrite_segment(sp, fd, id, ext, next, buf, &size) < 0) {
            vigil_seterr(err, errlen, "%s/%s: cannot rewrite the damaged segment: %s",
                         sp->dir, name, strerror(errno));
            close(fd);
            free(ext);
            return -1;
        }
    }
    free(ext);
    close(fd);
    s.size = size;
    if (seg_push(sp, s) < 0) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Position the acknowledgement at the first record above acked_seq. */
static void ack_locate(struct vigil_spool *sp)
{
    sp->ack_seg = 0;
    sp->ack_off = SEG_HDR;
    for (size_t i = 0; i < sp->nsegs; i++) {
        sp->ack_seg = i;
        sp->ack_off = SEG_HDR;
        if (sp->segs[i].last_seq > sp->acked_seq)
            break;
        sp->ack_off = sp->segs[i].size;
    }
    /* inside the segment: walk to the first record above acked_seq */
    struct seg *s = &sp->segs[sp->ack_seg];
    if (sp->ack_off >= s->size)
        return;
    int fd = seg_open_read(sp, sp->ack_seg);
    while (fd >= 0 && sp->ack_off < s->size) {
        unsigned char h[REC_HDR];
        if (read_at(fd, h, REC_HDR, sp->ack_off) < 0 || get64(h + 8) > sp->acked_seq)
            break;
        sp->ack_off += REC_HDR + get32(h + 4);
    }
    seg_close_read(sp, fd);
}

struct vigil_spool *vigil_spool_open(const struct vigil_spool_options *opt, char *err,
                                     size_t errlen)
{
    if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0') {
        vigil_seterr(err, errlen, "spool: no directory given");
        return NULL;
    }
    if (opt->max_bytes < 1024) {
        vigil_seterr(err, errlen, "spool %s: size cap %" PRIu64 " bytes is too small",
                     opt->dir, opt->max_bytes);
        return NULL;
    }
    struct vigil_spool *sp = calloc(1, sizeof *sp);
    unsigned char *buf = malloc(VIGIL_SPOOL_MAX_RECORD);
    uint32_t *ids = NULL;
    size_t nids = 0;
    if (sp == NULL || buf == NULL || (sp->dir = strdup(opt->dir)) == NULL) {
        free(sp);
        free(buf);
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&sp->mu, NULL);
    pthread_mutex_init(&sp->ack_mu, NULL);
    snprintf(sp->name, sizeof sp->name, "%s", opt->name ? opt->name : "output");
    sp->dir_fd = sp->lock_fd = sp->fd = -1;
    sp->max_bytes = opt->max_bytes;
    sp->seg_bytes = opt->segment_bytes;
    if (sp->seg_bytes == 0) {
        sp->seg_bytes = opt->max_bytes / 8;
        if (sp->seg_bytes < 4096)
            sp->seg_bytes = 4096;
        if (sp->seg_bytes > (32u << 20))
            sp->seg_bytes = 32u << 20;
    }
    sp->when_full = opt->when_full;
    sp->sync_every = opt->sync_every_record;
    sp->mem_max = opt->memory_bytes;

    if (mkdirs(opt->dir) < 0 ||
        (sp->dir_fd = open(opt->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        vigil_seterr(err, errlen, "spool directory %s: %s", opt->dir, strerror(errno));
        goto fail;
    }
    struct stat dst;
    if (fstat(sp->dir_fd, &dst) == 0 && (dst.st_mode & 077))
        vigil_err("%s spool %s: the directory is accessible by group or others (mode %04o); "
                  "the alerts in it are not private: chmod 700 it", sp->name, opt->dir,
                  (unsigned)(dst.st_mode & 07777));
    sp->lock_fd = openat(sp->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (sp->lock_fd < 0) {
        vigil_seterr(err, errlen, "spool %s/lock: %s", opt->dir, strerror(errno));
        goto fail;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        vigil_seterr(err, errlen, "spool %s is in use by another process", opt->dir);
        goto fail;
    }
    if (read_ack_file(sp, &sp->acked_seq, err, errlen) < 0)
        goto fail;
    sp->durable_seq = sp->acked_seq;
    unlinkat(sp->dir_fd, ACK_TMP, 0);
    if (list_segments(sp, &ids, &nids, err, errlen) < 0)
        goto fail;
    uint64_t prev = 0;
    for (size_t i = 0; i < nids; i++) {
        char tmp[40];
        seg_name(tmp, sizeof tmp, ids[i]);
        strcat(tmp, ".tmp");
        unlinkat(sp->dir_fd, tmp, 0);
        if (scan_segment(sp, ids[i], &prev, buf, err, errlen) < 0)
            goto fail;
    }
    sp->next_seq = (prev > sp->acked_seq ? prev : sp->acked_seq) + 1;
    if (sp->nsegs == 0) {
        sp->fd = seg_create(sp, nids ? ids[nids - 1] + 1 : 1);
    } else {
        char name[32];
        seg_name(name, sizeof name, sp->segs[sp->nsegs - 1].id);
        sp->fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
    }
    if (sp->fd < 0) {
        vigil_seterr(err, errlen, "spool %s: cannot open a segment: %s", opt->dir,
                     strerror(errno));
        goto fail;
    }
    ack_locate(sp);
    compact(sp);
    sp->c.recovered = sp->c.pending;
    free(ids);
    free(buf);
    return sp;
fail:
    free(ids);
    free(buf);
    vigil_spool_close(sp);
    return NULL;
}

int vigil_spool_close(struct vigil_spool *sp)
{
    if (sp == NULL)
        return 0;
    int rc = 0;
    if (sp->wq_head && sp->fd >= 0 && vigil_spool_retry(sp, 1) < 0) {
        vigil_err("%s spool %s: still cannot write at the end (%s); the %" PRIu64
                  " records waiting in memory are lost", sp->name, sp->dir,
                  strerror(sp->last_errno), sp->c.waiting);
        rc = -1;
    }
    while (sp->wq_head) {
        sp->c.unpersisted++;
        wq_pop(sp);
    }
    if (sp->fd >= 0) {
        if (sp->dirty && fdatasync(sp->fd) < 0) {
            vigil_err("%s spool %s: sync failed: %s", sp->name, sp->dir, strerror(errno));
            rc = -1;
        }
        close(sp->fd);
    }
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    pthread_mutex_destroy(&sp->mu);
    pthread_mutex_destroy(&sp->ack_mu);
    free(sp->segs);
    free(sp->dir);
    free(sp);
    return rc;
}

/* ---- append ------------------------------------------------------------- */

static int append_locked(struct vigil_spool *sp, const void *data, size_t len)
{
    uint64_t need = REC_HDR + (uint64_t)len;
    if (need > sp->max_bytes) {
        sp->c.dropped_new++;
        vigil_err("%s spool %s: a record of %zu bytes is larger than the cap (%" PRIu64
                  " bytes); dropped", sp->name, sp->dir, len, sp->max_bytes);
        return 1;
    }
    if (sp->c.pending_bytes + need > sp->max_bytes) {
        if (sp->when_full == VIGIL_SPOOL_DROP_NEW) {
            sp->c.dropped_new++;
            if (!sp->full)
                vigil_err("%s spool %s is full (%" PRIu64 " bytes pending, cap %" PRIu64
                          "): new records are dropped (drop_new) and counted",
                          sp->name, sp->dir, sp->c.pending_bytes, sp->max_bytes);
            sp->full = 1;
            return 1;
        }
        if (!sp->full)
            vigil_err("%s spool %s is full (cap %" PRIu64 " bytes): the oldest records "
                      "are dropped (drop_oldest) and counted", sp->name, sp->dir,
                      sp->max_bytes);
        sp->full = 1;
        drop_oldest(sp, need);
    } else if (sp->full && sp->c.pending_bytes + need <= sp->max_bytes / 2) {
        vigil_err("%s spool %s: below its cap again (%" PRIu64 " dropped so far)",
                  sp->name, sp->dir, sp->c.dropped_oldest + sp->c.dropped_new);
        sp->full = 0;
    }
    struct seg *last = &sp->segs[sp->nsegs - 1];
    if (last->size >= sp->seg_bytes && last->nrec > 0) {
        if (seg_roll(sp) < 0)
            return -1;
        last = &sp->segs[sp->nsegs - 1];
    }
    unsigned char h[REC_HDR];
    rec_header(h, sp->next_seq, data, len);
    struct iovec iov[2] = { { h, REC_HDR }, { (void *)(uintptr_t)data, len } };
    uint64_t off = last->size, done = 0;
    while (done < need) {
        /* skip what is already written */
        struct iovec v[2];
        int nv = 0;
        for (int i = 0, pos = 0; i < 2; pos += (int)iov[i].iov_len, i++) {
            uint64_t end = (uint64_t)pos + iov[i].iov_len;
            if (end <= done)
                continue;
            uint64_t skip = done > (uint64_t)pos ? done - (uint64_t)pos : 0;
            v[nv].iov_base = (unsigned char *)iov[i].iov_base + skip;
            v[nv].iov_len = iov[i].iov_len - skip;
            nv++;
        }
        ssize_t n = pwritev(sp->fd, v, nv, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            if (ftruncate(sp->fd, (off_t)off) < 0) {
                /* the next append overwrites the partial record anyway */
            }
            errno = e;
            return -1;
        }
        done += (uint64_t)n;
    }
    last->size += need;
    last->nrec++;
    last->last_seq = sp->next_seq;
    sp->next_seq++;
    sp->c.pending++;
    sp->c.pending_bytes += need;
    sp->c.appended++;
    sp->dirty = 1;
    if (sp->sync_every) {
        if (fdatasync(sp->fd) < 0)
            return -1;
        sp->dirty = 0;
    }
    return 0;
}

/* ---- the disk cannot take records: hold them in memory ------------------- */

/* An append failed with err: count it, and say so once per episode. */
static void write_failed(struct vigil_spool *sp, int err)
{
    sp->c.write_errors++;
    sp->last_errno = err;
    sp->next_try_ms = mono_ms() + RETRY_MS;
    if (sp->degraded)
        return;
    sp->degraded = 1;
    sp->since_ms = mono_ms();
    sp->ep_waited = sp->ep_lost = 0;
    if (sp->mem_max > 0)
        vigil_err("%s spool %s: cannot write: %s; holding up to %" PRIu64 " KiB of records "
                  "in memory (the oldest are lost and counted beyond that), trying again "
                  "every %d s", sp->name, sp->dir, strerror(err), (sp->mem_max + 1023) / 1024,
                  RETRY_MS / 1000);
    else
        vigil_err("%s spool %s: cannot write: %s; records are lost until it can "
                  "(counted)", sp->name, sp->dir, strerror(err));
}

static void write_recovered(struct vigil_spool *sp)
{
    vigil_err("%s spool %s: writing again after %.1f s; %" PRIu64 " records waited in "
              "memory and were written, %" PRIu64 " lost", sp->name, sp->dir,
              (double)(mono_ms() - sp->since_ms) / 1000.0, sp->ep_waited - sp->ep_lost,
              sp->ep_lost);
    sp->degraded = 0;
}

static void wq_pop(struct vigil_spool *sp)
{
    struct waiting *w = sp->wq_head;
    sp->wq_head = w->next;
    if (sp->wq_head == NULL)
        sp->wq_tail = NULL;
    sp->c.waiting--;
    sp->c.waiting_bytes -= w->len;
    free(w);
}

/* Keep a record for the disk. 0, or -1 when a record was lost doing so. */
static int wq_push(struct vigil_spool *sp, const void *data, size_t len)
{
    int lost = 0;
    sp->ep_waited++;
    if (len > sp->mem_max) {
        sp->c.unpersisted++;
        sp->ep_lost++;
        errno = sp->last_errno ? sp->last_errno : ENOSPC;
        return -1;
    }
    while (sp->wq_head && sp->c.waiting_bytes + len > sp->mem_max) {
        wq_pop(sp);
        sp->c.unpersisted++;
        sp->ep_lost++;
        lost = 1;
    }
    struct waiting *w = malloc(sizeof *w + len);
    if (w == NULL) {
        sp->c.unpersisted++;
        sp->ep_lost++;
        errno = ENOMEM;
        return -1;
    }
    w->next = NULL;
    w->len = len;
    memcpy(w->data, data, len);
    if (sp->wq_tail)
        sp->wq_tail->next = w;
    else
        sp->wq_head = w;
    sp->wq_tail = w;
    sp->c.waiting++;
    sp->c.waiting_bytes += len;
    if (lost) {
        errno = sp->last_errno ? sp->last_errno : ENOSPC;
        return -1;
    }
    return 0;
}

/* Write what waits, oldest first. 0 when none is left, -1 when the disk
 * still fails. */
static int wq_drain(struct vigil_spool *sp)
{
    while (sp->wq_head) {
        int rc = append_locked(sp, sp->wq_head->data, sp->wq_head->len);
        if (rc < 0) {
            write_failed(sp, errno);
            return -1;
        }
        if (rc == 0)
            sp->c.delayed++;
        wq_pop(sp);     /* rc 1: refused by the cap policy, counted there */
    }
    return 0;
}

int vigil_spool_append(struct vigil_spool *sp, const void *data, size_t len)
{
    if (len == 0 || len > VIGIL_SPOOL_MAX_RECORD) {
        pthread_mutex_lock(&sp->mu);
        sp->c.dropped_new++;
        pthread_mutex_unlock(&sp->mu);
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&sp->mu);
    int rc;
    if (sp->degraded && sp->wq_head && (mono_ms() < sp->next_try_ms || wq_drain(sp) < 0)) {
        rc = wq_push(sp, data, len);    /* behind the others: order is kept */
    } else {
        /* healthy, or nothing waits (any more): this record tests the disk */
        rc = append_locked(sp, data, len);
        if (rc < 0) {
            write_failed(sp, errno);
            rc = wq_push(sp, data, len);
        } else if (sp->degraded) {
            write_recovered(sp);
        }
    }
    int err = errno;
    pthread_mutex_unlock(&sp->mu);
    errno = err;
    return rc;
}

int vigil_spool_retry(struct vigil_spool *sp, int force)
{
    pthread_mutex_lock(&sp->mu);
    int rc = 0;
    if (sp->wq_head) {
        rc = -1;
        if ((force || mono_ms() >= sp->next_try_ms) && wq_drain(sp) == 0) {
            write_recovered(sp);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* ---- read and acknowledge ----------------------------------------------- */

static int batch_reserve(struct vigil_spool_batch *b, size_t bytes)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct vigil_spool_record *r = realloc(b->recs, cap * sizeof *r);
        if (r == NULL)
            return -1;
        b->recs = r;
        b->cap = cap;
    }
    if (b->used + bytes > b->bufcap) {
        size_t cap = b->bufcap ? b->bufcap : 4096;
        while (cap < b->used + bytes)
            cap *= 2;
        unsigned char *nb = realloc(b->buf, cap);
        if (nb == NULL)
            return -1;
        b->buf = nb;
        b->bufcap = cap;
    }
    return 0;
}

int vigil_spool_peek(struct vigil_spool *sp, size_t max_records, size_t max_bytes,
                     struct vigil_spool_batch *b)
{
    b->count = 0;
    b->used = 0;
    pthread_mutex_lock(&sp->mu);
    ack_normalize(sp);
    size_t si = sp->ack_seg;
    uint64_t off = sp->ack_off;
    int rc = 0;
    while (b->count < max_records) {
        if (off >= sp->segs[si].size) {
            if (si + 1 >= sp->nsegs)
                break;
            si++;
            off = SEG_HDR;
            continue;
        }
        int fd = seg_open_read(sp, si);
        unsigned char h[REC_HDR];
        if (fd < 0 || read_at(fd, h, REC_HDR, off) < 0) {
            seg_close_read(sp, fd);
            rc = -1;
            break;
        }
        uint32_t len = get32(h + 4);
        if (b->count > 0 && b->used + len > max_bytes) {
            seg_close_read(sp, fd);
            break;
        }
        int ok = get32(h) == REC_MAGIC && len > 0 && len <= VIGIL_SPOOL_MAX_RECORD &&
                 off + REC_HDR + len <= sp->segs[si].size;
        if (ok && batch_reserve(b, len) < 0) {
            seg_close_read(sp, fd);
            rc = -1;
            errno = ENOMEM;
            break;
        }
        ok = ok && read_at(fd, b->buf + b->used, len, off + REC_HDR) == 0 &&
             vigil_crc32c(vigil_crc32c(0, h + 4, 12), b->buf + b->used, len) == get32(h + 16);
        seg_close_read(sp, fd);
        if (!ok) {
            /* Damaged after it was checked: its segment cannot be walked further. */
            if (b->count > 0)
                break;  /* deliver what came before first */
            if (si == sp->nsegs - 1 && seg_roll(sp) < 0) {
                rc = -1;
                break;
            }
            ack_walk(sp, UINT64_MAX, 1);
            compact(sp);
            si = sp->ack_seg;
            off = sp->ack_off;
            continue;
        }
        b->recs[b->count++] = (struct vigil_spool_record){
            .seq = get64(h + 8), .data = NULL, .len = len,
        };
        b->used += len;
        off += REC_HDR + len;
    }
    pthread_mutex_unlock(&sp->mu);
    size_t pos = 0;
    for (size_t i = 0; i < b->count; i++) {
        b->recs[i].data = b->buf + pos;
        pos += b->recs[i].len;
    }
    return rc;
}

void vigil_spool_batch_free(struct vigil_spool_batch *b)
{
    free(b->recs);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

int vigil_spool_ack(struct vigil_spool *sp, uint64_t seq)
{
    pthread_mutex_lock(&sp->ack_mu);
    pthread_mutex_lock(&sp->mu);
    if (seq >= sp->next_seq)
        seq = sp->next_seq - 1;
    int need = seq > sp->durable_seq;
    pthread_mutex_unlock(&sp->mu);
    int rc = 0;
    int saved = 0;
    if (need && write_ack_file(sp, seq) < 0) {
        saved = errno;
        unlinkat(sp->dir_fd, ACK_TMP, 0);
        rc = -1;    /* the caller says so, once */
    }
    /* Delivered either way: without the file, a restart only sends them again. */
    pthread_mutex_lock(&sp->mu);
    if (rc == 0 && seq > sp->durable_seq)
        sp->durable_seq = seq;
    if (seq > sp->acked_seq)
        sp->acked_seq = seq;
    sp->c.acked += ack_walk(sp, seq, 0);
    compact(sp);
    if (sp->full && sp->c.pending_bytes <= sp->max_bytes / 2) {
        vigil_err("%s spool %s: below its cap again (%" PRIu64 " dropped so far)", sp->name,
                  sp->dir, sp->c.dropped_oldest + sp->c.dropped_new);
        sp->full = 0;
    }
    pthread_mutex_unlock(&sp->mu);
    pthread_mutex_unlock(&sp->ack_mu);
    if (rc < 0)
        errno = saved;
    return rc;
}

int vigil_spool_sync(struct vigil_spool *sp)
{
    pthread_mutex_lock(&sp->mu);
    int fd = sp->dirty ? dup(sp->fd) : -1;
    int failed = sp->dirty && fd < 0;
    sp->dirty = 0;
    pthread_mutex_unlock(&sp->mu);
    if (fd >= 0) {
        failed = fdatasync(fd) < 0;
        close(fd);
    }
    if (failed) {
        pthread_mutex_lock(&sp->mu);
        sp->dirty = 1;
        pthread_mutex_unlock(&sp->mu);
        return -1;
    }
    return 0;
}

void vigil_spool_counters(struct vigil_spool *sp, struct vigil_spool_counters *c)
{
    pthread_mutex_lock(&sp->mu);
    *c = sp->c;
    pthread_mutex_unlock(&sp->mu);
}
