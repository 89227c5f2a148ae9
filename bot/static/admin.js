/* kefu admin pages: the knowledge sources (upload, replace, delete, re-ingest, live ingest
 * progress and its per-file diff), knowledge drafts (edit, approve, reject), the metrics
 * dashboard with its charts and the conversations behind each number, and the unanswered
 * questions grouped by meaning.
 *
 * Labels are bilingual (zh-TW first, then English). Everything that comes from the API or from
 * a customer is set with textContent; nothing is parsed as HTML. Charts are Chart.js, served
 * by kefu from /static/vendor/ (the server may have no internet).
 */
(function () {
  "use strict";

  var POLL_MS = 500;
  var DEFAULT_DAYS = 30;

  var staff = window.kefuStaff;
  var TRIGGERS = staff.TRIGGERS, STATUSES = staff.STATUSES, DECISIONS = staff.DECISIONS;
  var PROFILE_FIELDS = staff.PROFILE_FIELDS;
  var $ = staff.$, el = staff.el, clear = staff.clear, label = staff.label;
  var when = staff.when, shorten = staff.shorten, api = staff.api, errorText = staff.errorText;

  var JOB_STATES = {
    queued: "排隊中 · queued",
    running: "匯入中 · running",
    done: "完成 · done",
    failed: "失敗 · failed",
    cancelled: "已取消 · cancelled"
  };
  var JOB_ENDED = { done: true, failed: true, cancelled: true };
  var OUTCOMES = {
    added: "新增 · added",
    changed: "變更 · changed",
    unchanged: "未變 · unchanged",
    removed: "移除 · removed",
    failed: "失敗 · failed"
  };
  var SOURCE_STATUSES = { ok: "正常 · ok", failed: "失敗 · failed" };
  var DRAFT_STATUSES = { pending: "待審核 · pending", approved: "已核准 · approved", rejected: "已退回 · rejected" };
  var GAP_REASONS = { refused: "答不出 refused", offered: "給了相近內容 offered", handed_off: "轉接 handed off" };

  // Shown when the API sends no `definitions`; the same words as README's "Metrics".
  var DEFINITIONS = {
    engaged_conversations: {
      zh: "期間內開始、且客戶至少傳過一則訊息的對話。",
      en: "Conversations started in the period with at least one customer message."
    },
    deflection_rate: {
      zh: "沒有轉接真人的對話 ÷ 對話數。",
      en: "Conversations never handed off ÷ engaged conversations."
    },
    resolution_confirmed_rate: {
      zh: "客戶按了「有幫助」👍，之後沒有轉接的對話 ÷ 對話數。",
      en: "The customer said an answer helped (👍), with no handoff after ÷ engaged conversations."
    },
    resolution_assumed_rate: {
      zh: "未確認、從未轉接，且最後一輪機器人回答之後客戶沒再發問也沒按 👎 的對話 ÷ 對話數；回答還太新的算「待定」。",
      en: "Not confirmed, never handed off, and the last bot turn is an answer followed by no customer message and no 👎 ÷ engaged conversations; answers too recent are pending."
    },
    closest_match_rate: {
      zh: "機器人不確定、改為提供最接近的內容或轉接真人的回合 ÷ 期間內機器人的所有回合。",
      en: "Bot turns where it was unsure and offered the closest item or a person instead of answering ÷ all bot turns in the period."
    },
    refusal_rate: {
      zh: "機器人答不出的回合 ÷ 期間內機器人的所有回合。",
      en: "Refused bot turns ÷ all bot turns in the period."
    },
    handoff_rate: {
      zh: "轉接真人（機器人轉接或狀態變成等候／專人處理）的對話 ÷ 對話數。",
      en: "Conversations handed off (a handoff turn, or a status change to waiting or with an agent) ÷ engaged conversations."
    },
    handoffs_by_trigger: {
      zh: "每段轉接的對話算一次，依第一次轉接的原因。",
      en: "Each handed-off conversation counted once, by the trigger of its first handoff."
    },
    first_response_time_bot_seconds: {
      zh: "從客戶第一則訊息到機器人第一次回覆的秒數。",
      en: "Seconds from a conversation's first customer message to the bot's first turn after it."
    },
    first_response_time_human_seconds: {
      zh: "從第一次轉接到客服人員第一次回覆的秒數。",
      en: "Seconds from a conversation's first handoff to the first agent reply after it."
    },
    first_response_time_seconds: {
      zh: "從客戶第一則訊息到第一個回覆（機器人或客服人員，取先到者）的秒數。",
      en: "Seconds from the first customer message to the first reply after it, the bot's or an agent's."
    },
    average_handling_time_seconds: {
      zh: "從客戶第一則訊息到最後一次結案的秒數；推定解決的對話算到最後一次回答。",
      en: "Seconds from the first customer message to the last change to resolved, or to the last answer for assumed resolutions."
    },
    csat: {
      zh: "滿意度調查 1–5 分的平均；滿意比例 = 4、5 分的比例。",
      en: "Mean of the survey's 1-5 answers; satisfied = share of 4 and 5."
    },
    ces: {
      zh: "「取得協助有多容易」1–7 分的平均，7 = 非常容易。",
      en: "Mean of the 1-7 answers to “how easy was it to get help”, 7 = very easy."
    },
    conversations_per_day: {
      zh: "每天開始的對話數（客戶至少傳過一則訊息）。",
      en: "Engaged conversations by the day they started."
    },
    containment_by_topic: {
      zh: "依機器人第一個有主題的回答分組（檔案與工作表），沒有轉接的比例。",
      en: "Engaged conversations grouped by the topic (file and sheet) of their first bot turn that has one: the share not handed off."
    }
  };

  // The dashboard's numbers: where each is, how it reads, and which conversations are behind it.
  var CARDS = [
    { key: "engaged_conversations", zh: "對話數", en: "Conversations", kind: "count", drill: "engaged" },
    { key: "deflection_rate", zh: "AI 自助解決率", en: "AI deflection rate", kind: "rate", drill: "deflected",
      sub: function (m) { return ratio(m.deflected_conversations, m.engaged_conversations, "對話 conversations"); } },
    { key: "resolution_confirmed_rate", zh: "確認解決", en: "Resolution, confirmed", kind: "rate", drill: "resolution_confirmed",
      sub: function (m) { return ratio(m.resolution_confirmed_conversations, m.engaged_conversations, "對話 conversations"); } },
    { key: "resolution_assumed_rate", zh: "推定解決", en: "Resolution, assumed", kind: "rate", drill: "resolution_assumed",
      sub: function (m) {
        return ratio(m.resolution_assumed_conversations, m.engaged_conversations, "對話 conversations") +
          (m.pending_conversations ? " · 待定 pending " + m.pending_conversations : "");
      } },
    { key: "refusal_rate", zh: "拒答率", en: "Refusal rate", kind: "rate", drill: "refused",
      sub: function (m) { return ratio(m.refused_turns, m.bot_turns, "回合 bot turns"); } },
    { key: "closest_match_rate", zh: "提供最接近內容", en: "Closest item offered", kind: "rate", drill: "closest_match",
      sub: function (m) { return ratio(m.closest_match_turns, m.bot_turns, "回合 bot turns"); } },
    { key: "handoff_rate", zh: "轉接率", en: "Handoff rate", kind: "rate", drill: "handed_off",
      sub: function (m) { return ratio(m.handed_off_conversations, m.engaged_conversations, "對話 conversations"); } },
    { key: "first_response_time_bot_seconds", zh: "首次回應時間・機器人", en: "First response time, bot", kind: "time", drill: "engaged" },
    { key: "first_response_time_human_seconds", zh: "首次回應時間・真人", en: "First response time, human", kind: "time", drill: "handed_off" },
    { key: "first_response_time_human_open_seconds", zh: "首次回應時間・真人（營業時間內）", en: "First response time, human, within opening hours", kind: "time", drill: "handed_off" },
    { key: "abandonment_rate", zh: "放棄率", en: "Abandonment rate", kind: "rate", drill: "missed",
      sub: function (m) { return ratio(m.missed_conversations, m.queued_conversations, "排隊 queued"); } },
    { key: "first_response_time_seconds", zh: "首次回應時間・任一方", en: "First response time, either", kind: "time", drill: "engaged" },
    { key: "average_handling_time_seconds", zh: "平均處理時間", en: "Average handling time", kind: "time", drill: "engaged" },
    { key: "csat", zh: "顧客滿意度", en: "CSAT", kind: "score", scale: 5, drill: "surveyed" },
    { key: "ces", zh: "顧客費力度", en: "Customer effort score (CES)", kind: "score", scale: 7, drill: "surveyed" },
    { key: "conversion_rate", zh: "對話後下單率", en: "Conversion after a conversation", kind: "rate", drill: "converted",
      sub: function (m) {
        var c = m.conversion || {};
        var base = (c.baseline || {}).did_not_converse || {};
        return ratio(c.converted_conversations, c.engaged_conversations, "對話 conversations") +
          (isNumber(base.rate) ? " · 未對話顧客 did not converse " + percent(base.rate) : "");
      } },
    { key: "attributed_revenue", zh: "歸因營收", en: "Attributed revenue", kind: "money", drill: "converted",
      sub: function (m) { return "訂單 orders " + ((m.conversion || {}).attributed_orders || 0); } },
    { key: "cross_channel_rate", zh: "跨管道顧客", en: "Customers on two or more channels", kind: "rate", drill: null,
      sub: function (m) { var c = m.continuity || {}; return ratio(c.cross_channel_customers, c.customers_who_wrote, "顧客 customers"); } },
    { key: "repeat_contact_rate", zh: "結案後 7 天內再聯絡", en: "Repeat contact within 7 days of a resolution", kind: "rate", drill: null,
      sub: function (m) { var c = m.continuity || {}; return ratio(c.repeat_contact_conversations, c.resolved_conversations, "結案 resolved"); } },
    { key: "profile_completeness", zh: "顧客檔案完整度", en: "Profile completeness", kind: "rate", drill: null,
      sub: function (m) { return "顧客 customers " + ((m.profile || {}).customers || 0); } }
  ];

  // Chart colours: each has at least 3:1 contrast on white (WCAG 1.4.11, graphical objects).
  var PALETTE = ["#0b5cad", "#b35c00", "#1e7a3c", "#9c1f18", "#6b3fa0", "#00707a", "#8a6d00", "#5f6670"];

  // ---- DOM helpers (text only) ------------------------------------------------------------

  /* A button whose visible text is `text` and whose accessible name adds what it acts on. */
  function actionButton(text, target, attrs) {
    var button = el("button", attrs || {}, text);
    if (target) button.appendChild(el("span", { class: "visually-hidden", text: " " + target }));
    if (!button.getAttribute("type")) button.setAttribute("type", "button");
    return button;
  }

  function isNumber(x) { return typeof x === "number" && isFinite(x); }

  function percent(x) { return isNumber(x) ? (x * 100).toFixed(1) + "%" : "—"; }

  function ratio(part, whole, unit) {
    if (!isNumber(whole)) return "";
    return (isNumber(part) ? part : 0) + " / " + whole + " " + unit;
  }

  function duration(seconds) {
    if (!isNumber(seconds)) return "—";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";  // the bot's replies
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    if (h) return h + " h " + (m < 10 ? "0" : "") + m + " m";
    return m + " m " + (rest < 10 ? "0" : "") + rest + " s";
  }

  function isoDay(d) {
    var m = d.getMonth() + 1;
    var day = d.getDate();
    return d.getFullYear() + "-" + (m < 10 ? "0" : "") + m + "-" + (day < 10 ? "0" : "") + day;
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== null && v !== undefined && v !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  // ---- the API ----------------------------------------------------------------------------

  // ---- logging in and out -----------------------------------------------------------------

  var me = null;
  var session = 0; // bumped on log-out: pollers of an older session stop
  staff.on.unauthorized = function (err) { loggedOut(err); };
  staff.on.forbidden = function (err) { forbidden(err); };

  function showOnly(view) {
    ["login-view", "forbidden-view", "admin"].forEach(function (id) { $(id).hidden = id !== view; });
    var inside = view !== "login-view";
    $("me").hidden = !inside || !me;
    $("logout").hidden = !inside || !me;
  }

  function showLogin(message) {
    me = null;
    session++;
    destroyAllCharts();
    showOnly("login-view");
    $("login-message").textContent = message || "";
    $("password").value = "";
    $("username").focus();
  }

  function loggedOut(err) {
    if (!me) return;
    showLogin(err && err.code === "session_expired" ? errorText(err)
      : errorText(err && err.messages ? err : { messages: { zh: "請先登入。", en: "Please log in." } }));
  }

  function forbidden(err) {
    if (!me) return;
    session++;
    destroyAllCharts();
    var who = me.username + " · " + me.role;
    $("forbidden-message").textContent =
      "您的帳號（" + who + "）沒有管理員權限。 / Your account (" + who + ") is not an admin." +
      (err ? "\n" + errorText(err) : "");
    showOnly("forbidden-view");
    $("forbidden-logout").focus();
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
      start(user);
    }, function (err) {
      $("login-message").textContent = errorText(err);
      $("password").select();
    }).finally(function () { button.disabled = false; });
  });

  function logOut() {
    api("POST", "/api/auth/logout").catch(function () { /* logged out either way */ })
      .finally(function () { showLogin(""); });
  }
  $("logout").addEventListener("click", logOut);
  $("forbidden-logout").addEventListener("click", logOut);

  function start(user) {
    me = user;
    session++;
    $("me").textContent = (user.display_name || user.username) + " (" + user.username + " · " + user.role + ")";
    // The server decides who is an admin: ask it once before showing anything.
    api("GET", "/api/admin/drafts?status=pending").then(function (found) {
      showOnly("admin");
      countDrafts(found);
      showTab(tabFromHash(), false);
    }, function (err) {
      if (err.status === 401 || err.status === 403) return; // api() showed the right view
      // Anything else (the server is busy, a draft store error): the pages can still work.
      showOnly("admin");
      showTab(tabFromHash(), false);
    });
  }

  // ---- tabs -------------------------------------------------------------------------------

  var TABS = ["knowledge", "drafts", "dashboard", "gaps", "team", "widget"];
  var currentTab = null;

  function tabFromHash() {
    var name = location.hash.replace(/^#/, "");
    return TABS.indexOf(name) >= 0 ? name : "knowledge";
  }

  function showTab(name, focus) {
    currentTab = name;
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      var selected = tab === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      $("panel-" + tab).hidden = !selected;
    });
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    if (focus) $("tab-" + name).focus();
    if (name === "knowledge") loadKnowledge();
    else if (name === "drafts") loadDrafts();
    else if (name === "dashboard") loadDashboard(false);
    else if (name === "gaps") loadGaps();
    else if (name === "team") loadUsers();
    else if (name === "widget") loadBranding();
  }

  TABS.forEach(function (tab, i) {
    var button = $("tab-" + tab);
    button.addEventListener("click", function () { showTab(tab, false); });
    button.addEventListener("keydown", function (event) {
      var to = null;
      if (event.key === "ArrowRight") to = TABS[(i + 1) % TABS.length];
      else if (event.key === "ArrowLeft") to = TABS[(i + TABS.length - 1) % TABS.length];
      else if (event.key === "Home") to = TABS[0];
      else if (event.key === "End") to = TABS[TABS.length - 1];
      if (to) { event.preventDefault(); showTab(to, true); }
    });
  });
  window.addEventListener("hashchange", function () {
    if (me && !$("admin").hidden && tabFromHash() !== currentTab) showTab(tabFromHash(), false);
  });

  // ---- dialogs ----------------------------------------------------------------------------

  /* An in-page confirmation (a modal <dialog>, keyboard and screen-reader friendly);
   * resolves true when confirmed. */
  function confirmBox(text, okLabel, danger) {
    var dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    $("confirm-ok").className = danger ? "primary danger" : "primary";
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function closed() {
        dialog.removeEventListener("close", closed);
        resolve(dialog.returnValue === "ok");
      });
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  function transcriptItem(e) {
    var d = e.data || {};
    var at = when(e.at);
    function who(text) { return el("span", { class: "who", text: text }); }
    switch (e.kind) {
      case "conversation_started":
        return el("li", { class: "system", text: "對話開始 Conversation started · " + [d.channel, d.language, d.customer_id].filter(Boolean).join(" · ") + " · " + at });
      case "customer_messaged":
        return el("li", { class: "customer" }, who("客戶 Customer · " + at), el("span", { class: "text", text: d.text || "" }));
      case "turn_answered":
      case "turn_clarifying":
      case "turn_refused":
      case "turn_handed_off":
        var decision = d.decision || e.kind.replace(/^turn_/, "");
        var facts = [];
        if (d.reason) facts.push("reason " + d.reason);
        if (isNumber(d.confidence)) facts.push("confidence " + d.confidence.toFixed(2));
        if (d.trigger) facts.push("trigger " + d.trigger);
        if (d.topic) facts.push("topic " + d.topic);
        (d.citations || []).forEach(function (cite) { facts.push("來源 " + (cite.label || cite.source)); });
        return el("li", { class: "bot " + decision }, who("機器人 Bot · " + label(DECISIONS, decision) + " · " + at),
          el("span", { class: "text", text: d.reply || "" }),
          facts.length ? el("span", { class: "who", text: facts.join(" · ") }) : null);
      case "status_changed":
        return el("li", { class: "system", text: "狀態 Status: " + label(STATUSES, d.from_status) + " → " + label(STATUSES, d.to_status) +
          (d.reason ? " · " + d.reason : "") + (d.agent_name ? " · " + d.agent_name : "") + " · " + at });
      case "agent_replied":
        return el("li", { class: "agent" }, who((d.agent_name || "專人 Agent") + " · " + at), el("span", { class: "text", text: d.text || "" }));
      case "agent_noted":
        return el("li", { class: "note" }, who("🔒 私人備註 Private note · " + (d.agent_name || "") + " · " + at), el("span", { class: "text", text: d.text || "" }));
      case "feedback_given":
        return el("li", { class: "system", text: "客戶回饋 Feedback: " + (d.helpful ? "👍 有幫助 helpful" : "👎 沒幫助 not helpful") });
      case "survey_answered":
        return el("li", { class: "system", text: "滿意度調查 Survey: CSAT " + d.csat + "/5 · CES " + d.ces + "/7" + (d.comment ? " · 「" + d.comment + "」" : "") });
      case "knowledge_draft_saved":
        return el("li", { class: "system", text: "🔒 已存成知識草稿 Saved as a knowledge draft · " + shorten(d.question, 60) });
      default:
        return el("li", { class: "system", text: e.kind });
    }
  }

  function openTranscript(id) {
    var dialog = $("transcript-dialog");
    var list = $("transcript");
    clear(list);
    $("transcript-id").textContent = id;
    $("transcript-meta").textContent = "載入中… Loading…";
    $("transcript-error").textContent = "";
    dialog.setAttribute("data-conversation-id", id);
    if (!dialog.open) dialog.showModal();
    api("GET", "/api/agent/conversations/" + encodeURIComponent(id)).then(function (view) {
      if (dialog.getAttribute("data-conversation-id") !== id) return;
      var c = view.conversation || {};
      $("transcript-meta").textContent = [label(STATUSES, c.status), c.channel, c.customer_id, when(c.created_at),
        (c.tags || []).join(", ")].filter(function (x) { return x && x !== "—"; }).join(" · ");
      (view.events || []).forEach(function (e) {
        var item = transcriptItem(e);
        item.setAttribute("data-kind", e.kind);
        list.appendChild(item);
      });
    }, function (err) {
      $("transcript-meta").textContent = "";
      $("transcript-error").textContent = errorText(err);
    });
  }

  // ---- ingest jobs ------------------------------------------------------------------------

  function problemText(problem) {
    if (problem === null || problem === undefined) return "";
    if (typeof problem !== "object") return String(problem);
    var where = [problem.sheet, problem.row !== undefined ? "row " + problem.row : null,
      problem.page !== undefined ? "page " + problem.page : null, problem.locator].filter(Boolean).join(" · ");
    var what = problem.message || problem.text || problem.reason || problem.problem || JSON.stringify(problem);
    return where ? where + ": " + what : what;
  }

  function sum(files, key) {
    return files.reduce(function (total, f) { return total + (isNumber(f[key]) ? f[key] : 0); }, 0);
  }

  /* Draws a job (state, progress, totals and the per-file diff) into `box`. */
  function renderJob(box, job) {
    clear(box);
    var files = job.files || [];
    var total = isNumber(job.files_total) ? job.files_total : files.length;
    var done = isNumber(job.files_done) ? job.files_done : files.length;
    box.setAttribute("data-job-id", job.id);
    box.setAttribute("data-state", job.state);
    var running = job.state === "queued" || job.state === "running";
    box.appendChild(el("p", { class: "state", role: "status" },
      el("span", { class: "badge " + job.state, text: label(JOB_STATES, job.state) }),
      " " + (job.label ? job.label + " · " : "") + done + " / " + total + " 個檔案 files" +
      (running && job.current ? " · 目前 current: " + job.current : "") +
      (isNumber(job.embedded) ? " · 已嵌入 embedded " + job.embedded : "") +
      (job.lane === "large" ? " · 大檔案通道 large-file lane" : "") +
      " · " + when(job.started_at) + (job.finished_at ? " → " + when(job.finished_at) : "")));
    if (running && job.cancelling) {
      box.appendChild(el("p", { class: "muted", text: "取消中，這一批嵌入完就停。 Cancelling: it stops after the batch it is embedding." }));
    } else if (running) {
      var cancel = el("button", { type: "button", class: "danger cancel-job", "data-job-id": job.id,
        text: "取消匯入 Cancel ingest" });
      cancel.addEventListener("click", function () {
        cancel.disabled = true;
        api("POST", "/api/admin/ingest/" + encodeURIComponent(job.id) + "/cancel").then(function (answer) {
          renderJob(box, answer.job);
        }, function (err) {
          cancel.disabled = false;
          box.appendChild(el("p", { class: "alert", role: "alert", text: errorText(err) }));
        });
      });
      box.appendChild(el("p", null, cancel));
    }
    var bar = el("progress", { max: String(Math.max(total, 1)), "aria-label": "匯入進度 Ingest progress" });
    bar.value = running && !total ? 0 : (total ? done : 1);
    if (job.state === "queued" && !total) bar.removeAttribute("value");
    box.appendChild(bar);
    if (job.error) box.appendChild(el("p", { class: "alert", text: "匯入失敗 Ingest failed: " + job.error }));
    if (!files.length) return;

    var failed = files.filter(function (f) { return f.outcome === "failed"; }).length;
    box.appendChild(el("p", { class: "totals" },
      el("span", { text: "新增 added " + sum(files, "added") }),
      el("span", { text: "變更 changed " + sum(files, "changed") }),
      el("span", { text: "移除 removed " + sum(files, "removed") }),
      el("span", { text: "未變 unchanged " + sum(files, "unchanged") }),
      el("span", { text: "失敗檔案 failed files " + failed })));

    var body = el("tbody");
    files.forEach(function (f) {
      var reasons = [f.error].concat((f.problems || []).map(problemText)).filter(Boolean);
      body.appendChild(el("tr", { "data-source": f.source, "data-outcome": f.outcome },
        el("th", { scope: "row", text: f.source }),
        el("td", null, el("span", { class: "badge " + f.outcome, text: label(OUTCOMES, f.outcome) })),
        el("td", { class: "num", "data-col": "added", text: String(f.added || 0) }),
        el("td", { class: "num", "data-col": "changed", text: String(f.changed || 0) }),
        el("td", { class: "num", "data-col": "removed", text: String(f.removed || 0) }),
        el("td", { class: "num", "data-col": "moved", text: String(f.moved || 0) }),
        el("td", { class: "num", "data-col": "unchanged", text: String(f.unchanged || 0) }),
        el("td", { class: "num", "data-col": "embedded", text: String(f.embedded || 0) }),
        el("td", { class: "reason", text: reasons.join("\n") })));
    });
    function th(zh, en, num) { return el("th", { scope: "col", class: num ? "num" : null }, zh + " ", el("span", { class: "en", lang: "en", text: en })); }
    box.appendChild(el("div", { class: "table-wrap" }, el("table", { class: "diff" },
      el("caption", { class: "visually-hidden", text: "每個檔案的差異 Per-file diff" }),
      el("thead", null, el("tr", null, th("檔案", "File"), th("結果", "Outcome"), th("新增", "Added", true),
        th("變更", "Changed", true), th("移除", "Removed", true), th("搬移", "Moved", true),
        th("未變", "Unchanged", true), th("嵌入", "Embedded", true), th("原因", "Reason"))),
      body)));
  }

  /* Polls a job until it is done or failed, drawing it each time; resolves with the last job. */
  function watchJob(job, box) {
    var mine = session;
    return new Promise(function (resolve, reject) {
      function step(current) {
        if (mine !== session) return;
        renderJob(box, current);
        if (JOB_ENDED[current.state]) { resolve(current); return; }
        setTimeout(function () {
          if (mine !== session) return;
          api("GET", "/api/admin/ingest/" + encodeURIComponent(current.id)).then(step, function (err) {
            box.appendChild(el("p", { class: "alert", role: "alert", text: errorText(err) }));
            reject(err);
          });
        }, POLL_MS);
      }
      step(job);
    });
  }

  // ---- knowledge --------------------------------------------------------------------------

  var watching = null; // the job the knowledge tab shows live

  function knowledgeJob(job) {
    watching = job.id;
    loadOtherJobs();  // a job that was shown here goes on in the list below
    return watchJob(job, $("knowledge-job")).then(function (last) {
      loadSources();
      loadOtherJobs();
      return last;
    }, function () { loadSources(); });
  }

  function loadKnowledge() {
    loadSources();
    loadChannels();
    api("GET", "/api/admin/ingest").then(function (found) {
      var newest = ((found && found.jobs) || [])[0];
      if (!newest || watching === newest.id) return;
      if (newest.state === "queued" || newest.state === "running") knowledgeJob(newest);
      else renderJob($("knowledge-job"), newest);
    }, function () { /* the sources table says what went wrong */ });
    loadOtherJobs();
  }

  /* The other jobs that are queued or running (each lane runs one at a time), each with its
   * progress and a cancel button; polled while there are any. */
  var otherJobsTimer = null;
  function loadOtherJobs() {
    var mine = session;
    clearTimeout(otherJobsTimer);
    api("GET", "/api/admin/ingest").then(function (found) {
      if (mine !== session) return;
      var list = $("other-jobs");
      clear(list);
      var active = ((found && found.jobs) || []).filter(function (j) {
        return !JOB_ENDED[j.state] && j.id !== watching;
      });
      active.forEach(function (j) {
        var box = el("div", { class: "job" });
        renderJob(box, j);
        list.appendChild(box);
      });
      if (active.length) otherJobsTimer = setTimeout(loadOtherJobs, POLL_MS);
    }, function () { /* the sources table says what went wrong */ });
  }

  function loadChannels() {
    var list = $("channels");
    api("GET", "/api/admin/channels").then(function (found) {
      clear(list);
      ((found && found.channels) || []).forEach(function (c) {
        var name = c.name === "line" ? "LINE" : "Messenger";
        var state = c.enabled ? "已啟用 On" : "未設定 Off — " + c.settings.join(", ");
        list.appendChild(el("li", { "data-channel": c.name },
          el("strong", { text: name + " · " + state }),
          el("br"),
          el("code", { text: c.webhook_url })));
      });
    }, function () { /* the page's other cards say when the session ended */ });
  }

  function loadSources() {
    var body = $("sources").querySelector("tbody");
    api("GET", "/api/admin/sources").then(function (found) {
      $("sources-error").textContent = "";
      clear(body);
      var sources = (found && found.sources) || [];
      if (!sources.length) {
        body.appendChild(el("tr", null, el("td", { colspan: "6", class: "muted", text: "知識庫是空的。 The knowledge base is empty." })));
      }
      sources.forEach(function (s) {
        var name = s.name;
        var actions = el("td", { class: "actions" });
        if (s.downloadable) {
          var link = el("a", { class: "button", href: "/api/admin/sources/" + encodeURIComponent(name) + "/file", download: name }, "下載 Download");
          link.appendChild(el("span", { class: "visually-hidden", text: " " + name }));
          actions.appendChild(link);
          actions.appendChild(document.createTextNode(" "));
        }
        actions.appendChild(actionButton("刪除 Delete", name, { class: "danger", onclick: function () { deleteSource(s); } }));
        body.appendChild(el("tr", { "data-source": name },
          el("th", { scope: "row", text: name }),
          el("td", { class: "num", text: isNumber(s.items) ? String(s.items) : "—" }),
          el("td", null, el("span", { class: "badge " + s.status, text: label(SOURCE_STATUSES, s.status) }),
            s.error || s.last_error ? el("span", { class: "reason", text: "\n" + (s.error || s.last_error) }) : null),
          el("td", { text: when(s.ingested_at || s.last_ingest) }),
          el("td", { text: (s.origin || "—") + (s.managed ? "" : " · 不在此管理 not managed here") }),
          actions));
      });
    }, function (err) {
      $("sources-error").textContent = errorText(err);
    });
  }

  function deleteSource(s) {
    var text = "要刪除「" + s.name + "」嗎？它的 " + (s.items || 0) + " 筆知識會從知識庫移除，機器人不會再用它回答。" +
      (s.managed ? "" : "（這個來源不是從這裡上傳的：下次用 kefu ingest 匯入同一個資料夾時它會回來。）") +
      "\nDelete “" + s.name + "”? Its " + (s.items || 0) + " items leave the knowledge base and the bot no longer answers from them." +
      (s.managed ? "" : " (It was not uploaded here: ingesting its folder with kefu ingest brings it back.)");
    confirmBox(text, "刪除 Delete", true).then(function (ok) {
      if (!ok) return;
      $("sources-error").textContent = "";
      api("DELETE", "/api/admin/sources/" + encodeURIComponent(s.name)).then(function (gone) {
        var removed = gone && isNumber(gone.removed_items) ? gone.removed_items : 0;
        $("sources-notice").textContent = "已刪除「" + s.name + "」，移除 " + removed + " 筆。 Deleted “" + s.name + "”: " + removed + " items removed.";
        loadSources();
      }, function (err) {
        $("sources-error").textContent = s.name + "：" + errorText(err);
        loadSources();
      });
    });
  }

  // The file's name goes first: the server's English message may name it too, or may not.
  var UPLOAD_ZH = {
    unsupported_file: function (name) { return "不支援這種檔案：" + name + "。請上傳 Excel (.xlsx)、CSV、PDF、Markdown、純文字或 HTML 檔。"; },
    empty_file: function (name) { return name + " 是空的檔案，沒有內容可以匯入。"; },
    file_too_large: function (name) { return name + " 太大了，無法上傳。"; }
  };
  var UPLOAD_EN = {
    unsupported_file: function (name) { return name + ": this kind of file is not supported. Upload .xlsx, .csv, .pdf, .md, .txt or .html."; },
    empty_file: function (name) { return name + " is empty: there is nothing to ingest."; },
    file_too_large: function (name) { return name + " is too large to upload."; }
  };

  function uploadError(name, err) {
    if (err && err.messages && (err.messages.zh || err.messages.en)) return name + "：" + errorText(err);
    if (err && UPLOAD_ZH[err.code]) {
      var en = err.status && err.message && err.message.indexOf("HTTP ") !== 0 ? err.message : UPLOAD_EN[err.code](name);
      return UPLOAD_ZH[err.code](name) + " / " + en;
    }
    return name + "：" + errorText(err);
  }

  /* Uploads one file; asks before replacing a source of the same name. Resolves with the job,
   * or null when nothing was ingested. */
  function uploadOne(file, replace) {
    var form = new FormData();
    form.append("file", file, file.name);
    $("upload-notice").textContent = "上傳中… Uploading " + file.name + "…";
    return api("POST", "/api/admin/sources" + (replace ? "?replace=true" : ""), form).then(function (answer) {
      $("upload-notice").textContent = "已上傳 " + file.name + "，匯入中。 Uploaded " + file.name + ": ingesting.";
      return answer && answer.job ? knowledgeJob(answer.job) : null;
    }, function (err) {
      $("upload-notice").textContent = "";
      if (err.code === "source_exists" && !replace) {
        return confirmBox("已經有名為「" + file.name + "」的知識來源。要用新檔案取代它嗎？\nA source named “" + file.name +
          "” already exists. Replace it with this file?", "取代 Replace", false).then(function (ok) {
          if (ok) return uploadOne(file, true);
          $("upload-notice").textContent = "沒有上傳 " + file.name + "。 " + file.name + " was not uploaded.";
          return null;
        });
      }
      if (err.status === 401 || err.status === 403) throw err;
      $("upload-error").textContent = ($("upload-error").textContent ? $("upload-error").textContent + "\n" : "") + uploadError(file.name, err);
      return null;
    });
  }

  function uploadFiles(list) {
    var files = Array.prototype.slice.call(list || []);
    if (!files.length) return;
    $("upload-error").textContent = "";
    $("upload-notice").textContent = "";
    // One after the other: each file's diff shows before the next starts.
    files.reduce(function (previous, file) {
      return previous.then(function () { return uploadOne(file, false); });
    }, Promise.resolve()).then(function (last) {
      if (last && last.state === "done") {
        var failed = (last.files || []).filter(function (f) { return f.outcome === "failed"; });
        $("upload-notice").textContent = failed.length
          ? "匯入完成，但有檔案失敗；原本的知識仍在服務。 Ingest finished, but a file failed: the knowledge that was serving keeps serving."
          : "匯入完成。 Ingest finished.";
      } else if (last && last.state === "cancelled") {
        $("upload-notice").textContent = "匯入已取消；原本的知識仍在服務。 Ingest cancelled: the knowledge that was serving keeps serving.";
      }
    }, function () { /* shown already */ }).finally(function () { $("upload-input").value = ""; });
  }

  $("upload-input").addEventListener("change", function () { uploadFiles(this.files); });

  (function dropzone() {
    var zone = $("dropzone");
    var depth = 0;
    zone.addEventListener("dragenter", function (event) { event.preventDefault(); depth++; zone.classList.add("over"); });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function () { depth = Math.max(0, depth - 1); if (!depth) zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files) uploadFiles(event.dataTransfer.files);
    });
    // A file dropped beside the zone must not make the browser leave the page to open it.
    window.addEventListener("dragover", function (event) { event.preventDefault(); });
    window.addEventListener("drop", function (event) { event.preventDefault(); });
  })();

  $("reingest").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    $("upload-error").textContent = "";
    api("POST", "/api/admin/ingest").then(function (answer) {
      $("upload-notice").textContent = "重新匯入所有來源中。 Re-ingesting every source.";
      return knowledgeJob(answer.job);
    }, function (err) {
      $("sources-error").textContent = errorText(err);
    }).finally(function () { button.disabled = false; });
  });

  $("sources-refresh").addEventListener("click", loadKnowledge);

  // ---- drafts -----------------------------------------------------------------------------

  var focusDraft = null; // a draft to bring into view when the list is drawn

  function countDrafts(found) {
    var pending = ((found && found.drafts) || []).filter(function (d) { return d.status === "pending"; }).length;
    var badge = $("drafts-count");
    badge.hidden = !pending;
    badge.textContent = pending ? pending + " 待審 pending" : "";
  }

  function loadDrafts() {
    var status = $("drafts-status").value;
    var box = $("drafts");
    return api("GET", "/api/admin/drafts" + query({ status: status })).then(function (found) {
      $("drafts-error").textContent = "";
      if (status === "pending") countDrafts(found);
      clear(box);
      var drafts = (found && found.drafts) || [];
      if (!drafts.length) {
        box.appendChild(el("p", { class: "muted", text: status === "pending"
          ? "沒有待審核的草稿。 No drafts waiting for review." : "沒有草稿。 No drafts." }));
      }
      drafts.forEach(function (draft) { box.appendChild(draftCard(draft)); });
      if (focusDraft) {
        var card = box.querySelector('[data-draft-id="' + CSS.escape(focusDraft) + '"]');
        focusDraft = null;
        if (card) {
          card.scrollIntoView({ block: "center" });
          var answer = card.querySelector("textarea.answer");
          if (answer) answer.focus();
        }
      }
    }, function (err) {
      $("drafts-error").textContent = errorText(err);
    });
  }

  function draftCard(draft) {
    var id = String(draft.id);
    var pending = draft.status === "pending";
    var qId = "draft-q-" + id;
    var aId = "draft-a-" + id;
    var question = el("textarea", { id: qId, class: "question", rows: "2", readonly: !pending });
    var answer = el("textarea", { id: aId, class: "answer", rows: "4", readonly: !pending,
      placeholder: pending ? "請寫下答案… Write the answer…" : null });
    question.value = draft.question || "";
    answer.value = draft.answer || "";
    var error = el("p", { class: "alert", role: "alert" });
    var notice = el("p", { class: "notice", role: "status" });
    var jobBox = el("div", { class: "job" });
    var short = shorten(draft.question, 30);
    var meta = el("p", { class: "meta muted" },
      "建立者 By " + (draft.created_by || "—") + " · " + when(draft.created_at) +
      (draft.language ? " · " + draft.language : "") +
      (draft.updated_at && draft.updated_at !== draft.created_at ? " · 更新 updated " + when(draft.updated_at) : ""));
    if (draft.conversation_id) {
      meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(actionButton("看原對話 View the conversation", short, {
        class: "link", onclick: function () { openTranscript(draft.conversation_id); } }));
    }
    var card = el("article", { class: "draft", "data-draft-id": id, "data-status": draft.status, "aria-labelledby": "draft-h-" + id },
      el("h3", { id: "draft-h-" + id },
        el("span", { class: "badge " + draft.status, text: label(DRAFT_STATUSES, draft.status) }), " " + (short || "—")),
      meta,
      el("label", { for: qId }, "問題 ", el("span", { class: "en", lang: "en", text: "Question" })), question,
      el("label", { for: aId }, "答案 ", el("span", { class: "en", lang: "en", text: "Answer" })), answer);
    if (!pending) {
      card.appendChild(jobBox);
      return card;
    }
    var save = actionButton("儲存 Save", short);
    var approve = actionButton("核准 Approve", short, { class: "primary" });
    var reject = actionButton("退回 Reject", short, { class: "danger" });
    card.appendChild(el("div", { class: "row" }, save, approve, reject));
    card.appendChild(error);
    card.appendChild(notice);
    card.appendChild(jobBox);

    function edits() {
      var change = {};
      if (question.value !== (draft.question || "")) change.question = question.value.trim();
      if (answer.value !== (draft.answer || "")) change.answer = answer.value.trim();
      return change;
    }
    function busy(on) { [save, approve, reject].forEach(function (b) { b.disabled = on; }); }
    function saved() {
      var change = edits();
      if (!Object.keys(change).length) return Promise.resolve(draft);
      return api("PATCH", "/api/admin/drafts/" + encodeURIComponent(id), change).then(function (updated) {
        draft = updated || draft;
        return draft;
      });
    }
    function failed(err) {
      error.textContent = errorText(err);
      busy(false);
    }

    save.addEventListener("click", function () {
      error.textContent = "";
      notice.textContent = "";
      busy(true);
      saved().then(function () {
        notice.textContent = "已儲存。 Saved.";
        busy(false);
      }, failed);
    });

    approve.addEventListener("click", function () {
      error.textContent = "";
      notice.textContent = "";
      busy(true);
      saved().then(function () {
        return api("POST", "/api/admin/drafts/" + encodeURIComponent(id) + "/approve");
      }).then(function (result) {
        draft = (result && result.draft) || draft;
        card.setAttribute("data-status", "approved");
        card.querySelector("h3 .badge").className = "badge approved";
        card.querySelector("h3 .badge").textContent = label(DRAFT_STATUSES, "approved");
        question.readOnly = true;
        answer.readOnly = true;
        [save, approve, reject].forEach(function (b) { b.remove(); });
        notice.textContent = "已核准，寫入知識庫中… Approved: adding it to the knowledge base…";
        refreshDraftCount();
        if (!result || !result.job) return;
        return watchJob(result.job, jobBox).then(function (last) {
          var failedFiles = (last.files || []).filter(function (f) { return f.outcome === "failed"; });
          if (last.state === "done" && !failedFiles.length) {
            notice.textContent = "已核准並寫入知識庫：機器人下一輪就會用它回答。 Approved and in the knowledge base: the bot answers with it from the next turn.";
          } else {
            notice.textContent = "";
            error.textContent = "已核准，但匯入失敗。 Approved, but the ingest failed." +
              (last.error ? "\n" + last.error : "") +
              failedFiles.map(function (f) { return "\n" + f.source + ": " + (f.error || ""); }).join("");
          }
        });
      }).catch(function (err) {
        if (card.getAttribute("data-status") === "pending") failed(err);
        else error.textContent = errorText(err);
      });
    });

    reject.addEventListener("click", function () {
      confirmBox("要退回這份草稿嗎？它不會進入知識庫。\nReject this draft? It will not join the knowledge base.\n\n" +
        shorten(question.value, 120), "退回 Reject", true).then(function (ok) {
        if (!ok) return;
        error.textContent = "";
        busy(true);
        api("POST", "/api/admin/drafts/" + encodeURIComponent(id) + "/reject").then(function () {
          card.setAttribute("data-status", "rejected");
          card.querySelector("h3 .badge").className = "badge rejected";
          card.querySelector("h3 .badge").textContent = label(DRAFT_STATUSES, "rejected");
          question.readOnly = true;
          answer.readOnly = true;
          [save, approve, reject].forEach(function (b) { b.remove(); });
          notice.textContent = "已退回。 Rejected.";
          refreshDraftCount();
        }, failed);
      });
    });
    return card;
  }

  function refreshDraftCount() {
    api("GET", "/api/admin/drafts?status=pending").then(countDrafts, function () { /* the badge can wait */ });
  }

  $("drafts-status").addEventListener("change", loadDrafts);
  $("drafts-refresh").addEventListener("click", loadDrafts);
  $("new-draft-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = this.querySelector("button");
    button.disabled = true;
    $("drafts-error").textContent = "";
    api("POST", "/api/admin/drafts", {
      question: $("new-draft-question").value.trim(),
      answer: $("new-draft-answer").value.trim()
    }).then(function (draft) {
      $("new-draft-question").value = "";
      $("new-draft-answer").value = "";
      $("drafts-notice").textContent = "已建立草稿。 Draft created.";
      $("drafts-status").value = "pending";
      focusDraft = draft && draft.id !== undefined ? String(draft.id) : null;
      return loadDrafts();
    }, function (err) {
      $("drafts-error").textContent = errorText(err);
    }).finally(function () { button.disabled = false; });
  });

  // ---- charts -----------------------------------------------------------------------------

  var charts = {};  // name -> Chart
  var sparks = [];  // the unanswered questions' small charts

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function chartLibrary() {
    if (!window.Chart) return null;
    var C = window.Chart;
    C.defaults.font.family = getComputedStyle(document.body).fontFamily;
    C.defaults.color = "#1a1a1a";
    C.defaults.borderColor = "#dde1e6";
    if (reducedMotion()) C.defaults.animation = false;
    return C;
  }

  function destroyAllCharts() {
    Object.keys(charts).forEach(function (name) { charts[name].destroy(); delete charts[name]; });
    sparks.forEach(function (chart) { chart.destroy(); });
    sparks = [];
  }

  function chartBox(name) { return document.querySelector('.chart-box[data-chart="' + name + '"]'); }

  function noData(name, text) {
    if (charts[name]) { charts[name].destroy(); delete charts[name]; }
    var box = chartBox(name);
    clear(box);
    box.appendChild(el("p", { class: "no-data", text: text || "此期間沒有資料 · No data for this period" }));
    var table = box.nextElementSibling;
    if (table && table.classList.contains("chart-data")) table.remove();
  }

  /* A chart in its box, with a text summary for screen readers and its numbers as a table. */
  function drawChart(name, config, summary, headers, rows) {
    if (charts[name]) { charts[name].destroy(); delete charts[name]; }
    var box = chartBox(name);
    clear(box);
    var old = box.nextElementSibling;
    if (old && old.classList.contains("chart-data")) old.remove();
    var C = chartLibrary();
    if (!C) {
      box.appendChild(el("p", { class: "no-data", text: "圖表程式庫沒有載入 · The chart library did not load" }));
      return;
    }
    var canvas = el("canvas", { role: "img", "aria-label": summary, "data-chart-canvas": name });
    box.appendChild(canvas);
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options || {});
    charts[name] = new C(canvas, config);
    if (headers && rows) {
      var body = el("tbody");
      rows.forEach(function (r) {
        body.appendChild(el("tr", null, el("th", { scope: "row", text: r[0] }),
          el("td", { class: "num", text: r[1] })));
      });
      box.parentNode.insertBefore(el("details", { class: "chart-data" },
        el("summary", { text: "資料表 Data table" }),
        el("table", null, el("thead", null, el("tr", null,
          el("th", { scope: "col", text: headers[0] }), el("th", { scope: "col", class: "num", text: headers[1] }))), body)),
      box.nextSibling);
    }
  }

  // ---- dashboard --------------------------------------------------------------------------

  var dashLoaded = false;
  var dashAsked = 0;
  var lastPeriod = null;

  /* The shop's days are those of its time zone (the opening hours'), not the browser's: the
   * reports count days there (bot/reports/metrics.py), so "today" must be the shop's today. */
  var shopZone = null;
  var zoneKnown = api("GET", "/api/widget/config").then(function (config) {
    shopZone = config.time_zone || null;
  }, function () { /* the browser's own days are the fallback */ });

  function shopDay(d) {
    if (shopZone) {
      try {
        var parts = {};
        new Intl.DateTimeFormat("en-US", {
          timeZone: shopZone, year: "numeric", month: "2-digit", day: "2-digit"
        }).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
        return parts.year + "-" + parts.month + "-" + parts.day;
      } catch (e) { /* an unknown zone: the browser's days */ }
    }
    return isoDay(d);
  }

  function defaultPeriod(fromInput, toInput) {
    var now = Date.now();
    if (!toInput.value) toInput.value = shopDay(new Date(now));
    if (!fromInput.value) fromInput.value = shopDay(new Date(now - (DEFAULT_DAYS - 1) * 86400000));
  }

  function periodError(from, to) {
    if (!from || !to) return "請選擇開始日和結束日。 / Choose the first and the last day.";
    if (from > to) return "開始日不能晚於結束日。 / “From” cannot be after “To”.";
    return null;
  }

  /* The API's definition of a number ({key: text} or {key: {zh, en}} or {zh: {...}, en: {...}}),
   * else the README's. */
  function definitionOf(defs, key) {
    var found = null;
    if (defs) {
      var keys = [key, key.replace(/_seconds$/, ""), key.replace(/_rate$/, ""), key.replace(/_conversations$/, "")];
      for (var i = 0; i < keys.length && !found; i++) {
        var d = defs[keys[i]];
        if (typeof d === "string" && d) found = { text: d };
        else if (d && typeof d === "object" && (d.zh || d.en)) found = d;
      }
      if (!found && (defs.zh || defs.en) && typeof (defs.zh || defs.en) === "object") {
        var zh = defs.zh && defs.zh[key];
        var en = defs.en && defs.en[key];
        if (zh || en) found = { zh: zh, en: en };
      }
    }
    return found || DEFINITIONS[key] || null;
  }

  function definitionNode(node, def) {
    clear(node);
    if (!def) return node;
    if (def.text) node.appendChild(el("span", { text: def.text }));
    if (def.zh) node.appendChild(el("span", { text: def.zh }));
    if (def.en) node.appendChild(el("span", { lang: "en", text: def.en }));
    return node;
  }

  function cardValue(card, m) {
    var v = m[card.key];
    if (card.kind === "count") return { text: isNumber(v) ? String(v) : "—" };
    if (card.kind === "rate") return { text: percent(v) };
    if (card.kind === "money") {
      var sums = Object.keys(v || {}).map(function (currency) { return v[currency] + " " + currency; });
      return { text: sums.length ? sums.join(" + ") : "—" };
    }
    if (card.kind === "time") {
      v = v || {};
      var mean = isNumber(v) ? v : v.mean;
      return {
        text: duration(mean),
        sub: isNumber(v) ? "" : "中位數 p50 " + duration(v.p50) + " · p90 " + duration(v.p90) + " · n = " + (v.count || 0)
      };
    }
    if (card.kind === "score") {
      v = v || {};
      var score = isNumber(v) ? v : v.mean;
      var sub = "回覆 answers " + (v.answers || 0);
      if (card.key === "csat" && isNumber(v.satisfied_rate)) sub = "滿意 satisfied (4–5) " + percent(v.satisfied_rate) + " · " + sub;
      return { text: isNumber(score) ? score.toFixed(2) + " / " + card.scale : "—", sub: sub };
    }
    return { text: String(v) };
  }

  function metricLabel(card) { return card.zh + " " + card.en; }

  function renderCards(m, params) {
    var box = $("metric-cards");
    clear(box);
    var empty = !m.engaged_conversations;
    CARDS.forEach(function (card) {
      var value = cardValue(card, m);
      var defId = "def-" + card.key;
      var button = card.drill ? el("button", {
        type: "button", class: "value", "data-metric": card.key, "aria-describedby": defId,
        disabled: empty, title: "看背後的對話 Show the conversations behind it"
      }, value.text, el("span", { class: "visually-hidden", text: " · " + metricLabel(card) + " · 看背後的對話 show the conversations" }))
        : el("p", { class: "value", "data-metric": card.key, text: value.text });
      if (card.drill) button.addEventListener("click", function () { drill(card.drill, metricLabel(card), params); });
      var sub = [card.sub ? card.sub(m) : "", value.sub || ""].filter(Boolean).join(" · ");
      box.appendChild(el("article", { class: "metric", "data-key": card.key },
        el("h3", null, card.zh + " ", el("span", { class: "en", lang: "en", text: card.en })),
        button,
        sub ? el("p", { class: "sub", text: sub }) : null,
        definitionNode(el("p", { class: "def", id: defId }), definitionOf(m.definitions, card.key))));
    });
  }

  /* conversations_per_day as [{day, count}], every day of the period (missing days are 0). */
  function perDay(raw, from, to) {
    var counts = {};
    if (Array.isArray(raw)) {
      raw.forEach(function (row) {
        if (!row || typeof row !== "object") return;
        var day = String(row.day || row.date || "").slice(0, 10);
        var n = [row.conversations, row.count, row.engaged, row.engaged_conversations].filter(isNumber)[0];
        if (day) counts[day] = (counts[day] || 0) + (n || 0);
      });
    } else if (raw && typeof raw === "object") {
      Object.keys(raw).forEach(function (day) {
        var v = raw[day];
        counts[day.slice(0, 10)] = isNumber(v) ? v : (v && [v.conversations, v.count].filter(isNumber)[0]) || 0;
      });
    }
    var days = [];
    var d = new Date(from + "T00:00:00Z");
    var end = new Date(to + "T00:00:00Z");
    var guard = 0;
    while (d <= end && guard++ < 1000) {
      var key = d.toISOString().slice(0, 10);
      days.push({ day: key, count: counts[key] || 0 });
      delete counts[key];
      d.setUTCDate(d.getUTCDate() + 1);
    }
    Object.keys(counts).sort().forEach(function (key) { days.push({ day: key, count: counts[key] }); });
    return days;
  }

  function renderCharts(m, params) {
    var empty = !m.engaged_conversations;
    var tick = { precision: 0 };

    var days = perDay(m.conversations_per_day, params.from, params.to);
    if (empty || !days.some(function (d) { return d.count; })) noData("daily");
    else drawChart("daily", {
      type: "bar",
      data: { labels: days.map(function (d) { return d.day.slice(5); }),
        datasets: [{ label: "對話 Conversations", data: days.map(function (d) { return d.count; }), backgroundColor: PALETTE[0] }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: tick } } }
    }, "每日對話數 Conversations per day: " + days.filter(function (d) { return d.count; })
      .map(function (d) { return d.day + " " + d.count; }).join(", "),
    ["日期 Day", "對話 Conversations"], days.map(function (d) { return [d.day, String(d.count)]; }));

    var confirmed = m.resolution_confirmed_conversations || 0;
    var assumed = m.resolution_assumed_conversations || 0;
    var pending = m.pending_conversations || 0;
    var other = Math.max(0, (m.engaged_conversations || 0) - confirmed - assumed - pending);
    var parts = [["確認解決 Confirmed", confirmed], ["推定解決 Assumed", assumed], ["待定 Pending", pending], ["其他 Other", other]];
    if (empty) noData("resolution");
    else drawChart("resolution", {
      type: "doughnut",
      data: { labels: parts.map(function (p) { return p[0]; }),
        datasets: [{ data: parts.map(function (p) { return p[1]; }),
          backgroundColor: [PALETTE[2], PALETTE[0], PALETTE[6], PALETTE[7]], borderColor: "#fff" }] },
      options: { plugins: { legend: { position: "right" } } }
    }, "解決情形 Resolution: " + parts.map(function (p) { return p[0] + " " + p[1]; }).join(", "),
    ["結果 Outcome", "對話 Conversations"], parts.map(function (p) { return [p[0], String(p[1])]; }));

    var triggers = Object.keys(m.handoffs_by_trigger || {}).map(function (t) { return [t, m.handoffs_by_trigger[t]]; })
      .sort(function (a, b) { return b[1] - a[1]; });
    definitionNode($("def-triggers"), definitionOf(m.definitions, "handoffs_by_trigger"));
    renderDrillTable($("triggers-table"), triggers.map(function (t) {
      return { name: label(TRIGGERS, t[0]), value: String(t[1]), metric: "trigger:" + t[0] };
    }), ["轉接原因 Trigger", "對話 Conversations"], params, "沒有轉接 · No handoffs");
    if (empty || !triggers.length) noData("triggers", empty ? null : "此期間沒有轉接 · No handoffs in this period");
    else drawChart("triggers", {
      type: "bar",
      data: { labels: triggers.map(function (t) { return label(TRIGGERS, t[0]).split(" · "); }),
        datasets: [{ label: "對話 Conversations", data: triggers.map(function (t) { return t[1]; }), backgroundColor: PALETTE[1] }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: tick } } }
    }, "轉接原因 Handoffs by trigger: " + triggers.map(function (t) { return t[0] + " " + t[1]; }).join(", "));

    var topics = Object.keys(m.containment_by_topic || {}).map(function (t) {
      var v = m.containment_by_topic[t] || {};
      return { topic: t, rate: isNumber(v) ? v : v.containment_rate, conversations: v.conversations, handed: v.handed_off_conversations };
    }).sort(function (a, b) { return (b.conversations || 0) - (a.conversations || 0); });
    definitionNode($("def-topics"), definitionOf(m.definitions, "containment_by_topic"));
    renderDrillTable($("topics-table"), topics.map(function (t) {
      return { name: t.topic, value: percent(t.rate) + (isNumber(t.conversations) ? " (" + (t.conversations - (t.handed || 0)) + " / " + t.conversations + ")" : ""),
        metric: "topic:" + t.topic };
    }), ["主題 Topic", "自助解決 Contained"], params, "沒有主題 · No topics");
    if (empty || !topics.length) noData("topics");
    else drawChart("topics", {
      type: "bar",
      data: { labels: topics.map(function (t) { return shorten(t.topic, 40); }),
        datasets: [{ label: "自助解決率 Containment %", data: topics.map(function (t) { return isNumber(t.rate) ? Math.round(t.rate * 1000) / 10 : 0; }),
          backgroundColor: PALETTE[2] }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } }
    }, "各主題自助解決率 Containment by topic: " + topics.map(function (t) { return t.topic + " " + percent(t.rate); }).join(", "));
  }

  /* A table whose every number opens the conversations behind it. */
  function renderDrillTable(box, rows, headers, params, emptyText) {
    clear(box);
    if (!rows.length) { box.appendChild(el("p", { class: "muted", text: emptyText })); return; }
    var body = el("tbody");
    rows.forEach(function (r) {
      body.appendChild(el("tr", { "data-metric": r.metric },
        el("th", { scope: "row", text: r.name }),
        el("td", { class: "num" }, actionButton(r.value, "· " + r.name + " · 看背後的對話 show the conversations", {
          class: "link", onclick: function () { drill(r.metric, r.name, params); } }))));
    });
    box.appendChild(el("table", null, el("thead", null, el("tr", null,
      el("th", { scope: "col", text: headers[0] }), el("th", { scope: "col", class: "num", text: headers[1] }))), body));
  }

  var RESOLUTIONS = { bot: "機器人獨力 · Bot alone", person: "有真人協助 · A person helped" };
  var CHANNELS = { web: "網站 · Web widget", line: "LINE", messenger: "Messenger" };

  /* Conversion by channel, resolution and topic, each number opening the conversations (and
   * their orders) behind it; the baseline of customers who did not converse. */
  function renderConversion(m, params) {
    var c = m.conversion || {};
    definitionNode($("def-conversion"), definitionOf(m.definitions, "conversion_rate"));
    definitionNode($("def-baseline"), definitionOf(m.definitions, "conversion_baseline"));
    $("conversion-note").textContent = "歸因不代表因果：有對話的顧客也許本來就會下單。 " + (c.note || "");
    var rows = [{ name: "全部 All", group: { converted_conversations: c.converted_conversations, engaged_conversations: c.engaged_conversations,
      conversion_rate: m.conversion_rate, attributed_revenue: m.attributed_revenue }, metric: "converted" }];
    [["by_channel", "channel", CHANNELS], ["by_resolution", "resolution", RESOLUTIONS], ["by_topic", "topic", null]].forEach(function (part) {
      var groups = c[part[0]] || {};
      Object.keys(groups).forEach(function (key) {
        rows.push({ name: (part[2] ? label(part[2], key) : key), group: groups[key], metric: "converted:" + part[1] + ":" + key });
      });
    });
    var box = $("conversion-table");
    clear(box);
    var body = el("tbody");
    rows.forEach(function (r) {
      var g = r.group || {};
      var revenue = Object.keys(g.attributed_revenue || {}).map(function (k) { return (g.attributed_revenue[k] + " " + k).trim(); }).join(" + ") || "—";
      body.appendChild(el("tr", { "data-metric": r.metric },
        el("th", { scope: "row", text: r.name }),
        el("td", { class: "num" }, actionButton(percent(g.conversion_rate) + " (" + (g.converted_conversations || 0) + " / " + (g.engaged_conversations || 0) + ")",
          "· " + r.name + " · 看背後的對話與訂單 show the conversations and orders", {
            class: "link", disabled: !g.converted_conversations, onclick: function () { drill(r.metric, "對話後下單 Orders after · " + r.name, params); } })),
        el("td", { class: "num", text: revenue })));
    });
    box.appendChild(el("table", null, el("thead", null, el("tr", null,
      el("th", { scope: "col", text: "分組 Group" }), el("th", { scope: "col", class: "num", text: "下單率 Conversion" }),
      el("th", { scope: "col", class: "num", text: "歸因營收 Revenue" }))), body));

    var base = c.baseline || {};
    var baseBox = $("baseline-table");
    clear(baseBox);
    if (base.known_customers === null || base.known_customers === undefined) {
      baseBox.appendChild(el("p", { class: "muted", text: "沒有先前的訂單可比較。 No earlier orders to compare with." }));
      return;
    }
    var baseBody = el("tbody");
    [["有對話的顧客 Customers who conversed", base.conversed || {}, "conversed"],
     ["沒有對話的顧客（基準） Customers who did not (baseline)", base.did_not_converse || {}, "did_not_converse"]].forEach(function (r) {
      baseBody.appendChild(el("tr", { "data-group": r[2] },
        el("th", { scope: "row", text: r[0] }),
        el("td", { class: "num", text: percent(r[1].rate) }),
        el("td", { class: "num", text: (r[1].ordered || 0) + " / " + (r[1].customers || 0) })));
    });
    baseBox.appendChild(el("table", null, el("thead", null, el("tr", null,
      el("th", { scope: "col", text: "已知顧客 Known customers" }), el("th", { scope: "col", class: "num", text: "本期下單 Ordered" }),
      el("th", { scope: "col", class: "num", text: "顧客 Customers" }))), baseBody));
  }

  var ownFields = {};  // the shop's own fields' labels, by profile name (field:<name>)

  function fieldLabel(name) { return ownFields[name] || label(PROFILE_FIELDS, name); }

  /* Profile completeness: the mean, the share of customers who have each field, the spread. */
  function renderProfile(m) {
    var p = m.profile || {};
    $("profile-mean").textContent = percent(m.profile_completeness);
    $("profile-customers").textContent = "平均 mean · 顧客 customers " + (p.customers || 0);
    definitionNode($("def-profile"), definitionOf(m.definitions, "profile_completeness"));
    definitionNode($("def-coverage"), definitionOf(m.definitions, "profile_field_coverage"));
    var box = $("profile-fields");
    clear(box);
    var body = el("tbody");
    (p.fields || []).forEach(function (f) {
      body.appendChild(el("tr", { "data-field": f.field, "data-wanted": f.wanted ? "yes" : "no" },
        el("th", { scope: "row", text: fieldLabel(f.field) }),
        el("td", { text: f.wanted ? "需要 wanted" : "" }),
        el("td", { class: "num", text: percent(f.share) + " (" + f.customers + ")" })));
    });
    box.appendChild(el("table", null,
      el("caption", { class: "visually-hidden", text: "各欄位的顧客比例 Share of customers with each field" }),
      el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "欄位 Field" }), el("th", { scope: "col", text: "完整度計入 Counted" }),
        el("th", { scope: "col", class: "num", text: "已知 Known" }))), body));
    var dist = $("profile-distribution");
    clear(dist);
    var bands = p.distribution || {};
    dist.appendChild(el("p", { class: "muted", text: "分布 Spread: " + Object.keys(bands).map(function (k) { return k + " " + bands[k]; }).join(" · ") }));
  }

  /* The shop's own profile fields: listed, added and removed by an admin; agents fill them in. */
  var KINDS = { text: "文字 Text", number: "數字 Number", date: "日期 Date", choice: "選項 Choice" };

  function loadCustomFields() {
    var list = $("custom-field-list");
    api("GET", "/api/agent/custom-fields").then(function (found) {
      clear(list);
      (found || []).forEach(function (f) { ownFields["field:" + f.name] = f.label_zh + " · " + f.label_en; });
      document.querySelectorAll("#profile-fields tr[data-field]").forEach(function (row) {
        var name = row.getAttribute("data-field");
        if (ownFields[name]) row.querySelector("th").textContent = ownFields[name];
      });
      (found || []).forEach(function (f) {
        list.appendChild(el("li", { "data-field": f.name },
          el("strong", { text: f.label_zh + " " + f.label_en }),
          el("span", { class: "muted", text: " · " + f.name + " · " + label(KINDS, f.kind) +
            (f.choices.length ? " · " + f.choices.join(" / ") : "") + (f.wanted ? " · 計入完整度 counted" : "") + " " }),
          actionButton("刪除 Remove", f.name, { class: "danger", onclick: function () {
            confirmBox("刪除欄位「" + f.label_zh + "」和每位顧客的值？ Remove the field and every customer's value of it?", "刪除 Remove", true).then(function (ok) {
              if (!ok) return;
              api("DELETE", "/api/admin/custom-fields/" + encodeURIComponent(f.name)).then(function () {
                loadCustomFields();
              }, function (err) { $("cf-error").textContent = errorText(err); });
            });
          } })));
      });
      if (!(found || []).length) list.appendChild(el("li", { class: "muted", text: "還沒有自訂欄位。 No fields of the shop's own yet." }));
    }, function (err) { $("cf-error").textContent = errorText(err); });
  }

  $("custom-field-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("cf-error").textContent = "";
    api("POST", "/api/admin/custom-fields", {
      name: $("cf-name").value.trim(), label_zh: $("cf-label-zh").value.trim(), label_en: $("cf-label-en").value.trim(),
      kind: $("cf-kind").value, wanted: $("cf-wanted").checked,
      choices: $("cf-choices").value.split(/[,，]/).map(function (c) { return c.trim(); }).filter(Boolean)
    }).then(function () {
      $("custom-field-form").reset();
      loadCustomFields();
      loadDashboard(true);
    }, function (err) { $("cf-error").textContent = errorText(err); });
  });

  function drill(metric, what, params) {
    var section = $("drill");
    var list = $("drill-list");
    section.hidden = false;
    section.setAttribute("data-metric", metric);
    $("drill-what").textContent = "· " + what;
    $("drill-state").textContent = "載入中… Loading…";
    clear(list);
    $("drill-title").focus();
    section.scrollIntoView({ block: "start" });
    api("GET", "/api/admin/conversations" + query({ metric: metric, from: params.from, to: params.to, tag: params.tag, channel: params.channel })).then(function (found) {
      if (section.getAttribute("data-metric") !== metric) return;
      var rows = (found && found.conversations) || [];
      $("drill-state").textContent = rows.length + " 段對話 conversations";
      if (!rows.length) return;
      var withOrders = rows.some(function (c) { return c.orders; });
      var body = el("tbody");
      rows.forEach(function (c) {
        var orders = (c.orders || []).map(function (o) {
          return o.order_id.replace(/^[^:]*:/, "#") + " · " + when(o.placed_at) + (o.total ? " · " + o.total + " " + (o.currency || "") : "");
        });
        body.appendChild(el("tr", { "data-conversation-id": c.id },
          el("td", { text: when(c.started_at) }),
          el("td", { text: label(STATUSES, c.status) }),
          el("td", { text: [c.channel, c.customer_id].filter(Boolean).join(" · ") || "—" }),
          el("td", { text: shorten(c.first_message || "—", 80) }),
          el("td", { text: (c.tags || []).join(", ") || "—" }),
          withOrders ? el("td", { class: "orders", text: orders.join("; ") || "—" }) : null,
          el("td", null, actionButton("看對話 View", shorten(c.first_message || c.id, 40), {
            onclick: function () { openTranscript(c.id); } }))));
      });
      list.appendChild(el("table", null,
        el("caption", { class: "visually-hidden", text: "背後的對話 Conversations behind " + what }),
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: "開始 Started" }), el("th", { scope: "col", text: "狀態 Status" }),
          el("th", { scope: "col", text: "管道 Channel" }), el("th", { scope: "col", text: "第一則訊息 First message" }),
          el("th", { scope: "col", text: "標籤 Tags" }),
          withOrders ? el("th", { scope: "col", text: "之後的訂單 Orders after it" }) : null,
          el("th", { scope: "col", text: "對話 Transcript" }))),
        body));
    }, function (err) {
      $("drill-state").textContent = "";
      $("drill-state").appendChild(el("span", { class: "alert", text: errorText(err) }));
    });
  }

  function loadTags(params) {
    var select = $("dash-tag");
    api("GET", "/api/admin/tags" + query({ from: params.from, to: params.to })).then(function (found) {
      var chosen = select.value;
      while (select.options.length > 1) select.remove(1);
      ((found && found.tags) || []).forEach(function (t) {
        var option = el("option", { value: t.tag, text: t.tag + (isNumber(t.conversations) ? " (" + t.conversations + ")" : "") });
        select.appendChild(option);
      });
      if (chosen && !Array.prototype.some.call(select.options, function (o) { return o.value === chosen; })) {
        select.appendChild(el("option", { value: chosen, text: chosen }));
      }
      select.value = chosen;
    }, function () { /* without tags the dashboard still works unfiltered */ });
  }

  function loadDashboard(force) {
    zoneKnown.then(function () { showDashboard(force); });
  }

  function showDashboard(force) {
    defaultPeriod($("dash-from"), $("dash-to"));
    if (dashLoaded && !force) return;
    var params = { from: $("dash-from").value, to: $("dash-to").value, tag: $("dash-tag").value, channel: $("dash-channel").value };
    var problem = periodError(params.from, params.to);
    $("dash-error").textContent = problem || "";
    if (problem) return;
    dashLoaded = true;
    lastPeriod = params;
    $("export-csv").href = "/api/admin/metrics.csv" + query(params);
    $("export-xlsx").href = "/api/admin/metrics.xlsx" + query(params);
    $("audience-csv").href = "/api/admin/audience.csv" + query({ tag: params.tag, channel: params.channel });
    $("audience-xlsx").href = "/api/admin/audience.xlsx" + query({ tag: params.tag, channel: params.channel });
    if (!force || $("dash-tag").options.length <= 1) loadTags(params);
    var ask = ++dashAsked;
    $("dash-state").textContent = "載入中… Loading…";
    $("panel-dashboard").setAttribute("aria-busy", "true");
    api("GET", "/api/metrics" + query(params)).then(function (m) {
      if (ask !== dashAsked) return;
      m = m || {};
      $("dash-state").textContent = m.engaged_conversations
        ? params.from + " – " + params.to + (params.tag ? " · " + params.tag : "") + (params.channel ? " · " + params.channel : "") + " · " + m.engaged_conversations + " 段對話 conversations"
        : "此期間沒有資料。 No data for this period.";
      $("drill").hidden = true;
      renderCards(m, params);
      renderCharts(m, params);
      renderConversion(m, params);
      renderProfile(m);
      loadCustomFields();
      $("dash-body").setAttribute("data-loaded", params.from + "/" + params.to + "/" + (params.tag || "") + "/" + (params.channel || ""));
    }, function (err) {
      if (ask !== dashAsked) return;
      $("dash-state").textContent = "";
      $("dash-error").textContent = errorText(err);
    }).finally(function () { $("panel-dashboard").removeAttribute("aria-busy"); });
  }

  $("dash-form").addEventListener("submit", function (event) {
    event.preventDefault();
    loadDashboard(true);
  });

  // ---- unanswered questions ---------------------------------------------------------------

  function gapParams() {
    defaultPeriod($("gaps-from"), $("gaps-to"));
    return { from: $("gaps-from").value, to: $("gaps-to").value };
  }

  function loadGaps() {
    zoneKnown.then(showGaps);
  }

  function showGaps() {
    var params = gapParams();
    var problem = periodError(params.from, params.to);
    $("gaps-error").textContent = problem || "";
    if (problem) return;
    $("gaps-export").href = "/api/admin/gaps.xlsx" + query(params);
    $("gaps-state").textContent = "載入中… Loading…";
    var box = $("gaps");
    api("GET", "/api/admin/gaps" + query(params)).then(function (found) {
      sparks.forEach(function (chart) { chart.destroy(); });
      sparks = [];
      clear(box);
      var groups = ((found && found.groups) || []).slice().sort(function (a, b) {
        return String(b.last_seen || "").localeCompare(String(a.last_seen || ""));
      });
      $("gaps-state").textContent = groups.length
        ? groups.length + " 組問題 groups"
        : "此期間沒有答不出的問題。 No unanswered questions in this period.";
      groups.forEach(function (g) { box.appendChild(gapCard(g, params)); });
      groups.forEach(function (g) { sparkline(box.querySelector('[data-gap-id="' + CSS.escape(String(g.id)) + '"] .spark'), g, params); });
    }, function (err) {
      $("gaps-state").textContent = "";
      $("gaps-error").textContent = errorText(err);
    });
  }

  function gapCard(g, params) {
    var id = String(g.id);
    var reasons = g.reasons || {};
    var examples = el("ul", { class: "examples" });
    (g.examples || []).forEach(function (ex) {
      var item = el("li", null, el("span", { class: "text", text: ex.text || "" }),
        el("span", { class: "muted", text: " · " + when(ex.at) + (ex.reason ? " · " + label(GAP_REASONS, ex.reason) : "") + " " }));
      if (ex.conversation_id) {
        item.appendChild(actionButton("看對話 View", shorten(ex.text, 40), {
          class: "link", onclick: function () { openTranscript(ex.conversation_id); } }));
      }
      examples.appendChild(item);
    });
    var make = actionButton("做成知識草稿 Make a knowledge draft", g.label, { class: "primary" });
    var state = el("p", { class: "alert", role: "alert" });
    make.addEventListener("click", function () {
      make.disabled = true;
      state.textContent = "";
      api("POST", "/api/admin/gaps/" + encodeURIComponent(id) + "/draft" + query(params), {}).then(function (draft) {
        $("gaps-notice").textContent = "已建立草稿：" + shorten(draft && draft.question, 40) + "。 Draft created: write its answer and approve it.";
        focusDraft = draft && draft.id !== undefined ? String(draft.id) : null;
        $("drafts-status").value = "pending";
        showTab("drafts", false);
      }, function (err) {
        state.textContent = errorText(err);
        make.disabled = false;
      });
    });
    var weeks = (g.trend || []).map(function (t) { return t.week + " " + t.count; }).join(", ");
    return el("article", { class: "gap", "data-gap-id": id, "aria-labelledby": "gap-h-" + id },
      el("h3", { id: "gap-h-" + id, text: g.label || "—" }),
      el("div", { class: "spark", "data-weeks": weeks }),
      el("p", { class: "muted", text: "共 " + (g.count || 0) + " 次 times · " +
        "答不出 refused " + (reasons.refused || 0) + " · 給了相近內容 offered " + (reasons.offered || 0) +
        " · 轉接 handed off " + (reasons.handed_off || 0) +
        " · 首次 first seen " + when(g.first_seen) + " · 最近 last seen " + when(g.last_seen) }),
      examples,
      el("div", { class: "actions row" }, make),
      state);
  }

  /* "2026-W48", the ISO week of a UTC day (weeks start on Monday; week 1 holds a Thursday). */
  function isoWeek(day) {
    var d = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()));
    var weekday = d.getUTCDay() || 7;
    d.setUTCDate(d.getUTCDate() + 4 - weekday);
    var yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
    var week = Math.ceil(((d - yearStart) / 86400000 + 1) / 7);
    return d.getUTCFullYear() + "-W" + (week < 10 ? "0" : "") + week;
  }

  /* The group's weekly counts over every week of the period (at most the last 12), so one busy
   * week reads as a spike and not as a full box. */
  function weeksOf(trend, params) {
    var counts = {};
    trend.forEach(function (t) { counts[t.week] = (counts[t.week] || 0) + (t.count || 0); });
    var weeks = [];
    var d = new Date(params.from + "T00:00:00Z");
    var end = new Date(params.to + "T00:00:00Z");
    for (var guard = 0; d <= end && guard < 800; guard++) {
      var w = isoWeek(d);
      if (weeks.indexOf(w) < 0) weeks.push(w);
      d.setUTCDate(d.getUTCDate() + 1);
    }
    Object.keys(counts).forEach(function (w) { if (weeks.indexOf(w) < 0) weeks.push(w); });
    weeks.sort();
    return weeks.slice(-12).map(function (w) { return { week: w, count: counts[w] || 0 }; });
  }

  function sparkline(box, g, params) {
    if (!box) return;
    var trend = weeksOf(g.trend || [], params);
    var C = chartLibrary();
    if (!C) {
      box.appendChild(el("p", { class: "muted", text: "圖表程式庫沒有載入 The chart library did not load" }));
      return;
    }
    var canvas = el("canvas", { role: "img",
      "aria-label": "每週次數 Weekly counts: " + trend.map(function (t) { return t.week + " " + t.count; }).join(", ") });
    box.appendChild(canvas);
    var top = Math.max.apply(null, trend.map(function (t) { return t.count; }).concat([1]));
    sparks.push(new C(canvas, {
      type: "bar",
      data: { labels: trend.map(function (t) { return t.week; }),
        datasets: [{ label: "次數 Times", data: trend.map(function (t) { return t.count; }),
          backgroundColor: PALETTE[1], minBarLength: 1, barPercentage: 0.8, categoryPercentage: 0.9 }] },
      options: { responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true, suggestedMax: top } } }
    }));
    box.appendChild(el("p", { class: "spark-caption muted", text: "近 " + trend.length + " 週 · last " + trend.length + " weeks" }));
  }

  $("gaps-form").addEventListener("submit", function (event) {
    event.preventDefault();
    loadGaps();
  });

  // ---- users ------------------------------------------------------------------------------

  var ROLES = { agent: "客服人員 Agent", admin: "管理員 Admin" };

  function usersSaid(error, notice) {
    $("users-error").textContent = error || "";
    $("users-notice").textContent = notice || "";
  }

  function loadUsers() {
    return api("GET", "/api/admin/users").then(function (found) {
      var body = $("users");
      clear(body);
      ((found && found.users) || []).forEach(function (u) { body.appendChild(userRow(u)); });
    }, function (err) { usersSaid(errorText(err)); });
  }

  function changeUser(u, change, done) {
    return api("PATCH", "/api/admin/users/" + encodeURIComponent(u.username), change)
      .then(function () { usersSaid("", done); return loadUsers(); },
        function (err) { usersSaid(errorText(err)); });
  }

  function userRow(u) {
    var who = u.username + (me && me.username === u.username ? "（您 you）" : "");
    var nameInput = el("input", { value: u.display_name, maxlength: "120",
      "aria-label": "顯示名稱 Display name: " + u.username });
    var roleSelect = el("select", { "aria-label": "角色 Role: " + u.username },
      el("option", { value: "agent", text: ROLES.agent }),
      el("option", { value: "admin", text: ROLES.admin }));
    roleSelect.value = u.role;
    var save = el("button", { type: "button", "data-user": u.username, text: "儲存 Save",
      onclick: function () {
        changeUser(u, { display_name: nameInput.value, role: roleSelect.value },
          "已更新 " + u.username + " · Saved");
      } });
    var newPassword = el("input", { type: "password", minlength: "10", maxlength: "1024",
      autocomplete: "new-password", placeholder: "新密碼 New password",
      "aria-label": "新密碼（至少 10 字元） New password (10+ characters): " + u.username });
    var reset = el("button", { type: "button", text: "重設密碼 Reset password",
      onclick: function () {
        if (!newPassword.value) { newPassword.focus(); return; }
        changeUser(u, { password: newPassword.value }, "密碼已重設 · Password reset: " + u.username);
      } });
    var toggle = el("button", { type: "button", class: u.active ? "danger" : "",
      text: u.active ? "停用 Deactivate" : "重新啟用 Reactivate",
      onclick: function () {
        if (!u.active) {
          changeUser(u, { active: true }, "已啟用 · Reactivated: " + u.username);
          return;
        }
        confirmBox("停用 " + u.username + "？對方會立即登出。 Deactivate " + u.username +
          "? They are logged out at once.", "停用 Deactivate", true).then(function (ok) {
          if (!ok) return;
          api("DELETE", "/api/admin/users/" + encodeURIComponent(u.username)).then(function () {
            usersSaid("", "已停用 · Deactivated: " + u.username);
            return loadUsers();
          }, function (err) { usersSaid(errorText(err)); });
        });
      } });
    return el("tr", { "data-user": u.username },
      el("td", { text: who }),
      el("td", null, nameInput),
      el("td", null, roleSelect),
      el("td", { text: u.active ? "啟用 Active" : "已停用 Deactivated" }),
      el("td", null, save, " ", newPassword, " ", reset, " ", toggle));
  }

  $("user-add-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {
      username: $("user-username").value.trim(),
      display_name: $("user-display").value,
      role: $("user-role").value,
      password: $("user-password").value
    };
    api("POST", "/api/admin/users", body).then(function (added) {
      $("user-add-form").reset();
      usersSaid("", "已新增 · Added: " + added.username);
      return loadUsers();
    }, function (err) { usersSaid(errorText(err)); });
  });

  // ---- widget branding ----------------------------------------------------------------------

  var COLOUR = /^#[0-9a-f]{6}$/;

  function brandFromForm() {
    return {
      name: { zh: $("brand-name-zh").value, en: $("brand-name-en").value },
      greeting: { zh: $("brand-greeting-zh").value, en: $("brand-greeting-en").value },
      primary_colour: $("brand-colour").value.toLowerCase(),
      logo_url: $("brand-logo").value.trim() || null,
      position: $("brand-position").value
    };
  }

  function preview() {
    var b = brandFromForm();
    var colour = COLOUR.test(b.primary_colour) ? b.primary_colour : "#0b5cad";
    $("preview-head").style.background = colour;
    $("preview-launcher").style.background = colour;
    $("preview-launcher").style.left = b.position === "left" ? "12px" : "";
    $("preview-launcher").style.right = b.position === "left" ? "" : "12px";
    $("preview-name").textContent = b.name.zh;
    $("preview-greeting").textContent = b.greeting.zh;
    var logo = $("preview-logo");
    clear(logo);
    if (b.logo_url && /^https?:\/\//i.test(b.logo_url)) logo.appendChild(el("img", { src: b.logo_url, alt: "" }));
  }

  function showBranding(b) {
    $("brand-name-zh").value = b.name.zh;
    $("brand-name-en").value = b.name.en;
    $("brand-greeting-zh").value = b.greeting.zh;
    $("brand-greeting-en").value = b.greeting.en;
    $("brand-colour").value = b.primary_colour;
    $("brand-logo").value = b.logo_url || "";
    $("brand-position").value = b.position;
    preview();
  }

  function loadBranding() {
    return api("GET", "/api/admin/widget").then(showBranding,
      function (err) { $("brand-error").textContent = errorText(err); });
  }

  $("brand-form").addEventListener("input", preview);
  $("brand-form").addEventListener("change", preview);
  $("brand-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("brand-error").textContent = "";
    $("brand-notice").textContent = "";
    api("PUT", "/api/admin/widget", brandFromForm()).then(function (saved) {
      showBranding(saved);
      $("brand-notice").textContent = "已儲存，客服視窗下次載入時套用 · Saved: the widget shows it on its next load";
    }, function (err) { $("brand-error").textContent = errorText(err); });
  });

  // ---- start ------------------------------------------------------------------------------

  api("GET", "/api/auth/me").then(start, function (err) {
    showLogin(err.code === "session_expired" ? errorText(err) : "");
  });
})();
