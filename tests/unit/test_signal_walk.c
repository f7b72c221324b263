/* test_signal_walk.c — the signal-context walk (conan_unwind_context: the
 * cached call-frame rules of frame_rules.c, libunwind as the fallback) on the
 * stacks that can break it, one case per run, named by the argument:
 *   equality       a 25-frame recursion, then calls and returns churning
 *                  (samples in prologues and epilogues): every sample's walk
 *                  is libunwind's frame for frame, and the cached rules
 *                  served at least 90% of the samples after warm-up
 *   dlclose        a thread calls through a library that it and another
 *                  thread keep loading and unloading (two builds of it, laid
 *                  out differently, taking turns at one address), while the
 *                  unwind tables are refreshed: no fault, every frame in text
 *                  that was mapped, every stack a truncation of the real one
 *   prot_none      a makecontext coroutine whose stack's upper pages are
 *                  PROT_NONE, and a saved rbp pointing into a PROT_NONE page
 *                  of the thread's own stack: no fault, the walk shortened
 *   corrupt_chain  saved rbp and return address slots overwritten with
 *                  garbage (a loop to itself, 0, a non-code address, a code
 *                  address): no fault, no frame twice, bounded depth
 *   sigaltstack    the program's own handler, on an alternate stack and on
 *                  the thread's stack, interrupted: libunwind's frames (the
 *                  cached rules refuse both) through the signal frame
 * Samples come from a timer aimed at the one thread being walked; each takes
 * the three walks (the two alone and as conan_unwind_context chooses) into a
 * preallocated table that is checked after sampling stops. Waiting is for a
 * number of samples (a 30-s guard only fails the test). */
#include "check.h"
#include "internal.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAXF CONAN_MAX_FRAMES
#define MAX_SAMPLES 1500
#define SAMPLE_US 500          /* the sampling timer's period */
#define GUARD_S 30             /* a case that has not got its samples by then fails */

/* ---- samples ---- */

struct sample {
    int phase;                 /* what the sampled thread was doing */
    int both, fast, slow;      /* conan_unwind_context, the cached rules alone (-1: refused), libunwind alone */
    uintptr_t lib_lo, lib_hi;  /* dlclose: the library's text while the thread is inside it */
    uintptr_t pcs[MAXF], fast_pcs[MAXF], slow_pcs[MAXF];
};

static struct sample samples[MAX_SAMPLES];
static volatile int nsamples;
static volatile int phase;     /* 0: not sampling */
static volatile uintptr_t lib_lo, lib_hi;
static uintptr_t loader_lo, loader_hi;
static volatile unsigned sink; /* unsigned: it only grows */

static void on_sigprof(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)info;
    int n = nsamples;
    uintptr_t pc = conan_interrupted_pc(uc);
    if (n >= MAX_SAMPLES || phase == 0 || (pc >= loader_lo && pc < loader_hi)) return; /* as cpu_samples.c */
    struct sample *s = &samples[n];
    s->phase = phase;
    s->lib_lo = lib_lo;
    s->lib_hi = lib_hi;
    s->both = conan_unwind_context(uc, s->pcs, MAXF);
    s->fast = conan_unwind_context_fast(uc, s->fast_pcs, MAXF);
    s->slow = conan_unwind_context_libunwind(uc, s->slow_pcs, MAXF);
    nsamples = n + 1;
}

static timer_t timer;

/* A timer whose SIGPROF goes to the calling thread only. */
static void start_sampling(void)
{
    struct sigaction sa = { .sa_sigaction = on_sigprof, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGPROF };
    ev._sigev_un._tid = gettid();
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0);
    struct itimerspec every = { { 0, SAMPLE_US * 1000 }, { 0, SAMPLE_US * 1000 } };
    CHECK(timer_settime(timer, 0, &every, NULL) == 0);
}

static void stop_sampling(void)
{
    phase = 0;
    timer_delete(timer);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double deadline;

static bool out_of_time(void)
{
    return now_s() > deadline;
}

/* Burns CPU here (the leaf) until the table holds want samples. */
static __attribute__((noinline)) void spin_until(int want)
{
    for (unsigned i = 1; nsamples < want && (i % 4096 || !out_of_time()); i++) sink = sink + 1;
}

/* ---- text: where a frame may be ---- */

struct text {
    uintptr_t lo, hi;
    char kind;                 /* 'E' the test, 'C' the C library, 'O' another object */
};
static struct text texts[64];
static int ntexts;

static int add_texts(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    const char *name = info->dlpi_name;
    char kind = !name[0] ? 'E' : strstr(name, "/libc.so") ? 'C' : 'O';
    if (strstr(name, "ld-linux")) kind = 'L' + 1; /* 'M': the dynamic loader */
    for (int i = 0; i < info->dlpi_phnum && ntexts < 64; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        texts[ntexts++] = (struct text){ lo, lo + ph->p_memsz, kind };
        if (kind == 'M') loader_lo = lo, loader_hi = lo + ph->p_memsz;
    }
    return 0;
}

/* 'E', 'C', 'O', 'M' (ld.so), 'L' (the sample's library) or 'X' (no text). */
static char kind_of(const struct sample *s, uintptr_t pc)
{
    if (pc >= s->lib_lo && pc < s->lib_hi) return 'L';
    for (int i = 0; i < ntexts; i++)
        if (pc >= texts[i].lo && pc < texts[i].hi) return texts[i].kind;
    return 'X';
}

static bool same_walk(int n1, const uintptr_t *a, int n2, const uintptr_t *b)
{
    return n1 == n2 && (n1 <= 0 || memcmp(a, b, (size_t)n1 * sizeof *a) == 0);
}

static void print_walk(const char *what, const struct sample *s, int n, const uintptr_t *pcs)
{
    fprintf(stderr, "  %s (%d):", what, n);
    for (int i = 0; i < n; i++) fprintf(stderr, " %c%#lx", kind_of(s, pcs[i]), (unsigned long)pcs[i]);
    fprintf(stderr, "\n");
}

static void print_sample(const char *why, int i)
{
    const struct sample *s = &samples[i];
    fprintf(stderr, "sample %d (phase %d): %s\n", i, s->phase, why);
    print_walk("conan_unwind_context", s, s->both, s->pcs);
    print_walk("cached rules", s, s->fast, s->fast_pcs);
    print_walk("libunwind", s, s->slow, s->slow_pcs);
}

/* Every sample: conan_unwind_context gave libunwind's walk, or the cached
 * rules' walk, which then is libunwind's too. Returns the samples the cached
 * rules served, from the first-th on. */
static int check_walks_agree(int first)
{
    int served = 0, bad = 0;
    for (int i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        bool ok = same_walk(s->both, s->pcs, s->slow, s->slow_pcs) &&
                  (s->fast < 0 || same_walk(s->fast, s->fast_pcs, s->slow, s->slow_pcs));
        if (!ok && bad++ < 5) print_sample("the walks differ", i);
        served += i >= first && s->fast > 0;
    }
    CHECK_INT(bad, 0);
    return served;
}

/* ---- equality ---- */

static __attribute__((noinline)) int recurse(int levels, int want)
{
    if (levels == 0) {
        spin_until(want);
        return 0;
    }
    return recurse(levels - 1, want) + sink; /* not a tail call */
}

static __attribute__((noinline)) int churn(int levels)
{
    if (levels == 0) return sink;
    return churn(levels - 1) + sink;
}

static void case_equality(void)
{
    enum { WARM_UP = 20, RECURSION = 250, ALL = 500 };
    start_sampling();
    phase = 1;
    recurse(25, RECURSION);
    phase = 2;
    while (nsamples < ALL && !out_of_time()) churn(25);
    stop_sampling();
    CHECK(nsamples >= ALL);
    int served = check_walks_agree(WARM_UP);
    int deep = 0, churned = 0;
    for (int i = 0; i < nsamples; i++) {
        deep += samples[i].phase == 1 && samples[i].slow >= 27;
        churned += samples[i].phase == 2;
    }
    printf("equality: %d samples (%d churning), %d served by the cached rules after %d, %d of the recursion >= 27 "
           "frames\n", nsamples, churned, served, WARM_UP, deep);
    CHECK(deep >= RECURSION * 9 / 10);
    CHECK(served >= (nsamples - WARM_UP) * 9 / 10);
}

/* ---- dlclose ---- */

static const char *libdir;
static volatile int done;

static void *open_lib(char which)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/libwalk_lib_%c.so", libdir, which);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

/* What preload/preload.c's dlclose does around the real call. */
static void close_lib(void *h)
{
    conan_frame_rules_forget();
    dlclose(h);
    conan_frame_rules_forget();
}

static int find_text_of(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t *range = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && range[0] >= lo && range[0] < lo + ph->p_memsz) {
            range[0] = lo;
            range[1] = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static __attribute__((noinline)) int in_callback(int levels)
{
    if (levels == 0) {
        spin_until(nsamples + 10);
        return 0;
    }
    return in_callback(levels - 1) + sink;
}

typedef int (*lib_call_fn)(int (*)(int), int);

static void *unload_beside(void *arg)
{
    (void)arg;
    struct timespec pause = { 0, 2000000 };
    for (int i = 0; !done; i++) {
        void *h = open_lib(i % 2 ? 'b' : 'a');
        if (h) close_lib(h);
        nanosleep(&pause, NULL); /* the tables catch up between unloads, and the cached rules serve */
    }
    return NULL;
}

static void *refresh_tables(void *arg)
{
    (void)arg;
    struct timespec ms = { 0, 1000000 };
    while (!done) {
        conan_unwind_refresh_tables();
        conan_unwind_release_retired();
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/* One round: the library opened, called through (phase 1), closed (phase 2). */
static bool call_through(char which)
{
    phase = 3; /* walked, not judged: its constructors run before we know where it is */
    void *h = open_lib(which);
    lib_call_fn call = h ? (lib_call_fn)dlsym(h, "walk_lib_call") : NULL;
    if (!call) {
        fprintf(stderr, "libwalk_lib_%c: %s\n", which, dlerror());
        return false;
    }
    uintptr_t range[2] = { (uintptr_t)call, 0 };
    dl_iterate_phdr(find_text_of, range);
    lib_lo = range[0];
    lib_hi = range[1];
    phase = 1;
    call(in_callback, 3);
    phase = 2;
    close_lib(h); /* runs the library's own finalizers */
    lib_lo = lib_hi = 0;
    return true;
}

/* The real stack, in runs of frames of one kind: the callback (E), the
 * library (L, one frame), the test down to main (E), the C library's start
 * (C), _start (E); above them, when the sample lands in reading the clock,
 * the C library's clock_gettime and the vDSO. A sample may land in the
 * library or the test before or after the call (the first runs missing); a
 * walk may stop anywhere. */
#define WHOLE_STACK "ELECE"

static void runs_of(const char *kinds, char *runs)
{
    int n = 0;
    for (int i = 0; kinds[i]; i++)
        if (i == 0 || kinds[i] != kinds[i - 1]) runs[n++] = kinds[i];
    runs[n] = 0;
}

static bool is_truncation(const char *kinds)
{
    char runs[MAXF + 1];
    kinds += strspn(kinds, "OC");
    runs_of(kinds, runs);
    const char *lib = strchr(kinds, 'L');
    if (lib && lib[1] == 'L') return false;
    for (const char *from = WHOLE_STACK; *from; from++)
        if (strncmp(runs, from, strlen(runs)) == 0) return true;
    return !runs[0];
}

static void case_dlclose(void)
{
    enum { WANT = 600 };
    pthread_t beside, refresher;
    pthread_create(&beside, NULL, unload_beside, NULL);
    pthread_create(&refresher, NULL, refresh_tables, NULL);
    start_sampling();
    int rounds = 0;
    while (nsamples < WANT && !out_of_time() && call_through(rounds % 2 ? 'b' : 'a')) rounds++;
    stop_sampling();
    done = 1;
    pthread_join(beside, NULL);
    pthread_join(refresher, NULL);
    CHECK(nsamples >= WANT);

    int garbage = 0, not_truncation = 0, whole = 0, inside = 0, served = 0;
    for (int i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        char k[MAXF + 1];
        for (int j = 0; j < s->both; j++) k[j] = kind_of(s, s->pcs[j]);
        k[s->both > 0 ? s->both : 0] = 0;
        served += s->fast > 0;
        if (s->phase == 3) continue;
        if (strchr(k, 'X')) {
            if (garbage++ < 5) print_sample("a frame outside any text", i);
            continue;
        }
        if (s->phase != 1) continue;
        inside++;
        if (!is_truncation(k)) {
            if (not_truncation++ < 5) print_sample("not a truncation of E+ L E+ C+", i);
            continue;
        }
        char runs[MAXF + 1];
        runs_of(k + strspn(k, "OC"), runs);
        whole += strcmp(runs, WHOLE_STACK) == 0; /* the sample in the callback, walked to _start */
    }
    printf("dlclose: %d rounds, %d samples (%d inside the library's call), %d whole stacks, %d served by the cached "
           "rules\n", rounds, nsamples, inside, whole, served);
    CHECK_INT(garbage, 0);
    CHECK_INT(not_truncation, 0);
    CHECK(inside >= WANT / 2);
    CHECK(whole >= inside / 2); /* walks are shortened only around an unload, not always */
}

/* ---- prot_none ---- */

#define PAGE 4096
#define CORO_PAGES 16
#define CORO_GUARDED 2         /* the coroutine stack's top pages made PROT_NONE */
static ucontext_t main_uc, coro_uc;
static char *coro_stack;

/* Each level holds about 1 KiB, so the first levels sit in the top pages. */
static __attribute__((noinline)) int coro_deep(int levels, int want)
{
    volatile char frame[1000];
    frame[0] = (char)levels;
    if (levels == 0) {
        CHECK(mprotect(coro_stack + (CORO_PAGES - CORO_GUARDED) * PAGE, CORO_GUARDED * PAGE, PROT_NONE) == 0);
        phase = 1;
        spin_until(want);
        phase = 3;
        CHECK(mprotect(coro_stack + (CORO_PAGES - CORO_GUARDED) * PAGE, CORO_GUARDED * PAGE,
                       PROT_READ | PROT_WRITE) == 0);
        return frame[0];
    }
    return coro_deep(levels - 1, want) + frame[0] + sink;
}

static void coro_main(void)
{
    coro_deep(40, 150);
}

/* With a frame pointer: its CFA is rbp-based once set up. big's middle page
 * is PROT_NONE while pointed_into samples; its callee points the saved rbp
 * there. */
static __attribute__((noinline)) void points_into(char *page, int want);

static __attribute__((noinline)) int with_guard_page(int want)
{
    char *big = alloca(3 * PAGE + (size_t)(sink & 1)); /* a variable size: an rbp-based frame */
    char *page = (char *)(((uintptr_t)big + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
    points_into(page, want);
    return big[0] = 0, sink;
}

static __attribute__((noinline)) void points_into(char *page, int want)
{
    volatile uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t saved = fp[0];
    CHECK(mprotect(page, PAGE, PROT_NONE) == 0);
    fp[0] = (uintptr_t)page + 64;
    phase = 2;
    spin_until(want);
    phase = 3;
    fp[0] = saved;
    CHECK(mprotect(page, PAGE, PROT_READ | PROT_WRITE) == 0);
}

/* The walk went past the test's own frames into the C library's start (or
 * makecontext's __start_context) above them. */
static bool reaches_start(const struct sample *s)
{
    bool in_test = false;
    for (int j = 0; j < s->both; j++) {
        char k = kind_of(s, s->pcs[j]);
        if (k == 'C' && in_test) return true;
        in_test |= k == 'E';
    }
    return false;
}

static void case_prot_none(void)
{
    coro_stack = mmap(NULL, CORO_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(coro_stack != MAP_FAILED);
    getcontext(&coro_uc);
    coro_uc.uc_stack.ss_sp = coro_stack;
    coro_uc.uc_stack.ss_size = CORO_PAGES * PAGE;
    coro_uc.uc_link = &main_uc;
    makecontext(&coro_uc, coro_main, 0);
    start_sampling();
    swapcontext(&main_uc, &coro_uc);
    with_guard_page(300);
    stop_sampling();
    CHECK(nsamples >= 300);
    check_walks_agree(0);

    int coro = 0, guarded = 0, bad = 0;
    for (int i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        if (s->phase == 1) {
            coro++;
            /* 41 levels of ~1 KiB under 16 pages, the top 2 unreadable: the walk
             * ends below them, after at least the levels in the 6 pages under */
            bool ok = s->fast == -1 && s->both >= 20 && s->both < 41 && !reaches_start(s);
            if (!ok && bad++ < 5) print_sample("coroutine walk not shortened to its readable pages", i);
        } else if (s->phase == 2) {
            guarded++;
            /* spin_until, points_into, with_guard_page: the next step reads the PROT_NONE page */
            bool ok = s->fast == -1 && s->both >= 2 && !reaches_start(s);
            if (!ok && bad++ < 5) print_sample("walk not shortened at the PROT_NONE page", i);
        }
    }
    printf("prot_none: %d samples on the coroutine, %d with rbp in a PROT_NONE page\n", coro, guarded);
    CHECK(coro >= 100);
    CHECK(guarded >= 100);
    CHECK_INT(bad, 0);
}

/* ---- corrupt_chain ---- */

/* Overwrites its own saved rbp and return address while sampled, then puts
 * them back. */
static __attribute__((noinline)) void corrupted(uintptr_t rbp, uintptr_t ra, int want)
{
    volatile uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t saved_bp = fp[0], saved_ra = fp[1];
    fp[0] = rbp ? rbp : (uintptr_t)fp; /* 0: a loop onto itself */
    fp[1] = ra;
    spin_until(want);
    fp[0] = saved_bp;
    fp[1] = saved_ra;
}

static __attribute__((noinline)) void level_b(uintptr_t rbp, uintptr_t ra, int want)
{
    corrupted(rbp, ra, want);
    sink++;
}

static __attribute__((noinline)) void level_a(uintptr_t rbp, uintptr_t ra, int want)
{
    level_b(rbp, ra, want);
    sink++;
}

static void case_corrupt_chain(void)
{
    static int data_word;
    const uintptr_t garbage[][2] = {
        { 0, 0x4141414141414141 },                 /* rbp: itself; ra: not an address */
        { 0, (uintptr_t)spin_until + 4 },          /* rbp: itself; ra: inside code */
        { 1, 0 },                                  /* rbp: 1; ra: 0 */
        { (uintptr_t)&data_word, (uintptr_t)&data_word }, /* both into data */
    };
    enum { EACH = 60 };
    start_sampling();
    for (int g = 0; g < 4; g++) {
        phase = g + 1;
        level_a(garbage[g][0], garbage[g][1], (g + 1) * EACH);
    }
    stop_sampling();
    CHECK(nsamples >= 4 * EACH);
    check_walks_agree(0);
    int bad = 0;
    for (int i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        bool ok = s->both >= 1 && s->both <= MAXF;
        for (int j = 0; ok && j < s->both; j++)
            for (int k = 0; ok && k < j; k++) ok = s->pcs[j] != s->pcs[k];
        if (!ok && bad++ < 5) print_sample("a frame twice, or no frame", i);
    }
    printf("corrupt_chain: %d samples over 4 corruptions\n", nsamples);
    CHECK_INT(bad, 0);
}

/* ---- sigaltstack ---- */

static volatile int handler_want;

static void on_usr1(int sig)
{
    (void)sig;
    spin_until(handler_want);
    sink++; /* not a tail call */
}

static __attribute__((noinline)) int raise_from(int levels)
{
    if (levels == 0) {
        raise(SIGUSR1);
        return 0;
    }
    return raise_from(levels - 1) + sink;
}

static void case_sigaltstack(void)
{
    enum { EACH = 150 };
    stack_t alt = { .ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024 };
    CHECK(sigaltstack(&alt, NULL) == 0);
    start_sampling();
    for (int on_alt = 1; on_alt >= 0; on_alt--) {
        struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = on_alt ? SA_ONSTACK : 0 };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        handler_want = (2 - on_alt) * EACH;
        phase = 2 - on_alt;
        raise_from(10);
    }
    stop_sampling();
    CHECK(nsamples >= 2 * EACH);
    check_walks_agree(0);
    int bad = 0, through = 0;
    for (int i = 0; i < nsamples; i++) {
        const struct sample *s = &samples[i];
        /* the handler's frames, the signal frame and raise (C), raise_from's
         * levels down to main (E), the C library's start (C) */
        char kinds[MAXF + 1], runs[MAXF + 1];
        for (int j = 0; j < s->both; j++) kinds[j] = kind_of(s, s->pcs[j]);
        kinds[s->both > 0 ? s->both : 0] = 0;
        runs_of(kinds, runs);
        through += strncmp(runs, "ECEC", 4) == 0;
        if (s->phase == 1 && s->fast != -1 && bad++ < 5) print_sample("the cached rules walked an alternate stack", i);
    }
    printf("sigaltstack: %d samples in the handler, %d walked through the signal frame\n", nsamples, through);
    CHECK_INT(bad, 0);
    CHECK(through >= nsamples * 9 / 10);
    free(alt.ss_sp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_signal_walk equality|dlclose|prot_none|corrupt_chain|sigaltstack [LIBDIR]\n");
        return 2;
    }
    conan_unwind_prepare();
    conan_frame_rules_thread_start(); /* what libconan's constructor does for the main thread */
    dl_iterate_phdr(add_texts, NULL);
    deadline = now_s() + GUARD_S;
    if (strcmp(argv[1], "equality") == 0) {
        case_equality();
    } else if (strcmp(argv[1], "dlclose") == 0 && argc > 2) {
        libdir = argv[2];
        case_dlclose();
    } else if (strcmp(argv[1], "prot_none") == 0) {
        case_prot_none();
    } else if (strcmp(argv[1], "corrupt_chain") == 0) {
        case_corrupt_chain();
    } else if (strcmp(argv[1], "sigaltstack") == 0) {
        case_sigaltstack();
    } else {
        fprintf(stderr, "test_signal_walk: no case %s\n", argv[1]);
        return 2;
    }
    CHECK(!out_of_time());
    CHECK_DONE();
}
