/*
 * sig.h - the signature detector: Suricata/Snort-style rules, parsed into
 * the structures below (parse.c), evaluated on a buffer (match.c), and
 * dispatched on packets and reassembled streams through Hyperscan
 * prefilter databases (engine.c, main.c). docs/detectors/signature.md
 * describes the language subset and the matching model.
 */
#ifndef VIGIL_SIG_H
#define VIGIL_SIG_H

#include <stddef.h>
#include <stdint.h>

#define SIG_MAX_VARS 8          /* byte_extract variables per rule */
#define SIG_MAX_CONTENT 4096    /* bytes of one content pattern */
#define SIG_ERR_LEN 256

/* ---- header ------------------------------------------------------------- */

enum sig_action { SIG_ALERT = 0, SIG_PASS = 1, SIG_DROP = 2 };

enum sig_proto { SIG_P_IP = 0, SIG_P_TCP, SIG_P_UDP, SIG_P_ICMP };

/* tcp, tcp-pkt, tcp-stream (also set by flow:no_stream / only_stream). */
enum sig_tcp_mode { SIG_TCP_ANY = 0, SIG_TCP_PKT = 1, SIG_TCP_STREAM = 2 };

struct sig_addr_group;
struct sig_addr_item {
    uint8_t kind;               /* SIG_AI_* */
    uint8_t neg;
    uint8_t family;             /* CIDR: 4 or 6 */
    uint8_t prefix;             /* CIDR: bits */
    uint8_t bytes[16];
    struct sig_addr_group *sub; /* GROUP */
};
enum { SIG_AI_ANY = 0, SIG_AI_CIDR = 1, SIG_AI_HOME = 2, SIG_AI_GROUP = 3 };

struct sig_addr_group {
    size_t n;
    struct sig_addr_item *items;
};

struct sig_port_group;
struct sig_port_item {
    uint8_t kind;               /* SIG_PI_* */
    uint8_t neg;
    uint16_t lo, hi;
    struct sig_port_group *sub;
};
enum { SIG_PI_ANY = 0, SIG_PI_RANGE = 1, SIG_PI_GROUP = 2 };

struct sig_port_group {
    size_t n;
    struct sig_port_item *items;
};

/* ---- numbers: dsize, ttl, itype, icode, bsize, ... ------------------------ */

enum { NUM_NONE = 0, NUM_EQ, NUM_LT, NUM_GT, NUM_LE, NUM_GE, NUM_RANGE, NUM_NE };

struct sig_num {
    uint8_t op;                 /* NUM_*; RANGE is exclusive: a < x < b */
    int64_t a, b;
};

int sig_num_match(const struct sig_num *n, int64_t x);

/* ---- payload items, in rule order ------------------------------------------ */

enum sig_sm_type {
    SM_CONTENT = 1, SM_PCRE, SM_ISDATAAT, SM_BYTE_TEST, SM_BYTE_JUMP, SM_BYTE_EXTRACT,
    SM_BSIZE,
};

/* content position fields; SIG_UNSET when absent */
#define SIG_UNSET INT32_MIN
enum { POS_OFFSET = 0, POS_DEPTH, POS_DISTANCE, POS_WITHIN, POS_COUNT };

enum {
    BY_BIG = 0, BY_LITTLE = 1,
    BY_DEC = 10, BY_HEX = 16, BY_OCT = 8,
};

struct sig_sm {
    uint8_t type;               /* enum sig_sm_type */
    uint8_t neg;                /* content:!, pcre:!, isdataat:! */
    uint8_t relative;           /* relative to the previous match end */
    /* content */
    uint8_t *pat;
    uint32_t len;
    uint8_t nocase, fast_pattern, startswith, endswith;
    int32_t pos[POS_COUNT];     /* offset, depth, distance, within */
    int8_t pos_var[POS_COUNT];  /* byte_extract variable index or -1 */
    /* pcre */
    char *re_src;               /* the pattern between the slashes */
    uint32_t re_opts;           /* PCRE2 compile options */
    uint8_t re_uri;             /* U: the HTTP request-line URI */
    void *re_code;              /* pcre2_code *, compiled by match.c */
    void *re_md;                /* pcre2_match_data * */
    /* isdataat, byte_*: */
    uint32_t nbytes;            /* byte_*: bytes to read */
    int32_t offset;             /* isdataat value; byte_*: offset */
    int8_t offset_var;          /* byte_*: offset from a variable */
    uint8_t endian;             /* BY_BIG / BY_LITTLE */
    uint8_t base;               /* 0 binary, else BY_DEC/BY_HEX/BY_OCT */
    uint8_t op;                 /* byte_test: '<' '>' '=' '!' '&' '^' 'l' (<=) 'g' (>=) */
    uint8_t op_neg;             /* byte_test: !op */
    int64_t value;              /* byte_test value */
    int8_t value_var;
    uint32_t bitmask;           /* byte_test/jump/extract: 0 none */
    uint32_t multiplier;        /* byte_jump/extract: 0 none */
    int32_t post_offset;        /* byte_jump */
    uint8_t align, from_beginning, from_end; /* byte_jump */
    int8_t var;                 /* byte_extract: the variable it sets */
    struct sig_num num;         /* bsize */
};

/* ---- the rule ------------------------------------------------------------------ */

enum { TH_NONE = 0, TH_LIMIT, TH_THRESHOLD, TH_BOTH, TH_DETECTION };
enum { TRACK_SRC = 0, TRACK_DST, TRACK_RULE, TRACK_FLOW };

struct sig_threshold {
    uint8_t type;               /* TH_* */
    uint8_t track;
    uint8_t unique_dport;       /* detection_filter unique_on dst_port */
    uint32_t count;
    uint32_t seconds;
};

enum { FB_SET = 1, FB_ISSET, FB_ISNOTSET, FB_UNSET, FB_TOGGLE, FB_NOALERT };

struct sig_flowbit {
    uint8_t cmd;
    size_t n;                   /* names (isset a|b: any; isnotset a&b: all) */
    uint32_t *ids;              /* after sig_ruleset_bind: bit indexes */
    char **names;
};

enum {
    FL_ESTABLISHED = 1u << 0, FL_TO_SERVER = 1u << 1, FL_TO_CLIENT = 1u << 2,
    FL_STATELESS = 1u << 3, FL_ONLY_STREAM = 1u << 4, FL_NO_STREAM = 1u << 5,
    FL_NOT_ESTABLISHED = 1u << 6,
};

struct sig_meta {
    char *key, *value;
};

struct sig_rule {
    uint32_t index;             /* position in the rule set */
    uint8_t action, proto, tcp_mode, bidir;
    struct sig_addr_group src, dst;
    struct sig_port_group sport, dport;
    char *file;
    int line;

    uint32_t sid, gid, rev, priority;   /* priority 0: from the classtype */
    char *msg;
    char *classtype;
    struct sig_meta *meta;      /* metadata and reference entries */
    size_t nmeta;
    uint8_t target;             /* 0 none, 1 src_ip, 2 dest_ip */

    uint32_t flow;              /* FL_* */
    uint8_t has_flags, flags_mode; /* mode: 0 exact, '+', '*', '!' */
    uint8_t flags_want, flags_ignore;
    struct sig_num dsize, ttl, itype, icode, icmp_id, icmp_seq;
    int ip_proto;               /* -1 any */
    uint8_t ip_proto_op;        /* '=', '!', '<', '>' */

    struct sig_threshold threshold, detection;
    struct sig_flowbit *flowbits;
    size_t nflowbits;
    uint8_t noalert;

    struct sig_sm *sm;
    size_t nsm;
    int fast;                   /* index in sm of the prefilter content, -1 none */
    uint8_t nvars;
    char *var_names[SIG_MAX_VARS];
    uint8_t payload;            /* has payload keywords */
};

/* ---- parsing -------------------------------------------------------------------- */

struct sig_var {
    char *name;                 /* upper case, without $ */
    char *value;
};

struct sig_vars {
    struct sig_var *v;
    size_t n;
    int home_default;           /* HOME_NET not set: the sensor's home_net */
};

enum { SIG_PARSE_OK = 0, SIG_PARSE_SKIP = 1, SIG_PARSE_ERROR = -1, SIG_PARSE_NOMEM = -2 };

struct sig_parse_err {
    int column;                 /* 1-based column of the error */
    char msg[SIG_ERR_LEN];
    char keyword[64];           /* SKIP: the unsupported keyword */
};

/*
 * Parse one rule (one logical line, comments and empty lines already
 * removed). OK fills *r (free with sig_rule_free); SKIP names the first
 * keyword outside the subset; ERROR gives column and message.
 */
int sig_parse_rule(const char *text, const struct sig_vars *vars, struct sig_rule *r,
                   struct sig_parse_err *e);
void sig_rule_free(struct sig_rule *r);

/* Address and port lists (also used for variables). */
int sig_parse_addr(const char *s, size_t len, const struct sig_vars *vars,
                   struct sig_addr_group *g, char *why, size_t whylen, int depth);
int sig_parse_ports(const char *s, size_t len, const struct sig_vars *vars,
                    struct sig_port_group *g, char *why, size_t whylen, int depth);
void sig_addr_free(struct sig_addr_group *g);
void sig_ports_free(struct sig_port_group *g);

/* Match: `home` answers SIG_AI_HOME items. */
typedef int (*sig_home_fn)(void *user, uint8_t family, const uint8_t *bytes);
int sig_addr_match(const struct sig_addr_group *g, uint8_t family, const uint8_t *bytes,
                   sig_home_fn home, void *user);
int sig_port_match(const struct sig_port_group *g, uint16_t port);

/* classification.config: one class per line. */
struct sig_class {
    char *name, *desc;
    uint32_t priority;
};
struct sig_classes {
    struct sig_class *c;
    size_t n;
};
/* Parse one line; 1 added, 0 comment/empty, -1 bad (why). */
int sig_class_line(struct sig_classes *cl, const char *line, char *why, size_t whylen);
const struct sig_class *sig_class_find(const struct sig_classes *cl, const char *name);
void sig_classes_free(struct sig_classes *cl);

/* ---- evaluation (match.c) -------------------------------------------------------- */

/* Compile the pcre items of r; -1 with why on a bad expression. */
int sig_rule_compile(struct sig_rule *r, char *why, size_t whylen);

struct sig_buf {
    const uint8_t *data;
    size_t len;
    size_t fresh;               /* matches must end after this many bytes (stream tail context) */
    uint64_t base;              /* stream offset of data[0] (0 for packets) */
    int is_stream;
};

/* 1 when the rule's payload items match buf. */
int sig_match_payload(const struct sig_rule *r, const struct sig_buf *b);

/* memmem with optional ASCII case folding (non-ASCII bytes compare exactly). */
const uint8_t *sig_find(const uint8_t *hay, size_t hlen, const uint8_t *pat, size_t plen,
                        int nocase);

#endif
