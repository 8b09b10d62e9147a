/*
 * test_signature.c - the signature detector.
 *
 * The parser (plugins/signature/parse.c, no library) is compiled into this
 * binary and tested directly: headers, lists, variables, every option's
 * syntax, errors with their column, skipped keywords. Matching is tested
 * through the plugin's ABI (build/plugins/signature.so, which links
 * Hyperscan and PCRE2) by the fake host (tests/unit/support/fake_host.h):
 * each case loads one rule file, feeds packets or stream chunks and counts
 * alerts per sid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_host.h"

#include "../../plugins/signature/parse.c"

/* ---- parser ------------------------------------------------------------------------- */

static int parse(const char *text, struct sig_rule *r, struct sig_parse_err *e)
{
    static struct sig_var v[] = {
        { (char *)"HOME_NET", (char *)"[10.0.0.0/8,192.168.0.0/16]" },
        { (char *)"HTTP_PORTS", (char *)"[80,8080]" },
        { (char *)"LOOP", (char *)"$LOOP" },
    };
    struct sig_vars vars = { v, 3, 0 };
    return sig_parse_rule(text, &vars, r, e);
}

static void test_header(void **st)
{
    (void)st;
    struct sig_rule r;
    struct sig_parse_err e;
    assert_int_equal(parse("alert tcp $HOME_NET any -> !$HOME_NET $HTTP_PORTS "
                           "(msg:\"m\"; sid:7; rev:3;)", &r, &e), SIG_PARSE_OK);
    assert_int_equal(r.sid, 7);
    assert_int_equal(r.rev, 3);
    assert_int_equal(r.gid, 1);
    assert_string_equal(r.msg, "m");
    uint8_t a10[4] = { 10, 1, 2, 3 }, a11[4] = { 11, 0, 0, 1 }, a192[4] = { 192, 168, 5, 5 };
    assert_true(sig_addr_match(&r.src, 4, a10, NULL, NULL));
    assert_true(sig_addr_match(&r.src, 4, a192, NULL, NULL));
    assert_false(sig_addr_match(&r.src, 4, a11, NULL, NULL));
    assert_true(sig_addr_match(&r.dst, 4, a11, NULL, NULL));
    assert_false(sig_addr_match(&r.dst, 4, a10, NULL, NULL));
    assert_true(sig_port_match(&r.dport, 8080));
    assert_false(sig_port_match(&r.dport, 81));
    sig_rule_free(&r);

    assert_int_equal(parse("pass udp [1.2.3.0/24,!1.2.3.4] 1024: <> any [!53,100:200] "
                           "(sid:1;)", &r, &e), SIG_PARSE_OK);
    uint8_t b1[4] = { 1, 2, 3, 5 }, b2[4] = { 1, 2, 3, 4 };
    assert_int_equal(r.action, SIG_PASS);
    assert_int_equal(r.bidir, 1);
    assert_true(sig_addr_match(&r.src, 4, b1, NULL, NULL));
    assert_false(sig_addr_match(&r.src, 4, b2, NULL, NULL));
    assert_true(sig_port_match(&r.sport, 1024));
    assert_true(sig_port_match(&r.sport, 65535));
    assert_false(sig_port_match(&r.sport, 1023));
    assert_true(sig_port_match(&r.dport, 150));
    assert_false(sig_port_match(&r.dport, 53));
    assert_false(sig_port_match(&r.dport, 99));
    sig_rule_free(&r);

    assert_int_equal(parse("alert ip 2001:db8::/32 any -> any any (sid:2;)", &r, &e),
                     SIG_PARSE_OK);
    uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb9 };
    assert_true(sig_addr_match(&r.src, 6, v6, NULL, NULL));
    assert_false(sig_addr_match(&r.src, 6, v6b, NULL, NULL));
    assert_false(sig_addr_match(&r.src, 4, v6, NULL, NULL));
    sig_rule_free(&r);

    assert_int_equal(parse("alert tcp-pkt any any -> any any (sid:3;)", &r, &e), SIG_PARSE_OK);
    assert_int_equal(r.tcp_mode, SIG_TCP_PKT);
    sig_rule_free(&r);
    assert_int_equal(parse("alert tcp-stream any any -> any any (sid:3;)", &r, &e), SIG_PARSE_OK);
    assert_int_equal(r.tcp_mode, SIG_TCP_STREAM);
    sig_rule_free(&r);
}

struct bad_case {
    const char *text;
    int column;
};

static void test_syntax_errors_name_the_column(void **st)
{
    (void)st;
    static const struct bad_case cases[] = {
        { "alert tcp any 99999 -> any any (sid:1;)", 15 },
        { "alert tcp any any => any any (sid:1;)", 0 },     /* skipped, not an error */
        { "alert tcp any any -> any any (sid:1; nocase;)", 38 },
        { "alert tcp any any -> any any (content:\"abc\"; depth:x; sid:1;)", 52 },
        { "alert tcp any any -> any any (content:\"ab|4\"; sid:1;)", 39 },
        { "alert tcp any any -> any any (msg:\"open; sid:1;)", 35 },
        { "alert tcp any any -> any any (sid:1; flags:SQ;)", 45 },
        { "alert tcp any any -> any any (sid:1)", 36 },
        { "alert foo any any -> any any (sid:1;)", 7 },
        { "alert tcp 10.0.0.300 any -> any any (sid:1;)", 11 },
        { "alert tcp any any -> any any (content:\"abcd\"; depth:2; sid:1;)", 53 },
        { "alert tcp any any -> any any (msg:\"no sid\";)", 0 },
        { "alert tcp $LOOP any -> any any (sid:1;)", 11 },
        { "alert tcp $NOPE any -> any any (sid:1;)", 11 },
        { "blah", 5 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sig_rule r;
        struct sig_parse_err e;
        int rc = parse(cases[i].text, &r, &e);
        if (i == 1) {
            assert_int_equal(rc, SIG_PARSE_SKIP);
            sig_rule_free(&r);
            continue;
        }
        if (rc != SIG_PARSE_ERROR)
            fail_msg("case %zu accepted: %s", i, cases[i].text);
        if (cases[i].column && e.column != cases[i].column)
            fail_msg("case %zu: column %d, expected %d (%s)", i, e.column, cases[i].column, e.msg);
        assert_true(e.msg[0] != '\0');
    }
}

static void test_unsupported_keyword_skips(void **st)
{
    (void)st;
    struct sig_rule r;
    struct sig_parse_err e;
    assert_int_equal(parse("alert tcp any any -> any any (content:\"a\"; http_uri; sid:42;)",
                           &r, &e), SIG_PARSE_SKIP);
    assert_string_equal(e.keyword, "http_uri");
    assert_int_equal(r.sid, 42);
    sig_rule_free(&r);
    assert_int_equal(parse("alert http any any -> any any (sid:43;)", &r, &e), SIG_PARSE_SKIP);
    assert_string_equal(e.keyword, "protocol http");
    sig_rule_free(&r);
    assert_int_equal(parse("alert tcp any any -> any any (pcre:\"/a/H\"; sid:44;)", &r, &e),
                     SIG_PARSE_SKIP);
    assert_string_equal(e.keyword, "pcre/H");
    sig_rule_free(&r);
    assert_int_equal(parse("alert tcp any any -> any any (threshold:type backoff, track by_flow, "
                           "count 1, multiplier 10; sid:45;)", &r, &e), SIG_PARSE_SKIP);
    sig_rule_free(&r);
}

static void test_options_parse(void **st)
{
    (void)st;
    struct sig_rule r;
    struct sig_parse_err e;
    assert_int_equal(parse("alert tcp any any -> any any (msg:\"a\\;b\\\"c\"; "
                           "content:\"A|42 43|D\"; nocase; offset:1; depth:10; "
                           "content:!\"x\"; distance:-2; within:5; content:\"longest\"; "
                           "flow:established,to_server; flags:SA+,12; dsize:3<>9; ttl:<64; "
                           "threshold:type both, track by_src, count 3, seconds 60; "
                           "flowbits:set,x.y; flowbits:isset,a|b; isdataat:!4,relative; "
                           "byte_extract:2,0,len,relative,little; byte_test:2,!>,len,0,string,hex; "
                           "byte_jump:4,0,relative,multiplier 2,post_offset -1,align; "
                           "bsize:>=4; classtype:attempted-admin; priority:2; "
                           "reference:cve,2014-0160; metadata:created_at 2024, tag x; sid:9;)",
                           &r, &e), SIG_PARSE_OK);
    assert_string_equal(r.msg, "a;b\"c");
    assert_int_equal(r.nsm, 8);
    assert_int_equal(r.sm[0].len, 4);
    assert_memory_equal(r.sm[0].pat, "ABCD", 4);
    assert_true(r.sm[0].nocase);
    assert_int_equal(r.sm[0].pos[POS_OFFSET], 1);
    assert_int_equal(r.sm[0].pos[POS_DEPTH], 10);
    assert_true(r.sm[1].neg);
    assert_int_equal(r.sm[1].pos[POS_DISTANCE], -2);
    assert_int_equal(r.fast, 2);        /* the longest positive content */
    assert_int_equal(r.flow, FL_ESTABLISHED | FL_TO_SERVER);
    assert_int_equal(r.flags_want, 0x12);
    assert_int_equal(r.flags_mode, '+');
    assert_int_equal(r.flags_ignore, 0xc0);
    assert_int_equal(r.dsize.op, NUM_RANGE);
    assert_true(sig_num_match(&r.dsize, 4));
    assert_false(sig_num_match(&r.dsize, 3));
    assert_false(sig_num_match(&r.dsize, 9));
    assert_true(sig_num_match(&r.ttl, 63));
    assert_false(sig_num_match(&r.ttl, 64));
    assert_int_equal(r.threshold.type, TH_BOTH);
    assert_int_equal(r.threshold.count, 3);
    assert_int_equal(r.nflowbits, 2);
    assert_int_equal(r.flowbits[1].n, 2);
    assert_int_equal(r.sm[3].type, SM_ISDATAAT);
    assert_true(r.sm[3].neg && r.sm[3].relative);
    assert_int_equal(r.sm[4].type, SM_BYTE_EXTRACT);
    assert_int_equal(r.sm[5].value_var, 0);
    assert_true(r.sm[5].op_neg);
    assert_int_equal(r.sm[5].base, BY_HEX);
    assert_int_equal(r.sm[6].post_offset, -1);
    assert_int_equal(r.sm[6].align, 4);
    assert_int_equal(r.nmeta, 3);
    assert_string_equal(r.meta[0].key, "reference");
    assert_string_equal(r.meta[1].key, "created_at");
    assert_string_equal(r.meta[1].value, "2024");
    sig_rule_free(&r);

    /* byte_extract variables feed the positional modifiers */
    assert_int_equal(parse("alert udp any any -> any any (byte_extract:1,0,n; content:\"x\"; "
                           "distance:n; within:n; sid:10;)", &r, &e), SIG_PARSE_OK);
    assert_int_equal(r.sm[1].pos_var[POS_DISTANCE], 0);
    sig_rule_free(&r);
    assert_int_equal(parse("alert udp any any -> any any (content:\"x\"; distance:nope; sid:10;)",
                           &r, &e), SIG_PARSE_ERROR);
    /* numbers */
    struct sig_num n;
    assert_int_equal(parse_num("!9", 2, 100, &n), 0);
    assert_true(sig_num_match(&n, 8));
    assert_false(sig_num_match(&n, 9));
    assert_int_equal(parse_num("<=10", 4, 100, &n), 0);
    assert_true(sig_num_match(&n, 10));
    assert_int_equal(parse_num(">=10", 4, 100, &n), 0);
    assert_false(sig_num_match(&n, 9));
    assert_int_equal(parse_num("5<>3", 4, 100, &n), -1);
    assert_int_equal(parse_num("300", 3, 255, &n), -1);
}

static void test_classification(void **st)
{
    (void)st;
    struct sig_classes cl = { 0 };
    char why[128];
    assert_int_equal(sig_class_line(&cl, "# comment", why, sizeof why), 0);
    assert_int_equal(sig_class_line(&cl, "config classification: web-application-attack,"
                                         "Web application attack, with comma,1", why, sizeof why), 1);
    assert_int_equal(sig_class_line(&cl, "config classification: x,y", why, sizeof why), -1);
    assert_int_equal(sig_class_line(&cl, "config classification: web-application-attack,A,2",
                                    why, sizeof why), -1);
    const struct sig_class *c = sig_class_find(&cl, "web-application-attack");
    assert_non_null(c);
    assert_string_equal(c->desc, "Web application attack, with comma");
    assert_int_equal(c->priority, 1);
    sig_classes_free(&cl);
}

/* ---- matching through the plugin -------------------------------------------------------- */

static int setup_all(void **st)
{
    (void)st;
    return fh_load("signature");
}

/*
 * A host for one rule file, written to /tmp and removed once loaded:
 * home_net 10.0.0.0/8, no ticks. On failure the host is freed and *out is
 * NULL.
 */
static int load(fh_host **out, const char *rules, int midstream)
{
    static char path[256];
    fh_host *c = fh_new();
    c->ticks = 0;
    c->home_net = "10.0.0.0/8";
    fh_set_clock(c, FH_T0);
    snprintf(path, sizeof path, "/tmp/vigil-sigtest-%d.rules", (int)getpid());
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fh_free(c);
        *out = NULL;
        return -1;
    }
    fputs(rules, f);
    fclose(f);
    fh_set(c, "rule_files", path);
    fh_set(c, "var.home_net", "10.0.0.0/8");
    fh_set(c, "midstream", midstream ? "1" : "0");
    int rc = fh_init(c);
    unlink(path);
    if (rc != VIGIL_OK) {
        fh_free(c);
        c = NULL;
    }
    *out = c;
    return rc;
}

static const fh_alert *last(const fh_host *c)
{
    assert_true(c->nalerts > 0);
    return &c->alerts[c->nalerts - 1];
}

/* A packet from 192.0.2.1:sport to 10.0.0.1:dport (or reversed), at the host's now. */
static void packet(fh_host *c, uint8_t proto, int reverse, uint8_t tcp_flags,
                   const void *payload, size_t len)
{
    static uint8_t buf[2048];
    vigil_addr cl = fh_v4(FH_IP(192, 0, 2, 1)), sv = fh_v4(FH_IP(10, 0, 0, 1));
    vigil_packet p;
    if (proto == 1) {
        p = fh_icmp(c->now_us, reverse ? sv : cl, reverse ? cl : sv, 8, 0);
    } else {
        p = fh_ip(c->now_us, reverse ? sv : cl, reverse ? cl : sv, proto);
        p.sport = reverse ? 80 : 40000;
        p.dport = reverse ? 40000 : 80;
    }
    p.tcp_flags = tcp_flags;
    memcpy(buf, payload, len);
    p.l3_hdr = buf;
    fh_payload(&p, buf, len);
    fh_packet(c, &p);
}

static void stream_ev(fh_host *c, uint32_t event, uint32_t dir, uint64_t off,
                      const char *data)
{
    vigil_stream s = fh_stream_event(c->now_us, event, fh_v4(FH_IP(192, 0, 2, 1)), 40000,
                                     fh_v4(FH_IP(10, 0, 0, 1)), 80);
    s.dir = dir;
    s.offset = off;
    s.data = (const uint8_t *)data;
    s.len = data ? (uint32_t)strlen(data) : 0;
    fh_stream(c, &s);
}

struct mcase {
    const char *opts;
    const char *payload;
    size_t len;                 /* 0: strlen(payload) */
    int want;
};

/* One UDP rule per case: "alert udp any any -> any any (OPTS sid:1;)". */
static void test_payload_keywords(void **st)
{
    (void)st;
    static const struct mcase cases[] = {
        /* content, depth/offset at the buffer edges */
        { "content:\"abc\";", "xxabc", 0, 1 },
        { "content:\"abc\"; depth:5;", "xxabc", 0, 1 },
        { "content:\"abc\"; depth:4;", "xxabc", 0, 0 },
        { "content:\"abc\"; offset:2; depth:3;", "xxabc", 0, 1 },
        { "content:\"abc\"; offset:3;", "xxabc", 0, 0 },
        { "content:\"abc\"; offset:100;", "xxabc", 0, 0 },
        /* distance/within relative to the previous match */
        { "content:\"ab\"; content:\"ef\"; distance:2; within:2;", "abcdef", 0, 1 },
        { "content:\"ab\"; content:\"ef\"; distance:3; within:2;", "abcdef", 0, 0 },
        { "content:\"ab\"; content:\"ef\"; distance:3;", "abcdef", 0, 0 },
        { "content:\"ab\"; content:\"cd\"; within:4;", "abcdef", 0, 1 },
        { "content:\"ab\"; content:\"ab\"; distance:-2; within:2;", "abxx", 0, 1 },
        /* backtracking: the first "a" fails, the second succeeds */
        { "content:\"a\"; content:\"z\"; distance:0; within:2;", "a...a.z", 0, 1 },
        /* distance with no previous content counts from the start (bug 5030) */
        { "content:\"yy\"; distance:3; within:4; endswith;", "xxxxxyy", 0, 1 },
        { "content:\"yy\"; distance:3; within:3; endswith;", "xxxxxyy", 0, 0 },
        /* nocase folds ASCII only */
        { "content:\"ABC\"; nocase;", "xaBc", 0, 1 },
        { "content:\"|c4|\"; nocase;", "\xe4", 0, 0 },
        { "content:\"|c4|x\"; nocase;", "\xc4X", 0, 1 },
        { "content:\"ABC\";", "abc", 0, 0 },
        /* negated content */
        { "content:\"ab\"; content:!\"zz\";", "abcd", 0, 1 },
        { "content:\"ab\"; content:!\"cd\";", "abcd", 0, 0 },
        { "content:\"ab\"; content:!\"cd\"; distance:1;", "abcd", 0, 1 },
        { "content:!\"q\";", "abcd", 0, 1 },
        /* hex */
        { "content:\"|00 01|A\";", "\x00\x01" "A", 3, 1 },
        /* startswith / endswith */
        { "content:\"GET\"; startswith;", "GET /", 0, 1 },
        { "content:\"GET\"; startswith;", " GET /", 0, 0 },
        { "content:\"end\"; endswith;", "the end", 0, 1 },
        { "content:\"end\"; endswith;", "the end.", 0, 0 },
        /* pcre with flags and R */
        { "pcre:\"/^ab+c/\";", "abbbc", 0, 1 },
        { "pcre:\"/^AB/i\";", "abc", 0, 1 },
        { "pcre:\"/^AB/\";", "abc", 0, 0 },
        { "pcre:\"/a.c/s\";", "a\nc", 0, 1 },
        { "pcre:\"/^c/m\";", "ab\nc", 0, 1 },
        { "pcre:\"/ a b c /x\";", "abc", 0, 1 },
        { "content:\"ab\"; pcre:\"/^c/R\";", "abc", 0, 1 },
        { "content:\"ab\"; pcre:\"/^d/R\";", "abc", 0, 0 },
        { "content:\"ab\"; pcre:!\"/zz/\";", "abc", 0, 1 },
        { "pcre:\"/\\/two\\//U\";", "GET /one/ HTTP/1.1\r\n\r\nGET /two/ HTTP/1.1\r\n", 0, 1 },
        /* isdataat */
        { "isdataat:4;", "abcde", 0, 1 },
        { "isdataat:5;", "abcde", 0, 0 },
        { "content:\"ab\"; isdataat:2,relative;", "abcde", 0, 1 },
        { "content:\"ab\"; isdataat:3,relative;", "abcde", 0, 0 },
        { "content:\"ab\"; isdataat:!3,relative;", "abcde", 0, 1 },
        /* byte_test */
        { "byte_test:2,=,258,0;", "\x01\x02", 2, 1 },
        { "byte_test:2,=,513,0,little;", "\x01\x02", 2, 1 },
        { "byte_test:2,>,300,0;", "\x01\x02", 2, 0 },
        { "byte_test:2,!>,300,0;", "\x01\x02", 2, 1 },
        { "byte_test:3,=,123,1,string,dec;", "x123", 0, 1 },
        { "byte_test:2,=,255,0,string,hex;", "ff", 0, 1 },
        { "byte_test:1,&,4,0;", "\x06", 1, 1 },
        { "byte_test:4,=,1,0;", "\x00\x00\x01", 3, 0 },   /* past the end */
        { "byte_test:1,=,3,0,bitmask 0x0c;", "\x0c", 1, 1 },
        /* byte_jump, including past the end */
        { "byte_jump:1,0; content:\"X\"; within:1;", "\x02..X", 4, 1 },
        { "byte_jump:1,0; content:\"X\"; within:1;", "\x01..X", 4, 0 },
        { "byte_jump:1,0;", "\x09..X", 4, 0 },
        { "byte_jump:1,0,post_offset -1; content:\"X\"; within:1;", "\x03..X", 4, 1 },
        { "byte_jump:1,0,multiplier 2; content:\"X\"; within:1;", "\x01.X..", 5, 0 },
        { "byte_jump:1,0,multiplier 2; content:\"X\"; within:1;", "\x01..X.", 5, 1 },
        { "byte_jump:1,0,from_beginning; content:\"X\"; within:1;", "\x03..X", 4, 1 },
        { "byte_jump:2,0,string,dec; content:\"X\"; within:1;", "02..X", 5, 1 },
        /* byte_extract and its variable */
        { "byte_extract:1,0,len; content:\"X\"; distance:len; within:1;", "\x02..X", 4, 1 },
        { "byte_extract:1,0,len; content:\"X\"; distance:len; within:1;", "\x01..X", 4, 0 },
        { "byte_extract:1,0,v; byte_test:1,=,v,1;", "\x07\x07", 2, 1 },
        { "byte_extract:1,0,v; byte_test:1,=,v,1;", "\x07\x08", 2, 0 },
        { "byte_extract:1,0,d; content:\"ab\"; depth:d;", "\x03" "ab", 3, 1 },
        { "byte_extract:1,0,d; content:\"ab\"; depth:d;", "\x02" "ab", 3, 0 },
        /* bsize and dsize */
        { "bsize:5;", "abcde", 0, 1 },
        { "bsize:<5;", "abcde", 0, 0 },
        { "bsize:3<>6;", "abcde", 0, 1 },
        { "dsize:>4;", "abcde", 0, 1 },
        { "dsize:!5;", "abcde", 0, 0 },
        { "dsize:0;", "", 0, 1 },
        { "dsize:!5;", "", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fh_host *c;
        char rule[512];
        snprintf(rule, sizeof rule, "alert udp any any -> any any (%s sid:1;)\n", cases[i].opts);
        if (load(&c, rule, 0) != VIGIL_OK)
            fail_msg("case %zu does not load: %s", i, rule);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].payload);
        packet(c, 17, 0, 0, cases[i].payload, len);
        if ((int)fh_count_sid(c, 1) != cases[i].want)
            fail_msg("case %zu: %s on \"%s\": %zu alerts, expected %d", i, cases[i].opts,
                     cases[i].payload, fh_count_sid(c, 1), cases[i].want);
        fh_free(c);
    }
}

static void test_header_keywords(void **st)
{
    (void)st;
    fh_host *c;
    assert_int_equal(load(&c,
        "alert tcp any any -> any 80 (flags:S; sid:1;)\n"
        "alert tcp any any -> any 80 (flags:S+; sid:2;)\n"
        "alert tcp any any -> any 80 (flags:!A; sid:3;)\n"
        "alert tcp any any -> any 80 (flags:*FA; sid:4;)\n"
        "alert tcp any any -> any 80 (flags:0; sid:5;)\n"
        "alert tcp any any -> any 80 (flags:S,CE; sid:6;)\n"
        "alert ip any any -> any any (ttl:64; ip_proto:6; sid:7;)\n"
        "alert ip any any -> any any (ttl:>64; sid:8;)\n"
        "alert ip any any -> any any (ip_proto:!6; sid:9;)\n"
        "alert tcp any any -> $HOME_NET any (sid:10;)\n"
        "alert tcp $HOME_NET any -> any any (sid:11;)\n"
        "alert tcp $HOME_NET any <> any any (sid:12;)\n", 0), VIGIL_OK);
    packet(c, 6, 0, VIGIL_TCP_SYN, "", 0);
    assert_int_equal(fh_count_sid(c, 1), 1);
    assert_int_equal(fh_count_sid(c, 2), 1);
    assert_int_equal(fh_count_sid(c, 3), 1);
    assert_int_equal(fh_count_sid(c, 4), 0);
    packet(c, 6, 0, VIGIL_TCP_SYN | VIGIL_TCP_ACK, "", 0);
    assert_int_equal(fh_count_sid(c, 1), 1);
    assert_int_equal(fh_count_sid(c, 2), 2);
    assert_int_equal(fh_count_sid(c, 3), 1);
    assert_int_equal(fh_count_sid(c, 4), 1);
    packet(c, 6, 0, 0, "", 0);
    assert_int_equal(fh_count_sid(c, 5), 1);
    packet(c, 6, 0, VIGIL_TCP_SYN | VIGIL_TCP_ECE | VIGIL_TCP_CWR, "", 0);
    assert_int_equal(fh_count_sid(c, 1), 1);
    assert_int_equal(fh_count_sid(c, 6), 2);
    assert_int_equal(fh_count_sid(c, 7), 4);
    assert_int_equal(fh_count_sid(c, 8), 0);
    assert_int_equal(fh_count_sid(c, 9), 0);
    assert_int_equal(fh_count_sid(c, 10), 4);
    assert_int_equal(fh_count_sid(c, 11), 0);
    assert_int_equal(fh_count_sid(c, 12), 4);
    fh_free(c);

    assert_int_equal(load(&c,
        "alert icmp any any -> any any (itype:8; sid:1;)\n"
        "alert icmp any any -> any any (itype:>8; sid:2;)\n"
        "alert icmp any any -> any any (icode:0; icmp_id:258; icmp_seq:3; sid:3;)\n"
        "alert icmp any any -> any any (icmp_seq:4; sid:4;)\n"
        "alert icmp any any -> any any (dsize:2; content:\"hi\"; sid:5;)\n", 0), VIGIL_OK);
    packet(c, 1, 0, 0, "\x01\x02\x00\x03hi", 6);
    assert_int_equal(fh_count_sid(c, 1), 1);
    assert_int_equal(fh_count_sid(c, 2), 0);
    assert_int_equal(fh_count_sid(c, 3), 1);
    assert_int_equal(fh_count_sid(c, 4), 0);
    assert_int_equal(fh_count_sid(c, 5), 1);
    fh_free(c);
}

static void test_flow_flowbits_threshold_pass(void **st)
{
    (void)st;
    fh_host *c;
    assert_int_equal(load(&c,
        "alert udp any any -> any any (content:\"login\"; flowbits:set,seen; flowbits:noalert; sid:1;)\n"
        "alert udp any any -> any any (content:\"secret\"; flowbits:isset,seen; sid:2;)\n"
        "alert udp any any -> any any (content:\"secret\"; flowbits:isnotset,seen; sid:3;)\n"
        "alert udp any any -> any any (content:\"x\"; flow:to_server; sid:4;)\n"
        "alert udp any any -> any any (content:\"x\"; flow:to_client,established; sid:5;)\n"
        "alert udp any any -> any any (content:\"T!\"; threshold:type limit, track by_src, count 2, seconds 60; sid:6;)\n"
        "alert udp any any -> any any (content:\"T!\"; threshold:type threshold, track by_dst, count 2, seconds 60; sid:7;)\n"
        "alert udp any any -> any any (content:\"T!\"; detection_filter:track by_rule, count 2, seconds 60; sid:8;)\n"
        "alert udp any any -> any any (content:\"T!\"; threshold:type both, track by_flow, count 2, seconds 60; sid:9;)\n",
        0), VIGIL_OK);
    packet(c, 17, 0, 0, "secret", 6);
    assert_int_equal(fh_count_sid(c, 2), 0);
    assert_int_equal(fh_count_sid(c, 3), 1);
    packet(c, 17, 0, 0, "login", 5);
    assert_int_equal(fh_count_sid(c, 1), 0);      /* noalert */
    packet(c, 17, 0, 0, "secret", 6);
    assert_int_equal(fh_count_sid(c, 2), 1);
    assert_int_equal(fh_count_sid(c, 3), 1);
    packet(c, 17, 0, 0, "x", 1);
    assert_int_equal(fh_count_sid(c, 4), 1);
    assert_int_equal(fh_count_sid(c, 5), 0);
    packet(c, 17, 1, 0, "x", 1);
    assert_int_equal(fh_count_sid(c, 4), 1);
    assert_int_equal(fh_count_sid(c, 5), 1);
    for (int i = 0; i < 5; i++)
        packet(c, 17, 0, 0, "T!", 2);
    assert_int_equal(fh_count_sid(c, 6), 2);      /* limit 2 */
    assert_int_equal(fh_count_sid(c, 7), 2);      /* every 2nd */
    assert_int_equal(fh_count_sid(c, 8), 3);      /* after the 2nd */
    assert_int_equal(fh_count_sid(c, 9), 1);      /* once at the 2nd */
    c->now_us += 61LL * 1000000;                /* a new window */
    packet(c, 17, 0, 0, "T!", 2);
    assert_int_equal(fh_count_sid(c, 6), 3);
    assert_int_equal(fh_count_sid(c, 8), 3);
    fh_free(c);

    assert_int_equal(load(&c,
        "alert udp any any -> any any (content:\"evil\"; sid:1;)\n"
        "pass udp any any -> any any (content:\"trusted\"; sid:2;)\n", 0), VIGIL_OK);
    packet(c, 17, 0, 0, "evil", 4);
    assert_int_equal(fh_count_sid(c, 1), 1);
    packet(c, 17, 0, 0, "trusted evil", 12);
    assert_int_equal(fh_count_sid(c, 1), 1);      /* pass wins, and for the rest of the flow */
    packet(c, 17, 0, 0, "evil", 4);
    assert_int_equal(fh_count_sid(c, 1), 1);
    assert_int_equal(fh_count_sid(c, 2), 0);
    fh_free(c);
}

static void test_stream_matching(void **st)
{
    (void)st;
    fh_host *c;
    assert_int_equal(load(&c,
        "alert tcp any any -> any any (content:\"password\"; sid:1;)\n"
        "alert tcp-stream any any -> any any (content:\"HELLO\"; nocase; depth:5; sid:2;)\n"
        "alert tcp-pkt any any -> any any (content:\"pass\"; sid:3;)\n"
        "alert tcp any any -> any any (content:\"USER\"; content:\"root\"; distance:1; within:5; flow:to_server; sid:4;)\n"
        "alert tcp any any -> any any (content:\"banner\"; flow:to_client; sid:5;)\n"
        "alert tcp any any -> any any (pcre:\"/x{3}y/\"; sid:6;)\n", 0), VIGIL_OK);
    packet(c, 6, 0, VIGIL_TCP_SYN, "", 0);
    stream_ev(c, VIGIL_STREAM_ESTABLISHED, 0, 0, NULL);
    /* the packet view of a reassembled flow: only tcp-pkt rules */
    packet(c, 6, 0, VIGIL_TCP_ACK, "hello pass", 10);
    assert_int_equal(fh_count_sid(c, 3), 1);
    assert_int_equal(fh_count_sid(c, 1), 0);
    stream_ev(c, VIGIL_STREAM_DATA, 0, 0, "hello pass");
    assert_int_equal(fh_count_sid(c, 2), 1);
    stream_ev(c, VIGIL_STREAM_DATA, 0, 10, "word USER");
    assert_int_equal(fh_count_sid(c, 1), 1);      /* "pass"+"word" across chunks */
    stream_ev(c, VIGIL_STREAM_DATA, 0, 19, " ro");
    stream_ev(c, VIGIL_STREAM_DATA, 0, 22, "ot xx");
    assert_int_equal(fh_count_sid(c, 4), 1);      /* two contents over three chunks */
    assert_int_equal(fh_count_sid(c, 1), 1);      /* the tail is not matched twice */
    stream_ev(c, VIGIL_STREAM_DATA, 0, 27, "xy hello");
    assert_int_equal(fh_count_sid(c, 6), 1);
    assert_int_equal(fh_count_sid(c, 2), 1);      /* depth:5 counts from the stream start */
    stream_ev(c, VIGIL_STREAM_DATA, 1, 0, "banner");
    assert_int_equal(fh_count_sid(c, 5), 1);
    assert_int_equal(last(c)->src.bytes[0], 10);  /* the sender of that direction */
    assert_int_equal(last(c)->sport, 80);
    stream_ev(c, VIGIL_STREAM_DATA, 0, 35, "banner");
    assert_int_equal(fh_count_sid(c, 5), 1);
    stream_ev(c, VIGIL_STREAM_CLOSED, 0, 0, NULL);
    fh_free(c);

    /* no handshake seen: segments are matched only with midstream = 1 */
    for (int mid = 0; mid < 2; mid++) {
        assert_int_equal(load(&c, "alert tcp any any -> any any (content:\"abc\"; sid:1;)\n", mid),
                         VIGIL_OK);
        packet(c, 6, 0, VIGIL_TCP_ACK | VIGIL_TCP_PSH, "abc", 3);
        assert_int_equal(fh_count_sid(c, 1), (size_t)mid);
        fh_free(c);
    }
    /* a handshake libnids does not follow: segments stand in for the stream */
    assert_int_equal(load(&c, "alert tcp-stream any any -> any any (content:\"abc\"; sid:1;)\n", 0),
                     VIGIL_OK);
    packet(c, 6, 0, VIGIL_TCP_SYN, "", 0);
    packet(c, 6, 0, VIGIL_TCP_ACK | VIGIL_TCP_PSH, "abc", 3);
    assert_int_equal(fh_count_sid(c, 1), 1);
    fh_free(c);
}

static void test_alert_fields(void **st)
{
    (void)st;
    fh_host *c;
    assert_int_equal(load(&c,
        "alert udp any any -> any any (msg:\"m\"; content:\"a\"; classtype:attempted-dos; "
        "priority:9; metadata:k v; gid:3; rev:4; sid:1;)\n"
        "alert udp any any -> any any (msg:\"n\"; content:\"b\"; target:src_ip; "
        "classtype:web-application-attack; sid:2;)\n", 0), VIGIL_OK);
    packet(c, 17, 0, 0, "a", 1);
    assert_int_equal(last(c)->gid, 3);
    assert_int_equal(last(c)->rev, 4);
    assert_int_equal(last(c)->severity, 4);       /* clamped */
    assert_string_equal(last(c)->attack_category, "dos_flood");
    assert_string_equal(last(c)->signature, "m");
    assert_int_equal(last(c)->meta_count, 1);
    packet(c, 17, 0, 0, "b", 1);
    assert_string_equal(last(c)->attack_category, "exploit");
    assert_int_equal(last(c)->src.bytes[0], 10);  /* target:src_ip swaps */
    fh_free(c);

    /* a syntax error refuses the load; an unsupported keyword does not */
    assert_int_not_equal(load(&c, "alert udp any any -> any any (content:\"a\" sid:1;)\n", 0),
                         VIGIL_OK);
    assert_int_equal(load(&c, "alert udp any any -> any any (content:\"a\"; http_uri; sid:1;)\n"
                              "alert udp any any -> any any (content:\"a\"; sid:2;)\n", 0),
                     VIGIL_OK);
    packet(c, 17, 0, 0, "a", 1);
    assert_int_equal(fh_count_sid(c, 1), 0);
    assert_int_equal(fh_count_sid(c, 2), 1);
    fh_free(c);
    assert_int_not_equal(load(&c, "alert udp any any -> any any (pcre:\"/(/\"; sid:1;)\n", 0),
                         VIGIL_OK);
}

/* Many rules: only the candidates the prefilter finds are evaluated. */
static void test_many_rules(void **st)
{
    (void)st;
    size_t n = 3000, cap = n * 96;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "alert udp any any -> any any (content:\"tok%05zuend\";%s sid:%zu;)\n",
                                 i, i % 3 ? "" : " nocase;", i + 1);
    fh_host *c;
    assert_int_equal(load(&c, text, 0), VIGIL_OK);
    packet(c, 17, 0, 0, "..tok01234end..TOK00003END..tok00004END", 40);
    assert_int_equal(c->nalerts, 2);
    assert_int_equal(fh_count_sid(c, 1235), 1);
    assert_int_equal(fh_count_sid(c, 4), 1);
    fh_free(c);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_syntax_errors_name_the_column),
        cmocka_unit_test(test_unsupported_keyword_skips),
        cmocka_unit_test(test_options_parse),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_payload_keywords),
        cmocka_unit_test(test_header_keywords),
        cmocka_unit_test(test_flow_flowbits_threshold_pass),
        cmocka_unit_test(test_stream_matching),
        cmocka_unit_test(test_alert_fields),
        cmocka_unit_test(test_many_rules),
    };
    return cmocka_run_group_tests(tests, setup_all, fh_unload_group);
}
