/*
 * fuzz_decode.c - the packet decoder on arbitrary frames of every link type.
 * Input: byte 0 picks the link type, byte 1 how much of the frame was
 * "on the wire" beyond the capture, the rest is the captured frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz.h"

static const int dlts[] = { 0, 1, 12, 14, 101, 108, 113, 228, 229, 276 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    uint32_t extra = data[1];
    size -= 2;
    /* An exactly-sized copy, so any over-read hits the sanitizer. */
    uint8_t *frame = malloc(size ? size : 1);
    if (frame == NULL)
        return 0;
    memcpy(frame, data + 2, size);
    vigil_packet pkt;
    enum vigil_decode_event ev;
    enum vigil_decode_result r =
        vigil_decode(dlt, frame, (uint32_t)size, (uint32_t)size + extra, &pkt, &ev);
    if (r == VIGIL_DECODE_OK) {
        /* Every pointer handed to a plugin lies inside the frame. */
        if (pkt.payload_len && (pkt.payload < frame || pkt.payload + pkt.payload_len > frame + size))
            abort();
        if (pkt.l3_len && (pkt.l3_hdr < frame || pkt.l3_hdr + pkt.l3_len > frame + size))
            abort();
    } else if (r != VIGIL_DECODE_OTHER && ev == VIGIL_DEV_NONE) {
        abort();        /* every error names its event */
    }
    free(frame);
    return 0;
}
