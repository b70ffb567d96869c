"""One cooperative store builder in its own process, for tests and benchmarks.

Usage:
    python tests/_store_worker.py STORE_DIR KEYS_FILE LOG DELAY_S SHARD_SIZE [BUSY] [GO=PATH]

The teacher is ECFP (32 bits) that appends "pid key time" to LOG for every molecule it
embeds and then sleeps DELAY_S per call (or, with BUSY, spins the CPU DELAY_S per call:
a CPU-bound teacher on one thread), so a test can tell which process built which shard.
With GO=PATH it writes PATH.ready.<pid> once imported and starts building when PATH
exists, so a benchmark can time the builds without the process starts.
"""

from __future__ import annotations

import os
import sys
import time

from _ecfp_teacher import EcfpWrapper

from molmtd.store import EmbeddingStore


class RecordingTeacher(EcfpWrapper):
    """ECFP that logs who embedded each key; the same spec, version and output as ECFP."""

    def __init__(self, log_file: str, delay: float, busy: bool = False):
        super().__init__(32)
        self.log_file, self.delay, self.busy = log_file, delay, busy

    def embed(self, smiles):
        with open(self.log_file, "a") as fh:
            fh.write("".join(f"{os.getpid()} {s} {time.time():.3f}\n" for s in smiles))
        if self.busy:
            end = time.process_time() + self.delay
            while time.process_time() < end:
                pass
        else:
            time.sleep(self.delay)
        return self.inner.embed(smiles)


if __name__ == "__main__":
    directory, keys_file, log_file = sys.argv[1:4]
    delay, shard_size = float(sys.argv[4]), int(sys.argv[5])
    keys = open(keys_file).read().split("\n")[:-1]
    teacher = RecordingTeacher(log_file, delay, busy="BUSY" in sys.argv[6:])
    go = next((a[3:] for a in sys.argv[6:] if a.startswith("GO=")), None)
    if go:  # a benchmark times the builds, not the imports: wait for its start signal
        teacher.inner.embed(["C"])  # loads molfeat (and torch) now
        open(f"{go}.ready.{os.getpid()}", "w").close()
        while not os.path.exists(go):
            time.sleep(0.01)
    EmbeddingStore.build(teacher, keys, directory, shard_size=shard_size, progress=False)
