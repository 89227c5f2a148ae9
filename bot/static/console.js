/* kefu agent console: log in, the live queue, a conversation beside its handoff packet, claim,
 * reply, private notes, resolve, return to the bot, assign / transfer / unassign, canned
 * replies from the knowledge base, the team's saved replies (typed as /shortcut in the reply
 * box), the history of every conversation, alerts (sound, desktop notification, a count in the
 * tab title; each can be switched off) and knowledge drafts. On a phone the queue, the
 * conversation and the packet are tabs.
 *
 * Labels are bilingual (zh-TW first, then English). Customer and agent text is only ever set
 * with textContent; nothing from the API is parsed as HTML. The transcript is drawn from the
 * agent event stream, de-duplicated by seq.
 */
(function () {
  "use strict";

  var TYPING_EVERY_MS = 2500;
  var TYPING_SHOWN_MS = 5000;
  // The stream sends a wake-up's events before its signals: typing that arrives this soon
  // after the customer's message is the typing of that message.
  var TYPING_STALE_MS = 1500;
  var MAX_BACKOFF_MS = 30000;
  var WS_BASE = location.origin.replace(/^http/, "ws");

  var staff = window.kefuStaff;
  var TRIGGERS = staff.TRIGGERS, STATUSES = staff.STATUSES, DECISIONS = staff.DECISIONS;
  var SOURCES = staff.SOURCES;
  var $ = staff.$, el = staff.el, clear = staff.clear, label = staff.label;
  var when = staff.when, time = staff.time, shorten = staff.shorten, api = staff.api;

  // ---- DOM helpers (text only) ------------------------------------------------------------

  function fact(list, term, value) {
    list.appendChild(el("dt", { text: term }));
    list.appendChild(el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value) }));
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  // ---- the API ----------------------------------------------------------------------------

  /* Both languages of an API error; a claim that lost names who won. */
  function errorText(err) {
    if (err && !err.messages && err.code === "status_conflict" && err.details && err.details.agent_name) {
      return "這段對話已由 " + err.details.agent_name + " 接手。 / " +
        err.details.agent_name + " has already claimed this conversation.";
    }
    return staff.errorText(err);
  }

  // ---- logging in and out -----------------------------------------------------------------

  var me = null;
  staff.on.unauthorized = function (err) { loggedOut(err); };

  function showLogin(message) {
    me = null;
    stopStreams();
    $("desk").hidden = true;
    $("me").hidden = true;
    $("logout").hidden = true;
    $("presence-box").hidden = true;
    $("alerts").hidden = true;
    $("phone-tabs").hidden = true;
    known = null;
    agentsLoaded = null;
    $("login-view").hidden = false;
    $("login-message").textContent = message || "";
    $("password").value = "";
    $("username").focus();
  }

  function loggedOut(err) {
    if (!me) return; // already on the log-in form
    var message = err && err.code === "session_expired"
      ? errorText(err)
      : errorText(err || { messages: { zh: "請重新登入。", en: "Please log in again." } });
    showLogin(message);
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = event.target.querySelector("button");
    button.disabled = true;
    api("POST", "/api/auth/login", {
      username: $("username").value.trim(),
      password: $("password").value
    }).then(function (user) {
      $("password").value = "";
      startDesk(user);
    }, function (err) {
      $("login-message").textContent = errorText(err);
      $("password").select();
    }).finally(function () { button.disabled = false; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/api/auth/logout").finally(function () { showLogin(""); });
  });

  function startDesk(user) {
    me = user;
    $("login-view").hidden = true;
    $("desk").hidden = false;
    $("me").hidden = false;
    $("logout").hidden = false;
    $("alerts").hidden = false;
    $("phone-tabs").hidden = false;
    $("me").textContent = (user.display_name || user.username) + " (" + user.username + " · " + user.role + ")";
    $("presence-box").hidden = false;
    $("presence").value = "online";
    connectQueue();
    loadOfflineMessages();
    if (current) openConversation(current.id);
  }

  // ---- the queue --------------------------------------------------------------------------

  var queueSocket = null;
  var queueBackoff = 1000;
  var queueTimer = null;
  var queue = [];
  var queueAt = Date.now();

  function connectQueue() {
    if (queueSocket || !me) return;
    clearTimeout(queueTimer);
    var ws = new WebSocket(WS_BASE + "/api/agent/queue/events");
    queueSocket = ws;
    $("queue-state").textContent = "連線中… Connecting…";
    ws.onopen = function () { queueBackoff = 1000; };
    ws.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame.kind === "queue" && frame.data) {
        $("queue-state").textContent = "";
        noticeQueue(frame.data.conversations || []);
        renderQueue(frame.data.conversations || []);
        loadOfflineMessages();
      }
    };
    ws.onclose = function (event) {
      if (queueSocket === ws) queueSocket = null;
      if (!me) return;
      if (event.code === 4401) { recheckSession(); return; }
      if (event.code === 4403) {
        $("queue-state").textContent = "您的帳號沒有權限看佇列。 Your account may not see the queue.";
        return;
      }
      $("queue-state").textContent = "連線中斷，重新連線中… Reconnecting…";
      var wait = Math.min(queueBackoff, MAX_BACKOFF_MS) * (0.75 + Math.random() * 0.5);
      queueBackoff = Math.min(queueBackoff * 2, MAX_BACKOFF_MS);
      queueTimer = setTimeout(connectQueue, wait);
    };
  }

  // ---- presence: an open console is online while its agent is active ----------------------

  var ACTIVE_EVERY_MS = 60000;
  var lastActive = 0;
  function noteActivity() {
    var now = Date.now();
    if (!me || now - lastActive < ACTIVE_EVERY_MS) return;
    if (!queueSocket || queueSocket.readyState !== 1) return;
    lastActive = now;
    queueSocket.send(JSON.stringify({ type: "active" }));
  }
  ["keydown", "pointerdown", "focus"].forEach(function (name) {
    window.addEventListener(name, noteActivity, true);
  });
  $("presence").addEventListener("change", function () {
    var select = this;
    api("PUT", "/api/agent/presence", { status: select.value }).then(function (result) {
      select.value = result.me === "away" ? "away" : "online";
    }, function (err) { $("action-error").textContent = errorText(err); });
  });

  // ---- offline messages -------------------------------------------------------------------

  var offlineLoading = null;
  function loadOfflineMessages() {
    if (!me || offlineLoading) return;
    offlineLoading = api("GET", "/api/agent/offline-messages").then(renderOfflineMessages, function (err) {
      $("offline-state").textContent = errorText(err);
    }).finally(function () { offlineLoading = null; });
  }
  setInterval(loadOfflineMessages, 30000);

  function renderOfflineMessages(found) {
    var list = $("offline-messages");
    if (list.contains(document.activeElement) && document.activeElement.tagName === "TEXTAREA") return;
    clear(list);
    $("offline-state").textContent = "";
    $("offline-count").textContent = "· " + found.unanswered + " 未回覆 unanswered";
    if (!found.messages.length) {
      list.appendChild(el("li", { class: "muted", text: "沒有離線留言。 No offline messages." }));
      return;
    }
    found.messages.forEach(function (m) {
      var contact = [m.email, m.phone].filter(Boolean).join(" · ");
      var item = el("li", { class: m.answered_at ? "answered" : "unanswered", "data-conversation-id": m.conversation_id },
        el("span", { class: "muted", text: when(m.at) + " · " + (m.language || "") }),
        el("span", { class: "text", text: m.text }),
        el("span", { class: "contact", text: "聯絡方式 Contact: " + contact }));
      if (m.answered_at) {
        item.appendChild(el("span", { class: "muted", text: "已回覆 Answered · " + (m.answered_by || "") }));
      } else {
        var id = "offline-reply-" + m.conversation_id + "-" + m.seq;
        var box = el("textarea", { id: id, rows: "2", maxlength: "4000" });
        var problem = el("p", { class: "alert", role: "alert" });
        var form = el("form", { class: "offline-reply" },
          el("label", { for: id, text: "回覆 Reply" }), box,
          el("button", { type: "submit", class: "primary", text: "送出回覆 Send reply" }), problem);
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          var text = box.value.trim();
          if (!text) { problem.textContent = "請輸入回覆。 Please write a reply."; return; }
          var button = form.querySelector("button");
          button.disabled = true;
          api("POST", "/api/agent/offline-messages/" + encodeURIComponent(m.conversation_id) + "/" + m.seq + "/reply",
            { text: text }).then(function () {
            box.blur();
            loadOfflineMessages();
          }, function (err) {
            button.disabled = false;
            problem.textContent = errorText(err);
          });
        });
        item.appendChild(form);
      }
      list.appendChild(item);
    });
  }

  function recheckSession() {
    // A stream closed with 4401: ask /me for the reason (not logged in, or expired).
    api("GET", "/api/auth/me").then(function () {
      connectQueue();
    }, function () { /* api() showed the log-in form */ });
  }

  function queueOrder(a, b) {
    var aw = a.status === "waiting" ? 0 : 1;
    var bw = b.status === "waiting" ? 0 : 1;
    if (aw !== bw) return aw - bw;
    if (aw === 0 && a.priority !== b.priority) return b.priority - a.priority;
    return b.waited_s - a.waited_s;
  }

  function renderQueue(entries) {
    queue = entries.slice().sort(queueOrder);
    queueAt = Date.now();
    var list = $("queue");
    var focusedId = document.activeElement && document.activeElement.getAttribute("data-conversation-id");
    clear(list);
    var waiting = queue.filter(function (e) { return e.status === "waiting"; }).length;
    $("queue-count").textContent = "· " + waiting + " 等候 waiting";
    if (!queue.length) {
      list.appendChild(el("li", { class: "muted", text: "目前沒有等候中的對話。 Nobody is waiting." }));
      return;
    }
    queue.forEach(function (entry) {
      var owner = entry.agent_name || entry.agent;
      var hot = typeof entry.sentiment === "number" && entry.sentiment >= 0.5;
      var first = entry.status === "waiting"
        ? el("span", { class: "pos", text: "#" + (entry.queue_position || "?") })
        : el("span", { class: "tag", text: "處理中 With " + (owner || "agent") });
      var button = el("button", {
        type: "button", class: "entry", "data-conversation-id": entry.id,
        "aria-current": current && current.id === entry.id ? "true" : "false",
        onclick: function () { openConversation(entry.id); }
      },
        el("span", { class: "line1" },
          first,
          el("span", { class: "tag trigger", title: "轉接原因 Trigger", text: label(TRIGGERS, entry.trigger) +
            (entry.trigger_value !== null && entry.trigger_value !== undefined && entry.trigger_value !== ""
              ? " (" + formatValue(entry.trigger_value) + ")" : "") }),
          entry.sentiment !== null && entry.sentiment !== undefined
            ? el("span", { class: "tag sentiment" + (hot ? " hot" : ""),
              text: "情緒 Sentiment " + Number(entry.sentiment).toFixed(2) })
            : null,
          el("span", { class: "wait", "data-waited": String(entry.waited_s || 0), text: "⏱ " + clock(entry.waited_s || 0) })),
        el("span", { class: "last", text: entry.last_message || "—" }),
        el("span", { class: "muted", text: [entry.channel, entry.language, entry.customer_id].filter(Boolean).join(" · ") }),
        (entry.tags || []).length
          ? el("span", { class: "muted tags", title: "標籤 Tags", text: "🏷 " + entry.tags.join(" · ") })
          : null);
      list.appendChild(el("li", { class: entry.status }, button));
    });
    if (focusedId) {
      var again = list.querySelector('[data-conversation-id="' + CSS.escape(focusedId) + '"]');
      if (again) again.focus();
    }
  }

  function formatValue(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  setInterval(function () {
    var elapsed = (Date.now() - queueAt) / 1000;
    document.querySelectorAll("#queue .wait").forEach(function (span) {
      var waited = Number(span.getAttribute("data-waited")) || 0;
      span.textContent = "⏱ " + clock(waited + elapsed);
    });
  }, 1000);

  // ---- one conversation -------------------------------------------------------------------

  var current = null; // {id, events, seen, lastSeq, status, assignee, agentName, socket, ...}

  function stopStreams() {
    if (queueSocket) { var q = queueSocket; queueSocket = null; q.onclose = null; q.close(1000); }
    clearTimeout(queueTimer);
    if (current) closeConversationStream(current);
  }

  function closeConversationStream(c) {
    clearTimeout(c.timer);
    if (c.socket) { var s = c.socket; c.socket = null; s.onclose = null; s.close(1000); }
  }

  // The customer's conversations on every channel, once identities are linked (a one-time
  // code or an agent's merge): LINE, Messenger and the widget in one list, newest first.
  function showLinkedConversations(conversationId) {
    var list = $("packet-channels");
    var shown = current;
    clear(list);
    api("GET", "/api/agent/conversations/" + encodeURIComponent(conversationId) + "/customer").then(function (found) {
      if (current !== shown) return;
      clear(list);
      var others = ((found && found.conversations) || []).filter(function (c) { return c.id !== conversationId; });
      others.forEach(function (other) {
        list.appendChild(el("li", { "data-channel": other.channel },
          el("button", {
            type: "button", class: "earlier",
            text: other.channel + " · " + when(other.created_at) + " · " + label(STATUSES, other.status),
            onclick: function () { openConversation(other.id); }
          })));
      });
      if (!others.length) list.appendChild(el("li", { class: "muted", text: "—" }));
      renderProfile(found, shown);
    }, function () { list.appendChild(el("li", { class: "muted", text: "—" })); });
  }

  // The customer's profile: contact points (verified or self-reported), the marketing consent
  // with its source and time, and the shop's own fields, which the agent fills in.
  var profileOf = null;  // the identity the profile box acts on

  function percentText(x) { return typeof x === "number" ? Math.round(x * 100) + "%" : "—"; }

  function renderProfile(view, shown) {
    if (current !== shown || !view) return;
    profileOf = view.identities && view.identities[0];
    $("profile-error").textContent = "";
    $("profile-completeness").textContent = "· 完整度 completeness " + percentText(view.completeness);
    var contacts = $("profile-contacts");
    clear(contacts);
    (view.contacts || []).forEach(function (p) {
      contacts.appendChild(el("li", { "data-contact": p.kind, "data-verified": p.verified ? "yes" : "no" },
        el("span", { text: p.value + " " }),
        el("span", { class: "badge", text: p.verified ? "已驗證 verified" : "未驗證 self-reported" }),
        el("span", { class: "muted", text: " · " + label(SOURCES, p.source) })));
    });
    if (!(view.contacts || []).length) contacts.appendChild(el("li", { class: "muted", text: "沒有 Email 或電話 · No e-mail or phone" }));
    var c = view.consent;
    $("profile-consent").textContent = c
      ? (c.consent ? "同意接收行銷訊息 · Opted in" : "拒絕行銷訊息 · Opted out") + " · " + label(SOURCES, c.source) + " · " + when(c.at)
      : "尚未詢問行銷同意 · Not asked about marketing yet";
    $("profile-consent").setAttribute("data-consent", c ? String(c.consent) : "none");
    var form = $("fields-form");
    clear(form);
    (view.custom_fields || []).forEach(function (f) {
      var id = "field-" + f.name;
      var value = (view.field_values || {})[f.name];
      var input;
      if (f.kind === "choice") {
        input = el("select", { id: id, "data-field": f.name }, el("option", { value: "", text: "—" }));
        f.choices.forEach(function (choice) { input.appendChild(el("option", { value: choice, text: choice })); });
      } else {
        input = el("input", { id: id, "data-field": f.name, type: f.kind === "number" ? "number" : f.kind === "date" ? "date" : "text", maxlength: "500" });
      }
      input.value = value ? value.value : "";
      var save = el("button", { type: "button", text: "儲存 Save" });
      save.appendChild(el("span", { class: "visually-hidden", text: " " + f.label_en }));
      save.addEventListener("click", function () {
        var target = profileOf;
        api("PUT", "/api/agent/customers/" + encodeURIComponent(target) + "/fields/" + encodeURIComponent(f.name),
          { value: input.value === "" ? null : input.value }).then(function (updated) {
          renderProfile(updated, shown);
        }, function (err) { $("profile-error").textContent = errorText(err); });
      });
      form.appendChild(el("div", { class: "row" },
        el("label", { for: id }, f.label_zh + " ", el("span", { class: "en", lang: "en", text: f.label_en })),
        input, save));
    });
  }

  $("consent-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!profileOf) return;
    var shown = current;
    api("POST", "/api/agent/customers/" + encodeURIComponent(profileOf) + "/consent", {
      consent: $("consent-choice").value === "true", source: $("consent-source").value
    }).then(function (updated) { renderProfile(updated, shown); },
      function (err) { $("profile-error").textContent = errorText(err); });
  });

  function openConversation(id) {
    if (current && current.id !== id) closeConversationStream(current);
    var c = {
      id: id, events: [], seen: {}, lastSeq: 0, status: null, assignee: null, agentName: null,
      socket: null, backoff: 1000, timer: null, typingTimer: null, lastTypingSent: 0,
      lastCustomerMessageAt: 0
    };
    current = c;
    document.querySelectorAll("#queue button.entry").forEach(function (b) {
      b.setAttribute("aria-current", String(b.getAttribute("data-conversation-id") === id));
    });
    showPane("conversation");
    closeSlash();
    $("transfer-box").open = false;
    $("pick-hint").hidden = true;
    $("conversation").hidden = false;
    $("conversation").setAttribute("data-conversation-id", id);
    $("conv-id").textContent = id.slice(0, 8);
    $("conv-id").setAttribute("title", id);
    $("action-error").textContent = "";
    $("draft-status").textContent = "";
    $("customer-typing").textContent = "";
    clear($("transcript"));
    return api("GET", "/api/agent/conversations/" + encodeURIComponent(id)).then(function (view) {
      if (current !== c) return;
      c.status = view.conversation.status;
      c.language = view.conversation.language || null;
      c.agentName = view.conversation.agent_name || null;
      renderPacket(view.packet || {}, view.conversation);
      loadOrders(c);
      ingest(c, view.events || [], false);
      connectConversation(c);
      updateControls();
    }, function (err) {
      if (current !== c) return;
      $("action-error").textContent = errorText(err);
    });
  }

  // The customer's orders (by their customer id and the orders they verified in the chat).
  var ORDER_STATUSES = {
    pending: "待處理 Pending", processing: "處理中 Processing", shipped: "已出貨 Shipped",
    delivered: "已送達 Delivered", cancelled: "已取消 Cancelled", refunded: "已退款 Refunded",
    on_hold: "暫停 On hold", failed: "付款失敗 Payment failed"
  };

  function loadOrders(c) {
    var list = $("packet-orders");
    clear(list);
    $("packet-orders-summary").textContent = "";
    api("GET", "/api/agent/conversations/" + encodeURIComponent(c.id) + "/orders").then(function (found) {
      if (current !== c) return;
      var spent = Object.keys(found.spent || {}).map(function (k) { return (found.spent[k] + " " + k).trim(); });
      $("packet-orders-summary").textContent = found.count
        ? found.count + " 筆 orders · 最近 last " + when(found.last_order_at) + " · 累計 spent " + (spent.join(" + ") || "—")
        : "";
      (found.orders || []).forEach(function (o) {
        var tracking = [o.carrier, o.tracking_number].filter(Boolean).join(" ");
        var item = el("li", { class: "order", "data-order": o.number },
          el("strong", { text: "#" + o.number }),
          el("span", { text: " · " + label(ORDER_STATUSES, o.status) }),
          el("span", { class: "muted", text: " · " + when(o.created_at) + (o.total ? " · " + o.total + " " + (o.currency || "") : "") }));
        if (tracking) item.appendChild(el("span", { class: "snippet", text: tracking }));
        list.appendChild(item);
      });
      if (!(found.orders || []).length) list.appendChild(el("li", { class: "muted", text: "—" }));
    }, function () {
      if (current !== c) return;
      list.appendChild(el("li", { class: "muted", text: "—" }));
    });
  }

  function connectConversation(c) {
    if (c.socket || current !== c || !me) return;
    var ws = new WebSocket(WS_BASE + "/api/agent/conversations/" + encodeURIComponent(c.id) + "/events?after=" + c.lastSeq);
    c.socket = ws;
    ws.onopen = function () { c.backoff = 1000; };
    ws.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (current !== c) return;
      if (typeof frame.seq === "number") ingest(c, [frame]);
      else if (frame.kind === "typing" && frame.data && frame.data.role === "customer") customerTyping(c);
    };
    ws.onclose = function (event) {
      if (c.socket === ws) c.socket = null;
      if (current !== c || !me) return;
      if (event.code === 4401) { recheckSession(); return; }
      if (event.code === 4404 || event.code === 4403) return;
      var wait = Math.min(c.backoff, MAX_BACKOFF_MS) * (0.75 + Math.random() * 0.5);
      c.backoff = Math.min(c.backoff * 2, MAX_BACKOFF_MS);
      c.timer = setTimeout(function () { connectConversation(c); }, wait);
    };
  }

  function customerTyping(c) {
    if (Date.now() - c.lastCustomerMessageAt < TYPING_STALE_MS) return;
    $("customer-typing").textContent = "客戶正在輸入… The customer is typing…";
    clearTimeout(c.typingTimer);
    c.typingTimer = setTimeout(function () { $("customer-typing").textContent = ""; }, TYPING_SHOWN_MS);
  }

  /* Events from the first GET, the stream and our own requests: each seq drawn once, in order. */
  function ingest(c, list, live) {
    var late = false;
    list.forEach(function (e) {
      if (!e || typeof e.seq !== "number" || c.seen[e.seq]) return;
      c.seen[e.seq] = true;
      if (e.seq < c.lastSeq) late = true;
      c.events.push(e);
      if (e.seq > c.lastSeq) c.lastSeq = e.seq;
      if (!late) drawEvent(c, e, live !== false);
    });
    if (late) {
      c.events.sort(function (a, b) { return a.seq - b.seq; });
      clear($("transcript"));
      c.events.forEach(function (e) { drawEvent(c, e, false); });
    }
    updateControls();
  }

  function who(text) { return el("span", { class: "who", text: text }); }

  function drawEvent(c, e, live) {
    var d = e.data || {};
    var log = $("transcript");
    var at = time(e.at);
    var item = null;
    switch (e.kind) {
      case "conversation_started":
        item = el("li", { class: "system", text: "對話開始 Conversation started · " +
          [d.channel, d.customer_id, at].filter(Boolean).join(" · ") });
        break;
      case "customer_messaged":
        item = el("li", { class: "customer" }, who("客戶 Customer · " + at),
          el("span", { class: "text", text: d.text || "" }));
        $("customer-typing").textContent = "";
        clearTimeout(c.typingTimer);
        if (live) c.lastCustomerMessageAt = Date.now();
        break;
      case "turn_answered":
      case "turn_clarifying":
      case "turn_refused":
      case "turn_handed_off":
        var decision = d.decision || e.kind.replace(/^turn_/, "");
        item = el("li", { class: "bot " + decision }, who("機器人 Bot · " + label(DECISIONS, decision) + " · " + at),
          el("span", { class: "text", text: d.reply || "" }));
        var facts = [];
        if (d.reason) facts.push("reason " + d.reason);
        if (typeof d.confidence === "number") facts.push("confidence " + d.confidence.toFixed(2));
        if (d.trigger) facts.push("trigger " + d.trigger + (d.trigger_value !== null && d.trigger_value !== undefined ? " = " + formatValue(d.trigger_value) : ""));
        (d.citations || []).forEach(function (cite) { facts.push("來源 " + (cite.label || cite.source)); });
        (d.options || []).forEach(function (option) { facts.push("選項 " + option); });
        if (facts.length) item.appendChild(el("span", { class: "meta", text: facts.join(" · ") }));
        break;
      case "status_changed":
        if (d.to_status === "with_agent") {
          c.assignee = d.assignee || agentFromActor(d.actor) || c.assignee;
          c.agentName = d.assignee_name || d.agent_name || c.agentName;
        } else {
          c.assignee = null;
        }
        c.status = d.to_status;
        item = el("li", { class: "system status-line", text: "狀態 Status: " + label(STATUSES, d.from_status) + " → " +
          label(STATUSES, d.to_status) + (d.reason ? " · " + d.reason : "") +
          (d.agent_name ? " · " + d.agent_name : d.actor ? " · " + d.actor : "") +
          (d.assignee_name || d.assignee ? " → " + (d.assignee_name || d.assignee) : "") + " · " + at });
        break;
      case "agent_replied":
        item = el("li", { class: "agent" }, who((d.agent_name || d.agent || "專人 Agent") + " · " + at),
          el("span", { class: "text", text: d.text || "" }));
        break;
      case "customer_sent_image":
      case "agent_sent_image":
        item = pictureItem(c, e, at);
        if (e.kind === "customer_sent_image") {
          $("customer-typing").textContent = "";
          clearTimeout(c.typingTimer);
          if (live) c.lastCustomerMessageAt = Date.now();
        }
        break;
      case "agent_noted":
        item = el("li", { class: "note", "data-private": "true" },
          who("🔒 私人備註 Private note · " + (d.agent_name || d.agent || "") + " · " + at),
          el("span", { class: "text", text: d.text || "" }));
        break;
      case "feedback_given":
        item = el("li", { class: "system", text: "客戶回饋 Feedback: " + (d.helpful ? "👍 有幫助 helpful" : "👎 沒幫助 not helpful") +
          (d.turn_seq ? " (#" + d.turn_seq + ")" : "") });
        break;
      case "survey_answered":
        item = el("li", { class: "system survey", text: "滿意度調查 Survey: CSAT " + d.csat + "/5 · CES " + d.ces + "/7" +
          (d.comment ? " · 「" + d.comment + "」" : "") });
        break;
      case "knowledge_draft_saved":
        item = el("li", { class: "system", text: "🔒 已存成知識草稿 Saved as a knowledge draft · " + (d.agent_name || "") +
          " · " + shorten(d.question, 40) });
        break;
      default:
        item = el("li", { class: "system", text: e.kind });
    }
    item.setAttribute("data-seq", String(e.seq));
    item.setAttribute("data-kind", e.kind);
    log.appendChild(item);
    $("transcript-box").scrollTop = $("transcript-box").scrollHeight;
  }

  /* A picture in the transcript: a thumbnail that opens the full picture in a new tab. The
   * server sends it with its sniffed type, nosniff and a sandboxing policy. */
  function pictureItem(c, e, at) {
    var d = e.data || {};
    var src = "/api/agent/conversations/" + encodeURIComponent(c.id) + "/attachments/" +
      encodeURIComponent(d.attachment_id || "");
    var fromCustomer = e.kind === "customer_sent_image";
    var image = el("img", {
      src: src, loading: "lazy", class: "thumb", "data-picture": d.attachment_id,
      alt: fromCustomer ? "客戶傳送的圖片 Picture from the customer" : "傳給客戶的圖片 Picture sent to the customer"
    });
    var facts = [d.content_type, d.width && d.height ? d.width + "×" + d.height : null,
      d.size ? Math.max(1, Math.round(d.size / 1024)) + " KB" : null].filter(Boolean).join(" · ");
    return el("li", { class: (fromCustomer ? "customer" : "agent") + " picture" },
      who((fromCustomer ? "客戶 Customer" : (d.agent_name || d.agent || "專人 Agent")) + " · 圖片 Picture · " + at),
      el("a", { href: src, target: "_blank", rel: "noopener", class: "picture-link" }, image),
      el("span", { class: "meta", text: facts + " · 點圖開啟原圖 Click to open full size" }));
  }

  function agentFromActor(actor) {
    var m = /^agent:(.+)$/.exec(actor || "");
    return m ? m[1] : null;
  }

  function mine(c) {
    return c.status === "with_agent" && me && c.assignee === me.username;
  }

  function updateControls() {
    var c = current;
    if (!c) return;
    var status = c.status;
    var own = mine(c);
    var admin = me && me.role === "admin";
    $("claim").disabled = status !== "waiting";
    var canMove = status === "waiting" || (status === "with_agent" && (own || admin));
    $("resolve").disabled = !canMove;
    $("return").disabled = !canMove;
    $("send").disabled = !own;
    $("send-picture").disabled = !own;
    $("unassign").disabled = !(status === "with_agent" && (own || admin));
    var canGive = (status === "with_agent" && (own || admin)) || (status === "waiting" && admin);
    $("transfer-box").hidden = !canGive;
    if (!canGive) $("transfer-box").open = false;
    $("transfer-summary").textContent = status === "waiting" ? "指派給 Assign to…" : "轉給同事 Transfer to a colleague…";
    $("transfer-note").hidden = status === "waiting";
    var text = "狀態 Status: " + label(STATUSES, status);
    if (status === "with_agent") {
      text += own ? " · 由您處理 You own it" : " · " + (c.agentName || c.assignee || "") + " 處理中 has it";
    }
    $("conv-status").textContent = text;
    $("reply-hint").textContent = own ? "" : status === "waiting"
      ? "請先接手才能回覆。 Claim it to reply."
      : status === "with_agent" ? "這段對話由別人處理。 Another agent owns it." : "";
  }

  // ---- the packet -------------------------------------------------------------------------

  function renderPacket(packet, conversation) {
    $("packet-empty").hidden = true;
    $("packet").hidden = false;

    var trigger = $("packet-trigger");
    clear(trigger);
    fact(trigger, "原因 Trigger", label(TRIGGERS, packet.trigger));
    fact(trigger, "數值 Value", formatValue(packet.trigger_value));
    fact(trigger, "問題 Question", packet.question);
    var signals = $("packet-signals");
    clear(signals);
    Object.keys(packet.signals || {}).forEach(function (name) {
      fact(signals, name, formatValue(packet.signals[name]));
    });

    var pictures = $("packet-pictures");
    clear(pictures);
    (packet.pictures || []).forEach(function (p) {
      var src = "/api/agent/conversations/" + encodeURIComponent(conversation.id) + "/attachments/" +
        encodeURIComponent(p.attachment_id);
      pictures.appendChild(el("li", null, el("a", { href: src, target: "_blank", rel: "noopener" },
        el("img", { src: src, loading: "lazy", alt: "客戶的圖片 #" + p.seq + " Customer's picture · " + time(p.at) }))));
    });
    $("packet-pictures-box").hidden = !(packet.pictures || []).length;

    var suggested = $("packet-suggested");
    clear(suggested);
    var reply = packet.suggested_reply;
    if (reply && reply.text) {
      suggested.appendChild(el("p", { class: "suggested", text: reply.text }));
      (reply.citations || []).forEach(function (cite) {
        suggested.appendChild(el("p", { class: "muted", text: "來源 Source: " + (cite.label || [cite.source, cite.locator].filter(Boolean).join(" · ")) }));
      });
      suggested.appendChild(el("button", {
        type: "button", id: "use-suggested", text: "使用這則回覆 Use it",
        onclick: function () { insertReply(reply.text, true); }
      }));
    } else {
      suggested.appendChild(el("p", { class: "muted", text: "沒有建議回覆。 No suggestion." }));
    }

    var sentiment = $("packet-sentiment");
    clear(sentiment);
    (packet.sentiment || []).forEach(function (s) {
      var score = Number(s.score) || 0;
      sentiment.appendChild(el("li", null,
        el("span", { class: "meter", role: "img", "aria-label": "negativity " + score.toFixed(2) },
          el("span", { style: "width:" + Math.round(Math.min(1, Math.max(0, score)) * 100) + "%" })),
        el("span", { class: "score", text: " " + score.toFixed(2) + " " }),
        el("span", { text: shorten(s.text, 80) })));
    });
    if (!(packet.sentiment || []).length) sentiment.appendChild(el("li", { class: "muted", text: "—" }));

    var retrieved = $("packet-retrieved");
    clear(retrieved);
    (packet.retrieved || []).forEach(function (r) {
      retrieved.appendChild(el("li", null,
        el("strong", { text: r.label || r.source }),
        el("span", { class: "score", text: " · score " + Number(r.score).toFixed(3) }),
        el("span", { class: "snippet", text: shorten(r.snippet, 220) })));
    });
    if (!(packet.retrieved || []).length) retrieved.appendChild(el("li", { class: "muted", text: "—" }));

    var customer = packet.customer || {};
    var facts = $("packet-customer");
    clear(facts);
    fact(facts, "管道 Channel", customer.channel || conversation.channel);
    fact(facts, "客戶編號 Customer id", customer.customer_id || conversation.customer_id);
    var customerId = customer.customer_id || conversation.customer_id;
    if (customerId && /^(line|messenger):/.test(customerId)) {
      // the customer's name on LINE or Messenger, as the platform gave it
      var shown = current;
      api("GET", "/api/agent/channel-contacts/" + encodeURIComponent(customerId)).then(function (found) {
        if (current !== shown || !found || !found.display_name) return;
        fact(facts, "顯示名稱 Display name", found.display_name);
      }, function () { /* no contact kept: nothing to show */ });
    }
    fact(facts, "語言 Language", customer.language || conversation.language);
    fact(facts, "開始於 Started", when(conversation.created_at));
    fact(facts, "這次的標籤 Tags, this conversation", (customer.conversation_tags || []).join(" · ") || "—");
    fact(facts, "客戶的標籤 Tags, this customer", (customer.tags || []).join(" · ") || "—");
    var earlier = $("packet-earlier");
    clear(earlier);
    (customer.earlier_conversations || []).forEach(function (other) {
      earlier.appendChild(el("li", null,
        el("button", {
          type: "button", class: "earlier", text: when(other.created_at) + " · " + label(STATUSES, other.status),
          onclick: function () { openConversation(other.id); }
        }),
        el("span", { class: "snippet", text: shorten(other.first_message || "—", 80) })));
    });
    if (!(customer.earlier_conversations || []).length) earlier.appendChild(el("li", { class: "muted", text: "—" }));
    showLinkedConversations(conversation.id);

    if (packet.question) {
      $("canned-q").value = packet.question;
      searchCanned(packet.question);
    }
  }

  // ---- actions ----------------------------------------------------------------------------

  function act(button, path, after) {
    var c = current;
    if (!c) return;
    $("action-error").textContent = "";
    button.disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + path).then(function (result) {
      if (current !== c) return;
      if (result && result.status) {
        c.status = result.status;
        if (result.agent_name) c.agentName = result.agent_name;
      }
      if (after) after(c, result);
      updateControls();
    }, function (err) {
      if (current !== c) return;
      $("action-error").textContent = errorText(err);
      updateControls();
    });
  }

  $("claim").addEventListener("click", function () {
    act(this, "/claim", function (c) {
      c.assignee = me.username;
      $("reply").focus();
    });
  });
  $("resolve").addEventListener("click", function () { act(this, "/resolve"); });
  $("return").addEventListener("click", function () { act(this, "/return-to-bot"); });
  $("unassign").addEventListener("click", function () { act(this, "/unassign"); });

  function insertReply(text, replace) {
    var box = $("reply");
    if (replace || !box.value.trim()) {
      box.value = text;
    } else {
      var start = box.selectionStart;
      var end = box.selectionEnd;
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
    }
    box.focus();
  }

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var c = current;
    var box = $("reply");
    var text = box.value.trim();
    if (!c || !text || $("send").disabled) return;
    $("action-error").textContent = "";
    $("send").disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + "/messages", { text: text })
      .then(function (recorded) {
        if (box.value.trim() === text) box.value = "";
        if (current === c) ingest(c, [recorded]);
      }, function (err) {
        $("action-error").textContent = errorText(err);
      }).finally(function () { updateControls(); box.focus(); });
  });

  $("send-picture").addEventListener("click", function () { $("picture-file").click(); });
  $("picture-file").addEventListener("change", function () {
    var input = this;
    var file = input.files && input.files[0];
    input.value = "";
    var c = current;
    if (!c || !file || !mine(c)) return;
    $("action-error").textContent = "";
    $("send-picture").disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + "/images", file)
      .then(function (recorded) {
        if (current === c) ingest(c, [recorded]);
      }, function (err) {
        $("action-error").textContent = errorText(err);
      }).finally(function () { updateControls(); });
  });

  $("reply").addEventListener("keydown", function (event) {
    if (slashKey(event)) return;
    // Enter sends, Shift+Enter is a new line, Enter that ends an IME composition picks characters.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("reply").addEventListener("input", function () {
    slashLookup();
    var c = current;
    if (!c || !mine(c)) return;
    var now = Date.now();
    if (now - c.lastTypingSent < TYPING_EVERY_MS) return;
    c.lastTypingSent = now;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + "/typing").catch(function () { /* a lost typing signal is harmless */ });
  });

  $("note-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var c = current;
    var box = $("note");
    var text = box.value.trim();
    if (!c || !text) return;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + "/notes", { text: text })
      .then(function (recorded) {
        box.value = "";
        if (current === c) ingest(c, [recorded]);
      }, function (err) {
        $("action-error").textContent = errorText(err);
      });
  });

  /* The agent's last reply in this conversation and the customer's question before it. */
  function draftFromTranscript(c) {
    var answer = null;
    var question = null;
    for (var i = c.events.length - 1; i >= 0; i--) {
      var e = c.events[i];
      if (!answer && e.kind === "agent_replied" && (!me || !e.data.agent || e.data.agent === me.username)) {
        answer = e.data.text;
      } else if (answer && e.kind === "customer_messaged") {
        question = e.data.text;
        break;
      }
    }
    if (!answer) {
      answer = $("reply").value.trim() || null;
      for (var j = c.events.length - 1; j >= 0 && answer; j--) {
        if (c.events[j].kind === "customer_messaged") { question = c.events[j].data.text; break; }
      }
    }
    return { question: question, answer: answer };
  }

  $("save-draft").addEventListener("click", function () {
    var c = current;
    if (!c) return;
    var draft = draftFromTranscript(c);
    var status = $("draft-status");
    if (!draft.question || !draft.answer) {
      $("action-error").textContent = "還沒有可存的問答：請先回覆客戶的問題。 Nothing to save yet: reply to a customer question first.";
      return;
    }
    $("action-error").textContent = "";
    status.textContent = "";
    api("POST", "/api/agent/drafts", { conversation_id: c.id, question: draft.question, answer: draft.answer })
      .then(function (saved) {
        status.textContent = "已存成知識草稿，等待管理員審核。 Saved as a knowledge draft (" +
          (saved.status || "pending") + ") · " + shorten(saved.question, 40);
      }, function (err) {
        $("action-error").textContent = errorText(err);
      });
  });

  // ---- canned replies ---------------------------------------------------------------------

  var cannedTimer = null;
  var cannedAsked = 0;

  function searchCanned(q) {
    q = (q || "").trim();
    var list = $("canned-results");
    if (!q) { clear(list); $("canned-state").textContent = ""; return; }
    var ask = ++cannedAsked;
    $("canned-state").textContent = "搜尋中… Searching…";
    api("GET", "/api/agent/suggestions?k=5&q=" + encodeURIComponent(q.slice(0, 500))).then(function (found) {
      if (ask !== cannedAsked) return;
      clear(list);
      var hits = (found && found.hits) || [];
      $("canned-state").textContent = hits.length ? hits.length + " 筆 results" : "沒有結果。 No results.";
      hits.forEach(function (hit) {
        list.appendChild(el("li", null,
          hit.question ? el("span", { class: "q", text: hit.question }) : null,
          el("span", { class: "snippet", text: shorten(hit.answer, 240) }),
          el("span", { class: "muted", text: (hit.label || hit.source) + " · score " + Number(hit.score).toFixed(3) + " " }),
          el("button", {
            type: "button", class: "insert", text: "插入 Insert",
            onclick: function () { insertReply(hit.answer, false); }
          })));
      });
    }, function (err) {
      if (ask !== cannedAsked) return;
      $("canned-state").textContent = errorText(err);
    });
  }

  $("canned-q").addEventListener("input", function () {
    clearTimeout(cannedTimer);
    var q = this.value;
    cannedTimer = setTimeout(function () { searchCanned(q); }, 300);
  });
  $("canned-q").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); clearTimeout(cannedTimer); searchCanned(this.value); }
  });

  // ---- phone tabs and pane tabs -------------------------------------------------------------

  function showPane(name) {
    $("desk").setAttribute("data-phone-pane", name);
    document.querySelectorAll("#phone-tabs [role=tab]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.getAttribute("data-pane") === name));
    });
  }

  document.querySelectorAll("#phone-tabs [role=tab]").forEach(function (tab) {
    tab.addEventListener("click", function () { showPane(tab.getAttribute("data-pane")); });
  });

  /* Tabs whose buttons name their panel in aria-controls; `onShow(id)` when one opens. */
  function tabGroup(ids, onShow) {
    ids.forEach(function (id) {
      $(id).addEventListener("click", function () {
        ids.forEach(function (other) {
          var chosen = other === id;
          $(other).setAttribute("aria-selected", String(chosen));
          $($(other).getAttribute("aria-controls")).hidden = !chosen;
        });
        if (onShow) onShow(id);
      });
    });
  }

  tabGroup(["tab-queue", "tab-history"], function (id) {
    if (id === "tab-history") $("history-q").focus();
  });
  tabGroup(["tab-kb", "tab-saved"], function (id) {
    if (id === "tab-saved") loadSaved($("saved-q").value);
  });

  // ---- alerts -------------------------------------------------------------------------------

  var ALERTS_KEY = "kefu.console.alerts";
  var BASE_TITLE = document.title;
  var alertPrefs = readPrefs();
  var unseen = 0;
  var known = null; // {id: {status, agent, count}} as the last queue frame had them
  var audio = null;
  // what was raised, and how (for a person checking the settings, and for tests)
  var raised = [];
  window.kefuConsole = { alerts: raised };

  function readPrefs() {
    var prefs = { sound: true, desktop: true, title: true };
    try {
      var saved = JSON.parse(localStorage.getItem(ALERTS_KEY) || "{}");
      Object.keys(prefs).forEach(function (k) { if (typeof saved[k] === "boolean") prefs[k] = saved[k]; });
    } catch (e) { /* a broken value: the defaults */ }
    return prefs;
  }

  function savePrefs() {
    try { localStorage.setItem(ALERTS_KEY, JSON.stringify(alertPrefs)); } catch (e) { /* private mode */ }
  }

  [["alert-sound", "sound"], ["alert-desktop", "desktop"], ["alert-title", "title"]].forEach(function (pair) {
    var box = $(pair[0]);
    box.checked = alertPrefs[pair[1]];
    box.addEventListener("change", function () {
      alertPrefs[pair[1]] = box.checked;
      savePrefs();
      if (pair[1] === "title" && !box.checked) seen();
      permissionState();
    });
  });

  function permissionState() {
    var state = $("alert-state");
    if (!("Notification" in window)) {
      $("alert-permission").hidden = true;
      state.textContent = "這個瀏覽器不支援桌面通知。 This browser has no desktop notifications.";
      return;
    }
    $("alert-permission").hidden = Notification.permission !== "default";
    state.textContent = Notification.permission === "denied"
      ? "瀏覽器已封鎖通知，請在網站設定中允許。 The browser blocks notifications; allow them in the site settings."
      : Notification.permission === "granted" ? "桌面通知已允許。 Desktop notifications are allowed." : "";
  }
  permissionState();

  $("alert-permission").addEventListener("click", function () {
    // asked only on a click: browsers refuse (and users dislike) a prompt out of nowhere
    var asked = Notification.requestPermission(permissionState);
    if (asked && asked.then) asked.then(permissionState);
  });

  function updateTitle() {
    document.title = (unseen && alertPrefs.title ? "(" + unseen + ") " : "") + BASE_TITLE;
  }

  function seen() {
    if (!unseen) return;
    unseen = 0;
    updateTitle();
  }

  // The agent is back: the count clears. The first gesture also opens the audio output,
  // which browsers allow only after one.
  function attention() {
    seen();
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; }
    }
  }
  document.addEventListener("pointerdown", attention, true);
  document.addEventListener("keydown", attention, true);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) seen(); });

  /* A short two-tone chime, made on the spot (no sound file). */
  function chime() {
    if (!audio) return false;
    try {
      if (audio.state === "suspended") audio.resume();
      var t = audio.currentTime;
      [880, 1320].forEach(function (hz, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var at = t + i * 0.16;
        osc.type = "sine";
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(at);
        osc.stop(at + 0.32);
      });
      return true;
    } catch (e) { return false; }
  }

  var ALERT_TEXTS = {
    handoff: "新的轉接 · New handoff",
    assigned: "指派給您的對話 · Assigned to you",
    message: "客戶新訊息 · New customer message"
  };

  function raise(kind, entry) {
    var how = [];
    if (alertPrefs.title) { unseen += 1; updateTitle(); how.push("title"); }
    if (alertPrefs.sound && chime()) how.push("sound");
    if (alertPrefs.desktop && "Notification" in window && Notification.permission === "granted" &&
        (document.hidden || !document.hasFocus())) {
      try {
        var note = new Notification("kefu · " + ALERT_TEXTS[kind], {
          body: shorten(entry.last_message || "", 120), tag: kind + ":" + entry.id
        });
        note.onclick = function () { window.focus(); openConversation(entry.id); note.close(); };
        how.push("desktop");
      } catch (e) { /* some browsers allow notifications only from a service worker */ }
    }
    raised.push({ kind: kind, conversation: entry.id, how: how });
  }

  /* Compares a queue frame with the last one: a new handoff, a conversation newly given to
   * me, and a new customer message in one of mine each raise an alert. */
  function noticeQueue(entries) {
    var next = {};
    entries.forEach(function (e) {
      next[e.id] = { status: e.status, agent: e.agent, count: e.customer_messages || 0 };
    });
    if (known && me) {
      entries.forEach(function (e) {
        var before = known[e.id];
        var mineNow = e.status === "with_agent" && e.agent === me.username;
        if (e.status === "waiting" && (!before || before.status !== "waiting")) {
          raise("handoff", e);
        } else if (mineNow && (!before || before.agent !== me.username)) {
          raise("assigned", e);
        } else if (mineNow && before && (e.customer_messages || 0) > before.count) {
          raise("message", e);
        }
      });
    }
    known = next;
  }

  // ---- assign, transfer ---------------------------------------------------------------------

  var agentsLoaded = null;

  function loadAgents() {
    agentsLoaded = api("GET", "/api/agent/agents").then(function (found) {
      var select = $("transfer-to");
      var chosen = select.value;
      clear(select);
      ((found && found.agents) || []).forEach(function (a) {
        if (current && a.username === current.assignee) return;
        select.appendChild(el("option", {
          value: a.username,
          text: a.display_name + " (" + a.username + ") · " + (a.online ? "在線 online" : "離線 offline") +
            " · " + a.in_hand + " 件 in hand"
        }));
      });
      if (chosen) select.value = chosen;
    }, function (err) { $("action-error").textContent = errorText(err); agentsLoaded = null; });
    return agentsLoaded;
  }

  $("transfer-box").addEventListener("toggle", function () { if (this.open) loadAgents(); });

  $("transfer-go").addEventListener("click", function () {
    var c = current;
    var to = $("transfer-to").value;
    if (!c || !to) return;
    var waiting = c.status === "waiting";
    var body = waiting ? { agent: to } : { agent: to, note: $("transfer-note").value.trim() };
    $("action-error").textContent = "";
    var button = this;
    button.disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.id) + (waiting ? "/assign" : "/transfer"), body)
      .then(function (result) {
        $("transfer-note").value = "";
        $("transfer-box").open = false;
        if (current !== c) return;
        c.status = result.status;
        c.assignee = to;
        c.agentName = result.agent_name || to;
        updateControls();
      }, function (err) {
        if (current === c) $("action-error").textContent = errorText(err);
      }).finally(function () { button.disabled = false; });
  });

  // ---- history ------------------------------------------------------------------------------

  var HISTORY_PAGE = 20;
  var historyOffset = 0;
  var historyAsked = 0;

  /* The start of a day picked in a date field, in the browser's time zone, as ISO. */
  function dayStart(value, plusDays) {
    if (!value) return null;
    var d = new Date(value + "T00:00:00");
    if (isNaN(d)) return null;
    d.setDate(d.getDate() + (plusDays || 0));
    return d.toISOString();
  }

  function searchHistory(offset) {
    var params = [];
    function add(name, value) { if (value) params.push(name + "=" + encodeURIComponent(value)); }
    add("q", $("history-q").value.trim());
    add("customer_id", $("history-customer").value.trim());
    add("tag", $("history-tag").value.trim());
    add("status", $("history-status").value);
    add("channel", $("history-channel").value.trim());
    add("start", dayStart($("history-from").value, 0));
    add("end", dayStart($("history-to").value, 1)); // the whole last day
    params.push("limit=" + HISTORY_PAGE, "offset=" + offset);
    var ask = ++historyAsked;
    $("history-state").textContent = "搜尋中… Searching…";
    api("GET", "/api/agent/conversations/search?" + params.join("&")).then(function (page) {
      if (ask !== historyAsked) return;
      historyOffset = offset;
      renderHistory(page);
    }, function (err) {
      if (ask !== historyAsked) return;
      $("history-state").textContent = errorText(err);
    });
  }

  function renderHistory(page) {
    var list = $("history-results");
    clear(list);
    var found = page.conversations || [];
    $("history-state").textContent = page.total
      ? "共 " + page.total + " 段，第 " + (page.offset + 1) + "–" + (page.offset + found.length) + " 段 · " +
        page.total + " found, " + (page.offset + 1) + "–" + (page.offset + found.length) + " shown"
      : "沒有符合的對話。 No conversation matches.";
    found.forEach(function (c) {
      list.appendChild(el("li", null, el("button", {
        type: "button", class: "found", "data-conversation-id": c.id,
        onclick: function () { openConversation(c.id); }
      },
        el("span", { class: "line1" },
          el("span", { class: "tag", text: label(STATUSES, c.status) }),
          el("span", { text: " " + when(c.created_at) + " " }),
          el("span", { class: "muted", text: [c.channel, c.customer_id, c.agent_name].filter(Boolean).join(" · ") })),
        el("span", { class: "last", text: c.first_message || "—" }),
        (c.tags || []).length ? el("span", { class: "muted tags", text: "🏷 " + c.tags.join(" · ") }) : null)));
    });
    $("history-prev").disabled = page.offset <= 0;
    $("history-next").disabled = page.offset + found.length >= page.total;
  }

  $("history-form").addEventListener("submit", function (event) {
    event.preventDefault();
    searchHistory(0);
  });
  $("history-prev").addEventListener("click", function () { searchHistory(Math.max(0, historyOffset - HISTORY_PAGE)); });
  $("history-next").addEventListener("click", function () { searchHistory(historyOffset + HISTORY_PAGE); });

  // ---- saved replies ------------------------------------------------------------------------

  var savedAsked = 0;
  var savedTimer = null;
  var editing = null; // the saved reply being edited, or null for a new one

  function replyLanguage() {
    var language = (current && current.language) || "";
    return /^en/i.test(language) ? "en" : "zh";
  }

  function loadSaved(q) {
    var ask = ++savedAsked;
    $("saved-state").textContent = "載入中… Loading…";
    api("GET", "/api/agent/saved-replies?q=" + encodeURIComponent((q || "").trim()) + "&language=" + replyLanguage())
      .then(function (found) {
        if (ask !== savedAsked) return;
        renderSaved((found && found.replies) || []);
      }, function (err) {
        if (ask !== savedAsked) return;
        $("saved-state").textContent = errorText(err);
      });
  }

  function renderSaved(replies) {
    var list = $("saved-list");
    clear(list);
    $("saved-state").textContent = replies.length
      ? replies.length + " 則 saved replies · 在回覆框輸入 / 加快捷鍵即可插入 Type / and the shortcut in the reply box"
      : "還沒有常用回覆，請在下方新增。 No saved replies yet; add one below.";
    replies.forEach(function (r) {
      var remove = el("button", { type: "button", class: "delete", text: "刪除 Delete" });
      remove.addEventListener("click", function () {
        if (remove.getAttribute("data-armed") !== "true") {
          remove.setAttribute("data-armed", "true");
          remove.textContent = "確定刪除？ Really delete?";
          return;
        }
        api("DELETE", "/api/agent/saved-replies/" + encodeURIComponent(r.id)).then(function () {
          if (editing && editing.id === r.id) resetSavedForm();
          loadSaved($("saved-q").value);
        }, function (err) { $("saved-state").textContent = errorText(err); });
      });
      list.appendChild(el("li", { "data-shortcut": r.shortcut },
        el("span", { class: "sc", text: "/" + r.shortcut }),
        el("span", { text: " " + r.title + " · " + (r.language === "en" ? "English" : "中文") }),
        el("span", { class: "snippet", text: shorten(r.text, 200) }),
        el("span", { class: "muted", text: "由 by " + r.updated_by + " · " + when(r.updated_at) + " " }),
        el("div", { class: "row" },
          el("button", { type: "button", class: "insert", text: "插入 Insert", onclick: function () { insertReply(r.text, false); } }),
          el("button", { type: "button", class: "edit", text: "編輯 Edit", onclick: function () { editSaved(r); } }),
          remove)));
    });
  }

  function editSaved(r) {
    editing = r;
    $("saved-shortcut").value = "/" + r.shortcut;
    $("saved-title").value = r.title;
    $("saved-text").value = r.text;
    $("saved-language").value = r.language;
    $("saved-form-title").textContent = "編輯 /" + r.shortcut + " · Edit";
    $("saved-cancel").hidden = false;
    $("saved-error").textContent = "";
    $("saved-shortcut").focus();
  }

  function resetSavedForm() {
    editing = null;
    ["saved-shortcut", "saved-title", "saved-text"].forEach(function (id) { $(id).value = ""; });
    $("saved-language").value = replyLanguage();
    $("saved-form-title").textContent = "新增常用回覆 New saved reply";
    $("saved-cancel").hidden = true;
  }

  $("saved-cancel").addEventListener("click", function () { resetSavedForm(); $("saved-error").textContent = ""; });

  $("saved-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {
      shortcut: $("saved-shortcut").value,
      title: $("saved-title").value,
      text: $("saved-text").value,
      language: $("saved-language").value
    };
    var request = editing
      ? api("PATCH", "/api/agent/saved-replies/" + encodeURIComponent(editing.id), body)
      : api("POST", "/api/agent/saved-replies", body);
    $("saved-error").textContent = "";
    $("saved-save").disabled = true;
    request.then(function (saved) {
      resetSavedForm();
      $("saved-state").textContent = "已儲存 /" + saved.shortcut + " · Saved";
      loadSaved($("saved-q").value);
    }, function (err) {
      $("saved-error").textContent = errorText(err); // what was typed stays in the form
    }).finally(function () { $("saved-save").disabled = false; });
  });

  $("saved-q").addEventListener("input", function () {
    clearTimeout(savedTimer);
    var q = this.value;
    savedTimer = setTimeout(function () { loadSaved(q); }, 250);
  });

  // ---- /shortcut in the reply box -----------------------------------------------------------

  var slash = { items: [], index: 0, token: null, asked: 0 };

  /* The "/word" just before the caret, or null. The slash starts the text or follows a space,
   * punctuation or a Chinese character (zh-TW has no spaces: 您好！/退貨), never a letter,
   * digit, ":" or "/" (a fraction, a link). */
  function slashToken() {
    var box = $("reply");
    var at = box.selectionStart;
    if (at !== box.selectionEnd) return null;
    var found = /(^|[^A-Za-z0-9\/:.])\/([^\s\/]*)$/.exec(box.value.slice(0, at));
    return found ? { start: at - found[2].length - 1, end: at, q: found[2] } : null;
  }

  function closeSlash() {
    slash.items = [];
    slash.token = null;
    slash.asked++;
    $("slash-menu").hidden = true;
    clear($("slash-menu"));
    $("reply").removeAttribute("aria-activedescendant");
  }

  function slashLookup() {
    var token = slashToken();
    if (!token) { closeSlash(); return; }
    var ask = ++slash.asked;
    api("GET", "/api/agent/saved-replies?shortcut=true&limit=8&language=" + replyLanguage() +
        "&q=" + encodeURIComponent("/" + token.q)).then(function (found) {
      if (ask !== slash.asked) return;
      var items = (found && found.replies) || [];
      if (!items.length) { closeSlash(); return; }
      slash.items = items;
      slash.index = 0;
      slash.token = token;
      drawSlash();
    }, function () { if (ask === slash.asked) closeSlash(); });
  }

  function drawSlash() {
    var menu = $("slash-menu");
    clear(menu);
    slash.items.forEach(function (r, i) {
      var option = el("li", { role: "option", id: "slash-" + i, "aria-selected": String(i === slash.index) },
        el("span", { class: "sc", text: "/" + r.shortcut }),
        el("span", { text: r.title }),
        el("span", { class: "snippet", text: shorten(r.text, 90) }));
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      option.addEventListener("click", function () { slash.index = i; pickSlash(); });
      menu.appendChild(option);
    });
    menu.hidden = false;
    $("reply").setAttribute("aria-activedescendant", "slash-" + slash.index);
  }

  function pickSlash() {
    var r = slash.items[slash.index];
    var token = slashToken() || slash.token;
    if (!r || !token) { closeSlash(); return; }
    var box = $("reply");
    box.value = box.value.slice(0, token.start) + r.text + box.value.slice(token.end);
    var caret = token.start + r.text.length;
    box.setSelectionRange(caret, caret);
    closeSlash();
    box.focus();
  }

  /* Keys while the menu is open: arrows move, Enter or Tab inserts, Escape closes. */
  function slashKey(event) {
    if ($("slash-menu").hidden || !slash.items.length || event.isComposing || event.keyCode === 229) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var step = event.key === "ArrowDown" ? 1 : -1;
      slash.index = (slash.index + step + slash.items.length) % slash.items.length;
      drawSlash();
    } else if (event.key === "Enter" || event.key === "Tab") {
      pickSlash();
    } else if (event.key === "Escape") {
      closeSlash();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  $("reply").addEventListener("blur", function () { setTimeout(closeSlash, 150); });

  // ---- start ------------------------------------------------------------------------------

  api("GET", "/api/auth/me").then(startDesk, function (err) {
    showLogin(err.code === "session_expired" ? errorText(err) : "");
  });
})();
