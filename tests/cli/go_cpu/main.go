// A CPU profile written by Go's own runtime/pprof, for tests/cli/top_matches_pprof.sh:
// conan must read any valid pprof, not only libconan's. Two labelled phases
// burn CPU in two named functions (2:1), so --tag and --focus have something
// to select. Usage: go_cpu OUT.pb.gz
package main

import (
	"context"
	"os"
	"runtime/pprof"
	"time"
)

var sink uint64

//go:noinline
func burnFirstPhase(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 100000; i++ {
			sink = sink*6364136223846793005 + 1442695040888963407
		}
	}
}

//go:noinline
func burnSecondPhase(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 100000; i++ {
			sink = sink*2862933555777941757 + 3037000493
		}
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	ctx := context.Background()
	pprof.Do(ctx, pprof.Labels("phase", "first"), func(context.Context) { burnFirstPhase(600 * time.Millisecond) })
	pprof.Do(ctx, pprof.Labels("phase", "second"), func(context.Context) { burnSecondPhase(300 * time.Millisecond) })
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
}
