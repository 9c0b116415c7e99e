#!/bin/sh
# Coverage-guided fuzzing of the netconf, allocation-record, topology and OCI-state parsers with
# libFuzzer: fuzz/run.sh [RUNS] (default 200000, what CI runs). New inputs go to a scratch
# corpus, so the seeds in fuzz/corpus stay what seed.sh wrote. Exits non-zero on a crash, a
# leak, an input slower than 10 s, or one needing over 2 GB.
set -e
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-200000}
[ $# -gt 0 ] && shift
artifacts="$here/../.build-fuzz/artifacts"
mkdir -p "$artifacts"
swift build -c release -Xswiftc -sanitize=fuzzer --package-path "$here" --scratch-path "$here/../.build-fuzz" >&2
"$here/seed.sh" >/dev/null
work=$(mktemp -d /tmp/vfwire-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
# Swift's own crash handler would exit before libFuzzer saves the input that crashed.
SWIFT_BACKTRACE=enable=no "$here/../.build-fuzz/release/Fuzz" -runs="$runs" -max_len=16384 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$work" "$here/corpus"
