#!/bin/bash
# Installs what vfwire needs from Debian, builds release binaries (Swift stdlib linked in, so
# hosts need no Swift toolchain) and installs them:
#   /opt/cni/bin/vfwire           the CNI plugin
#   /usr/local/sbin/vfwirectl     the emulated NIC (and, later, topology) tool
#   /usr/local/sbin/vfwire-hook   the OCI hook, and vfwire-runc, the runc wrapper for Docker
#   vfwire.mininet                Mininet link classes, for Debian's /usr/bin/python3
# Options: --deps-only (packages only, no build or install), --build-only (build, print the
# directory of the binaries, install nothing), --test-deps (also the container runtimes and
# tools the test suite drives), --prefix-cni DIR (default /opt/cni/bin).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

deps_only=0 build_only=0 test_deps=0 cni_dir=/opt/cni/bin
while [ $# -gt 0 ]; do
  case "$1" in
    --deps-only) deps_only=1 ;;
    --build-only) build_only=1 ;;
    --test-deps) test_deps=1 ;;
    --prefix-cni) cni_dir=$2; shift ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (it installs packages and binaries)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
pkgs=(libnl-3-dev libnl-route-3-dev libseccomp-dev pkg-config containernetworking-plugins iproute2 iputils-ping jq libbpf-dev bpftool python3-matplotlib)
if [ $test_deps = 1 ]; then
  pkgs+=(runc busybox-static hyperfine docker.io dpdk-dev librte-net-e1000-23 graphviz python3-venv strace)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ $test_deps = 1 ]; then
  for p in podman catatonit mininet; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  "${apt[@]}" update >/dev/null
  # podman's recommends pull in a second network stack and systemd units we do not want.
  "${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Kubernetes schemas `topo export --k8s` is checked against ship in kubernetes-validate, which
# Debian does not package; a venv keeps it off the system's python.
venv=/opt/vfwire-test/venv
if [ $test_deps = 1 ] && ! "$venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0
fi

# Runtimes configured for /opt/cni/bin look for IPAM there; Debian puts the reference plugins
# in /usr/lib/cni. Link the ones vfwire delegates to, without replacing anything.
mkdir -p "$cni_dir"
for p in host-local static dhcp; do
  [ -e "$cni_dir/$p" ] || ln -s "/usr/lib/cni/$p" "$cni_dir/$p"
done

[ $deps_only = 1 ] && exit 0

# Fully static (glibc and libnl linked in): a runtime execs the plugin for every attachment, and
# with no dynamic loader to run it starts in about half the time; hosts need no libraries either.
release=(-c release --static-swift-stdlib -Xswiftc -static-executable)
swift build "${release[@]}" --product vfwire >&2
swift build "${release[@]}" --product vfwirectl >&2
swift build "${release[@]}" --product vfwire-hook >&2
bin=$(swift build "${release[@]}" --show-bin-path)
if [ $build_only = 1 ]; then echo "$bin"; exit 0; fi
# Stripped: symbols are most of the file and a plugin is exec'd on every attachment.
install -s -m 0755 "$bin/vfwire" "$cni_dir/vfwire"
install -s -m 0755 "$bin/vfwirectl" /usr/local/sbin/vfwirectl
install -s -m 0755 "$bin/vfwire-hook" /usr/local/sbin/vfwire-hook
install -m 0755 hooks/vfwire-runc /usr/local/sbin/vfwire-runc
# The ebpf link kind's tc program, for this kernel's BPF target; `vfwirectl link` looks here.
mkdir -p /usr/local/lib/vfwire
clang -O2 -g -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c bpf/redirect_peer.c -o /usr/local/lib/vfwire/redirect_peer.o
# vfwire.mininet for Debian's python3, which Mininet runs on; python3 on PATH may be a pyenv one.
if [ -x /usr/bin/python3 ]; then
  site=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  install -d "$site/vfwire" && install -m 0644 python/vfwire/__init__.py python/vfwire/mininet.py "$site/vfwire/"
fi
echo "install.sh: installed $cni_dir/vfwire and /usr/local/sbin/{vfwirectl,vfwire-hook,vfwire-runc}"
