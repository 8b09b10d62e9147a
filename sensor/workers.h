/*
 * workers.h - several capture processes on one interface.
 *
 * libnids keeps its state in process globals, so more cores mean more
 * processes. Each worker opens its own capture handle and joins one
 * AF_PACKET fanout group, which hands every packet to exactly one worker:
 *
 *   hostpair  (default) a classic BPF program hashes the unordered pair of
 *             IP addresses, so everything between two hosts, every flow
 *             and both directions, reaches one worker; per-(src,dst)
 *             views (vertical scans, floods and brute force against one
 *             target) stay whole. Non-IP frames go to worker 0.
 *   flow      the kernel's symmetric flow hash (PACKET_FANOUT_HASH):
 *             flows stay whole, per-host views are split.
 *
 * Both modes set PACKET_FANOUT_FLAG_DEFRAG. The parent supervises: it
 * forwards SIGTERM/SIGINT and SIGUSR2, reopens the output on SIGHUP, and
 * merges the workers' EVE streams into one output: alert lines are copied
 * whole, stats events are summed (one merged event once every worker has
 * sent its own, and a final one at the end). A worker that dies stops
 * them all (exit status 1): nothing is restarted silently.
 */
#ifndef VIGIL_WORKERS_H
#define VIGIL_WORKERS_H

#include <signal.h>
#include <stddef.h>

#define VIGIL_MAX_WORKERS 64

/* Join fanout group `group` (1-65535) with mode (enum vigil_fanout_mode) on
 * the packet socket fd. 0, or -1 with the reason in err. */
int vigil_fanout_join(int fd, int mode, int group, char *err, size_t errlen);

/*
 * Runs in each forked worker with its stdout on the pipe to the parent.
 * It writes EVE JSON to stdout, calls vigil_workers_ready(ready_fd) once
 * its capture and detectors are set up, and returns its exit status.
 */
typedef int (*vigil_worker_fn)(void *user, int index, int ready_fd);

struct vigil_workers_options {
    int nworkers;
    const char *eve_path;               /* the merged output; "-" is stdout */
    int quiet;                          /* no summary on stderr */
    volatile sig_atomic_t *stop;        /* set by SIGTERM/SIGINT */
    volatile sig_atomic_t *reload;      /* set by SIGUSR2: forwarded */
    volatile sig_atomic_t *reopen;      /* set by SIGHUP: the output is reopened */
    /* Once every worker is ready (drop privileges, tell systemd); <0 aborts. */
    int (*on_ready)(void *user);
    void *user;
};

/* Fork the workers and supervise them until they all end. Exit status:
 * 0, 1 (a worker failed or died, output error), or a worker's own status
 * when it failed to start. */
int vigil_workers_run(const struct vigil_workers_options *o, vigil_worker_fn fn);

/* In a worker: setup is done. */
void vigil_workers_ready(int ready_fd);

#endif
