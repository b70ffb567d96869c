"""Downstream helpers: what to do with embeddings once a featurizer exists.

Benchmark datasets, splits, property models and metrics, clustering, diverse-subset
picking, chemical-space maps, and the evaluation report.

One job per module; import from the module that does the job, e.g.
``from molmtd.downstream.property import evaluate_property``:

- ``datasets``: labelled tasks bundled in installed packages (``load_dataset``), split
  into development tasks (``dev_tasks``) and report tasks (``report_tasks``)
- ``devprobe``: ``dev_probe_score(embed)``, a cheap ridge probe on the dev tasks
- ``splits``: random / scaffold train-test splits and k-fold folds
- ``models``, ``probe``: property models by name (linear, MLP probe, kNN probe, RF, GBM)
- ``metrics``: R2, MAE, RMSE, AUROC, AUPRC
- ``property``: train/test evaluation and cross-validation from embeddings or a featurizer
- ``clustering``: k-means, agglomerative, HDBSCAN, Butina; silhouette, ARI, NMI
- ``diversity``: MaxMin diverse-subset picking
- ``chemspace``: PCA/UMAP chemical-space maps as PNG
- ``ranks``, ``report``, ``evaluate``: the featurizer comparison behind ``molmtd evaluate``
- ``finetune_systems``, ``finetune_benchmark``: fine-tuning against frozen heads, chemprop
  and ECFP models, behind ``molmtd evaluate --finetune``
"""

__all__: list[str] = []
