/*
 * report.h - `vigil report`: one self-contained HTML page from an EVE file.
 *
 * The EVE file is read line by line in bounded memory: alerts are grouped
 * into incidents (detector, attacker, target, attack category), counted
 * per detector, attacker and target and over time; the last stats event
 * gives the capture statistics. Malformed lines are skipped and counted.
 * Every string taken from the file is HTML-escaped: signatures and
 * metadata can be chosen by whoever made the traffic.
 */
#ifndef VIGIL_REPORT_H
#define VIGIL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Home networks assumed when none are given: the default home_net of rules/vigil.conf. */
#define VIGIL_REPORT_HOME_NET "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 198.18.0.0/16, fc00::/7"

/* Limits that keep memory bounded whatever the size of the input. */
#define VIGIL_REPORT_MAX_GROUPS 10000   /* incidents kept in memory */
#define VIGIL_REPORT_MAX_HOSTS 50000    /* distinct attackers / targets kept */
#define VIGIL_REPORT_MAX_LINE (1u << 20) /* longer EVE lines are malformed */

struct vigil_report;

/* A new, empty report. home_net NULL means VIGIL_REPORT_HOME_NET. NULL with
 * err set when home_net does not parse (or out of memory). */
struct vigil_report *vigil_report_new(const char *home_net, char *err, size_t errlen);
void vigil_report_free(struct vigil_report *r);

/* Feed one EVE line (with or without its newline). Returns 0 when used or
 * ignored (blank line, other event types), -1 when malformed (counted). */
int vigil_report_add_line(struct vigil_report *r, const char *line);

/* Feed a whole stream line by line. 0, or -1 on a read error. */
int vigil_report_read(struct vigil_report *r, FILE *in);

/* Counters, for tests and the closing message. */
uint64_t vigil_report_alerts(const struct vigil_report *r);
uint64_t vigil_report_bad_lines(const struct vigil_report *r);
uint64_t vigil_report_first_bad_line(const struct vigil_report *r);
size_t vigil_report_incidents(const struct vigil_report *r);

/* Write the page. `source` names the input in the heading; at most
 * max_rows incidents are listed (the rest are counted). 0, or -1 when a
 * write failed. */
int vigil_report_write_html(const struct vigil_report *r, FILE *out, const char *source,
                            size_t max_rows);

/* Write s with &, <, >, " and ' as entities and control characters
 * replaced, safe in element text and in quoted attribute values. */
void vigil_html_escape(FILE *out, const char *s);

/* Read eve_path and write the page to html_path (through a temporary file
 * renamed into place). Returns an exit status: 0, 1 (I/O error). */
int vigil_report_file(const char *eve_path, const char *html_path, int quiet);

/* `vigil report ...`: argv[0] is "report". Returns the exit status. */
int vigil_report_main(int argc, char **argv);

#endif
