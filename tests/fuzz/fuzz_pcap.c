/*
 * fuzz_pcap.c - the whole packet path from a capture file. The bytes are
 * written to an unlinked temporary file (libpcap reads files, not
 * buffers), which the sensor's own capture code opens by its
 * /proc/self/fd path and replays through the engine (decoder, flows,
 * detectors, libnids reassembly, EVE to /dev/null).
 *
 * libnids is one instance per process, and a second nids_init() after
 * nids_exit() inherits the fragment queues and timers of the first
 * (stale timers then write into the new table), so an engine cannot be
 * created and freed per input. Two modes, chosen at run time:
 *
 *  - under libFuzzer (LLVMFuzzerRunDriver is linked): ONE engine is
 *    created on the first input and every input is fed into it; it is
 *    finished (streams flushed, detectors' on_finish, final stats) when
 *    the process exits. Inputs therefore share flow and stream state, as
 *    consecutive captures in one sensor run do. The tables are set to
 *    their minimum sizes (n_tcp_streams, max_flows = 1024, 16 pending
 *    handshakes) so eviction paths run and memory stays bounded.
 *  - in the replay driver (onefile.c, no libFuzzer): every input runs in
 *    a forked child, twice: once with no plugins and once with the
 *    default plugins, each through engine_new -> replay -> finish ->
 *    free. One input's crash is its own, and a crash, a sanitizer exit or
 *    a signal in a child aborts the parent with the input's size and hash.
 *
 * Environment:
 *   VIGIL_FUZZ_PLUGINS  plugin directory, or "none"; default
 *                       $VIGIL_BUILD/plugins, else build/plugins
 *   VIGIL_FUZZ_RULES    rules directory; default rules/ when present
 *   VIGIL_FUZZ_FORK     1: fork per input even under libFuzzer; 0: never
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "community_id.h"
#include "engine.h"
#include "fuzz.h"

/* Present only when libFuzzer is linked in. */
extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*cb)(const uint8_t *data, size_t size))
    __attribute__((weak));

static int g_fd = -1;                  /* the input, as a capture file */
static char g_tmp[256];                 /* its path: /proc/self/fd/N */
static char g_log[272];                 /* a forked child's stderr */
static struct vigil_engine *g_engine;   /* libFuzzer mode: the one engine */
static int g_fork = -1;                 /* -1: not decided yet */
static char g_plugin_dir[4096];
static const char *g_rules;
static volatile sig_atomic_t g_stop;

/* libnids' one-time allocations (tests/lsan.supp), for sanitizer builds
 * run without LSAN_OPTIONS. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libnids.so\n";
}

static char *const g_settings[] = {
    "vigil.n_tcp_streams=1024",
    "vigil.max_flows=1024",
    "vigil.embryonic_streams=16",
};

static void cleanup(void)
{
    if (g_engine) {
        vigil_engine_finish(g_engine);
        vigil_engine_free(g_engine);
        g_engine = NULL;
    }
    if (g_tmp[0])
        unlink(g_log);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void setup(void)
{
    const char *tmpdir = is_dir("/dev/shm") ? "/dev/shm" : getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/vigil-fuzz-pcap.XXXXXX", tmpdir ? tmpdir : "/tmp");
    g_fd = mkstemp(g_tmp);
    if (g_fd < 0) {
        perror("fuzz_pcap: mkstemp");
        exit(1);
    }
    /* Unlinked at once, read through /proc: a crash leaves no file behind. */
    snprintf(g_log, sizeof g_log, "%s.log", g_tmp);
    unlink(g_tmp);
    snprintf(g_tmp, sizeof g_tmp, "/proc/self/fd/%d", g_fd);

    const char *p = getenv("VIGIL_FUZZ_PLUGINS");
    if (p == NULL) {
        const char *b = getenv("VIGIL_BUILD");
        snprintf(g_plugin_dir, sizeof g_plugin_dir, "%s/plugins", b ? b : "build");
    } else if (strcmp(p, "none") != 0) {
        snprintf(g_plugin_dir, sizeof g_plugin_dir, "%s", p);
    }
    if (g_plugin_dir[0] && !is_dir(g_plugin_dir)) {
        fprintf(stderr, "fuzz_pcap: no plugin directory %s (set VIGIL_FUZZ_PLUGINS)\n",
                g_plugin_dir);
        exit(1);
    }
    g_rules = getenv("VIGIL_FUZZ_RULES");
    if (g_rules == NULL && is_dir("rules"))
        g_rules = "rules";

    const char *f = getenv("VIGIL_FUZZ_FORK");
    if (f && (f[0] == '0' || f[0] == '1'))
        g_fork = f[0] == '1';
    else
        g_fork = LLVMFuzzerRunDriver == NULL;
    /* libcrypto registers its own exit handler on first use; use it now,
     * so that handler runs after ours (the final flush writes alerts). */
    vigil_addr a = { .family = 4 };
    char cid[VIGIL_COMMUNITY_ID_LEN];
    vigil_community_id(&a, &a, 1, 2, 6, 0, 1, cid, sizeof cid);
    atexit(cleanup);
}

static struct vigil_engine *new_engine(int with_plugins)
{
    struct vigil_engine_options opt;
    memset(&opt, 0, sizeof opt);
    opt.plugin_dir = with_plugins && g_plugin_dir[0] ? g_plugin_dir : NULL;
    opt.rules_dir = g_rules;
    opt.eve_path = "/dev/null";
    opt.quiet = 1;
    opt.settings = g_settings;
    opt.nsettings = sizeof g_settings / sizeof g_settings[0];
    char err[512];
    int code;
    struct vigil_engine *e = vigil_engine_new(&opt, err, sizeof err, &code);
    if (e == NULL) {
        /* A setup problem, not a finding: stop loudly. */
        fprintf(stderr, "fuzz_pcap: cannot start the engine: %s\n", err);
        exit(1);
    }
    return e;
}

static void on_packet(void *user, int dlt, const struct pcap_pkthdr *h, const uint8_t *data)
{
    vigil_engine_packet(user, dlt, h, data);
}

static int write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(g_fd, 0) < 0)
        return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(g_fd, data + off, size - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

static void replay_into(struct vigil_engine *e)
{
    char *paths[1] = { g_tmp };
    char err[512];
    int code;
    struct vigil_capture *c = vigil_capture_open_files(paths, 1, NULL, err, sizeof err, &code);
    if (c == NULL)
        return;                 /* rejected at open: nothing reaches the engine */
    vigil_capture_replay(c, on_packet, e, &g_stop);
    vigil_capture_close(c);
}

static uint32_t fnv1a(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    return h;
}

/* One full engine life in a child; abort here if the child did not exit 0. */
static void run_forked(int with_plugins, const uint8_t *data, size_t size)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fuzz_pcap: fork");
        abort();
    }
    if (pid == 0) {
        /* Quiet on success: the parent shows this log only on a failure. */
        int log = open(g_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            dup2(log, 2);
            close(log);
        }
        struct vigil_engine *e = new_engine(with_plugins);
        replay_into(e);
        int rc = vigil_engine_finish(e);
        vigil_engine_free(e);
        g_tmp[0] = '\0';        /* the parent owns the file */
        if (LLVMFuzzerRunDriver != NULL)
            _exit(rc == 0 ? 0 : 3); /* libFuzzer treats exit() as a finding */
        exit(rc == 0 ? 0 : 3);  /* exit, not _exit: LeakSanitizer runs */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            abort();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    FILE *log = fopen(g_log, "r");
    char line[1024];
    while (log && fgets(line, sizeof line, log))
        fputs(line, stderr);
    if (log)
        fclose(log);
    fprintf(stderr, "fuzz_pcap: input of %zu bytes (fnv1a %08x) failed with plugins=%s: %s %d\n",
            size, fnv1a(data, size), with_plugins ? "default" : "none",
            WIFSIGNALED(status) ? "signal" : "exit status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_fork < 0)
        setup();
    if (write_input(data, size) < 0) {
        perror("fuzz_pcap: writing the temporary capture");
        abort();
    }
    if (g_fork) {
        run_forked(0, data, size);
        if (g_plugin_dir[0])
            run_forked(1, data, size);
        return 0;
    }
    if (g_engine == NULL)
        g_engine = new_engine(1);
    replay_into(g_engine);
    return 0;
}
