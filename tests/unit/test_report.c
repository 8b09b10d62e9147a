/* test_report.c - `vigil report`: escaping, grouping, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

/* Everything written to a FILE by fn, as a string (caller frees). */
static char *capture_html(const struct vigil_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(vigil_report_write_html(r, f, "test.json", 0), 0);
    fclose(f);
    return buf;
}

static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    vigil_html_escape(f, s);
    fclose(f);
    return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static struct vigil_report *new_report(void)
{
    char err[256];
    struct vigil_report *r = vigil_report_new(NULL, err, sizeof err);
    assert_non_null(r);
    return r;
}

#define ALERT(ts, src, dst, det, cat, sig, extra)                                          \
    "{\"timestamp\":\"" ts "\",\"event_type\":\"alert\",\"src_ip\":\"" src "\","         \
    "\"dest_ip\":\"" dst "\",\"dest_port\":80,\"proto\":\"TCP\",\"alert\":{"                \
    "\"signature_id\":9100001,\"signature\":\"" sig "\",\"category\":\"Attempted Recon\"," \
    "\"severity\":2,\"metadata\":{\"detector\":[\"" det "\"],\"attack_category\":[\"" cat  \
    "\"]" extra "}}}\n"

static void test_escape(void **state)
{
    (void)state;
    char *s = escaped("<script>alert(1)</script> \"><img src=x onerror='a&b'>");
    assert_string_equal(s, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x "
                           "onerror=&#39;a&amp;b&#39;&gt;");
    free(s);
    s = escaped("tab\there\x01\x7f\xc3\xa9");
    assert_string_equal(s, "tab\there&#xFFFD;&#xFFFD;\xc3\xa9");  /* UTF-8 kept */
    free(s);
    s = escaped("");
    assert_string_equal(s, "");
    free(s);
}

static void test_hostile_strings_never_raw(void **state)
{
    (void)state;
    struct vigil_report *r = new_report();
    assert_int_equal(vigil_report_add_line(r,
        ALERT("2023-11-14T22:13:22.000000+0000", "203.0.113.9", "10.0.0.5",
              "evil<script>x</script>", "cat<img src=x onerror=alert(4)>",
              "<script>alert(1)</script>\\\"><img src=x onerror=alert(2)>",
              ",\"uri\":[\"'><svg onload=alert(3)>\"],\"<b>key</b>\":[\"v\"]")), 0);
    char *html = capture_html(r);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<svg onload"));
    assert_null(strstr(html, "<b>key"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x "
                                 "onerror=alert(2)&gt;"));
    assert_non_null(strstr(html, "uri=&#39;&gt;&lt;svg onload=alert(3)&gt;"));
    /* A content security policy forbids scripts in any case. */
    assert_non_null(strstr(html, "Content-Security-Policy"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    free(html);
    vigil_report_free(r);
}

static void test_grouping(void **state)
{
    (void)state;
    struct vigil_report *r = new_report();
    /* Three alerts of one incident (signatures differ), one other target,
     * one other detector: three incidents. */
    vigil_report_add_line(r, ALERT("2023-11-14T22:13:22.5+0000", "198.18.7.8", "198.18.0.11",
                                   "portscan", "port_scan", "SCAN (100 ports)", ""));
    vigil_report_add_line(r, ALERT("2023-11-14T22:13:20+0000", "198.18.7.8", "198.18.0.11",
                                   "portscan", "port_scan", "SCAN (200 ports)", ""));
    vigil_report_add_line(r, ALERT("2023-11-14T22:15:00+0000", "198.18.7.8", "198.18.0.11",
                                   "portscan", "port_scan", "SCAN (300 ports)", ""));
    vigil_report_add_line(r, ALERT("2023-11-14T22:15:00+0000", "198.18.7.8", "198.18.0.12",
                                   "portscan", "port_scan", "SCAN", ""));
    vigil_report_add_line(r, ALERT("2023-11-14T22:16:00+0100", "203.0.113.5", "198.18.0.12",
                                   "flood", "dos_flood", "FLOOD", ""));
    assert_int_equal(vigil_report_alerts(r), 5);
    assert_int_equal(vigil_report_incidents(r), 3);
    assert_int_equal(vigil_report_bad_lines(r), 0);
    char *html = capture_html(r);
    assert_int_equal(count_of(html, "<tr class=\"incident\">"), 3);
    /* The biggest group: 3 alerts, first and last seen across the lines. */
    assert_non_null(strstr(html, "<td class=\"n\">3</td><td class=\"t\">2023-11-14 22:13:20"
                                 "<br>2023-11-14 22:15:00</td>"));
    assert_non_null(strstr(html, "(and variants)"));
    /* The +0100 offset is applied. */
    assert_non_null(strstr(html, "2023-11-14 21:16:00"));
    /* Per-detector counts. */
    assert_int_equal(count_of(html, "<tr class=\"det\">"), 2);
    /* Sharing: the outside attacker is shared, the home one withheld. */
    assert_non_null(strstr(html, "203.0.113.5</td><td class=\"n\">1</td><td>dos_flood</td>"
                                 "<td class=\"shared\">shared</td>"));
    assert_non_null(strstr(html, "withheld</span> <small>(198.18.7.8)</small>"));
    assert_non_null(strstr(html, "1 of 2 attacker addresses would be shared"));
    free(html);
    vigil_report_free(r);
}

static void test_bad_lines(void **state)
{
    (void)state;
    const char *text =
        "not json\n"
        "\n"
        "{\"event_type\":\"alert\"}\n"
        "[1,2,3]\n"
        "{\"event_type\":\"alert\",\"alert\":\"string\"}\n"
        "{\"event_type\":\"flow\",\"src_ip\":\"1.2.3.4\"}\n"
        "{\"event_type\":\"stats\",\"stats\":{\"capture\":{\"packets\":42,\"bytes\":4200},"
        "\"decoder\":{\"truncated\":3,\"malformed\":1,\"events\":{\"ipv4_bad_ihl\":1}}}}\n"
        "{\"truncated\": \n"
        "{\"event_type\":\"alert\",\"alert\":{}}\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    struct vigil_report *r = new_report();
    assert_int_equal(vigil_report_read(r, f), 0);
    fclose(f);
    assert_int_equal(vigil_report_bad_lines(r), 5);
    assert_int_equal(vigil_report_first_bad_line(r), 1);
    assert_int_equal(vigil_report_alerts(r), 1);    /* the empty alert object counts */
    char *html = capture_html(r);
    assert_non_null(strstr(html, "5 malformed lines were skipped"));
    /* The stats event: packets and decode errors by kind. */
    assert_non_null(strstr(html, "<b>42</b><span>packets</span>"));
    assert_non_null(strstr(html, "<b>4</b><span>decode errors</span>"));
    assert_non_null(strstr(html, "events.ipv4_bad_ihl"));
    free(html);
    vigil_report_free(r);
}

static void test_long_line_skipped(void **state)
{
    (void)state;
    size_t n = VIGIL_REPORT_MAX_LINE + 100;
    char *text = malloc(n + 1024);
    assert_non_null(text);
    memset(text, 'x', n);
    text[n] = '\n';
    strcpy(text + n + 1, ALERT("2023-11-14T22:13:22+0000", "1.2.3.4", "10.0.0.1", "d", "c",
                               "S", ""));
    FILE *f = fmemopen(text, strlen(text), "r");
    struct vigil_report *r = new_report();
    assert_int_equal(vigil_report_read(r, f), 0);
    fclose(f);
    assert_int_equal(vigil_report_bad_lines(r), 1);
    assert_int_equal(vigil_report_alerts(r), 1);
    vigil_report_free(r);
    free(text);
}

static void test_empty(void **state)
{
    (void)state;
    FILE *f = fmemopen((void *)"", 1, "r");
    struct vigil_report *r = new_report();
    assert_int_equal(vigil_report_read(r, f), 0);
    fclose(f);
    assert_int_equal(vigil_report_alerts(r), 0);
    char *html = capture_html(r);
    assert_non_null(strstr(html, "No alerts in this file."));
    assert_non_null(strstr(html, "No stats event in this file"));
    assert_non_null(strstr(html, "No timestamped alerts."));
    assert_non_null(strstr(html, "</html>"));
    free(html);
    vigil_report_free(r);
}

static void test_incident_cap(void **state)
{
    (void)state;
    struct vigil_report *r = new_report();
    char line[1024];
    for (int i = 0; i < VIGIL_REPORT_MAX_GROUPS + 50; i++) {
        snprintf(line, sizeof line,
                 "{\"timestamp\":\"2023-11-14T22:13:22+0000\",\"event_type\":\"alert\","
                 "\"src_ip\":\"10.%d.%d.%d\",\"dest_ip\":\"10.0.0.1\",\"alert\":{"
                 "\"signature\":\"S\",\"severity\":3,\"metadata\":{\"detector\":[\"d\"]}}}",
                 i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(vigil_report_add_line(r, line), 0);
    }
    assert_int_equal(vigil_report_incidents(r), VIGIL_REPORT_MAX_GROUPS);
    char *html = capture_html(r);
    assert_int_equal(count_of(html, "<tr class=\"incident\">"), 200);
    assert_non_null(strstr(html, "and 9800 more incidents not shown"));
    assert_non_null(strstr(html, "50 alerts past the first 10000 incidents"));
    free(html);
    vigil_report_free(r);
}

static void test_bad_home_net(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(vigil_report_new("10.0.0.0/33", err, sizeof err));
    assert_non_null(strstr(err, "--home-net"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_hostile_strings_never_raw),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_long_line_skipped),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_incident_cap),
        cmocka_unit_test(test_bad_home_net),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
