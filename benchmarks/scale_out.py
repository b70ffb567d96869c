"""Scale-out benchmarks: streaming embed memory and speed, kill-and-resume, cooperative builders.

Each measurement runs in fresh processes started from here, one after the other, so the
ratios compare runs of the same command on the same (shared) machine minutes apart.

* ``throughput``: the in-memory path (``-o X.npy``) against the streaming one
  (``-o X.parquet``) on the same first N MOSES molecules, alternated; wall time and
  peak RSS (``ru_maxrss`` of the child) of each.
* ``rss``: peak RSS of streaming embeds of increasing sizes (flat = constant memory).
* ``kills``: a streaming embed (ECFP that sleeps per part, ``tests/_embed_worker.py``)
  SIGKILLed at random moments K times, resumed each time, then finished; its part files
  are compared byte for byte with an uninterrupted run.
* ``builders``: one vs two cooperative builders of one store with a CPU-bound teacher on
  one thread each (``tests/_store_worker.py BUSY``), or with ``--sleep`` a teacher that
  sleeps (how well the claims divide the work, whatever the load); rate ratio and
  identical stores.

Usage:
    nice -n 19 .venv/bin/python benchmarks/scale_out.py {throughput,rss,kills,builders}
        [--featurizer molmtd-base] [--teacher SPEC] [--sizes 20000,100000] [--n 20000]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_EMBED = """
import json, resource, sys, time
from molmtd.embedding import embed_file
source = json.loads(sys.argv[3])
t = time.perf_counter()
summary = embed_file(sys.argv[1], sys.argv[2], **source)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": summary["rows"],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def moses_input(n: int, directory: Path) -> Path:
    """The first ``n`` MOSES training molecules as a .smi file (cached)."""
    path = directory / f"moses-{n}.smi"
    if not path.is_file():
        import pyarrow.csv as pacsv

        from molmtd.corpus import bundled_corpus_path

        table = pacsv.read_csv(bundled_corpus_path("moses"))
        rows = table.column("SMILES").to_pylist()
        rows = (rows * (n // len(rows) + 1))[:n]  # MOSES repeated beyond its 1.58M rows
        path.write_text("\n".join(rows) + "\n")
    return path


def embed_run(inp: Path, out: Path, source: dict) -> dict:
    res = subprocess.run([sys.executable, "-c", _EMBED, str(inp), str(out), json.dumps(source)],
                         env=ENV, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _load() -> float:
    return os.getloadavg()[0]


def bench_throughput(args, work: Path) -> dict:
    inp = moses_input(args.n, work)
    source = _source(args)
    runs = []
    for rep in range(args.repeats):
        for kind in ("npy", "parquet"):
            out = work / f"tp-{rep}.{kind}"
            r = embed_run(inp, out, {**source, "overwrite": True})
            runs.append({"path": kind, **r, "mol_s": r["rows"] / r["seconds"], "load": _load()})
            print(json.dumps(runs[-1]), flush=True)
    rate = {k: sum(r["mol_s"] for r in runs if r["path"] == k) / args.repeats
            for k in ("npy", "parquet")}
    return {"n": args.n, "source": source, "runs": runs,
            "streaming_over_in_memory": rate["parquet"] / rate["npy"]}


def bench_rss(args, work: Path) -> dict:
    source = _source(args)
    runs = []
    for n in [int(x) for x in args.sizes.split(",")]:
        r = embed_run(moses_input(n, work), work / f"rss-{n}.parquet",
                      {**source, "overwrite": True})
        runs.append({"n": n, **r, "mol_s": r["rows"] / r["seconds"], "load": _load()})
        print(json.dumps(runs[-1]), flush=True)
    return {"source": source, "runs": runs,
            "peak_rss_ratio_largest_over_smallest": runs[-1]["peak_rss_mib"]
            / runs[0]["peak_rss_mib"]}


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("part-*.parquet"))}


def bench_kills(args, work: Path) -> dict:
    worker = ROOT / "tests" / "_embed_worker.py"
    inp = moses_input(args.n, work)
    ref, out = work / "kills-ref.parquet", work / "kills.parquet"
    for d in (ref, out):
        subprocess.run(["rm", "-rf", str(d)], check=True)
    part = max(args.n // 50, 1)
    subprocess.run([sys.executable, str(worker), str(inp), str(ref), str(part), "0"], env=ENV,
                   check=True)
    rng = random.Random(0)
    kills = []
    for k in range(args.kills):
        before = len(list(out.glob("part-*.parquet"))) if out.exists() else 0
        cmd = [sys.executable, str(worker), str(inp), str(out), str(part), "0.1"]
        proc = subprocess.Popen(cmd + (["--resume"] if k else []), env=ENV)
        # wait until this attempt writes a part, then kill it at a random moment
        while proc.poll() is None and (len(list(out.glob("part-*.parquet"))) if out.exists()
                                       else 0) <= before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append(len(list(out.glob("part-*.parquet"))))
    subprocess.run([sys.executable, str(worker), str(inp), str(out), str(part), "0",
                    "--resume"], env=ENV, check=True)
    same = _hashes(out) == _hashes(ref)
    return {"n": args.n, "parts": len(_hashes(ref)), "kills": len(kills),
            "parts_after_each_kill": kills, "bit_identical": same,
            "temporaries_left": len(list(out.glob(".*.tmp")))}


def _shards_listed(directory: Path) -> int:
    try:
        return len(json.loads((directory / "manifest.json").read_text())["shards"])
    except FileNotFoundError:  # not created yet
        return 0


def bench_builders(args, work: Path) -> dict:
    worker = ROOT / "tests" / "_store_worker.py"
    keys = work / "keys.txt"
    n_shards, per_shard = args.shards, args.busy
    keys.write_text("".join(f"{'C' * (1 + i // 10)}{'O' * (1 + i % 10)}\n"
                            for i in range(n_shards * 10)))
    out = {}
    for n_builders in (1, 2, 1, 2):
        directory = work / f"store-{n_builders}-{time.time_ns()}"
        go = work / f"go-{time.time_ns()}"
        procs = [subprocess.Popen([sys.executable, str(worker), str(directory), str(keys),
                                   str(work / "builders.log"), str(per_shard), "10",
                                   *([] if args.sleep else ["BUSY"]), f"GO={go}"],
                                  env=ENV) for _ in range(n_builders)]
        # timed from the moment every builder has imported everything
        while len(list(work.glob(f"{go.name}.ready.*"))) < n_builders:
            time.sleep(0.01)
        t = time.perf_counter()
        go.touch()
        # until the manifest lists every shard (a process's exit, torch's teardown under
        # load, takes seconds that are not building)
        while _shards_listed(directory) < n_shards:
            time.sleep(0.01)
        seconds = time.perf_counter() - t
        assert all(p.wait() == 0 for p in procs)
        manifest = json.loads((directory / "manifest.json").read_text())
        content = [(e["index"], e["emb_sha256"], e["ok_sha256"]) for e in manifest["shards"]]
        out.setdefault(n_builders, []).append({"seconds": seconds, "content": content,
                                               "load": _load()})
        print(n_builders, seconds, _load(), flush=True)
    one = min(r["seconds"] for r in out[1])
    two = min(r["seconds"] for r in out[2])
    same = all(r["content"] == out[1][0]["content"] for runs in out.values() for r in runs)
    return {"shards": n_shards, "teacher": "sleeps" if args.sleep else "CPU-bound (spins)",
            "s_per_shard": per_shard,
            "seconds": {k: [r["seconds"] for r in v] for k, v in out.items()},
            "load": {k: [r["load"] for r in v] for k, v in out.items()},
            "speedup_two_over_one": one / two, "stores_identical": same,
            "note": "timed from the start signal (every builder imported and its teacher "
                    "loaded) until the manifest lists every shard"}


def _source(args) -> dict:
    return {"teacher": args.teacher} if args.teacher else {"featurizer": args.featurizer}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("bench", choices=["throughput", "rss", "kills", "builders"])
    p.add_argument("--featurizer", default="molmtd-base")
    p.add_argument("--teacher", default=None)
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--sizes", default="20000,100000")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--busy", type=float, default=1.0, help="CPU seconds per shard")
    p.add_argument("--sleep", action="store_true",
                   help="builders: the teacher sleeps instead of spinning (the division of "
                        "work alone, whatever the machine's load)")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "molmtd-scale-out")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    t = time.time()
    result = {"bench": args.bench, "cores": os.cpu_count(), "load_at_start": _load(),
              **globals()[f"bench_{args.bench}"](args, args.dir),
              "load_at_end": _load(), "wall_s": time.time() - t}
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


if __name__ == "__main__":
    main()
