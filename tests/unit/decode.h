/* decode.h — gunzips and unpacks an encoded profile with protobuf-c, for the
 * unit tests that read back what pprof.c wrote. */
#ifndef CONAN_TEST_DECODE_H
#define CONAN_TEST_DECODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

/* Gunzips (or inflates) and unpacks an encoded profile; NULL if either fails. */
static Perftools__Profiles__Profile *decode(const void *gz, size_t gz_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return NULL;
    size_t cap = 4096, len = 0;
    uint8_t *raw = malloc(cap);
    int rc = Z_OK;
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    while (raw && rc == Z_OK) {
        if (len == cap) {
            uint8_t *grown = realloc(raw, cap * 2);
            if (!grown) break;
            raw = grown;
            cap *= 2;
        }
        z.next_out = raw + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    }
    inflateEnd(&z);
    Perftools__Profiles__Profile *prof = NULL;
    if (raw && rc == Z_STREAM_END) prof = perftools__profiles__profile__unpack(NULL, len, raw);
    free(raw);
    return prof;
}

#endif
