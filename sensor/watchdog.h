/*
 * watchdog.h - a wall-time budget for every plugin call, and what enforces
 * it.
 *
 * The thread that drives the engine (the capture thread) publishes each
 * plugin call it makes: a round (the plugins called for one packet, stream
 * event, tick, ...) takes one sigsetjmp(buf, 0) and a few stores, each
 * call in it one store more; no clock, no system call. A POSIX timer sends
 * VIGIL_WATCHDOG_SIGNAL to the capture thread every budget/8, and its
 * handler remembers when it first saw each call. When one call has been
 * running for the whole budget, the handler jumps back to the sigsetjmp
 * the plugin host took right around that round. Everything in between
 * (the plugin's own frames) is abandoned; libnids and the engine are never
 * unwound, because the jump lands in the host's frame, inside whatever
 * called it.
 *
 * Why a timer and not a watchdog thread: the first thread a process starts
 * makes glibc's malloc and free take a lock on every call for good, which
 * cost about 3% of the sensor's CPU on the benchmark with every detector
 * loaded; a timer costs nothing between its ticks. (Threads of --redis or
 * --taxii pay that anyway.)
 *
 * When the handler may not jump, it waits for a better moment:
 *  - the plugin is inside a host service (emitting an alert, writing EVE):
 *    the call is marked pending, and the service jumps itself when it
 *    returns to the plugin, so no record is ever half written;
 *  - a call nested in it is running (a flow_free the service made), or the
 *    interrupted instruction is not the plugin's own code (the C library,
 *    say inside malloc holding its lock, or the host): the handler returns
 *    and tries again at a faster tick (budget/256, 0.1 to 1 ms) until it
 *    lands in the plugin's code.
 * If it has not landed within one more budget (the plugin is blocked in
 * the kernel, or never leaves a library), the handler writes one line
 * naming the plugin and ends the process with status
 * VIGIL_EXIT_WATCHDOG_STUCK: EVE records are written whole, so the output
 * ends with a complete line. What keeps even the handler out (a plugin
 * that blocks signals, a sleep the kernel does not interrupt) is beyond
 * it: that is the service manager's to catch.
 *
 * This is for time overruns only. A fault (SIGSEGV) is never jumped out
 * of: the state of the process is unknown after one.
 *
 * Calls nest: a plugin that asks for its flow may make the host evict
 * another flow, which calls other plugins' flow_free. Each nesting level
 * has its own record, and the watchdog stops the innermost call that has
 * run for the whole budget, so a plugin looping over host services is
 * caught as well as one spinning in a callback those services make.
 */
#ifndef VIGIL_WATCHDOG_H
#define VIGIL_WATCHDOG_H

#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_WATCHDOG_SIGNAL SIGUSR1
/* Exit status when a call overran and could not be interrupted. */
#define VIGIL_EXIT_WATCHDOG_STUCK 4
/* Nesting levels of plugin calls that are watched (deeper ones are not). */
#define VIGIL_WD_LEVELS 4
/* Executable segments of one plugin's shared object. */
#define VIGIL_WD_CODE_RANGES 4

/* Where a plugin's code is mapped: the only place a jump starts from. */
struct vigil_wd_code {
    uintptr_t lo[VIGIL_WD_CODE_RANGES];
    uintptr_t hi[VIGIL_WD_CODE_RANGES];
    int n;                      /* 0: unknown, never jumped from */
    int plugin;                 /* its index, for the watchdog's messages */
};

/*
 * One round of plugin calls in progress (the plugins, in load order, for one
 * packet, stream event, tick, ... or a single call). A call is named by
 * the round's number and the plugin's code: each plugin is called at most
 * once per round.
 */
struct vigil_wd_level {
    _Atomic uint64_t seq;               /* the round: unique, never 0 */
    const struct vigil_wd_code *_Atomic code;   /* the plugin called (NULL: none yet) */
    sigjmp_buf *jb;                     /* the host's frame around the round */
    volatile sig_atomic_t in_service;   /* inside a host service it called */
    volatile sig_atomic_t pending;      /* jump when the service returns */
};

/* What the capture thread publishes for the handler. */
struct vigil_wd_calls {
    _Atomic int depth;                  /* levels in use */
    uint64_t rounds;                    /* capture thread only */
    /* lv[VIGIL_WD_LEVELS] is never published: calls nested deeper than
     * that run unwatched and write their records there. */
    struct vigil_wd_level lv[VIGIL_WD_LEVELS + 1];
};

struct vigil_watchdog;

/*
 * Start the watchdog for the calling thread (the one that will make the
 * plugin calls) with a budget of budget_ms (> 0): installs the signal
 * handler and starts the timers. One watchdog per process at a time. NULL
 * with err on failure.
 */
struct vigil_watchdog *vigil_watchdog_start(int64_t budget_ms, char *err, size_t errlen);
/* Stop the timers and restore the previous handler. NULL is fine. */
void vigil_watchdog_stop(struct vigil_watchdog *wd);

int64_t vigil_watchdog_budget_ms(const struct vigil_watchdog *wd);
struct vigil_wd_calls *vigil_watchdog_calls(struct vigil_watchdog *wd);

/* The name the watchdog's last-resort exit line gives plugin index i
 * (copied). Call again after a reload; indexes past the list are "?". */
void vigil_watchdog_set_names(struct vigil_watchdog *wd, const char *const *names,
                              size_t n);

/*
 * The executable segments of a plugin opened with dlopen (its handle), and
 * its index. 0, or -1 when they cannot be found: such a plugin is never
 * jumped out of, so an overrun in it ends the process
 * (VIGIL_EXIT_WATCHDOG_STUCK).
 */
int vigil_watchdog_code_of(void *dl_handle, int plugin, struct vigil_wd_code *out);

/*
 * After a jump landed at `level`: restore the capture thread's signal mask
 * (the jump left the handler's mask in place), drop the levels above, and
 * mark outer calls of the same plugin pending (they stop when the service
 * they are in returns). Returns how long the call had been running when
 * the watchdog acted, in ms (at least the budget).
 */
int64_t vigil_watchdog_landed(struct vigil_watchdog *wd, int level);

/* ---- the packet path: inline, a few stores each --------------------------- */

static inline int vigil_wd_depth(struct vigil_wd_calls *c)
{
    return atomic_load_explicit(&c->depth, memory_order_relaxed);
}

/*
 * After sigsetjmp(*jb, 0) returned (either way): a round of calls starts at
 * `level` (= depth); an overrun in it jumps back to jb.
 */
static inline void vigil_wd_round(struct vigil_wd_calls *c, int level, sigjmp_buf *jb)
{
    struct vigil_wd_level *l = &c->lv[level];
    l->jb = jb;                 /* in_service and pending are 0 here */
    atomic_store_explicit(&l->code, NULL, memory_order_relaxed);
    atomic_store_explicit(&l->seq, ++c->rounds, memory_order_relaxed);
    /* Release: the handler and the watchdog see the level filled in. */
    atomic_store_explicit(&c->depth, level + 1, memory_order_release);
}

/* In the round at `level`, the plugin whose code is `code` is called now. */
static inline void vigil_wd_enter(struct vigil_wd_calls *c, int level,
                                  const struct vigil_wd_code *code)
{
    atomic_store_explicit(&c->lv[level].code, code, memory_order_release);
}

/* The round at `level` is over (its last call returned). */
static inline void vigil_wd_leave(struct vigil_wd_calls *c, int level)
{
    atomic_store_explicit(&c->depth, level, memory_order_release);
}

/* A host service called by the plugin at the top level starts / returns. */
static inline void vigil_wd_service_enter(struct vigil_wd_calls *c)
{
    int d;
    if (c != NULL && (d = vigil_wd_depth(c)) > 0)
        c->lv[d - 1].in_service++;
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void vigil_wd_service_leave(struct vigil_wd_calls *c)
{
    int d;
    atomic_signal_fence(memory_order_seq_cst);
    if (c != NULL && (d = vigil_wd_depth(c)) > 0) {
        struct vigil_wd_level *l = &c->lv[d - 1];
        if (--l->in_service == 0 && l->pending)
            siglongjmp(*l->jb, 1);
    }
}

#endif
