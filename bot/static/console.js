/* kefu agent console: log in, the live queue, a conversation beside its handoff packet, claim,
 * reply, private notes, resolve, return to the bot, canned replies and knowledge drafts.
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
    }, function () { list.appendChild(el("li", { class: "muted", text: "—" })); });
  }

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
          c.assignee = agentFromActor(d.actor) || c.assignee;
          c.agentName = d.agent_name || c.agentName;
        } else {
          c.assignee = null;
        }
        c.status = d.to_status;
        item = el("li", { class: "system status-line", text: "狀態 Status: " + label(STATUSES, d.from_status) + " → " +
          label(STATUSES, d.to_status) + (d.reason ? " · " + d.reason : "") +
          (d.agent_name ? " · " + d.agent_name : d.actor ? " · " + d.actor : "") + " · " + at });
        break;
      case "agent_replied":
        item = el("li", { class: "agent" }, who((d.agent_name || d.agent || "專人 Agent") + " · " + at),
          el("span", { class: "text", text: d.text || "" }));
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

  $("reply").addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line, Enter that ends an IME composition picks characters.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("reply").addEventListener("input", function () {
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

  // ---- start ------------------------------------------------------------------------------

  api("GET", "/api/auth/me").then(startDesk, function (err) {
    showLogin(err.code === "session_expired" ? errorText(err) : "");
  });
})();
