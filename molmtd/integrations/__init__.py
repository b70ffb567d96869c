"""Adapters that expose a distilled molmtd featurizer through other libraries' APIs.

- :mod:`molmtd.integrations.molfeat`: ``MTDMoleculeTransformer`` (a molfeat plugin).
- :mod:`molmtd.integrations.deepchem`: ``MTDDeepChemFeaturizer`` (a ``MolecularFeaturizer``).

Each module imports its library at import time, so import only the one you use.
"""

__all__: list[str] = []
