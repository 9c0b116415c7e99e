# Sourced by bench/links.sh and bench/evaluate.sh, after they define die and CTL: two
# namespaces joined by software links, the BPF object the ebpf kind needs, and the lock that
# is held for the measured part only.
#   links_begin PREFIX        WORK (a scratch dir), namespaces A and B; EXIT removes all of it
#   links_add OCTET KIND...   one link per kind between A and B as they are set now, /30s from
#                             198.19.OCTET.0 on; ADDR[KIND] is B's end
#   median                    of the numbers on stdin
# A caller with more to undo puts it in links_extra_cleanup.

declare -A ADDR
LINKS_MADE=()
links_extra_cleanup() { :; }

links_cleanup() {
    local ends
    # shellcheck disable=SC2086  # two ends, "NS:IF NS:IF"
    for ends in "${LINKS_MADE[@]}"; do "$CTL" link del $ends 2>/dev/null; done
    # Before the namespaces go: what the caller moved into them may have to come home first.
    links_extra_cleanup
    ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null
    rm -rf "$WORK"
}

links_begin() {
    WORK=$(mktemp -d "/tmp/vfwire-$1.XXXXXX") || die "cannot make a scratch directory"
    A=vfw$1-a-$$ B=vfw$1-b-$$
    trap links_cleanup EXIT
    clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$REPO/bpf/redirect_peer.c" -o "$WORK/redirect_peer.o" \
        || die "cannot compile bpf/redirect_peer.c (clang -target bpf, libbpf-dev)"
    export VFWIRE_REDIRECT_PEER_OBJ=$WORK/redirect_peer.o
    if [ -n "${VFWIRE_BENCH_LOCK:-}" ]; then exec 9>"$VFWIRE_BENCH_LOCK"; flock 9; fi
    ip netns add "$A" && ip netns add "$B" || die "cannot make namespaces"
}

links_add() {
    local octet=$1 k; shift
    for k in "$@"; do
        ADDR[$k]=198.19.$octet.2
        LINKS_MADE+=("$A:$k $B:$k")
        "$CTL" link add "$k" "$A:$k:198.19.$octet.1/30" "$B:$k:${ADDR[$k]}/30" || die "cannot make the $k link"
        octet=$((octet + 1))
    done
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
