#!/usr/bin/env bash
# Thumbnails through the whole server (issue 4): upload time of a 2000x1500 JPEG with its five
# sizes pre-generated, a dynamic 320x240 of a 4000x3000 JPEG over HTTP, and the server's peak RSS
# while 8 concurrent dynamic thumbnail requests of 6000x4000 JPEGs (baseline and progressive)
# run. The crate-level figures are `cargo run --release -p mxcd-imaging --example bench`.
# Prints figures; asserts nothing. Needs python3 and curl.
#
#   bash bench/thumbnails.sh            # BIN=target/profiling/mxcd to use another build
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build -q --release -p mxcd-imaging --example bench
GEN=target/release/examples/bench
start_server 'max_upload_size = "100M"
dynamic_thumbnails = true'
auth=(-H "Authorization: Bearer $token")
upload() { curl -fs "${auth[@]}" -H "Content-Type: image/jpeg" --data-binary @"$1" "$base/_matrix/media/v3/upload" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_uri"][6:])'; }
# Median of the times (seconds) on stdin, printed in ms.
median_ms() { sort -n | awk '{a[NR]=$1} END {printf "%.1f ms", a[int((NR+1)/2)]*1000}'; }

machine
"$GEN" --write-jpeg "$work/m.jpg" 2000 1500
"$GEN" --write-jpeg "$work/l.jpg" 4000 3000
"$GEN" --write-jpeg "$work/xl.jpg" 6000 4000
"$GEN" --write-jpeg "$work/xlp.jpg" 6000 4000 progressive
echo "inputs: 2000x1500 $(($(stat -c %s "$work/m.jpg")/1024)) KB, 4000x3000 $(($(stat -c %s "$work/l.jpg")/1024)) KB, 6000x4000 $(($(stat -c %s "$work/xl.jpg")/1024)) KB (progressive $(($(stat -c %s "$work/xlp.jpg")/1024)) KB)"

echo; echo "== upload of a 2000x1500 JPEG, answered after its 5 sizes are made and stored (10 runs)"
plain=$(head -c "$(stat -c %s "$work/m.jpg")" /dev/urandom > "$work/noise.bin"; for _ in $(seq 10); do
  curl -fs -o /dev/null -w '%{time_total}\n' "${auth[@]}" -H "Content-Type: application/octet-stream" --data-binary @"$work/noise.bin" "$base/_matrix/media/v3/upload"; done | median_ms)
for i in $(seq 10); do
  # A different comment byte each time, so no upload is a duplicate of the one before.
  { cat "$work/m.jpg"; printf '%04d' "$i"; } > "$work/m$i.jpg"
done
images=$(for i in $(seq 10); do
  curl -fs -o /dev/null -w '%{time_total}\n' "${auth[@]}" -H "Content-Type: image/jpeg" --data-binary @"$work/m$i.jpg" "$base/_matrix/media/v3/upload"; done | median_ms)
echo "median upload: $images (the same bytes as application/octet-stream, no thumbnails: $plain)"

echo; echo "== dynamic 320x240 of a 4000x3000 JPEG over HTTP, each a new size (10 runs)"
l=$(upload "$work/l.jpg")
for i in $(seq 10); do
  curl -fs -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$base/_matrix/client/v1/media/thumbnail/$l?width=$((320 + i))&height=240&method=scale"
done | median_ms | sed 's/^/median: /'

for input in xl xlp; do
  id=$(upload "$work/$input.jpg")
  echo; echo "== 8 concurrent dynamic thumbnails of a 6000x4000 JPEG ($([ $input = xlp ] && echo progressive || echo baseline)), 3 rounds"
  before=$(rss_kib); peak=$before
  for round in 1 2 3; do
    for i in $(seq 8); do
      curl -fs -o /dev/null "${auth[@]}" "$base/_matrix/client/v1/media/thumbnail/$id?width=$((600 + 10 * i + round))&height=$((400 + i))&method=scale" &
    done
    while [ -n "$(jobs -rp | grep -v "^$pid$")" ]; do
      r=$(rss_kib); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.02
    done
  done
  echo "server RSS before: $((before / 1024)) MiB, peak during: $((peak / 1024)) MiB"
done
