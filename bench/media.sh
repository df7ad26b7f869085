#!/usr/bin/env bash
# Media benchmarks (issue 3): uploads of 100 KiB and downloads of one 1 MiB file, 4 concurrent
# clients over loopback, against the release binary on the embedded default (SQLite + fs, with
# full durability). Prints figures; asserts nothing. Needs wrk (apt-get install wrk) and python3.
#
#   bash bench/media.sh            # 20 s per run
#   DURATION=5s bash bench/media.sh
#   ONLY=uploads bash bench/media.sh   # one run alone (uploads or downloads), to compare builds
#   CEILING=0 ONLY=uploads bash bench/media.sh   # the same without the disk ceiling's 10 s
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
ONLY=${ONLY:-}
CEILING=${CEILING:-1}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
source bench/lib.sh
start_server 'max_upload_size = "2G"'

# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Prints the server's CPU time per request between two cpu_ticks readings: $1 $2 ticks, $3 requests.
cpu_per_request() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "server CPU per request: %.3f ms (%d requests)\n", (b - a) / hz * 1000 / n, n }'
}
# Runs wrk with the given arguments, shows its figures, and the server CPU per request.
measure() {
  local before out
  before=$(cpu_ticks)
  out=$(wrk "$@")
  echo "$out" | grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|requests in|Transfer'
  cpu_per_request "$before" "$(cpu_ticks)" "$(echo "$out" | awk '/requests in/ {print $1}')"
}
# Samples the server's RSS every 100 ms into $1 until stopped.
sample_rss() { while kill -0 "$pid" 2>/dev/null; do rss_kib >> "$1"; sleep 0.1; done; }
peak_mib() { sort -n "$1" | tail -n 1 | awk '{printf "%.1f", $1 / 1024}'; }

machine
if want uploads; then
  # Its files go under $work, removed only when the script ends: deleting thousands of files just
  # before the upload run would slow it down (docs/benchmarks.md, "recently deleted inodes").
  [ "$CEILING" = 0 ] || MXCD_BENCH_DIR=$work python3 bench/fsync_ceiling.py 4 10 2>/dev/null || true

  echo; echo "== uploads of 100 KiB, 4 connections, $DURATION"
  sample_rss "$work/rss-up" & sampler=$!
  MXCD_BENCH_TOKEN=$token measure -t4 -c4 -d"$DURATION" --latency -s bench/upload.lua "$base"
  kill $sampler; echo "server peak RSS: $(peak_mib "$work/rss-up") MiB"
fi
want downloads || exit 0

echo; echo "== downloads of one 1 MiB file, 4 connections, $DURATION"
head -c 1048576 /dev/urandom > "$work/one-mib"
uri=$(curl -fs -H "Authorization: Bearer $token" --data-binary @"$work/one-mib" "$base/_matrix/media/v3/upload" | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_uri"][6:])')
sample_rss "$work/rss-down" & sampler=$!
measure -t4 -c4 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$base/_matrix/client/v1/media/download/$uri"
kill $sampler; echo "server peak RSS: $(peak_mib "$work/rss-down") MiB"
[ -z "$ONLY" ] || exit 0

echo; echo "== one 1 GiB upload (streaming: RSS must stay flat)"
before=$(rss_kib)
: > "$work/rss-big"; sample_rss "$work/rss-big" & sampler=$!
start=$(date +%s.%N)
head -c 1073741824 /dev/zero | curl -fs -H "Authorization: Bearer $token" -H "Content-Type: application/octet-stream" \
  -T - -X POST "$base/_matrix/media/v3/upload" >/dev/null
end=$(date +%s.%N)
kill $sampler
echo "RSS before: $(awk -v k="$before" 'BEGIN {printf "%.1f", k/1024}') MiB, peak during: $(peak_mib "$work/rss-big") MiB," \
     "rise: $(awk -v p="$(sort -n "$work/rss-big" | tail -n1)" -v b="$before" 'BEGIN {printf "%.1f", (p-b)/1024}') MiB;" \
     "time: $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.1f", e-s}') s"

# The same file served by nginx, for the machine's own ceiling (skipped when nginx is absent).
if command -v nginx >/dev/null; then
  chmod 755 "$work"; chmod 644 "$work/one-mib"   # nginx's workers run as another user
  for sendfile in on off; do
    nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$work/nginx-$sendfile"
    cat > "$work/nginx-$sendfile/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx-$sendfile/pid;
error_log $work/nginx-$sendfile/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile $sendfile;
  server { listen 127.0.0.1:$nport; root $work; }
}
NGINX
    nginx -c "$work/nginx-$sendfile/nginx.conf"
    echo; echo "== nginx, sendfile $sendfile, the same 1 MiB file, 4 connections, $DURATION"
    wrk -t4 -c4 -d"$DURATION" --latency "http://127.0.0.1:$nport/one-mib" | grep -E 'Requests/sec|99%|Non-2xx|Transfer'
    kill "$(cat "$work/nginx-$sendfile/pid")"
  done
else
  echo; echo "(nginx not installed: its ceiling for the same file is not measured)"
fi
