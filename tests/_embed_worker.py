"""A streaming embed run in its own process, for kill-and-resume tests and benchmarks.

Usage: python tests/_embed_worker.py INPUT OUTPUT PART_SIZE DELAY_S [--resume]

The teacher is ECFP (64 bits) that sleeps DELAY_S per call, so a test can kill the
process between parts; its spec and version are ECFP's, so a resumed run (with any
delay) continues the same run.
"""

from __future__ import annotations

import sys
import time

from _ecfp_teacher import EcfpWrapper

from molmtd.embedding import embed_file


class SlowTeacher(EcfpWrapper):
    """ECFP with a pause per call; the same spec, version and output as ECFP."""

    def __init__(self, delay: float):
        super().__init__(64)
        self.delay = delay

    def embed(self, smiles):
        time.sleep(self.delay)
        return self.inner.embed(smiles)


if __name__ == "__main__":
    inp, out, part_size, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    embed_file(inp, out, teacher=SlowTeacher(delay), part_size=part_size,
               resume="--resume" in sys.argv[5:])
