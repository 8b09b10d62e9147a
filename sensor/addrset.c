/* addrset.c - parse and match lists of networks. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addrset.h"
#include "log.h"

#define ITEM_MAX 64     /* longest item: an IPv6 address with a prefix */

static int parse_item(const char *item, struct vigil_net *out)
{
    char buf[ITEM_MAX];
    size_t n = strlen(item);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, item, n + 1);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, buf, out->net.bytes) == 1) {
        out->net.family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->net.bytes) == 1) {
        out->net.family = 6;
        max = 128;
    } else {
        return -1;
    }
    out->prefix = max;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || p > max)
            return -1;
        out->prefix = (unsigned)p;
    }
    /* Keep only the network bits, so matching is a masked compare. */
    for (unsigned bit = out->prefix; bit < 128; bit++)
        out->net.bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return 0;
}

static int is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

int vigil_addrset_parse(struct vigil_addrset *set, const char *text, char *err,
                        size_t errlen)
{
    memset(set, 0, sizeof *set);
    const char *p = text;
    while (*p) {
        while (is_sep(*p))
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p && !is_sep(*p))
            p++;
        char item[ITEM_MAX];
        size_t n = (size_t)(p - start);
        struct vigil_net net;
        if (n >= sizeof item) {
            vigil_seterr(err, errlen, "'%.20s...' is not an address or network", start);
            goto fail;
        }
        memcpy(item, start, n);
        item[n] = '\0';
        if (parse_item(item, &net) < 0) {
            vigil_seterr(err, errlen, "'%s' is not an address or network", item);
            goto fail;
        }
        if (set->count >= VIGIL_ADDRSET_MAX) {
            vigil_seterr(err, errlen, "more than %d networks", VIGIL_ADDRSET_MAX);
            goto fail;
        }
        struct vigil_net *grown = realloc(set->nets, (set->count + 1) * sizeof *grown);
        if (grown == NULL) {
            vigil_seterr(err, errlen, "out of memory");
            goto fail;
        }
        set->nets = grown;
        set->nets[set->count++] = net;
    }
    return 0;
fail:
    vigil_addrset_free(set);
    return -1;
}

void vigil_addrset_free(struct vigil_addrset *set)
{
    free(set->nets);
    memset(set, 0, sizeof *set);
}

static int in_net(const struct vigil_net *n, const vigil_addr *a)
{
    if (n->net.family != a->family)
        return 0;
    unsigned full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(n->net.bytes, a->bytes, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a->bytes[full] & mask) == n->net.bytes[full];
}

int vigil_addrset_contains(const struct vigil_addrset *set, const vigil_addr *a)
{
    for (size_t i = 0; i < set->count; i++)
        if (in_net(&set->nets[i], a))
            return 1;
    return 0;
}
