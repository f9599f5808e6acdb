"""Helpers for the service tests: the models of the Labelf API docs (ids 42, 43, 44, 87, 156, 201) registered in a
real project, and a real uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from labelf_trainer.config import LabelSpec
from labelf_trainer.models import ZeroShotClassifier
from labelf_trainer.loop.project import Project

#: model id -> (name, {label: description}) for every model the API docs call.
DOC_MODELS: dict[int, tuple[str, dict[str, str]]] = {
    42: ("Contact Reason v3", {
        "Login Issue": "cannot log in or sign in to the account, login fails",
        "Account Access": "locked out, access rights to the account",
        "Password Reset": "forgot password, reset the password",
        "Technical Issue - Broadband": "broadband or internet keeps dropping, connection problems at home",
        "Churn Risk": "customer threatens to leave or switch to another provider",
        "Repeat Contact": "customer has called several times about the same issue",
        "Cancellation": "cancel or end the subscription or contract",
        "Competitor Mention": "mentions a competitor or switching to a competitor",
        "Billing Issue": "bill, invoice, payment method, charges",
        "Technical Support": "device or service not working, technical help",
        "Account Management": "change account details, address or plan",
    }),
    43: ("Issue Type (hierarchy)", {"Billing": "charges, bills, invoices", "Technical": "something does not work",
                                    "Delivery": "shipping and delivery", "Cancellation": "ending the contract",
                                    "Upgrade": "a better plan or device"}),
    44: ("Root Cause (hierarchy)", {"Wrong charge": "charged twice or the wrong amount",
                                    "Payment failed": "payment did not go through", "Invoice unclear": "cannot read the bill",
                                    "Coverage issue": "no signal", "Speed complaint": "slow internet"}),
    87: ("Issue Type", {"Billing": "charges, bills, invoices", "Technical": "something does not work",
                        "Cancellation": "ending the contract", "Upgrade": "a better plan or device"}),
    156: ("Root Cause", {"Incorrect charge": "charged the wrong amount", "Recurring billing error": "the same billing error "
                         "again", "Price plan mismatch": "price differs from the plan", "System error": "a system fault",
                         "Policy change": "a change of terms"}),
    201: ("Sentiment", {"Frustrated": "annoyed, fed up", "Angry": "furious, shouting", "Neutral": "no emotion",
                        "Satisfied": "happy, pleased"}),
}
DOC_METRICS = {"accuracy": 0.94, "f1_macro": 0.92, "per_class": {
    "Login Issue": {"precision": 0.96, "recall": 0.93, "f1": 0.94, "support": 30}}}


def zero_shot(labels: dict[str, str], encoder: str = "static") -> ZeroShotClassifier:
    return ZeroShotClassifier([LabelSpec(name=k, description=v) for k, v in labels.items()], encoder=encoder).fit()


def register_at(project: Project, model_id: int, name: str, model: ZeroShotClassifier, **kw: object) -> int:
    """Register ``model`` so that it gets id ``model_id`` (ids must be registered in increasing order)."""
    with project.ws.transaction() as c:
        c.execute("INSERT OR IGNORE INTO sqlite_sequence(name, seq) VALUES ('models', 0)")
        c.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'models'", (model_id - 1,))
    got, _ = project.registry.register(name, model, **kw)  # type: ignore[arg-type]
    assert got == model_id
    return got


def add_doc_models(project: Project, encoder_42: str = "static") -> None:
    for model_id, (name, labels) in DOC_MODELS.items():
        enc = encoder_42 if model_id == 42 else "static"
        register_at(project, model_id, name, zero_shot(labels, enc), deploy=True, confidence_threshold=0.65,
                    metrics=DOC_METRICS if model_id == 42 else None, training_examples=4280 if model_id == 42 else 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(app: object, *, timeout: float = 60.0) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
