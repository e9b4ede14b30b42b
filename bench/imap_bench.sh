#!/usr/bin/env bash
# IMAP watcher benchmark: initial scan of a large INBOX, full ingestion of a large logging
# mailbox, and delivery-to-record latency under IDLE, against a real Dovecot (scripts/dovecot)
# and a real `mailtrail serve` on loopback.
#
#   bench/imap_bench.sh            full run: 100 000 messages, 30 latency samples (release build)
#   bench/imap_bench.sh --smoke    CI: 2 000 messages, 3 samples (debug build), checks results only
#   options: --messages N  --samples N  --keep (keep the work directory)  --skip-ingest
#   MAILTRAIL_BIN=path  use this binary instead of building one
#
# Targets (docs/imap.md): 100k-message INBOX scanned in <= 60 s with <= 100 MB peak memory;
# a new message recorded at the endpoint <= 2 s after it reaches the mailbox.
#
# The mailbox is generated quickly by writing maildir files directly (as a delivery agent
# would), then Dovecot builds its index before anything is timed, so the figures are the
# watcher's, not Dovecot's first-time indexing.
#
# Scenarios:
#   scan    connected inbox, backfill "all": 100k INBOX messages; 1 % are replies from contacts
#           in logged threads (the threads come from 1 000 sent emails in Sent with the CRM's BCC
#           address), 1 % replies from non-contacts, the rest unrelated mail. Headers are
#           fetched for everything, whole messages only for the replies to log.
#   ingest  logging mailbox, backfill "all": 100k BCC copies, every one parsed, logged and
#           delivered to the endpoint (SQLite).
#   latency logging mailbox under IDLE: APPEND over IMAP, then poll the endpoint for the record.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

n=100000
samples=30
smoke=0
keep=0
skip_ingest=0
while (($#)); do
  case $1 in
    --smoke) smoke=1; n=2000; samples=3; shift ;;
    --messages) n=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --skip-ingest) skip_ingest=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[imap-bench]\033[0m %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

command -v dovecot >/dev/null 2>&1 || [[ -x /usr/sbin/dovecot ]] || die "Dovecot is not installed (apt-get install dovecot-imapd)"
command -v curl >/dev/null 2>&1 || die "curl is needed"
command -v perl >/dev/null 2>&1 || die "perl is needed"

if [[ -n "${MAILTRAIL_BIN:-}" ]]; then
  bin=$MAILTRAIL_BIN
elif ((smoke)); then
  cargo build -q -p mailtrail-native
  bin=$root/target/debug/mailtrail
else
  cargo build -q --release -p mailtrail-native
  bin=$root/target/release/mailtrail
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mt-imap-bench.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/scripts/dovecot" stop "$work/dovecot" >/dev/null 2>&1 || true
  if ((keep)); then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- servers
eval "$("$root/scripts/dovecot" start "$work/dovecot")"
"$root/scripts/dovecot" adduser "$work/dovecot" bench bench-pw
"$root/scripts/dovecot" adduser "$work/dovecot" logbox log-pw
"$root/scripts/dovecot" adduser "$work/dovecot" live live-pw

"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/serve" --rate-limit off >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 1 200); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/serve.out" | head -n1)
[[ -n $url ]] || die "mailtrail serve did not start: $(tail -n 5 "$work/serve.log")"
token=$(cat "$work/serve/token")
api() { curl -sS -H "Authorization: Bearer $token" "$@"; }
records() { api "$url/v1/stats" | sed -n 's/.*"records":\([0-9]*\).*/\1/p'; }

# ---- mail, written straight into the maildirs
threads=$((n / 100))
((threads >= 1)) || threads=1
say "generating $n INBOX messages, $threads sent emails and $n logging-mailbox copies"
gen_start=$(date +%s.%N)
perl - "$work/dovecot/home" "$n" "$threads" "$skip_ingest" <<'PERL'
use strict; use warnings;
my ($home, $n, $threads, $skip_ingest) = @ARGV;
my $body = join("\r\n", map { "Line $_ of a message body that looks like ordinary business mail, with some words." } 1..18) . "\r\n";
my $now = time;
sub mkbox { my $d = shift; for my $s ('', '/cur', '/new', '/tmp') { mkdir "$d$s" or die "$d$s: $!" unless -d "$d$s"; } }
sub put {
    my ($dir, $i, $text) = @_;
    my $size = length $text;
    my $name = sprintf("%d.M%dP%d.bench,S=%d:2,", $now, $i, $$, $size);
    open(my $fh, '>', "$dir/cur/$name") or die "$dir: $!";
    print $fh $text; close $fh;
}
sub date_of { my $i = shift; my @t = gmtime($now - 86400 + $i % 86400);
  my @d = qw(Sun Mon Tue Wed Thu Fri Sat); my @m = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
  sprintf("%s, %02d %s %d %02d:%02d:%02d +0000", $d[$t[6]], $t[3], $m[$t[4]], $t[5] + 1900, $t[2], $t[1], $t[0]) }
my $inbox = "$home/bench/Maildir"; mkbox("$home/bench"); mkbox($inbox);
my $sent = "$inbox/.Sent"; mkbox($sent); open(my $mf, '>', "$sent/maildirfolder"); close $mf;
for my $k (0 .. $threads - 1) {
    put($sent, $k, "From: Bench User <bench\@ours.test>\r\nTo: Contact $k <contact$k\@client.test>\r\nBcc: log\@crm.test\r\n"
      . "Subject: Proposal $k\r\nDate: " . date_of($k) . "\r\nMessage-ID: <orig$k\@ours.test>\r\nMIME-Version: 1.0\r\n"
      . "Content-Type: text/plain; charset=utf-8\r\n\r\n$body");
}
for my $i (0 .. $n - 1) {
    my $k = int($i / 100) % $threads;
    my ($from, $subject, $refs);
    if ($i % 100 == 0) { ($from, $subject, $refs) = ("Contact $k <contact$k\@client.test>", "Re: Proposal $k", "<orig$k\@ours.test>"); }
    elsif ($i % 100 == 50) { ($from, $subject, $refs) = ("Stranger $k <stranger$k\@client.test>", "Re: Proposal $k", "<orig$k\@ours.test>"); }
    else { ($from, $subject, $refs) = ("News $i <news" . ($i % 997) . "\@news.test>", "Offer number $i", undef); }
    my $h = "From: $from\r\nTo: Bench User <bench\@ours.test>\r\nSubject: $subject\r\nDate: " . date_of($i)
      . "\r\nMessage-ID: <in$i\@example.test>\r\n";
    $h .= "In-Reply-To: $refs\r\nReferences: $refs\r\n" if $refs;
    put($inbox, $i, $h . "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n$body");
}
exit 0 if $skip_ingest;
my $log = "$home/logbox/Maildir"; mkbox("$home/logbox"); mkbox($log);
for my $i (0 .. $n - 1) {
    my $c = $i % 5000;
    put($log, $i, "From: Bench User <bench\@ours.test>\r\nTo: Client $c <client$c\@client.test>\r\nSubject: Follow-up $i\r\n"
      . "Date: " . date_of($i) . "\r\nMessage-ID: <copy$i\@ours.test>\r\nMIME-Version: 1.0\r\n"
      . "Content-Type: text/plain; charset=utf-8\r\n\r\n$body");
}
PERL
if [[ $(id -u) == 0 ]]; then chown -R 65534:65534 "$work/dovecot/home"; fi
say "generated in $(awk -v a="$gen_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; Dovecot is indexing"
"$root/scripts/dovecot" doveadm "$work/dovecot" mailbox status -u bench "messages uidnext" INBOX >&2
"$root/scripts/dovecot" doveadm "$work/dovecot" mailbox status -u bench "messages" Sent >&2
if ((!skip_ingest)); then "$root/scripts/dovecot" doveadm "$work/dovecot" mailbox status -u logbox "messages" INBOX >&2; fi

say "creating $threads contacts at the endpoint"
for k in $(seq 0 $((threads - 1))); do
  api -o /dev/null -X POST -H 'Content-Type: application/json' -d "{\"address\":\"contact$k@client.test\"}" "$url/v1/contacts"
done

config() { # role user password-env backfill state
  cat <<EOF
{
  "stateDir": "$work/state-$5",
  "settings": {"endpoint": {"type": "local", "url": "$url", "token": "$token"}, "internalDomains": ["ours.test"], "bccAddress": "log@crm.test"},
  "accounts": [{"name": "$2", "url": "imaps://$2@127.0.0.1:$DOVECOT_IMAPS_PORT", "role": "$1", "address": "$2@ours.test",
                "passwordEnv": "$3", "caFile": "$DOVECOT_CA", "backfillDays": "all", "sentLookbackDays": 36500}]
}
EOF
}
export BENCH_PW=bench-pw LOG_PW=log-pw

# ---- scan: connected inbox
config connected-inbox bench BENCH_PW all scan >"$work/scan.json"
say "scan: connected inbox, $n INBOX messages"
before=$(records)
MAILTRAIL_LOG=info "$bin" watch --once --config "$work/scan.json" 2>"$work/scan.log" || die "the scan failed: $(tail -n 5 "$work/scan.log")"
scan_line=$(sed 's/\x1b\[[0-9;]*m//g' "$work/scan.log" | grep 'sync finished in' | tail -n1)
scan_s=$(sed -n 's/.*sync finished in \([0-9.]*\) s.*/\1/p' <<<"$scan_line")
scan_mb=$(sed -n 's/.*peak memory \([0-9.]*\) MB.*/\1/p' <<<"$scan_line")
scan_logged=$(( $(records) - before ))
[[ $scan_logged == "$threads" ]] || die "scan: expected $threads replies logged, the endpoint has $scan_logged (see $work/scan.log)"

# Peer, same run: Dovecot reading the same header fields itself (doveadm fetch, no network, no
# TLS, no decisions): the floor for any client's header scan of this mailbox.
peer_start=$(date +%s%N)
"$root/scripts/dovecot" doveadm "$work/dovecot" fetch -u bench \
  "uid hdr.from hdr.to hdr.subject hdr.date hdr.message-id hdr.in-reply-to hdr.references" mailbox INBOX >/dev/null
peer_s=$(awk -v a="$peer_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')

# ---- ingest: logging mailbox, every message logged
if ((!skip_ingest)); then
  config logging-mailbox logbox LOG_PW all ingest >"$work/ingest.json"
  say "ingest: logging mailbox, $n BCC copies"
  before=$(records)
  MAILTRAIL_LOG=info "$bin" watch --once --config "$work/ingest.json" 2>"$work/ingest.log" || die "the ingest failed: $(tail -n 5 "$work/ingest.log")"
  ingest_line=$(sed 's/\x1b\[[0-9;]*m//g' "$work/ingest.log" | grep 'sync finished in' | tail -n1)
  ingest_s=$(sed -n 's/.*sync finished in \([0-9.]*\) s.*/\1/p' <<<"$ingest_line")
  ingest_mb=$(sed -n 's/.*peak memory \([0-9.]*\) MB.*/\1/p' <<<"$ingest_line")
  ingest_logged=$(( $(records) - before ))
  [[ $ingest_logged == "$n" ]] || die "ingest: expected $n records, the endpoint has $ingest_logged more (see $work/ingest.log)"
fi

# ---- latency under IDLE
export LIVE_PW=live-pw
config logging-mailbox live LIVE_PW all live >"$work/live.json"
MAILTRAIL_LOG=${BENCH_LOG:-info} "$bin" watch --config "$work/live.json" 2>"$work/live.log" &
pids+=($!)
for _ in $(seq 1 200); do
  "$bin" watch --status --json --config "$work/live.json" 2>/dev/null | grep -q '"state":"connected"' && break
  sleep 0.05
done
grep -q '(IDLE)' <(sed 's/\x1b\[[0-9;]*m//g' "$work/live.log") || die "the live watcher is not using IDLE: $(tail -n 3 "$work/live.log")"
say "latency: $samples messages appended over IMAP, each timed until its record is at the endpoint"
lat=()
for i in $(seq 1 "$samples"); do
  id="lat-$i-$$@ours.test"
  key="m1-$(printf '%s' "$id" | sha256sum | cut -c1-32)"
  printf 'From: Bench User <bench@ours.test>\r\nTo: Client <client1@client.test>\r\nSubject: Latency %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n\r\nHello\r\n' \
    "$i" "$id" "$(date -R)" >"$work/lat.eml"
  curl -sS --ssl-reqd --cacert "$DOVECOT_CA" -u live:live-pw "imaps://127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" -T "$work/lat.eml"
  t0=$(date +%s%N)
  ok=0
  for _ in $(seq 1 1000); do
    code=$(api -o /dev/null -w '%{http_code}' "$url/v1/records/$key")
    if [[ $code == 200 ]]; then ok=1; break; fi
    sleep 0.01
  done
  ((ok)) || die "latency sample $i: no record after 10+ s"
  lat+=($(( ($(date +%s%N) - t0) / 1000000 )))
  sleep 0.2
done
sorted=($(printf '%s\n' "${lat[@]}" | sort -n))
count=${#sorted[@]}
p50=${sorted[$((count / 2))]}
p95=${sorted[$(( (count * 95 + 99) / 100 - 1 ))]}
max=${sorted[$((count - 1))]}

# ---- report
printf '\nIMAP watcher benchmark (%s messages%s), %s\n' "$n" "$( ((smoke)) && echo ', smoke' || true)" "$(date -u +%Y-%m-%d)"
printf '  %-44s %10s %12s %s\n' "scenario" "time" "peak memory" "result"
printf '  %-44s %9ss %9s MB %s\n' "scan: connected inbox, $n INBOX messages" "$scan_s" "$scan_mb" "$scan_logged replies logged"
printf '  %-44s %9ss %12s %s\n' "peer: doveadm fetch of the same headers" "$peer_s" "-" "server-side floor, after the scan"
if ((!skip_ingest)); then
  printf '  %-44s %9ss %9s MB %s\n' "ingest: logging mailbox, $n BCC copies" "$ingest_s" "$ingest_mb" "$ingest_logged records"
fi
printf '  %-44s p50 %s ms, p95 %s ms, max %s ms (%s samples)\n' "latency: APPEND -> record (IDLE)" "$p50" "$p95" "$max" "$count"
if ((!smoke)); then
  awk -v s="$scan_s" -v m="$scan_mb" -v p="$p95" 'BEGIN {
    printf "  targets: scan <= 60 s: %s; peak memory <= 100 MB: %s; latency p95 <= 2000 ms: %s\n",
      (s <= 60 ? "met" : "MISSED"), (m <= 100 ? "met" : "MISSED"), (p <= 2000 ? "met" : "MISSED") }'
fi
