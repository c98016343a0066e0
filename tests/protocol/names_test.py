#!/usr/bin/env python3
"""Fails if a protocol name differs between the host, the Lua side and the fake host.

Usage: names_test.py PRINT_NAMES

Each side is read the way its own code reads it:
  host/protocol.h                  through PRINT_NAMES, a program compiled against it (and
                                   its text, for constants missing from its protocol_names)
  lua/himalaya_coord/protocol.lua  through Neovim, with require('himalaya_coord.protocol')
  tests/lua/fake_host.py           by importing it (it parses protocol.lua itself)
and every (table, key) must have the same name in all three. NVIM selects the Neovim binary
(default: nvim); without one the test is skipped (exit 77).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

# Writes each table, key and name of the Lua module as a line to the file $NAMES_OUT.
DUMP_LUA = r'''
local out = assert(io.open(os.getenv('NAMES_OUT'), 'w'))
for table_name, names in pairs(require('himalaya_coord.protocol')) do
  for key, name in pairs(names) do
    if type(name) ~= 'string' then
      name = '<' .. type(name) .. '>'
    end
    out:write(table_name, ' ', key, ' ', name, '\n')
  end
end
out:close()
'''


def parse_lines(text, source):
    names = {}
    for line in text.splitlines():
        fields = line.split(' ')
        if len(fields) != 3:
            raise SystemExit('%s: not a `table key name` line: %r' % (source, line))
        names[(fields[0], fields[1])] = fields[2]
    return names


def cpp_names(program):
    output = subprocess.run([program], check=True, capture_output=True, text=True).stdout
    names = parse_lines(output, 'host/protocol.h')
    # protocol_names is written by hand next to the constants: a constant left out of it would
    # escape the comparison, so the constants themselves are listed from the header's text.
    declared = set()
    namespace = None
    with open(os.path.join(ROOT, 'host', 'protocol.h')) as f:
        for line in f:
            opening = re.match(r'namespace (\w+) \{', line)
            constant = re.match(r'inline constexpr const char\* (\w+) =', line)
            if opening:
                namespace = opening.group(1)
            elif constant:
                declared.add((namespace, constant.group(1)))
    unlisted = sorted('%s::%s' % key for key in declared - names.keys())
    if unlisted:
        raise SystemExit('host/protocol.h: not in protocol_names: ' + ', '.join(unlisted))
    return names


def lua_names(nvim):
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, 'names')
        lua = os.path.join(work, 'dump.lua')
        with open(lua, 'w') as f:
            f.write(DUMP_LUA)
        subprocess.run([nvim, '--headless', '-u', 'NONE', '-i', 'NONE', '-n',
                        '--cmd', 'set rtp^=' + ROOT, '-c', 'luafile ' + lua, '-c', 'qa!'],
                       env=dict(os.environ, NAMES_OUT=out), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, check=False)
        if not os.path.exists(out):
            raise SystemExit('Neovim did not list the names of lua/himalaya_coord/protocol.lua')
        with open(out) as f:
            return parse_lines(f.read(), 'protocol.lua')


def fake_host_names():
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'lua'))
    import fake_host  # pylint: disable=import-outside-toplevel
    return {(table, key): name
            for table, names in fake_host.PROTOCOL.items() for key, name in names.items()}


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    nvim = shutil.which(os.environ.get('NVIM', 'nvim'))
    if not nvim:
        print('skip: no nvim')
        return 77
    sides = [
        ('host/protocol.h', cpp_names(sys.argv[1])),
        ('lua/himalaya_coord/protocol.lua', lua_names(nvim)),
        ('tests/lua/fake_host.py', fake_host_names()),
    ]
    if not sides[0][1]:
        print('host/protocol.h lists no names')
        return 1
    differences = []
    for table, key in sorted(set().union(*(names.keys() for _, names in sides))):
        spelled = [(side, names.get((table, key))) for side, names in sides]
        if len({name for _, name in spelled}) > 1:
            differences.append('%s.%s: %s' % (table, key, ', '.join(
                '%s %s' % (side, repr(name) if name is not None else 'has none')
                for side, name in spelled)))
    if differences:
        print('protocol names differ:')
        for line in differences:
            print('  ' + line)
        return 1
    print('protocol names: %d, the same in %s' % (len(sides[0][1]),
                                                  ', '.join(side for side, _ in sides)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
