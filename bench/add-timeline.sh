#!/usr/bin/env bash
# Where one vfwire ADD's time goes: `perf trace` timelines of ADDs with the IPAM child and the
# netns move side by side, and the move's duration with and without the IPAM child running.
#
# usage: bench/add-timeline.sh [RUNS]   (default 20 ADDs with static IPAM and 20 without,
#                                        alternating; VFWIRE_BIN_DIR as in bench.sh)
#
# perf trace (syscall tracepoints, no ptrace stops: strace -f inflates posix_spawn's vfork
# from 0.6 ms to 5 ms) records the plugin's sendmsg, clone3, execve, wait4 and exit_group,
# and the IPAM child's. The plugin's longest sendmsg is the RTM_NEWLINK that moves the VF
# (`strace -f -e trace=sendmsg` of one ADD decodes it as the one carrying IFLA_NET_NS_FD; the
# next two set the address and route). Prints the first traced ADD, then medians of each event
# on perf's clock, whether the child had exec'd before the move was sent and exited before the
# move returned, how long the parent waited for it, and the move's duration with IPAM minus
# without, per pair.
# Needs root, perf (linux-perf) with tracefs mounted, python3, Debian's static IPAM plugin.
# Uses an emulated PF with one VF and a namespace of its own; addresses from 198.18.0.0/15.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
RUNS=${1:-20}
[ "$(id -u)" = 0 ] || { echo "add-timeline: run as root" >&2; exit 1; }
command -v perf >/dev/null || { echo "add-timeline: needs perf (apt-get install linux-perf)" >&2; exit 1; }
MOUNTED=0   # perf trace needs tracefs; mounted here only if it is not, and unmounted after
if [ ! -e /sys/kernel/tracing/events ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then MOUNTED=1; fi
BIN=${VFWIRE_BIN_DIR:-$("$REPO/install.sh" --build-only)}
VFW=$BIN/vfwire CTL=$BIN/vfwirectl CNI=/usr/lib/cni
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PF=vtl$SUF NS=vtl-$SUF
TMP=$(mktemp -d)
cleanup() {
  CNI_COMMAND=DEL CNI_CONTAINERID=tl$SUF CNI_NETNS=/run/netns/$NS CNI_IFNAME=net1 CNI_PATH=$CNI "$VFW" <"$TMP/ipam.json" >/dev/null 2>&1 || true
  ip netns del "$NS" 2>/dev/null || true
  "$CTL" sim destroy "$PF" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  (( MOUNTED )) && umount /sys/kernel/tracing 2>/dev/null
  return 0
}
trap cleanup EXIT
"$CTL" sim create "$PF" --vfs 1 >/dev/null
ip netns add "$NS"
printf '{"cniVersion":"1.0.0","name":"tl","type":"vfwire","pf":"%s","ipam":{"type":"static","addresses":[{"address":"198.18.201.1/24"}]}}\n' "$PF" >"$TMP/ipam.json"
printf '{"cniVersion":"1.0.0","name":"tl","type":"vfwire","pf":"%s"}\n' "$PF" >"$TMP/noipam.json"
export CNI_CONTAINERID=tl$SUF CNI_NETNS=/run/netns/$NS CNI_IFNAME=net1 CNI_PATH=$CNI
for i in $(seq "$RUNS"); do
  for c in ipam noipam; do
    echo "=== $c $i"
    CNI_COMMAND=ADD perf trace -e sendmsg,clone3,execve,exit_group,wait4 -f --duration 0 -- "$VFW" <"$TMP/$c.json" 2>&1 >/dev/null | grep -v '^$'
    CNI_COMMAND=DEL "$VFW" <"$TMP/$c.json" >/dev/null
  done
done >"$TMP/trace.txt"
echo "vfwire ADD timeline  $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS pairs"
python3 - "$TMP/trace.txt" <<'PY'
import re,sys,statistics as st
runs=[];cur=None
for l in open(sys.argv[1]):
    if l.startswith('==='):
        _,c,i=l.split(); cur={'kind':c,'ev':[]}; runs.append(cur); continue
    m=re.match(r'\s*([\d.?]+) \(\s*([\d.]*)\s*(?:ms)?\): (\S+)/(\d+) (.*)$',l.rstrip())
    if m and cur is not None: cur['ev'].append(m.groups())
def summarize(r):
    ev=r['ev']; parent=None; d={}
    for t,dur,comm,pid,rest in ev:
        if comm=='vfwire' and parent is None: parent=pid
    sends=[]
    for t,dur,comm,pid,rest in ev:
        if t=='?': continue
        t=float(t); du=float(dur) if dur else None
        if pid==parent and rest.startswith('sendmsg') and du is not None: sends.append((du,t))
        if pid==parent and 'continued]: sendmsg' in rest and du is not None: sends.append((du,t))
        if pid==parent and rest.startswith('clone3'): d['spawn']=t
        if pid==parent and 'continued]: clone3' in rest and du: d['spawn_end']=t+du
        if pid!=parent and rest.startswith('execve') and 'kexec' not in d: d['kexec']=t
        if comm=='static' and rest.startswith('exit_group'): d['kexit']=t
        if pid==parent and rest.startswith('wait4'): d['wait']=t; d['waitdur']=float(dur)
        if pid==parent and rest.startswith('exit_group'): d['exit']=t
    mv=max(sends); d['move']=mv[1]; d['movedur']=mv[0]; d['move_end']=mv[1]+mv[0]
    after=[t for du,t in sends if t>d['move']]
    if after: d['addr']=min(after)
    return d
rows={'ipam':[],'noipam':[]}
for r in runs: rows[r['kind']].append(summarize(r))
first=[r for r in runs if r['kind']=='ipam'][0]
print("one ADD with IPAM, perf trace (ms from perf start; vfwire's exec precedes the first event):")
for t,dur,comm,pid,rest in first['ev']: print(f"  {t:>8} {dur or '':>7}  {comm}/{pid} {rest[:60]}")
def med(xs): return st.median(xs) if xs else float('nan')
for k in ('ipam','noipam'):
    R=rows[k]
    keys=['spawn','spawn_end','kexec','kexit','move','move_end','wait','addr','exit']
    print(f"\n{k}: n={len(R)} medians (ms on perf's clock)")
    for key in keys:
        xs=[r[key] for r in R if key in r]
        if xs: print(f"  {key:10s} {med(xs):8.3f}  [{min(xs):.3f}..{max(xs):.3f}]")
    print(f"  move duration {med([r['movedur'] for r in R]):.3f} ms")
    if k=='ipam':
        print("  child exit before move end:", sum(1 for r in R if r.get('kexit',1e9)<r['move_end']), "of", len(R))
        print("  child exec before move start:", sum(1 for r in R if r.get('kexec',1e9)<r['move']), "of", len(R))
        print("  wait4 duration median %.3f ms max %.3f" % (med([r['waitdur'] for r in R]), max(r['waitdur'] for r in R)))
        print("  move start - spawn start median %.3f ms" % med([r['move']-r['spawn'] for r in R]))
        print("  child exit - move start median %.3f ms" % med([r['kexit']-r['move'] for r in R if 'kexit' in r]))
a=[r['movedur'] for r in rows['ipam']]; b=[r['movedur'] for r in rows['noipam']]
diffs=sorted(x-y for x,y in zip(a,b))
print("\nmove duration with IPAM - without, per pair: median %+.3f ms, quartiles %+.3f %+.3f, n=%d"%(med(diffs),diffs[len(diffs)//4],diffs[3*len(diffs)//4],len(diffs)))
print("move start offset (first event to move) ipam %.3f vs noipam %.3f"%(med([r['move'] for r in rows['ipam']]),med([r['move'] for r in rows['noipam']])))
PY
