"""Connectors to external labeling tools (Label Studio).

- :mod:`.base`: the connector errors and the plain result records (``PushResult``, ``PullResult``, ``CheckLine``)
- :mod:`.label_studio`: project setup, push with pre-annotations, incremental pull (``push_batch``, ``pull``)
- :mod:`.ls_client`, :mod:`.ls_schema`, :mod:`.ls_store`: the SDK client and its errors, the labeling config,
  writing annotations into the workspace with the conflict policy
- :mod:`.ml_backend`: the Label Studio ML backend (FastAPI ``router``, mounted by ``labelf serve``)

Modules are imported lazily by their users: importing this package pulls in no SDK.
"""
