"""The active-learning loop: a project and the workflow steps that tie the store, models and strategies together.

- :mod:`.project`: :class:`Project` (config + workspace + registry), importing data, the zero-shot model
- :mod:`.pool`: the strategies' view of the workspace (embeddings, scores, languages, traffic priority)
- :mod:`.suggest`: `labelf suggest` (run a strategy, record the batch)
- :mod:`.labels`: label files in, effective annotations out, labeled evaluation files
- :mod:`.trainer`: `labelf train` (fit, evaluate, register a version)
- :mod:`.adaptation`: self-training on unlabeled texts of languages with few labels
"""
