/* test_watchdog.c - the plugin call budget, with the spin test plugin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "flow.h"
#include "plugin_host.h"
#include "watchdog.h"

#define BUDGET_MS 100

/*
 * A plugin the watchdog disabled keeps its memory: it is abandoned on
 * purpose (docs/plugins.md). LeakSanitizer, when it runs, is told so for
 * the spin plugin's allocations only.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:spin_init\nleak:spin_packet\nleak:spin_services\n";
}

struct fixture {
    struct vigil_config cfg;
    struct vigil_plugin_host *host;
    struct vigil_watchdog *wd;
    struct vigil_flow_table *flows;
    struct vigil_stats stats;
    char err[1024];
    /* what the sink and the overrun callback saw */
    int alerts[8];              /* by sid 9999101.. (spin) */
    int good_alerts;
    int overruns;
    char overrun_name[64], overrun_callback[32];
    int64_t overrun_budget, overrun_ran;
    int overrun_nested;
};

static const char *build_dir(void)
{
    const char *b = getenv("VIGIL_BUILD");
    return b ? b : "build";
}

static void sink(void *user, const char *detector, size_t idx, const vigil_alert *a,
                 struct vigil_flow *flow)
{
    (void)idx;
    (void)flow;
    struct fixture *f = user;
    if (strcmp(detector, "good") == 0)
        f->good_alerts++;
    else if (a->signature_id >= 9999101 && a->signature_id < 9999109)
        f->alerts[a->signature_id - 9999101]++;
}

static void on_overrun(void *user, const struct vigil_overrun *o)
{
    struct fixture *f = user;
    f->overruns++;
    snprintf(f->overrun_name, sizeof f->overrun_name, "%s", o->name);
    snprintf(f->overrun_callback, sizeof f->overrun_callback, "%s", o->callback);
    f->overrun_budget = o->budget_ms;
    f->overrun_ran = o->ran_ms;
    f->overrun_nested = o->nested;
}

static struct vigil_flow *resolve(void *user, const vigil_packet *p, const vigil_stream *st)
{
    (void)st;
    struct fixture *f = user;
    return vigil_flow_get(f->flows, &p->src, &p->dst, p->sport, p->dport, p->ip_proto,
                          p->ts_us, 1);
}

static void release(void *user, struct vigil_flow *flow)
{
    struct fixture *f = user;
    vigil_plugin_host_release_flow(f->host, flow);
}

static void load(struct fixture *f, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/plugins/%s.so", build_dir(), name);
    if (vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err) != 0)
        fail_msg("%s", f->err);
}

/* A host with spin (index 0) then good (index 1), a flow table of
 * max_flows, and a watchdog of BUDGET_MS unless budget is 0. */
static struct fixture *make(size_t max_flows, int64_t budget_ms, const char *spin_ms)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    vigil_config_init(&f->cfg);
    assert_int_equal(vigil_config_set(&f->cfg, "test", "spin", "spin_ms", spin_ms, f->err,
                                      sizeof f->err), 0);
    f->host = vigil_plugin_host_new(&f->cfg, sink, f, 0);
    assert_non_null(f->host);
    if (budget_ms > 0) {
        f->wd = vigil_watchdog_start(budget_ms, f->err, sizeof f->err);
        assert_non_null(f->wd);
        vigil_plugin_host_set_watchdog(f->host, f->wd, on_overrun, f);
    }
    load(f, "spin");
    load(f, "good");
    const int64_t timeouts[VIGIL_FLOWQ_COUNT] = { 1000000, 1000000, 1000000 };
    f->flows = vigil_flow_table_new(max_flows, 2, timeouts, release, f, &f->stats);
    assert_non_null(f->flows);
    vigil_plugin_host_set_resolver(f->host, resolve, f);
    return f;
}

static void destroy(struct fixture *f)
{
    vigil_flow_table_free(f->flows);
    vigil_plugin_host_free(f->host);
    vigil_watchdog_stop(f->wd);
    vigil_config_free(&f->cfg);
    free(f);
}

static vigil_packet packet(uint8_t proto, uint16_t sport, uint16_t dport, const char *payload)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_HAS_L4;
    p.ts_us = 1700000000000000LL;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.src.family = p.dst.family = 4;
    memcpy(p.src.bytes, "\xc6\x13\x00\x01", 4);
    memcpy(p.dst.bytes, "\xc6\x12\x00\x02", 4);
    p.sport = sport;
    p.dport = dport;
    p.payload = (const uint8_t *)payload;
    p.payload_len = (uint32_t)strlen(payload);
    p.payload_wire_len = p.payload_len;
    return p;
}

static void send(struct fixture *f, uint8_t proto, uint16_t sport, uint16_t dport,
                 const char *payload)
{
    vigil_packet p = packet(proto, sport, dport, payload);
    vigil_plugin_host_packet(f->host, &p);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the watchdog alone ---------------------------------------------------- */

static void test_one_per_process(void **state)
{
    (void)state;
    char err[256];
    assert_null(vigil_watchdog_start(0, err, sizeof err));
    struct vigil_watchdog *wd = vigil_watchdog_start(50, err, sizeof err);
    assert_non_null(wd);
    assert_int_equal(vigil_watchdog_budget_ms(wd), 50);
    assert_null(vigil_watchdog_start(50, err, sizeof err));
    assert_non_null(strstr(err, "already"));
    vigil_watchdog_stop(wd);
    wd = vigil_watchdog_start(50, err, sizeof err);
    assert_non_null(wd);
    vigil_watchdog_stop(wd);
    vigil_watchdog_stop(NULL);
}

static void test_code_ranges(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/tests/plugins/good.so", build_dir());
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    struct vigil_wd_code code;
    assert_int_equal(vigil_watchdog_code_of(dl, 7, &code), 0);
    assert_int_equal(code.plugin, 7);
    assert_true(code.n >= 1);
    void *sym = dlsym(dl, "vigil_plugin_entry");
    assert_non_null(sym);
    int inside = 0;
    for (int i = 0; i < code.n; i++)
        inside |= (uintptr_t)sym >= code.lo[i] && (uintptr_t)sym < code.hi[i];
    assert_true(inside);
    /* Our own code is not the plugin's. */
    inside = 0;
    for (int i = 0; i < code.n; i++)
        inside |= (uintptr_t)&test_code_ranges >= code.lo[i] &&
                   (uintptr_t)&test_code_ranges < code.hi[i];
    assert_false(inside);
    dlclose(dl);
    assert_int_equal(vigil_watchdog_code_of(NULL, 0, &code), -1);
    assert_int_equal(code.n, 0);
}

/* ---- plugins under the watchdog -------------------------------------------- */

/* No watchdog: the spin finishes and the plugin carries on. */
static void test_without_budget_spin_completes(void **state)
{
    (void)state;
    struct fixture *f = make(64, 0, "50");
    send(f, 17, 5000, 9, "SPINLOOP");
    assert_int_equal(f->alerts[2], 1);          /* spin completed */
    send(f, 17, 5000, 9, "MARK");
    assert_int_equal(f->alerts[0], 1);
    vigil_plugin_host_finish(f->host);
    assert_int_equal(f->alerts[3], 1);          /* on_finish ran */
    destroy(f);
}

/* A busy loop in the plugin's own code: stopped within the budget (plus one
 * look), disabled, never called again; the other plugin carries on. */
static void test_busy_loop_disabled(void **state)
{
    (void)state;
    struct fixture *f = make(64, BUDGET_MS, "5000");
    send(f, 17, 5000, 9, "MARK");
    assert_int_equal(f->alerts[0], 1);
    int64_t t0 = mono_ms();
    send(f, 17, 5000, 9, "SPINLOOP");
    int64_t took = mono_ms() - t0;
    assert_int_equal(f->overruns, 1);
    assert_string_equal(f->overrun_name, "spin");
    assert_string_equal(f->overrun_callback, "on_packet");
    assert_int_equal(f->overrun_budget, BUDGET_MS);
    assert_true(f->overrun_ran >= BUDGET_MS);
    assert_false(f->overrun_nested);
    assert_true(took >= BUDGET_MS);
    assert_true(took < 5000);                   /* not the whole spin */
    assert_int_equal(f->alerts[2], 0);
    assert_true(vigil_plugin_host_disabled(f->host, 0));
    assert_false(vigil_plugin_host_disabled(f->host, 1));
    assert_int_equal(vigil_plugin_host_disabled_count(f->host), 1);

    send(f, 17, 5000, 9, "MARK");
    assert_int_equal(f->alerts[0], 1);          /* never called again */
    send(f, 6, 40000, 31337, "");
    assert_int_equal(f->good_alerts, 1);        /* the other one still works */
    vigil_plugin_host_finish(f->host);
    assert_int_equal(f->alerts[3], 0);          /* no on_finish either */
    assert_int_equal(f->overruns, 1);
    destroy(f);
}

/* A loop over host services (alerts, flow state, whose replacement calls
 * its own flow_free nested in the service): stopped when a service returns,
 * so every alert the sink got is whole. */
static void test_service_loop_disabled(void **state)
{
    (void)state;
    struct fixture *f = make(64, BUDGET_MS, "5000");
    int64_t t0 = mono_ms();
    send(f, 17, 5000, 9, "SPINALERT");
    assert_true(mono_ms() - t0 < 5000);
    assert_int_equal(f->overruns, 1);
    assert_string_equal(f->overrun_name, "spin");
    assert_true(f->alerts[1] > 0);              /* it did loop */
    assert_int_equal(f->alerts[2], 0);
    assert_true(vigil_plugin_host_disabled(f->host, 0));
    send(f, 6, 40000, 31337, "");
    assert_int_equal(f->good_alerts, 1);
    destroy(f);
}

/*
 * A call nested in another plugin's service: good looks up its flow, the
 * full table evicts spin's flow, and spin's flow_free spins. The watchdog
 * stops the nested call only; good's lookup and its alert complete.
 */
static void test_nested_flow_free(void **state)
{
    (void)state;
    struct fixture *f = make(1, BUDGET_MS, "5000");
    send(f, 17, 5000, 9, "SPINFREE");           /* the one flow, marked */
    send(f, 6, 40000, 31337, "");               /* good's lookup evicts it */
    assert_int_equal(f->overruns, 1);
    assert_string_equal(f->overrun_name, "spin");
    assert_string_equal(f->overrun_callback, "flow_free");
    assert_true(f->overrun_nested);
    assert_int_equal(f->good_alerts, 1);
    assert_int_equal(f->stats.flows_evicted, 1);
    assert_true(vigil_plugin_host_disabled(f->host, 0));
    assert_false(vigil_plugin_host_disabled(f->host, 1));
    destroy(f);
}

/* Blocked in the kernel: the signal never lands in the plugin's code, and
 * after one more budget the process ends with VIGIL_EXIT_WATCHDOG_STUCK. */
static void test_blocked_call_ends_process(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        struct fixture *f = make(64, BUDGET_MS, "10000");
        send(f, 17, 5000, 9, "SPINSLEEP");
        _exit(0);                               /* not reached */
    }
    int64_t t0 = mono_ms();
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    int64_t took = mono_ms() - t0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), VIGIL_EXIT_WATCHDOG_STUCK);
    assert_true(took >= 2 * BUDGET_MS);
    assert_true(took < 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_per_process),
        cmocka_unit_test(test_code_ranges),
        cmocka_unit_test(test_without_budget_spin_completes),
        cmocka_unit_test(test_busy_loop_disabled),
        cmocka_unit_test(test_service_loop_disabled),
        cmocka_unit_test(test_nested_flow_free),
        cmocka_unit_test(test_blocked_call_ends_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
