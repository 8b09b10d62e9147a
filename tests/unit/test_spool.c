/*
 * test_spool.c - the durable record queue: what is appended comes back in
 * order until it is acknowledged, survives a crash, and a torn or damaged
 * file is repaired without losing the records around the damage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"
#include "taxii.h"

/* ---- helpers -------------------------------------------------------- */

struct fixture {
    char dir[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/vigil_spool_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct vigil_spool *open_spool_mem(const char *dir, uint64_t max, uint64_t seg,
                                          enum vigil_spool_full policy, uint64_t memory)
{
    struct vigil_spool_options o = {
        .dir = dir, .max_bytes = max, .segment_bytes = seg, .when_full = policy,
        .name = "test", .memory_bytes = memory,
    };
    char err[256] = "";
    struct vigil_spool *sp = vigil_spool_open(&o, err, sizeof err);
    if (sp == NULL)
        print_error("open: %s\n", err);
    assert_non_null(sp);
    return sp;
}

static struct vigil_spool *open_spool(const char *dir, uint64_t max, uint64_t seg,
                                      enum vigil_spool_full policy)
{
    return open_spool_mem(dir, max, seg, policy, 0);
}

static void append_text(struct vigil_spool *sp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void append_text(struct vigil_spool *sp, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_int_equal(vigil_spool_append(sp, buf, (size_t)n), 0);
}

/* The payload of record i of a batch as a string. */
static const char *rec_text(const struct vigil_spool_batch *b, size_t i)
{
    static char buf[256];
    size_t n = b->recs[i].len < sizeof buf - 1 ? b->recs[i].len : sizeof buf - 1;
    memcpy(buf, b->recs[i].data, n);
    buf[n] = '\0';
    return buf;
}

static int count_segments(const char *dir, off_t *last_size, char *last_path, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    char best[256] = "";
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0) {
            n++;
            if (strcmp(de->d_name, best) > 0)
                snprintf(best, sizeof best, "%s", de->d_name);
        }
    }
    closedir(d);
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, best);
    struct stat st;
    if (last_size)
        *last_size = stat(p, &st) == 0 ? st.st_size : -1;
    if (last_path)
        snprintf(last_path, len, "%s", p);
    return n;
}

static struct vigil_spool_counters counters(struct vigil_spool *sp)
{
    struct vigil_spool_counters c;
    vigil_spool_counters(sp, &c);
    return c;
}

/* ---- tests ---------------------------------------------------------- */

static void test_crc32c_vector(void **state)
{
    (void)state;
    /* RFC 3720 B.4: CRC-32C of "123456789" is 0xE3069283. */
    assert_int_equal(vigil_crc32c(0, "123456789", 9), 0xE3069283u);
    uint32_t part = vigil_crc32c(0, "1234", 4);
    assert_int_equal(vigil_crc32c(part, "56789", 5), 0xE3069283u);
}

static void test_append_peek_ack_compact(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };

    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 0);
    for (int i = 1; i <= 5; i++)
        append_text(sp, "record %d", i);
    assert_int_equal(vigil_spool_peek(sp, 3, 1 << 20, &b), 0);
    assert_int_equal(b.count, 3);
    assert_string_equal(rec_text(&b, 0), "record 1");
    assert_string_equal(rec_text(&b, 2), "record 3");
    assert_int_equal(b.recs[0].seq + 2, b.recs[2].seq);
    /* peeking again without an ack gives the same records */
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 5);
    assert_int_equal(vigil_spool_ack(sp, b.recs[2].seq), 0);
    struct vigil_spool_counters c = counters(sp);
    assert_int_equal(c.pending, 2);
    assert_int_equal(c.acked, 3);
    assert_int_equal(c.pending_bytes, 2 * (VIGIL_SPOOL_RECORD_OVERHEAD + 8));

    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 2);
    assert_string_equal(rec_text(&b, 0), "record 4");
    /* max_bytes: one record at least, then only what fits */
    assert_int_equal(vigil_spool_peek(sp, 10, 1, &b), 0);
    assert_int_equal(b.count, 1);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(vigil_spool_ack(sp, b.recs[1].seq), 0);
    assert_int_equal(counters(sp).pending, 0);
    /* fully acknowledged: the segment is back to its header */
    off_t size;
    assert_int_equal(count_segments(f->dir, &size, NULL, 0), 1);
    assert_int_equal(size, 16);
    /* sequence numbers go on after compaction */
    append_text(sp, "record %d", 6);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 1);
    assert_int_equal(b.recs[0].seq, 6);
    vigil_spool_batch_free(&b);
    assert_int_equal(vigil_spool_close(sp), 0);
}

static void test_segments_roll_and_delete(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 256, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };
    for (int i = 0; i < 100; i++)
        append_text(sp, "a somewhat longer record number %d", i);
    assert_true(count_segments(f->dir, NULL, NULL, 0) > 10);
    int seen = 0;
    for (;;) {
        assert_int_equal(vigil_spool_peek(sp, 7, 1 << 20, &b), 0);
        if (b.count == 0)
            break;
        for (size_t i = 0; i < b.count; i++) {
            char want[64];
            snprintf(want, sizeof want, "a somewhat longer record number %d", seen++);
            assert_string_equal(rec_text(&b, i), want);
        }
        assert_int_equal(vigil_spool_ack(sp, b.recs[b.count - 1].seq), 0);
    }
    assert_int_equal(seen, 100);
    off_t size;
    assert_int_equal(count_segments(f->dir, &size, NULL, 0), 1);
    assert_int_equal(size, 16);
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

static void test_reopen_resumes(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 300, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };
    for (int i = 1; i <= 20; i++)
        append_text(sp, "r%d", i);
    assert_int_equal(vigil_spool_peek(sp, 4, 1 << 20, &b), 0);
    assert_int_equal(vigil_spool_ack(sp, b.recs[3].seq), 0);
    vigil_spool_close(sp);

    sp = open_spool(f->dir, 1 << 20, 300, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_counters c = counters(sp);
    assert_int_equal(c.recovered, 16);
    assert_int_equal(c.pending, 16);
    assert_int_equal(c.torn, 0);
    assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
    assert_int_equal(b.count, 16);
    assert_string_equal(rec_text(&b, 0), "r5");
    assert_int_equal(b.recs[0].seq, 5);
    append_text(sp, "r%d", 21);
    assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
    assert_int_equal(b.recs[16].seq, 21);
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

/* A process that dies without closing: everything it appended is there. */
static void test_crash_keeps_records(void **state)
{
    struct fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vigil_spool_options o = { .dir = f->dir, .max_bytes = 1 << 20, .name = "t" };
        char err[256];
        struct vigil_spool *sp = vigil_spool_open(&o, err, sizeof err);
        if (sp == NULL)
            _exit(2);
        for (int i = 1; i <= 50; i++) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "crash %d", i);
            if (vigil_spool_append(sp, buf, (size_t)n) != 0)
                _exit(3);
        }
        struct vigil_spool_batch b = { 0 };
        if (vigil_spool_peek(sp, 10, 1 << 20, &b) != 0 || b.count != 10 ||
            vigil_spool_ack(sp, b.recs[9].seq) != 0)
            _exit(4);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the lock died with the process */
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(counters(sp).recovered, 40);
    assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
    assert_int_equal(b.count, 40);
    assert_string_equal(rec_text(&b, 0), "crash 11");
    assert_string_equal(rec_text(&b, 39), "crash 50");
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

static void test_second_open_refused(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_options o = { .dir = f->dir, .max_bytes = 1 << 20, .name = "t" };
    char err[256] = "";
    assert_null(vigil_spool_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "in use by another process"));
    vigil_spool_close(sp);
}

/* Truncate the last record at every byte: the others survive, one warning. */
static void test_torn_tail_every_point(void **state)
{
    struct fixture *f = *state;
    const char *last = "the last record, which gets torn";
    size_t rec = VIGIL_SPOOL_RECORD_OVERHEAD + strlen(last);
    for (size_t cut = 0; cut < rec; cut++) {
        struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
        struct vigil_spool_batch b = { 0 };
        assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
        if (b.count)
            assert_int_equal(vigil_spool_ack(sp, b.recs[b.count - 1].seq), 0);
        append_text(sp, "first %d", (int)cut);
        append_text(sp, "second %d", (int)cut);
        assert_int_equal(vigil_spool_append(sp, last, strlen(last)), 0);
        vigil_spool_close(sp);

        off_t size;
        char path[600];
        count_segments(f->dir, &size, path, sizeof path);
        off_t keep = size - (off_t)rec + (off_t)cut;    /* cut == 0: the record is gone whole */
        assert_int_equal(truncate(path, keep), 0);

        sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
        struct vigil_spool_counters c = counters(sp);
        assert_int_equal(c.torn, cut == 0 ? 0 : 1);
        assert_int_equal(c.pending, 2);
        assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
        assert_int_equal(b.count, 2);
        char want[32];
        snprintf(want, sizeof want, "second %d", (int)cut);
        assert_string_equal(rec_text(&b, 1), want);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, size - (off_t)rec);
        /* appending goes on where the good data ends */
        append_text(sp, "after %d", (int)cut);
        assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
        assert_int_equal(b.count, 3);
        snprintf(want, sizeof want, "after %d", (int)cut);
        assert_string_equal(rec_text(&b, 2), want);
        assert_true(b.recs[2].seq > b.recs[1].seq);
        vigil_spool_batch_free(&b);
        vigil_spool_close(sp);
    }
}

/* A damaged record in the middle: skipped, the records after it kept. */
static void test_corrupt_middle(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    append_text(sp, "good %d", 1);
    append_text(sp, "damaged %d", 2);
    append_text(sp, "good %d", 3);
    vigil_spool_close(sp);
    char path[600];
    count_segments(f->dir, NULL, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* second record's payload: header 16, first record 20 + 6, then 20 */
    off_t at = 16 + 20 + 6 + 20 + 3;
    assert_int_equal(pwrite(fd, "X", 1, at), 1);
    close(fd);

    sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_counters c = counters(sp);
    assert_int_equal(c.corrupt, 1);
    assert_int_equal(c.torn, 0);
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(vigil_spool_peek(sp, 100, 1 << 20, &b), 0);
    assert_int_equal(b.count, 2);
    assert_string_equal(rec_text(&b, 0), "good 1");
    assert_string_equal(rec_text(&b, 1), "good 3");
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
    /* repaired on disk: a second open finds nothing wrong */
    sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    assert_int_equal(counters(sp).corrupt, 0);
    assert_int_equal(counters(sp).pending, 2);
    vigil_spool_close(sp);
}

static void test_not_a_spool_refused(void **state)
{
    struct fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/0000000001.seg", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("this is somebody else's file\n", fp);
    fclose(fp);
    struct vigil_spool_options o = { .dir = f->dir, .max_bytes = 1 << 20, .name = "t" };
    char err[256] = "";
    assert_null(vigil_spool_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "not a vigil spool segment"));
}

static void test_cap_drop_new(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 4096, 512, VIGIL_SPOOL_DROP_NEW);
    char rec[100];
    memset(rec, 'n', sizeof rec);
    int ok = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        int rc = vigil_spool_append(sp, rec, sizeof rec);
        assert_true(rc == 0 || rc == 1);
        rc == 0 ? ok++ : refused++;
    }
    struct vigil_spool_counters c = counters(sp);
    assert_int_equal(ok, 4096 / 120);
    assert_int_equal(c.dropped_new, (uint64_t)refused);
    assert_int_equal(c.pending, (uint64_t)ok);
    assert_true(c.pending_bytes <= 4096);
    /* the first records are the ones kept */
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(vigil_spool_peek(sp, 1000, 1 << 20, &b), 0);
    assert_int_equal(b.recs[0].seq, 1);
    assert_int_equal(vigil_spool_ack(sp, b.recs[b.count - 1].seq), 0);
    assert_int_equal(vigil_spool_append(sp, rec, sizeof rec), 0);
    /* larger than the whole cap: refused whatever the policy */
    static char huge[5000];
    assert_int_equal(vigil_spool_append(sp, huge, sizeof huge), 1);
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

static void test_cap_drop_oldest(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 4096, 512, VIGIL_SPOOL_DROP_OLDEST);
    for (int i = 1; i <= 300; i++)
        append_text(sp, "oldest-policy record %03d.......", i);
    struct vigil_spool_counters c = counters(sp);
    assert_true(c.pending_bytes <= 4096);
    assert_true(c.dropped_oldest > 0);
    assert_int_equal(c.pending + c.dropped_oldest, 300);
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(vigil_spool_peek(sp, 1000, 1 << 20, &b), 0);
    assert_int_equal(b.count, c.pending);
    /* the newest survive, in order, without gaps */
    assert_string_equal(rec_text(&b, b.count - 1), "oldest-policy record 300.......");
    for (size_t i = 1; i < b.count; i++)
        assert_int_equal(b.recs[i].seq, b.recs[i - 1].seq + 1);
    /* on disk: no more than the cap plus a segment */
    off_t total = 0;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        if (strstr(de->d_name, ".seg") && stat(p, &st) == 0)
            total += st.st_size;
    }
    closedir(d);
    assert_true(total <= 4096 + 512 + 64);
    /* an in-flight batch acknowledged after its records were dropped */
    uint64_t old = b.recs[0].seq;
    for (int i = 301; i <= 400; i++)
        append_text(sp, "oldest-policy record %03d.......", i);
    assert_int_equal(vigil_spool_ack(sp, old), 0);
    assert_int_equal(vigil_spool_peek(sp, 1000, 1 << 20, &b), 0);
    assert_string_equal(rec_text(&b, b.count - 1), "oldest-policy record 400.......");
    assert_true(b.recs[0].seq > old);
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

/* ---- concurrency: one writer, one reader -------------------------------- */

#define NCONC 4000

struct conc {
    struct vigil_spool *sp;
    int failed;
    int seen;
};

static void *writer(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < NCONC; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "concurrent %d", i);
        if (vigil_spool_append(c->sp, buf, (size_t)n) != 0)
            c->failed = 1;
        if (i % 97 == 0)
            vigil_spool_sync(c->sp);
    }
    return NULL;
}

static void *reader(void *arg)
{
    struct conc *c = arg;
    struct vigil_spool_batch b = { 0 };
    int idle = 0;
    while (c->seen < NCONC && idle < 200000) {
        if (vigil_spool_peek(c->sp, 50, 1 << 20, &b) != 0) {
            c->failed = 1;
            break;
        }
        if (b.count == 0) {
            idle++;
            usleep(50);
            continue;
        }
        for (size_t i = 0; i < b.count; i++) {
            char want[64];
            int n = snprintf(want, sizeof want, "concurrent %d", c->seen);
            if (b.recs[i].len != (size_t)n || memcmp(b.recs[i].data, want, (size_t)n) != 0)
                c->failed = 1;
            c->seen++;
        }
        if (vigil_spool_ack(c->sp, b.recs[b.count - 1].seq) != 0)
            c->failed = 1;
    }
    vigil_spool_batch_free(&b);
    return NULL;
}

static void test_writer_and_reader_threads(void **state)
{
    struct fixture *f = *state;
    struct conc c = { .sp = open_spool(f->dir, 1 << 22, 2048, VIGIL_SPOOL_DROP_NEW) };
    pthread_t w, r;
    assert_int_equal(pthread_create(&r, NULL, reader, &c), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, &c), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    assert_false(c.failed);
    assert_int_equal(c.seen, NCONC);
    struct vigil_spool_counters k = counters(c.sp);
    assert_int_equal(k.appended, NCONC);
    assert_int_equal(k.acked, NCONC);
    assert_int_equal(k.pending, 0);
    assert_int_equal(k.dropped_new + k.dropped_oldest + k.unpersisted, 0);
    vigil_spool_close(c.sp);
    assert_int_equal(count_segments(f->dir, NULL, NULL, 0), 1);
}

/* A full disk without root: files may not grow past `size` bytes (writes
 * past it fail with EFBIG) until disk_freed(). */
struct full_disk {
    struct rlimit old;
    void (*prev)(int);
};

static void disk_full_at(struct full_disk *d, rlim_t size)
{
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &d->old), 0);
    d->prev = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = d->old;
    lim.rlim_cur = size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void disk_freed(struct full_disk *d)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &d->old), 0);
    signal(SIGXFSZ, d->prev);
}

/* Writing fails (a full disk; here a file-size limit, which works as root
 * too): counted, the partial record is cut back, and writing recovers. */
static void test_write_error_counted(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    append_text(sp, "before %d", 1);
    off_t size;
    char path[600];
    count_segments(f->dir, &size, path, sizeof path);

    struct full_disk disk;
    disk_full_at(&disk, (rlim_t)size + 10);   /* half a header fits */
    char big[200];
    memset(big, 'x', sizeof big);
    int rc1 = vigil_spool_append(sp, big, sizeof big);
    int rc2 = vigil_spool_append(sp, big, sizeof big);
    disk_freed(&disk);
    assert_int_equal(rc1, -1);
    assert_int_equal(rc2, -1);
    assert_int_equal(counters(sp).unpersisted, 2);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, size);     /* no partial record left */

    append_text(sp, "after %d", 2);
    vigil_spool_close(sp);
    sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(counters(sp).torn, 0);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 2);
    assert_string_equal(rec_text(&b, 1), "after 2");
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

/* With memory for them, records the disk cannot take wait (the oldest go
 * first when it is full, counted), no torn record stays on disk, and they
 * are written in order once it can take them again. */
static void test_write_error_records_wait(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool_mem(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST, 30);
    append_text(sp, "record %d", 0);
    off_t size;
    char path[600];
    count_segments(f->dir, &size, path, sizeof path);

    struct full_disk disk;
    disk_full_at(&disk, (rlim_t)size + 25);   /* the next record gets half in */
    int rc[4];
    for (int i = 1; i <= 4; i++) {
        char text[24];
        snprintf(text, sizeof text, "record %d", i);    /* 8 bytes each */
        rc[i - 1] = vigil_spool_append(sp, text, strlen(text));
    }
    struct vigil_spool_counters k = counters(sp);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    disk_freed(&disk);
    assert_int_equal(st.st_size, size);     /* nothing torn */
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], 0);
    assert_int_equal(rc[3], -1);            /* 30 bytes hold three: record 1 is lost */
    assert_int_equal(k.waiting, 3);
    assert_int_equal(k.unpersisted, 1);
    assert_true(k.write_errors >= 1);

    assert_int_equal(vigil_spool_retry(sp, 1), 0);
    k = counters(sp);
    assert_int_equal(k.waiting, 0);
    assert_int_equal(k.delayed, 3);
    append_text(sp, "record %d", 5);
    struct vigil_spool_batch b = { 0 };
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    static const char *const want[] = { "record 0", "record 2", "record 3", "record 4",
                                        "record 5" };
    assert_int_equal(b.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(rec_text(&b, i), want[i]);
    for (size_t i = 1; i < b.count; i++)
        assert_int_equal(b.recs[i].seq, b.recs[i - 1].seq + 1);    /* no gap */
    vigil_spool_batch_free(&b);
    assert_int_equal(vigil_spool_close(sp), 0);

    /* Still failing at close: what waits is lost, counted, and close fails. */
    sp = open_spool_mem(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST, 1024);
    count_segments(f->dir, &size, path, sizeof path);
    disk_full_at(&disk, (rlim_t)size);
    append_text(sp, "late %d", 1);
    k = counters(sp);
    int closed = vigil_spool_close(sp);
    disk_freed(&disk);
    assert_int_equal(k.waiting, 1);
    assert_int_equal(closed, -1);
}

/* The ack file cannot be written: the records still leave the queue. */
static void test_ack_file_unwritable(void **state)
{
    struct fixture *f = *state;
    struct vigil_spool *sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    struct vigil_spool_batch b = { 0 };
    append_text(sp, "delivered %d", 1);
    append_text(sp, "delivered %d", 2);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    struct full_disk disk;
    disk_full_at(&disk, 8);      /* the ack file's text does not fit */
    int rc = vigil_spool_ack(sp, b.recs[1].seq);
    int e = errno;
    disk_freed(&disk);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);
    assert_int_equal(counters(sp).pending, 0);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 0);
    append_text(sp, "next %d", 3);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.count, 1);
    assert_int_equal(vigil_spool_ack(sp, b.recs[0].seq), 0);
    vigil_spool_close(sp);
    /* what the ack file says now is durable */
    sp = open_spool(f->dir, 1 << 20, 0, VIGIL_SPOOL_DROP_OLDEST);
    assert_int_equal(counters(sp).pending, 0);
    append_text(sp, "after %d", 4);
    assert_int_equal(vigil_spool_peek(sp, 10, 1 << 20, &b), 0);
    assert_int_equal(b.recs[0].seq, 4);
    vigil_spool_batch_free(&b);
    vigil_spool_close(sp);
}

/* ---- the push client's URL rules (taxii.c reads the spool) ------------- */

static void test_taxii_urls(void **state)
{
    (void)state;
    char obj[512], st[512], err[256];
    assert_int_equal(vigil_taxii_parse_url("https://ti.example/api1/collections/abc-1/", 0,
                                           obj, sizeof obj, st, sizeof st, err, sizeof err), 0);
    assert_string_equal(obj, "https://ti.example/api1/collections/abc-1/objects/");
    assert_string_equal(st, "https://ti.example/api1/status/");
    /* the final slash is added; an api root may be deep */
    assert_int_equal(vigil_taxii_parse_url("https://h:8443/a/b/collections/x", 0, obj,
                                           sizeof obj, st, sizeof st, err, sizeof err), 0);
    assert_string_equal(obj, "https://h:8443/a/b/collections/x/objects/");
    assert_string_equal(st, "https://h:8443/a/b/status/");
    assert_int_equal(vigil_taxii_parse_url("http://127.0.0.1:9000/r/collections/c/", 0, obj,
                                           sizeof obj, st, sizeof st, err, sizeof err), 0);
    assert_int_equal(vigil_taxii_parse_url("http://localhost/r/collections/c/", 0, obj,
                                           sizeof obj, st, sizeof st, err, sizeof err), 0);

    static const struct { const char *url, *why; } bad[] = {
        { "http://ti.example/api1/collections/c/", "only allowed to a loopback" },
        { "ftp://ti.example/api1/collections/c/", "only https://" },
        { "https://u:p@ti.example/api1/collections/c/", "no credentials in the URL" },
        { "https://ti.example/api1/collections/c/?x=1", "no query" },
        { "https://ti.example/api1/collections/", "not a collection URL" },
        { "https://ti.example/api1/collections/c/objects/", "not a collection URL" },
        { "https://ti.example/api1/", "not a collection URL" },
        { "not a url", "not a URL" },
        { "", "not a URL" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(vigil_taxii_parse_url(bad[i].url, 0, obj, sizeof obj, st, sizeof st,
                                               err, sizeof err), -1);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("%s: got '%s', want '%s'", bad[i].url, err, bad[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vector),
        cmocka_unit_test_setup_teardown(test_append_peek_ack_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_keeps_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_spool_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_drop_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_drop_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_and_reader_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_records_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_file_unwritable, setup, teardown),
        cmocka_unit_test(test_taxii_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
