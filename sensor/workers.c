/* workers.c - fanout workers and their supervisor (see workers.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/if_packet.h>

#include <jansson.h>

#include "capture.h"
#include "eve.h"
#include "log.h"
#include "recfile.h"
#include "workers.h"

#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif

/* ---- fanout --------------------------------------------------------------- */

#define NET(off) ((uint32_t)(SKF_NET_OFF + (off)))

/*
 * hash(src ^ dst) over the network header: symmetric, so both directions of
 * every conversation between two hosts land on one socket (the kernel takes
 * the result modulo the group size). IPv4 and IPv6; anything else returns 0.
 */
static size_t hostpair_program(struct sock_filter *f)
{
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS,
                                          (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    size_t j4 = n++;                            /* jeq 0x0800 */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET(12));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET(16));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
    size_t ja = n++;                            /* ja mix */
    size_t j6 = n++;                            /* jeq 0x86dd */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET(8));
    for (int off = 12; off <= 36; off += 4) {   /* both addresses, word by word */
        f[n++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET(off));
        f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
    }
    size_t mix = n;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
    size_t ret0 = n;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    f[j4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0,
                                         (uint8_t)(j6 - j4 - 1));
    f[ja] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)(mix - ja - 1), 0, 0);
    f[j6] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0,
                                         (uint8_t)(ret0 - j6 - 1));
    return n;
}

int vigil_fanout_join(int fd, int mode, int group, char *err, size_t errlen)
{
    int type = mode == VIGIL_FANOUT_FLOW ? PACKET_FANOUT_HASH : PACKET_FANOUT_CBPF;
    /* The kernel reads id | (type | flags) << 16 as an int; build it unsigned. */
    uint32_t bits = ((uint32_t)group & 0xffffu) |
                    ((uint32_t)(type | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    int arg;
    memcpy(&arg, &bits, sizeof arg);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
        vigil_seterr(err, errlen, "PACKET_FANOUT: %s", strerror(errno));
        return -1;
    }
    if (type == PACKET_FANOUT_CBPF) {
        struct sock_filter code[64];
        struct sock_fprog prog = { (unsigned short)hostpair_program(code), code };
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog) < 0) {
            vigil_seterr(err, errlen, "PACKET_FANOUT_DATA: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- the supervisor ------------------------------------------------------- */

struct worker {
    pid_t pid;
    int out_fd;                 /* read end of its EVE pipe; -1 at EOF */
    int ready_fd;               /* read end of its ready pipe; -1 once read */
    int ready;
    int exited;
    int status;                 /* waitpid status */
    char *buf;                  /* bytes after the last complete line */
    size_t len, cap;
    json_t *stats;              /* its latest stats event */
    int fresh;                  /* stats arrived since the last merge */
};

struct supervisor {
    const struct vigil_workers_options *o;
    struct worker w[VIGIL_MAX_WORKERS];
    int n;
    struct vigil_recfile *out;  /* the merged EVE file */
    int output_failed;
    int stopping;
    struct timespec started;
};

void vigil_workers_ready(int ready_fd)
{
    char c = 'R';
    ssize_t rc;
    do
        rc = write(ready_fd, &c, 1);
    while (rc < 0 && errno == EINTR);
    close(ready_fd);
}

static const char *const kind_names[VIGIL_RECFILE_KINDS] = { "alerts", "stats" };

static struct vigil_recfile *open_output(const char *path)
{
    struct vigil_recfile_options ro = {
        .backlog_bytes = VIGIL_EVE_BACKLOG_DEFAULT,
        .what = "EVE output",
        .kind_names = kind_names,
    };
    char err[512];
    struct vigil_recfile *rf = vigil_recfile_open(path, &ro, err, sizeof err);
    if (rf == NULL)
        vigil_err("%s", err);
    return rf;
}

/* One line, its newline included: written whole, or held while the file
 * cannot take it (recfile.h). */
static void put_line(struct supervisor *s, const char *line, size_t len, int kind)
{
    if (vigil_recfile_write(s->out, line, len, kind) < 0)
        s->output_failed = 1;
}

/* The merged file's own counters, in place of the workers' (their EVE goes
 * to a pipe). */
static void put_output_counters(struct supervisor *s, json_t *stats)
{
    struct vigil_recfile_counters c;
    vigil_recfile_counters(s->out, &c);
    json_t *eve = json_pack("{sIsIsIsIsIsI}", "write_errors", (json_int_t)c.write_errors,
                            "records_delayed", (json_int_t)c.delayed,
                            "records_held", (json_int_t)c.held,
                            "records_dropped", (json_int_t)c.dropped,
                            "alerts_dropped", (json_int_t)c.dropped_kind[0],
                            "degraded", (json_int_t)c.degraded);
    json_t *out = json_object_get(stats, "output");
    if (eve && json_is_object(out))
        json_object_set_new(out, "eve", eve);
    else
        json_decref(eve);
}

/* dst += src, counter by counter; other values are copied when absent. */
static void sum_into(json_t *dst, json_t *src)
{
    const char *key;
    json_t *v;
    json_object_foreach(src, key, v) {
        json_t *d = json_object_get(dst, key);
        if (d == NULL)
            json_object_set_new(dst, key, json_deep_copy(v));
        else if (json_is_integer(d) && json_is_integer(v))
            json_integer_set(d, json_integer_value(d) + json_integer_value(v));
        else if (json_is_object(d) && json_is_object(v))
            sum_into(d, v);
    }
}

/* One stats event: the sum of every worker's latest, stamped with the
 * latest timestamp. */
static void write_merged_stats(struct supervisor *s)
{
    json_t *sum = NULL;
    const char *ts = NULL;
    for (int i = 0; i < s->n; i++) {
        json_t *st = s->w[i].stats;
        if (st == NULL)
            continue;
        const char *t = json_string_value(json_object_get(st, "timestamp"));
        if (t && (ts == NULL || strcmp(t, ts) > 0))
            ts = t;
        if (sum == NULL)
            sum = json_deep_copy(st);
        else
            sum_into(json_object_get(sum, "stats"), json_object_get(st, "stats"));
        s->w[i].fresh = 0;
    }
    if (sum == NULL)
        return;
    if (ts)
        json_object_set_new(sum, "timestamp", json_string(ts));
    /* How the fanout split the traffic: packets per worker. */
    json_t *cap = json_object_get(json_object_get(sum, "stats"), "capture");
    json_t *per = json_array();
    for (int i = 0; i < s->n; i++) {
        json_t *p = json_object_get(json_object_get(json_object_get(s->w[i].stats, "stats"),
                                                    "capture"), "packets");
        json_array_append_new(per, json_integer(p ? json_integer_value(p) : 0));
    }
    if (json_is_object(cap)) {
        json_object_set_new(cap, "workers", json_integer(s->n));
        json_object_set_new(cap, "worker_packets", per);
    } else {
        json_decref(per);
    }
    put_output_counters(s, json_object_get(sum, "stats"));
    char *line = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = line ? strlen(line) : 0;
    char *nl = line ? realloc(line, len + 2) : NULL;
    if (nl) {
        memcpy(nl + len, "\n", 2);
        put_line(s, nl, len + 1, 1);
        free(nl);
    } else {
        free(line);
        s->output_failed = 1;
    }
    json_decref(sum);
}

/* Whether an EVE line is a stats event (EVE writes event_type second). */
static int starts_with_stats(const char *line, size_t len)
{
    static const char key[] = "\"event_type\":\"stats\"";
    size_t k = sizeof key - 1, lim = len < 128 ? len : 128;
    for (size_t i = 0; i + k <= lim; i++)
        if (memcmp(line + i, key, k) == 0)
            return 1;
    return 0;
}

/* One line of a worker, without its newline (which follows it in memory). */
static void handle_line(struct supervisor *s, struct worker *w, const char *line, size_t len)
{
    if (len == 0)
        return;
    /* EVE writes timestamp first, event_type second. */
    if (!starts_with_stats(line, len)) {
        put_line(s, line, len + 1, 0);
        return;
    }
    json_t *st = json_loadb(line, len, 0, NULL);
    if (st == NULL || !json_is_object(json_object_get(st, "stats"))) {
        json_decref(st);
        put_line(s, line, len + 1, 0);
        return;
    }
    json_decref(w->stats);
    w->stats = st;
    w->fresh = 1;
    if (s->stopping)
        return;             /* the final merge comes when all have ended */
    for (int i = 0; i < s->n; i++)
        if (!s->w[i].fresh && !s->w[i].exited)
            return;
    write_merged_stats(s);
}

/* Read what a worker wrote; pass on complete lines only. */
static void drain_worker(struct supervisor *s, struct worker *w)
{
    for (;;) {
        if (w->cap - w->len < 65536) {
            size_t cap = w->cap ? w->cap * 2 : 131072;
            char *nb = realloc(w->buf, cap);
            if (nb == NULL) {
                vigil_err("out of memory merging worker output");
                s->output_failed = 1;
                return;
            }
            w->buf = nb;
            w->cap = cap;
        }
        ssize_t r = read(w->out_fd, w->buf + w->len, w->cap - w->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;         /* EAGAIN: nothing more for now */
        if (r == 0) {
            if (w->len > 0)     /* a worker never ends without its newline */
                vigil_err("worker %d: %zu bytes without a final newline dropped",
                          (int)(w - s->w), w->len);
            close(w->out_fd);
            w->out_fd = -1;
            w->len = 0;
            return;
        }
        w->len += (size_t)r;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(w->buf + start, '\n', w->len - start);
            if (nl == NULL)
                break;
            handle_line(s, w, w->buf + start, (size_t)(nl - (w->buf + start)));
            start = (size_t)(nl - w->buf) + 1;
        }
        memmove(w->buf, w->buf + start, w->len - start);
        w->len -= start;
    }
}

static void signal_all(struct supervisor *s, int sig)
{
    for (int i = 0; i < s->n; i++)
        if (s->w[i].pid > 0 && !s->w[i].exited)
            kill(s->w[i].pid, sig);
}

static void describe_exit(int index, pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        vigil_err("worker %d (pid %ld) was killed by signal %d; stopping all workers",
                  index, (long)pid, WTERMSIG(status));
    else
        vigil_err("worker %d (pid %ld) exited with status %d; stopping all workers",
                  index, (long)pid, WEXITSTATUS(status));
}

static int reap(struct supervisor *s)
{
    int failed = 0;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (int i = 0; i < s->n; i++) {
            struct worker *w = &s->w[i];
            if (w->pid != pid)
                continue;
            w->exited = 1;
            w->status = status;
            int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!s->stopping || !ok) {
                /* One that failed to start already said why. */
                if (w->ready && (!s->stopping || WIFSIGNALED(status)))
                    describe_exit(i, pid, status);
                failed = 1;
            }
        }
    }
    return failed;
}

static pid_t start_worker(struct supervisor *s, int i, vigil_worker_fn fn)
{
    int out[2], rdy[2];
    if (pipe(out) < 0)
        return -1;
    if (pipe(rdy) < 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(out[0]); close(out[1]); close(rdy[0]); close(rdy[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        for (int k = 0; k < i; k++) {      /* the siblings' pipes are not ours */
            if (s->w[k].out_fd >= 0)
                close(s->w[k].out_fd);
            if (s->w[k].ready_fd >= 0)
                close(s->w[k].ready_fd);
        }
        if (strcmp(vigil_recfile_path(s->out), "-") != 0)
            close(vigil_recfile_fd(s->out));     /* the parent's file, not ours */
        close(out[0]);
        close(rdy[0]);
        if (dup2(out[1], STDOUT_FILENO) < 0)
            _exit(1);
        close(out[1]);
        int rc = fn(s->o->user, i, rdy[1]);
        fflush(NULL);
        _exit(rc);
    }
    close(out[1]);
    close(rdy[1]);
    s->w[i].pid = pid;
    s->w[i].out_fd = out[0];
    s->w[i].ready_fd = rdy[0];
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    return pid;
}

static void summary(struct supervisor *s)
{
    json_t *sum = NULL;
    for (int i = 0; i < s->n; i++) {
        json_t *st = json_object_get(s->w[i].stats, "stats");
        if (st == NULL)
            continue;
        if (sum == NULL)
            sum = json_deep_copy(st);
        else
            sum_into(sum, st);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - s->started.tv_sec) +
                  (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
#define GET(a, b) json_integer_value(json_object_get(json_object_get(sum, a), b))
    fprintf(stderr, "vigil: %d workers: %" JSON_INTEGER_FORMAT " packets, %" JSON_INTEGER_FORMAT
            " bytes in %.2f s; %" JSON_INTEGER_FORMAT " kernel drops; %" JSON_INTEGER_FORMAT
            " streams; %" JSON_INTEGER_FORMAT " alerts\n", s->n,
            GET("capture", "packets"), GET("capture", "bytes"), secs,
            GET("capture", "kernel_dropped"), GET("reassembly", "streams_established"),
            GET("detect", "alerts"));
#undef GET
    json_decref(sum);
}

int vigil_workers_run(const struct vigil_workers_options *o, vigil_worker_fn fn)
{
    static struct supervisor sv;
    struct supervisor *s = &sv;
    memset(s, 0, sizeof *s);
    s->o = o;
    s->n = o->nworkers;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    s->out = open_output(o->eve_path);
    if (s->out == NULL)
        return 1;
    for (int i = 0; i < s->n; i++)
        s->w[i].out_fd = s->w[i].ready_fd = -1;
    int rc = 0, nready = 0, start_code = 0;
    for (int i = 0; i < s->n; i++) {
        if (start_worker(s, i, fn) < 0) {
            vigil_err("cannot start worker %d: %s", i, strerror(errno));
            s->stopping = 1;
            signal_all(s, SIGTERM);
            rc = 1;
            break;
        }
    }
    for (;;) {
        if (*o->stop && !s->stopping) {
            s->stopping = 1;
            signal_all(s, SIGTERM);
        }
        if (*o->reload) {
            *o->reload = 0;
            signal_all(s, SIGUSR2);
        }
        if (*o->reopen) {
            *o->reopen = 0;
            vigil_recfile_reopen(s->out);   /* says so when it cannot */
        }
        struct pollfd pfd[2 * VIGIL_MAX_WORKERS];
        struct worker *who[2 * VIGIL_MAX_WORKERS];
        int np = 0, open_fds = 0;
        for (int i = 0; i < s->n; i++) {
            struct worker *w = &s->w[i];
            if (w->out_fd >= 0) {
                pfd[np] = (struct pollfd){ w->out_fd, POLLIN, 0 };
                who[np++] = w;
                open_fds++;
            }
            if (w->ready_fd >= 0) {
                pfd[np] = (struct pollfd){ w->ready_fd, POLLIN, 0 };
                who[np++] = w;
            }
        }
        if (open_fds == 0)
            break;
        int n = poll(pfd, (nfds_t)np, 200);
        for (int k = 0; n > 0 && k < np; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct worker *w = who[k];
            if (pfd[k].fd == w->ready_fd) {
                char c;
                ssize_t r = read(w->ready_fd, &c, 1);
                if (r < 0 && errno == EINTR)
                    continue;
                close(w->ready_fd);
                w->ready_fd = -1;
                if (r == 1) {
                    w->ready = 1;
                    if (++nready == s->n && !s->stopping && o->on_ready &&
                        o->on_ready(o->user) < 0) {
                        s->stopping = 1;
                        signal_all(s, SIGTERM);
                        rc = 1;
                    }
                }
            } else {
                drain_worker(s, w);
            }
        }
        vigil_recfile_tick(s->out);     /* a full disk: try the held lines again */
        if (reap(s)) {
            for (int i = 0; i < s->n; i++) {
                struct worker *w = &s->w[i];
                /* A worker that could not start says why; keep its status. */
                if (w->exited && !w->ready && WIFEXITED(w->status) && WEXITSTATUS(w->status))
                    start_code = WEXITSTATUS(w->status);
            }
            rc = 1;
            if (!s->stopping) {
                s->stopping = 1;
                signal_all(s, SIGTERM);
            }
        }
    }
    /* Every pipe is closed: wait for the last exits. */
    for (int i = 0; i < s->n; i++) {
        struct worker *w = &s->w[i];
        if (w->pid > 0 && !w->exited) {
            int status;
            while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
                ;
            w->exited = 1;
            w->status = status;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                describe_exit(i, w->pid, status);
                rc = 1;
            }
        }
    }
    write_merged_stats(s);
    if (vigil_recfile_close(s->out) < 0)
        s->output_failed = 1;
    s->out = NULL;
    if (!o->quiet && nready == s->n)
        summary(s);
    for (int i = 0; i < s->n; i++) {
        json_decref(s->w[i].stats);
        free(s->w[i].buf);
    }
    if (start_code)
        return start_code;
    return rc || s->output_failed ? 1 : 0;
}
