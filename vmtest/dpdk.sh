# DPDK in a runc container, for the VM tier (sourced by tests.sh; needs runc, jq, dpdk-testpmd,
# hugepages mounted at /dev/hugepages, cgroup2 at /sys/fs/cgroup: run-in-vm.sh with VM_HUGEPAGES,
# VM_MEM and VM_CPU as run.sh sets them).
#
# A bundle's rootfs is empty: the host's /usr, /lib, /lib64, /bin, /sbin and /etc are bound in
# read-only, so the container runs the host's dpdk-testpmd, jq and busybox. DPDK also needs
# /dev/hugepages, a writable /var/run (its runtime directory, /var/run/dpdk) and CAP_IPC_LOCK
# with a large RLIMIT_MEMLOCK, or its VFIO DMA maps fail with ENOMEM.
#
# The VF's devices are a separate step (dpdk_declare_vfio), because vfwire-runc adds them itself.
# The container's own process does the work, and probes from the host join only its network
# namespace (ctr_netns), so nothing here needs `runc exec` (which saw the initramfs root while
# run-in-vm.sh chrooted instead of switch_root).

# ctr_bundle DIR ARG...: a bundle in DIR (created) whose process runs ARG... with its output in
# DIR/out.log (ctr_start redirects it there).
ctr_bundle() {
  local dir=$1; shift
  mkdir -p "$dir/rootfs" && rm -f "$dir/config.json" && runc spec --bundle "$dir" || return 1
  jq --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -cs .)" '
    .process.args = $args | .process.terminal = false
    | .process.env += ["HOME=/root"]
    | .process.capabilities |= with_entries(.value += ["CAP_IPC_LOCK", "CAP_NET_RAW"])
    | .process.rlimits += [{type: "RLIMIT_MEMLOCK", hard: 1073741824, soft: 1073741824}]
    | .mounts += ([("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc")
                   | {destination: ., type: "bind", source: ., options: ["rbind", "ro"]}]
                  + [{destination: "/dev/hugepages", type: "bind", source: "/dev/hugepages", options: ["rbind", "rw"]},
                     {destination: "/var/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755"]},
                     {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]}])
  ' "$dir/config.json" > "$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# dpdk_declare_vfio DIR GROUPDEV: the container gets /dev/vfio/vfio and GROUPDEV (/dev/vfio/N),
# with the host nodes' major:minor, and its device cgroup allows them.
dpdk_declare_vfio() {
  local dir=$1 grp=$2 devs="[]" d
  for d in /dev/vfio/vfio "$grp"; do
    [ -c "$d" ] || { echo "dpdk_declare_vfio: $d is not a character device" >&2; return 1; }
    devs=$(jq -cM --arg p "$d" --argjson maj $((0x$(stat -c %t "$d"))) --argjson min $((0x$(stat -c %T "$d"))) \
      '. + [{path: $p, type: "c", major: $maj, minor: $min, fileMode: 438, uid: 0, gid: 0}]' <<<"$devs")
  done
  jq --argjson d "$devs" '
    .linux.devices = ((.linux.devices // []) + $d)
    | .linux.resources.devices += [$d[] | {allow: true, type: "c", major, minor, access: "rwm"}]
  ' "$dir/config.json" > "$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# testpmd answers ARP and ICMP echo for any IP address (icmpecho swaps addresses, it has none of
# its own), prints port statistics every 5 s, which also keeps it running without a terminal,
# and forwards on lcore 1 (testpmd needs one besides the main lcore).
TESTPMD_EAL="-l 0,1 -n 1"
TESTPMD_APP="--forward-mode=icmpecho --auto-start --stats-period 5 --total-num-mbufs 2048"
# testpmd_args PCI [MODE]: the command line for the VF at PCI, forwarding in MODE instead of
# icmpecho when given (5tswap sends UDP back to its sender, for the probe).
testpmd_args() { echo dpdk-testpmd $TESTPMD_EAL -a "$1" -- ${TESTPMD_APP/icmpecho/${2:-icmpecho}}; }
# testpmd_devinfo_script DIR IFNAME: DIR/rootfs/testpmd.sh runs testpmd on the VF that vfwire's
# device-info file for IFNAME names (run it as `sh /testpmd.sh`).
testpmd_devinfo_script() {
  cat > "$1/rootfs/testpmd.sh" <<SH
f=/run/vfwire/devinfo/$2.json
echo "devinfo: \$(cat \$f)"
pci=\$(jq -r '.pci["pci-address"]' \$f) || exit 1
exec dpdk-testpmd $TESTPMD_EAL -a "\$pci" -- $TESTPMD_APP
SH
}

# ctr_annotate DIR KEY VALUE: sets an annotation in DIR/config.json.
ctr_annotate() {
  jq --arg k "$2" --arg v "$3" '.annotations[$k] = $v' "$1/config.json" > "$1/config.json.new" && mv "$1/config.json.new" "$1/config.json"
}

# ctr_start ROOT DIR ID [RUNC...]: creates and starts container ID from bundle DIR, detached, its
# output in DIR/out.log. RUNC (default: runc) is the command that creates it, e.g. vfwire-runc.
ctr_start() {
  local root=$1 dir=$2 id=$3; shift 3
  [ $# -gt 0 ] || set -- runc
  "$@" --root "$root" create --bundle "$dir" "$id" </dev/null >"$dir/out.log" 2>&1 || { cat "$dir/out.log"; return 1; }
  runc --root "$root" start "$id"
}

# ctr_status ROOT ID: created, running, stopped, or nothing when there is no such container.
ctr_status() { runc --root "$1" state "$2" 2>/dev/null | jq -r .status; }
ctr_pid() { runc --root "$1" state "$2" 2>/dev/null | jq -r .pid; }
# ctr_netns ROOT ID NAME: names the container's network namespace NAME (ip netns attach), so that
# `ip netns exec NAME` probes it from the host's filesystem. Remove with ip netns del NAME.
ctr_netns() { ip netns attach "$3" "$(ctr_pid "$1" "$2")"; }

# testpmd_wait ROOT DIR ID [SECONDS]: until testpmd in container ID forwards (its log says so and
# shows port statistics), for up to SECONDS (default 180; under TCG it took 20 to 40 s to start).
# Fails early when the container stops; then prints the log.
testpmd_wait() {
  local root=$1 dir=$2 id=$3 n=${4:-180} i
  for i in $(seq "$n"); do
    grep -qE 'packet forwarding.* - ports=' "$dir/out.log" && grep -q 'statistics for port' "$dir/out.log" && return 0
    [ "$(ctr_status "$root" "$id")" = running ] || break
    sleep 1
  done
  echo "testpmd in $id is not forwarding (status $(ctr_status "$root" "$id")); its log:"; tail -30 "$dir/out.log"
  return 1
}

# ctr_delete ROOT ID SIGNAL [RUNC...]: sends SIGNAL (TERM lets testpmd close its port; a process
# that ignores it, like sleep as PID 1, wants KILL), KILL after 20 s, then deletes with RUNC
# (default runc; vfwire-runc's poststop hook detaches there). Quiet when it is gone already.
ctr_delete() {
  local root=$1 id=$2 sig=$3 i; shift 3
  [ $# -gt 0 ] || set -- runc
  [ -n "$(ctr_status "$root" "$id")" ] || return 0
  runc --root "$root" kill "$id" "$sig" 2>/dev/null
  for i in $(seq 40); do [ "$(ctr_status "$root" "$id")" = running ] || break; sleep 0.5; done
  [ "$(ctr_status "$root" "$id")" = running ] && runc --root "$root" kill "$id" KILL
  for i in $(seq 20); do [ "$(ctr_status "$root" "$id")" = running ] || break; sleep 0.5; done
  "$@" --root "$root" delete --force "$id"
}
