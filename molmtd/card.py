"""The model card (card.md) written beside a distilled featurizer."""

from __future__ import annotations

from typing import Any

__all__ = ["render_card"]


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_card(recipe, info: dict[str, Any]) -> str:
    """Markdown card: what was distilled from what, on which corpus, and how well."""
    corpus = info["corpus"]
    s = recipe.student
    used = corpus["n_train"] + corpus["n_val"]
    # corpus.use_molecules trains on a prefix of a larger corpus: say which one
    source = (f"`{corpus['source']}`" if used >= corpus["n_molecules"] else
              f"the first {used:,} of a {corpus['n_molecules']:,}-molecule `{corpus['source']}` "
              "corpus")
    lines = [
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
