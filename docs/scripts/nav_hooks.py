"""mkdocs hook: the nav's parts that depend on which files exist.

- "Released models" lists one page per released featurizer (generated from featurizers/);
- pages other work adds (docs/scale-out.md, docs/finetune.md) join the nav under
  "Guides" when their file exists, so a build without them stays strict-clean;
- the API reference lists its generated pages;
- any other page in docs/ is listed under "More", so a new page never breaks the build.

Runs after mkdocs-gen-files (hooks follow the plugins), before the nav is built.
"""

from __future__ import annotations

# page -> nav title, in order, placed after "Distill your own" when the file exists
OPTIONAL_GUIDES = {"scale-out.md": "Scale out", "finetune.md": "Fine-tune"}


def _section(nav: list, title: str) -> list | None:
    for item in nav:
        if isinstance(item, dict) and title in item:
            return item[title]
    return None


def on_files(files, config):
    """Fill the nav's file-dependent sections (mkdocs event)."""
    nav = config.nav
    present = {f.src_uri for f in files.documentation_pages()}
    models = sorted(p[len("models/"):-3] for p in present
                    if p.startswith("models/") and p != "models/index.md")
    released = _section(nav, "Released models")
    if released is not None:
        released[:] = ["models/index.md", *({name: f"models/{name}.md"} for name in models)]
    api = _section(nav, "API reference")
    if api is not None:
        api[:] = ["api/index.md", {"Errors": "api/errors.md"}]
    guides = [{title: page} for page, title in OPTIONAL_GUIDES.items() if page in present]
    if guides:
        at = next((i + 1 for i, item in enumerate(nav)
                   if isinstance(item, dict) and "Distill your own" in item), len(nav))
        nav[at:at] = guides
    # any other page (one a later branch adds) is listed under "More" rather than left out
    others = sorted(present - set(_pages(nav)))
    if others:
        nav.append({"More": others})
    return files


def _pages(nav) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for v in nav.values() for p in _pages(v)]
    return [p for item in nav for p in _pages(item)]
