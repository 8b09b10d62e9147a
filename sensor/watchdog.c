/* watchdog.c - the plugin call budget: a timer, its signal handler, the jump. */
#define _GNU_SOURCE             /* dlinfo, dl_iterate_phdr, REG_RIP, gettid, SIGEV_THREAD_ID */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "log.h"
#include "watchdog.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define WD_MAX_NAMES 64
#define WD_NAME_MAX 64
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

/* One call as the watchdog sees it: its round and its plugin. */
struct seen {
    uint64_t seq;
    const struct vigil_wd_code *code;
    int64_t since;              /* when first seen (ns) */
};

/* The call the watchdog is trying to stop. */
struct aim {
    int on;
    int level;
    struct seen call;
    int64_t at;                 /* when it started trying */
};

struct vigil_watchdog {
    struct vigil_wd_calls calls;
    int64_t budget_ns;
    int64_t period_ns;          /* between two looks */
    int64_t retry_ns;           /* between two tries while one has not landed */
    timer_t tick;               /* VIGIL_WATCHDOG_SIGNAL to the capture thread */
    sigset_t mask;              /* the capture thread's mask at start */
    struct sigaction old_action;
    /* The handler's own state (the capture thread only). */
    struct seen seen[VIGIL_WD_LEVELS];
    struct aim aim;
    char names[WD_MAX_NAMES][WD_NAME_MAX];
    size_t nnames;
};

/* The handler's way to its watchdog: one per process. */
static struct vigil_watchdog *_Atomic g_wd;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static struct timespec to_ts(int64_t ns)
{
    return (struct timespec){ (time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC) };
}

/* Arm t to fire in `first` ns, then every `every` ns (0: once); first 0
 * disarms it. Async-signal-safe. */
static void arm(timer_t t, int64_t first, int64_t every)
{
    struct itimerspec its = { to_ts(every), to_ts(first) };
    timer_settime(t, 0, &its, NULL);
}

/* ---- the signal handler (capture thread) --------------------------------- */

/* The interrupted instruction, or 0 where this architecture is not known. */
static uintptr_t interrupted_pc(const void *uctx)
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static int in_code(const struct vigil_wd_code *code, uintptr_t pc)
{
    for (int i = 0; code != NULL && i < code->n; i++)
        if (pc >= code->lo[i] && pc < code->hi[i])
            return 1;
    return 0;
}

/* Append s, then the decimal n when n >= 0 (no stdio: signal context). */
static size_t put(char *buf, size_t len, size_t at, const char *s, int64_t n)
{
    while (*s && at + 1 < len)
        buf[at++] = *s++;
    if (n >= 0) {
        char digits[24];
        int d = 0;
        do
            digits[d++] = (char)('0' + n % 10);
        while ((n /= 10) > 0);
        while (d > 0 && at + 1 < len)
            buf[at++] = digits[--d];
    }
    return at;
}

/*
 * The call cannot be stopped: one line, then the process ends. No stdio
 * and no lock (the plugin may hold any), nothing flushed or freed: every
 * EVE record is already written whole.
 */
static void give_up(struct vigil_watchdog *wd, int64_t now)
{
    const struct aim *a = &wd->aim;
    int plugin = a->call.code ? a->call.code->plugin : -1;
    const char *name = plugin >= 0 && (size_t)plugin < wd->nnames ? wd->names[plugin] : "?";
    char line[512];
    size_t n = put(line, sizeof line, 0, "vigil: watchdog: detector ", -1);
    n = put(line, sizeof line, n, name, -1);
    n = put(line, sizeof line, n, ": one call has run for ", (now - a->call.since) / NS_PER_MS);
    n = put(line, sizeof line, n, " ms (budget ", wd->budget_ns / NS_PER_MS);
    n = put(line, sizeof line, n, " ms) and cannot be interrupted (blocked in the kernel or "
            "a library); exiting with status ", VIGIL_EXIT_WATCHDOG_STUCK);
    n = put(line, sizeof line, n, "\n", -1);
    ssize_t rc = write(STDERR_FILENO, line, n);
    (void)rc;
    _exit(VIGIL_EXIT_WATCHDOG_STUCK);
}

/* The innermost call, at `from` or deeper, that has had its whole budget. */
static int overrunning(const struct vigil_watchdog *wd, int from, int depth, int64_t now)
{
    for (int k = depth - 1; k >= from; k--)
        if (wd->seen[k].code != NULL && now - wd->seen[k].since >= wd->budget_ns)
            return k;
    return -1;
}

static void take_aim(struct vigil_watchdog *wd, int level, int64_t now)
{
    if (!wd->aim.on)
        arm(wd->tick, wd->retry_ns, wd->retry_ns);
    wd->aim = (struct aim){ 1, level, wd->seen[level], now };
}

static void stop_aiming(struct vigil_watchdog *wd)
{
    wd->aim.on = 0;
    arm(wd->tick, wd->period_ns, wd->period_ns);
}

/*
 * Every budget/8 (every retry_ns while aiming). Async-signal-safe: reads
 * what the capture thread published (it is the thread this runs on), keeps
 * its own state, and acts only on the call it aims at, while that exact
 * call (its round and plugin) is still running: sets a flag, or jumps.
 */
static void on_tick(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)si;
    struct vigil_watchdog *wd = atomic_load(&g_wd);
    if (wd == NULL)
        return;
    int saved_errno = errno;
    struct vigil_wd_calls *c = &wd->calls;
    int64_t now = mono_ns();
    int depth = atomic_load_explicit(&c->depth, memory_order_acquire);
    if (depth > VIGIL_WD_LEVELS)
        depth = VIGIL_WD_LEVELS;
    for (int k = 0; k < depth; k++) {
        uint64_t s = atomic_load_explicit(&c->lv[k].seq, memory_order_relaxed);
        const struct vigil_wd_code *code = atomic_load(&c->lv[k].code);
        if (s != wd->seen[k].seq || code != wd->seen[k].code)
            wd->seen[k] = (struct seen){ s, code, now };
    }
    struct aim *a = &wd->aim;
    if (a->on && (depth <= a->level || wd->seen[a->level].seq != a->call.seq ||
                  wd->seen[a->level].code != a->call.code))
        stop_aiming(wd);        /* it returned by itself */
    if (!a->on) {
        int k = overrunning(wd, 0, depth, now);
        if (k < 0)
            goto out;
        take_aim(wd, k, now);
    } else {
        /* A call nested in the one aimed at has had its budget too: the
         * CPU is there (the outer one was only seen one look earlier). */
        int k = overrunning(wd, a->level + 1, depth, now);
        if (k >= 0)
            take_aim(wd, k, now);
        else if (now - a->at >= wd->budget_ns)
            give_up(wd, now);
    }
    struct vigil_wd_level *l = &c->lv[a->level];
    if (l->in_service)
        l->pending = 1;         /* the service jumps when it returns */
    else if (depth == a->level + 1 && in_code(a->call.code, interrupted_pc(uctx)))
        siglongjmp(*l->jb, 1);
    /* Else calls nested in it run, or the C library does: next time. */
out:
    errno = saved_errno;
}

/* ---- life cycle ---------------------------------------------------------- */

struct vigil_watchdog *vigil_watchdog_start(int64_t budget_ms, char *err, size_t errlen)
{
    if (budget_ms <= 0) {
        vigil_seterr(err, errlen, "watchdog: budget must be positive");
        return NULL;
    }
    struct vigil_watchdog *wd = calloc(1, sizeof *wd);
    if (wd == NULL) {
        vigil_seterr(err, errlen, "watchdog: out of memory");
        return NULL;
    }
    struct vigil_watchdog *none = NULL;
    if (!atomic_compare_exchange_strong(&g_wd, &none, wd)) {
        free(wd);
        vigil_seterr(err, errlen, "watchdog: one is already running in this process");
        return NULL;
    }
    wd->budget_ns = budget_ms * NS_PER_MS;
    wd->period_ns = wd->budget_ns / 8 > NS_PER_MS ? wd->budget_ns / 8 : NS_PER_MS;
    /* Tries while one has not landed: many, so that a call spending most of
     * its time in the C library is still caught in its own code. */
    wd->retry_ns = wd->budget_ns / 256;
    if (wd->retry_ns < NS_PER_MS / 10)
        wd->retry_ns = NS_PER_MS / 10;
    if (wd->retry_ns > NS_PER_MS)
        wd->retry_ns = NS_PER_MS;
    pthread_sigmask(SIG_SETMASK, NULL, &wd->mask);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_tick;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(VIGIL_WATCHDOG_SIGNAL, &sa, &wd->old_action) < 0) {
        vigil_seterr(err, errlen, "watchdog: sigaction: %s", strerror(errno));
        goto fail;
    }
    /* The tick goes to this thread only: others (output threads) never
     * take it. */
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = VIGIL_WATCHDOG_SIGNAL;
    ev.sigev_notify_thread_id = gettid();
    if (timer_create(CLOCK_MONOTONIC, &ev, &wd->tick) < 0) {
        vigil_seterr(err, errlen, "watchdog: timer_create: %s", strerror(errno));
        sigaction(VIGIL_WATCHDOG_SIGNAL, &wd->old_action, NULL);
        goto fail;
    }
    arm(wd->tick, wd->period_ns, wd->period_ns);
    return wd;
fail:
    atomic_store(&g_wd, NULL);
    free(wd);
    return NULL;
}

void vigil_watchdog_stop(struct vigil_watchdog *wd)
{
    if (wd == NULL)
        return;
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, VIGIL_WATCHDOG_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    timer_delete(wd->tick);
    /* Ignoring the signal drops one already pending; then the old action. */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(VIGIL_WATCHDOG_SIGNAL, &ign, NULL);
    sigaction(VIGIL_WATCHDOG_SIGNAL, &wd->old_action, NULL);
    atomic_store(&g_wd, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    free(wd);
}

int64_t vigil_watchdog_budget_ms(const struct vigil_watchdog *wd)
{
    return wd->budget_ns / NS_PER_MS;
}

struct vigil_wd_calls *vigil_watchdog_calls(struct vigil_watchdog *wd)
{
    return wd ? &wd->calls : NULL;
}

/* The handler reads the names: it is kept out while they change. */
void vigil_watchdog_set_names(struct vigil_watchdog *wd, const char *const *names, size_t n)
{
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, VIGIL_WATCHDOG_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    wd->nnames = n < WD_MAX_NAMES ? n : WD_MAX_NAMES;
    for (size_t i = 0; i < wd->nnames; i++)
        snprintf(wd->names[i], sizeof wd->names[i], "%s", names[i] ? names[i] : "?");
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

int64_t vigil_watchdog_landed(struct vigil_watchdog *wd, int level)
{
    struct vigil_wd_calls *c = &wd->calls;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, VIGIL_WATCHDOG_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    const struct vigil_wd_code *code = atomic_load(&c->lv[level].code);
    int64_t ran = (mono_ns() - wd->aim.call.since) / NS_PER_MS;
    c->lv[level].in_service = 0;
    c->lv[level].pending = 0;
    atomic_store_explicit(&c->depth, level, memory_order_release);
    /* Outer calls of the same plugin stop when their service returns; a
     * mark left on another plugin's call by an earlier aim is dropped (if
     * that call overruns too, the watchdog aims at it again). */
    for (int k = 0; k < level; k++)
        c->lv[k].pending = atomic_load(&c->lv[k].code) == code;
    if (wd->aim.on)
        stop_aiming(wd);
    /* The jump left the handler's mask (the signal blocked): back to the
     * thread's own. */
    pthread_sigmask(SIG_SETMASK, &wd->mask, NULL);
    return ran > vigil_watchdog_budget_ms(wd) ? ran : vigil_watchdog_budget_ms(wd);
}

/* ---- where a plugin's code is -------------------------------------------- */

struct code_search {
    uintptr_t base;             /* the object's load address (l_addr) */
    struct vigil_wd_code *out;
    int found;
};

static int code_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct code_search *s = arg;
    if ((uintptr_t)info->dlpi_addr != s->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && s->out->n < VIGIL_WD_CODE_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        s->out->lo[s->out->n] = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        s->out->hi[s->out->n] = s->out->lo[s->out->n] + ph->p_memsz;
        s->out->n++;
    }
    s->found = 1;
    return 1;
}

int vigil_watchdog_code_of(void *dl_handle, int plugin, struct vigil_wd_code *out)
{
    memset(out, 0, sizeof *out);
    out->plugin = plugin;
    struct link_map *lm = NULL;
    if (dl_handle == NULL || dlinfo(dl_handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL)
        return -1;
    struct code_search s = { (uintptr_t)lm->l_addr, out, 0 };
    dl_iterate_phdr(code_segments, &s);
    return s.found && out->n > 0 ? 0 : -1;
}
