#!/usr/bin/env python3
"""`vfwirectl topo export --k8s` against the Kubernetes schemas, and one of its
NetworkAttachmentDefinitions fed to the plugin as Multus feeds it.

Run as root with the test venv's python (install.sh --test-deps makes it), under the lock the
emulated-NIC suites share:
    flock /tmp/vfwire-itest.lock /opt/vfwire-test/venv/bin/python Tests/k8s/test_export.py
Binaries come from VFWIRE_BIN_DIR, or else from `swift build --show-bin-path` (build first).
A plain script: the CI reads its closing 'N passed, N failed' line.
"""

import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes_validate
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vfwtest import CTL, PLUGIN, check, summary  # pylint: disable=wrong-import-position
K8S = kubernetes_validate.latest_version()
TAG = 'k8%05d' % random.randrange(100000)
PF, NETNS = TAG + 'pf', TAG + 'ns'

# The structural schema of Multus's CRD (deployments/multus-daemonset.yml, apiextensions v1),
# which the API server applies to every NetworkAttachmentDefinition.
NAD_SCHEMA = {
    'type': 'object',
    'properties': {
        'apiVersion': {'type': 'string'},
        'kind': {'type': 'string'},
        'metadata': {'type': 'object'},
        'spec': {'type': 'object', 'properties': {'config': {'type': 'string'}}},
    },
}
# What the API server checks of every object's name beyond the schema: an RFC 1123 subdomain.
DNS_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')

TOPOLOGY = """\
name: %s
defaults:
  pf: [%s]
  image: debian:bookworm
nodes:
  gen: {cmd: "sleep 600"}
  dut: {host: worker-2, image: "registry.example/dut:1"}
  sink:
    host: worker-3
links:
  - endpoints: ["gen:eth1", "dut:eth1"]
  - endpoints: ["dut:eth2", "sink:eth1"]
    mode: [vfio, kernel]
""" % (TAG, PF)

def run(*args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def k8s_error(doc):
    "None when Kubernetes' schema for the document's kind accepts it, else the reason."
    try:
        kubernetes_validate.validate(doc, K8S, strict=True)
        return None
    except kubernetes_validate.ValidationError as e:
        return str(e.message)


def nad_error(doc):
    try:
        jsonschema.validate(doc, NAD_SCHEMA)
    except jsonschema.ValidationError as e:
        return e.message
    name = doc['metadata'].get('name', '')
    if not (DNS_SUBDOMAIN.match(name) and len(name) <= 253):
        return 'name %r is not a DNS subdomain' % name
    return None


def export(path, *extra):
    r = run(CTL, 'topo', 'export', path, '--k8s', *extra)
    return r, (list(yaml.safe_load_all(r.stdout)) if r.returncode == 0 else [])


def test_validates(docs):
    nads = [d for d in docs if d['kind'] == 'NetworkAttachmentDefinition']
    pods = [d for d in docs if d['kind'] == 'Pod']
    check('a NetworkAttachmentDefinition per link end, a Pod per node', (len(nads), len(pods)) == (4, 3),
          [d['kind'] for d in docs])
    # The validators must be able to say no, or their yes means nothing.
    broken_pod = copy.deepcopy(pods[0])
    broken_pod['spec']['containers'][0]['resources']['limits'] = 'one VF'
    check('kubernetes-validate refuses a Pod with a broken field', k8s_error(broken_pod) is not None)
    broken_nad = copy.deepcopy(nads[0])
    broken_nad['spec']['config'] = json.loads(broken_nad['spec']['config'])
    check('the CRD schema refuses a NAD whose config is not a string', nad_error(broken_nad) is not None)

    for p in pods:
        check('Pod %s validates against Kubernetes %s' % (p['metadata']['name'], K8S), k8s_error(p) is None, k8s_error(p))
    for n in nads:
        check('NAD %s validates against the Multus CRD' % n['metadata']['name'], nad_error(n) is None, nad_error(n))
        conf = json.loads(n['spec']['config'])
        check('... and its config is a conflist named as the NAD, delegating to vfwire',
              conf.get('name') == n['metadata']['name'] and [p['type'] for p in conf['plugins']] == ['vfwire'], conf)

    by_name = {n['metadata']['name']: n for n in nads}
    dut = next(p for p in pods if p['metadata']['name'] == TAG + '-dut')
    sel = json.loads(dut['metadata']['annotations']['k8s.v1.cni.cncf.io/networks'])
    check('the dut Pod asks for its two ends by NAD, interface and MAC',
          [(s['name'] in by_name, s['interface']) for s in sel] == [(True, 'eth1'), (True, 'eth2')]
          and all(re.match(r'^02(:[0-9a-f]{2}){5}$', s['mac']) for s in sel), sel)
    check('... and for one VF of each device-plugin pool, the vfio one for its vfio end',
          dut['spec']['containers'][0]['resources']['limits'] == {'vfwire.io/netdevice': '1', 'vfwire.io/vfio': '1'},
          dut['spec']['containers'][0]['resources'])
    check('... on the node its host names', dut['spec'].get('nodeSelector') == {'kubernetes.io/hostname': 'worker-2'},
          dut['spec'].get('nodeSelector'))
    vfio_nad = by_name[sel[1]['name']]
    check("the vfio end's NAD names the vfio pool and mode",
          vfio_nad['metadata']['annotations']['k8s.v1.cni.cncf.io/resourceName'] == 'vfwire.io/vfio'
          and json.loads(vfio_nad['spec']['config'])['plugins'][0].get('mode') == 'vfio', vfio_nad)
    return by_name, pods


def test_refusals(tmp):
    bare = os.path.join(tmp, 'bare.yaml')
    with open(bare, 'w') as f:
        f.write(TOPOLOGY.replace('  image: debian:bookworm\n', ''))
    r, _ = export(bare)
    check('a node without an image is refused, naming its line and --image',
          r.returncode == 1 and re.search(r'line \d+: node gen has no image.*--image', r.stderr), r.stderr)
    r, docs = export(bare, '--image', 'debian:bookworm')
    check('... and exported with --image', r.returncode == 0 and len(docs) == 7, r.stderr)
    clash = os.path.join(tmp, 'clash.yaml')
    with open(clash, 'w') as f:
        f.write(TOPOLOGY.replace('dut', 'D_1').replace('sink', 'd-1'))
    r, _ = export(clash)
    check('two nodes that become one Kubernetes name are refused, naming both',
          r.returncode == 1 and ("'d-1' and 'D_1'" in r.stderr or "'D_1' and 'd-1'" in r.stderr), r.stderr)


def test_multus_feed(by_name, pods):
    """What Multus does for the gen Pod's eth1: the NAD's conflist to libcni, whose runtimeConfig
       carries the annotation's MAC (the plugin declares the capability), and the device
       plugin's VF as deviceID in the delegate's config."""
    gen = next(p for p in pods if p['metadata']['name'] == TAG + '-gen')
    sel = json.loads(gen['metadata']['annotations']['k8s.v1.cni.cncf.io/networks'])[0]
    conflist = json.loads(by_name[sel['name']]['spec']['config'])
    vfs = json.loads(run(CTL, 'ls', '--json', check=True).stdout)['vfs']
    vf = next(v for v in vfs if v['pf'] == PF and v['vf'] == 1)
    conf = dict(conflist['plugins'][0], cniVersion=conflist['cniVersion'], name=conflist['name'],
                deviceID=vf['pci'], runtimeConfig={'mac': sel['mac']})
    env = dict(os.environ, CNI_CONTAINERID=TAG + '-gen', CNI_NETNS='/run/netns/' + NETNS,
               CNI_IFNAME=sel['interface'], CNI_PATH='/opt/cni/bin:/usr/lib/cni')
    add = run(PLUGIN, input=json.dumps(conf), env=dict(env, CNI_COMMAND='ADD'))
    check('the plugin ADDs the NAD as Multus delegates it', add.returncode == 0, add.stdout + add.stderr)
    if add.returncode != 0:
        return
    result = json.loads(add.stdout)
    inside = json.loads(run('ip', '-n', NETNS, '-j', 'addr', 'show', 'eth1', check=True).stdout)[0]
    check("... the device plugin's VF, with the Pod's MAC and the planned address, is eth1",
          inside['address'] == sel['mac']
          and [a['local'] for a in inside['addr_info'] if a['family'] == 'inet'] == ['198.18.0.1']
          and any(v['pci'] == vf['pci'] and v['state'] == 'attached'
                  for v in json.loads(run(CTL, 'ls', '--json', check=True).stdout)['vfs']),
          (inside, result))
    dele = run(PLUGIN, input=json.dumps(conf), env=dict(env, CNI_COMMAND='DEL'))
    after = next(v for v in json.loads(run(CTL, 'ls', '--json', check=True).stdout)['vfs'] if v['pci'] == vf['pci'])
    check('... and DEL gives it back', dele.returncode == 0 and after['state'] == 'free', (dele.stderr, after))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'lab.yaml')
        with open(path, 'w') as f:
            f.write(TOPOLOGY)
        r, docs = export(path)
        check('topo export --k8s', r.returncode == 0, r.stderr)
        again, _ = export(path)
        check('... prints the same bytes every time', again.stdout == r.stdout)
        if docs:
            by_name, pods = test_validates(docs)
            test_refusals(tmp)
            run(CTL, 'sim', 'create', PF, '--vfs', '2', check=True)
            run('ip', 'netns', 'add', NETNS, check=True)
            try:
                test_multus_feed(by_name, pods)
            finally:
                run('ip', 'netns', 'del', NETNS)
                run(CTL, 'sim', 'destroy', PF, '--force')
    return summary()


if __name__ == '__main__':
    sys.exit(main())
