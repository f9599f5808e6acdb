"""Labels you can trust and a label set that can grow (``docs/quality.md``). Modules are imported on use (cleanlab
and scikit-learn load only inside the command that needs them):

- :mod:`.oof`: out-of-fold scores of the project's embedding head on its frozen embeddings
- :mod:`.review`: suspect labels by confident learning (cleanlab) - `labelf review`
- :mod:`.agreement`: Krippendorff's alpha, Fleiss' and Cohen's kappa, cleanlab multi-annotator consensus,
  disputed texts - `labelf agreement`
- :mod:`.rules`: the config's keyword and pattern rules: hits, coverage, precision - `labelf rules`
- :mod:`.discover`: clusters of texts that fit no label, with c-TF-IDF terms - `labelf discover`
"""
