/*
 * test_share.c - the sharing policy and what it produces: bundle structure
 * (every reference resolves, SCO ids recomputed, markings and producer on
 * every SDO/SRO), TLP filtering per destination, the three HOME_NET modes
 * (omit / anonymize / keep), key-file refusal, scrubbing of free text,
 * evidence allow-list, determinism, the MISP event and the file sinks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "cryptopan.h"
#include "share.h"
#include "stix.h"

#define ATTACKER "198.19.7.5"       /* outside home_net: shared as is */
#define VICTIM "198.18.0.20"        /* a customer */
#define VICTIM6 "fd00:1::20"
#define SAMPLE_KEY "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202"

struct fixture {
    struct vigil_config cfg;
    struct vigil_addrset home;
    struct vigil_output_env env;
    char keyfile[PATH_MAX];
    struct vigil_share *share;
};

static char keyfile_path[PATH_MAX];

static int group_setup(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR");
    snprintf(keyfile_path, sizeof keyfile_path, "%s/vigil_share_key_XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(keyfile_path);
    if (fd < 0)
        return -1;
    if (write(fd, SAMPLE_KEY "\n", 65) != 65 || fchmod(fd, 0600) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(keyfile_path);
    return 0;
}

/* A policy from [sharing] text (the key file line is added unless nokey). */
static struct fixture *fixture_new(const char *text, int nokey, char *err, size_t errlen)
{
    struct fixture *f = calloc(1, sizeof *f);
    char buf[4096], why[512];
    assert_non_null(f);
    vigil_config_init(&f->cfg);
    int n = snprintf(buf, sizeof buf, "[sharing]\n%s%s%s\n", text,
                     nokey ? "" : "\ncryptopan_key_file = ", nokey ? "" : keyfile_path);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    if (vigil_config_parse(&f->cfg, "sharing.conf", buf, (size_t)n, why, sizeof why) < 0)
        fail_msg("%s", why);
    assert_int_equal(vigil_addrset_parse(&f->home, "198.18.0.0/16, fc00::/7", why, sizeof why), 0);
    f->env.cfg = &f->cfg;
    f->env.home_net = &f->home;
    f->env.sensor_name = "sensor-test";
    f->share = vigil_share_new(&f->env, err, errlen);
    return f;
}

static void fixture_free(struct fixture *f)
{
    vigil_share_free(f->share);
    vigil_addrset_free(&f->home);
    vigil_config_free(&f->cfg);
    free(f);
}

static struct fixture *policy(const char *text)
{
    char err[1024] = "";
    struct fixture *f = fixture_new(text, 0, err, sizeof err);
    if (!f->share)
        fail_msg("policy refused: %s", err);
    return f;
}

static void set_addr(vigil_addr *a, const char *text)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, text, a->bytes) == 1)
        a->family = 4;
    else {
        assert_int_equal(inet_pton(AF_INET6, text, a->bytes), 1);
        a->family = 6;
    }
}

static const vigil_meta scan_meta[] = {
    { "first_seen", "1700000000.000000" },
    { "last_seen", "1700000041.250000" },
    { "packets", "1000" },
    { "sample", "GET /secret HTTP/1.1 from " VICTIM },
    { "top_source", VICTIM },
    { "dst_port", "22" },
};

struct alert_box {
    vigil_alert al;
    struct vigil_alert_event ev;
};

static void scan_alert(struct alert_box *b, const char *src, const char *dst)
{
    memset(b, 0, sizeof *b);
    b->al.size = sizeof b->al;
    b->al.gid = 1;
    b->al.signature_id = 9000001;
    b->al.rev = 1;
    b->al.severity = 2;
    b->al.signature = "VIGIL SCAN TCP vertical port scan of " VICTIM;
    b->al.category = "Attempted Information Leak";
    b->al.attack_category = "port_scan";
    b->al.attack_technique = "syn_scan";
    b->al.mitre_attack = "T1046";
    set_addr(&b->al.src, src);
    set_addr(&b->al.dst, dst);
    b->al.sport = 40000;
    b->al.dport = 22;
    b->al.ip_proto = 6;
    b->al.ts_us = INT64_C(1700000041250123);
    b->al.meta = scan_meta;
    b->al.meta_count = sizeof scan_meta / sizeof scan_meta[0];
    b->ev.alert = &b->al;
    b->ev.detector = "portscan";
    b->ev.ts_us = b->al.ts_us;
    b->ev.flow_id = 42;
}

/* ---- bundle checks (what the JSON schemas do not cover) ------------- */

static int is_sco(const char *t)
{
    return !strcmp(t, "ipv4-addr") || !strcmp(t, "ipv6-addr") || !strcmp(t, "network-traffic");
}

static json_t *find_obj(json_t *bundle, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(bundle, "objects"), i, o)
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return o;
    return NULL;
}

static const char *type_of(json_t *o)
{
    return json_string_value(json_object_get(o, "type"));
}

static void check_ref(json_t *bundle, const char *prop, json_t *ref, const char *want_type)
{
    assert_true(json_is_string(ref));
    json_t *t = find_obj(bundle, json_string_value(ref));
    if (!t)
        fail_msg("%s -> %s does not resolve", prop, json_string_value(ref));
    if (want_type && strcmp(type_of(t), want_type) != 0)
        fail_msg("%s -> %s, want a %s", prop, type_of(t), want_type);
}

/* The ID-contributing properties of an SCO we emit. */
static void check_sco_id(json_t *o)
{
    static const char *const nt_props[] = { "start", "end", "src_ref", "dst_ref", "src_port",
                                            "dst_port", "protocols", "extensions" };
    json_t *c = json_object();
    const char *type = type_of(o);
    if (!strcmp(type, "network-traffic")) {
        for (size_t i = 0; i < sizeof nt_props / sizeof nt_props[0]; i++)
            if (json_object_get(o, nt_props[i]))
                json_object_set(c, nt_props[i], json_object_get(o, nt_props[i]));
    } else {
        json_object_set(c, "value", json_object_get(o, "value"));
    }
    char id[VIGIL_STIX_ID_LEN];
    assert_int_equal(vigil_stix_sco_id(type, c, id, sizeof id), 0);
    assert_string_equal(id, json_string_value(json_object_get(o, "id")));
    json_decref(c);
}

static void check_bundle(json_t *b)
{
    assert_string_equal(type_of(b), "bundle");
    assert_null(json_object_get(b, "spec_version"));
    assert_int_equal(strncmp(json_string_value(json_object_get(b, "id")), "bundle--", 8), 0);
    json_t *objs = json_object_get(b, "objects");
    assert_true(json_array_size(objs) >= 5);
    size_t i, j;
    json_t *o, *r;
    int identities = 0;
    json_array_foreach(objs, i, o) {
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *type = type_of(o);
        assert_non_null(id);
        assert_int_equal(strncmp(id, type, strlen(type)), 0);
        assert_int_equal(strncmp(id + strlen(type), "--", 2), 0);
        for (const char *p = id; *p; p++)
            assert_false(*p >= 'A' && *p <= 'Z');
        assert_string_equal(json_string_value(json_object_get(o, "spec_version")), "2.1");
        for (size_t k = i + 1; k < json_array_size(objs); k++)
            assert_string_not_equal(id, json_string_value(
                                            json_object_get(json_array_get(objs, k), "id")));
        if (!strcmp(type, "identity"))
            identities++;
        if (is_sco(type)) {
            check_sco_id(o);
            if (!strcmp(type, "network-traffic")) {
                assert_true(json_object_get(o, "src_ref") || json_object_get(o, "dst_ref"));
                if (json_object_get(o, "src_ref"))
                    check_ref(b, "src_ref", json_object_get(o, "src_ref"), NULL);
                if (json_object_get(o, "dst_ref"))
                    check_ref(b, "dst_ref", json_object_get(o, "dst_ref"), NULL);
            }
            continue;
        }
        if (!strcmp(type, "marking-definition"))
            continue;
        /* SDO / SRO */
        assert_non_null(json_object_get(o, "created"));
        assert_non_null(json_object_get(o, "modified"));
        check_ref(b, "created_by_ref", json_object_get(o, "created_by_ref"), "identity");
        json_t *m = json_object_get(o, "object_marking_refs");
        assert_true(json_array_size(m) >= 1);
        json_array_foreach(m, j, r)
            check_ref(b, "object_marking_refs", r, "marking-definition");
        if (!strcmp(type, "observed-data")) {
            assert_true(json_array_size(json_object_get(o, "object_refs")) >= 1);
            json_array_foreach(json_object_get(o, "object_refs"), j, r) {
                check_ref(b, "object_refs", r, NULL);
                assert_true(is_sco(type_of(find_obj(b, json_string_value(r)))));
            }
            assert_true(json_integer_value(json_object_get(o, "number_observed")) >= 1);
        } else if (!strcmp(type, "sighting")) {
            json_t *of = json_object_get(o, "sighting_of_ref");
            check_ref(b, "sighting_of_ref", of, NULL);
            const char *ot = type_of(find_obj(b, json_string_value(of)));
            assert_false(is_sco(ot) || !strcmp(ot, "relationship") || !strcmp(ot, "sighting") ||
                         !strcmp(ot, "marking-definition"));
            json_array_foreach(json_object_get(o, "observed_data_refs"), j, r)
                check_ref(b, "observed_data_refs", r, "observed-data");
            json_array_foreach(json_object_get(o, "where_sighted_refs"), j, r)
                check_ref(b, "where_sighted_refs", r, "identity");
            assert_true(json_integer_value(json_object_get(o, "count")) >= 1);
        } else if (!strcmp(type, "relationship")) {
            check_ref(b, "source_ref", json_object_get(o, "source_ref"), "indicator");
            check_ref(b, "target_ref", json_object_get(o, "target_ref"), "attack-pattern");
        }
    }
    assert_int_equal(identities, 1);
}

static json_t *first_of(json_t *b, const char *type)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(b, "objects"), i, o)
        if (!strcmp(type_of(o), type))
            return o;
    return NULL;
}

static size_t count_of(json_t *b, const char *type)
{
    size_t i, n = 0;
    json_t *o;
    json_array_foreach(json_object_get(b, "objects"), i, o)
        n += !strcmp(type_of(o), type);
    return n;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(s);
    return s;
}

/* ---- tests ---------------------------------------------------------- */

static void test_bundle_default_policy(void **state)
{
    (void)state;
    struct fixture *f = policy("");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, "amber");
    assert_non_null(b);
    check_bundle(b);

    json_t *idn = first_of(b, "identity");
    assert_string_equal(json_string_value(json_object_get(idn, "identity_class")), "system");
    assert_string_equal(json_string_value(json_object_get(idn, "name")), "sensor-test");
    json_t *mk = first_of(b, "marking-definition");
    assert_string_equal(json_string_value(json_object_get(mk, "id")),
                        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421");

    json_t *ind = first_of(b, "indicator");
    assert_non_null(ind);
    assert_string_equal(json_string_value(json_object_get(ind, "pattern")),
                        "[ipv4-addr:value = '" ATTACKER "']");
    assert_string_equal(json_string_value(json_object_get(ind, "pattern_type")), "stix");
    assert_string_equal(json_string_value(json_object_get(ind, "valid_from")),
                        "2023-11-14T22:14:01.250Z");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ind, "indicator_types"), 0)),
                        "anomalous-activity");
    json_t *od = first_of(b, "observed-data");
    assert_string_equal(json_string_value(json_object_get(od, "first_observed")),
                        "2023-11-14T22:13:20.000Z");
    assert_string_equal(json_string_value(json_object_get(od, "last_observed")),
                        "2023-11-14T22:14:01.250Z");
    json_t *ap = first_of(b, "attack-pattern");
    json_t *er = json_array_get(json_object_get(ap, "external_references"), 0);
    assert_string_equal(json_string_value(json_object_get(er, "source_name")), "mitre-attack");
    assert_string_equal(json_string_value(json_object_get(er, "external_id")), "T1046");
    assert_string_equal(json_string_value(json_object_get(er, "url")),
                        "https://attack.mitre.org/techniques/T1046/");
    json_t *rel = first_of(b, "relationship");
    assert_string_equal(json_string_value(json_object_get(rel, "relationship_type")), "indicates");
    json_t *si = first_of(b, "sighting");
    assert_string_equal(json_string_value(json_object_get(si, "sighting_of_ref")),
                        json_string_value(json_object_get(ind, "id")));

    /* anonymize is the default: the victim is a pseudonym, never in clear */
    char *s = dump(b);
    assert_null(strstr(s, VICTIM));
    assert_non_null(strstr(s, ATTACKER));
    assert_null(strstr(s, "GET /secret"));      /* payload excerpt withheld */
    assert_null(strstr(s, "top_source"));       /* not a count */
    assert_non_null(strstr(s, "packets=1000"));
    assert_non_null(strstr(s, "pseudonyms"));
    free(s);

    /* the pseudonym is Crypto-PAn of the victim with the configured key */
    uint8_t key[32], in[4], out[4];
    char want[INET_ADDRSTRLEN];
    assert_int_equal(vigil_cryptopan_parse_hex(SAMPLE_KEY, 64, key), 0);
    struct vigil_cryptopan *cp = vigil_cryptopan_new(key);
    assert_int_equal(inet_pton(AF_INET, VICTIM, in), 1);
    assert_int_equal(vigil_cryptopan_ipv4(cp, in, out), 0);
    vigil_cryptopan_free(cp);
    inet_ntop(AF_INET, out, want, sizeof want);
    json_t *nt = first_of(b, "network-traffic");
    json_t *dst = find_obj(b, json_string_value(json_object_get(nt, "dst_ref")));
    assert_string_equal(json_string_value(json_object_get(dst, "value")), want);
    assert_int_equal(json_integer_value(json_object_get(nt, "dst_port")), 22);
    json_decref(b);
    fixture_free(f);
}

static void test_omit(void **state)
{
    (void)state;
    struct fixture *f = policy("home_net = omit");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_non_null(b);
    check_bundle(b);
    assert_int_equal(count_of(b, "ipv4-addr"), 1);
    json_t *nt = first_of(b, "network-traffic");
    assert_null(json_object_get(nt, "dst_ref"));
    assert_non_null(json_object_get(nt, "src_ref"));
    assert_int_equal(json_array_size(json_object_get(first_of(b, "observed-data"), "object_refs")), 2);
    char *s = dump(b);
    assert_null(strstr(s, VICTIM));
    assert_non_null(strstr(s, "[internal]"));   /* scrubbed from the signature */
    free(s);
    json_decref(b);

    /* internal attacker, internal victim: nothing left to share */
    scan_alert(&a, "198.18.0.9", VICTIM);
    assert_null(vigil_share_stix_bundle(f->share, &a.ev, NULL));
    assert_false(vigil_share_allowed(f->share, &a.ev, NULL));
    assert_null(vigil_share_misp_event(f->share, &a.ev, NULL));

    /* internal attacker against an outside target: no indicator, sighting of the technique */
    scan_alert(&a, "198.18.0.9", "203.0.113.80");
    b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_non_null(b);
    check_bundle(b);
    assert_null(first_of(b, "indicator"));
    assert_null(first_of(b, "relationship"));
    assert_string_equal(type_of(find_obj(b, json_string_value(json_object_get(
                                                first_of(b, "sighting"), "sighting_of_ref")))),
                        "attack-pattern");
    s = dump(b);
    assert_null(strstr(s, "198.18.0.9"));
    free(s);
    json_decref(b);
    fixture_free(f);
}

static void test_keep(void **state)
{
    (void)state;
    struct fixture *f = policy("home_net = keep");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_non_null(b);
    check_bundle(b);
    char *s = dump(b);
    assert_non_null(strstr(s, "\"value\":\"" VICTIM "\""));
    free(s);
    json_decref(b);
    fixture_free(f);
}

static void test_anonymize_ipv6_and_internal_attacker(void **state)
{
    (void)state;
    struct fixture *f = policy("home_net = anonymize");
    struct alert_box a;
    scan_alert(&a, "2001:db8::5", VICTIM6);
    a.al.signature = "scan of fd00:1::20 port 22";
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_non_null(b);
    check_bundle(b);
    assert_int_equal(count_of(b, "ipv6-addr"), 2);
    assert_string_equal(json_string_value(json_object_get(first_of(b, "indicator"), "pattern")),
                        "[ipv6-addr:value = '2001:db8::5']");
    char *s = dump(b);
    assert_null(strstr(s, VICTIM6));
    free(s);
    json_decref(b);

    /* an internal attacker is pseudonymised: no indicator on a pseudonym */
    scan_alert(&a, "198.18.0.9", "203.0.113.80");
    b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_non_null(b);
    check_bundle(b);
    assert_null(first_of(b, "indicator"));
    s = dump(b);
    assert_null(strstr(s, "198.18.0.9"));
    assert_non_null(strstr(s, "203.0.113.80"));
    free(s);
    json_decref(b);
    fixture_free(f);
}

static void test_tlp_filtering(void **state)
{
    (void)state;
    struct fixture *f = policy("tlp.default = green\ntlp.portscan = red\ntlp.flood = clear\n"
                               "stix.max_tlp = amber\nmisp.max_tlp = green\n"
                               "taxii.max_tlp = amber+strict");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    assert_int_equal(vigil_share_tlp_for(f->share, "portscan"), VIGIL_TLP_RED);
    assert_int_equal(vigil_share_tlp_for(f->share, "bruteforce"), VIGIL_TLP_GREEN);
    assert_string_equal(vigil_share_max_tlp(f->share, "stix"), "amber");
    assert_string_equal(vigil_share_max_tlp(f->share, "misp"), "green");
    assert_string_equal(vigil_share_max_tlp(f->share, "taxii"), "amber+strict");

    /* red is above every destination here */
    assert_null(vigil_share_stix_bundle(f->share, &a.ev, "amber"));
    assert_null(vigil_share_misp_event(f->share, &a.ev, "amber+strict"));
    assert_false(vigil_share_allowed(f->share, &a.ev, "amber"));
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, "red");
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(first_of(b, "marking-definition"), "name")),
                        "TLP:RED");
    json_decref(b);

    a.ev.detector = "flood";
    b = vigil_share_stix_bundle(f->share, &a.ev, "clear");
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(first_of(b, "marking-definition"), "id")),
                        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487");
    json_decref(b);

    a.ev.detector = "bruteforce";       /* green */
    assert_null(vigil_share_stix_bundle(f->share, &a.ev, "clear"));
    json_t *m = vigil_share_misp_event(f->share, &a.ev, "green");
    assert_non_null(m);
    json_t *e = json_object_get(m, "Event");
    assert_string_equal(json_string_value(json_object_get(e, "distribution")), "2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(e, "Tag"), 0), "name")),
                        "tlp:green");
    json_decref(m);
    fixture_free(f);
}

static void test_bad_settings(void **state)
{
    (void)state;
    char err[1024];
    struct fixture *f;

    f = fixture_new("", 1, err, sizeof err);       /* anonymize without a key */
    assert_null(f->share);
    assert_non_null(strstr(err, "cryptopan_key_file"));
    assert_non_null(strstr(err, "home_net = omit"));
    fixture_free(f);

    f = fixture_new("home_net = omit", 1, err, sizeof err);
    assert_non_null(f->share);
    fixture_free(f);

    f = policy("home_net = keep");
    fixture_free(f);

    f = fixture_new("home_net = hide", 0, err, sizeof err);
    assert_null(f->share);
    assert_non_null(strstr(err, "sharing.conf:2: home_net"));
    fixture_free(f);

    f = fixture_new("tlp.portscan = purple", 0, err, sizeof err);
    assert_null(f->share);
    assert_non_null(strstr(err, "sharing.conf:2: tlp.portscan"));
    fixture_free(f);

    f = fixture_new("payload_excerpts = 2", 0, err, sizeof err);
    assert_null(f->share);
    fixture_free(f);

    /* a key file others may read */
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX], text[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/vigil_share_badkey_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, SAMPLE_KEY, 64), 64);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    snprintf(text, sizeof text, "cryptopan_key_file = %s", path);
    f = fixture_new(text, 1, err, sizeof err);
    assert_null(f->share);
    assert_non_null(strstr(err, "sharing.conf:2: cryptopan_key_file"));
    assert_non_null(strstr(err, "0644"));
    fixture_free(f);
    /* wrong length */
    assert_int_equal(truncate(path, 20), 0);
    assert_int_equal(chmod(path, 0600), 0);
    f = fixture_new(text, 1, err, sizeof err);
    assert_null(f->share);
    assert_non_null(strstr(err, "32 raw bytes or 64 hex"));
    fixture_free(f);
    unlink(path);

    /* every documented key is read (so none is reported as unknown) */
    f = policy("tlp.default = amber\ntlp.portscan = green\nhome_net = anonymize\n"
               "payload_excerpts = 0\nindicator_valid_days = 3\nstix.max_tlp = amber\n"
               "misp.max_tlp = amber\ntaxii.max_tlp = amber");
    assert_non_null(f->share);
    for (size_t i = 0; i < f->cfg.count; i++)
        if (!f->cfg.entries[i].used)
            fail_msg("%s not read", f->cfg.entries[i].key);
    fixture_free(f);
}

/* cryptopan_key_file = NAME is read next to the settings file naming it. */
static void test_key_file_relative_to_settings(void **state)
{
    (void)state;
    char dir[PATH_MAX], conf[PATH_MAX + 16], text[PATH_MAX + 64], why[512], err[1024] = "";
    snprintf(dir, sizeof dir, "%s", keyfile_path);
    char *slash = strrchr(dir, '/');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(conf, sizeof conf, "%s/sharing.conf", dir);
    int n = snprintf(text, sizeof text, "[sharing]\ncryptopan_key_file = %s\n", slash + 1);
    struct vigil_config cfg;
    struct vigil_addrset home;
    vigil_config_init(&cfg);
    assert_int_equal(vigil_config_parse(&cfg, conf, text, (size_t)n, why, sizeof why), 0);
    assert_int_equal(vigil_addrset_parse(&home, "198.18.0.0/16", why, sizeof why), 0);
    struct vigil_output_env env = { .cfg = &cfg, .home_net = &home, .sensor_name = "s" };
    assert_int_not_equal(chdir("/"), -1);       /* not where the key is */
    struct vigil_share *s = vigil_share_new(&env, err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    vigil_share_free(s);
    vigil_addrset_free(&home);
    vigil_config_free(&cfg);
}

static void test_payload_excerpts(void **state)
{
    (void)state;
    struct fixture *f = policy("payload_excerpts = 1");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *b = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    char *s = dump(b);
    assert_non_null(strstr(s, "GET /secret"));  /* evidence allowed ... */
    assert_null(strstr(s, VICTIM));             /* ... but still scrubbed */
    assert_non_null(strstr(s, "top_source="));
    free(s);
    json_decref(b);
    fixture_free(f);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct fixture *f = policy(""), *g = policy("");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *b1 = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    json_t *b2 = vigil_share_stix_bundle(g->share, &a.ev, NULL);
    char *s1 = dump(b1), *s2 = dump(b2);
    assert_string_equal(s1, s2);
    json_t *m1 = vigil_share_misp_event(f->share, &a.ev, NULL);
    json_t *m2 = vigil_share_misp_event(g->share, &a.ev, NULL);
    char *t1 = dump(m1), *t2 = dump(m2);
    assert_string_equal(t1, t2);

    /* a later alert: new observation ids, same identity and attack-pattern */
    a.ev.ts_us += 1000000;
    json_t *b3 = vigil_share_stix_bundle(f->share, &a.ev, NULL);
    assert_string_not_equal(json_string_value(json_object_get(b1, "id")),
                            json_string_value(json_object_get(b3, "id")));
    assert_string_equal(json_string_value(json_object_get(first_of(b1, "identity"), "id")),
                        json_string_value(json_object_get(first_of(b3, "identity"), "id")));
    assert_string_equal(json_string_value(json_object_get(first_of(b1, "attack-pattern"), "id")),
                        json_string_value(json_object_get(first_of(b3, "attack-pattern"), "id")));
    assert_string_not_equal(json_string_value(json_object_get(first_of(b1, "sighting"), "id")),
                            json_string_value(json_object_get(first_of(b3, "sighting"), "id")));
    free(s1);
    free(s2);
    free(t1);
    free(t2);
    json_decref(b1);
    json_decref(b2);
    json_decref(b3);
    json_decref(m1);
    json_decref(m2);
    fixture_free(f);
    fixture_free(g);
}

static json_t *attr_by_relation(json_t *attrs, const char *rel)
{
    size_t i;
    json_t *x;
    json_array_foreach(attrs, i, x)
        if (!strcmp(json_string_value(json_object_get(x, "object_relation")), rel))
            return x;
    return NULL;
}

static void test_misp_event(void **state)
{
    (void)state;
    struct fixture *f = policy("home_net = keep");
    struct alert_box a;
    scan_alert(&a, ATTACKER, VICTIM);
    json_t *m = vigil_share_misp_event(f->share, &a.ev, NULL);
    assert_non_null(m);
    json_t *e = json_object_get(m, "Event");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "date")), "2023-11-14");
    assert_string_equal(json_string_value(json_object_get(e, "threat_level_id")), "2");
    assert_string_equal(json_string_value(json_object_get(e, "distribution")), "1");
    assert_true(json_is_string(json_object_get(e, "analysis")));
    assert_true(json_is_false(json_object_get(e, "published")));
    const char *info = json_string_value(json_object_get(e, "info"));
    assert_true(strlen(info) < 256 && !strchr(info, '\n'));
    const char *uuid = json_string_value(json_object_get(e, "uuid"));
    assert_int_equal(strlen(uuid), 36);
    json_t *tags = json_object_get(e, "Tag");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 0), "name")), "tlp:amber");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 1), "name")),
                        "misp-galaxy:mitre-attack-pattern=\"Network Service Discovery - T1046\"");
    json_t *attrs = json_object_get(e, "Attribute");
    json_t *src = json_array_get(attrs, 0);
    assert_string_equal(json_string_value(json_object_get(src, "type")), "ip-src");
    assert_string_equal(json_string_value(json_object_get(src, "value")), ATTACKER);
    assert_true(json_is_true(json_object_get(src, "to_ids")));
    json_t *sg = json_array_get(json_object_get(src, "Sighting"), 0);
    assert_string_equal(json_string_value(json_object_get(sg, "type")), "0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 1), "type")), "ip-dst");
    json_t *obj = json_array_get(json_object_get(e, "Object"), 0);
    assert_string_equal(json_string_value(json_object_get(obj, "name")), "network-connection");
    assert_string_equal(json_string_value(json_object_get(obj, "template_uuid")),
                        "af16764b-f8e5-4603-9de1-de34d272f80b");
    json_t *oa = json_object_get(obj, "Attribute");
    assert_string_equal(json_string_value(json_object_get(attr_by_relation(oa, "dst-port"), "value")), "22");
    assert_string_equal(json_string_value(json_object_get(attr_by_relation(oa, "src-port"), "value")), "40000");
    assert_string_equal(json_string_value(json_object_get(attr_by_relation(oa, "layer4-protocol"), "value")), "TCP");
    assert_non_null(attr_by_relation(oa, "community-id"));
    assert_non_null(attr_by_relation(oa, "ip-dst"));
    json_decref(m);
    fixture_free(f);

    /* default policy: pseudonym, not actionable, no community id */
    f = policy("");
    m = vigil_share_misp_event(f->share, &a.ev, NULL);
    char *s = dump(m);
    assert_null(strstr(s, VICTIM));
    assert_null(strstr(s, "community-id"));
    free(s);
    oa = json_object_get(json_array_get(json_object_get(json_object_get(m, "Event"), "Object"), 0),
                         "Attribute");
    assert_true(json_is_false(json_object_get(attr_by_relation(oa, "ip-dst"), "to_ids")));
    json_decref(m);
    fixture_free(f);

    f = policy("home_net = omit");
    m = vigil_share_misp_event(f->share, &a.ev, NULL);
    oa = json_object_get(json_array_get(json_object_get(json_object_get(m, "Event"), "Object"), 0),
                         "Attribute");
    assert_null(attr_by_relation(oa, "ip-dst"));
    s = dump(m);
    assert_null(strstr(s, VICTIM));
    free(s);
    json_decref(m);
    fixture_free(f);
}

static void test_sinks(void **state)
{
    (void)state;
    struct fixture *f = policy("tlp.flood = red");
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX], err[512], line[65536];
    const char *kinds[] = { "stix", "misp" };
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/vigil_share_sink_XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        struct vigil_output out;
        int rc = k == 0 ? vigil_output_open_stix(path, &f->env, &out, err, sizeof err)
                        : vigil_output_open_misp(path, &f->env, &out, err, sizeof err);
        if (rc < 0)
            fail_msg("%s", err);
        assert_string_equal(out.name, kinds[k]);
        struct alert_box a;
        scan_alert(&a, ATTACKER, VICTIM);
        assert_int_equal(out.alert(out.self, &a.ev), 0);
        a.ev.detector = "flood";        /* red: withheld */
        assert_int_equal(out.alert(out.self, &a.ev), 0);
        a.ev.detector = "portscan";
        a.ev.ts_us += 5;
        assert_int_equal(out.alert(out.self, &a.ev), 0);
        assert_int_equal(out.close(out.self), 0);

        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        int n = 0;
        while (fgets(line, sizeof line, fp)) {
            json_error_t je;
            json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
            if (!j)
                fail_msg("%s line %d: %s", kinds[k], n + 1, je.text);
            if (k == 0)
                check_bundle(j);
            else
                assert_non_null(json_object_get(j, "Event"));
            assert_null(strstr(line, VICTIM));
            json_decref(j);
            n++;
        }
        fclose(fp);
        assert_int_equal(n, 2);
        unlink(path);
    }
    /* a policy error stops the sink from opening */
    struct fixture *g = fixture_new("", 1, err, sizeof err);
    struct vigil_output out;
    assert_int_equal(vigil_output_open_stix("/dev/null", &g->env, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "stix output"));
    fixture_free(g);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_default_policy),
        cmocka_unit_test(test_omit),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_anonymize_ipv6_and_internal_attacker),
        cmocka_unit_test(test_tlp_filtering),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_key_file_relative_to_settings),
        cmocka_unit_test(test_payload_excerpts),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_misp_event),
        cmocka_unit_test(test_sinks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown) != 0;
}
