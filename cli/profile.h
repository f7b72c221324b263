/* profile.h — a pprof file as the conan tool reads it (profile.c): gunzipped
 * within a bound, unpacked with the engine's protobuf-c code, every reference
 * checked, and resolved into samples whose frames are interned names. Any valid
 * profile.proto is read, not only libconan's; a hostile one is refused with one
 * line saying what is wrong. */
#ifndef CONAN_CLI_PROFILE_H
#define CONAN_CLI_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

/* Largest profile the tool inflates: a bound on memory, far above any dump. */
#define PROFILE_MAX_RAW_BYTES ((size_t)1 << 30)

struct profile_label {
    const char *key;
    const char *str;          /* NULL for a numeric label */
    int64_t num;
    const char *unit;         /* of a numeric label; "" when none */
};

struct profile_sample {
    const uint32_t *frame;    /* names[] indexes, leaf first, inlined frames expanded */
    uint32_t nframe;
    const int64_t *value;     /* one per sample type */
    const struct profile_label *label;
    uint32_t nlabel;
};

struct profile {
    Perftools__Profiles__Profile *pb;
    size_t ntype;
    const char **type, **unit;     /* sample types, e.g. "cpu" / "nanoseconds" */
    size_t default_type;           /* default_sample_type, else the last */
    const char *period_type, *period_unit;
    int64_t period, time_nanos, duration_nanos;
    const char **comment;
    size_t ncomment;
    const char **name;             /* interned frame names: function, or [object] / address */
    size_t nname;
    struct profile_sample *sample;
    size_t nsample;
    /* storage */
    uint32_t *frame_pool;
    struct profile_label *label_pool;
    char *name_text;
};

/* Reads path ("-" = stdin): gzip or plain profile.proto. 0, or -1 with
 * err = "<path>: <what is wrong>". */
int profile_read(const char *path, struct profile *p, char *err, size_t errlen);
/* The same from bytes already in memory; label names them in messages. */
int profile_parse(const void *data, size_t len, const char *label, struct profile *p, char *err, size_t errlen);
void profile_free(struct profile *p);

/* Unpacks (gunzipping first when gzip) into a protobuf-c message, without the
 * checks; for commands that rewrite a profile. NULL with err on failure. */
Perftools__Profiles__Profile *profile_unpack(const void *data, size_t len, const char *label, char *err,
                                             size_t errlen);
/* Reads a whole file ("-" = stdin) within max bytes; malloc'd, NULL with err. */
void *profile_slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Ids to positions (location, function and mapping ids to their index in
 * the message): a direct table when the ids are dense (1..n, as producers
 * write them), else sorted pairs searched. For commands that edit a profile. */
struct profile_ids {
    uint64_t *id;
    uint32_t *at;
    size_t n;
    uint32_t *direct;         /* id → index + 1 (0: none); NULL when too sparse */
    uint64_t ndirect;
};
/* Indexes n ids, id_of(arg, i) giving the i-th; -1 when an id is 0 or
 * repeated (*bad = it; UINT64_MAX when out of memory). */
int profile_ids_build(struct profile_ids *ix, size_t n, uint64_t (*id_of)(void *, size_t), void *arg, uint64_t *bad);
/* The index of id, or -1. */
long profile_ids_find(const struct profile_ids *ix, uint64_t id);
void profile_ids_free(struct profile_ids *ix);
/* id_of for a Perftools__Profiles__Profile's locations, functions, mappings. */
uint64_t profile_location_id(void *pb, size_t i);
uint64_t profile_function_id(void *pb, size_t i);
uint64_t profile_mapping_id(void *pb, size_t i);

/* The sample type named by `name` (a type name such as "inuse_space", or an
 * index), or the default when name is NULL; -1 with err naming the choices. */
int profile_type_index(const struct profile *p, const char *name, char *err, size_t errlen);

/* Sample filters shared by top, flame and diff: --tag KEY=VALUE (all must
 * match; a numeric label matches its decimal value) and --focus REGEX (some
 * frame's name matches). */
struct profile_filter {
    int ntag;
    const char *tag_key[16], *tag_value[16];
    bool has_focus;
    void *focus;                   /* regex_t */
};
/* Parses KEY=VALUE into the filter; -1 with err. */
int profile_filter_tag(struct profile_filter *f, const char *arg, char *err, size_t errlen);
int profile_filter_focus(struct profile_filter *f, const char *regex, char *err, size_t errlen);
bool profile_filter_keeps(const struct profile *p, const struct profile_filter *f, const struct profile_sample *s);
void profile_filter_free(struct profile_filter *f);

#endif
