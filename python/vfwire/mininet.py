"""Mininet links whose two ends are SR-IOV VFs, attached through the vfwire CNI plugin.

An experiment's links become VF pairs by naming the class, for all links or for one:

    net = Mininet(topo, link=VFLink, controller=None)  # topo: addLink(h1, h2, pf=..., vlan=...)
    net.addLink(h1, h2, cls=VFLink, pf='ens1f0', vlan=100,
                params1={'ip': '198.18.1.1/24'}, params2={'ip': '198.18.1.2/24'})

For each end the plugin claims a VF, sets its VF table through the PF (VLAN, admin MAC, ...)
and moves its netdev into the host's namespace under the name Mininet chose (h1-eth0); CNI DEL
gives it back. Addresses stay Mininet's, set by Intf.config(ip=...) as on any link and not by
an IPAM plugin: Mininet changes them itself (a host's default IP, Node.setIP), and an address
IPAM had recorded would then be stale. The plugin run is VFIntf.plugin: $VFWIRE_PLUGIN at
import, else /opt/cni/bin/vfwire.
"""

import json
import os
import subprocess

from mininet.link import Intf, Link
from mininet.node import Host

# Link and end options that go to the plugin's netconf (keys as in vfwire's README); an end's
# own value (params1, params2) wins over the link's. Everything else is Mininet's.
NETCONF_KEYS = ('pf', 'deviceID', 'vlan', 'vlanQoS', 'vlanProto', 'spoofchk', 'trust',
                'link_state', 'min_tx_rate', 'max_tx_rate', 'mtu', 'logLevel', 'logFile')


class CNIError(Exception):
    "The plugin's CNI error result: code, msg and details as the CNI spec defines them."

    def __init__(self, code, msg, details=''):
        super().__init__('CNI error %s: %s%s' % (code, msg, ' (%s)' % details if details else ''))
        self.code, self.msg, self.details = code, msg, details


class VFIntf(Intf):
    """A VF that the vfwire plugin attached to `node` as `name`. Other keyword arguments are
       Intf's (ip, up, ...) and the netconf keys in NETCONF_KEYS (pf or deviceID required)."""

    # Read at import so a test can point every link at a freshly built plugin.
    plugin = os.environ.get('VFWIRE_PLUGIN', '/opt/cni/bin/vfwire')
    # The spec requires CNI_PATH; these are where install.sh and Debian put plugins.
    cniPath = '/opt/cni/bin:/usr/lib/cni'
    # The CNI network name: with the container ID and ifname it keys the plugin's record.
    network = 'mininet'

    def __init__(self, name, node, mac=None, **params):
        self.netconf = {'cniVersion': '1.1.0', 'name': self.network, 'type': 'vfwire'}
        self.netconf.update((k, params.pop(k)) for k in NETCONF_KEYS if k in params)
        if mac:
            self.netconf['mac'] = mac
        # A Mininet Host is a process with its own namespace, named by no file in /run/netns.
        # The pid keeps two concurrent Mininets' h1 apart.
        self.attachment = {'CNI_CONTAINERID': 'mininet-%s-%d' % (node.name, node.pid),
                           'CNI_NETNS': '/proc/%d/ns/net' % node.pid,
                           'CNI_IFNAME': name}
        self.node = node  # for delete(), should the rest of construction fail
        result = self.cni('ADD')
        # The plugin already put the VF in node's namespace.
        params.setdefault('moveIntfFn', lambda *_args, **_kwargs: None)
        try:
            # Kernel mode has one interface, the VF in node's namespace; its MAC is the one
            # asked for, or the VF's own.
            super().__init__(name, node=node, mac=result['interfaces'][0]['mac'], **params)
        except BaseException:
            self.delete()
            raise

    def cni(self, command):
        "Run the plugin; return its result, or raise its error as CNIError."
        # Only PATH from our environment: a stray CNI_ARGS (MAC=...) would reach the plugin.
        env = dict(self.attachment, CNI_COMMAND=command, CNI_PATH=self.cniPath,
                   PATH=os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'))
        p = subprocess.run([self.plugin], input=json.dumps(self.netconf).encode(), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if p.returncode != 0:
            try:
                err = json.loads(p.stdout)
            except ValueError:
                err = {'msg': p.stderr.decode(errors='replace').strip()
                              or '%s exited with %d' % (self.plugin, p.returncode)}
            raise CNIError(err.get('code'), err.get('msg'), err.get('details', ''))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def delete(self):
        "Give the VF back (CNI DEL): Intf.delete's `ip link del` would destroy or fail on it."
        self.cni('DEL')
        self.node.delIntf(self)
        self.link = None


class VFLink(Link):
    """A link of two VFs, one in each node's namespace, by default on one VLAN of one PF:
       VFLink(h1, h2, pf='ens1f0', vlan=100, params1={'ip': ...}, params2={'ip': ...}).
       params1/params2 may name their own pf, deviceID, vlan, mac, ... (NETCONF_KEYS).
       Give each link its own VLAN: VFs of one PF without one share its untagged segment."""

    def __init__(self, node1, node2, params1=None, params2=None, addr1=None, addr2=None, **kwargs):
        # Link lets link-wide options override an end's; for placement the end must win, or
        # two ends on cabled PFs could not name their own PF.
        shared = {k: kwargs.pop(k) for k in NETCONF_KEYS if k in kwargs}
        params1 = dict(shared, **(params1 or {}))
        params2 = dict(shared, **(params2 or {}))
        # A MAC given for an end is its VF's admin MAC, set by the plugin; Mininet's random
        # addr1/addr2 (Mininet.addLink) are used otherwise, as a veth pair would be.
        addr1 = params1.pop('mac', addr1)
        addr2 = params2.pop('mac', addr2)
        kwargs.setdefault('cls1', VFIntf)
        kwargs.setdefault('cls2', VFIntf)
        try:
            super().__init__(node1, node2, params1=params1, params2=params2,
                             addr1=addr1, addr2=addr2, **kwargs)
        except BaseException:
            # A failed second end undid itself; the first is attached, but Link never kept it.
            for intf in node1.intfList():
                if intf.link is self:
                    intf.delete()
            raise

    def makeIntfPair(self, *_args, **_kwargs):  # pylint: disable=arguments-differ
        "Nothing to make: each VFIntf attaches its own VF."

    def delete(self):
        "Give both VFs back, the second even when the first one's DEL fails."
        try:
            self.intf1.delete()
        finally:
            self.intf2.delete()


class PodmanHost(Host):
    """A Mininet host that is a podman container: PodmanHost('h2', image='localhost/bb').
       The container runs `sleep infinity` with --network none; Mininet's shell for the node
       runs in the container's network namespace (its mounts stay the host's, so h2.cmd runs
       the host's tools), so host.pid, cmd(), popen() and VFLink's attachment all land in the
       container. exec_in_container(args) runs `podman exec`. podman_args go to `podman run`
       before the image; podman_env is added to podman's environment (CONTAINERS_CONF, ...)."""

    podman = '/usr/bin/podman'

    def __init__(self, name, image=None, podman_args=(), podman_env=None, **params):
        if not image:
            raise ValueError('PodmanHost %s: image= is required' % name)
        self.image, self.podmanArgs = image, list(podman_args)
        self.podmanEnv = dict(os.environ, **(podman_env or {}))
        # The pid keeps two concurrent Mininets' h2 apart, as in VFIntf's container ID.
        self.container = 'mn-%s-%d' % (name, os.getpid())
        self.containerPid = None
        super().__init__(name, **params)

    def runPodman(self, *args):
        "Run podman with our environment; return its stdout, or raise with its stderr."
        p = subprocess.run([self.podman, *args], env=self.podmanEnv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, check=False)
        if p.returncode != 0:
            raise RuntimeError('podman %s: %s' % (args[0], p.stderr.strip()))
        return p.stdout

    def startShell(self, mnopts=None):
        self.runPodman('run', '-d', '--network', 'none', '--name', self.container,
                       *self.podmanArgs, self.image, 'sleep', 'infinity')
        try:
            self.containerPid = int(self.runPodman(
                'inspect', '-f', '{{.State.Pid}}', self.container))
            # Node.startShell would have mnexec make a new namespace (-n); the shell must join
            # the container's instead, so that host.pid names it.
            inNamespace, self.inNamespace = self.inNamespace, False
            self.shellPrefix = ['nsenter', '--net=/proc/%d/ns/net' % self.containerPid]
            try:
                super().startShell(mnopts)
            finally:
                self.inNamespace, self.shellPrefix = inNamespace, None
        except BaseException:
            self.removeContainer()
            raise

    shellPrefix = None

    def _popen(self, cmd, **params):
        if self.shellPrefix:
            cmd = cmd[:2] + self.shellPrefix + cmd[2:]  # after mnexec and its options
        return super()._popen(cmd, **params)

    def exec_in_container(self, args, **kwargs):
        "`podman exec` args (a list) in the container; returns the CompletedProcess."
        kwargs.setdefault('stdout', subprocess.PIPE)
        kwargs.setdefault('stderr', subprocess.PIPE)
        return subprocess.run([self.podman, 'exec', self.container, *args], env=self.podmanEnv,
                              text=True, check=False, **kwargs)

    def removeContainer(self):
        # --ignore: a container that never started, or is already gone, is no error here.
        subprocess.run([self.podman, 'rm', '-f', '-t', '0', '--ignore', self.container],
                       env=self.podmanEnv, stdout=subprocess.DEVNULL, check=False)
        self.containerPid = None

    def terminate(self):
        "Stop the shell, then remove the container (net.stop gave its VFs back before)."
        try:
            super().terminate()
        finally:
            self.removeContainer()
