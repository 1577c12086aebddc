"""The usual alternative to rmw: a service calling Redis directly through
redis-py's register_script. Runs one of rmw's own scripts, with the keys
and arguments rmw sends, for a number of seconds; prints rate=<calls/s>.

  python redis_py.py --port 6379 --op values_cas --script s.lua --seconds 5
  (--tasks 0: one thread; --tasks N: asyncio with N tasks)
"""

import argparse
import asyncio
import itertools
import random
import time

import redis
import redis.asyncio

PREFIX = "bench"


def call_args(op, n, keys):
    """KEYS and ARGV for call n, as rmw builds them."""
    if op == "values_cas":
        key = f"{PREFIX}:val:{random.randrange(keys):012d}"
        return [f"{PREFIX}:idem:key:{{{key}}}:", key], ["", 86400000, "1", "v1", "1", "v1"]
    if op == "ledger_transfer":
        book = f"{PREFIX}:led:{{bench}}"
        keys = [f"{book}:idem:py-{n}", f"{book}:bal", f"{book}:entries",
                f"{book}:pend_dr", f"{book}:pend_cr", f"{book}:holds",
                f"{book}:entries:a", f"{book}:entries:b"]
        # ARGV[3]: the retention rmw hands its scripts by default ("" keeps
        # every entry); ARGV[4]: no clock skew, as rmw runs.
        return keys, ["py", 86400000, "", 0, "a", "b", 1, "", "", f"py-{n}"]
    raise SystemExit(f"unknown op {op}")


def run_thread(args, source):
    client = redis.Redis(port=args.port)
    script = client.register_script(source)
    counter = itertools.count()
    done = 0
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline:
        keys, argv = call_args(args.op, next(counter), args.keys)
        script(keys=keys, args=argv)
        done += 1
    return done


async def run_asyncio(args, source):
    client = redis.asyncio.Redis(port=args.port, max_connections=args.tasks)
    script = client.register_script(source)
    counter = itertools.count()
    deadline = time.perf_counter() + args.seconds

    async def worker():
        done = 0
        while time.perf_counter() < deadline:
            keys, argv = call_args(args.op, next(counter), args.keys)
            await script(keys=keys, args=argv)
            done += 1
        return done

    counts = await asyncio.gather(*(worker() for _ in range(args.tasks)))
    await client.aclose()
    return sum(counts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--op", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--keys", type=int, default=1000)
    args = parser.parse_args()
    with open(args.script) as f:
        source = f.read()
    start = time.perf_counter()
    if args.tasks:
        done = asyncio.run(run_asyncio(args, source))
    else:
        done = run_thread(args, source)
    print(f"rate={done / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
