"""What the script tests (Tests/mininet, Tests/k8s) share: where the binaries are, and one
'ok:'/'FAIL:' line per check with a closing 'N passed, M failed' line, which the CI reads.
Binaries come from VFWIRE_BIN_DIR, or else from `swift build --show-bin-path` (build first)."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get('VFWIRE_BIN_DIR') or subprocess.run(
    ['swift', 'build', '--show-bin-path'], cwd=REPO, check=True,
    stdout=subprocess.PIPE, text=True).stdout.strip()
CTL = os.path.join(BIN, 'vfwirectl')
PLUGIN = os.path.join(BIN, 'vfwire')

_counts = {'passed': 0, 'failed': 0}


def check(what, ok, detail=''):
    _counts['passed' if ok else 'failed'] += 1
    print('%s: %s%s' % ('ok' if ok else 'FAIL', what, '' if ok else '\n    ' + str(detail)))
    return ok


def summary(name=''):
    "Prints the closing line; the script's exit code."
    print('%s%d passed, %d failed' % (name + ': ' if name else '', _counts['passed'], _counts['failed']))
    return 1 if _counts['failed'] else 0
