/* capture.c - capture files merged by time, and live interfaces. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture.h"
#include "decode.h"
#include "dirlist.h"
#include "log.h"
#include "workers.h"

#define CAPTURE_MAX_FILES 4096

struct source {
    pcap_t *p;
    char *path;
    int dlt;
    uint64_t records;           /* records read so far */
    uint64_t size;              /* file size, for progress */
    uint64_t consumed;          /* approximate bytes read (records + headers) */
    /* The packet read ahead, so the earliest of all files goes first. */
    struct pcap_pkthdr hdr;
    const u_char *data;
    int pending;
    int done;
};

struct vigil_capture {
    struct source *src;
    size_t nsrc;
    int live;
    /* Live: 64-bit totals of libpcap's 32-bit recv/drop/ifdrop counters. */
    uint32_t kstat_last[3];
    uint64_t kstat_total[3];
};

static void close_sources(struct vigil_capture *c)
{
    for (size_t i = 0; i < c->nsrc; i++) {
        if (c->src[i].p)
            pcap_close(c->src[i].p);
        free(c->src[i].path);
    }
    free(c->src);
    c->src = NULL;
    c->nsrc = 0;
}

void vigil_capture_close(struct vigil_capture *c)
{
    if (c == NULL)
        return;
    close_sources(c);
    free(c);
}

size_t vigil_capture_file_count(const struct vigil_capture *c)
{
    return c->live ? 0 : c->nsrc;
}

/* ---- opening -------------------------------------------------------------- */

static int check_link(pcap_t *p, const char *name, char *err, size_t errlen)
{
    int dlt = pcap_datalink(p);
    if (vigil_decode_dlt_supported(dlt))
        return 0;
    const char *dname = pcap_datalink_val_to_name(dlt);
    vigil_seterr(err, errlen, "%s: unsupported link type %d (%s)", name, dlt,
                 dname ? dname : "unknown");
    return -1;
}

static int set_filter(pcap_t *p, const char *bpf, const char *name,
                      char *err, size_t errlen)
{
    if (bpf == NULL || bpf[0] == '\0')
        return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        vigil_seterr(err, errlen, "bad filter '%s': %s", bpf, pcap_geterr(p));
        return -1;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        vigil_seterr(err, errlen, "%s: cannot set filter '%s': %s", name, bpf,
                     pcap_geterr(p));
        return -1;
    }
    return 0;
}

/* pcap or pcapng magic in the first four bytes. */
static int looks_like_capture(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    unsigned char m[4];
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    if (n != 4)
        return 0;
    uint32_t le = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 |
                  (uint32_t)m[3] << 24;
    return le == 0xa1b2c3d4 || le == 0xd4c3b2a1 || le == 0xa1b23c4d ||
           le == 0x4d3cb2a1 || le == 0x0a0d0d0a;
}

static int add_path(struct vigil_capture *c, const char *path, char *err, size_t errlen)
{
    if (c->nsrc >= CAPTURE_MAX_FILES) {
        vigil_seterr(err, errlen, "%s: more than %d capture files", path,
                     CAPTURE_MAX_FILES);
        return -1;
    }
    struct source *ns = realloc(c->src, (c->nsrc + 1) * sizeof *ns);
    if (ns == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    c->src = ns;
    memset(&c->src[c->nsrc], 0, sizeof *ns);
    c->src[c->nsrc].path = strdup(path);
    if (c->src[c->nsrc].path == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    c->nsrc++;
    return 0;
}

static int is_capture(const char *name, const char *path)
{
    (void)name;
    return looks_like_capture(path);
}

/* Add every capture file of a directory, in name order. */
static int add_dir(struct vigil_capture *c, const char *dir, char *err, size_t errlen)
{
    struct vigil_dirlist files;
    if (vigil_dirlist_read(&files, dir, is_capture, CAPTURE_MAX_FILES, err, errlen) < 0)
        return -1;
    int rc = 0;
    if (files.count == 0) {
        vigil_seterr(err, errlen, "%s: no capture files in this directory", dir);
        rc = -1;
    }
    for (size_t i = 0; i < files.count && rc == 0; i++)
        rc = add_path(c, files.paths[i], err, errlen);
    vigil_dirlist_free(&files);
    return rc;
}

static int open_source(struct source *s, const char *bpf, char *err, size_t errlen,
                       int *exit_code)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    s->p = pcap_open_offline_with_tstamp_precision(s->path, PCAP_TSTAMP_PRECISION_MICRO,
                                                   pcap_err);
    if (s->p == NULL) {
        vigil_seterr(err, errlen, "%s: not a readable capture: %s", s->path, pcap_err);
        *exit_code = 1;
        return -1;
    }
    if (check_link(s->p, s->path, err, errlen) < 0 ||
        set_filter(s->p, bpf, s->path, err, errlen) < 0) {
        *exit_code = 2;
        return -1;
    }
    s->dlt = pcap_datalink(s->p);
    struct stat st;
    if (stat(s->path, &st) == 0)
        s->size = (uint64_t)st.st_size;
    return 0;
}

struct vigil_capture *vigil_capture_open_files(char *const *paths, size_t npaths,
                                               const char *bpf, char *err,
                                               size_t errlen, int *exit_code)
{
    struct vigil_capture *c = calloc(1, sizeof *c);
    *exit_code = 1;
    if (c == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0) {
            vigil_seterr(err, errlen, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        int rc = S_ISDIR(st.st_mode) ? add_dir(c, paths[i], err, errlen)
                                     : add_path(c, paths[i], err, errlen);
        if (rc < 0)
            goto fail;
    }
    for (size_t i = 0; i < c->nsrc; i++)
        if (open_source(&c->src[i], bpf, err, errlen, exit_code) < 0)
            goto fail;
    *exit_code = 0;
    return c;
fail:
    vigil_capture_close(c);
    return NULL;
}

static int live_error_code(int status)
{
    return status == PCAP_ERROR_NO_SUCH_DEVICE || status == PCAP_ERROR_PERM_DENIED ||
                   status == PCAP_ERROR_PROMISC_PERM_DENIED || status == PCAP_ERROR_IFACE_NOT_UP
               ? 1 : 1;
}

static void discard(u_char *u, const struct pcap_pkthdr *h, const u_char *data)
{
    (void)u;
    (void)h;
    (void)data;
}

struct vigil_capture *vigil_capture_open_live(const char *iface, const char *bpf,
                                              const struct vigil_live_options *opt,
                                              char *err, size_t errlen, int *exit_code)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    struct vigil_capture *c = calloc(1, sizeof *c);
    *exit_code = 1;
    if (c == NULL || add_path(c, iface, err, errlen) < 0) {
        vigil_capture_close(c);
        return NULL;
    }
    c->live = 1;
    struct source *s = &c->src[0];
    s->p = pcap_create(iface, pcap_err);
    if (s->p == NULL) {
        vigil_seterr(err, errlen, "%s: cannot capture: %s", iface, pcap_err);
        goto fail;
    }
    pcap_set_snaplen(s->p, opt->snaplen > 0 ? opt->snaplen : 262144);
    pcap_set_promisc(s->p, opt->promisc);
    /* Not immediate mode: that makes libpcap use fixed, snaplen-sized ring
     * frames (a few dozen fit in the buffer, so bursts drop); block mode
     * packs packets and hands a block over at the latest after 100 ms. */
    pcap_set_timeout(s->p, 100);
    pcap_set_buffer_size(s->p, (opt->buffer_mb > 0 ? opt->buffer_mb : 64) << 20);
    int status = pcap_activate(s->p);
    if (status < 0) {
        const char *why = status == PCAP_ERROR_PERM_DENIED
                              ? "permission denied (needs root or CAP_NET_RAW)"
                              : status == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                                                                     : pcap_geterr(s->p);
        vigil_seterr(err, errlen, "%s: cannot capture: %s", iface, why);
        *exit_code = live_error_code(status);
        goto fail;
    }
    if (status > 0)
        vigil_err("%s: warning: %s", iface, pcap_statustostr(status));
    if (check_link(s->p, iface, err, errlen) < 0 ||
        set_filter(s->p, bpf, iface, err, errlen) < 0) {
        *exit_code = 2;
        goto fail;
    }
    if (pcap_setnonblock(s->p, 1, pcap_err) < 0) {
        vigil_seterr(err, errlen, "%s: %s", iface, pcap_err);
        goto fail;
    }
    s->dlt = pcap_datalink(s->p);
    if (opt->fanout_mode != VIGIL_FANOUT_NONE) {
        if (vigil_fanout_join(pcap_fileno(s->p), opt->fanout_mode, opt->fanout_group,
                              pcap_err, sizeof pcap_err) < 0) {
            vigil_seterr(err, errlen, "%s: cannot join fanout group %d: %s", iface,
                         opt->fanout_group, pcap_err);
            goto fail;
        }
        /* What the socket queued before it joined may also reach another
         * worker: throw it away. */
        while (pcap_dispatch(s->p, -1, discard, NULL) > 0)
            ;
    }
    *exit_code = 0;
    return c;
fail:
    vigil_capture_close(c);
    return NULL;
}

/* ---- replay ------------------------------------------------------------- */

static int64_t ts_key(const struct pcap_pkthdr *h)
{
    return (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
}

/* Read ahead one packet of s. Returns 0, or 1 if the file broke. */
static int read_ahead(struct source *s)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(s->p, &h, &data);
    if (rc == 1) {
        s->records++;
        s->consumed += 16 + (uint64_t)h->caplen;    /* pcap record header + data */
        s->hdr = *h;
        s->data = data;
        s->pending = 1;
        return 0;
    }
    s->pending = 0;
    s->done = 1;
    s->consumed = s->size;
    if (rc == PCAP_ERROR_BREAK)
        return 0;               /* end of file */
    /* Asked only now: ftell() costs a system call, too much per packet. */
    FILE *f = pcap_file(s->p);
    long offset = f ? ftell(f) : -1;
    vigil_err("%s: record %llu (reading stopped at byte %ld): %s; processed the %llu "
              "packets before it", s->path, (unsigned long long)s->records + 1, offset,
              pcap_geterr(s->p), (unsigned long long)s->records);
    return 1;
}

int vigil_capture_replay(struct vigil_capture *c, vigil_packet_fn fn, void *user,
                         volatile const sig_atomic_t *stop)
{
    int broken = 0;
    for (size_t i = 0; i < c->nsrc; i++)
        broken |= read_ahead(&c->src[i]);
    while (!*stop) {
        struct source *next = NULL;
        for (size_t i = 0; i < c->nsrc; i++) {
            struct source *s = &c->src[i];
            if (s->pending && (next == NULL || ts_key(&s->hdr) < ts_key(&next->hdr)))
                next = s;
        }
        if (next == NULL)
            break;
        fn(user, next->dlt, &next->hdr, next->data);
        broken |= read_ahead(next);
    }
    return broken;
}

/* ---- live --------------------------------------------------------------- */

struct live_relay {
    vigil_packet_fn fn;
    void *user;
    int dlt;
};

static void relay(u_char *u, const struct pcap_pkthdr *h, const u_char *data)
{
    struct live_relay *r = (struct live_relay *)u;
    r->fn(r->user, r->dlt, h, data);
}

int vigil_capture_live(struct vigil_capture *c, vigil_packet_fn fn,
                       void (*idle)(void *user), void *user, int poll_ms,
                       volatile const sig_atomic_t *stop)
{
    struct source *s = &c->src[0];
    struct live_relay r = { fn, user, s->dlt };
    struct pollfd pfd = { pcap_get_selectable_fd(s->p), POLLIN, 0 };
    while (!*stop) {
        int n = poll(&pfd, 1, poll_ms);
        if (n < 0 && errno != EINTR) {
            vigil_err("%s: poll: %s", s->path, strerror(errno));
            return 1;
        }
        if (n > 0 && pcap_dispatch(s->p, -1, relay, (u_char *)&r) == PCAP_ERROR) {
            vigil_err("%s: capture failed: %s", s->path, pcap_geterr(s->p));
            return 1;
        }
        if (idle)
            idle(user);
    }
    /* Stopping: deliver what the kernel already captured. The ring hands a
     * partly filled block over only when the 100 ms block timeout expires,
     * so keep reading for a little longer than that. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int got = pcap_dispatch(s->p, -1, relay, (u_char *)&r);
        if (got < 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t ms = (int64_t)(now.tv_sec - t0.tv_sec) * 1000 +
                     (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > 250 && got == 0)
            break;
        if (got == 0)
            poll(&pfd, 1, 50);
    }
    return 0;
}

int vigil_capture_kernel_stats(struct vigil_capture *c, uint64_t *received,
                               uint64_t *dropped, uint64_t *if_dropped)
{
    struct pcap_stat ps;
    if (!c->live || pcap_stats(c->src[0].p, &ps) < 0)
        return -1;
    uint32_t now[3] = { ps.ps_recv, ps.ps_drop, ps.ps_ifdrop };
    for (int i = 0; i < 3; i++) {
        c->kstat_total[i] += (uint32_t)(now[i] - c->kstat_last[i]);  /* wraps once */
        c->kstat_last[i] = now[i];
    }
    *received = c->kstat_total[0];
    *dropped = c->kstat_total[1];
    *if_dropped = c->kstat_total[2];
    return 0;
}

void vigil_capture_position(const struct vigil_capture *c, uint64_t *done, uint64_t *total)
{
    *done = *total = 0;
    for (size_t i = 0; c && !c->live && i < c->nsrc; i++) {
        const struct source *s = &c->src[i];
        *total += s->size;
        *done += s->consumed < s->size ? s->consumed : s->size;
    }
}
