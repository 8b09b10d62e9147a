/*
 * cryptopan.h - Crypto-PAn prefix-preserving address pseudonymisation.
 *
 * Algorithm: J. Xu, J. Fan, M. Ammar, S. Moon, "Prefix-Preserving IP
 * Address Anonymization: Measurement-based Security Evaluation and a New
 * Cryptography-based Scheme", ICNP 2002. Key: 32 bytes; key[0..15] is an
 * AES-128 key K, pad = AES_K(key[16..31]). For bit i of the address (MSB
 * first; IPv4 occupies the top 32 bits of the 128-bit block) the block is
 * the first i address bits followed by pad bits i..127; output bit i =
 * address bit i XOR the top bit of AES_K(block). IPv6 uses the natural
 * 128-bit extension of the same construction.
 *
 * The result is a pseudonym, not anonymity: whoever holds the key can
 * reverse it, and prefix structure is kept on purpose.
 */
#ifndef VIGIL_CRYPTOPAN_H
#define VIGIL_CRYPTOPAN_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_CRYPTOPAN_KEY_LEN 32

struct vigil_cryptopan;

/* A context for a 32-byte key; NULL on failure (OpenSSL or memory). */
struct vigil_cryptopan *vigil_cryptopan_new(const uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN]);
void vigil_cryptopan_free(struct vigil_cryptopan *cp);

/* Pseudonymise an IPv4 address (network order, 4 bytes). 0 or -1. */
int vigil_cryptopan_ipv4(struct vigil_cryptopan *cp, const uint8_t in[4], uint8_t out[4]);
/* Pseudonymise an IPv6 address (network order, 16 bytes). 0 or -1. */
int vigil_cryptopan_ipv6(struct vigil_cryptopan *cp, const uint8_t in[16], uint8_t out[16]);

/*
 * Read a key file: 32 raw bytes, or 64 hex digits (optionally followed by
 * a newline). Refused when the file is not a regular file, when group or
 * other may read or write it (mode must be 0600 or 0400 or stricter), or
 * when the length is wrong. 0, or -1 with the reason in err.
 */
int vigil_cryptopan_load_key(const char *path, uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN],
                             char *err, size_t errlen);

/* Parse exactly 64 hex digits into key. 0 or -1. */
int vigil_cryptopan_parse_hex(const char *hex, size_t len,
                              uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN]);

#endif
