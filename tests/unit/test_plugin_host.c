/* test_plugin_host.c - plugin loader and dispatch, with real .so files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrset.h"
#include "config.h"
#include "flow.h"
#include "plugin_host.h"

struct sink {
    int alerts;
    char home[8], watched[8];
    char last_detector[64];
    vigil_alert last;
    char last_meta_key[32];
    size_t last_meta_count;
};

static void sink_fn(void *user, const char *detector, size_t idx, const vigil_alert *a,
                    struct vigil_flow *flow)
{
    (void)idx;
    (void)flow;
    struct sink *s = user;
    s->alerts++;
    snprintf(s->last_detector, sizeof s->last_detector, "%s", detector);
    s->last = *a;
    s->last_meta_count = a->meta_count;
    if (a->meta_count > 0)
        snprintf(s->last_meta_key, sizeof s->last_meta_key, "%s", a->meta[0].key);
    for (size_t i = 0; i < a->meta_count; i++) {
        if (strcmp(a->meta[i].key, "home") == 0)
            snprintf(s->home, sizeof s->home, "%s", a->meta[i].value);
        if (strcmp(a->meta[i].key, "watched") == 0)
            snprintf(s->watched, sizeof s->watched, "%s", a->meta[i].value);
    }
}

static const char *build_dir(void)
{
    const char *b = getenv("VIGIL_BUILD");
    return b ? b : "build";
}

static void plugin_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/tests/plugins/%s.so", build_dir(), name);
}

struct fixture {
    struct vigil_config cfg;
    struct sink sink;
    struct vigil_plugin_host *host;
    char err[1024];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    vigil_config_init(&f->cfg);
    f->host = vigil_plugin_host_new(&f->cfg, sink_fn, &f->sink, 0);
    assert_non_null(f->host);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vigil_plugin_host_free(f->host);
    vigil_config_free(&f->cfg);
    free(f);
    return 0;
}

static int load(struct fixture *f, const char *name)
{
    char path[512];
    plugin_path(path, sizeof path, name);
    return vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err);
}

static void test_good_plugin_loads(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "good"), 0);
    assert_int_equal(vigil_plugin_host_count(f->host), 1);
    assert_string_equal(vigil_plugin_host_name(f->host, 0), "good");
    assert_string_equal(vigil_plugin_host_version(f->host, 0), "1.0");
    assert_non_null(strstr(vigil_plugin_host_path(f->host, 0), "good.so"));
    assert_int_equal(vigil_plugin_host_wants_streams(f->host), 0);
}

static void test_abi_major_mismatch_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "abi_major"), -1);
    assert_non_null(strstr(f->err, "abi_major.so"));
    assert_non_null(strstr(f->err, "plugin ABI 99.3"));
    assert_non_null(strstr(f->err, "sensor ABI 1.0"));
    assert_int_equal(vigil_plugin_host_count(f->host), 0);
}

static void test_too_small_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "too_small"), -1);
    assert_non_null(strstr(f->err, "too_small.so"));
    assert_non_null(strstr(f->err, "bytes"));
    assert_non_null(strstr(f->err, "plugin ABI 1.0, sensor ABI 1.0"));
}

static void test_missing_symbol_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "no_entry"), -1);
    assert_non_null(strstr(f->err, "no_entry.so"));
    assert_non_null(strstr(f->err, "no entry point vigil_plugin_entry"));
}

static void test_not_a_shared_object(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/vigil-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/junk.so", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not an ELF file\n", fp);
    fclose(fp);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "cannot load"));
    unlink(path);
    rmdir(dir);
}

/* Copy a built test plugin into a fresh directory. */
static void copy_plugin(const char *name, const char *dir, char *out, size_t outlen)
{
    char src[512];
    plugin_path(src, sizeof src, name);
    snprintf(out, outlen, "%s/%s.so", dir, name);
    FILE *in = fopen(src, "rb"), *o = fopen(out, "wb");
    assert_non_null(in);
    assert_non_null(o);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, o), n);
    fclose(in);
    fclose(o);
    chmod(out, 0755);
}

static void test_world_writable_file_refused(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/vigil-test-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    copy_plugin("good", dir, path, sizeof path);
    chmod(path, 0777);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "world-writable"));
    assert_non_null(strstr(f->err, path));
    chmod(path, 0755);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), 0);
    unlink(path);
    rmdir(dir);
}

static void test_world_writable_dir_refused(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/vigil-test-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    copy_plugin("good", dir, path, sizeof path);
    chmod(dir, 0777);
    assert_int_equal(vigil_plugin_host_load_dir(f->host, dir, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "world-writable"));
    chmod(dir, 0755);
    assert_int_equal(vigil_plugin_host_load_dir(f->host, dir, f->err, sizeof f->err), 0);
    assert_int_equal(vigil_plugin_host_count(f->host), 1);
    unlink(path);
    rmdir(dir);
}

static void test_foreign_owner_refused(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();     /* only root can give a file away */
    char dir[] = "/tmp/vigil-test-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    copy_plugin("good", dir, path, sizeof path);
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "owned by uid 65534"));
    assert_int_equal(chown(path, 0, 0), 0);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), 0);
    unlink(path);
    rmdir(dir);
}

static void test_duplicate_name_refused(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/vigil-test-XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    copy_plugin("good", dir, path, sizeof path);
    assert_int_equal(load(f, "good"), 0);
    assert_int_equal(vigil_plugin_host_load_file(f->host, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "already loaded"));
    unlink(path);
    rmdir(dir);
}

static void test_config_error_refuses_plugin(void **state)
{
    struct fixture *f = *state;
    const char *text = "[bad_config]\nlevel = 11\n";
    assert_int_equal(vigil_config_parse(&f->cfg, "t.conf", text, strlen(text), f->err,
                                        sizeof f->err), 0);
    assert_int_equal(load(f, "bad_config"), -1);
    /* One line naming the file, the line and the detector. */
    assert_non_null(strstr(f->err, "t.conf:2: level: 11 is outside [0, 10]"));
    assert_non_null(strstr(f->err, "detector bad_config refused to start"));
    assert_int_equal(vigil_plugin_host_count(f->host), 0);
}

static vigil_packet tcp_packet(uint16_t sport, uint16_t dport)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_HAS_L4;
    p.ts_us = 1700000000000000LL;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = 6;
    p.src.family = p.dst.family = 4;
    p.src.bytes[0] = 198, p.src.bytes[1] = 18, p.src.bytes[3] = 1;
    p.dst.bytes[0] = 198, p.dst.bytes[1] = 18, p.dst.bytes[3] = 2;
    p.sport = sport;
    p.dport = dport;
    return p;
}

static void release(void *user, struct vigil_flow *flow)
{
    vigil_plugin_host_release_flow(user, flow);
}

static int g_resolved;

static struct vigil_flow *resolve(void *user, const vigil_packet *p, const vigil_stream *st)
{
    (void)st;
    g_resolved++;
    return vigil_flow_get(user, &p->src, &p->dst, p->sport, p->dport, p->ip_proto,
                          p->ts_us, 1);
}

static void test_dispatch_alerts_and_flow_state(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, "good"), 0);
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    const int64_t timeouts[VIGIL_FLOWQ_COUNT] = { 1000000, 1000000, 1000000 };
    struct vigil_flow_table *t = vigil_flow_table_new(4, 1, timeouts, release, f->host, &st);
    assert_non_null(t);
    vigil_plugin_host_set_resolver(f->host, resolve, t);
    g_resolved = 0;
    for (uint16_t port = 31330; port < 31340; port++) {
        vigil_packet p = tcp_packet(40000, port);
        vigil_plugin_host_packet(f->host, &p);
        struct vigil_flow *fl = vigil_flow_get(t, &p.src, &p.dst, p.sport, p.dport, 6,
                                               p.ts_us, 0);
        assert_non_null(fl);
        assert_non_null(fl->slots[0]);
    }
    /* Looked up once per packet, however many times the plugin asked. */
    assert_int_equal(g_resolved, 10);
    /* Ten flows through a table of four: six evicted, each slot freed once. */
    assert_int_equal(st.flows_evicted, 6);
    assert_int_equal(f->sink.alerts, 1);
    assert_string_equal(f->sink.last_detector, "good");
    assert_int_equal(f->sink.last.signature_id, 9999001);
    assert_int_equal(f->sink.last.gid, 1);       /* 0 becomes 1 */
    assert_int_equal(f->sink.last.rev, 1);
    assert_int_equal(f->sink.last.dport, 31337);
    assert_int_equal(f->sink.last.ts_us, 1700000000000000LL); /* 0 becomes now */
    assert_int_equal(f->sink.last_meta_count, 4);
    assert_string_equal(f->sink.home, "no");        /* no home_net set */
    assert_string_equal(f->sink.watched, "unset");
    assert_string_equal(f->sink.last_meta_key, "evidence");
    vigil_flow_table_free(t);   /* the remaining four slots are freed here */
    assert_int_equal(st.flows_active, 0);
}

static void test_home_net_and_address_lists(void **state)
{
    struct fixture *f = *state;
    const char *text = "[good]\nwatch = 198.18.0.0/24\n";
    assert_int_equal(vigil_config_parse(&f->cfg, "t.conf", text, strlen(text), f->err,
                                        sizeof f->err), 0);
    struct vigil_addrset home;
    assert_int_equal(vigil_addrset_parse(&home, "198.18.0.0/16", f->err, sizeof f->err), 0);
    vigil_plugin_host_set_home_net(f->host, &home);
    assert_int_equal(load(f, "good"), 0);
    assert_int_equal(vigil_config_find(&f->cfg, "good", "watch")->used, 1);
    vigil_packet p = tcp_packet(40000, 31337);
    vigil_plugin_host_packet(f->host, &p);
    assert_int_equal(f->sink.alerts, 1);
    assert_string_equal(f->sink.home, "yes");
    assert_string_equal(f->sink.watched, "yes");
    vigil_plugin_host_free(f->host);    /* before home goes away */
    f->host = vigil_plugin_host_new(&f->cfg, sink_fn, &f->sink, 0);
    vigil_addrset_free(&home);
}

static void test_bad_address_list_refuses_plugin(void **state)
{
    struct fixture *f = *state;
    const char *text = "[good]\nwatch = 198.18.0.0/99\n";
    assert_int_equal(vigil_config_parse(&f->cfg, "t.conf", text, strlen(text), f->err,
                                        sizeof f->err), 0);
    assert_int_equal(load(f, "good"), -1);
    assert_non_null(strstr(f->err, "t.conf:2: watch: '198.18.0.0/99'"));
    assert_non_null(strstr(f->err, "detector good refused to start"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_plugin_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abi_major_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_small_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_symbol_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_shared_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_dir_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_name_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_error_refuses_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_net_and_address_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_address_list_refuses_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_alerts_and_flow_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
