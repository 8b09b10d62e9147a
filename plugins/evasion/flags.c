/*
 * flags.c - TCP flag combinations that no TCP stack sends in normal
 * operation: no flags at all, FIN+PSH+URG without ACK, SYN with FIN or
 * RST, FIN without ACK, or other data-phase flags without ACK. Scanners
 * (nmap -sN/-sX/-sF) and fingerprinting tools use them; reports are per
 * source, beside the port_scan alert the scan detector raises.
 */
#include "evasion.h"

#include <string.h>

static int classify(uint8_t fl, enum technique_id *tq)
{
    uint8_t f = fl & 0x3f; /* ECE and CWR are legitimate anywhere */
    const uint8_t syn = VIGIL_TCP_SYN, fin = VIGIL_TCP_FIN, rst = VIGIL_TCP_RST;
    if ((f & (syn | fin)) == (syn | fin))
        return *tq = TQ_FLAGS_SYN_FIN, 1;
    if ((f & (syn | rst)) == (syn | rst))
        return *tq = TQ_FLAGS_SYN_RST, 1;
    if (f & VIGIL_TCP_ACK)
        return 0;
    if (f == 0)
        return *tq = TQ_FLAGS_NULL, 1;
    if (f & (syn | rst))
        return 0; /* a SYN, or an RST (with or without PSH) */
    const uint8_t xmas = fin | VIGIL_TCP_PSH | VIGIL_TCP_URG;
    if ((f & xmas) == xmas)
        return *tq = TQ_FLAGS_XMAS, 1;
    if (f == fin)
        return *tq = TQ_FLAGS_FIN_NO_ACK, 1;
    return *tq = TQ_FLAGS_NO_ACK, 1;
}

void flags_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p)
{
    enum technique_id tq;
    if (!classify(p->tcp_flags, &tq))
        return;
    struct evidence e;
    memset(&e, 0, sizeof e);
    e.tq = tq;
    e.src = p->src;
    e.dst = p->dst;
    e.sport = p->sport;
    e.dport = p->dport;
    e.ip_proto = 6;
    report_add(ev, ctx, &e);
}
