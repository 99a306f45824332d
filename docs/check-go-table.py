#!/usr/bin/env python3
"""Every uvgo name that docs/go-to-uvgo.md mentions must exist in the public
headers (so the table cannot drift from the API), and every public function
must appear in the table, in full or under a documented family spelling
(`uvgo_tls_config_set_ca_file`, `_set_ca_dir` ...; `uvgo_chan_retain/release`).
Usage: check-go-table.py SOURCE-ROOT"""
import glob
import os
import re
import sys

root = sys.argv[1]
headers = ''
for h in sorted(glob.glob(os.path.join(root, 'include', 'uvgo', '*.h'))) + \
        [os.path.join(root, 'include', 'uvgo.h')]:
    with open(h, encoding='utf-8') as f:
        headers += f.read()
declared = set(re.findall(r'\b(uvgo_\w+|UVGO_\w+)\b', headers))
public_fns = set(re.findall(r'UVGO_EXTERN[^;(]*?\b(uvgo_\w+)\s*\(', headers))
macros = set(re.findall(r'#define\s+(uvgo_\w+)\(', headers))

with open(os.path.join(root, 'docs', 'go-to-uvgo.md'), encoding='utf-8') as f:
    table = f.read()
code = ' '.join(re.findall(r'`([^`]*)`', table))
mentioned = set(re.findall(r'\b(uvgo_\w+|UVGO_\w+)\b', code))

# `uvgo_conn_*` is a wildcard, not a name.
missing = sorted(n for n in mentioned
                 if n not in declared and not n.endswith('_'))
# Expand the table's shorthands: `uvgo_x_retain/release`, and `_suffix`
# after a full name of the same family in the same cell.
covered = set(mentioned)
for cell in re.findall(r'`([^`]*)`', table):
    for m in re.finditer(r'\b(uvgo_\w+)_(\w+)/(\w+)', cell):
        covered.add(m.group(1) + '_' + m.group(3))
for row in table.split('\n'):
    names = re.findall(r'`(uvgo_\w+)', row)
    shorts = re.findall(r'`_(\w+)`', row)
    for s in shorts:
        for n in names:
            stem = n.rsplit('_', 1)[0]
            while stem.count('_') >= 1:
                if stem + '_' + s in public_fns:
                    covered.add(stem + '_' + s)
                    break
                stem = stem.rsplit('_', 1)[0]
# A function behind a same-named macro (uvgo_go -> uvgo_go_at) is covered
# by the macro.
uncovered = sorted(fn for fn in public_fns
                   if fn not in covered
                   and not (fn.endswith('_at') and fn[:-3] in covered))
status = 0
if missing:
    print('go-to-uvgo.md names that no public header declares:')
    for n in missing:
        print('  ' + n)
    status = 1
if uncovered:
    print('public functions the go-to-uvgo.md table does not mention:')
    for n in uncovered:
        print('  ' + n)
    status = 1
if status == 0:
    print('go-to-uvgo.md: %d names, all declared; all %d public functions '
          'covered' % (len(mentioned), len(public_fns)))
sys.exit(status)
