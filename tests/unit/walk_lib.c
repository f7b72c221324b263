/* walk_lib.c — a library for unit/signal_walk's dlclose case, built twice
 * (libwalk_lib_a.so, and libwalk_lib_b.so with a padding function first, so
 * the two lay out their code differently): it calls back into the test, so a
 * sample's stack runs through it while the library is loaded and unloaded. */
typedef int (*walk_lib_callback)(int);

#ifdef WALK_LIB_PADDED
static volatile int padding_sink;
__attribute__((noinline, used)) void walk_lib_padding(int n)
{
    for (int i = 0; i < n; i++) padding_sink += i * 3 + (padding_sink >> 2);
    for (int i = 0; i < n; i++) padding_sink ^= i * 7 + (padding_sink << 1);
}
#endif

__attribute__((noinline)) int walk_lib_call(walk_lib_callback cb, int n)
{
    volatile int keep = n;
    return cb(keep) + 1; /* not a tail call: this frame stays on the stack */
}
