# Shared by the benchmark scripts: `source bench/lib.sh`, then `start_server "extra toml lines"`.
# Starts $BIN (built if missing) on a free loopback port with its data in a fresh directory, and
# registers a user through the shared secret. Sets: work (the directory, removed on exit), pid,
# base (the server's URL) and token (the user's access token).

BIN=${BIN:-target/release/mxcd}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() {
  [ -x "$BIN" ] || cargo build --release -p mxcd
  work=$(mktemp -d "${TMPDIR:-/tmp}/mxcd-bench.XXXXXX")
  local port
  port=$(free_port)
  cat > "$work/mxcd.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$work/data"
registration_shared_secret = "bench"
$1
TOML
  RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --config "$work/mxcd.toml" 2>"$work/server.log" &
  pid=$!
  # MXCD_BENCH_KEEP=1 keeps the data: removing thousands of files slows the next run down on
  # some filesystems (docs/benchmarks.md), so back-to-back comparisons remove them afterwards.
  if [ -n "${MXCD_BENCH_KEEP:-}" ]; then
    trap 'kill $pid 2>/dev/null; echo "kept $work"' EXIT
  else
    trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
  fi
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fs "$base/_matrix/client/versions" >/dev/null && break; sleep 0.1; done
  token=$(python3 - "$base" <<'PY'
import hashlib, hmac, json, sys, urllib.request
base = sys.argv[1]
nonce = json.load(urllib.request.urlopen(base + "/_synapse/admin/v1/register"))["nonce"]
mac = hmac.new(b"bench", f"{nonce}\0bench\0pw\0notadmin".encode(), hashlib.sha1).hexdigest()
body = json.dumps({"nonce": nonce, "username": "bench", "password": "pw", "admin": False, "mac": mac}).encode()
req = urllib.request.Request(base + "/_synapse/admin/v1/register", body, {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1 /proc/loadavg)"
}
