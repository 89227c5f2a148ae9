/* kefu staff pages (the agents' console and the admin pages): what both share. DOM building
 * with text only (nothing from the API or a customer is parsed as HTML), dates, the API call
 * with its errors, and the labels of triggers, statuses and decisions.
 *
 * Error texts are the API's own: every error body carries `messages` in zh-TW and English
 * (bot/answering/texts.py); the pages show both and never keep a copy of their wording.
 */
(function () {
  "use strict";

  // The gate's triggers (handoff/gate.py) and the widget's button; others show as they come.
  var TRIGGERS = {
    customer_request: "客戶按下轉接 · Customer pressed “talk to a person”",
    explicit_request: "客戶要求真人 · Customer asked for a person",
    sensitive_topic: "敏感主題 · Sensitive topic",
    negative_sentiment: "客戶情緒激動 · Upset customer",
    sentiment_worsening: "情緒越來越差 · Mood getting worse",
    upset_not_helped: "客戶不滿且機器人無法回答 · Upset, and the bot could not answer",
    complex_question: "複雜問題 · Complex question",
    long_message: "長訊息 · Long message",
    repeated_refusals: "機器人多次答不出 · Bot refused repeatedly",
    rephrased_question: "客戶換句話再問 · Customer rephrased"
  };
  var STATUSES = {
    bot: "機器人 · Bot",
    waiting: "等候中 · Waiting",
    with_agent: "專人處理中 · With an agent",
    resolved: "已結案 · Resolved"
  };
  var DECISIONS = {
    answered: "已回答 · answered",
    clarifying: "請客戶釐清 · clarifying",
    refused: "答不出 · refused",
    handed_off: "轉接真人 · handed off"
  };

  // The customer profile's fields (bot/customers/profile.py); the shop's own are field:<name>.
  var PROFILE_FIELDS = {
    display_name: "名稱 · Display name",
    channels: "管道 · Channels",
    languages: "使用語言 · Languages",
    tags: "標籤 · Tags",
    topics: "詢問主題 · Topics asked",
    satisfaction: "滿意度 · Satisfaction",
    first_contact: "首次聯絡 · First contact",
    last_contact: "最近聯絡 · Last contact",
    preferred_channel: "常用管道 · Preferred channel",
    email: "Email · E-mail",
    phone: "電話 · Phone",
    verified_email: "已驗證 Email · Verified e-mail",
    verified_phone: "已驗證電話 · Verified phone",
    marketing_consent: "行銷同意 · Marketing consent"
  };
  // Where a contact point or a consent came from (bot/customers/contacts.py, consent.py).
  var SOURCES = {
    signed_customer_id: "商店簽署的顧客編號 · the shop's signed customer id",
    order_match: "顧客證明的訂單 · an order the customer proved",
    self_reported: "顧客自述 · self-reported",
    conversation: "對話中 · in a conversation",
    shop_form: "商店表單 · the shop's form",
    email: "Email",
    phone: "電話 · phone",
    in_store: "門市 · in store",
    privacy_request: "個資請求 · privacy request"
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
        var value = attrs[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === "text") node.textContent = value;
        else if (name === "onclick") node.addEventListener("click", value);
        else node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) { node.textContent = ""; }

  function label(map, key) { return (key && map[key]) || key || "—"; }

  /* A date and time as people in Taiwan write it; `empty` when there is none. */
  function when(iso, empty) {
    if (!iso) return empty === undefined ? "—" : empty;
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString("zh-TW", { hour12: false });
  }

  function time(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString("zh-TW", { hour12: false, hour: "2-digit", minute: "2-digit" });
  }

  function shorten(text, limit) {
    text = String(text || "").replace(/\s+/g, " ").trim();
    return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
  }

  function ApiError(status, body) {
    this.status = status;
    this.code = (body && body.code) || (status === 413 ? "file_too_large" : null);
    this.messages = body && body.messages;
    this.details = (body && (body.details || body.detail)) || null;
    this.message = (body && typeof body.message === "string" && body.message) || ("HTTP " + status);
  }

  /* Both languages of an error: the API's texts when it sent them. */
  function errorText(err) {
    if (err && err.messages && (err.messages.zh || err.messages.en)) {
      var zh = err.messages.zh || "";
      var en = err.messages.en || "";
      return zh && en && zh !== en ? zh + " / " + en : zh || en;
    }
    if (err instanceof TypeError) return "連不上伺服器。 / Could not reach the server.";
    if (err instanceof ApiError) return err.message + (err.code ? " (" + err.code + ")" : "");
    return "發生錯誤 / Something went wrong: " + ((err && (err.code || err.message)) || err);
  }

  // What a page does when the API says its session is gone (401) or its user may not (403).
  var on = { unauthorized: null, forbidden: null };

  /* fetch, JSON in and out. `body` is sent as JSON, or as is when it is FormData or a file
   * (a Blob: its bytes are the body). */
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body instanceof Blob) {
      init.headers["Content-Type"] = "application/octet-stream";
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      if (response.status === 204) return null;
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var err = new ApiError(response.status, data);
          if (response.status === 401 && path !== "/api/auth/login") {
            if (on.unauthorized) on.unauthorized(err);
          } else if (response.status === 403 && err.code !== "not_assignee") {
            if (on.forbidden) on.forbidden(err);
          }
          throw err;
        }
        return data;
      });
    });
  }

  window.kefuStaff = {
    TRIGGERS: TRIGGERS,
    STATUSES: STATUSES,
    DECISIONS: DECISIONS,
    PROFILE_FIELDS: PROFILE_FIELDS,
    SOURCES: SOURCES,
    $: $,
    el: el,
    clear: clear,
    label: label,
    when: when,
    time: time,
    shorten: shorten,
    ApiError: ApiError,
    errorText: errorText,
    api: api,
    on: on
  };
})();
