/* main.c - the vigil command line. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "checksum.h"
#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "privdrop.h"
#include "progress.h"
#include "reasm.h"
#include "collect.h"
#include "report.h"
#include "vigil-paths.h"
#include "workers.h"
#include "vigil/plugin.h"

/* Exit codes (also in the README and --help). */
enum {
    EXIT_OK = 0,
    EXIT_INPUT = 1,             /* unreadable/truncated input, interface, I/O */
    EXIT_USAGE = 2,             /* bad option, filter, rules, plugin, link type */
    EXIT_OVERRUN = 3,           /* a detector overran its budget, plugin_overrun = exit */
    /* 4: VIGIL_EXIT_WATCHDOG_STUCK, the overrun could not be interrupted */
};

/* Set from the signal handlers; the capture loops poll them. */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;     /* SIGUSR2: reload rules and detectors */
static volatile sig_atomic_t g_reopen;     /* SIGHUP: reopen output files */

static void on_signal(int sig)
{
    if (sig == SIGUSR2)
        g_reload = 1;
    else if (sig == SIGHUP)
        g_reopen = 1;
    else
        g_stop = 1;
}

struct cli {
    char **paths;
    size_t npaths;
    const char *iface;
    const char *bpf;
    const char *eve_path;
    const char *log_dir;
    const char *plugin_dir;
    const char *rules_dir;
    int verbosity;
    int quiet;
    int list_plugins;
    int test_config;             /* -T: load rules and plugins, then exit */
    const char *report_path;     /* --report: HTML report of the replay's EVE */
    char **settings_files;      /* -c FILE */
    size_t nsettings_files;
    char **settings;            /* --set section.key=value, -S, --check-rules */
    size_t nsettings;
    char settings_buf[2][PATH_MAX + 64];
    struct vigil_output_spec outputs[6];
    size_t noutputs;
    int stats_interval_sec;
    struct vigil_live_options live;
    int checksums;              /* enum vigil_checksum_mode */
    int workers;                /* live: processes sharing the interface */
    struct vigil_privdrop priv; /* --user, --group */
    const char *pidfile;
    int daemon;
    char eve_buf[PATH_MAX];
    char plugin_buf[PATH_MAX + 16];
    char rules_buf[PATH_MAX + 16];
};

static void usage(FILE *out)
{
    fprintf(out,
"Usage: vigil [options] -r PATH [PATH...]   replay capture files or directories\n"
"       vigil [options] -i IFACE            capture live on an interface\n"
"       vigil report [options] EVE_FILE     HTML report of an EVE file (see vigil report -h)\n"
"       vigil collect [options]             merge alerts from a Redis stream (see vigil collect -h)\n"
"\n"
"Input:\n"
"  -r PATH            pcap/pcapng file or directory; several are read as one\n"
"                     capture in timestamp order (time is packet time)\n"
"  -i IFACE           live capture (promiscuous, full snaplen)\n"
"  -f EXPR            BPF filter, e.g. -f 'tcp or udp'\n"
"  --snaplen N        live snapshot length (default 262144)\n"
"  --buffer-mb N      live kernel ring buffer in MiB (default 64)\n"
"  --no-promisc       do not put the interface in promiscuous mode\n"
"  --checksums M      live: verify TCP/UDP checksums: off (default), on, or auto\n"
"                     (on unless the first packets show checksum offload)\n"
"  --workers N        live: N capture processes in an AF_PACKET fanout group\n"
"  --fanout M         how workers split traffic: hostpair (default) or flow\n"
"Output:\n"
"  --eve FILE         EVE JSON alerts and stats to FILE ('-' = stdout, the default)\n"
"  -l DIR             write EVE JSON to DIR/eve.json\n"
"  --report FILE      after a replay, write an HTML report of its alerts to FILE\n"
"  --redis T          also publish alerts and stats to a Redis stream (HOST:PORT or unix:PATH)\n"
"  --stix FILE        also write shareable STIX 2.1 bundles (policy: rules/sharing.conf)\n"
"  --misp FILE        also write shareable MISP events (same policy)\n"
"  --taxii URL        also push STIX bundles to a TAXII 2.1 collection (spooled)\n"
"  --stats-interval S live mode: a stats event every S seconds (default 60)\n"
"  -q                 no summary or progress bar on stderr\n"
"  -v                 more detector messages (repeat for debug)\n"
"Detectors:\n"
"  -P DIR             plugin directory (default: %s)\n"
"  -R DIR             rules/settings directory (default: %s)\n"
"  --list-plugins     list the loaded detectors and exit\n"
"  -T                 check the rules and plugins load, then exit\n"
"  -c FILE            a settings file read after the rules directory, overriding it\n"
"  --set S.K=V        override setting K of section S, e.g. --set portscan.window_sec=120\n"
"  -S FILE            load exactly this signature rule file (no other rules)\n"
"  --check-rules DIR  validate the signature rules in DIR and print counts\n"
"Daemon:\n"
"  --user U           after opening the capture and outputs, run as user U\n"
"                     (all capabilities dropped; checked in /proc/self/status)\n"
"  --group G          with --user: run as group G instead of U's group\n"
"  --pidfile FILE     write and lock a pid file\n"
"  --daemon           detach once the capture and rules are set up\n"
"  Signals (live): SIGHUP reopens output files, SIGUSR2 reloads rules and\n"
"  detectors, SIGTERM/SIGINT stop after flushing.\n"
"Other:\n"
"  -h, --help         this text\n"
"  -V, --version      versions of vigil, libpcap, libnids and the plugin ABI\n"
"\n"
"Exit status: 0 success; 1 unreadable or truncated input, interface or output\n"
"error; 2 bad usage, filter, rules, plugin or unsupported link type; 3 a detector\n"
"overran its time budget ([vigil] plugin_overrun = exit); 4 an overrun that\n"
"could not be interrupted.\n",
            VIGIL_PLUGIN_DIR, VIGIL_RULES_DIR);
}

static void version(void)
{
    printf("vigil %s\n%s\nlibnids %s\nplugin ABI %d.%d\n", VIGIL_VERSION,
           pcap_lib_version(), vigil_reasm_version(), VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Run from a build tree (a marker file beside the binary), vigil uses that
 * tree's plugins and the checkout's rules; installed, the installed paths.
 */
static void default_dirs(struct cli *c)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char marker[PATH_MAX + 32];
            snprintf(marker, sizeof marker, "%s/.vigil-build", exe);
            if (access(marker, F_OK) == 0) {
                snprintf(c->plugin_buf, sizeof c->plugin_buf, "%s/plugins", exe);
                char rules[PATH_MAX + 16];
                snprintf(rules, sizeof rules, "%s/../rules", exe);
                if (realpath(rules, c->rules_buf) == NULL)
                    snprintf(c->rules_buf, sizeof c->rules_buf, "%s", rules);
                if (!c->plugin_dir)
                    c->plugin_dir = c->plugin_buf;
                if (!c->rules_dir)
                    c->rules_dir = c->rules_buf;
            }
        }
    }
    if (!c->plugin_dir)
        c->plugin_dir = VIGIL_PLUGIN_DIR;
    if (!c->rules_dir)
        c->rules_dir = VIGIL_RULES_DIR;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

enum { OPT_EVE = 256, OPT_LIST, OPT_STATS, OPT_SNAPLEN, OPT_BUFFER, OPT_NOPROMISC, OPT_SET,
       OPT_CHECK_RULES, OPT_REPORT, OPT_REDIS, OPT_STIX, OPT_MISP, OPT_TAXII,
       OPT_CHECKSUMS, OPT_WORKERS, OPT_FANOUT, OPT_USER, OPT_GROUP, OPT_PIDFILE, OPT_DAEMON };

/* Sinks besides EVE, in the order given. */
static void add_output(struct cli *c, const char *kind, const char *target)
{
    if (c->noutputs < sizeof c->outputs / sizeof c->outputs[0]) {
        c->outputs[c->noutputs].kind = kind;
        c->outputs[c->noutputs].target = target;
        c->noutputs++;
    }
}

/* Settings from the command line go through the same parser as the files. */
static void add_setting(struct cli *c, char *text)
{
    c->settings[c->nsettings++] = text;
}

/* Options that are shorthands for a setting of the signature detector. */
static void add_signature_setting(struct cli *c, int which, const char *key, const char *value)
{
    snprintf(c->settings_buf[which], sizeof c->settings_buf[which], "signature.%s=%s", key,
             value);
    add_setting(c, c->settings_buf[which]);
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "eve", required_argument, NULL, OPT_EVE },
        { "list-plugins", no_argument, NULL, OPT_LIST },
        { "stats-interval", required_argument, NULL, OPT_STATS },
        { "snaplen", required_argument, NULL, OPT_SNAPLEN },
        { "buffer-mb", required_argument, NULL, OPT_BUFFER },
        { "no-promisc", no_argument, NULL, OPT_NOPROMISC },
        { "set", required_argument, NULL, OPT_SET },
        { "check-rules", required_argument, NULL, OPT_CHECK_RULES },
        { "report", required_argument, NULL, OPT_REPORT },
        { "redis", required_argument, NULL, OPT_REDIS },
        { "stix", required_argument, NULL, OPT_STIX },
        { "misp", required_argument, NULL, OPT_MISP },
        { "taxii", required_argument, NULL, OPT_TAXII },
        { "checksums", required_argument, NULL, OPT_CHECKSUMS },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { "fanout", required_argument, NULL, OPT_FANOUT },
        { "user", required_argument, NULL, OPT_USER },
        { "group", required_argument, NULL, OPT_GROUP },
        { "pidfile", required_argument, NULL, OPT_PIDFILE },
        { "daemon", no_argument, NULL, OPT_DAEMON },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    c->paths = calloc((size_t)argc, sizeof *c->paths);
    c->settings = calloc((size_t)argc + 2, sizeof *c->settings);
    c->settings_files = calloc((size_t)argc, sizeof *c->settings_files);
    if (c->paths == NULL || c->settings == NULL || c->settings_files == NULL)
        return -1;
    c->live.promisc = 1;
    c->stats_interval_sec = 60;
    c->workers = 1;
    c->live.fanout_mode = VIGIL_FANOUT_HOSTPAIR;
    while ((ch = getopt_long(argc, argv, "c:r:i:f:l:P:R:S:TqvhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': c->paths[c->npaths++] = optarg; break;
        case 'i': c->iface = optarg; break;
        case 'f': c->bpf = optarg; break;
        case 'l': c->log_dir = optarg; break;
        case 'P': c->plugin_dir = optarg; break;
        case 'R': c->rules_dir = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'v': c->verbosity++; break;
        case OPT_EVE: c->eve_path = optarg; break;
        case OPT_LIST: c->list_plugins = 1; break;
        case OPT_REPORT: c->report_path = optarg; break;
        case OPT_REDIS: add_output(c, "redis", optarg); break;
        case OPT_STIX: add_output(c, "stix", optarg); break;
        case OPT_MISP: add_output(c, "misp", optarg); break;
        case OPT_TAXII: add_output(c, "taxii", optarg); break;
        case 'T': c->test_config = 1; break;
        case OPT_SET: add_setting(c, optarg); break;
        case 'c': c->settings_files[c->nsettings_files++] = optarg; break;
        case 'S': add_signature_setting(c, 0, "rule_files", optarg); break;
        case OPT_CHECK_RULES:
            add_signature_setting(c, 1, "rules_dir", optarg);
            c->test_config = 1;
            c->verbosity++;     /* the detector's load counts are INFO lines */
            break;
        case OPT_NOPROMISC: c->live.promisc = 0; break;
        case OPT_USER: c->priv.user = optarg; break;
        case OPT_GROUP: c->priv.group = optarg; break;
        case OPT_PIDFILE: c->pidfile = optarg; break;
        case OPT_DAEMON: c->daemon = 1; break;
        case OPT_CHECKSUMS:
            if ((c->checksums = vigil_checksum_parse_mode(optarg)) < 0) {
                vigil_err("--checksums: expected off, on or auto, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_WORKERS:
            if (parse_int(optarg, 1, VIGIL_MAX_WORKERS, &c->workers) < 0) {
                vigil_err("--workers: expected 1-%d, got '%s'", VIGIL_MAX_WORKERS, optarg);
                return -1;
            }
            break;
        case OPT_FANOUT:
            if (strcmp(optarg, "hostpair") == 0)
                c->live.fanout_mode = VIGIL_FANOUT_HOSTPAIR;
            else if (strcmp(optarg, "flow") == 0)
                c->live.fanout_mode = VIGIL_FANOUT_FLOW;
            else {
                vigil_err("--fanout: expected hostpair or flow, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_STATS:
            if (parse_int(optarg, 0, 86400, &c->stats_interval_sec) < 0) {
                vigil_err("--stats-interval: expected seconds (0-86400), got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_SNAPLEN:
            if (parse_int(optarg, 64, 262144, &c->live.snaplen) < 0) {
                vigil_err("--snaplen: expected 64-262144, got '%s'", optarg);
                return -1;
            }
            break;
        case OPT_BUFFER:
            if (parse_int(optarg, 1, 4096, &c->live.buffer_mb) < 0) {
                vigil_err("--buffer-mb: expected 1-4096, got '%s'", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case 'V': version(); exit(EXIT_OK);
        default:
            fprintf(stderr, "Try 'vigil --help'.\n");
            return -1;
        }
    }
    /* Operands after -r are more capture paths. */
    for (int i = optind; i < argc; i++) {
        if (c->npaths == 0 || c->iface) {
            vigil_err("unexpected argument '%s' (capture paths follow -r; "
                      "filters go with -f)", argv[i]);
            return -1;
        }
        c->paths[c->npaths++] = argv[i];
    }
    return 0;
}

static int resolve_outputs(struct cli *c)
{
    if (c->report_path && (c->iface || (c->eve_path && strcmp(c->eve_path, "-") == 0) ||
                           (!c->eve_path && !c->log_dir))) {
        vigil_err("--report needs a replay (-r) writing to --eve FILE or -l DIR");
        return -1;
    }
    if (c->eve_path && c->log_dir) {
        vigil_err("use either --eve FILE or -l DIR, not both");
        return -1;
    }
    if (c->log_dir) {
        if (!is_dir(c->log_dir)) {
            vigil_err("%s: not a directory", c->log_dir);
            return -1;
        }
        snprintf(c->eve_buf, sizeof c->eve_buf, "%s/eve.json", c->log_dir);
        c->eve_path = c->eve_buf;
    }
    if (!c->eve_path)
        c->eve_path = "-";
    return 0;
}

struct live_ctx {
    struct vigil_engine *engine;
    struct vigil_capture *capture;
    struct vigil_checksum_state cs;
    int notify;                 /* tell systemd about reloads */
};

static void update_kernel_stats(struct live_ctx *lc)
{
    uint64_t recv, drop, ifdrop;
    if (vigil_capture_kernel_stats(lc->capture, &recv, &drop, &ifdrop) == 0)
        vigil_engine_set_kernel_stats(lc->engine, recv, drop, ifdrop);
}

static void live_idle(void *user)
{
    struct live_ctx *lc = user;
    struct timespec now;
    if (g_reopen) {
        g_reopen = 0;
        vigil_engine_reopen_outputs(lc->engine);
    }
    if (g_reload) {
        g_reload = 0;
        char err[1024] = "";
        if (lc->notify)
            vigil_notify("RELOADING=1");
        if (vigil_engine_reload(lc->engine, err, sizeof err) < 0)
            vigil_err("reload failed, the running rules and detectors stay: %s", err);
        else
            vigil_err("reloaded rules and detectors");
        if (lc->notify)
            vigil_notify("READY=1");
    }
    clock_gettime(CLOCK_REALTIME, &now);
    update_kernel_stats(lc);
    vigil_engine_idle(lc->engine, (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000);
}

struct replay_ctx {
    struct vigil_engine *engine;
    struct vigil_capture *capture;
    struct vigil_progress progress;
};

static void replay_progress(struct replay_ctx *rc, int force)
{
    uint64_t done, total;
    vigil_capture_position(rc->capture, &done, &total);
    vigil_progress_draw(&rc->progress, done, total, vigil_engine_alert_count(rc->engine), force);
}

static void replay_packet(void *user, int dlt, const struct pcap_pkthdr *h,
                          const uint8_t *data)
{
    struct replay_ctx *rc = user;
    vigil_engine_packet(rc->engine, dlt, h, data);
    if (vigil_progress_tick(&rc->progress))
        replay_progress(rc, 0);
}

static void live_packet(void *user, int dlt, const struct pcap_pkthdr *h,
                        const uint8_t *data)
{
    struct live_ctx *lc = user;
    if (vigil_checksum_filter(&lc->cs, dlt, data, h->caplen, h->len))
        vigil_engine_packet(lc->engine, dlt, h, data);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a closed stdout is an output error, not death */
}

/* ---- live capture: one process, or one worker of several ------------------ */

/*
 * Open the capture, then the engine (outputs, plugins), then give up
 * privileges, then capture until stopped. ready_fd >= 0: a worker, which
 * reports readiness to its supervisor; else the one process, which tells
 * the --daemon parent and systemd.
 */
/* The engine's options from the command line. */
static struct vigil_engine_options engine_options(const struct cli *c, const char *eve_path,
                                                  int quiet, int live, int worker)
{
    struct vigil_engine_options eo = {
        .plugin_dir = c->plugin_dir,
        .rules_dir = c->rules_dir,
        .eve_path = eve_path,
        .verbosity = VIGIL_LOG_WARNING + c->verbosity - (c->quiet ? 1 : 0),
        .quiet = quiet,
        .live = live,
        .stats_interval_us = live ? (int64_t)c->stats_interval_sec * 1000000 : 0,
        .settings_files = c->settings_files,
        .nsettings_files = c->nsettings_files,
        .settings = c->settings,
        .nsettings = c->nsettings,
        .outputs = c->outputs,
        .noutputs = c->noutputs,
        .worker = worker,
        .stop = &g_stop,
    };
    return eo;
}

/* worker: the worker's number + 1, or 0 for the one process. */
static int live_session(struct cli *c, const char *eve_path, int quiet, int ready_fd,
                        int worker)
{
    char err[1024] = "";
    int code = EXIT_OK;
    struct vigil_capture *cap = vigil_capture_open_live(c->iface, c->bpf, &c->live, err,
                                                        sizeof err, &code);
    if (cap == NULL) {
        vigil_err("%s", err);
        return code;
    }
    struct vigil_engine_options eo = engine_options(c, eve_path, quiet, 1, worker);
    struct vigil_engine *e = vigil_engine_new(&eo, err, sizeof err, &code);
    if (e == NULL) {
        vigil_err("%s", err);
        vigil_capture_close(cap);
        return code;
    }
    if (vigil_privdrop_apply(&c->priv, err, sizeof err) < 0) {
        vigil_err("%s", err);
        vigil_engine_free(e);
        vigil_capture_close(cap);
        return EXIT_INPUT;
    }
    struct live_ctx lc = { .engine = e, .capture = cap, .notify = ready_fd < 0 };
    lc.cs.mode = c->checksums;
    if (ready_fd >= 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* cleared by the uid change */
        if (getppid() == 1)
            g_stop = 1;                     /* the supervisor is already gone */
        vigil_workers_ready(ready_fd);
    } else {
        vigil_daemon_ready(EXIT_OK);
        vigil_notify("READY=1");
    }
    int broken = vigil_capture_live(cap, live_packet, live_idle, &lc, 200, &g_stop);
    if (lc.notify)
        vigil_notify("STOPPING=1");
    update_kernel_stats(&lc);
    if (lc.cs.dropped)
        vigil_err("%llu packets with a wrong TCP/UDP checksum were not inspected",
                  (unsigned long long)lc.cs.dropped);
    int overran = vigil_engine_stopping(e);
    int out_failed = vigil_engine_finish(e) < 0;
    vigil_engine_free(e);
    vigil_capture_close(cap);
    if (overran)
        return EXIT_OVERRUN;
    return (broken || out_failed) ? EXIT_INPUT : EXIT_OK;
}

static int worker_main(void *user, int index, int ready_fd)
{
    return live_session(user, "-", 1, ready_fd, index + 1);
}

/* Every worker is capturing: the supervisor drops privileges too. */
static int workers_ready(void *user)
{
    struct cli *c = user;
    char err[1024];
    if (vigil_privdrop_apply(&c->priv, err, sizeof err) < 0) {
        vigil_err("%s", err);
        return -1;
    }
    vigil_daemon_ready(EXIT_OK);
    vigil_notify("READY=1");
    return 0;
}

static int run_live(struct cli *c)
{
    char err[1024] = "";
    if (vigil_privdrop_resolve(&c->priv, err, sizeof err) < 0) {
        vigil_err("%s", err);
        return EXIT_USAGE;
    }
    if (c->daemon && vigil_daemon_start(err, sizeof err) < 0) {
        vigil_err("%s", err);
        return EXIT_INPUT;
    }
    if (c->pidfile && vigil_pidfile_open(c->pidfile, err, sizeof err) < 0) {
        vigil_err("%s", err);
        return EXIT_INPUT;
    }
    vigil_notify_init();
    install_signals();
    if (c->workers <= 1) {
        c->live.fanout_mode = VIGIL_FANOUT_NONE;
        return live_session(c, c->eve_path, c->quiet, -1, 0);
    }
    c->live.fanout_group = (int)(getpid() & 0xffff);
    struct vigil_workers_options wo = {
        .nworkers = c->workers,
        .eve_path = c->eve_path,
        .quiet = c->quiet,
        .stop = &g_stop,
        .reload = &g_reload,
        .reopen = &g_reopen,
        .on_ready = workers_ready,
        .user = c,
    };
    int rc = vigil_workers_run(&wo, worker_main);
    vigil_notify("STOPPING=1");
    return rc;
}

/* Options that only make sense for a live capture, and their combinations. */
static int check_live_options(const struct cli *c)
{
    int live_only = c->workers > 1 || c->priv.user || c->priv.group || c->pidfile ||
                    c->daemon || c->checksums != VIGIL_CHECKSUMS_OFF;
    if (live_only && !c->iface) {
        vigil_err("--workers, --checksums, --user, --group, --pidfile and --daemon "
                  "need a live capture (-i)");
        return -1;
    }
    if (c->daemon && strcmp(c->eve_path, "-") == 0) {
        vigil_err("--daemon needs --eve FILE or -l DIR (stdout goes to /dev/null)");
        return -1;
    }
    for (size_t i = 0; c->workers > 1 && i < c->noutputs; i++) {
        if (strcmp(c->outputs[i].kind, "redis") != 0) {
            vigil_err("--%s cannot be used with --workers (each worker would write it); "
                      "use --redis or one process", c->outputs[i].kind);
            return -1;
        }
    }
    return 0;
}

static int run(struct cli *c)
{
    char err[1024] = "";
    int code = EXIT_OK;
    struct vigil_capture *cap = NULL;
    int setup_only = c->list_plugins || c->test_config;
    if (c->iface && !setup_only)
        return run_live(c);
    if (!setup_only) {
        cap = c->iface ? vigil_capture_open_live(c->iface, c->bpf, &c->live, err,
                                                 sizeof err, &code)
                       : vigil_capture_open_files(c->paths, c->npaths, c->bpf, err,
                                                  sizeof err, &code);
        if (cap == NULL) {
            vigil_err("%s", err);
            return code;
        }
    }
    const char *eve_path = setup_only ? "/dev/null" : c->eve_path;
    struct vigil_engine_options eo =
        engine_options(c, eve_path, c->quiet || setup_only, c->iface != NULL, 0);
    struct vigil_engine *e = vigil_engine_new(&eo, err, sizeof err, &code);
    if (e == NULL) {
        vigil_err("%s", err);
        vigil_capture_close(cap);
        return code;
    }
    if (setup_only) {
        if (c->list_plugins)
            vigil_engine_list_plugins(e);
        else
            printf("vigil: configuration OK (%s, %s)\n", c->rules_dir, c->plugin_dir);
        vigil_engine_free(e);
        return EXIT_OK;
    }
    install_signals();
    int broken;
    if (c->iface) {
        struct live_ctx lc = { e, cap };
        broken = vigil_capture_live(cap, live_packet, live_idle, &lc, 200, &g_stop);
        update_kernel_stats(&lc);
    } else {
        /* The bar would tangle with EVE lines written to the same terminal. */
        struct replay_ctx rc = { .engine = e, .capture = cap };
        vigil_progress_init(&rc.progress, stderr,
                            c->quiet || (strcmp(c->eve_path, "-") == 0 && isatty(STDOUT_FILENO)));
        broken = vigil_capture_replay(cap, replay_packet, &rc, &g_stop);
        vigil_progress_finish(&rc.progress);
    }
    int overran = vigil_engine_stopping(e);
    int out_failed = vigil_engine_finish(e) < 0;
    vigil_engine_free(e);
    vigil_capture_close(cap);
    if (overran)
        return EXIT_OVERRUN;
    if (c->report_path && !out_failed &&
        vigil_report_file(c->eve_path, c->report_path, c->quiet) != 0)
        out_failed = 1;
    return (broken || out_failed) ? EXIT_INPUT : EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return vigil_report_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "collect") == 0)
        return vigil_collect_main(argc - 1, argv + 1);
    if (parse_args(&c, argc, argv) < 0) {
        free(c.paths);
        free(c.settings);
        free(c.settings_files);
        return EXIT_USAGE;
    }
    if (!c.list_plugins && !c.test_config && ((c.npaths == 0) == (c.iface == NULL))) {
        vigil_err("give either -r PATH... or -i IFACE (see vigil --help)");
        free(c.paths);
        free(c.settings);
        free(c.settings_files);
        return EXIT_USAGE;
    }
    if (resolve_outputs(&c) < 0 || check_live_options(&c) < 0) {
        free(c.paths);
        free(c.settings);
        free(c.settings_files);
        return EXIT_USAGE;
    }
    default_dirs(&c);
    int rc = run(&c);
    vigil_daemon_ready(rc);     /* no-op unless --daemon failed before it was ready */
    vigil_pidfile_remove();
    free(c.paths);
    free(c.settings);
    free(c.settings_files);
    return rc;
}
