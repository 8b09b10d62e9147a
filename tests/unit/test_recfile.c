/*
 * test_recfile.c - whole records through a full disk: a file size limit
 * (RLIMIT_FSIZE) plays the full disk, so the test needs no mount and no
 * root; a non-blocking pipe plays a reader that cannot keep up.
 */
#define _GNU_SOURCE     /* F_GETPIPE_SZ */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recfile.h"

#define REC_LEN 100

static const char *const kinds[VIGIL_RECFILE_KINDS] = { "alerts", "stats" };

static void temp_path(char *buf, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, len, "%s/vigil_recfile_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

/* Record i: REC_LEN bytes, "record NNNNN ...\n". */
static void make_rec(char *buf, int i)
{
    memset(buf, 'x', REC_LEN);
    int n = snprintf(buf, REC_LEN, "record %05d ", i);
    buf[n] = 'x';
    buf[REC_LEN - 1] = '\n';
}

static int write_rec(struct vigil_recfile *rf, int i, int kind)
{
    char rec[REC_LEN];
    make_rec(rec, i);
    return vigil_recfile_write(rf, rec, REC_LEN, kind);
}

/* The record numbers in a file, checking that every line is whole. */
static size_t read_recs(const char *path, int *out, size_t max)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char line[REC_LEN + 2];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_int_equal(strlen(line), REC_LEN);
        assert_int_equal(line[REC_LEN - 1], '\n');
        int v;
        assert_int_equal(sscanf(line, "record %d", &v), 1);
        assert_true(n < max);
        out[n++] = v;
    }
    fclose(f);
    return n;
}

static struct rlimit saved_fsize;

static void limit_file_size(rlim_t bytes)
{
    struct rlimit rl = saved_fsize;
    rl.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void unlimit_file_size(void)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);   /* a write past the limit fails with EFBIG instead */
    return getrlimit(RLIMIT_FSIZE, &saved_fsize);
}

static struct vigil_recfile *open_rf(const char *path, size_t backlog)
{
    struct vigil_recfile_options o = {
        .backlog_bytes = backlog, .retry_us = 1, .what = "test output", .kind_names = kinds,
    };
    char err[256];
    struct vigil_recfile *rf = vigil_recfile_open(path, &o, err, sizeof err);
    if (rf == NULL)
        fail_msg("%s", err);
    return rf;
}

static void test_healthy(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path);
    struct vigil_recfile *rf = open_rf(path, 4096);
    for (int i = 0; i < 3; i++)
        assert_int_equal(write_rec(rf, i, 0), 0);
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.written, 3);
    assert_int_equal(c.write_errors, 0);
    assert_int_equal(c.degraded, 0);
    assert_string_equal(vigil_recfile_path(rf), path);
    assert_int_equal(vigil_recfile_close(rf), 0);
    int got[8];
    assert_int_equal(read_recs(path, got, 8), 3);
    unlink(path);

    char err[128];
    assert_null(vigil_recfile_open("/nonexistent-dir/x.json", NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.json"));
}

/* The disk fills in the middle of a record, then space comes back. */
static void test_full_then_recovers(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path);
    struct vigil_recfile *rf = open_rf(path, 64 * REC_LEN);

    limit_file_size(5 * REC_LEN + 40);     /* record 5 gets 40 bytes in */
    for (int i = 0; i < 10; i++)
        assert_int_equal(write_rec(rf, i, i == 9), 0);     /* written or held */
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.written, 5);
    assert_int_equal(c.degraded, 1);
    assert_int_equal(c.held, 5);
    assert_int_equal(c.dropped, 0);
    assert_true(c.cut_bytes >= 40 && c.cut_bytes % 40 == 0);  /* once per attempt */
    assert_int_equal(c.first_errno, EFBIG);
    assert_true(c.write_errors >= 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 5 * REC_LEN);     /* no torn tail */

    /* still full: a tick tries again and fails, nothing is lost */
    usleep(10);
    vigil_recfile_tick(rf);
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 1);
    assert_int_equal(c.held, 5);

    unlimit_file_size();
    usleep(10);
    vigil_recfile_tick(rf);
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 0);
    assert_int_equal(c.held, 0);
    assert_int_equal(c.delayed, 5);
    assert_int_equal(write_rec(rf, 10, 0), 0);
    assert_int_equal(vigil_recfile_close(rf), 0);

    int got[32];
    size_t n = read_recs(path, got, 32);
    assert_int_equal(n, 11);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], (int)i);      /* all of them, in order */
    unlink(path);
}

/* A small backlog: the oldest held records go first, each one counted. */
static void test_backlog_drops_oldest(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path);
    struct vigil_recfile *rf = open_rf(path, 3 * REC_LEN);

    limit_file_size(2 * REC_LEN);
    int dropped_calls = 0;
    for (int i = 0; i < 10; i++)
        dropped_calls += write_rec(rf, i, i % 2) < 0;
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.written, 2);
    assert_int_equal(c.held, 3);
    assert_int_equal(c.held_bytes, 3 * REC_LEN);
    assert_int_equal(c.dropped, 5);     /* records 2..6 */
    assert_int_equal(dropped_calls, 5);
    assert_int_equal(c.dropped_kind[0] + c.dropped_kind[1], 5);
    assert_int_equal(c.dropped_kind[0], 3);     /* 2, 4, 6 */

    unlimit_file_size();
    usleep(10);
    assert_int_equal(write_rec(rf, 10, 0), 0);
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 0);
    assert_int_equal(c.written, 2 + 3 + 1);
    assert_int_equal(vigil_recfile_close(rf), -1);     /* records were lost */
    assert_int_equal(errno, EFBIG);

    int got[32];
    size_t n = read_recs(path, got, 32);
    static const int want[] = { 0, 1, 7, 8, 9, 10 };
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
    unlink(path);
}

/* Still full at the end: what is held is lost, counted, and close fails. */
static void test_full_at_close(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof path);
    struct vigil_recfile *rf = open_rf(path, 64 * REC_LEN);
    limit_file_size(REC_LEN + 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(write_rec(rf, i, 0), 0);
    assert_int_equal(vigil_recfile_close(rf), -1);
    assert_int_equal(errno, EFBIG);
    unlimit_file_size();
    int got[8];
    assert_int_equal(read_recs(path, got, 8), 1);
    unlink(path);

    /* no backlog at all: every record that cannot be written is dropped */
    temp_path(path, sizeof path);
    rf = open_rf(path, 0);
    limit_file_size(REC_LEN);
    assert_int_equal(write_rec(rf, 0, 0), 0);
    assert_int_equal(write_rec(rf, 1, 0), -1);
    unlimit_file_size();
    usleep(10);
    assert_int_equal(write_rec(rf, 2, 0), 0);      /* the test of the file */
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 0);
    assert_int_equal(c.dropped, 1);
    assert_int_equal(vigil_recfile_close(rf), -1);
    assert_int_equal(read_recs(path, got, 8), 2);
    unlink(path);
}

/* Rotation while degraded: the held records go to the new file. */
static void test_reopen_while_degraded(void **state)
{
    (void)state;
    char path[256], moved[300];
    temp_path(path, sizeof path);
    snprintf(moved, sizeof moved, "%s.1", path);
    struct vigil_recfile *rf = open_rf(path, 64 * REC_LEN);
    limit_file_size(2 * REC_LEN + 10);
    for (int i = 0; i < 5; i++)
        assert_int_equal(write_rec(rf, i, 0), 0);
    assert_int_equal(rename(path, moved), 0);
    unlimit_file_size();
    assert_int_equal(vigil_recfile_reopen(rf), 0);
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 0);
    assert_int_equal(vigil_recfile_close(rf), 0);
    int got[8];
    assert_int_equal(read_recs(moved, got, 8), 2);
    assert_int_equal(read_recs(path, got, 8), 3);
    assert_int_equal(got[0], 2);
    unlink(path);
    unlink(moved);
}

/* A pipe cannot be cut back: the rest of a half-written record comes
 * first when the reader makes room, so the reader still sees it whole. */
static void test_pipe_finishes_the_line(void **state)
{
    (void)state;
    enum { PAGE = 4096, BIG = 5000 };
    int p[2];
    assert_int_equal(pipe(p), 0);
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    assert_true(cap > PAGE);
    assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    /* Fill all but one page: a big record then gets one page in. */
    size_t pre = (size_t)cap - PAGE;
    char *buf = malloc((size_t)cap * 2);
    assert_non_null(buf);
    memset(buf, '#', pre);
    buf[pre - 1] = '\n';
    assert_int_equal(write(p[1], buf, pre), (ssize_t)pre);

    char big[BIG], small1[REC_LEN], small2[REC_LEN];
    memset(big, 'B', BIG);
    big[BIG - 1] = '\n';
    make_rec(small1, 1);
    make_rec(small2, 2);

    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    struct vigil_recfile *rf = open_rf("-", 64 * REC_LEN);
    assert_int_equal(vigil_recfile_write(rf, big, BIG, 0), 0);    /* a page out, rest held */
    assert_int_equal(vigil_recfile_write(rf, small1, REC_LEN, 0), 0);
    struct vigil_recfile_counters c;
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 1);
    assert_int_equal(c.held, 2);
    assert_int_equal(c.cut_bytes, 0);

    /* the reader takes what is there */
    size_t len = 0;
    ssize_t r;
    while ((r = read(p[0], buf + len, (size_t)cap * 2 - len)) > 0 && len + (size_t)r < pre + PAGE)
        len += (size_t)r;
    len += r > 0 ? (size_t)r : 0;
    assert_int_equal(len, pre + PAGE);
    usleep(10);
    assert_int_equal(vigil_recfile_write(rf, small2, REC_LEN, 0), 0);
    vigil_recfile_counters(rf, &c);
    assert_int_equal(c.degraded, 0);
    assert_int_equal(vigil_recfile_close(rf), 0);  /* standard output stays open */
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(p[1]);

    /* after the filler: the big record whole, then the two small ones */
    len -= pre;
    memmove(buf, buf + pre, len);
    while ((r = read(p[0], buf + len, (size_t)cap * 2 - len)) > 0)
        len += (size_t)r;
    close(p[0]);
    assert_int_equal(len, BIG + 2 * REC_LEN);
    assert_memory_equal(buf, big, BIG);
    assert_memory_equal(buf + BIG, small1, REC_LEN);
    assert_memory_equal(buf + BIG + REC_LEN, small2, REC_LEN);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy),
        cmocka_unit_test(test_full_then_recovers),
        cmocka_unit_test(test_backlog_drops_oldest),
        cmocka_unit_test(test_full_at_close),
        cmocka_unit_test(test_reopen_while_degraded),
        cmocka_unit_test(test_pipe_finishes_the_line),
    };
    return cmocka_run_group_tests(tests, setup, NULL) != 0;
}
