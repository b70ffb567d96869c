"""No internal session counter anywhere in the repository: experiments are named by ID.

Experiments once went by the counter of the session that ran them, which no reader can
decode; they now go by a dated, descriptive ID (docs/EXPERIMENTS.md, Contents). This scans
every git-tracked file, binary headers included (the safetensors metadata a release
carries), so that a counter cannot come back.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the counter's spellings: the word stop(s) followed by its number (after a space, a hyphen,
#: an underscore or nothing; ranges too), the held-out results folder "heldout-s" + number,
#: and a bare "s" + two digits label (the synthetic cases below show each)
COUNTER = re.compile(r"(?i:\bstops?[ _-]?\d+)|(?i:heldout-s\d+)|(?<![\w-])s\d{2}\b")
#: in the raw bytes of a binary file only the long spellings: a bare "s" and two digits
#: turns up by chance in megabytes of float weights
COUNTER_IN_BYTES = re.compile(r"(?i:\bstops?[ _-]?\d+)|(?i:heldout-s\d+)")


def counter_hits(text: str, pattern: re.Pattern = COUNTER) -> list[tuple[int, str]]:
    """(line number, matched text) of every counter mention in ``text``."""
    return [(number, match.group(0))
            for number, line in enumerate(text.splitlines(), start=1)
            for match in pattern.finditer(line)]


def safetensors_header(data: bytes) -> str:
    """The JSON header of a safetensors file (tensor names and ``__metadata__``)."""
    (length,) = struct.unpack("<Q", data[:8])
    return data[8:8 + length].decode("utf-8", errors="ignore")


def file_hits(path: Path) -> list[tuple[int, str]]:
    data = path.read_bytes()
    if path.suffix == ".safetensors":
        header = safetensors_header(data)
        # one line per metadata entry, so a hit names the entry's line
        return counter_hits(json.dumps(json.loads(header), indent=1))
    text = data.decode("utf-8", errors="ignore")
    return counter_hits(text, COUNTER_IN_BYTES if b"\0" in data else COUNTER)


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                         capture_output=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_tracked_file_names_an_experiment_by_session_counter():
    hits = [f"{path.relative_to(ROOT)}:{line}: {text!r}"
            for path in tracked_files() if path.is_file()
            for line, text in file_hits(path)]
    assert not hits, ("internal session counters found; name the experiment by its ID "
                      "(docs/EXPERIMENTS.md, Contents) instead:\n" + "\n".join(hits))


# the counter spelled in pieces, so that this file does not match itself
STOP, HELDOUT = "st" + "op", "heldout-" + "s"


@pytest.mark.parametrize("text", [
    f"as measured in {STOP} 31", f"{STOP.capitalize()}s 29-30 trained", f"the {STOP}-17 release",
    f"~/.cache/molmtd/logs/{STOP}24_eval.sh", f"experiments/results/{HELDOUT}27/base",
    f"(s{27})",
])
def test_the_scan_flags_every_spelling_of_the_counter(text):
    assert len(counter_hits(text)) == 1


@pytest.mark.parametrize("text", [
    "Training stops at the next batch", "early stopping patience 3", "report-s1-ridge",
    "gauss-jkcat-noproj-brics-s2112", "c1ccs12", "2026-12-02-heldout-base-max-int8/base",
    "NaN stop. A non-finite loss", "fit 494 s on an idle machine",
])
def test_the_scan_leaves_ordinary_text_alone(text):
    assert counter_hits(text) == []


def test_the_scan_reads_safetensors_metadata(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    save_file({"w": np.zeros((64, 64), np.float32)}, str(path),
              metadata={"card": f"released in {STOP} 24", "run": f"{HELDOUT}27"})
    assert sorted(text for _, text in file_hits(path)) == [f"{HELDOUT}27", f"{STOP} 24"]
    save_file({"w": np.zeros((64, 64), np.float32)}, str(path), metadata={"card": "clean"})
    assert file_hits(path) == []
