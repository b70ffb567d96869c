r"""Release a finished run as a named featurizer: featurizers/<name>/ with its evaluation.

Copies RUN/featurizer (model.safetensors, config.json, card.md) to featurizers/<name>/,
renames it, and appends to the card what a user needs to judge it: the held-out rank
table per probe and split of each evaluation report given (experiments/ranks_by_split.py)
and a notes file (how it was chosen, the ablations, the commands and the compute). The
folder then loads as ``MTDFeaturizer("<name>")`` from a clone and, after the next build,
from the wheel (setup.py copies every released folder).

    .venv/bin/python experiments/release.py ~/.cache/molmtd/runs/scale50k/gauss-jkcat \\
        molmtd-base --report ~/.cache/molmtd/runs/scale50k/report-probes \\
        --notes docs/molmtd-base-notes.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

from ranks_by_split import ranks_by_split  # noqa: E402

FILES = ("model.safetensors", "config.json", "card.md")


def release(run: Path, name: str, reports: list[Path], notes: Path | None,
            target_root: Path = ROOT / "featurizers", readout: str | None = None) -> Path:
    source = run / "featurizer"
    missing = [f for f in FILES if not (source / f).is_file()]
    if missing:
        raise SystemExit(f"{source}: not a finished run (missing {', '.join(missing)})")
    target = target_root / name
    target.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copy2(source / f, target / f)
    config = json.loads((target / "config.json").read_text())
    config["name"] = name  # the name it loads by, whatever the run was called
    if readout is not None:  # what readout="auto" (the default) gives users of this release
        config["readout"] = readout
    (target / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    card = (target / "card.md").read_text().splitlines()
    if card and card[0].startswith("# "):
        card[0] = f"# molmtd featurizer: {name}"
    parts = ["\n".join(card).rstrip(), ""]
    for report in reports:
        table = ranks_by_split(report)
        parts += [f"## Held-out average rank by probe and split ({report.name})", "",
                  "Lower is better; one row per featurizer, one column per probe and split, "
                  "`mean` over the columns (experiments/ranks_by_split.py).", "",
                  table.round(2).to_markdown(), ""]
    if readout is not None:
        parts += ["## Recommended readout", "",
                  f"`{readout}`: what `MTDFeaturizer(\"{name}\")` and `molmtd embed "
                  f"--featurizer {name}` return by default (`readout=\"auto\"`); pass "
                  "`readout=\"embedding\"` or `\"layers\"` to choose.", ""]
    if notes is not None:
        parts += [notes.read_text().rstrip(), ""]
    (target / "card.md").write_text("\n".join(parts))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="run directory (RUN/featurizer)")
    parser.add_argument("name", help="released name, e.g. molmtd-base")
    parser.add_argument("--report", type=Path, action="append", default=[],
                        help="evaluation report directory (results.csv, report.md)")
    parser.add_argument("--notes", type=Path, default=None, help="markdown appended to the card")
    parser.add_argument("--readout", choices=("embedding", "layers"), default=None,
                        help="the readout users get by default (config.json's 'readout')")
    args = parser.parse_args()
    print(release(args.run, args.name, args.report, args.notes, readout=args.readout))


if __name__ == "__main__":
    main()
