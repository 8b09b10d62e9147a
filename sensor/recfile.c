/*
 * recfile.c - whole records to a file, through a full disk and back (see
 * recfile.h for what is promised).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "recfile.h"

#define DEFAULT_RETRY_US 1000000

/* A record waiting in memory. */
struct held {
    struct held *next;
    size_t len;
    size_t done;        /* bytes already in the file that could not be cut off */
    int kind;
    char data[];
};

struct vigil_recfile {
    int fd;
    int owned;          /* opened here: closed here (standard output is not) */
    int regular;        /* a regular file: a torn tail can be cut off */
    char *path;
    char what[32];
    size_t backlog_max;
    int64_t retry_us;
    const char *const *kind_names;
    struct held *head, *tail;
    int64_t next_try_us;
    int64_t since_us;   /* degraded since */
    int last_errno;
    uint64_t ep_held, ep_dropped;   /* this degraded episode */
    uint64_t ep_dropped_kind[VIGIL_RECFILE_KINDS];
    struct vigil_recfile_counters c;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int is_regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Write rec[*done..len). 0 when all of it is out; -1 with errno, *done
 * telling how much did get out. */
static int put(int fd, const char *rec, size_t len, size_t *done)
{
    while (*done < len) {
        ssize_t n = write(fd, rec + *done, len - *done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return -1;
        }
        *done += (size_t)n;
    }
    return 0;
}

/* The last *done bytes of the file belong to a record that did not get out
 * whole: cut them off (regular files only). *done is 0 when that worked. */
static void cut_back(struct vigil_recfile *rf, size_t *done)
{
    struct stat st;
    if (*done == 0 || !rf->regular || fstat(rf->fd, &st) < 0 ||
        (uint64_t)st.st_size < *done)
        return;
    if (ftruncate(rf->fd, st.st_size - (off_t)*done) == 0) {
        rf->c.cut_bytes += *done;
        *done = 0;
    }
}

static const char *kind_name(const struct vigil_recfile *rf, int k)
{
    return rf->kind_names && rf->kind_names[k] ? rf->kind_names[k] : "records";
}

/* " (3 alerts, 1 stats)", or "" without kind names. */
static void kind_breakdown(const struct vigil_recfile *rf, const uint64_t *n, char *buf,
                           size_t len)
{
    buf[0] = '\0';
    if (rf->kind_names == NULL)
        return;
    size_t o = 0;
    for (int k = 0; k < VIGIL_RECFILE_KINDS && o < len; k++)
        o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64 " %s", k ? ", " : " (", n[k],
                              kind_name(rf, k));
    if (o < len)
        snprintf(buf + o, len - o, ")");
}

/* A write attempt failed with err: count it, and say so once per episode. */
static void failed(struct vigil_recfile *rf, int err)
{
    rf->c.write_errors++;
    rf->last_errno = err;
    if (rf->c.first_errno == 0)
        rf->c.first_errno = err;
    rf->next_try_us = now_us() + rf->retry_us;
    if (rf->c.degraded)
        return;
    rf->c.degraded = 1;
    rf->since_us = now_us();
    rf->ep_held = rf->ep_dropped = 0;
    memset(rf->ep_dropped_kind, 0, sizeof rf->ep_dropped_kind);
    if (rf->backlog_max > 0)
        vigil_err("%s %s: cannot write: %s; holding up to %zu KiB of records in memory "
                  "(the oldest are dropped and counted beyond that), trying again every "
                  "%.1f s", rf->what, rf->path, strerror(err), (rf->backlog_max + 1023) / 1024,
                  (double)rf->retry_us / 1e6);
    else
        vigil_err("%s %s: cannot write: %s; records are dropped and counted until it "
                  "can be written (trying again every %.1f s)", rf->what, rf->path,
                  strerror(err), (double)rf->retry_us / 1e6);
}

/* Writing works again after an episode. */
static void recovered(struct vigil_recfile *rf)
{
    char kinds[96];
    kind_breakdown(rf, rf->ep_dropped_kind, kinds, sizeof kinds);
    vigil_err("%s %s: writing again after %.1f s; %" PRIu64 " records were held and "
              "written late, %" PRIu64 " dropped%s", rf->what, rf->path,
              (double)(now_us() - rf->since_us) / 1e6, rf->ep_held - rf->ep_dropped,
              rf->ep_dropped, rf->ep_dropped ? kinds : "");
    rf->c.degraded = 0;
}

static void count_drop(struct vigil_recfile *rf, int kind)
{
    rf->c.dropped++;
    rf->c.dropped_kind[kind]++;
    rf->ep_dropped++;
    rf->ep_dropped_kind[kind]++;
}

static void free_head(struct vigil_recfile *rf)
{
    struct held *h = rf->head;
    rf->head = h->next;
    if (rf->head == NULL)
        rf->tail = NULL;
    rf->c.held--;
    rf->c.held_bytes -= h->len;
    free(h);
}

/* Drop the oldest held record that may go: not one partly written already
 * (that one must be finished, or the reader would see half a line). */
static int drop_oldest(struct vigil_recfile *rf)
{
    struct held *prev = NULL, *h = rf->head;
    if (h != NULL && h->done > 0) {
        prev = h;
        h = h->next;
    }
    if (h == NULL)
        return -1;
    count_drop(rf, h->kind);
    if (prev == NULL) {
        free_head(rf);
        return 0;
    }
    prev->next = h->next;
    if (rf->tail == h)
        rf->tail = prev;
    rf->c.held--;
    rf->c.held_bytes -= h->len;
    free(h);
    return 0;
}

/* Keep a record for later (done bytes of it already in the file). 0, or -1
 * when this call had to drop a record. */
static int hold(struct vigil_recfile *rf, const char *rec, size_t len, int kind, size_t done)
{
    int dropped = 0;
    rf->ep_held++;
    if (done == 0 && len > rf->backlog_max) {
        count_drop(rf, kind);
        errno = rf->last_errno ? rf->last_errno : ENOSPC;
        return -1;
    }
    while (rf->c.held_bytes + len > rf->backlog_max && drop_oldest(rf) == 0)
        dropped = 1;
    if (done == 0 && rf->c.held_bytes + len > rf->backlog_max) {
        count_drop(rf, kind);       /* only a partly written record is left */
        errno = rf->last_errno ? rf->last_errno : ENOSPC;
        return -1;
    }
    struct held *h = malloc(sizeof *h + len);
    if (h == NULL) {
        count_drop(rf, kind);
        errno = ENOMEM;
        return -1;
    }
    h->next = NULL;
    h->len = len;
    h->done = done;
    h->kind = kind;
    memcpy(h->data, rec, len);
    if (rf->tail)
        rf->tail->next = h;
    else
        rf->head = h;
    rf->tail = h;
    rf->c.held++;
    rf->c.held_bytes += len;
    if (dropped) {
        errno = rf->last_errno ? rf->last_errno : ENOSPC;
        return -1;
    }
    return 0;
}

/* Write the held records in order. 0 when none is left, -1 when one failed. */
static int drain(struct vigil_recfile *rf)
{
    while (rf->head) {
        struct held *h = rf->head;
        if (put(rf->fd, h->data, h->len, &h->done) < 0) {
            int err = errno;
            cut_back(rf, &h->done);
            failed(rf, err);
            return -1;
        }
        rf->c.written++;
        rf->c.delayed++;
        free_head(rf);
    }
    return 0;
}

struct vigil_recfile *vigil_recfile_open(const char *path,
                                         const struct vigil_recfile_options *opt,
                                         char *err, size_t errlen)
{
    if (path == NULL) {
        vigil_seterr(err, errlen, "no output path");
        return NULL;
    }
    int to_stdout = strcmp(path, "-") == 0;
    int fd = to_stdout ? STDOUT_FILENO
                       : open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    const char *what = opt && opt->what ? opt->what : "output";
    if (fd < 0) {
        vigil_seterr(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct vigil_recfile *rf = calloc(1, sizeof *rf);
    if (rf == NULL || (rf->path = strdup(path)) == NULL) {
        free(rf);
        if (!to_stdout)
            close(fd);
        vigil_seterr(err, errlen, "cannot open %s %s: out of memory", what, path);
        return NULL;
    }
    if (to_stdout)
        fflush(stdout);     /* nothing stdio holds may come after our records */
    rf->fd = fd;
    rf->owned = !to_stdout;
    rf->regular = is_regular(fd);
    snprintf(rf->what, sizeof rf->what, "%s", what);
    rf->backlog_max = opt ? opt->backlog_bytes : 0;
    rf->retry_us = opt && opt->retry_us > 0 ? opt->retry_us : DEFAULT_RETRY_US;
    rf->kind_names = opt ? opt->kind_names : NULL;
    return rf;
}

int vigil_recfile_write(struct vigil_recfile *rf, const char *rec, size_t len, int kind)
{
    if (len == 0)
        return 0;
    if (kind < 0 || kind >= VIGIL_RECFILE_KINDS)
        kind = 0;
    /* While records wait, this one goes behind them (at most one attempt
     * per retry interval); with none waiting it is the test of the file. */
    if (rf->c.degraded && rf->head && (now_us() < rf->next_try_us || drain(rf) < 0))
        return hold(rf, rec, len, kind, 0);
    size_t done = 0;
    if (put(rf->fd, rec, len, &done) == 0) {
        rf->c.written++;
        if (rf->c.degraded)
            recovered(rf);
        return 0;
    }
    int err = errno;
    cut_back(rf, &done);
    failed(rf, err);
    return hold(rf, rec, len, kind, done);
}

void vigil_recfile_tick(struct vigil_recfile *rf)
{
    /* With nothing held, the next record tests the file. */
    if (rf && rf->c.degraded && rf->head && now_us() >= rf->next_try_us && drain(rf) == 0)
        recovered(rf);
}

int vigil_recfile_reopen(struct vigil_recfile *rf)
{
    if (!rf->owned)
        return 0;
    int nfd = open(rf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (nfd < 0) {
        vigil_err("cannot reopen %s %s: %s; still writing the old file", rf->what, rf->path,
                  strerror(errno));
        return -1;
    }
    /* A record partly in the old file goes whole into the new one. */
    if (rf->head && rf->head->done > 0) {
        cut_back(rf, &rf->head->done);
        rf->head->done = 0;
    }
    close(rf->fd);
    rf->fd = nfd;
    rf->regular = is_regular(nfd);
    if (rf->c.degraded && rf->head && drain(rf) == 0)
        recovered(rf);
    return 0;
}

int vigil_recfile_close(struct vigil_recfile *rf)
{
    if (rf == NULL)
        return 0;
    if (rf->head) {
        if (drain(rf) == 0)
            recovered(rf);
    }
    if (rf->head) {
        vigil_err("%s %s: still cannot write at the end (%s); the %" PRIu64
                  " records held in memory are lost", rf->what, rf->path,
                  strerror(rf->last_errno), rf->c.held);
        while (rf->head) {
            count_drop(rf, rf->head->kind);
            free_head(rf);
        }
    }
    if (rf->c.dropped > 0) {
        char kinds[96];
        kind_breakdown(rf, rf->c.dropped_kind, kinds, sizeof kinds);
        vigil_err("%s %s: %" PRIu64 " records lost this run%s; first error: %s", rf->what,
                  rf->path, rf->c.dropped, kinds,
                  strerror(rf->c.first_errno ? rf->c.first_errno : EIO));
    }
    int rc = rf->c.dropped > 0 ? -1 : 0;
    int err = rf->c.first_errno ? rf->c.first_errno : EIO;
    if (rf->owned && close(rf->fd) < 0) {
        if (rc == 0)
            err = errno;
        rc = -1;
    }
    free(rf->path);
    free(rf);
    if (rc < 0)
        errno = err;
    return rc;
}

void vigil_recfile_counters(const struct vigil_recfile *rf, struct vigil_recfile_counters *c)
{
    *c = rf->c;
}

const char *vigil_recfile_path(const struct vigil_recfile *rf)
{
    return rf->path;
}

int vigil_recfile_fd(const struct vigil_recfile *rf)
{
    return rf->fd;
}
