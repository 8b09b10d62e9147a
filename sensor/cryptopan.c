/*
 * cryptopan.c - Crypto-PAn (Xu, Fan, Ammar, Moon, ICNP 2002) with OpenSSL
 * AES-128 in ECB mode on single blocks (padding off). See cryptopan.h.
 */
#include "cryptopan.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"

struct vigil_cryptopan {
    EVP_CIPHER_CTX *ctx;
    uint8_t pad[16];
};

/* One AES-128 block: out = AES_K(in). 0 or -1. */
static int aes_block(EVP_CIPHER_CTX *ctx, const uint8_t in[16], uint8_t out[16])
{
    int outl = 0;

    if (EVP_EncryptUpdate(ctx, out, &outl, in, 16) != 1 || outl != 16)
        return -1;
    return 0;
}

struct vigil_cryptopan *vigil_cryptopan_new(const uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN])
{
    struct vigil_cryptopan *cp = calloc(1, sizeof *cp);

    if (!cp)
        return NULL;
    cp->ctx = EVP_CIPHER_CTX_new();
    if (!cp->ctx || EVP_EncryptInit_ex(cp->ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(cp->ctx, 0) != 1 ||
        aes_block(cp->ctx, key + 16, cp->pad) < 0) {
        vigil_cryptopan_free(cp);
        return NULL;
    }
    return cp;
}

void vigil_cryptopan_free(struct vigil_cryptopan *cp)
{
    if (!cp)
        return;
    EVP_CIPHER_CTX_free(cp->ctx);
    OPENSSL_cleanse(cp->pad, sizeof cp->pad);
    free(cp);
}

/*
 * The first nbits bits of addr (big-endian bit string, nbytes long) are
 * anonymised into out; nbits is 32 or 128.
 */
static int anonymize_bits(struct vigil_cryptopan *cp, const uint8_t *addr, uint8_t *out,
                          unsigned nbits)
{
    uint8_t block[16], enc[16];
    unsigned nbytes = nbits / 8;

    memset(out, 0, nbytes);
    for (unsigned i = 0; i < nbits; i++) {
        /* block = addr bits [0, i) followed by pad bits [i, 128) */
        unsigned full = i / 8, rem = i % 8;
        memcpy(block, addr, full);
        if (rem) {
            uint8_t keep = (uint8_t)(0xffu << (8 - rem));
            block[full] = (uint8_t)((addr[full] & keep) | (cp->pad[full] & (uint8_t)~keep));
            memcpy(block + full + 1, cp->pad + full + 1, 16 - full - 1);
        } else {
            memcpy(block + full, cp->pad + full, 16 - full);
        }
        if (aes_block(cp->ctx, block, enc) < 0)
            return -1;
        unsigned bit = (enc[0] >> 7) & 1u;
        unsigned abit = (addr[i / 8] >> (7 - i % 8)) & 1u;
        out[i / 8] |= (uint8_t)((abit ^ bit) << (7 - i % 8));
    }
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(enc, sizeof enc);
    return 0;
}

int vigil_cryptopan_ipv4(struct vigil_cryptopan *cp, const uint8_t in[4], uint8_t out[4])
{
    if (!cp || !in || !out)
        return -1;
    return anonymize_bits(cp, in, out, 32);
}

int vigil_cryptopan_ipv6(struct vigil_cryptopan *cp, const uint8_t in[16], uint8_t out[16])
{
    if (!cp || !in || !out)
        return -1;
    return anonymize_bits(cp, in, out, 128);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int vigil_cryptopan_parse_hex(const char *hex, size_t len, uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN])
{
    if (!hex || len != 2 * VIGIL_CRYPTOPAN_KEY_LEN)
        return -1;
    for (size_t i = 0; i < VIGIL_CRYPTOPAN_KEY_LEN; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int vigil_cryptopan_load_key(const char *path, uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN],
                             char *err, size_t errlen)
{
    uint8_t buf[160];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd, rc = -1;

    if (!path || !*path) {
        vigil_seterr(err, errlen, "no Crypto-PAn key file given");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        vigil_seterr(err, errlen, "Crypto-PAn key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        vigil_seterr(err, errlen, "Crypto-PAn key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        vigil_seterr(err, errlen, "Crypto-PAn key file %s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        vigil_seterr(err, errlen,
                     "Crypto-PAn key file %s: mode %04o lets group or others use it; "
                     "the key unmasks every pseudonym: chmod 600 it",
                     path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    while (len < sizeof buf) {
        n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vigil_seterr(err, errlen, "Crypto-PAn key file %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len == VIGIL_CRYPTOPAN_KEY_LEN) {
        memcpy(key, buf, VIGIL_CRYPTOPAN_KEY_LEN);
        rc = 0;
        goto out;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    if (len == 2 * VIGIL_CRYPTOPAN_KEY_LEN &&
        vigil_cryptopan_parse_hex((const char *)buf, len, key) == 0) {
        rc = 0;
        goto out;
    }
    vigil_seterr(err, errlen,
                 "Crypto-PAn key file %s: want exactly 32 raw bytes or 64 hex digits "
                 "(e.g. head -c 32 /dev/urandom > FILE), found %zu bytes",
                 path, len);
out:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}
