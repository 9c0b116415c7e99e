#!/usr/bin/python3
"""vfwire.mininet.PodmanHost: a line h1 -- h2 -- h3 of VFLinks where h2 is a podman container.

Run as root with /usr/bin/python3, under the lock the emulated-NIC suites share:
    flock /tmp/vfwire-itest.lock /usr/bin/python3 Tests/mininet/test_podmanhost.py
Binaries come from VFWIRE_BIN_DIR, or else from `swift build --show-bin-path`. podman runs
with private config and storage in a temp dir (no global podman state); the image is a
busybox rootfs imported there. Ends with a 'N passed, M failed' line.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vfwtest import CTL, PLUGIN, REPO, check, summary  # pylint: disable=wrong-import-position
os.environ['VFWIRE_PLUGIN'] = PLUGIN
sys.path.insert(0, os.path.join(REPO, 'python'))

# pylint: disable=wrong-import-position
from mininet.log import setLogLevel
from mininet.net import Mininet
from vfwire.mininet import PodmanHost, VFLink

PF = 'mnpf%05d' % random.randrange(100000)
IMAGE = 'localhost/mn-bb'
def vf_table():
    return subprocess.run([CTL, 'vf', 'show', PF], check=True, stdout=subprocess.PIPE, text=True).stdout


def podman_setup(scratch):
    "Private podman config and storage (settings from shared/runtimes), and the image."
    with open(os.path.join(scratch, 'containers.conf'), 'w') as f:
        # No CAP_SYS_RESOURCE here: podman's default ulimits fail with EPERM.
        f.write('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                'runtime = "runc"\n')
    with open(os.path.join(scratch, 'storage.conf'), 'w') as f:
        f.write('[storage]\ndriver = "vfs"\ngraphroot = "%s/root"\nrunroot = "%s/runroot"\n'
                % (scratch, scratch))
    env = {'CONTAINERS_CONF': os.path.join(scratch, 'containers.conf'),
           'CONTAINERS_STORAGE_CONF': os.path.join(scratch, 'storage.conf')}
    rootfs = os.path.join(scratch, 'rootfs')
    os.makedirs(rootfs + '/bin')
    shutil.copy('/bin/busybox', rootfs + '/bin/busybox')
    subprocess.run(['chroot', rootfs, '/bin/busybox', '--install', '-s', '/bin'], check=True)
    tar = subprocess.Popen(['tar', '-C', rootfs, '-c', '.'], stdout=subprocess.PIPE)
    subprocess.run(['/usr/bin/podman', 'import', '-', IMAGE], stdin=tar.stdout, check=True,
                   env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tar.wait()
    return env


def ping(host, addr):
    return host.pexec('ping', '-c', '1', '-W', '2', addr)[2] == 0


def containers(env):
    return subprocess.run(['/usr/bin/podman', 'ps', '-a', '--format', '{{.Names}}'], check=True,
                          env=dict(os.environ, **env), stdout=subprocess.PIPE, text=True).stdout.split()


def test_line(env, before):
    net = Mininet(controller=None)
    try:
        h1 = net.addHost('h1', ip=None)
        h2 = net.addHost('h2', cls=PodmanHost, ip=None, image=IMAGE, podman_env=env)
        h3 = net.addHost('h3', ip=None)
        net.addLink(h1, h2, cls=VFLink, pf=PF, vlan=103, params1={'ip': '198.18.23.1/24'},
                    params2={'ip': '198.18.23.2/24'})
        net.addLink(h2, h3, cls=VFLink, pf=PF, vlan=104, params1={'ip': '198.18.24.2/24'},
                    params2={'ip': '198.18.24.3/24'})
        net.start()
        check("h2's container runs", containers(env) == [h2.container], containers(env))
        check("h2's shell is in the container's network namespace",
              os.readlink('/proc/%d/ns/net' % h2.pid)
              == os.readlink('/proc/%d/ns/net' % h2.containerPid))
        for src, addr in ((h1, '198.18.23.2'), (h2, '198.18.23.1'),
                          (h2, '198.18.24.3'), (h3, '198.18.24.2')):
            check('%s reaches %s' % (src, addr), ping(src, addr))
        p = h2.exec_in_container(['ip', '-o', 'addr'])
        addrs = re.findall(r'^\d+: (\S+)\s+inet (\S+)', p.stdout, re.M)
        check('podman exec in h2 shows both VFs with their addresses',
              ('h2-eth0', '198.18.23.2/24') in addrs and ('h2-eth1', '198.18.24.2/24') in addrs,
              p.stdout + p.stderr)
        p = h2.exec_in_container(['ping', '-c', '1', '-W', '2', '198.18.24.3'])
        check('the container itself reaches h3', p.returncode == 0, p.stdout + p.stderr)
    finally:
        try:
            net.stop()
        finally:
            for h in net.hosts:
                h.terminate()
    after = vf_table()
    check('net.stop restores every VF', after == before, after)
    check('net.stop leaves no container', not containers(env), containers(env))


def main():
    if os.geteuid() != 0:
        sys.exit('test_podmanhost: run as root')
    setLogLevel('warning')
    Mininet.inited = True  # no machine-wide sysctls, as in test_vflink
    scratch = tempfile.mkdtemp(prefix='vfwire-podman-')
    env = None
    try:
        env = podman_setup(scratch)
        subprocess.run([CTL, 'sim', 'create', PF, '--vfs', '4'], check=True, stdout=subprocess.DEVNULL)
        try:
            test_line(env, vf_table())
        finally:
            subprocess.run([CTL, 'sim', 'destroy', PF], check=True)
    finally:
        if env:
            # Containers a failed run left, then the storage: vfs layers are plain files, but
            # runroot may hold mounts that rm -rf must not cross.
            penv = dict(os.environ, **env)
            subprocess.run(['/usr/bin/podman', 'rm', '-a', '-f', '-t', '0'], env=penv,
                           stdout=subprocess.DEVNULL, check=False)
            subprocess.run(['/usr/bin/podman', 'system', 'reset', '-f'], env=penv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(summary('podmanhost'))


if __name__ == '__main__':
    main()
