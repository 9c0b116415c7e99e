# Sourced by bench/evaluate.sh, after it defines die: nodes that are containers of a real
# runtime, for the probe, which wants network namespaces by name. Each container runs busybox's
# sleep with `--network none` (the runtime adds no interface of its own), and its namespace is
# named under /run/netns with `ip netns attach`, so the same links and VFs go in as for a bare
# namespace and only the runtime differs. Images are imported from a local busybox-static rootfs:
# nothing is pulled. podman and dockerd (with its containerd) keep everything in one scratch
# directory each.
#   runtime_node RUNTIME NAME   a container of RUNTIME (podman or docker) whose netns is NAME;
#                               fails with the reason on stdout when the runtime cannot run here
#   runtimes_cleanup            removes the containers, the names, the daemons and the scratch

RT_SCRATCH= RT_NETNS=() RT_PIDS=()
declare -A RT_READY
# What podman (RuntimeSupport.swift's globals) and dockerd (its cgroups) make outside their
# scratch directories when missing: removed afterwards only if they were not there before.
RT_GLOBALS=(/var/lib/containers/cache/blob-info-cache-v1.boltdb /var/lib/containers/cache /var/lib/containers /run/runc)
for d in /sys/fs/cgroup/*/; do RT_GLOBALS+=("${d}libpod_parent/conmon" "${d}libpod_parent" "${d}docker"); done
RT_GLOBALS+=(/sys/fs/cgroup/libpod_parent/conmon /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/docker)
RT_ABSENT=()
for g in "${RT_GLOBALS[@]}"; do [ -e "$g" ] || RT_ABSENT+=("$g"); done

rt_podman() {
    CONTAINERS_CONF=$RT_SCRATCH/podman/containers.conf CONTAINERS_STORAGE_CONF=$RT_SCRATCH/podman/storage.conf \
        HOME=$RT_SCRATCH/podman podman "$@"
}
# Debian's /usr/bin/docker: /usr/local/bin/docker here is an unrelated newer client.
rt_docker() { /usr/bin/docker -H "unix://$RT_SCRATCH/docker/docker.sock" "$@"; }

rt_rootfs() {
    [ -d "$RT_SCRATCH/rootfs" ] && return 0
    [ -x /bin/busybox ] || { echo "no static /bin/busybox (apt-get install busybox-static)"; return 1; }
    mkdir -p "$RT_SCRATCH/rootfs/bin" && cp /bin/busybox "$RT_SCRATCH/rootfs/bin/" && ln -s busybox "$RT_SCRATCH/rootfs/bin/sleep"
}

rt_podman_prepare() {
    local d=$RT_SCRATCH/podman
    command -v podman >/dev/null || { echo "podman is not installed"; return 1; }
    mkdir -p "$d/root" "$d/runroot" "$d/tmp" && rt_rootfs || return 1
    # No CAP_SYS_RESOURCE in a container: podman's default ulimits fail with EPERM.
    cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$d/tmp"
EOF
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/root"\nrunroot = "%s/runroot"\n' "$d" "$d" >"$d/storage.conf"
    tar -C "$RT_SCRATCH/rootfs" -c . | rt_podman import - localhost/vfwire-eval-bb >"$d/import.log" 2>&1 \
        || { echo "podman import failed: $(tail -1 "$d/import.log")"; return 1; }
}

rt_docker_prepare() {
    local d=$RT_SCRATCH/docker i
    command -v dockerd >/dev/null && command -v containerd >/dev/null && [ -x /usr/bin/docker ] \
        || { echo "dockerd, containerd or /usr/bin/docker is not installed"; return 1; }
    mkdir -p "$d" && rt_rootfs || return 1
    printf 'version = 2\nroot = "%s/containerd-root"\nstate = "%s/containerd-state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\naddress = "%s/containerd.sock"\n' \
        "$d" "$d" "$d" >"$d/containerd.toml"
    jq -n --arg d "$d" '{"data-root": "\($d)/data", "exec-root": "\($d)/exec", pidfile: "\($d)/docker.pid",
        hosts: ["unix://\($d)/docker.sock"], containerd: "\($d)/containerd.sock", "storage-driver": "vfs", iptables: false,
        "ip-masq": false, bridge: "none", "exec-opts": ["native.cgroupdriver=cgroupfs"]}' >"$d/daemon.json"
    containerd --config "$d/containerd.toml" </dev/null >"$d/containerd.log" 2>&1 &
    RT_PIDS+=($!)
    dockerd --config-file "$d/daemon.json" </dev/null >"$d/dockerd.log" 2>&1 &
    RT_PIDS+=($!)
    for i in $(seq 60); do rt_docker info >/dev/null 2>&1 && break; sleep 0.5; done
    rt_docker info >/dev/null 2>&1 || { echo "dockerd did not start: $(tail -1 "$d/dockerd.log")"; return 1; }
    tar -C "$RT_SCRATCH/rootfs" -c . | rt_docker import - vfwire-eval-bb >"$d/import.log" 2>&1 \
        || { echo "docker import failed: $(tail -1 "$d/import.log")"; return 1; }
}

runtime_node() {
    local rt=$1 name=$2 id pid
    [ -n "$RT_SCRATCH" ] || RT_SCRATCH=$(mktemp -d /tmp/vfwire-eval-rt.XXXXXX) || { echo "cannot make a scratch directory"; return 1; }
    if [ -z "${RT_READY[$rt]:-}" ]; then rt_"$rt"_prepare || return 1; RT_READY[$rt]=1; fi
    case $rt in
        podman) id=$(rt_podman run -d --network none --name "$name" localhost/vfwire-eval-bb sleep 86400 </dev/null 2>&1) \
                    && pid=$(rt_podman inspect -f '{{.State.Pid}}' "$name" </dev/null 2>&1) ;;
        docker) id=$(rt_docker run -d --network none --name "$name" vfwire-eval-bb sleep 86400 </dev/null 2>&1) \
                    && pid=$(rt_docker inspect -f '{{.State.Pid}}' "$name" </dev/null 2>&1) ;;
    esac || { echo "$rt run failed: $(tail -1 <<<"$id$pid")"; return 1; }
    ip netns attach "$name" "$pid" || { echo "cannot name the netns of $rt container $name (pid $pid)"; return 1; }
    RT_NETNS+=("$rt:$name")
}

runtimes_cleanup() {
    local e g pid
    for e in "${RT_NETNS[@]}"; do
        ip netns del "${e#*:}" 2>/dev/null
        rt_"${e%%:*}" rm -f "${e#*:}" </dev/null >/dev/null 2>&1
    done
    [ -n "${RT_READY[podman]:-}" ] && rt_podman system reset -f </dev/null >/dev/null 2>&1
    for pid in "${RT_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${RT_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for g in "${RT_ABSENT[@]}"; do rm -f "$g" 2>/dev/null || rmdir "$g" 2>/dev/null; done
    [ -n "$RT_SCRATCH" ] && rm -rf "$RT_SCRATCH"
}
