"""Request and response models of the service, in the shapes of the Labelf v2 API and the ``/v1/classify`` API.

Requests are strict (no type coercion, unknown fields refused) so a typo or a wrong type is a 422 naming the field.
The examples are the ones in the API documentation; :data:`DOC_EXAMPLES` lists every documented request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator,
                      model_validator)

from ..config import MAX_TEXT_CHARS

__all__ = [
    "MAX_TEXTS", "MAX_MODEL_ID", "MAX_FILE_BYTES", "InferenceRequest", "InferenceResponse", "Prediction",
    "ScoredPrediction", "ModelSetting", "MultiInferenceRequest", "MultiInferenceResponse", "MultiInferenceResult",
    "MultiModelRequest", "MultiModelResponse", "MultiModelResult", "ClassifyRequest", "ClassifyResponse",
    "ModelObject", "ModelList", "HealthResponse", "ReadyResponse", "ErrorResponse", "DOC_EXAMPLES",
]

MAX_TEXTS = 8
"""Texts per request (the Labelf limit)."""
MAX_FILE_BYTES = 10_000_000
"""Largest document ``/v1/classify`` reads from its ``file`` field (decoded bytes)."""
MAX_FILE_CHARS = 14_000_000
"""Longest ``file`` string: 10 MB as base64 (+ line breaks and a ``data:`` prefix)."""
MAX_MODEL_ID = 2**53 - 1
"""Largest model id accepted (exactly representable as a JSON number in every client, far above any real id)."""


def _integral(value: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (strings and fractions stay invalid)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integral = BeforeValidator(_integral)
ModelId = Annotated[int, Field(ge=0, le=MAX_MODEL_ID, description="A model id from GET /v2/models."), Integral]
BLANK = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"
"""Python's whitespace (``str.isspace``): a text of only these is blank. Regex engines disagree on ``\\s`` (ECMA
leaves out U+001C-U+001F, Python leaves out U+FEFF), so the schema spells the characters out."""
NOT_BLANK = f"[^{BLANK}]"
"""The schema's ``pattern`` of a text: at least one character that is not :data:`BLANK` (the same in every engine)."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS),
                 Field(json_schema_extra={"pattern": NOT_BLANK})]  # checked by _check_blank, which names the text
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Texts = Annotated[list[Text], Field(
    min_length=1, max_length=MAX_TEXTS,
    description=f"Texts to classify. Max {MAX_TEXTS} per request, each at most {MAX_TEXT_CHARS:,} characters.")]
MaxPredictions = Annotated[int | None, Field(
    ge=1, le=100_000, description="Max labels per text. Omit to return every label; 1 for the top match only."),
    Integral]
LabelFilter = Annotated[list[LabelName] | None, Field(
    min_length=1, max_length=1000, description="Only return scores for these labels (each must be a model label).")]


def _check_blank(texts: list[str]) -> list[str]:
    for i, t in enumerate(texts):
        if not t.strip(BLANK):
            raise ValueError(f"texts[{i}] is empty (only whitespace)")
    return texts


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# ---------------------------------------------------------------------------------------------------------------
# Documented examples (Labelf API docs and the /v1/classify docs), used by the OpenAPI schema and the tests.
# ---------------------------------------------------------------------------------------------------------------
_TRANSCRIPT = (
    "Agent: Thank you for calling, how can I help?\nCustomer: Hi, I've been having issues with my broadband for a "
    "week now. It keeps dropping out every evening.\nAgent: I'm sorry to hear that. Let me check your connection..."
    "\nCustomer: I've already called twice about this. If it's not fixed I'm switching to another provider.\nAgent: "
    "I understand your frustration. Let me escalate this to our network team...")
_BILL_CALL = (
    "Hi, I'm calling about my mobile broadband. I was charged 349 kr this month but my plan is supposed to be 199 kr. "
    "This has happened two months in a row and I'm really frustrated. I've been a customer for six years and I'm "
    "starting to think about switching.")

INFERENCE_EXAMPLES: dict[str, dict[str, Any]] = {
    "utterance": {"summary": "Utterance level", "value": {"texts": ["I can't log in to my account"]}},
    "conversation": {"summary": "Conversation level: full transcript, top 3",
                     "value": {"texts": [_TRANSCRIPT], "max_predictions": 3}},
    "label_filter": {"summary": "Filter to churn-related labels",
                     "value": {"texts": ["I want to switch to a competitor"],
                               "label_filter": ["Cancellation", "Churn Risk", "Competitor Mention"]}},
    "swedish": {"summary": "Swedish", "value": {"texts": ["Jag vill säga upp mitt abonnemang"]}},
    "arabic": {"summary": "Arabic", "value": {"texts": ["أريد إلغاء اشتراكي"]}},
    "japanese": {"summary": "Japanese", "value": {"texts": ["サブスクリプションを解約したいです"]}},
    "full": {"summary": "Two texts, top 3 predictions",
             "value": {"texts": ["I want to cancel my subscription", "How do I update my payment method?"],
                       "max_predictions": 3}},
}
INFERENCE_RESPONSE_EXAMPLE = {
    "predictions": [[{"label": "Login Issue", "confidence": 0.96}, {"label": "Account Access", "confidence": 0.02},
                     {"label": "Password Reset", "confidence": 0.01}]],
    "model_id": 42, "model_version": 3, "text_language": "en", "processing_time_ms": 31,
}
MULTI_INFERENCE_EXAMPLES: dict[str, dict[str, Any]] = {
    "four_models": {"summary": "One transcript, four models", "value": {
        "texts": [_BILL_CALL],
        "model_settings": [{"model_id": 42, "max_predictions": 1}, {"model_id": 87, "max_predictions": 2},
                           {"model_id": 156, "max_predictions": 3},
                           {"model_id": 201, "label_filter": ["Frustrated", "Angry", "Neutral", "Satisfied"]}]}},
}
MULTI_INFERENCE_RESPONSE_EXAMPLE = {"results": [
    {"model_id": 42, "model_name": "Product", "model_version": 1, "predictions": [[{"label": "Mobile Broadband", "score": 0.94}]]},
    {"model_id": 87, "model_name": "Issue Type", "model_version": 1,
     "predictions": [[{"label": "Billing", "score": 0.91}, {"label": "Cancellation", "score": 0.38}]]},
], "processing_time_ms": 40}
MULTI_MODEL_EXAMPLES: dict[str, dict[str, Any]] = {
    "hierarchy": {"summary": "Product, issue type and root cause in one call", "value": {
        "model_ids": [42, 43, 44], "texts": ["I was charged twice for my mobile bill last month"],
        "max_predictions": 1}},
}
MULTI_MODEL_RESPONSE_EXAMPLE = {"results": {
    "42": {"predictions": [[{"label": "Mobile", "confidence": 0.97}]], "model_version": 1},
    "43": {"predictions": [[{"label": "Billing", "confidence": 0.95}]], "model_version": 1},
    "44": {"predictions": [[{"label": "Wrong charge", "confidence": 0.91}]], "model_version": 2},
}, "processing_time_ms": 52}
CLASSIFY_EXAMPLES: dict[str, dict[str, Any]] = {
    "basic": {"summary": "Basic classification",
              "value": {"text": "I can't log in to my account", "labels": ["billing", "technical", "sales"]}},
    "descriptions": {"summary": "With descriptions", "value": {
        "text": "We need pricing for 500 users", "labels": ["hot", "warm", "cold"],
        "descriptions": {"hot": "Ready to buy, asking for pricing or demo", "warm": "Interested but still exploring",
                         "cold": "Just browsing, no clear intent"}}},
    "saved": {"summary": "A saved classifier, pinned version",
              "value": {"text": "I can't log in to my account", "classifier": "support-tickets@v1"}},
}
CLASSIFY_RESPONSE_EXAMPLE = {"label": "technical", "confidence": 0.9423, "tokens": 142, "latency_ms": 87,
                             "cached": False}
MODEL_EXAMPLE = {
    "id": 42, "name": "Contact Reason v3", "type": "fine-tuned", "status": "deployed",
    "labels": ["Billing", "Technical", "Cancellation", "Upgrade", "General inquiry", "Complaint"],
    "metrics": {"accuracy": 0.94, "f1_macro": 0.92, "per_class": {
        "Billing": {"precision": 0.96, "recall": 0.93, "f1": 0.94},
        "Technical": {"precision": 0.91, "recall": 0.95, "f1": 0.93}}},
    "training_examples": 4280, "last_trained": "2026-03-15T09:14:00Z", "confidence_threshold": 0.65,
}

#: (method, path template, body) of every request in the API docs; ``{model_id}`` is 42 in the docs.
DOC_EXAMPLES: list[tuple[str, str, dict[str, Any] | None]] = [
    *[("POST", "/v2/models/42/inference", ex["value"]) for ex in INFERENCE_EXAMPLES.values()],
    *[("POST", "/v2/models/inference", ex["value"]) for ex in MULTI_INFERENCE_EXAMPLES.values()],
    *[("POST", "/v2/multi-model/inference", ex["value"]) for ex in MULTI_MODEL_EXAMPLES.values()],
    *[("POST", "/v1/classify", ex["value"]) for k, ex in CLASSIFY_EXAMPLES.items() if k != "saved"],
    ("GET", "/v2/models", None),
    ("GET", "/v2/models/42", None),
]


# ---------------------------------------------------------------------------------------------------------------
# Single-model inference
# ---------------------------------------------------------------------------------------------------------------
class InferenceRequest(_Request):
    texts: Texts
    max_predictions: MaxPredictions = None
    label_filter: LabelFilter = None

    _blank = field_validator("texts")(_check_blank)


Band = Literal["auto", "review", "human"]
BANDS_DOC = ("An addition to the Labelf shape: each text's routing band from its top confidence and the model "
             "version's thresholds: auto (act on it), review (a person checks), human (a person labels).")


class Prediction(BaseModel):
    label: str
    confidence: float = Field(description="Score between 0 and 1, 4 decimals.")


class InferenceResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INFERENCE_RESPONSE_EXAMPLE]})

    predictions: list[list[Prediction]] = Field(
        description="One list per input text, sorted by confidence descending.")
    model_id: int
    model_version: int = Field(description="The registry version that served the request.")
    text_language: str = Field(description="ISO 639-1 code of the request's dominant language, or 'unknown' "
                                           "when no text is long or clear enough to tell.")
    processing_time_ms: int
    bands: list[Band] = Field(default_factory=list, description=BANDS_DOC)


# ---------------------------------------------------------------------------------------------------------------
# Multi-model inference: POST /v2/models/inference (per-model settings)
# ---------------------------------------------------------------------------------------------------------------
class ModelSetting(_Request):
    model_id: ModelId
    max_predictions: MaxPredictions = None
    label_filter: LabelFilter = None


class MultiInferenceRequest(_Request):
    texts: Texts
    model_settings: list[ModelSetting] = Field(min_length=1, max_length=32,
                                                 description="One entry per model to run on the texts.")

    _blank = field_validator("texts")(_check_blank)


class ScoredPrediction(BaseModel):
    label: str
    score: float


class MultiInferenceResult(BaseModel):
    model_id: int
    model_name: str
    model_version: int
    predictions: list[list[ScoredPrediction]]
    bands: list[Band] = Field(default_factory=list, description=BANDS_DOC)


class MultiInferenceResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MULTI_INFERENCE_RESPONSE_EXAMPLE]})

    results: list[MultiInferenceResult]
    processing_time_ms: int


# ---------------------------------------------------------------------------------------------------------------
# Multi-model inference: POST /v2/multi-model/inference (one setting for all models)
# ---------------------------------------------------------------------------------------------------------------
class MultiModelRequest(_Request):
    model_ids: list[ModelId] = Field(min_length=1, max_length=32)
    texts: Texts
    max_predictions: MaxPredictions = None

    _blank = field_validator("texts")(_check_blank)


class MultiModelResult(BaseModel):
    predictions: list[list[Prediction]]
    model_version: int
    bands: list[Band] = Field(default_factory=list, description=BANDS_DOC)


class MultiModelResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MULTI_MODEL_RESPONSE_EXAMPLE]})

    results: dict[str, MultiModelResult] = Field(description="Keyed by model id (as a string).")
    processing_time_ms: int


# ---------------------------------------------------------------------------------------------------------------
# POST /v1/classify (the second vendor's single-call shape)
# ---------------------------------------------------------------------------------------------------------------
class ClassifyRequest(_Request):
    text: Annotated[str | None, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)] = Field(
        None, description=f"The text to classify (at most {MAX_TEXT_CHARS:,} characters).")
    image: Any = Field(None, description="Not supported by this server (text and documents only); sending it is a "
                                         "422.")
    file: Annotated[str | None, StringConstraints(min_length=1, max_length=MAX_FILE_CHARS)] = Field(
        None, description="Instead of text: a PDF or DOCX document as base64 (or a data: URL), at most 10 MB and 20 "
                          "pages; its text (the first 10,000 characters) is classified. URLs are refused: the server "
                          "fetches nothing.")
    labels: Annotated[list[LabelName] | None, Field(min_length=1, max_length=200)] = Field(
        None, description="Possible labels (1-200, at most 100 characters each), classified zero-shot on the fly. "
                          "Required unless classifier is given.")
    classifier: Annotated[str | None, StringConstraints(min_length=1, max_length=200)] = Field(
        None, description="A registry model by name or id, optionally pinned: 'support-tickets', 'support-tickets@v2', "
                          "'42@3'.")
    descriptions: dict[LabelName, Annotated[str, StringConstraints(max_length=2000)]] | None = Field(
        None, description="Per-label descriptions (keys are label names).")
    examples: dict[LabelName, Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]],
                                        Field(max_length=50)]] | None = Field(
        None, description="Per-label example texts (keys are label names).")
    text_type: Annotated[str | None, StringConstraints(max_length=200)] = Field(
        None, description="Accepted for compatibility; the embedding classifier does not use it.")
    priority: Literal["standard", "fast"] = Field("standard", description="Accepted; both run the same fast path.")
    cache: bool = Field(True, description="false bypasses the response cache.")
    _document: bytes | None = PrivateAttr(None)

    @property
    def document(self) -> bytes | None:
        """The decoded bytes of ``file`` (checked as base64 here; read as a PDF/DOCX by the route)."""
        return self._document

    @model_validator(mode="after")
    def _consistent(self) -> "ClassifyRequest":
        if self.image is not None:
            raise ValueError("image: this server classifies text and documents (file) only")
        if self.file is not None:
            if self.text is not None:
                raise ValueError("text / file: give one of them, not both")
            from ..data.documents import decode_base64_document
            from ..exceptions import DataError

            try:
                self._document = decode_base64_document(self.file, max_bytes=MAX_FILE_BYTES)
            except DataError as e:
                raise ValueError(str(e)) from None
        elif self.text is None:
            raise ValueError("text: field required (or file: a base64 PDF or DOCX document)")
        elif not self.text.strip():
            raise ValueError("text: text is empty (only whitespace)")
        if (self.labels is None) == (self.classifier is None):
            raise ValueError("labels / classifier: give exactly one of labels (inline) or classifier (saved)")
        if self.classifier is not None and (self.descriptions or self.examples):
            raise ValueError("descriptions / examples: only used with inline labels, not with a saved classifier")
        if self.labels is not None:
            dups = sorted({lab for lab in self.labels if self.labels.count(lab) > 1})
            if dups:
                raise ValueError(f"labels: duplicate label(s) {', '.join(map(repr, dups))}")
            if any(lab != lab.strip() or not lab.strip() for lab in self.labels):
                raise ValueError("labels: a label must not be blank or start or end with whitespace")
            for name, given in (("descriptions", self.descriptions), ("examples", self.examples)):
                unknown = sorted(set(given or {}) - set(self.labels))
                if unknown:
                    raise ValueError(f"{name}: keys not in labels: {', '.join(map(repr, unknown))}")
        return self


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLASSIFY_RESPONSE_EXAMPLE]})

    label: str
    confidence: float = Field(description="Between 0 and 1, rounded to 4 decimals.")
    tokens: int = Field(description="Tokens the encoder read (the text, truncated to the encoder's window).")
    latency_ms: int
    cached: bool


# ---------------------------------------------------------------------------------------------------------------
# Models, health, errors
# ---------------------------------------------------------------------------------------------------------------
class ClassScores(BaseModel):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None


class Metrics(BaseModel):
    accuracy: float | None = Field(None, description="Accuracy on the traffic: an estimate over the unlabeled pool "
                                   "when there is one (accuracy_method says how it was obtained).")
    f1_macro: float | None = None
    per_class: dict[str, ClassScores] = Field(default_factory=dict)
    accuracy_interval: list[float] | None = Field(None, description="The estimate's 90% interval [low, high].")
    accuracy_method: str | None = Field(None, description="How `accuracy` was obtained, in words.")
    accuracy_n: int | None = Field(None, description="Labeled texts the accuracy figure rests on.")
    heldout_accuracy: float | None = Field(None, description="Accuracy on held-out labeled texts (the sampler's "
                                           "picks: biased towards hard texts).")
    ece: float | None = Field(None, description="Expected calibration error of the calibrated held-out scores.")


class ModelObject(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MODEL_EXAMPLE]})

    id: int
    name: str
    type: str
    status: str
    labels: list[str]
    metrics: Metrics
    training_examples: int
    last_trained: str | None
    confidence_threshold: float


class ModelList(BaseModel):
    models: list[ModelObject] = Field(description="Deployed models of the workspace.")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    models_loaded: int
    models: dict[str, int] = Field(description="Loaded model id -> served version.")
    errors: dict[str, str] = Field(description="Model id -> why its newest deployed version could not be loaded.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="One line naming the problem (and the field, for invalid input).")
    errors: list[dict[str, Any]] = Field(default_factory=list, description="Every invalid field: loc and msg.")
    request_id: str | None = None
