"""`POST /v1/classify` with a document: `file` as a base64 PDF or DOCX (text only, at most 20 pages); URLs, bad
base64, long or unreadable documents and text + file together are 422s naming the field."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from helpers.documents import docx_bytes, pdf_bytes

from labelf_trainer.service.app import create_app
from labelf_trainer.service.settings import ServiceSettings

LABELS = ["billing", "technical", "cancellation"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from helpers.data import TELECOM_ROWS, open_project, write_project_config

    root = tmp_path_factory.mktemp("docs")
    project = open_project(write_project_config(root, rows=TELECOM_ROWS))
    with TestClient(create_app(project, settings=ServiceSettings(auth=False))) as c:
        yield c
    project.close()


def test_pdf_and_docx_are_classified_like_their_text(client) -> None:
    text = "I want to cancel my contract and end my subscription"
    plain = client.post("/v1/classify", json={"text": text, "labels": LABELS, "cache": False}).json()
    for doc in (pdf_bytes([text]), docx_bytes([text])):
        r = client.post("/v1/classify", json={"file": b64(doc), "labels": LABELS})
        assert r.status_code == 200, r.text
        assert (r.json()["label"], r.json()["confidence"]) == (plain["label"], plain["confidence"])
    r = client.post("/v1/classify", json={"file": "data:application/pdf;base64," + b64(pdf_bytes([text])),
                                          "labels": LABELS, "cache": False})
    assert r.status_code == 200 and r.json()["label"] == plain["label"]


def test_a_cached_document_answer_is_keyed_by_its_text(client) -> None:
    texts = ["my invoice is wrong, I was charged twice", "the router is broken and the internet is down"]
    plain = [client.post("/v1/classify", json={"text": t, "labels": LABELS, "cache": False}).json() for t in texts]
    for t, p in zip(texts, plain):
        r = client.post("/v1/classify", json={"file": b64(pdf_bytes([t])), "labels": LABELS}).json()
        assert (r["label"], r["confidence"]) == (p["label"], p["confidence"])  # the same text: the same answer
    again = client.post("/v1/classify", json={"file": b64(pdf_bytes([texts[0]])), "labels": LABELS}).json()
    assert again["cached"] is True and (again["label"], again["confidence"]) == (plain[0]["label"],
                                                                                  plain[0]["confidence"])


@pytest.mark.parametrize("file, needle", [
    ("https://example.com/contract.pdf", "file: URLs are not fetched"),
    ("ftp://example.com/a.docx", "file: URLs are not fetched"),
    ("data:text/html,<b>hi</b>", "file: URLs are not fetched"),
    ("not base64 at all!", "file: not valid base64"),
    ("abc", "file: not valid base64"),
    (b64(b"just some plain text, not a document"), "file: not a PDF or DOCX document"),
    (b64(b"%PDF-1.7 broken"), "file: cannot read the PDF"),
    (b64(pdf_bytes([f"page {i}" for i in range(21)])), "file: the document has 21 pages; at most 20 are read"),
    (b64(docx_bytes([f"page {i}" for i in range(22)])), "file: the document has 22 pages"),
    (b64(pdf_bytes([""])), "file: the document has no text"),
])
def test_bad_documents_are_422_naming_file(client, file: str, needle: str) -> None:
    r = client.post("/v1/classify", json={"file": file, "labels": LABELS})
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"], r.json()


def test_text_and_file_together_and_other_shapes_are_refused(client) -> None:
    r = client.post("/v1/classify", json={"text": "hi", "file": b64(pdf_bytes(["hi"])), "labels": LABELS})
    assert r.status_code == 422 and "text / file: give one of them" in r.json()["detail"]
    r = client.post("/v1/classify", json={"file": {"url": "https://x"}, "labels": LABELS})
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = client.post("/v1/classify", json={"image": "aGk=", "labels": LABELS})
    assert r.status_code == 422 and "image" in r.json()["detail"]
    r = client.post("/v1/classify", json={"labels": LABELS})
    assert r.status_code == 422 and "text: field required" in r.json()["detail"]


def test_a_20_page_document_fits_the_body_limit(client) -> None:
    pages = ["Customer: my broadband drops every evening. " * 40] * 20
    body = b64(pdf_bytes(pages))
    assert len(body) > 40_000
    r = client.post("/v1/classify", json={"file": body, "labels": LABELS})
    assert r.status_code == 200, r.text
    big = "A" * 15_100_000
    r = client.post("/v1/classify", json={"file": big, "labels": LABELS})
    assert r.status_code == 413
