"""The one place that builds kefu's services from `Settings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from threadpoolctl import threadpool_limits

from bot.access.accounts import Accounts, Role
from bot.access.audit import AuditLog
from bot.access.ratelimit import RateLimiter
from bot.answering.answerer import Answerer
from bot.answering.classifier import ClassifierSlot, refit_if_stale
from bot.answering.composer import LLMComposer
from bot.answering.language import detect_customer_language
from bot.answering.refusal import RefusalModel
from bot.attachments.store import AttachmentStore, take_over
from bot.channels.base import Channel
from bot.channels.line import LineChannel
from bot.channels.messenger import MessengerChannel
from bot.channels.records import ChannelRecords
from bot.channels.relay import ChannelRelay
from bot.conversation.broadcast import RedisBroadcast
from bot.conversation.feed import EventFeed
from bot.conversation.service import ConversationService
from bot.conversation.sql import SqlConversationStore
from bot.conversation.store import ConversationStore
from bot.customers.consent import MarketingConsents
from bot.customers.contacts import verified_contacts
from bot.customers.directory import CustomerDirectory
from bot.customers.fields import CustomFields
from bot.customers.identities import CustomerIdentities
from bot.desk.actions import AgentDesk
from bot.desk.assignment import AutoAssignment
from bot.desk.branding import StoredBranding
from bot.desk.expiry import QueueExpiry
from bot.desk.history import ConversationHistory
from bot.desk.inbox import OfflineInbox
from bot.desk.packet import PacketBuilder
from bot.desk.presence import AgentPresence, CustomerSightings, LocalPresence, Sightings
from bot.desk.queue import HumanQueue
from bot.desk.saved_replies import SavedReplies
from bot.desk.schedule import Staffing, StoredHours
from bot.desk.shared_presence import RedisPresence, RedisSightings
from bot.orders.lookup import OrderBook, erp_lookup
from bot.orders.questions import OrderQuestions
from bot.orders.store import OrderStore
from bot.orders.sync import OrderSync
from bot.privacy.customers import CustomerData
from bot.privacy.redaction import mask_personal
from bot.privacy.retention import Retention
from bot.settings import Settings
from handoff.gate import Gate
from handoff.sentiment import SentimentModel
from ingest.model import LoadBudgets
from knowledge.base import KnowledgeBase
from knowledge.drafts import KnowledgeDrafts
from knowledge.embedding import (
    Embedder,
    SentenceTransformerEmbedder,
    e5_embedder,
    is_e5,
    minilm_embedder,
)
from knowledge.ingestion import IngestOptions
from knowledge.job_signal import RedisJobSignal
from knowledge.library import KnowledgeLibrary
from knowledge.query_batching import BatchedEmbedder
from knowledge.retriever import KEYWORD, HybridRetriever, RetrievalConfig, dense_signal


def build_embedders(settings: Settings) -> list[Embedder]:
    # numpy's BLAS (the vector search's product, the gate's) on one thread: its threads spin
    # after each call and took the cores from the encoders (a turn's e5 CPU 18 → 31 ms,
    # eval/profile_turn.py); the products it does here take a fraction of a millisecond.
    threadpool_limits(1, user_api="blas")
    embedders: list[Embedder] = []
    threads = settings.embedding.threads or None
    backend, onnx_cache = settings.embedding.backend, settings.embedding.onnx_cache_dir
    if (
        threads is not None
        and backend == "package"
        and {"minilm", "custom"} & set(settings.embedding.models)
    ):
        import torch

        torch.set_num_threads(threads)  # the sentence-transformers models' threads
    for name in settings.embedding.models:
        if name == "e5":
            embedders.append(e5_embedder(backend, onnx_cache, threads))
        elif name == "minilm":
            embedders.append(minilm_embedder(backend, onnx_cache, threads))
        elif name == "custom":
            if settings.embedding.custom_path is None:
                raise ValueError("embedding model 'custom' needs KEFU_EMBEDDING__CUSTOM_PATH")
            langs = frozenset(settings.embedding.custom_languages) or None
            embedders.append(
                SentenceTransformerEmbedder(settings.embedding.custom_path, "custom", langs)
            )
    return embedders


def retrieval_config(settings: Settings, embedders: list[Embedder]) -> RetrievalConfig:
    r = settings.retrieval
    return RetrievalConfig(
        fusion=r.fusion,
        weights={dense_signal(e.name): r.dense_weight for e in embedders},
        language_weights={
            "zh": {KEYWORD: r.keyword_weight_zh},
            "en": {KEYWORD: r.keyword_weight_en, dense_signal("minilm"): r.minilm_weight_en},
        },
        question_weight=r.question_weight,
        keyword_scale=r.keyword_scale,
        rrf_k=r.rrf_k,
        candidates=r.candidates,
        cache_size=r.cache_size,
    )


def ingest_options(
    settings: Settings, *, dry_run: bool = False, force: bool = False
) -> IngestOptions:
    i = settings.ingest
    return IngestOptions(
        chunk_size=i.chunk_size,
        chunk_overlap=i.chunk_overlap,
        max_bytes=i.max_file_mb * 1024 * 1024,
        budgets=LoadBudgets(
            max_cells=i.max_cells,
            max_cell_chars=i.max_cell_chars,
            max_unzipped_bytes=i.max_unzipped_mb * 1024 * 1024,
            max_pages=i.max_pdf_pages,
            max_page_chars=i.max_pdf_page_chars,
        ),
        dry_run=dry_run,
        force=force,
    )


@dataclass(frozen=True)
class Limits:
    per_client: RateLimiter  # customer endpoints, per client address
    per_conversation: RateLimiter  # posts to one conversation
    logins: RateLimiter  # log-in attempts per address and username
    search: RateLimiter  # /api/search and /api/sources, per client address
    pictures: RateLimiter  # customers' pictures, per client address


def rate_limits(settings: Settings) -> Limits:
    a = settings.access
    uri = a.rate_limit_storage
    if uri.startswith("memory://") and settings.redis_url:
        uri = settings.redis_url  # shared by every worker
    prefix = f"{settings.redis_prefix}:limits"
    return Limits(
        RateLimiter(a.customer_rate_limit, uri, prefix),
        RateLimiter(a.conversation_rate_limit, uri, prefix),
        RateLimiter(a.login_rate_limit, uri, prefix),
        RateLimiter(a.search_rate_limit, uri, prefix),
        RateLimiter(settings.attachments.rate_limit, uri, prefix),
    )


def handoff_gate(
    settings: Settings, embedders: list[Embedder], retriever: HybridRetriever | None = None
) -> Gate:
    """The gate, its sentiment model on the multilingual embedder (none: sentiment is off),
    reusing the query vectors retrieval computed for the same message."""
    multilingual = next((e for e in embedders if e.languages is None), None)
    # the shipped weights are fitted on multilingual-e5-small's vectors, and mean nothing on
    # another model's
    model = multilingual.inner if isinstance(multilingual, BatchedEmbedder) else multilingual
    e5 = multilingual if model is not None and is_e5(model) else None
    sentiment = SentimentModel.load(e5) if e5 is not None else None
    known = None
    if retriever is not None and multilingual is not None:
        name = multilingual.name
        known = lambda text: retriever.cached_query_vector(name, text)  # noqa: E731
    return Gate(settings.gate, sentiment, multilingual, known)


@dataclass
class Services:
    settings: Settings
    kb: KnowledgeBase
    retriever: HybridRetriever
    store: ConversationStore
    answerer: Answerer
    conversations: ConversationService
    accounts: Accounts
    drafts: KnowledgeDrafts
    queue: HumanQueue
    desk: AgentDesk
    packets: PacketBuilder
    limits: Limits
    library: KnowledgeLibrary
    audit: AuditLog
    orders: OrderStore
    order_sync: OrderSync
    presence: AgentPresence
    sightings: Sightings
    staffing: Staffing
    inbox: OfflineInbox
    expiry: QueueExpiry
    saved_replies: SavedReplies
    history: ConversationHistory
    assignment: AutoAssignment
    branding: StoredBranding  # how the widget looks, as an admin set it
    relay: ChannelRelay | None = None  # LINE and Messenger, when either is set up
    identities: CustomerIdentities | None = None  # one customer across channels
    broadcast: RedisBroadcast | None = None  # live events to and from the other workers
    models_ready: bool = False  # warm_up() has loaded the models

    def customers(self) -> CustomerData | None:
        """Customers' copies and erasure (None for a memory store)."""
        if not isinstance(self.store, SqlConversationStore):
            return None
        return CustomerData(self.store, self.settings.tags)

    def directory(self) -> CustomerDirectory | None:
        """Every customer's profile across their channels (None without identities)."""
        if self.identities is None:
            return None
        engine = self.identities.engine
        customer_data = self.customers()
        return CustomerDirectory(
            self.identities,
            self.store,
            ChannelRecords(engine).name_of,
            self.settings.tags,
            list(self.settings.profile.wanted),
            corrections=customer_data.corrections if customer_data is not None else None,
            consents=MarketingConsents(engine),
            fields=CustomFields(engine),
            orders=self.orders.find,
        )

    def retention(self) -> Retention | None:
        """The retention job over the store (None for a memory store: nothing outlives it)."""
        if not isinstance(self.store, SqlConversationStore):
            return None
        return Retention(self.store, self.settings.privacy.retention_days)

    def take_over_pictures(self) -> int:
        """Move the pictures an older version kept as files into the SQL database; how many
        (none while pictures are off: the files wait where they are)."""
        kept = self.conversations.attachments
        if kept is None:
            return 0
        folder = self.settings.attachments.directory or self.settings.data_dir / "attachments"
        return take_over(kept.engine, folder)

    def close(self) -> None:
        self.library.close()
        if self.relay is not None:
            self.relay.close()
        client = getattr(self.presence, "client", None)
        if client is not None:
            client.close()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def warm_up(self) -> None:
        """Load the models and the keyword index now, so the first customer does not wait."""
        self.kb.keyword_index()
        for embedder in self.kb.embedders:
            embedder.embed_queries(["warm up 暖身"])
        # The language detector and the tokeniser's dictionary load on first use.
        for question in ("暖身一下可以嗎", "warming up, is that ok"):
            self.answerer.answer(question, detect_customer_language(question))
        self.models_ready = True


def llm_composer(settings: Settings, embedders: list[Embedder]) -> LLMComposer | None:
    """The optional LLM drafting, checked against the passages by the multilingual embedder."""
    from bot.answering.llm import Drafter, chat_model

    model = chat_model(settings.llm)
    if model is None:
        return None
    checker = next((e for e in embedders if e.languages is None), None)
    return LLMComposer(
        Drafter(model, timeout_s=settings.llm.timeout_s),
        checker,
        min_lexical=settings.llm.min_lexical_support,
        min_semantic=settings.llm.min_semantic_support,
    )


def attachment_store(settings: Settings, engine: Engine) -> AttachmentStore | None:
    """Where pictures sent in conversations are kept, in the SQL database (None: pictures
    are off)."""
    a = settings.attachments
    if not a.images:
        return None
    return AttachmentStore(
        engine,
        int(a.max_image_mb * 1_048_576),
        max_pictures=a.max_conversation_pictures,
        max_conversation_bytes=int(a.max_conversation_mb * 1_048_576),
    )


def may_answer(accounts: Accounts) -> Callable[[str], bool]:
    """Whether the account `username` is an active one that may take conversations."""

    def check(username: str) -> bool:
        user = accounts.get(username)
        return user is not None and user.active and user.may(Role.AGENT)

    return check


def conversation_store(settings: Settings) -> SqlConversationStore:
    """The SQL database of all SQL state (KEFU_DATABASE_URL), SQLite under data_dir if unset."""
    url = settings.sql_url()
    if url:
        return SqlConversationStore(url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqlConversationStore.sqlite(settings.data_dir)


def build_services(
    settings: Settings,
    embedders: list[Embedder] | None = None,
    store: ConversationStore | None = None,
) -> Services:
    embedders = embedders if embedders is not None else build_embedders(settings)
    if settings.embedding.batch_queries:
        # one encoder call at a time, turns answered together encoded together
        batched: list[Embedder] = [BatchedEmbedder(e) for e in embedders]
        embedders = batched
    store = store if store is not None else conversation_store(settings)
    engine = sql_engine(store, settings)
    kb = KnowledgeBase.open(
        settings.data_dir,
        embedders,
        chroma_url=settings.chroma_url,
        engine=catalog_engine(engine, settings),
    )
    retriever = HybridRetriever(kb, retrieval_config(settings, embedders))
    answerer = Answerer(
        retriever,
        RefusalModel.load(settings.data_dir, kb.catalog),
        composer=llm_composer(settings, embedders),
        classifier=ClassifierSlot(
            settings.data_dir, refit=lambda: refit_if_stale(kb, settings.data_dir)
        ),
    )
    queue = HumanQueue(store, settings.queue, settings.tags)
    identities = CustomerIdentities(engine)
    orders = OrderStore(engine)
    order_book = OrderBook(orders, erp_lookup(settings.orders))
    desk = settings.desk
    presence, sightings = who_is_there(settings)
    a = settings.access
    accounts = Accounts(
        engine,
        idle=timedelta(minutes=a.session_idle_minutes),
        lifetime=timedelta(hours=a.session_max_hours),
    )
    staffing = Staffing(
        StoredHours(engine, settings.hours), presence, may_answer=may_answer(accounts)
    )
    feed = EventFeed()
    broadcast = (
        RedisBroadcast(feed, settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else None
    )
    conversations = ConversationService(
        store,
        answerer,
        feed=feed,
        max_message_chars=settings.conversation.max_message_chars,
        gate=handoff_gate(settings, embedders, retriever),
        waiting=queue.waiting_ids,
        orders=OrderQuestions(
            order_book,
            settings.orders.verify_attempts,
            verified_contacts(store, identities, orders.find),
        ),
        availability=staffing.now if desk.when_nobody_available == "offer_message" else None,
        attachments=attachment_store(settings, engine),
    )
    drafts = KnowledgeDrafts(engine, mask=mask_personal)
    assignment = AutoAssignment(
        store,
        conversations.flows,
        presence,
        accounts.get,
        enabled=settings.desk.auto_assign,
    )
    conversations.flows.after_move(assignment.after_move)
    return Services(
        settings,
        kb,
        retriever,
        store,
        answerer,
        conversations,
        accounts,
        drafts,
        queue,
        AgentDesk(conversations, drafts, accounts.get),
        PacketBuilder(store, kb.catalog, answerer, settings.tags),
        rate_limits(settings),
        knowledge_library(settings, kb, engine),
        AuditLog(engine),
        orders,
        OrderSync(orders, settings.orders.shopify_secret, settings.orders.woocommerce_secret),
        presence,
        sightings,
        staffing,
        OfflineInbox(conversations),
        QueueExpiry(conversations.flows, sightings, timedelta(minutes=desk.customer_gone_minutes)),
        SavedReplies(engine),
        ConversationHistory(store, settings.tags),
        assignment,
        StoredBranding(engine),
        relay=channel_relay(settings, conversations, identities, queue.position),
        identities=identities,
        broadcast=broadcast,
    )


def knowledge_library(settings: Settings, kb: KnowledgeBase, engine: Engine) -> KnowledgeLibrary:
    """The uploaded knowledge files and the ingest jobs, in the SQL database every worker
    shares; with Redis, a job queued on one worker wakes the others."""
    return KnowledgeLibrary(
        kb,
        engine,
        settings.data_dir,
        ingest_options(settings),
        after_ingest=lambda: refit_if_stale(kb, settings.data_dir),
        lease=timedelta(seconds=settings.ingest.job_lease_s),
        poll_s=settings.ingest.job_poll_s,
        signal=(
            RedisJobSignal(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else None
        ),
    )


def who_is_there(settings: Settings) -> tuple[AgentPresence, Sightings]:
    """Agents' presence and customers' sightings: in Redis when KEFU_REDIS_URL is set (shared
    by the workers), else in this process."""
    away_after = timedelta(minutes=settings.desk.away_after_minutes)
    if not settings.redis_url:
        return LocalPresence(away_after), CustomerSightings()
    import redis

    # short timeouts: some presence calls are made on the event loop
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
    prefix = settings.redis_prefix
    return (
        RedisPresence(client, away_after, prefix=prefix),
        RedisSightings(client, prefix=prefix),
    )


def channel_relay(
    settings: Settings,
    conversations: ConversationService,
    identities: CustomerIdentities,
    position: Callable[[str], int | None],
) -> ChannelRelay | None:
    """The messaging channels whose settings are given, fed by the conversations' events."""
    channels: dict[str, Channel] = {}
    if settings.line.enabled:
        channels["line"] = LineChannel(settings.line)
    if settings.messenger.enabled:
        channels["messenger"] = MessengerChannel(settings.messenger)
    if not channels:
        return None
    relay = ChannelRelay(
        conversations,
        ChannelRecords(identities.engine),
        channels,
        position,
        identities=identities,
    )
    conversations.feed.watch(relay.changed)
    return relay


def catalog_engine(engine: Engine, settings: Settings) -> Engine | None:
    """Where the knowledge catalog lives: in the SQL database when KEFU_DATABASE_URL names one
    (every worker on it serves the same knowledge), else (None) in SQLite under data_dir."""
    return engine if settings.sql_url() else None


def sql_engine(store: ConversationStore, settings: Settings) -> Engine:
    """Accounts and drafts live in the conversation store's database."""
    if isinstance(store, SqlConversationStore):
        return store.engine
    # a memory store (fast tests): accounts and drafts still need SQL
    return conversation_store(settings).engine
