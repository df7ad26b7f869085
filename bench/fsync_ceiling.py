"""The durability ceiling of this disk: N writers doing write + fsync + rename + directory fsync
of 100 KiB files, the same work mxcd's filesystem store does per upload (without hashing,
HTTP or the database): a part file renamed within its directory. Prints files per second.

Its files stay under $MXCD_BENCH_DIR when that is set (the caller removes them); otherwise they
are removed at the end. Removing many files makes the next runs on the same disk slower for a
few minutes on some filesystems (see docs/benchmarks.md), so bench/media.sh removes them last."""
import os, shutil, sys, tempfile, threading, time

writers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
size = 100 * 1024
root = tempfile.mkdtemp(prefix="fsync-ceiling-", dir=os.environ.get("MXCD_BENCH_DIR"))
os.makedirs(os.path.join(root, "final"))
payload = os.urandom(size)
counts = [0] * writers
stop = time.monotonic() + seconds

def work(i):
    n = 0
    d = os.open(os.path.join(root, "final"), os.O_RDONLY)
    while time.monotonic() < stop:
        tmp = os.path.join(root, "final", f"{i}-{n}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, payload); os.fsync(fd); os.close(fd)
        os.rename(tmp, os.path.join(root, "final", f"{i}-{n}"))
        os.fsync(d)
        n += 1
    counts[i] = n

threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
for t in threads: t.start()
for t in threads: t.join()
if "MXCD_BENCH_DIR" not in os.environ:
    shutil.rmtree(root)
print(f"fsync ceiling: {sum(counts) / seconds:.0f} files/s ({writers} writers, 100 KiB, write+fsync+rename+dir fsync)")
