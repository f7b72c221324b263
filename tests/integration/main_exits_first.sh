#!/usr/bin/env bash
# main calls pthread_exit and the last program thread then ends: the process
# must end too, with status 0, as without the shim (libconan's monitor thread
# must not keep it alive).
. "$(dirname "$0")/lib.sh"
skip_under_tsan "libtsan's background thread never ends, so the program's last thread is never the last one"
write_config "$WORK/c.json" '{ "dump_dir": "@DUMPS@" }'
start=$SECONDS
out=$(timeout 20 env LD_PRELOAD="$LIBCONAN" CONAN_CONFIG="$WORK/c.json" "$WORKLOADS/main_exits_first") \
    || fail "status $? (124: the process never ended)"
[ "$out" = "worker done" ] || fail "unexpected output: $out"
[ $((SECONDS - start)) -le 3 ] || fail "the process took $((SECONDS - start)) s to end after its last thread"
exit 0
