/* progress.c - the replay progress line (see progress.h). */
#include "progress.h"

#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_SEC 0.25
#define BAR_MAX 40
#define BAR_MIN 10

void vigil_progress_bytes(char *buf, size_t len, uint64_t bytes)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, v < 10.0 ? "%.2f %s" : v < 100.0 ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void rate(char *buf, size_t len, double per_sec)
{
    if (per_sec >= 1e6)
        snprintf(buf, len, "%.1fM", per_sec / 1e6);
    else if (per_sec >= 1e4)
        snprintf(buf, len, "%.0fk", per_sec / 1e3);
    else if (per_sec >= 1e3)
        snprintf(buf, len, "%.1fk", per_sec / 1e3);
    else
        snprintf(buf, len, "%.0f", per_sec);
}

static void duration(char *buf, size_t len, double sec)
{
    if (!(sec >= 0) || sec > 99.0 * 3600) {
        snprintf(buf, len, "--:--");
        return;
    }
    unsigned s = (unsigned)(sec + 0.5);
    if (s >= 3600)
        snprintf(buf, len, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%u:%02u", s / 60, s % 60);
}

size_t vigil_progress_format(char *buf, size_t len, uint64_t done, uint64_t total,
                             uint64_t packets, uint64_t alerts, double elapsed_sec,
                             int width)
{
    char d[32], t[32], r[32], eta[32], text[192];
    if (len == 0)
        return 0;
    if (width < 20)
        width = 20;
    if ((size_t)width > len)
        width = (int)len;
    if (total && done > total)
        done = total;
    vigil_progress_bytes(d, sizeof d, done);
    rate(r, sizeof r, elapsed_sec > 0 ? (double)packets / elapsed_sec : 0.0);
    if (total) {
        vigil_progress_bytes(t, sizeof t, total);
        double left = -1;
        if (done >= total)
            left = 0;
        else if (done > 0 && elapsed_sec >= 1.0)
            left = elapsed_sec * (double)(total - done) / (double)done;
        duration(eta, sizeof eta, left);
        snprintf(text, sizeof text, "%5.1f%%  %s / %s  %s pkt/s  %" PRIu64 " alert%s  ETA %s",
                 100.0 * (double)done / (double)total, d, t, r, alerts,
                 alerts == 1 ? "" : "s", eta);
    } else {
        duration(eta, sizeof eta, elapsed_sec);
        snprintf(text, sizeof text, "%s read  %s pkt/s  %" PRIu64 " alert%s  %s elapsed",
                 d, r, alerts, alerts == 1 ? "" : "s", eta);
    }
    size_t tl = strlen(text);
    size_t room = (size_t)width - 1;        /* never touch the last column */
    int bar = total ? (int)room - (int)tl - 3 : 0;
    if (bar > BAR_MAX)
        bar = BAR_MAX;
    size_t n = 0;
    if (bar >= BAR_MIN) {
        int fill = (int)((double)bar * (double)done / (double)total);
        buf[n++] = '[';
        for (int i = 0; i < bar; i++)
            buf[n++] = i < fill ? '=' : (i == fill ? '>' : ' ');
        buf[n++] = ']';
        buf[n++] = ' ';
    }
    if (tl > room - n)
        tl = room - n;
    memcpy(buf + n, text, tl);
    n += tl;
    buf[n] = '\0';
    return n;
}

static double now_sec(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vigil_progress_init(struct vigil_progress *p, FILE *out, int quiet)
{
    memset(p, 0, sizeof *p);
    if (quiet || out == NULL || !isatty(fileno(out)))
        return;
    struct winsize ws;
    p->width = 80;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        p->width = ws.ws_col;
    p->out = out;
    p->start = now_sec();
    p->last_draw = p->start;    /* first draw after REDRAW_SEC: short replays show nothing */
}

void vigil_progress_draw(struct vigil_progress *p, uint64_t done, uint64_t total,
                         uint64_t alerts, int force)
{
    if (p->out == NULL)
        return;
    double now = now_sec();
    if (!force && now - p->last_draw < REDRAW_SEC)
        return;
    p->last_draw = now;
    char line[512];
    vigil_progress_format(line, sizeof line, done, total, p->packets, alerts, now - p->start,
                          p->width);
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->drawn = 1;
}

void vigil_progress_finish(struct vigil_progress *p)
{
    if (p->out && p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}
