/*
 * vigil/plugin.h - the Vigil detector plugin ABI.
 *
 * This header is the whole contract between the sensor and a detector
 * plugin. It is public and installed; it is C11 and depends only on
 * <stddef.h> and <stdint.h>.
 *
 * Compatibility rules (a public promise):
 *  - VIGIL_ABI_MAJOR changes only on an incompatible change; the host
 *    refuses a plugin whose major differs from its own.
 *  - Every struct below starts with `size` (sizeof as the writer of the
 *    struct compiled it). Members are only ever appended at the END of a
 *    struct, and each addition bumps VIGIL_ABI_MINOR. A reader treats a
 *    member that lies past the writer's `size` as absent (zero / NULL).
 *  - A plugin exports exactly one symbol, VIGIL_PLUGIN_ENTRY_SYMBOL. Build it
 *    with -fvisibility=hidden so nothing else leaks.
 *
 * Lifetimes: everything the host passes to a callback (packets, streams,
 * the context) is borrowed for the duration of that callback only. The
 * host copies everything a plugin passes to it (alert strings included).
 * Per-flow state set with set_flow_state() belongs to the host from then
 * on and is released through the plugin's flow_free().
 *
 * Time: every timestamp is microseconds since the Unix epoch, taken from
 * the packets (in replay too), so a capture always gives the same alerts.
 */
#ifndef VIGIL_PLUGIN_H
#define VIGIL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_ABI_MAJOR 1
#define VIGIL_ABI_MINOR 0

#if defined(__GNUC__)
#define VIGIL_EXPORT __attribute__((visibility("default")))
#define VIGIL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VIGIL_EXPORT
#define VIGIL_PRINTF(f, a)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes: 0 is success, negative is an error. */
enum {
    VIGIL_OK = 0,
    VIGIL_ERR = -1,     /* generic failure; the plugin has logged why */
    VIGIL_ENOMEM = -2,  /* out of memory */
    VIGIL_EINVAL = -3,  /* bad argument or bad configuration value */
    VIGIL_ENOENT = -4,  /* no such configuration key / no flow */
};

/* Log levels for host->log(). */
enum {
    VIGIL_LOG_ERROR = 0,
    VIGIL_LOG_WARNING = 1,
    VIGIL_LOG_INFO = 2,
    VIGIL_LOG_DEBUG = 3,
};

/* Opaque, host-owned; valid only during the callback that received it. */
typedef struct vigil_ctx vigil_ctx;

/* An IPv4 or IPv6 address. IPv4 lives in bytes[0..3], network order. */
typedef struct vigil_addr {
    uint8_t family;     /* 0 (none), 4 or 6 */
    uint8_t bytes[16];
} vigil_addr;

/* vigil_packet.l3 */
enum {
    VIGIL_L3_NONE = 0,
    VIGIL_L3_ARP = 1,
    VIGIL_L3_IPV4 = 4,
    VIGIL_L3_IPV6 = 6,
};

/* vigil_packet.flags */
enum {
    VIGIL_PKT_FRAGMENT = 1u << 0,       /* an IP fragment (first or not) */
    VIGIL_PKT_FRAG_FIRST = 1u << 1,     /* the fragment at offset 0 */
    VIGIL_PKT_PAYLOAD_CUT = 1u << 2,    /* snaplen cut the L4 payload */
    VIGIL_PKT_HAS_L4 = 1u << 3,         /* sport/dport/tcp/icmp fields valid */
    VIGIL_PKT_IP_OPTIONS = 1u << 4,     /* IPv4 options or IPv6 ext headers */
};

/* TCP flag bits, as on the wire. */
enum {
    VIGIL_TCP_FIN = 0x01,
    VIGIL_TCP_SYN = 0x02,
    VIGIL_TCP_RST = 0x04,
    VIGIL_TCP_PSH = 0x08,
    VIGIL_TCP_ACK = 0x10,
    VIGIL_TCP_URG = 0x20,
    VIGIL_TCP_ECE = 0x40,
    VIGIL_TCP_CWR = 0x80,
};

/*
 * One decoded, validated packet. Every field was bounds-checked by the
 * host's decoder; the pointers cover only bytes that were captured.
 */
typedef struct vigil_packet {
    uint32_t size;              /* = sizeof(vigil_packet) in the host */
    uint32_t flags;             /* VIGIL_PKT_* */
    int64_t ts_us;              /* packet time */
    uint32_t wire_len;          /* length on the wire */
    uint32_t cap_len;           /* bytes captured */

    uint8_t eth_src[6], eth_dst[6]; /* zero when the link has no MACs */
    uint16_t vlan[2];           /* outermost first */
    uint8_t vlan_count;         /* tags seen (may exceed 2) */

    uint8_t l3;                 /* VIGIL_L3_* */
    uint8_t ip_proto;           /* 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ... */
    uint8_t ttl;                /* IPv4 TTL or IPv6 hop limit */
    uint16_t ip_id;             /* IPv4 id (IPv6: low 16 bits of frag id) */
    uint16_t frag_offset;       /* in bytes */
    vigil_addr src, dst;        /* IP source/destination; ARP sender/target */
    const uint8_t *l3_hdr;      /* start of the IP (or ARP) header */
    uint32_t l3_len;            /* captured bytes of the datagram (no link padding) */

    uint16_t sport, dport;      /* TCP/UDP ports; ICMP: type and code */
    uint8_t tcp_flags;          /* VIGIL_TCP_* */
    uint8_t icmp_type, icmp_code;
    uint16_t tcp_window;
    uint32_t tcp_seq, tcp_ack;

    const uint8_t *payload;     /* L4 payload (captured part) */
    uint32_t payload_len;       /* captured payload bytes */
    uint32_t payload_wire_len;  /* payload length claimed by the headers */

    uint16_t arp_op;            /* 1 request, 2 reply */
    uint8_t arp_sha[6], arp_tha[6]; /* ARP sender/target hardware addresses */
} vigil_packet;

/* vigil_stream.event */
enum {
    VIGIL_STREAM_ESTABLISHED = 1, /* three-way handshake seen */
    VIGIL_STREAM_DATA = 2,        /* new in-order bytes in one direction */
    VIGIL_STREAM_CLOSED = 3,      /* both FINs seen */
    VIGIL_STREAM_RESET = 4,       /* RST */
    VIGIL_STREAM_TIMEOUT = 5,     /* evicted from the table or idle */
    VIGIL_STREAM_END = 6,         /* still open at the end of the capture */
};

/* vigil_stream.dir */
enum {
    VIGIL_DIR_TO_SERVER = 0,
    VIGIL_DIR_TO_CLIENT = 1,
};

/* One event of a reassembled TCP stream (IPv4; see docs/architecture.md). */
typedef struct vigil_stream {
    uint32_t size;              /* = sizeof(vigil_stream) in the host */
    uint32_t event;             /* VIGIL_STREAM_* */
    int64_t ts_us;              /* time of the packet that caused it */
    vigil_addr client, server;  /* client = the side that sent the SYN */
    uint16_t client_port, server_port;
    uint32_t dir;               /* DATA: VIGIL_DIR_* */
    uint64_t offset;            /* DATA: stream offset of data[0] in dir */
    const uint8_t *data;        /* DATA: the new bytes */
    uint32_t len;
    uint64_t bytes_to_server;   /* totals so far */
    uint64_t bytes_to_client;
} vigil_stream;

/* One metadata entry; entries with the same key form one array. */
typedef struct vigil_meta {
    const char *key;
    const char *value;
} vigil_meta;

/* An alert. The host copies everything; nothing is retained. */
typedef struct vigil_alert {
    uint32_t size;              /* = sizeof(vigil_alert) in the plugin */
    uint32_t gid;               /* 0 means 1 */
    uint32_t signature_id;
    uint32_t rev;               /* 0 means 1 */
    uint32_t severity;          /* 1 (highest) .. 4 */
    const char *signature;      /* human-readable message */
    const char *category;       /* e.g. "Attempted Information Leak" */
    const char *attack_category;  /* fixed vocabulary, e.g. "port_scan" */
    const char *attack_technique; /* finer name, e.g. "syn_scan" */
    const char *mitre_attack;   /* technique ids, comma-separated */
    vigil_addr src, dst;        /* attacker, target */
    uint16_t sport, dport;      /* 0 when not meaningful */
    uint8_t ip_proto;           /* 0 when not meaningful */
    int64_t ts_us;              /* 0: the current packet time */
    const vigil_meta *meta;     /* extra evidence, may be NULL */
    size_t meta_count;
} vigil_alert;

/*
 * Services the host offers. Append-only; check `size` before using a
 * member newer than the minor version you were built against.
 */
typedef struct vigil_host_api {
    uint32_t size;              /* = sizeof(vigil_host_api) in the host */
    uint16_t abi_major, abi_minor;

    /* Log one line, prefixed with the plugin name. */
    void (*log)(vigil_ctx *ctx, int level, const char *fmt, ...) VIGIL_PRINTF(3, 4);

    /* Emit an alert. Returns VIGIL_OK or VIGIL_EINVAL (bad struct). */
    int (*emit_alert)(vigil_ctx *ctx, const vigil_alert *alert);

    /*
     * Configuration of this plugin: the `[name]` section of the rule
     * directory's *.conf files. config_str() sets *out to a string owned by
     * the host (valid until fini) or returns VIGIL_ENOENT. config_int()
     * stores `def` when the key is absent and returns VIGIL_EINVAL, after
     * the host has named file and line, when the value is not an integer
     * within [min, max].
     */
    int (*config_str)(vigil_ctx *ctx, const char *key, const char **out);
    int (*config_int)(vigil_ctx *ctx, const char *key, int64_t def,
                      int64_t min, int64_t max, int64_t *out);

    /*
     * This plugin's slot in the current flow (packet and stream callbacks
     * only). flow_state() returns NULL when empty or when there is no flow
     * (ARP, say). set_flow_state() replaces it; the host calls the plugin's
     * flow_free() on the old value and when the flow ends or is evicted.
     */
    void *(*flow_state)(vigil_ctx *ctx);
    int (*set_flow_state)(vigil_ctx *ctx, void *state);

    /* Current time: the timestamp of the packet being processed. */
    int64_t (*now_us)(vigil_ctx *ctx);

    /* 1 when a is inside the sensor's home networks ([vigil] home_net). */
    int (*in_home_net)(vigil_ctx *ctx, const vigil_addr *a);

    /*
     * Whether a matches the list of networks under `key` in this plugin's
     * section (e.g. "resolvers = 198.18.0.53, 2001:db8::53"): 1 or 0;
     * VIGIL_ENOENT when the key is absent; VIGIL_EINVAL, after the host has
     * named file and line, when the list is malformed. Parsed once. Call
     * it from init for each key you use (any address will do), so a bad
     * list refuses the plugin at start and the key counts as known.
     */
    int (*config_addr_match)(vigil_ctx *ctx, const char *key, const vigil_addr *a);

    /*
     * A path setting of this plugin, resolved: relative paths are taken
     * from the directory of the settings file that holds them (from the
     * current directory for settings given on the command line). *out is
     * host-owned, valid until fini. VIGIL_OK or VIGIL_ENOENT.
     */
    int (*config_path)(vigil_ctx *ctx, const char *key, const char **out);
} vigil_host_api;

/*
 * What a plugin exports: returned by the entry point, usually a static
 * const object. Callbacks that a plugin does not need are NULL.
 */
typedef struct vigil_plugin {
    uint32_t size;              /* = sizeof(vigil_plugin) in the plugin */
    uint16_t abi_major, abi_minor;
    const char *name;           /* [a-z0-9_], also the config section */
    const char *version;
    const char *description;    /* one line: what it detects */

    /* Read configuration and allocate *state. Non-zero refuses the load. */
    int (*init)(vigil_ctx *ctx, const vigil_host_api *host, void **state);
    /* Release everything; called once, after the last callback. */
    void (*fini)(void *state);

    /* Every decoded packet (IPv4, IPv6, ARP). */
    void (*on_packet)(void *state, vigil_ctx *ctx, const vigil_packet *pkt);
    /* Events of reassembled TCP streams. */
    void (*on_stream)(void *state, vigil_ctx *ctx, const vigil_stream *st);
    /* Once per second of packet time, before the packet that crosses it. */
    void (*on_tick)(void *state, vigil_ctx *ctx, int64_t now_us);
    /* End of input: report what is pending. Alerts may still be emitted. */
    void (*on_finish)(void *state, vigil_ctx *ctx);
    /* Free a per-flow state value set with set_flow_state(). */
    void (*flow_free)(void *state, void *flow_state);
} vigil_plugin;

#define VIGIL_PLUGIN_ENTRY_SYMBOL "vigil_plugin_entry"
typedef const vigil_plugin *(*vigil_plugin_entry_fn)(void);

/* The one symbol a plugin exports. */
VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void);

/* Initialise the version fields of a descriptor. */
#define VIGIL_PLUGIN_HEADER                                               \
    .size = sizeof(vigil_plugin), .abi_major = VIGIL_ABI_MAJOR,           \
    .abi_minor = VIGIL_ABI_MINOR

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_PLUGIN_H */
