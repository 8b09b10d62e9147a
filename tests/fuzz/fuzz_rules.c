/*
 * fuzz_rules.c - the signature rule parser (header, lists, variables,
 * options) and the classification.config line parser on arbitrary text.
 * The parser has no library dependency; its source is included.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "../../plugins/signature/parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static struct sig_var v[] = {
        { (char *)"HOME_NET", (char *)"[10.0.0.0/8,!10.1.0.0/16,2001:db8::/32]" },
        { (char *)"HTTP_PORTS", (char *)"[80,8000:8100]" },
        { (char *)"SELF", (char *)"[$SELF]" },
    };
    struct sig_vars vars = { v, 3, 0 };
    struct sig_rule r;
    struct sig_parse_err e;
    int rc = sig_parse_rule(text, &vars, &r, &e);
    if (rc == SIG_PARSE_OK) {
        uint8_t a[16] = { 10, 1, 2, 3 };
        (void)sig_addr_match(&r.src, 4, a, NULL, NULL);
        (void)sig_addr_match(&r.dst, 6, a, NULL, NULL);
        (void)sig_port_match(&r.sport, 80);
        (void)sig_port_match(&r.dport, 65535);
        sig_rule_free(&r);
    } else if (rc == SIG_PARSE_SKIP) {
        sig_rule_free(&r);
    }
    struct sig_classes cl = { 0 };
    char why[160];
    (void)sig_class_line(&cl, text, why, sizeof why);
    sig_classes_free(&cl);
    free(text);
    return 0;
}
