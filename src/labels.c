/* labels.c — the labels programs set on their threads: the pair table that
 * names every (key, value) ever set by a small id, each thread's labels as
 * ids, the table through which the monitor reads another thread's, and the
 * public calls of include/conan.h that change them.
 *
 * The pair table is fixed (PAIRS_MAX pairs, in .bss: untouched pages cost
 * nothing), append-only and lock-free: a pair is looked up by a 64-bit hash
 * of its key and value in an open-addressed index; a miss claims an empty
 * index word with a compare-and-swap, fills the next pair and publishes its id
 * with a release store. Two threads adding the same pair at once may both add
 * it: two ids with the same strings, which resolve alike, so no lock is
 * needed anywhere (conan_label_set may even run in a signal handler). A full
 * table refuses new pairs (-1): labels are for routes and bucketed tenants,
 * not for request ids, and the bound keeps a mistake from growing memory.
 *
 * Costs (conan_label_set + conan_label_clear ≤ 20 ns, figure 14). Programs
 * mostly pass the same strings again (a route table's literals), so each
 * thread remembers the ids of the last pairs it set by the addresses of their
 * key and value (a small direct-mapped cache); a hit is checked against the
 * pair's kept strings byte by byte, so a buffer whose contents changed is a
 * miss, never a wrong label. A miss hashes key and value eight bytes at a time
 * and looks the pair up. Finding a key's place among the thread's 8 compares
 * the kept keys directly (most differ at their first byte). No lock, no shared
 * write once a pair exists, no call into the C library on a hit.
 *
 * The monitor's view. A sampler on the thread itself (a SIGPROF handler, a
 * heap or mutex sample) copies the thread's TLS. The monitor, sampling a
 * blocked thread, cannot reach another thread's TLS safely (it may already be
 * unmapped), so every thread the registry knows also gets a place in a table
 * that is never unmapped, keyed by tid, and conan_label_set writes the id
 * there as well. A thread made otherwise (raw clone) is only seen by
 * samplers on the thread itself. */
#include "labels.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "conan.h"

#define CONAN_PUBLIC __attribute__((visibility("default")))

/* ---- the pair table ---- */

#define PAIRS_MAX 4096            /* distinct (key, value) pairs a process may set */
#define INDEX_SIZE 8192           /* twice PAIRS_MAX: probes stay short */
#define INDEX_CLAIMED UINT32_MAX  /* an index word being filled */

struct pair {
    uint64_t hash;               /* of key and value, as looked up */
    char key[CONAN_LABEL_KEY_MAX];
    char value[CONAN_LABEL_VALUE_MAX];
};

static struct pair pairs[PAIRS_MAX]; /* [0] unused: id 0 is "no label" */
#define RECENT_SETS 16            /* a thread's remembered (key, value) addresses: 16 sets of 2 */
struct recent { const char *key, *value; uint32_t id; };
static __thread struct recent recent[RECENT_SETS][2] __attribute__((tls_model("initial-exec")));
static uint32_t npairs = 1;          /* atomic: the next id to hand out */
static uint32_t index_word[INDEX_SIZE]; /* atomic: 0 empty, an id, or INDEX_CLAIMED */
static int active;                   /* atomic: set once the shim is active */

__thread struct conan_labels_thread conan_labels_tls __attribute__((tls_model("initial-exec")));

/* A 64-bit hash of n bytes, eight at a time (a multiply-xorshift mix per
 * word; any good mixing works, only speed and spread matter here). */
static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
    const uint64_t mul = 0x9e3779b97f4a7c15ULL;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * mul;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, s, n);
    h = (h ^ tail ^ ((uint64_t)n << 56)) * mul;
    return h ^ (h >> 32);
}

struct text { const char *s; size_t n; };

/* Key and value as kept: cut to their bounds. */
static struct text key_text(const char *key) { return (struct text){ key, strnlen(key, CONAN_LABEL_KEY_MAX - 1) }; }
static struct text value_text(const char *v) { return (struct text){ v, strnlen(v, CONAN_LABEL_VALUE_MAX - 1) }; }

static bool same(const char *kept, struct text t)
{
    return memcmp(kept, t.s, t.n) == 0 && kept[t.n] == '\0';
}

/* Is s, cut to max - 1 bytes, the kept string? Inline, byte by byte: the
 * strings are short and most comparisons fail at the first byte. */
static inline bool kept_is(const char *kept, const char *s, size_t max)
{
    for (size_t i = 0; i < max - 1; i++) {
        if (kept[i] != s[i]) return false;
        if (s[i] == '\0') return true;
    }
    return kept[max - 1] == '\0';
}

/* A new pair, filled before its id is published. 0 when the table is full. */
static uint32_t add_pair(uint64_t hash, struct text key, struct text value)
{
    uint32_t id = __atomic_fetch_add(&npairs, 1, __ATOMIC_RELAXED);
    if (id >= PAIRS_MAX) {
        __atomic_store_n(&npairs, PAIRS_MAX, __ATOMIC_RELAXED); /* stays bounded however often it is asked */
        return 0;
    }
    struct pair *p = &pairs[id];
    p->hash = hash;
    memcpy(p->key, key.s, key.n);
    p->key[key.n] = '\0';
    memcpy(p->value, value.s, value.n);
    p->value[value.n] = '\0';
    return id;
}

/* The id of (key, value), added if new; 0 when the table is full. */
static uint32_t pair_id(struct text key, struct text value)
{
    uint64_t hash = hash_bytes(value.s, value.n, hash_bytes(key.s, key.n, 0x6c6162656c));
    for (uint32_t probe = 0; probe < INDEX_SIZE; probe++) {
        uint32_t *slot = &index_word[(hash + probe) & (INDEX_SIZE - 1)];
        uint32_t id = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (id == 0) { /* the end of the chain: the pair is new */
            if (__atomic_load_n(&npairs, __ATOMIC_RELAXED) >= PAIRS_MAX) return 0; /* full: leave the word empty */
            if (!__atomic_compare_exchange_n(slot, &id, INDEX_CLAIMED, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                probe--; /* someone claimed it first: look at what they put there */
                continue;
            }
            id = add_pair(hash, key, value);
            __atomic_store_n(slot, id, __ATOMIC_RELEASE); /* 0 (full after all): the word is empty again */
            return id;
        }
        if (id == INDEX_CLAIMED) continue; /* being filled: at worst we add the pair twice */
        const struct pair *p = &pairs[id];
        if (p->hash == hash && same(p->key, key) && same(p->value, value)) return id;
    }
    return 0;
}

long conan_labels_index_used(void)
{
    long used = 0;
    for (unsigned i = 0; i < INDEX_SIZE; i++) used += __atomic_load_n(&index_word[i], __ATOMIC_RELAXED) != 0;
    return used;
}

/* ---- the threads' places the monitor reads ---- */

#define SHOWN_MAX 8192           /* threads whose labels the monitor can see at once */
#define SHOWN_GONE 1             /* a place whose thread ended (probes go on past it) */
#define SHOWN_FILLING 2          /* a place being taken (gen 0: never a thread's) */

/* A place's owner: the process generation (fork.c's child starts a new one)
 * and the thread's tid in one word, so a place left by a thread of the parent
 * is free in the child without touching it: a fork does not walk the table. */
struct shown {
    uint64_t owner;              /* atomic: 0 never used, SHOWN_GONE, SHOWN_FILLING, or generation << 32 | tid */
    uint32_t pair[CONAN_LABELS_MAX];
};

static struct shown *shown;      /* mapped once at start, never unmapped */
static uint32_t generation = 1;  /* this process's; 0 is never one */

static uint64_t owner_of(pid_t tid) { return (uint64_t)generation << 32 | (uint32_t)tid; }

static bool claimable(uint64_t owner)
{
    return owner == 0 || owner == SHOWN_GONE || (owner != SHOWN_FILLING && owner >> 32 != generation);
}

static struct shown *shown_place(pid_t tid)
{
    if (!shown) return NULL;
    uint64_t want = owner_of(tid);
    for (unsigned probe = 0; probe < SHOWN_MAX; probe++) {
        struct shown *s = &shown[((unsigned)tid + probe) % SHOWN_MAX];
        uint64_t at = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
        if (at == want) return s;
        if (at == 0) return NULL;
    }
    return NULL;
}

void conan_labels_thread_started(void)
{
    pid_t tid = gettid();
    if (!shown) return;
    for (unsigned probe = 0; probe < SHOWN_MAX; probe++) {
        struct shown *s = &shown[((unsigned)tid + probe) % SHOWN_MAX];
        uint64_t at = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
        if (claimable(at) &&
            __atomic_compare_exchange_n(&s->owner, &at, SHOWN_FILLING, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            for (int i = 0; i < CONAN_LABELS_MAX; i++) /* a parent's ids may be here: never shown as ours */
                __atomic_store_n(&s->pair[i], conan_labels_tls.set.pair[i], __ATOMIC_RELAXED);
            __atomic_store_n(&s->owner, owner_of(tid), __ATOMIC_RELEASE);
            conan_labels_tls.shown = s->pair;
            return;
        }
    }
}

void conan_labels_thread_ended(void)
{
    uint32_t *pair = conan_labels_tls.shown;
    if (!pair) return;
    conan_labels_tls.shown = NULL;
    struct shown *s = (struct shown *)((char *)pair - offsetof(struct shown, pair));
    memset(s->pair, 0, sizeof s->pair);
    __atomic_store_n(&s->owner, SHOWN_GONE, __ATOMIC_RELEASE);
}

void conan_labels_start(void)
{
    void *mem = mmap(NULL, SHOWN_MAX * sizeof(struct shown), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem != MAP_FAILED) shown = mem;
    conan_labels_thread_started();
    __atomic_store_n(&active, 1, __ATOMIC_RELEASE);
}

void conan_labels_postfork_child(void)
{
    generation++; /* every place of the parent's threads is free now */
    conan_labels_tls.shown = NULL;
    conan_labels_thread_started(); /* the caller's own, under its new tid */
}

bool conan_labels_of_thread(pid_t tid, struct conan_label_set *out)
{
    memset(out, 0, sizeof *out);
    struct shown *s = tid > 0 ? shown_place(tid) : NULL;
    if (!s) return false;
    for (int i = 0; i < CONAN_LABELS_MAX; i++)
        out->pair[i] = __atomic_load_n(&s->pair[i], __ATOMIC_ACQUIRE); /* the pair's strings were filled before */
    return __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE) == owner_of(tid); /* still that thread's after the copy */
}

int conan_labels_resolve(const struct conan_label_set *set, struct conan_label *out, int room)
{
    int n = 0;
    uint32_t published = __atomic_load_n(&npairs, __ATOMIC_ACQUIRE);
    for (int i = 0; i < CONAN_LABELS_MAX && n < room; i++) {
        uint32_t id = set->pair[i];
        if (id == 0 || id >= published || id >= PAIRS_MAX) continue;
        out[n++] = (struct conan_label){ .key = pairs[id].key, .str = pairs[id].value };
    }
    return n;
}

/* ---- the public calls (include/conan.h) ---- */

/* Stores id at place i of the calling thread, and where the monitor sees it. */
static void put(int i, uint32_t id)
{
    __atomic_store_n(&conan_labels_tls.set.pair[i], id, __ATOMIC_RELEASE);
    uint32_t *shown_pair = conan_labels_tls.shown;
    if (shown_pair) __atomic_store_n(&shown_pair[i], id, __ATOMIC_RELEASE);
}

/* The place holding key, or -1. key is the caller's string; kept_key, if
 * not NULL, is the same key as kept in a pair (zero-padded to its bound), so
 * places compare whole words instead of bytes. */
static int place_of(const char *key, const char *kept_key)
{
    for (int i = 0; i < CONAN_LABELS_MAX; i++) {
        uint32_t id = conan_labels_tls.set.pair[i];
        if (!id) continue;
        if (kept_key ? memcmp(pairs[id].key, kept_key, CONAN_LABEL_KEY_MAX) == 0 /* inlined: a constant size */
                     : kept_is(pairs[id].key, key, CONAN_LABEL_KEY_MAX))
            return i;
    }
    return -1;
}

static int free_place(void)
{
    for (int i = 0; i < CONAN_LABELS_MAX; i++)
        if (!conan_labels_tls.set.pair[i]) return i;
    return -1;
}

/* Sets key to the pair id (0: clears it); *previous gets the id it had. */
static int set_id(const char *key, uint32_t id, uint32_t *previous)
{
    int i = place_of(key, id ? pairs[id].key : NULL);
    if (previous) *previous = i >= 0 ? conan_labels_tls.set.pair[i] : 0;
    if (i < 0 && id == 0) return 0;
    if (i < 0) i = free_place();
    if (i < 0) return -1; /* CONAN_LABELS_MAX keys already set */
    put(i, id);
    return 0;
}

static bool usable(const char *key)
{
    return __atomic_load_n(&active, __ATOMIC_RELAXED) && key && key[0];
}

static inline bool recent_is(const struct recent *r, const char *key, const char *value)
{
    return r->id && r->key == key && r->value == value && kept_is(pairs[r->id].key, key, CONAN_LABEL_KEY_MAX) &&
           kept_is(pairs[r->id].value, value, CONAN_LABEL_VALUE_MAX);
}

/* The id of (key, value): remembered by this thread (a 2-way set: the newest
 * first), or looked up. */
static uint32_t id_of(const char *key, const char *value)
{
    uint64_t h = ((uintptr_t)value ^ ((uintptr_t)key << 7)) * 0x9e3779b97f4a7c15ULL;
    struct recent *set = recent[h >> 60];
    if (recent_is(&set[0], key, value)) return set[0].id;
    if (recent_is(&set[1], key, value)) return set[1].id;
    uint32_t id = pair_id(key_text(key), value_text(value));
    if (id) {
        set[1] = set[0];
        set[0] = (struct recent){ key, value, id };
    }
    return id;
}

static int set_label(const char *key, const char *value, uint32_t *pushed, uint32_t *previous)
{
    if (!usable(key)) return -1;
    uint32_t id = 0;
    if (value) {
        id = id_of(key, value);
        if (!id) return -1; /* table full */
    }
    if (pushed) *pushed = id;
    return set_id(key, id, previous);
}

CONAN_PUBLIC int conan_label_set(const char *key, const char *value)
{
    return set_label(key, value, NULL, NULL);
}

CONAN_PUBLIC int conan_label_clear(const char *key)
{
    return set_label(key, NULL, NULL, NULL);
}

CONAN_PUBLIC int conan_label_push(struct conan_label_scope *scope, const char *key, const char *value)
{
    scope->pushed = scope->previous = 0;
    uint32_t pushed = 0, previous = 0;
    int rc = set_label(key, value, &pushed, &previous);
    if (rc == 0) {
        scope->pushed = pushed;     /* 0 when value was NULL: the key was cleared */
        scope->previous = previous;
    }
    return rc;
}

CONAN_PUBLIC void conan_label_pop(struct conan_label_scope *scope)
{
    uint32_t named = scope->pushed ? scope->pushed : scope->previous; /* a pair with the scope's key */
    if (!named || named >= PAIRS_MAX) return;
    int i = place_of(NULL, pairs[named].key);
    if (i < 0 && scope->previous) i = free_place(); /* the key was cleared inside the scope */
    if (i >= 0) put(i, scope->previous);
    scope->pushed = scope->previous = 0;
}
