#!/usr/bin/python3
"""vfwire.mininet against Debian's Mininet 2.3.0 and an emulated SR-IOV PF with 4 VFs.

Run as root with /usr/bin/python3 (Mininet's), under the lock the emulated-NIC suites share:
    flock /tmp/vfwire-itest.lock /usr/bin/python3 Tests/mininet/test_vflink.py
Binaries come from VFWIRE_BIN_DIR, or else from `swift build --show-bin-path` (build first).
A plain script: the CI reads its closing 'N passed, N failed' line.
"""

import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vfwtest import CTL, PLUGIN, REPO, check, summary  # pylint: disable=wrong-import-position
# Before the import: the module reads it once, as an experiment's would.
os.environ['VFWIRE_PLUGIN'] = PLUGIN
sys.path.insert(0, os.path.join(REPO, 'python'))

# pylint: disable=wrong-import-position
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.topo import Topo
from vfwire.mininet import CNIError, VFLink

PF = 'mnpf%05d' % random.randrange(100000)
H3_MAC = '02:00:00:00:22:03'
def vf_table():
    return subprocess.run([CTL, 'vf', 'show', PF], check=True, stdout=subprocess.PIPE, text=True).stdout


def links():
    """Our PF's netdevs (PF, VFs, switch ports, VLAN bridges) and any stray Mininet name, by
       index, name, admin state, MTU, master and MAC. Carrier and operstate are left out: a
       bridge's follow its ports, and are no state of the VFs."""
    out = subprocess.run(['ip', '-o', 'link'], check=True, stdout=subprocess.PIPE, text=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r'(\d+): ([^:@]+)[^<]*<([^>]*)>', line)
        if m and (m.group(2).startswith(PF) or re.match(r'h\d+-eth\d+$', m.group(2))):
            extra = [re.search(p, line) for p in (r' mtu (\d+)', r' master (\S+)', r'link/ether (\S+)')]
            rows.append((m.group(1), m.group(2), 'UP' in m.group(3).split(','),
                         *(x.group(1) if x else None for x in extra)))
    return rows


def records(table):
    "The plugin's allocation records of our PF's VFs."
    vfs = re.findall(r'^\s+vf \d+ (\S+)', table, re.M)
    return [v for v in vfs if os.path.exists('/run/vfwire/alloc/' + v)]


def ping(host, addr):
    "One probe; needs a reply within 2 s."
    return host.pexec('ping', '-c', '1', '-W', '2', addr)[2] == 0


def stop(net):
    try:
        net.stop()
    finally:
        # Should a DEL have failed, net.stop stopped short of the hosts: no shell stays behind.
        for h in net.hosts:
            h.terminate()


class Line(Topo):
    "h1 -- h2 -- h3: a VLAN and a /24 per link, the hosts with no address of Mininet's."

    def build(self, *_args, **_params):
        h1, h2, h3 = (self.addHost(n, ip=None) for n in ('h1', 'h2', 'h3'))
        self.addLink(h1, h2, pf=PF, vlan=101, params1={'ip': '198.18.21.1/24'},
                     params2={'ip': '198.18.21.2/24'})
        self.addLink(h2, h3, pf=PF, vlan=102, params1={'ip': '198.18.22.2/24'},
                     params2={'ip': '198.18.22.3/24', 'mac': H3_MAC})


def test_failed_links(before):
    """A CNI error is a CNIError with its code and msg; a failed link, whichever end failed and
       however, leaves nothing attached."""
    net = Mininet(controller=None)
    try:
        h1, h2 = net.addHost('h1', ip=None), net.addHost('h2', ip=None)
        for what, cni, opts in (
                ('first end refused', True, {'vlan': 5000}),
                ('second end refused', True, {'vlan': 101, 'params2': {'pf': PF + 'x'}}),
                # Attached, then Mininet's own Intf.config fails: no prefix length.
                ('second end misconfigured', False, {'vlan': 101, 'params2': {'ip': '198.18.21.2'}})):
            try:
                net.addLink(h1, h2, cls=VFLink, **dict({'pf': PF}, **opts))
                check(what + ': raises', False, 'no exception')
            except Exception as e:  # pylint: disable=broad-except
                check('%s: raises %r' % (what, e), isinstance(e, CNIError) == cni and (
                    not cni or isinstance(e.code, int) and e.code > 0 and bool(e.msg)), e)
            check(what + ': no interface left in Mininet or the hosts',
                  not h1.intfList() and not h2.intfList() and not net.links
                  and 'eth' not in h1.cmd('ip -o link') + h2.cmd('ip -o link'))
            check(what + ': VF table, links and records as before',
                  (vf_table(), links(), records(vf_table())) == before,
                  (vf_table(), links()))
    finally:
        stop(net)


def test_line(before):
    net = Mininet(Line(), link=VFLink, controller=None)
    try:
        net.start()
        h1, h2, h3 = net.get('h1', 'h2', 'h3')
        check('Mininet names the VFs', [h.intfNames() for h in (h1, h2, h3)]
              == [['h1-eth0'], ['h2-eth0', 'h2-eth1'], ['h3-eth0']],
              [h.intfNames() for h in (h1, h2, h3)])
        check('Mininet sees the addresses and the MAC asked for',
              (h1.IP(), h2.intf('h2-eth1').IP(), h3.MAC()) == ('198.18.21.1', '198.18.22.2', H3_MAC)
              and 'inet 198.18.22.3/24' in h3.cmd('ip -o addr show h3-eth0')
              and H3_MAC in h3.cmd('ip -o link show h3-eth0'))
        table = vf_table()
        want = sorted((h.intf(n).MAC(), v) for h, n, v in (
            (h1, 'h1-eth0', '101'), (h2, 'h2-eth0', '101'), (h2, 'h2-eth1', '102'), (h3, 'h3-eth0', '102')))
        check("each VF has its link's VLAN and Mininet's MAC",
              sorted(re.findall(r' mac (\S+) vlan (\d+)', table)) == want, table)
        check('four allocation records', len(records(table)) == 4, records(table))
        for src, dst, addr in ((h1, h2, '198.18.21.2'), (h2, h1, '198.18.21.1'),
                               (h2, h3, '198.18.22.3'), (h3, h2, '198.18.22.2')):
            check('%s reaches %s at %s' % (src, dst, addr), ping(src, addr))
        # Each end takes the other link's subnet as on-link, so over one flat segment h1 would
        # ask for h3's address and h3 answer. The same probe to h2's link-2 address is answered
        # by h2 over VLAN 101 (Linux answers ARP for any address of its own), and h2 does not
        # forward (a new namespace's default).
        h1.cmd('ip route add 198.18.22.0/24 dev h1-eth0')
        h3.cmd('ip route add 198.18.21.0/24 dev h3-eth0')
        check('h1 reaches h2 at 198.18.22.2 on-link (the isolation probe works)', ping(h1, '198.18.22.2'))
        check('h1 cannot reach h3 at 198.18.22.3 (VLAN 101 is not 102)', not ping(h1, '198.18.22.3'))
        try:
            net.addLink(h1, h3, cls=VFLink, pf=PF, vlan=103)
            check('a fifth VF: CNIError', False, 'no exception')
        except CNIError as e:
            check('a fifth VF: CNIError 101 (no free VF)', e.code == 101, e)
        check('a fifth VF: nothing changed', len(net.links) == 2 and vf_table() == table
              and h1.intfNames() == ['h1-eth0'] and h3.intfNames() == ['h3-eth0'])
    finally:
        stop(net)
    after = vf_table()
    check('net.stop restores every VF (VF table)', after == before[0], after)
    check('net.stop restores every VF (links)', links() == before[1], links())
    check('net.stop leaves no allocation record', not records(after), records(after))


def main():
    if os.geteuid() != 0:
        sys.exit('test_vflink: run as root')
    setLogLevel('warning')
    # Mininet's first instance raises machine-wide sysctls (socket buffers, ARP cache) for big
    # networks; three hosts need none of that, and other suites share this machine.
    Mininet.inited = True
    subprocess.run([CTL, 'sim', 'create', PF, '--vfs', '4'], check=True, stdout=subprocess.DEVNULL)
    try:
        before = (vf_table(), links(), [])
        test_failed_links(before)
        test_line(before)
    finally:
        subprocess.run([CTL, 'sim', 'destroy', PF], check=True)
    sys.exit(summary('mininet'))


if __name__ == '__main__':
    main()
