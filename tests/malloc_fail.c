/*
 * malloc_fail.c - an LD_PRELOAD shim that makes malloc, calloc and realloc
 * fail at random once the sensor has started reading packets.
 *
 *   cc -shared -fPIC -o malloc_fail.so tests/malloc_fail.c -ldl
 *   MALLOC_FAIL_SEED=7 MALLOC_FAIL_PPM=5000 LD_PRELOAD=./malloc_fail.so vigil ...
 *
 * MALLOC_FAIL_SEED   PRNG seed (default 1): the same seed fails the same calls
 * MALLOC_FAIL_PPM    failures per million calls once armed (default 1000)
 * MALLOC_FAIL_ARMED  1: fail from the first call, not only after startup
 *
 * "After startup" means after the first pcap_next_ex() or pcap_dispatch()
 * call, which this shim also wraps: configuration, plugin loading and
 * output opening run with a working allocator, the packet path does not.
 * At exit it prints "malloc_fail: N of M calls failed" on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);

static uint64_t g_state;
static uint32_t g_ppm = 1000;
static int g_init, g_armed;
static unsigned long g_calls, g_failed;

static void report(void)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "malloc_fail: %lu of %lu calls failed\n", g_failed,
                     g_calls);
    if (n > 0 && write(2, buf, (size_t)n) < 0)
        return;
}

static void setup(void)
{
    g_init = 1;
    const char *s = getenv("MALLOC_FAIL_SEED");
    const char *p = getenv("MALLOC_FAIL_PPM");
    const char *a = getenv("MALLOC_FAIL_ARMED");
    g_state = (s ? strtoull(s, NULL, 10) : 1) * 0x9e3779b97f4a7c15ull + 1;
    if (p)
        g_ppm = (uint32_t)strtoul(p, NULL, 10);
    g_armed = a && a[0] == '1';
    atexit(report);
}

static int should_fail(void)
{
    if (!g_init)
        setup();
    if (!g_armed)
        return 0;
    g_calls++;
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    if ((uint32_t)(g_state % 1000000) < g_ppm) {
        g_failed++;
        return 1;
    }
    return 0;
}

void *malloc(size_t n)
{
    return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees: never fail that one. */
    return n && should_fail() ? NULL : __libc_realloc(p, n);
}

/* The first packet read arms the failures. */
static void *next_fn(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL)
        abort();
    return f;
}

int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **d)
{
    static int (*real)(pcap_t *, struct pcap_pkthdr **, const u_char **);
    if (real == NULL)
        *(void **)&real = next_fn("pcap_next_ex");
    if (!g_init)
        setup();
    g_armed = 1;
    return real(p, h, d);
}

int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
    static int (*real)(pcap_t *, int, pcap_handler, u_char *);
    if (real == NULL)
        *(void **)&real = next_fn("pcap_dispatch");
    if (!g_init)
        setup();
    g_armed = 1;
    return real(p, cnt, cb, user);
}
