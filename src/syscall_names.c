/* syscall_names.c — names for the system call numbers /proc/<pid>/task/<tid>/syscall
 * shows: the blocking calls people meet (reads, waits, polls, locks, sleeps),
 * taken from <sys/syscall.h> for the architecture built for, so the table
 * cannot disagree with the kernel's numbers. Used where a blocked thread is
 * described (the stuck watch's report, labels and events). */
#include "syscall_names.h"

#include <stddef.h>
#include <sys/syscall.h>

/* The blocking calls people meet, by the numbers of the architecture built
 * for (a call the architecture lacks is left out). */
struct syscall_name { long nr; const char *name; };
#define NAMED(call) { SYS_##call, #call }
static const struct syscall_name syscall_names[] = {
#ifdef SYS_read
    NAMED(read),
#endif
#ifdef SYS_write
    NAMED(write),
#endif
#ifdef SYS_pread64
    NAMED(pread64),
#endif
#ifdef SYS_pwrite64
    NAMED(pwrite64),
#endif
#ifdef SYS_readv
    NAMED(readv),
#endif
#ifdef SYS_writev
    NAMED(writev),
#endif
#ifdef SYS_preadv
    NAMED(preadv),
#endif
#ifdef SYS_pwritev
    NAMED(pwritev),
#endif
#ifdef SYS_preadv2
    NAMED(preadv2),
#endif
#ifdef SYS_pwritev2
    NAMED(pwritev2),
#endif
#ifdef SYS_recvfrom
    NAMED(recvfrom),
#endif
#ifdef SYS_recvmsg
    NAMED(recvmsg),
#endif
#ifdef SYS_recvmmsg
    NAMED(recvmmsg),
#endif
#ifdef SYS_sendto
    NAMED(sendto),
#endif
#ifdef SYS_sendmsg
    NAMED(sendmsg),
#endif
#ifdef SYS_sendmmsg
    NAMED(sendmmsg),
#endif
#ifdef SYS_accept
    NAMED(accept),
#endif
#ifdef SYS_accept4
    NAMED(accept4),
#endif
#ifdef SYS_connect
    NAMED(connect),
#endif
#ifdef SYS_shutdown
    NAMED(shutdown),
#endif
#ifdef SYS_poll
    NAMED(poll),
#endif
#ifdef SYS_ppoll
    NAMED(ppoll),
#endif
#ifdef SYS_select
    NAMED(select),
#endif
#ifdef SYS_pselect6
    NAMED(pselect6),
#endif
#ifdef SYS_epoll_wait
    NAMED(epoll_wait),
#endif
#ifdef SYS_epoll_pwait
    NAMED(epoll_pwait),
#endif
#ifdef SYS_epoll_pwait2
    NAMED(epoll_pwait2),
#endif
#ifdef SYS_futex
    NAMED(futex),
#endif
#ifdef SYS_futex_waitv
    NAMED(futex_waitv),
#endif
#ifdef SYS_nanosleep
    NAMED(nanosleep),
#endif
#ifdef SYS_clock_nanosleep
    NAMED(clock_nanosleep),
#endif
#ifdef SYS_wait4
    NAMED(wait4),
#endif
#ifdef SYS_waitid
    NAMED(waitid),
#endif
#ifdef SYS_rt_sigsuspend
    NAMED(rt_sigsuspend),
#endif
#ifdef SYS_rt_sigtimedwait
    NAMED(rt_sigtimedwait),
#endif
#ifdef SYS_pause
    NAMED(pause),
#endif
#ifdef SYS_flock
    NAMED(flock),
#endif
#ifdef SYS_fcntl
    NAMED(fcntl),
#endif
#ifdef SYS_fsync
    NAMED(fsync),
#endif
#ifdef SYS_fdatasync
    NAMED(fdatasync),
#endif
#ifdef SYS_sync_file_range
    NAMED(sync_file_range),
#endif
#ifdef SYS_sync
    NAMED(sync),
#endif
#ifdef SYS_syncfs
    NAMED(syncfs),
#endif
#ifdef SYS_msync
    NAMED(msync),
#endif
#ifdef SYS_open
    NAMED(open),
#endif
#ifdef SYS_openat
    NAMED(openat),
#endif
#ifdef SYS_close
    NAMED(close),
#endif
#ifdef SYS_newfstatat
    NAMED(newfstatat),
#endif
#ifdef SYS_statx
    NAMED(statx),
#endif
#ifdef SYS_getdents64
    NAMED(getdents64),
#endif
#ifdef SYS_unlinkat
    NAMED(unlinkat),
#endif
#ifdef SYS_renameat2
    NAMED(renameat2),
#endif
#ifdef SYS_ftruncate
    NAMED(ftruncate),
#endif
#ifdef SYS_fallocate
    NAMED(fallocate),
#endif
#ifdef SYS_io_getevents
    NAMED(io_getevents),
#endif
#ifdef SYS_io_pgetevents
    NAMED(io_pgetevents),
#endif
#ifdef SYS_io_uring_enter
    NAMED(io_uring_enter),
#endif
#ifdef SYS_msgrcv
    NAMED(msgrcv),
#endif
#ifdef SYS_msgsnd
    NAMED(msgsnd),
#endif
#ifdef SYS_semop
    NAMED(semop),
#endif
#ifdef SYS_semtimedop
    NAMED(semtimedop),
#endif
#ifdef SYS_mq_timedreceive
    NAMED(mq_timedreceive),
#endif
#ifdef SYS_mq_timedsend
    NAMED(mq_timedsend),
#endif
#ifdef SYS_ioctl
    NAMED(ioctl),
#endif
#ifdef SYS_sendfile
    NAMED(sendfile),
#endif
#ifdef SYS_splice
    NAMED(splice),
#endif
#ifdef SYS_tee
    NAMED(tee),
#endif
#ifdef SYS_vmsplice
    NAMED(vmsplice),
#endif
#ifdef SYS_copy_file_range
    NAMED(copy_file_range),
#endif
#ifdef SYS_getrandom
    NAMED(getrandom),
#endif
#ifdef SYS_execve
    NAMED(execve),
#endif
};
#undef NAMED

const char *conan_syscall_name(long nr)
{
    for (size_t i = 0; i < sizeof syscall_names / sizeof *syscall_names; i++)
        if (syscall_names[i].nr == nr) return syscall_names[i].name;
    return NULL;
}
