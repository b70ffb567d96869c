"""The model card (card.md) written beside a distilled featurizer.

Cards follow the Hugging Face model-card format: a YAML front matter block (license,
tags, library_name, datasets, metrics and, for a release, a ``model-index`` of its
held-out results) followed by markdown. ``experiments/release.py`` builds a release's
card from these helpers; :func:`render_card` writes the card of a freshly trained run.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["render_card", "hub_metadata", "front_matter", "split_front_matter",
           "HUB_METRICS", "MAX_CARD_CHARS"]

# A release card's size limit: the card is read on the Hub's model page, not a report.
MAX_CARD_CHARS = 8192

# the Hub's metric ids (those of the `evaluate` library) for molmtd's primary metrics
HUB_METRICS = {"auroc": "roc_auc", "r2": "r_squared"}

_TAGS = ["chemistry", "cheminformatics", "molecular-representation", "graph-neural-network",
         "knowledge-distillation", "molmtd"]


def hub_metadata(corpus_source: str, license: str = "mit",
                 model_index: list[dict[str, Any]] | None = None,
                 metrics: list[str] | None = None) -> dict[str, Any]:
    """The card's front matter as a dict, in the Hub's field order.

    Args:
        corpus_source: the recipe's ``corpus.source``; a bundled corpus name becomes the
            ``datasets`` entry, a file path does not (it names nothing a reader can find).
        license: SPDX-style id of the weights' license.
        model_index: the Hub's ``model-index`` (a list with one ``{name, results}``);
            None for a run not evaluated yet (the key is left out).
        metrics: Hub metric ids reported in ``model_index``.
    """
    from molmtd.corpus import bundled_corpora

    meta: dict[str, Any] = {
        "license": license,
        "library_name": "molmtd",
        "pipeline_tag": "feature-extraction",
        "tags": list(_TAGS),
    }
    if corpus_source in bundled_corpora():
        meta["datasets"] = [corpus_source]
    if metrics:
        meta["metrics"] = list(metrics)
    if model_index:
        meta["model-index"] = model_index
    return meta


def front_matter(metadata: dict[str, Any]) -> str:
    """``metadata`` as a YAML front matter block (``---`` lines around it)."""
    # flow style for the leaves keeps a model-index of 20 results to a few lines each
    body = yaml.safe_dump(metadata, sort_keys=False, default_flow_style=None, width=100,
                          allow_unicode=True)
    return f"---\n{body}---\n"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """A card's front matter (``{}`` when it has none) and the markdown after it.

    Raises:
        ValueError: the card opens a front matter block that is not closed or not a mapping.
    """
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0:
        raise ValueError("the card's YAML front matter has no closing '---' line")
    meta = yaml.safe_load(text[4:end + 1]) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"the card's front matter is a {type(meta).__name__}, not a mapping")
    return meta, text[end + 5:]


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_card(recipe, info: dict[str, Any]) -> str:
    """Markdown card: what was distilled from what, on which corpus, and how well.

    It opens with the Hub's front matter (no ``model-index``: a fresh run is not evaluated).
    """
    corpus = info["corpus"]
    s = recipe.student
    used = corpus["n_train"] + corpus["n_val"]
    # corpus.use_molecules trains on a prefix of a larger corpus: say which one
    source = (f"`{corpus['source']}`" if used >= corpus["n_molecules"] else
              f"the first {used:,} of a {corpus['n_molecules']:,}-molecule `{corpus['source']}` "
              "corpus")
    lines = [
        front_matter(hub_metadata(str(corpus["source"]))),
        f"# molmtd featurizer: {info['name']}",
        "",
        f"A {s.num_layers}-layer {s.conv.upper()} student (width {s.hidden_dim}, "
        f"{s.pooling} pooling) distilled with the `{info['objective']}` objective from "
        f"{len(info['teachers'])} teachers on {used:,} molecules "
        f"({source}; {corpus['n_train']:,} train / {corpus['n_val']:,} validation), "
        f"{info['global_step']:,} optimisation steps.",
        "",
        "## Teachers and final validation metrics",
        "",
        "Loss: negative log-likelihood per teacher dimension (gaussian) or the baseline's "
        "per-dimension loss. MI: estimated I(S; T) in nats = E[-log p(t)] - E[-log q(t|s)].",
        "",
        "| teacher | spec | val loss | MI estimate (nats) |",
        "|---|---|---|---|",
    ]
    val = info["validation"]
    for label, spec in info["teacher_labels"].items():
        m = val.get(label, {})
        loss, mi = _fmt(m.get("loss", "-")), _fmt(m.get("mi", "-"))
        lines.append(f"| {label} | `{spec}` | {loss} | {mi} |")
    total = val.get("total", {})
    lines += ["", f"Total validation loss: {_fmt(total.get('loss', '-'))}", ""]
    if "effective_rank" in total:
        lines += [f"Effective rank of the embedding (exp entropy of the singular values of "
                  f"the z-scored embeddings of {recipe.training.rank_molecules:,} validation "
                  f"molecules; width {info.get('embedding_dim', '-')}): "
                  f"{_fmt(total['effective_rank'])}", ""]
    if info.get("precision"):
        asked = recipe.trainer.precision
        how = f" (trainer.precision: {asked})" if str(asked) != info["precision"] else ""
        lines += [f"Trained at precision: {info['precision']}{how}", ""]
    if info.get("selected_by"):
        lines += [f"Released epoch selected by: {info['selected_by']}", ""]
    if "dev_probe" in total:
        lines += [f"Development-task probe of the released weights: "
                  f"{_fmt(total['dev_probe'])} (mean primary metric, linear probe)", ""]
    lines += [
              "## Usage", "", "```python", "from molmtd import MTDFeaturizer",
              "X = MTDFeaturizer(\"path/to/featurizer\").transform(smiles_list)", "```", "",
              "## Recipe", "", "```yaml", recipe.to_yaml().rstrip(), "```", ""]
    return "\n".join(lines)
