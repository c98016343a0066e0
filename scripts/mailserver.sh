#!/bin/bash
# A throw-away IMAP server (Dovecot on loopback) and an mbsync setup for it,
# for tests and demos. Must run as root (Dovecot drops to its own users).
#
#   mailserver.sh start DIR [--plaintext] [--no-idle] [--rawlog]
#                                     start Dovecot for user alice (password
#                                     "secret") with everything under DIR; prints
#                                     HOST=<address>, PORT=<port>,
#                                     MBSYNCRC=<path>, TLS=<mode>
#                                     and, with TLS, IMAPS_PORT=<port> and
#                                     CERT=<path>
#   mailserver.sh deliver DIR SUBJECT put a message into alice's server INBOX
#   mailserver.sh logins DIR          print how many IMAP logins the server saw
#   mailserver.sh stop DIR            stop the server and wait until it is gone
#   mailserver.sh restart DIR         start a stopped server again: the same
#                                     configuration, ports, certificate and mail
#                                     (the log is kept and appended to)
#
# TLS is on by default: `start` makes a fresh self-signed certificate for
# HOST=127.0.0.2 (see `address` below for why not .1), 127.0.0.1 and
# localhost, valid for 2 days; PORT offers STARTTLS, IMAPS_PORT is TLS from
# the start, and Dovecot refuses any login before TLS (TLS=STARTTLS; the
# mbsyncrc says STARTTLS and trusts the certificate through CertificateFile).
# --plaintext gives the old server instead: HOST=127.0.0.1, no TLS at all,
# plaintext logins, no IMAPS_PORT or CERT, and TLS None in the mbsyncrc.
# --no-idle removes IDLE from the capabilities the server announces
# (imap_capability), for a client that must live without it.
# --rawlog makes every post-login IMAP session write what the client sent
# to DIR/rawlog/<date>-<time>-<imap pid>.in (and the server's answers to
# .out), decrypted: Dovecot's own record of which mailbox each session
# SELECTed, which its normal log does not have. The directory belongs to
# the mail user (nobody), as the imap processes run as that user. Off by
# default.
#
# DIR should be a fresh directory (it is created if missing). Layout:
#   DIR/dovecot.conf DIR/passwd   the server's configuration
#   DIR/tls/cert.pem              the server's certificate (world-readable: a
#                                 client trusts it through CertificateFile)
#   DIR/tls/key.pem               its private key (mode 0600, the caller's: root;
#                                 Dovecot reads it before dropping privileges)
#   DIR/run/ DIR/state/           Dovecot's base_dir and state_dir
#   DIR/dovecot.log               the server log; one login line per IMAP login
#                                 ("Login: user=<alice>" on Dovecot 2.3,
#                                 "Logged in: user=<alice>" on 2.4)
#   DIR/run/master.pid            the master's pid; each IMAP session is one
#                                 child `dovecot/imap [alice IP COMMAND]`
#                                 (verbose_proctitle), so a session in IDLE
#                                 shows as `[alice 127.0.0.1 IDLE]`
#   DIR/mail/alice/               alice's server-side Maildir (owned by nobody)
#   DIR/mbsyncrc                  an mbsync config (use `mbsync -c DIR/mbsyncrc -a`)
#   DIR/rawlog/                   with --rawlog: each IMAP session's commands
#                                 (*.in, each line "<epoch seconds> <command>")
#                                 and answers (*.out), owned by nobody
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
  echo "usage: $0 start DIR [--plaintext] [--no-idle] [--rawlog] | stop|restart|logins DIR | deliver DIR SUBJECT" >&2
  exit 1
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
tls=STARTTLS  # or None (--plaintext)
# The server's address. Dovecot counts a connection whose two ends have the
# same address as secured, and lets it log in without TLS whatever `ssl` says.
# A client on this machine connects from 127.0.0.1 (the loopback route's
# source), so a server on 127.0.0.2 sees it as remote and refuses plaintext
# logins. Without TLS, the server stays on 127.0.0.1.
address=127.0.0.2
idle=yes      # or no (--no-idle)
rawlog=no     # or yes (--rawlog)

# A free loopback TCP port, chosen by the kernel; a random high one otherwise.
free_port() {
  for py in python3 /usr/bin/python3; do
    if port=$("$py" -c 'import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));print(s.getsockname()[1])' "$address" 2>/dev/null); then
      echo "$port"
      return
    fi
  done
  echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
}

# True when something accepts TCP connections on $address:$1.
port_open() {
  (exec 3<>"/dev/tcp/$address/$1") 2>/dev/null
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

# Dovecot 2.3's TLS settings: with TLS, no login before it (see `address`).
tls_settings_23() {
  if [ "$tls" = None ]; then
    printf '%s\n' 'ssl = no' 'disable_plaintext_auth = no'
  else
    printf '%s\n' 'ssl = required' "ssl_cert = <$dir/tls/cert.pem" \
      "ssl_key = <$dir/tls/key.pem" 'disable_plaintext_auth = yes'
  fi
}

# Dovecot 2.4's names for the same: the files are named without '<', and
# auth_allow_cleartext replaces disable_plaintext_auth (with the opposite sense).
tls_settings_24() {
  if [ "$tls" = None ]; then
    printf '%s\n' 'ssl = no' 'auth_allow_cleartext = yes'
  else
    printf '%s\n' 'ssl = required' "ssl_server_cert_file = $dir/tls/cert.pem" \
      "ssl_server_key_file = $dir/tls/key.pem" 'auth_allow_cleartext = no'
  fi
}

# With --no-idle, the capabilities both Dovecot series implement and mbsync
# may use, without IDLE; otherwise Dovecot's own list (which has IDLE).
capability_setting() {
  if [ "$idle" = no ]; then
    echo "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ \
NAMESPACE UIDPLUS CHILDREN UNSELECT MULTIAPPEND LIST-EXTENDED LIST-STATUS \
CONDSTORE QRESYNC ESEARCH SEARCHRES SORT BINARY MOVE SPECIAL-USE"
  fi
}

# With --rawlog, the imap processes' rawlog directory. The setting has the
# same name and place in Dovecot 2.3 and 2.4 (rawlog_dir, inside
# `protocol imap { }`, so that only post-login IMAP sessions write one).
rawlog_setting() {
  if [ "$rawlog" = yes ]; then
    printf '%s\n' 'protocol imap {' "  rawlog_dir = $dir/rawlog" '}'
  fi
}

# A fresh self-signed certificate and key for $address, 127.0.0.1 and
# localhost, valid for 2 days, in DIR/tls. The key is made unreadable to
# others from the start. The common name is the address too: isync 1.4 checks
# only DNS names and the common name against its Host, not IP addresses.
make_certificate() {
  mkdir -p "$dir/tls"
  chmod 755 "$dir/tls"
  rm -f "$dir/tls/key.pem" "$dir/tls/cert.pem"
  if ! out=$( (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 2 -subj "/CN=$address" \
    -addext "subjectAltName=IP:$address,IP:127.0.0.1,DNS:localhost" \
    -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem") 2>&1); then
    echo "cannot make the server's certificate with openssl: $out" >&2
    exit 2
  fi
  chmod 600 "$dir/tls/key.pem"
  chmod 644 "$dir/tls/cert.pem"
}

# The same server in Dovecot 2.4's syntax: version settings first, named
# passdb/userdb blocks, mail_driver/mail_path, %{user}, and the listener's
# address as `listen`.
write_config_24() {
  port=$1
  cat >"$dir/dovecot.conf" <<EOF
# Written by mailserver.sh: a private Dovecot 2.4 on $address:$port.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
protocols = imap
listen = $address
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
$(tls_settings_24)
auth_mechanisms = plain login
verbose_proctitle = yes
$(capability_setting)
$(rawlog_setting)
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
    listen = $address
    port = $port
  }
  inet_listener imaps {
    listen = $address
    port = $imaps_port
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
# Written by mailserver.sh: a private Dovecot 2.3 on $address:$port.
protocols = imap
listen = $address
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
$(tls_settings_23)
auth_mechanisms = plain login
verbose_proctitle = yes
$(capability_setting)
$(rawlog_setting)
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
    address = $address
    port = $port
  }
  inet_listener imaps {
    address = $address
    port = $imaps_port
  }
}
service anvil {
  chroot =
}
EOF
}

start() {
  shift 2
  for option in "$@"; do
    case $option in
      --plaintext)
        tls=None
        address=127.0.0.1
        ;;
      --no-idle) idle=no ;;
      --rawlog) rawlog=yes ;;
      *) usage ;;
    esac
  done
  if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    echo "dovecot is not installed (Debian package dovecot-imapd)" >&2
    exit 3
  fi
  dovecot_bin=$(command -v dovecot 2>/dev/null || echo /usr/sbin/dovecot)
  if [ "$tls" != None ] && ! command -v openssl >/dev/null 2>&1; then
    echo "openssl is not installed (Debian package openssl): no certificate for TLS" >&2
    exit 3
  fi
  mkdir -p "$dir"
  chmod 755 "$dir"
  mkdir -p "$dir/run" "$dir/state" "$dir/mail/alice/cur" "$dir/mail/alice/new" \
    "$dir/mail/alice/tmp" "$dir/Mail"
  chmod 755 "$dir/run" "$dir/state"
  chown -R nobody:nogroup "$dir/mail"
  echo 'alice:{PLAIN}secret::::::' >"$dir/passwd"
  chmod 644 "$dir/passwd"
  if [ "$rawlog" = yes ]; then
    mkdir -p "$dir/rawlog"
    chown nobody:nogroup "$dir/rawlog"
    chmod 700 "$dir/rawlog"
  fi
  [ "$tls" = None ] || make_certificate

  attempt=0
  while :; do
    attempt=$((attempt + 1))
    port=$(free_port)
    imaps_port=0
    if [ "$tls" != None ]; then
      imaps_port=$(free_port)
      [ "$imaps_port" != "$port" ] || continue
    fi
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
      if port_open "$port" && { [ "$imaps_port" = 0 ] || port_open "$imaps_port"; }; then
        break
      fi
      pid=$(master_pid || true)
      if [ $i -gt 20 ] && { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; }; then
        break
      fi
      sleep 0.05
      i=$((i + 1))
    done
    if port_open "$port" && { [ "$imaps_port" = 0 ] || port_open "$imaps_port"; }; then
      break
    fi
    stop_server
    if [ $attempt -ge 5 ]; then
      echo "dovecot cannot start: nothing listens on $address:$port;" \
        "log: $(tail -n 5 "$dir/dovecot.log" 2>/dev/null)" >&2
      exit 2
    fi
  done

  cat >"$dir/mbsyncrc" <<EOF
# Written by mailserver.sh: alice's mail on $address:$port, synced to $dir/Mail/.
IMAPAccount test
Host $address
Port $port
User alice
Pass secret
$(tls_keyword) $tls$([ "$tls" = None ] || printf '\nCertificateFile %s' "$dir/tls/cert.pem")
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
  echo "HOST=$address"
  echo "PORT=$port"
  echo "MBSYNCRC=$dir/mbsyncrc"
  echo "TLS=$tls"
  if [ "$tls" != None ]; then
    echo "IMAPS_PORT=$imaps_port"
    echo "CERT=$dir/tls/cert.pem"
  fi
}

# Stops the master (if any) and waits up to 10 s for it to exit, then ends
# its children that outlive it: an imap process in IDLE can go on serving its
# client for many seconds after the master is gone (seen: 20 s on 2.3), and a
# stopped server must not keep a session open.
stop_server() {
  pid=$(master_pid || true)
  [ -n "$pid" ] || return 0
  children=$(pgrep -P "$pid" || true)
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
  for child in $children; do
    kill -9 "$child" 2>/dev/null || true
  done
}

# Starts the master again with the configuration `start` wrote, and waits
# (up to 10 s) until its listeners accept connections again.
restart_server() {
  [ -s "$dir/dovecot.conf" ] || {
    echo "no server configuration in $dir (run start first)" >&2
    exit 1
  }
  dovecot_bin=$(command -v dovecot 2>/dev/null || echo /usr/sbin/dovecot)
  stop_server
  # The listeners as `start` wrote them: `listen = ADDRESS` first, then the
  # imap listener's port and the imaps listener's (0 without TLS).
  address=$(sed -n 's/^listen = //p' "$dir/dovecot.conf" | head -n 1)
  ports=$(sed -n 's/^ *port = \([0-9]*\)$/\1/p' "$dir/dovecot.conf" | tr '\n' ' ')
  # shellcheck disable=SC2086 # "IMAP IMAPS" into $1 $2
  set -- $ports
  port=$1
  imaps_port=${2:-0}
  if ! "$dovecot_bin" -c "$dir/dovecot.conf" >"$dir/dovecot.start.out" 2>&1 </dev/null; then
    echo "dovecot cannot start again: $(cat "$dir/dovecot.start.out")" >&2
    exit 2
  fi
  i=0
  until port_open "$port" && { [ "$imaps_port" = 0 ] || port_open "$imaps_port"; }; do
    if [ $i -ge 200 ]; then
      echo "dovecot started again, but nothing listens on $address:$port within 10 s" >&2
      exit 2
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
  start) start "$@" ;;
  stop) stop_server ;;
  restart) restart_server ;;
  deliver)
    [ $# -ge 3 ] || usage
    deliver "$3"
    ;;
  # "imap-login: Info: Login: user=<alice>" (2.3); "... Logged in: user=<alice>" (2.4).
  logins) grep -c -E 'imap-login: Info: (Login|Logged in): user=<alice>' "$dir/dovecot.log" || true ;;
  *) usage ;;
esac
