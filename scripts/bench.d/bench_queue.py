"""Helper of scripts/bench.d/queue.sh (`scripts/bench queue`): enqueue no-op jobs with Python RQ and run RQ's SimpleWorker.

RQ reads its key prefix from RQ_KEY_PREFIX at import time, so the shell script sets it (the
same value the provis worker reads) before calling this file. Every job uses RQ's
JSONSerializer: provis reads and writes JSON job data only.

  python bench_queue.py enqueue QUEUE N FUNC     # N jobs calling FUNC (e.g. provis.diag_noop)
  python bench_queue.py finished QUEUE           # size of the finished registry
  python bench_queue.py rq-worker QUEUE          # SimpleWorker --burst; prints "<jobs> <seconds>"
  python bench_queue.py cleanup                  # delete every key under RQ_KEY_PREFIX
"""

import os
import sys
import time

from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FinishedJobRegistry
from rq.serializers import JSONSerializer


def noop():
    """The job Python RQ runs in the benchmark (the counterpart of provis.diag_noop)."""
    return None


def connection() -> Redis:
    return Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))


def enqueue(queue: str, n: int, func: str) -> None:
    q = Queue(queue, connection=connection(), serializer=JSONSerializer)
    batch = 1000
    for start in range(0, n, batch):
        datas = [Queue.prepare_data(func, result_ttl=3600) for _ in range(min(batch, n - start))]
        q.enqueue_many(datas)


def finished(queue: str) -> int:
    reg = FinishedJobRegistry(queue, connection=connection(), serializer=JSONSerializer)
    return reg.get_job_count(cleanup=False)


def rq_worker(queue: str) -> None:
    conn = connection()
    q = Queue(queue, connection=conn, serializer=JSONSerializer)
    jobs = q.count
    w = SimpleWorker([q], connection=conn, serializer=JSONSerializer)
    t0 = time.perf_counter()
    w.work(burst=True, logging_level="WARNING")
    dt = time.perf_counter() - t0
    print(f"{jobs} {dt:.3f}")


def cleanup() -> None:
    conn = connection()
    prefix = os.environ.get("RQ_KEY_PREFIX", "rq")
    keys = list(conn.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 1000):
        conn.delete(*keys[i : i + 1000])


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "enqueue":
        enqueue(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "finished":
        print(finished(sys.argv[2]))
    elif cmd == "rq-worker":
        rq_worker(sys.argv[2])
    elif cmd == "cleanup":
        cleanup()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
