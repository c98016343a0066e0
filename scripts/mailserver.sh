#!/bin/bash
# A throw-away IMAP server (Dovecot on loopback) and an mbsync setup for it,
# for tests and demos. Must run as root (Dovecot drops to its own users).
#
#   mailserver.sh start DIR           start Dovecot for user alice (password
#                                     "secret") with everything under DIR; prints
#                                     PORT=<port> and MBSYNCRC=<path>
#   mailserver.sh deliver DIR SUBJECT put a message into alice's server INBOX
#   mailserver.sh logins DIR          print how many IMAP logins the server saw
#   mailserver.sh stop DIR            stop the server and wait until it is gone
#
# DIR should be a fresh directory (it is created if missing). Layout:
#   DIR/dovecot.conf DIR/passwd   the server's configuration
#   DIR/run/ DIR/state/           Dovecot's base_dir and state_dir
#   DIR/dovecot.log               the server log; one login line per IMAP login
#                                 ("Login: user=<alice>" on Dovecot 2.3,
#                                 "Logged in: user=<alice>" on 2.4)
#   DIR/mail/alice/               alice's server-side Maildir (owned by nobody)
#   DIR/mbsyncrc                  an mbsync config (use `mbsync -c DIR/mbsyncrc -a`)
#   DIR/Mail/                     mbsync's local Maildirs (DIR/Mail/INBOX, ...)
#
# Dovecot 2.3 (Debian 12) and 2.4 (Debian 13) take different configuration
# syntax; `dovecot --version` picks one. The mbsyncrc says TLSType on isync
# 1.5 and later, SSLType before (1.4 does not know TLSType; 1.5 warns that
# SSLType is deprecated).
#
# HIMALAYA_MAILSERVER_EXTRA_CONFIG, if set, is appended to dovecot.conf as is
# (tests use it to make an installed Dovecot refuse its configuration).
#
# Exit status: 0 on success, 1 on a usage error, 2 when Dovecot is installed
# but cannot start (the reason is on stderr), 3 when Dovecot is not installed.
set -eu

usage() {
  echo "usage: $0 start|stop|logins DIR | deliver DIR SUBJECT" >&2
  exit 1
}

[ $# -ge 2 ] || usage
action=$1
dir=$2

# A free loopback TCP port, chosen by the kernel; a random high one otherwise.
free_port() {
  for py in python3 /usr/bin/python3; do
    if port=$("$py" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null); then
      echo "$port"
      return
    fi
  done
  echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

master_pid() {
  [ -s "$dir/run/master.pid" ] && cat "$dir/run/master.pid"
}

# The major.minor of the installed Dovecot ("2.3.19.1 (9b53102964)" -> 2.3).
dovecot_series() {
  "$dovecot_bin" --version | sed -n '1s/^\([0-9]*\.[0-9]*\).*/\1/p'
}

write_config() {
  case $(dovecot_series) in
    2.2 | 2.3) write_config_23 "$1" ;;
    *) write_config_24 "$1" ;;
  esac
  if [ -n "${HIMALAYA_MAILSERVER_EXTRA_CONFIG:-}" ]; then
    printf '%s\n' "$HIMALAYA_MAILSERVER_EXTRA_CONFIG" >>"$dir/dovecot.conf"
  fi
}

# The same server in Dovecot 2.4's syntax: version settings first, named
# passdb/userdb blocks, mail_driver/mail_path, %{user}, and the listener's
# address as `listen`.
write_config_24() {
  port=$1
  cat >"$dir/dovecot.conf" <<EOF
# Written by mailserver.sh: a private Dovecot 2.4 on 127.0.0.1:$port.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
mail_driver = maildir
mail_path = $dir/mail/%{user}
mail_home = $dir/mail/%{user}
passdb passwd-file {
  passwd_file_path = $dir/passwd
}
userdb static {
  fields {
    uid = nobody
    gid = nogroup
    home = $dir/mail/%{user}
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    listen = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
}

# The mbsyncrc keyword for the TLS mode: TLSType from isync 1.5 on.
tls_keyword() {
  version=$(mbsync --version 2>/dev/null |
    sed -n '1s/^isync \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  # shellcheck disable=SC2086 # "MAJOR MINOR" into $1 $2
  set -- $version
  if [ $# -eq 2 ] && { [ "$1" -gt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -ge 5 ]; }; }; then
    echo TLSType
  else
    echo SSLType
  fi
}

write_config_23() {
  port=$1
  cat >"$dir/dovecot.conf" <<EOF
# Written by mailserver.sh: a private Dovecot 2.3 on 127.0.0.1:$port.
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$dir/mail/%u
passdb {
  driver = passwd-file
  args = $dir/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dir/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
}

start() {
  if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    echo "dovecot is not installed (Debian package dovecot-imapd)" >&2
    exit 3
  fi
  dovecot_bin=$(command -v dovecot 2>/dev/null || echo /usr/sbin/dovecot)
  mkdir -p "$dir"
  chmod 755 "$dir"
  mkdir -p "$dir/run" "$dir/state" "$dir/mail/alice/cur" "$dir/mail/alice/new" \
    "$dir/mail/alice/tmp" "$dir/Mail"
  chmod 755 "$dir/run" "$dir/state"
  chown -R nobody:nogroup "$dir/mail"
  echo 'alice:{PLAIN}secret::::::' >"$dir/passwd"
  chmod 644 "$dir/passwd"

  attempt=0
  while :; do
    attempt=$((attempt + 1))
    port=$(free_port)
    write_config "$port"
    # A configuration Dovecot rejects fails the same way on every port.
    if ! out=$("$dovecot_bin" -c "$dir/dovecot.conf" -n 2>&1 >/dev/null); then
      echo "dovecot cannot start: it rejects the configuration $dir/dovecot.conf" \
        "($("$dovecot_bin" --version)): $out" >&2
      exit 2
    fi
    : >"$dir/dovecot.log"
    chmod 644 "$dir/dovecot.log"
    # The daemon keeps inherited descriptors open: send its output to a file,
    # not to a pipe that would never see end-of-file.
    if ! "$dovecot_bin" -c "$dir/dovecot.conf" >"$dir/dovecot.start.out" 2>&1 </dev/null; then
      out=$(cat "$dir/dovecot.start.out")
      # Another process may have taken the port in between: try another one.
      if [ $attempt -lt 5 ]; then
        continue
      fi
      echo "dovecot cannot start: $out $(tail -n 5 "$dir/dovecot.log" 2>/dev/null)" >&2
      exit 2
    fi
    # Wait (up to 10 s) for the listener; give up early if the master died.
    i=0
    while [ $i -lt 200 ]; do
      if port_open "$port"; then
        break
      fi
      pid=$(master_pid || true)
      if [ $i -gt 20 ] && { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; }; then
        break
      fi
      sleep 0.05
      i=$((i + 1))
    done
    if port_open "$port"; then
      break
    fi
    stop_server
    if [ $attempt -ge 5 ]; then
      echo "dovecot cannot start: nothing listens on 127.0.0.1:$port;" \
        "log: $(tail -n 5 "$dir/dovecot.log" 2>/dev/null)" >&2
      exit 2
    fi
  done

  cat >"$dir/mbsyncrc" <<EOF
# Written by mailserver.sh: alice's mail on 127.0.0.1:$port, synced to $dir/Mail/.
IMAPAccount test
Host 127.0.0.1
Port $port
User alice
Pass secret
$(tls_keyword) None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path $dir/Mail/
Inbox $dir/Mail/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
SyncState *
EOF
  echo "PORT=$port"
  echo "MBSYNCRC=$dir/mbsyncrc"
}

# Stops the master (if any) and waits up to 10 s for it to exit.
stop_server() {
  pid=$(master_pid || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ $i -ge 200 ]; then
      kill -9 "$pid" 2>/dev/null || true
      echo "dovecot (pid $pid) did not stop within 10 s; killed" >&2
      return 1
    fi
    sleep 0.05
    i=$((i + 1))
  done
}

deliver() {
  subject=$1
  box="$dir/mail/alice"
  name="$(date +%s).$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ').$(hostname)"
  tmp="$box/tmp/$name"
  cat >"$tmp" <<EOF
From: Bob <bob@example.org>
To: Alice <alice@example.org>
Subject: $subject
Date: $(date -R)
Message-ID: <$name@example.org>

$subject
EOF
  chown nobody:nogroup "$tmp"
  mv "$tmp" "$box/new/$name"
}

case $action in
  start) start ;;
  stop) stop_server ;;
  deliver)
    [ $# -ge 3 ] || usage
    deliver "$3"
    ;;
  # "imap-login: Info: Login: user=<alice>" (2.3); "... Logged in: user=<alice>" (2.4).
  logins) grep -c -E 'imap-login: Info: (Login|Logged in): user=<alice>' "$dir/dovecot.log" || true ;;
  *) usage ;;
esac
