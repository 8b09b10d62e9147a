/*
 * capture.h - packet sources: capture files (merged by time) and live
 * interfaces, behind one "next packet" loop.
 *
 * Replay takes any number of pcap/pcapng files and directories (every
 * capture file inside, not recursive) and reads them as one continuous
 * capture: always the earliest pending packet next. A file that breaks in
 * the middle stops alone, with a message naming it, the record number and
 * the byte offset; everything read before stays processed.
 */
#ifndef VIGIL_CAPTURE_H
#define VIGIL_CAPTURE_H

#include <pcap/pcap.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_capture;

/* Open files/directories. NULL, with the message in err and *exit_code set
 * (1 unreadable input, 2 unsupported link type or bad filter). */
struct vigil_capture *vigil_capture_open_files(char *const *paths, size_t npaths,
                                               const char *bpf, char *err,
                                               size_t errlen, int *exit_code);

/* How workers share an interface (AF_PACKET fanout; see workers.h). */
enum vigil_fanout_mode {
    VIGIL_FANOUT_NONE = 0,      /* one process sees everything */
    VIGIL_FANOUT_HOSTPAIR,      /* by the unordered pair of IP addresses */
    VIGIL_FANOUT_FLOW,          /* by the kernel's symmetric 5-tuple hash */
};

struct vigil_live_options {
    int snaplen;                /* 0: 262144 */
    int promisc;
    int buffer_mb;              /* 0: 64 MiB */
    int fanout_mode;            /* enum vigil_fanout_mode */
    int fanout_group;           /* fanout group id (1-65535) when fanout_mode != NONE */
};

/* Open a live interface (ring buffer, 100 ms block timeout) and join the
 * fanout group if asked (packets queued before the join are discarded, so
 * no worker sees a packet another one also gets). Same error rules. */
struct vigil_capture *vigil_capture_open_live(const char *iface, const char *bpf,
                                              const struct vigil_live_options *opt,
                                              char *err, size_t errlen, int *exit_code);

void vigil_capture_close(struct vigil_capture *c);

/* Handler for each packet; dlt is the link type of the packet's source. */
typedef void (*vigil_packet_fn)(void *user, int dlt, const struct pcap_pkthdr *h,
                                const uint8_t *data);

/*
 * Replay: deliver every packet of every file in timestamp order. Returns
 * 0 when all files were read to their end, 1 when some file broke (each
 * reported on stderr); `stop` is polled so a signal can end the replay.
 */
int vigil_capture_replay(struct vigil_capture *c, vigil_packet_fn fn, void *user,
                         volatile const sig_atomic_t *stop);

/*
 * Live: deliver packets until *stop is set; `idle` is called at least every
 * poll_ms with the wall-clock time (for periodic work). Returns 0, or 1 on
 * a capture error (reported on stderr).
 */
int vigil_capture_live(struct vigil_capture *c, vigil_packet_fn fn,
                       void (*idle)(void *user), void *user, int poll_ms,
                       volatile const sig_atomic_t *stop);

/* Kernel counters of a live capture; 0 on success, -1 when unavailable.
 * libpcap's counters are 32-bit: these are 64-bit totals, kept exact as long
 * as they are read more often than every 2^32 packets. */
int vigil_capture_kernel_stats(struct vigil_capture *c, uint64_t *received,
                               uint64_t *dropped, uint64_t *if_dropped);

/* Replay progress: bytes of the capture files read so far (estimated from
 * the records) and their total size. Both 0 for a live capture. */
void vigil_capture_position(const struct vigil_capture *c, uint64_t *done, uint64_t *total);

/* Number of files opened (replay). */
size_t vigil_capture_file_count(const struct vigil_capture *c);

#endif
