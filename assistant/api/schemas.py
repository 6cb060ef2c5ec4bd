"""Request and response bodies of the HTTP API (with examples in both languages for /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

QUESTION_EXAMPLES: dict[str, Any] = {
    "zh": {"summary": "中文问题", "value": {"question": "联合国人工智能高级别咨询机构提出了哪些建议？", "k": 5}},
    "en": {"summary": "English question", "value": {"question": "Which countries signed the Bletchley Declaration?",
                                                     "k": 5}},
    "filtered": {"summary": "只检索一份报告 / one report only",
                 "value": {"question": "人工智能安全作为全球公共产品的四项原则", "k": 3, "doc_ids": ["003"]}},
}
ASK_EXAMPLES: dict[str, Any] = {
    "zh": {"summary": "中文提问", "value": {"question": "《布莱奇利宣言》由多少个国家和地区签署？"}},
    "en": {"summary": "English, streamed", "value": {"question": "What does the UN advisory body recommend?",
                                                     "stream": True}},
    "follow-up": {"summary": "追问 / follow-up with history",
                  "value": {"question": "那第二条呢？",
                            "history": [{"role": "user", "content": "咨询机构提出了哪些建议？"},
                                        {"role": "assistant", "content": "……"}]}},
}
CHAT_EXAMPLES: dict[str, Any] = {
    "zh": {"summary": "OpenAI 格式（中文）",
           "value": {"model": "assistant", "messages": [{"role": "user", "content": "全球数字契约是什么？"}]}},
    "en": {"summary": "OpenAI format, streamed",
           "value": {"model": "assistant", "stream": True,
                     "messages": [{"role": "user", "content": "What were the five aims of the AI Safety Summit?"}]}},
}


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class RetrieveRequest(BaseModel):
    question: str = Field(description="the question, in Chinese or English")
    k: int = Field(10, ge=1, le=50, description="number of passages")
    doc_ids: list[str] | None = Field(None, description="search only these reports (ids from /v1/documents)")


class AskRequest(BaseModel):
    question: str = Field(description="the question, in Chinese or English")
    history: list[Turn] = Field(default_factory=list, description="earlier turns, oldest first")
    llm: str | None = Field(None, max_length=80, description="who answers: one of the names GET /v1/models lists "
                            "as `answerers` (auto, extractive, local, local:NAME, openai); default: the server's")
    k: int | None = Field(None, ge=1, le=20, description="passages given to the answer step")
    doc_ids: list[str] | None = None
    stream: bool = Field(False, description="server-sent events: one evidence event, token events, then one "
                         "answer event (or an error event)")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completions request; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = "assistant"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class PassageOut(BaseModel):
    rank: int
    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    char_start: int
    char_end: int
    lang: str
    scores: dict[str, float] = Field(default_factory=dict)


class RetrieveResponse(BaseModel):
    question: str
    lang: str
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class CitationOut(PassageOut):
    n: int


class AnswerResponse(BaseModel):
    question: str
    lang: str
    answer: str
    refused: bool
    citations: list[CitationOut]
    llm: str
    timings_ms: dict[str, float]
    notices: list[str] = Field(default_factory=list)
    nearest: list[PassageOut] = Field(default_factory=list)
    supported_share: float | None = None
    standalone_question: str = ""
    weak_evidence: bool = Field(
        default=False, description="the best passage scored low: the reports may not answer this directly "
                                   "(a notice says so)")


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title_zh: str
    title_en: str
    language: str
    date: str
    publishers: list[str]
    chunks: int


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total_chunks: int
