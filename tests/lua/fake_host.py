#!/usr/bin/env python3
"""A stand-in for the himalaya-coord host, speaking the Lua side's protocol (SPEC §4).

Python standard library only, with a small msgpack codec, so the Lua tests need nothing but
nvim and python3. FAKE_HOST_MODE selects the behaviour:

  normal  register the commands, call _host_ready and _sync_state, answer `status` and `ping`;
          on `sync_now`, fire HimalayaSyncStarted and HimalayaSyncDone (a manual sync, ok)
  hang    register and call _host_ready, then never answer anything
  crash   write a line to stderr and exit with code 3 at once
  stale   as normal, but this instance is a Secondary and the primary, another instance, is stale
  primary-in-lines-only
          as normal, but the primary is only in the report's lines, not in the status facts

FAKE_HOST_RECORD, if set, is a file to which each start appends its --config JSON (one line).

FAKE_HOST_PUSH, if set, is a JSON file read at each `status` and `push_check`, so that a test can
change it while the host runs: {"status": <the status's `push` facts>, "check": <the result of
push_check, or null for no answer at all>}. A key left out, or no file, gives the defaults
below: idling on 127.0.0.1:993, and a check that logged in as alice and found IDLE.
FAKE_HOST_PUSH_LOG, if set, is a file to which each push_check appends a line.
"""

import json
import os
import re
import struct
import sys
import time

PROTOCOL_LUA = os.path.join(os.path.dirname(os.path.realpath(__file__)),
                            '..', '..', 'lua', 'himalaya_coord', 'protocol.lua')


def read_protocol(path=PROTOCOL_LUA):
    """The tables of lua/himalaya_coord/protocol.lua as {table: {key: name}}.

    The file keeps a fixed shape (one `key = 'name',` per line), and any line of another shape
    raises ValueError rather than being skipped: a name this reader missed would let the fake
    host drift from the real one unseen. tests/protocol/names_test.py compares the result with
    what Neovim itself reads from the file.
    """
    tables = None  # set by `return {`
    current = None  # the table whose entries follow
    ended = False
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith('--'):
                continue
            entry = re.fullmatch(r"(\w+) = '([^'\\]*)',(?: --.*)?", text)
            opening = re.fullmatch(r'(\w+) = \{(?: --.*)?', text)
            if tables is None and text == 'return {':
                tables = {}
            elif tables is not None and not ended and current is None and opening:
                current = tables.setdefault(opening.group(1), {})
            elif current is not None and entry:
                current[entry.group(1)] = entry.group(2)
            elif current is not None and text == '},':
                current = None
            elif tables is not None and not ended and current is None and text == '}':
                ended = True
            else:
                raise ValueError('%s:%d: not a line of the expected shape: %s'
                                 % (path, number, text))
    if not ended:
        raise ValueError('%s: no complete `return { ... }`' % path)
    return tables


# The names the real host uses (host/protocol.h), from the one list both sides share.
PROTOCOL = read_protocol()
METHOD = PROTOCOL['method']
EVENT = PROTOCOL['event']


def lua_call(function, returns=False):
    """The code for nvim_exec_lua that calls a lua_fn, as host/neovim.cpp builds it."""
    return "%srequire('himalaya_coord').%s(...)" % ('return ' if returns else '',
                                                   PROTOCOL['lua_fn'][function])


def pack(obj):
    if obj is None:
        return b'\xc0'
    if obj is True:
        return b'\xc3'
    if obj is False:
        return b'\xc2'
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return struct.pack('B', obj)
        if -32 <= obj < 0:
            return struct.pack('b', obj)
        return b'\xd3' + struct.pack('>q', obj)
    if isinstance(obj, float):
        return b'\xcb' + struct.pack('>d', obj)
    if isinstance(obj, str):
        data = obj.encode()
        return b'\xdb' + struct.pack('>I', len(data)) + data
    if isinstance(obj, (list, tuple)):
        return b'\xdd' + struct.pack('>I', len(obj)) + b''.join(pack(x) for x in obj)
    if isinstance(obj, dict):
        out = b'\xdf' + struct.pack('>I', len(obj))
        for key, value in obj.items():
            out += pack(key) + pack(value)
        return out
    raise TypeError(type(obj))


class Reader:
    def __init__(self, stream):
        self.stream = stream

    def read(self, n):
        data = b''
        while len(data) < n:
            chunk = self.stream.read(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def unpack(self):
        b = self.read(1)[0]
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return [self.unpack() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return self.read(b & 0x1F).decode()
        fixed = {
            0xC0: lambda: None,
            0xC2: lambda: False,
            0xC3: lambda: True,
            0xCA: lambda: struct.unpack('>f', self.read(4))[0],
            0xCB: lambda: struct.unpack('>d', self.read(8))[0],
            0xCC: lambda: self.read(1)[0],
            0xCD: lambda: struct.unpack('>H', self.read(2))[0],
            0xCE: lambda: struct.unpack('>I', self.read(4))[0],
            0xCF: lambda: struct.unpack('>Q', self.read(8))[0],
            0xD0: lambda: struct.unpack('>b', self.read(1))[0],
            0xD1: lambda: struct.unpack('>h', self.read(2))[0],
            0xD2: lambda: struct.unpack('>i', self.read(4))[0],
            0xD3: lambda: struct.unpack('>q', self.read(8))[0],
            0xD9: lambda: self.read(self.read(1)[0]).decode(),
            0xDA: lambda: self.read(struct.unpack('>H', self.read(2))[0]).decode(),
            0xDB: lambda: self.read(struct.unpack('>I', self.read(4))[0]).decode(),
            0xC4: lambda: self.read(self.read(1)[0]),
            0xC5: lambda: self.read(struct.unpack('>H', self.read(2))[0]),
            0xC6: lambda: self.read(struct.unpack('>I', self.read(4))[0]),
            0xDC: lambda: [self.unpack() for _ in range(struct.unpack('>H', self.read(2))[0])],
            0xDD: lambda: [self.unpack() for _ in range(struct.unpack('>I', self.read(4))[0])],
            0xDE: lambda: self.map(struct.unpack('>H', self.read(2))[0]),
            0xDF: lambda: self.map(struct.unpack('>I', self.read(4))[0]),
            0xD4: lambda: self.ext(1),
            0xD5: lambda: self.ext(2),
            0xD6: lambda: self.ext(4),
            0xD7: lambda: self.ext(8),
            0xD8: lambda: self.ext(16),
            0xC7: lambda: self.ext(self.read(1)[0]),
        }
        if b in fixed:
            return fixed[b]()
        raise ValueError('unsupported msgpack byte 0x%02x' % b)

    def map(self, n):
        return {self.unpack(): self.unpack() for _ in range(n)}

    def ext(self, n):
        kind = self.read(1)[0]
        return ('ext', kind, self.read(n))


class Host:
    def __init__(self):
        self.reader = Reader(sys.stdin.buffer)
        self.out = sys.stdout.buffer
        self.next_id = 1
        self.notifications = []

    def send(self, message):
        self.out.write(pack(message))
        self.out.flush()

    def request(self, method, *params):
        msgid = self.next_id
        self.next_id += 1
        self.send([0, msgid, method, list(params)])
        while True:
            message = self.reader.unpack()
            if message[0] == 1 and message[1] == msgid:
                if message[2] is not None:
                    sys.stderr.write('fake host: %s failed: %r\n' % (method, message[2]))
                return message[3]
            if message[0] == 2:
                self.notifications.append(message)
            elif message[0] == 0:
                self.send([1, message[1], [0, 'fake host: no requests'], None])

    def lua(self, code, *args):
        return self.request('nvim_exec_lua', code, list(args))

    def next_notification(self):
        if self.notifications:
            return self.notifications.pop(0)
        while True:
            message = self.reader.unpack()
            if message[0] == 2:
                return message
            if message[0] == 0:
                self.send([1, message[1], [0, 'fake host: no requests'], None])


DEFAULT_PUSH_STATUS = {'state': 'idling', 'server': '127.0.0.1:993', 'mailboxes': ['INBOX'],
                       'last_event_age': 3.0}


def push_facts(cfg):
    """The push facts of FAKE_HOST_PUSH: (status `push` table, push_check result or None)."""
    check = {'enabled': cfg['sync']['push']['enabled'], 'ok': True, 'idle': True,
             'server': '127.0.0.1:993', 'user': 'alice', 'mailbox': 'INBOX',
             'config': '/home/alice/.mbsyncrc', 'message': 'logged in; INBOX offers IDLE'}
    facts = {}
    path = os.environ.get('FAKE_HOST_PUSH')
    if path and os.path.exists(path):
        with open(path, encoding='utf-8') as f:
            facts = json.load(f)
    return facts.get('status', DEFAULT_PUSH_STATUS), facts.get('check', check)


def main():
    if sys.argv[1:] == ['--version']:
        print('himalaya-coord 0.0.1-fake')
        return
    mode = os.environ.get('FAKE_HOST_MODE', 'normal')
    config_text = sys.argv[sys.argv.index('--config') + 1]
    record = os.environ.get('FAKE_HOST_RECORD')
    if record:
        with open(record, 'a') as f:
            f.write(config_text + '\n')
    if mode == 'crash':
        sys.stderr.write('fake host: crashing on purpose\n')
        sys.exit(3)
    cfg = json.loads(config_text)
    host = Host()
    channel = host.request('nvim_get_api_info')[0]
    for command, fn in (('status', 'open_status'), ('sync_now', 'sync_now')):
        host.request('nvim_create_user_command', PROTOCOL['user_command'][command],
                     "lua require('himalaya_coord').%s()" % fn, {'force': True})
    host.lua(lua_call('host_ready', returns=True), channel, 'fake-0.0.1')
    host.lua(lua_call('sync_state'), {'role': 'Primary Coordinator', 'syncing': False})
    while True:
        _, method, params = host.next_notification()
        if mode == 'hang':
            continue
        if method == METHOD['status']:
            role = 'Secondary' if mode == 'stale' else 'Primary Coordinator'
            value = {
                'lines': [
                    '# Himalaya Sync Coordination Status',
                    '',
                    '## Current Instance',
                    '  Instance ID: ' + cfg['instance_id'],
                    '  Role: ' + role,
                    '  PID: %d' % cfg['nvim_pid'],
                ],
                'instance': {'id': cfg['instance_id'], 'role': role, 'pid': cfg['nvim_pid']},
                'primary': {'instance_id': cfg['instance_id'], 'pid': cfg['nvim_pid'],
                            'heartbeat_age': 5.5, 'active': True},
                'last_sync': None,
                'cooldown_remaining': 0,
                'push': push_facts(cfg)[0],
                'desktop_session': {'session': "session 2 (the user's display session)",
                                    'problem': '', 'away': False},
            }
            if mode == 'stale':
                value['primary'] = {'instance_id': 'nvim_1_1', 'pid': 1, 'heartbeat_age': 75.0,
                                    'active': False}
                value['desktop_session'] = {'session': '', 'problem': 'not the primary',
                                            'away': False}
            elif mode == 'primary-in-lines-only':
                del value['primary']
                value['lines'] += ['', '## Primary Coordinator', '  Instance: nvim_1_1',
                                   '  PID: 1', '  Last Heartbeat: 5 seconds ago',
                                   '  Status: Active']
            host.lua(lua_call('deliver'), params[0], value)
        elif method == METHOD['push_check']:
            log = os.environ.get('FAKE_HOST_PUSH_LOG')
            if log:
                with open(log, 'a') as f:
                    f.write('push_check\n')
            result = push_facts(cfg)[1]
            if result is not None:
                host.lua(lua_call('deliver'), params[0], result)
        elif method == METHOD['ping']:
            host.lua(lua_call('deliver'), params[0], 'pong')
        elif method == METHOD['sync_now']:
            host.lua(lua_call('notify'), 'sync started', 'INFO')
            started = {'instance_id': cfg['instance_id'], 'trigger': 'manual',
                       'started': time.time()}
            host.lua(lua_call('event'), EVENT['sync_started'], started)
            done = dict(started, outcome='ok', duration=0.0, message='')
            host.lua(lua_call('event'), EVENT['sync_done'], done)


if __name__ == '__main__':
    try:
        main()
    except EOFError:
        pass
