/* kefu customer widget: a chat launcher and panel that any web page can embed.
 *
 *   <script src="https://kefu.example.tw/widget.js" data-kefu-lang="zh" defer></script>
 *
 * Attributes (all optional): data-kefu-lang ("zh" or "en"; else the browser's language),
 * data-kefu-customer-id (the shop's own id of a logged-in customer) with
 * data-kefu-customer-id-signature (its HMAC-SHA256, made by the shop's server; without it the
 * id is only a hint), data-kefu-channel ("web" unless told). The API is wherever this script
 * was loaded from.
 *
 * Starting a conversation returns its customer token, the only key to it: it is kept in
 * localStorage next to the conversation's id and sent with every call (the stream: ?token=).
 * The first message, from the server's settings, says that an AI assistant answers, that a
 * person is always available, and links the shop's privacy notice.
 *
 * The transcript is drawn from the conversation's event log only, de-duplicated by seq: the
 * transcript fetched on load, the WebSocket stream and the catch-up after each request all
 * feed the same function, so a reload or a reconnect never shows a message twice. Text from
 * customers, the bot and agents is only ever set with textContent.
 */
(function () {
  "use strict";
  if (window.kefuWidget) return; // the script tag was included twice

  var script =
    document.currentScript || document.querySelector('script[src*="widget.js"]');
  var scriptUrl = new URL(script ? script.src : "/widget.js", location.href);
  var BASE = scriptUrl.href.replace(/\/widget\.js(?:[?#].*)?$/, "");
  var WS_BASE = BASE.replace(/^http/, "ws");
  var options = (script && script.dataset) || {};
  var STORE_KEY = "kefu:conversation:" + BASE;
  var LANG_KEY = "kefu:lang";
  var OPEN_KEY = "kefu:open:" + BASE;
  var TYPING_EVERY_MS = 2500; // at most one typing signal per this long
  var TYPING_SHOWN_MS = 5000; // the agent's typing indicator fades after this long
  // The stream sends a wake-up's events before its signals, so the typing that preceded a
  // reply can arrive just after it: typing this soon after the agent's reply is stale.
  var TYPING_STALE_MS = 1500;
  var MAX_BACKOFF_MS = 30000;

  // ---- texts ------------------------------------------------------------------------------

  var TEXTS = {
    zh: {
      title: "線上客服",
      subtitle: "好日子客服中心",
      open: "開啟線上客服",
      close: "關閉客服視窗",
      switchLang: "Switch to English",
      langButton: "EN",
      newChat: "重新開始",
      newChatLabel: "開始新的對話",
      greeting: "您好！我是 AI 客服助理，需要真人協助時，請按「轉接真人客服」。",
      inputLabel: "輸入訊息",
      keys: "按 Enter 送出，Shift+Enter 換行。",
      placeholder: "請輸入您的問題…",
      send: "送出",
      talk: "轉接真人客服",
      talkRequested: "已請求轉接真人客服",
      link: "連結 LINE",
      linkLabel: "把這段對話和您在 LINE 或 Messenger 的帳號連結",
      linkCode: function (code) { return "請在我們的 LINE 或 Messenger 傳送這個代碼：" + code + "（10 分鐘內有效）。連結後，客服人員能看到您在各管道的對話。"; },
      linked: "已完成連結，客服人員現在能看到您在各管道的對話紀錄。",
      link_wrong_code: "這個連結碼不正確或已過期，請重新取得一組新的連結碼。",
      link_same_customer: "這兩個帳號已經連結過了。",
      link_too_many_tries: "嘗試太多次了，請稍後再試。",
      copy: "下載對話紀錄",
      copyLabel: "下載這段對話的紀錄（文字檔）",
      you: "您",
      bot: "客服小幫手",
      agent: function (name) { return name ? "專人 " + name : "客服專人"; },
      sources: "資料來源",
      helpfulQuestion: "這個回答有幫助嗎？",
      helpful: "有幫助",
      notHelpful: "沒幫助",
      feedbackThanks: "謝謝您的回饋！",
      queued: function (n) {
        return n ? "已為您轉接專人，目前排第 " + n + " 位" : "已為您轉接專人，請稍候";
      },
      inQueue: "已為您轉接真人客服",
      joined: function (name) { return "專人 " + (name || "") + " 已加入對話"; },
      withAgent: function (name) { return "正在與專人 " + (name || "") + " 對話"; },
      backToBot: "已回到線上客服小幫手，您可以繼續提問。",
      resolved: "專人已結束這次對話",
      typing: function (name) { return (name || "客服專人") + " 正在輸入…"; },
      sending: "傳送中…",
      sent: "已送出",
      notSent: "未送出",
      personWillReply: "專人會在這裡回覆您",
      surveyTitle: "請為這次服務評分",
      csat: "整體而言，您對這次服務滿意嗎？",
      csatLow: "非常不滿意",
      csatHigh: "非常滿意",
      ces: "這次取得協助有多容易？",
      cesLow: "非常困難",
      cesHigh: "非常容易",
      comment: "其他意見（選填）",
      surveySend: "送出評分",
      surveyNeeds: "請選擇兩題的分數後再送出。",
      surveyThanks: "感謝您的評分！祝您有美好的一天。",
      surveyAnswered: function (csat, ces) {
        return "您的評分：滿意度 " + csat + "/5，容易程度 " + ces + "/7";
      },
      error: "連線發生問題，請稍後再試。",
      reconnecting: "連線中斷，正在重新連線…",
      unread: function (n) { return n + " 則新訊息"; },
      keepAsking: "繼續問機器人",
      leaveMessage: "留下訊息",
      offlineTitle: "留言給客服人員",
      offlineText: "您的訊息",
      offlineEmail: "電子郵件",
      offlinePhone: "電話",
      offlineContact: "請至少留下電子郵件或電話其中一項，客服人員回來後會回覆您。",
      offlineSend: "送出留言",
      offlineNeedsText: "請輸入您的訊息。",
      offlineNeedsContact: "請留下電子郵件或電話，客服人員才能回覆您。",
      offlineBadEmail: "電子郵件的格式不正確。",
      offlineBadPhone: "電話號碼的格式不正確（請輸入 8 到 15 位數字）。",
      offlineLeft: function (contact) { return "已留言 · 客服人員回來後會回覆您（" + contact + "）"; },
      attach: "傳送圖片",
      attachLabel: "傳送圖片（JPEG、PNG、GIF 或 WebP）",
      picture: "圖片",
      openPicture: "開啟原圖",
      sendingPicture: "圖片傳送中…",
      pictureNotShown: "圖片無法顯示",
      pictureForPerson: "已收到圖片。AI 助理看不懂圖片，需要專人查看請按「轉接真人客服」。"
    },
    en: {
      title: "Customer service",
      subtitle: "Good Days help desk",
      open: "Open the customer service chat",
      close: "Close the chat",
      switchLang: "切換為中文",
      langButton: "中文",
      newChat: "New chat",
      newChatLabel: "Start a new conversation",
      greeting: "Hello! I'm an AI assistant. A person is always available: press “Talk to a person”.",
      inputLabel: "Your message",
      keys: "Enter sends; Shift+Enter starts a new line.",
      placeholder: "Type your question…",
      send: "Send",
      talk: "Talk to a person",
      talkRequested: "A person has been requested",
      link: "Link LINE",
      linkLabel: "Link this conversation with your LINE or Messenger account",
      linkCode: function (code) { return "Send this code to us on LINE or Messenger: " + code + " (valid for 10 minutes). Once linked, our agents see your conversations on every channel."; },
      linked: "Linked: our agents now see your conversations on every channel.",
      link_wrong_code: "This linking code is wrong or has expired; please get a new one.",
      link_same_customer: "These two are linked already.",
      link_too_many_tries: "Too many tries; please try again later.",
      copy: "Download",
      copyLabel: "Download this conversation (a text file)",
      you: "You",
      bot: "Assistant",
      agent: function (name) { return name || "Agent"; },
      sources: "Sources",
      helpfulQuestion: "Did this answer help?",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      feedbackThanks: "Thank you for your feedback!",
      queued: function (n) {
        return n
          ? "You're connected to the queue — you are number " + n
          : "You're connected to the queue for a person";
      },
      inQueue: "You're in the queue for a person",
      joined: function (name) { return (name || "An agent") + " joined"; },
      withAgent: function (name) { return "You're chatting with " + (name || "an agent"); },
      backToBot: "You're back with the virtual assistant; ask away.",
      resolved: "The agent has closed this conversation",
      typing: function (name) { return (name || "The agent") + " is typing…"; },
      sending: "Sending…",
      sent: "Sent",
      notSent: "Not sent",
      personWillReply: "A person will reply here",
      surveyTitle: "How did we do?",
      csat: "Overall, how satisfied are you with the help you got?",
      csatLow: "Very dissatisfied",
      csatHigh: "Very satisfied",
      ces: "How easy was it to get help?",
      cesLow: "Very difficult",
      cesHigh: "Very easy",
      comment: "Anything else? (optional)",
      surveySend: "Send rating",
      surveyNeeds: "Please choose a score for both questions.",
      surveyThanks: "Thank you for your rating! Have a nice day.",
      surveyAnswered: function (csat, ces) {
        return "Your rating: satisfaction " + csat + "/5, ease " + ces + "/7";
      },
      error: "Something went wrong. Please try again.",
      reconnecting: "Connection lost, reconnecting…",
      unread: function (n) { return n === 1 ? "1 new message" : n + " new messages"; },
      keepAsking: "Keep asking the bot",
      leaveMessage: "Leave a message",
      offlineTitle: "Leave a message for our team",
      offlineText: "Your message",
      offlineEmail: "Email",
      offlinePhone: "Phone",
      offlineContact: "Leave at least an email or a phone number; a person will reply when they're back.",
      offlineSend: "Send message",
      offlineNeedsText: "Please type your message.",
      offlineNeedsContact: "Please leave an email or a phone number so that a person can reply.",
      offlineBadEmail: "That email address doesn't look right.",
      offlineBadPhone: "That phone number doesn't look right (8 to 15 digits).",
      offlineLeft: function (contact) { return "Message left · a person will reply when they're back (" + contact + ")"; },
      attach: "Picture",
      attachLabel: "Send a picture (JPEG, PNG, GIF or WebP)",
      picture: "Picture",
      openPicture: "Open full size",
      sendingPicture: "Sending the picture…",
      pictureNotShown: "The picture can't be shown",
      pictureForPerson: "Picture received. The assistant can't read pictures; press “Talk to a person” to have someone look at it."
    }
  };

  function pickLanguage() {
    var stored = null;
    try { stored = localStorage.getItem(LANG_KEY); } catch (e) { /* storage blocked */ }
    if (stored === "zh" || stored === "en") return stored;
    var given = (options.kefuLang || "").toLowerCase();
    if (given.indexOf("zh") === 0) return "zh";
    if (given.indexOf("en") === 0) return "en";
    return (navigator.language || "zh").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  }

  var lang = pickLanguage();
  function t(key) { return TEXTS[lang][key]; }

  // ---- storage ----------------------------------------------------------------------------

  function loadSaved() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      // a conversation saved without its token cannot be opened any more
      if (saved && typeof saved.id === "string" && typeof saved.token === "string") return saved;
    } catch (e) { /* storage blocked or garbage */ }
    return null;
  }

  function save() {
    try {
      if (conversationId) {
        localStorage.setItem(STORE_KEY, JSON.stringify({
          id: conversationId, token: customerToken, seq: lastSeq
        }));
      } else {
        localStorage.removeItem(STORE_KEY);
      }
    } catch (e) { /* the widget still works for this page view */ }
    copyButton.hidden = !conversationId;
    linkButton.hidden = !conversationId;
  }

  function rememberOpen(open) {
    try { sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* ignore */ }
  }

  function wasOpen() {
    try { return sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { return false; }
  }

  // ---- DOM helpers (text only: never innerHTML) --------------------------------------------

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

  var uid = 0;
  function newId(prefix) { uid += 1; return "kefu-" + prefix + "-" + uid; }

  // ---- the shadow DOM ---------------------------------------------------------------------

  var CSS = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; }",
    ".root { font-family: system-ui, -apple-system, 'Noto Sans TC', 'PingFang TC',",
    "  'Microsoft JhengHei', sans-serif; font-size: 15px; line-height: 1.5; color: #1a1a1a; }",
    "button, input, textarea { font: inherit; }",
    ":focus-visible { outline: 3px solid var(--kefu-primary); outline-offset: 2px; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483646;",
    "  display: flex; align-items: center; gap: 8px; padding: 12px 18px; border: 0;",
    "  border-radius: 999px; background: var(--kefu-primary); color: #fff; font-weight: 600;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; }",
    ".launcher:hover { background: var(--kefu-primary-dark); }",
    ".launcher:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 3px; }",
    ".badge { min-width: 22px; padding: 0 6px; border-radius: 999px; background: #fff;",
    "  color: var(--kefu-primary); font-size: 13px; text-align: center; }",
    ".panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483647;",
    "  width: 380px; max-width: calc(100vw - 24px); height: 600px;",
    "  max-height: calc(100vh - 40px); display: flex; flex-direction: column;",
    "  background: #fff; border: 1px solid #c4c9d0; border-radius: 14px; overflow: hidden;",
    "  box-shadow: 0 10px 40px rgba(0,0,0,.3); }",
    ".panel[hidden], .launcher[hidden], [hidden] { display: none !important; }",
    "@media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; max-width: 100vw;",
    "  height: 100vh; max-height: 100vh; border-radius: 0; } }",
    ".head { display: flex; align-items: center; gap: 6px; padding: 10px 12px;",
    "  background: var(--kefu-primary); color: #fff; }",
    ".head h2 { flex: 1; margin: 0; font-size: 16px; line-height: 1.2; }",
    ".head h2 small { display: block; font-size: 12px; font-weight: 400; color: #e3ecf7; }",
    ".head button { border: 1px solid #fff; background: transparent; color: #fff;",
    "  border-radius: 6px; padding: 4px 8px; cursor: pointer; font-size: 13px; }",
    ".head button:hover { background: var(--kefu-primary-dark); }",
    ".head button:focus-visible { outline: 3px solid #fff; outline-offset: 1px; }",
    ".bar { display: flex; gap: 8px; align-items: center; padding: 8px 12px;",
    "  border-bottom: 1px solid #dde1e6; background: #f7f9fb; }",
    ".status { flex: 1; margin: 0; font-size: 14px; color: #1a1a1a; }",
    ".talk { border: 1px solid var(--kefu-primary); background: #fff; color: var(--kefu-primary); border-radius: 6px;",
    "  padding: 5px 10px; cursor: pointer; font-size: 14px; white-space: nowrap; }",
    ".talk:hover:not(:disabled) { background: #e8f0fb; }",
    ".talk:disabled { border-color: #8a9099; color: #4a4f57; cursor: default; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; }",
    ".log:focus-visible { outline-offset: -3px; }",
    ".items { margin: 0; padding: 0; list-style: none; }",
    ".msg { margin: 0 0 12px; max-width: 88%; padding: 8px 11px; border-radius: 12px;",
    "  white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg .who { display: block; font-size: 12px; font-weight: 600; color: #3d434b;",
    "  margin-bottom: 2px; }",
    ".customer { margin-left: auto; background: var(--kefu-primary); color: #fff; }",
    ".customer .who { color: #e3ecf7; }",
    ".customer .meta { color: #e3ecf7; }",
    ".customer.failed { background: #8b1a1a; }",
    ".bot { background: #f1f3f5; }",
    ".bot.refused { border-left: 4px solid #b35c00; }",
    ".agent { background: #e6f4ea; border-left: 4px solid #1e7a3c; }",
    ".system { max-width: 100%; text-align: center; font-size: 13px; color: #3d434b;",
    "  background: transparent; padding: 2px 8px; }",
    ".notice .privacy { display: block; margin-top: 4px; color: var(--kefu-primary); }",
    ".meta { display: block; font-size: 12px; color: #3d434b; margin-top: 4px;",
    "  white-space: normal; }",
    ".cites { margin: 8px 0 0; padding: 6px 8px; background: #fff; border-radius: 8px;",
    "  border: 1px solid #dde1e6; white-space: normal; }",
    ".cites p { margin: 0 0 4px; font-size: 12px; font-weight: 600; color: #3d434b; }",
    ".cites ul { margin: 0; padding: 0; list-style: none; }",
    ".cites li + li { margin-top: 6px; }",
    ".cite-label { display: block; font-size: 13px; font-weight: 600; color: var(--kefu-primary); }",
    "a.cite-label { text-decoration: underline; }",
    ".actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px;",
    "  white-space: normal; }",
    ".actions button, .survey .send { border: 1px solid var(--kefu-primary); background: #fff;",
    "  color: var(--kefu-primary); border-radius: 999px; padding: 4px 12px; cursor: pointer;",
    "  font-size: 14px; text-align: left; }",
    ".actions button:hover:not(:disabled) { background: #e8f0fb; }",
    ".actions button:disabled { border-color: #8a9099; color: #4a4f57; cursor: default; }",
    ".actions button[aria-pressed=true] { background: var(--kefu-primary); color: #fff;",
    "  border-color: var(--kefu-primary); }",
    ".feedback-label { font-size: 12px; color: #3d434b; width: 100%; }",
    ".survey { max-width: 100%; background: #fffbea; border: 1px solid #c9a400;",
    "  white-space: normal; }",
    ".survey h3 { margin: 0 0 6px; font-size: 15px; }",
    ".survey fieldset { border: 0; margin: 0 0 10px; padding: 0; }",
    ".survey legend { font-weight: 600; font-size: 14px; margin-bottom: 4px; padding: 0; }",
    ".scale { display: flex; gap: 4px; flex-wrap: wrap; }",
    ".scale label { position: relative; }",
    ".scale input { position: absolute; opacity: 0; width: 100%; height: 100%; margin: 0;",
    "  cursor: pointer; }",
    ".scale span { display: inline-block; min-width: 34px; padding: 5px 0; text-align: center;",
    "  border: 1px solid #5f6670; border-radius: 6px; background: #fff; }",
    ".scale input:checked + span { background: var(--kefu-primary); color: #fff; border-color: var(--kefu-primary); }",
    ".scale input:focus-visible + span { outline: 3px solid var(--kefu-primary); outline-offset: 2px; }",
    ".ends { display: flex; justify-content: space-between; font-size: 12px; color: #3d434b; }",
    ".survey textarea { width: 100%; min-height: 48px; padding: 6px;",
    "  border: 1px solid #5f6670; border-radius: 6px; }",
    ".survey .send { background: var(--kefu-primary); color: #fff; margin-top: 6px; }",
    ".survey .problem { color: #8b1a1a; font-size: 13px; margin: 4px 0 0; }",
    ".typing { min-height: 20px; margin: 0; padding: 0 12px; font-size: 13px;",
    "  color: #3d434b; font-style: italic; }",
    "form.compose { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #dde1e6; }",
    "form.compose textarea { flex: 1; resize: none; height: 44px; max-height: 120px;",
    "  padding: 9px 10px; border: 1px solid #5f6670; border-radius: 8px; color: #1a1a1a; }",
    "form.compose textarea::placeholder { color: #5f6670; }",
    "form.compose button { border: 0; border-radius: 8px; background: var(--kefu-primary); color: #fff;",
    "  padding: 0 16px; cursor: pointer; font-weight: 600; }",
    "form.compose button:hover { background: var(--kefu-primary-dark); }",
    ".keep-asking { border: 1px solid #1e7a3c; background: #fff; color: #1e7a3c;",
    "  border-radius: 6px; padding: 5px 10px; cursor: pointer; font-size: 14px;",
    "  white-space: nowrap; }",
    ".keep-asking:hover:not(:disabled) { background: #e6f4ea; }",
    ".offline { max-width: 100%; background: #f4f8ff; border: 1px solid var(--kefu-primary);",
    "  white-space: normal; }",
    ".offline h3 { margin: 0 0 6px; font-size: 15px; }",
    ".offline label { display: block; font-size: 13px; font-weight: 600; margin-top: 6px; }",
    ".offline textarea, .offline input { width: 100%; padding: 6px; border: 1px solid #5f6670;",
    "  border-radius: 6px; }",
    ".offline .hint { font-size: 12px; color: #3d434b; margin: 6px 0 0; }",
    ".offline .problem { color: #8b1a1a; font-size: 13px; margin: 4px 0 0; }",
    ".offline .send { margin-top: 8px; border: 0; border-radius: 999px; background: var(--kefu-primary);",
    "  color: #fff; padding: 5px 14px; cursor: pointer; }",
    ".root { --kefu-primary: #0b5cad; --kefu-primary-dark: #094c8f; }",
    ".root.left .launcher, .root.left .panel { right: auto; left: 20px; }",
    "@media (max-width: 480px) { .root.left .panel { left: 0; } }",
    ".head .logo { width: 28px; height: 28px; object-fit: contain; background: #fff;",
    "  border-radius: 4px; margin-right: 8px; }",
    "form.compose .attach { background: #fff; color: var(--kefu-primary); padding: 0 10px;",
    "  border: 1px solid var(--kefu-primary); font-weight: 400; }",
    "form.compose .attach:hover { background: #e8f0fb; }",
    ".msg.picture { white-space: normal; }",
    ".msg.picture img { display: block; max-width: 220px; max-height: 220px; border-radius: 8px;",
    "  background: #fff; }",
    ".msg.picture a { display: block; margin-top: 4px; font-size: 12px; color: inherit; }",
    ".visually-hidden { position: absolute !important; width: 1px; height: 1px;",
    "  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }"
  ].join("\n");

  var host = el("div", { id: "kefu-widget", "data-kefu": "widget" });
  var shadow = host.attachShadow({ mode: "open" });
  shadow.appendChild(el("style", { text: CSS }));

  var launcherLabel = el("span");
  var badge = el("span", { class: "badge", hidden: true });
  var launcher = el("button", {
    type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "kefu-panel"
  }, el("span", { "aria-hidden": "true", text: "💬" }), launcherLabel, badge);

  var titleText = el("span");
  var subtitle = el("small");
  var titleId = newId("title");
  var langButton = el("button", { type: "button", class: "lang" });
  var newChatButton = el("button", { type: "button", class: "new-chat" });
  var copyButton = el("button", { type: "button", class: "copy", "data-kefu": "copy" });
  var linkButton = el("button", { type: "button", class: "link", "data-kefu": "link" });
  var closeButton = el("button", { type: "button", class: "close" },
    el("span", { "aria-hidden": "true", text: "✕" }));
  var logo = null; // the shop's logo, only once one is configured
  var header = el("div", { class: "head" },
    el("h2", { id: titleId }, titleText, subtitle), langButton, linkButton, copyButton, newChatButton, closeButton);

  var statusLine = el("p", { class: "status", role: "status" });
  var talkButton = el("button", { type: "button", class: "talk", "data-kefu": "talk" });
  var botButton = el("button", {
    type: "button", class: "keep-asking", "data-kefu": "keep-asking", hidden: true
  });
  var bar = el("div", { class: "bar" }, statusLine, botButton, talkButton);

  // role=log is not allowed on a list: the list sits in a focusable (scrollable by keys) log
  var log = el("ol", { class: "items" });
  var logBox = el("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0"
  }, log);
  var typingLine = el("p", { class: "typing", role: "status" });

  var inputId = newId("input");
  var inputLabel = el("label", { for: inputId, class: "visually-hidden" });
  var keysId = newId("keys");
  var keysHint = el("span", { id: keysId, class: "visually-hidden" });
  var input = el("textarea", {
    id: inputId, rows: "1", autocomplete: "off", maxlength: "4000", "aria-describedby": keysId
  });
  var sendButton = el("button", { type: "submit" });
  // the type is checked on the server from the bytes; `accept` only narrows the picker
  var fileInput = el("input", {
    type: "file", accept: "image/jpeg,image/png,image/gif,image/webp", hidden: true,
    "data-kefu": "picture-file", tabindex: "-1"
  });
  var attachButton = el("button", { type: "button", class: "attach", "data-kefu": "attach" });
  var compose = el("form", { class: "compose" }, inputLabel, keysHint, input, fileInput,
    attachButton, sendButton);

  var panel = el("div", {
    id: "kefu-panel", class: "panel", role: "dialog", "aria-labelledby": titleId, hidden: true
  }, header, bar, logBox, typingLine, compose);

  var root = el("div", { class: "root" }, launcher, panel);
  shadow.appendChild(root);

  // ---- state ------------------------------------------------------------------------------

  var saved = loadSaved();
  var conversationId = saved ? saved.id : null;
  var customerToken = saved ? saved.token : null; // the conversation's key: sent, never shown
  var notice = null; // the first message from the server's settings, once fetched
  var branding = null; // the shop's name and greeting per language, once fetched
  var lastSeq = 0; // the highest seq shown
  var events = []; // every event shown, in seq order
  var seen = {}; // seq -> true
  var delivered = {}; // seq of a customer message the server said went to a person
  var pending = []; // messages sent but not yet back from the log: [{text, li}]
  var state; // what the events so far say; rebuilt from the events on a full redraw
  var turnItems = {}; // seq of a bot turn -> its <li>
  var messageItems = {}; // seq of a customer message -> its <li>
  var surveyItem = null;
  var offlineItem = null; // the open "leave a message" form
  var queuePosition = null; // from signals and the conversation; the events say when
  var agentName = null;
  var unread = 0;
  var loading = false; // the first transcript is drawn: no unread count for it
  var socket = null;
  var backoff = 1000;
  var reconnectTimer = null;
  var lastTypingSent = 0;
  var typingTimer = null;
  var lastAgentReplyAt = 0;
  var creating = null;

  function freshState() {
    return { status: "bot", lastKind: null, surveyOpen: false, surveyAnswered: null };
  }
  state = freshState();

  // ---- static texts -----------------------------------------------------------------------

  function applyTexts() {
    panel.setAttribute("lang", lang === "zh" ? "zh-Hant-TW" : "en");
    launcher.setAttribute("lang", lang === "zh" ? "zh-Hant-TW" : "en");
    launcherLabel.textContent = t("title");
    launcher.setAttribute("aria-label", t("open") + (unread ? "（" + t("unread")(unread) + "）" : ""));
    titleText.textContent = t("title");
    subtitle.textContent = (branding && branding.name[lang]) || t("subtitle");
    langButton.textContent = t("langButton");
    langButton.setAttribute("aria-label", t("switchLang"));
    newChatButton.textContent = t("newChat");
    newChatButton.setAttribute("aria-label", t("newChatLabel"));
    copyButton.textContent = t("copy");
    copyButton.setAttribute("aria-label", t("copyLabel"));
    linkButton.textContent = t("link");
    linkButton.setAttribute("aria-label", t("linkLabel"));
    closeButton.setAttribute("aria-label", t("close"));
    inputLabel.textContent = t("inputLabel");
    keysHint.textContent = t("keys");
    input.setAttribute("placeholder", t("placeholder"));
    sendButton.textContent = t("send");
    attachButton.textContent = "🖼";
    attachButton.setAttribute("aria-label", t("attachLabel"));
    attachButton.setAttribute("title", t("attach"));
    updateBar();
  }

  function updateBar() {
    var status = state.status;
    if (status === "waiting") statusLine.textContent = t("queued")(queuePosition);
    else if (status === "with_agent") statusLine.textContent = t("withAgent")(agentName);
    else statusLine.textContent = "";
    var withPerson = status === "waiting" || status === "with_agent";
    talkButton.textContent = withPerson ? t("talkRequested") : t("talk");
    // a resolved conversation reopens when the customer writes; only then can it queue again
    talkButton.disabled = withPerson || status === "resolved";
    botButton.textContent = t("keepAsking");
    botButton.hidden = status !== "waiting";
    copyButton.hidden = !conversationId;
    linkButton.hidden = !conversationId;
  }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    launcher.setAttribute("aria-label", t("open") + (unread ? "（" + t("unread")(unread) + "）" : ""));
  }

  // ---- the transcript ---------------------------------------------------------------------

  function scrollDown() { logBox.scrollTop = logBox.scrollHeight; }

  function add(li) {
    log.appendChild(li);
    scrollDown();
    return li;
  }

  function who(text) { return el("span", { class: "who", text: text }); }

  function system(text, seq) {
    return add(el("li", { class: "msg system", "data-seq": seq, text: text }));
  }

  function drawNotice() {
    var shown = notice && notice[lang];
    var li = el("li", { class: "msg system notice", "data-kefu": "notice" },
      el("span", { class: "text", text: shown ? shown.text : t("greeting") }));
    if (shown && notice.privacy_url) {
      li.appendChild(el("a", {
        class: "privacy", href: notice.privacy_url, target: "_blank", rel: "noopener noreferrer",
        text: shown.privacy_label
      }));
    }
    return add(li);
  }

  /* The greeting the shop set (after the first message), when it set one. */
  function drawGreeting() {
    var text = branding && branding.greeting[lang];
    if (!text) return null;
    return add(el("li", { class: "msg system greeting", "data-kefu": "greeting" },
      el("span", { class: "text", text: text })));
  }

  var COLOUR = /^#[0-9a-f]{6}$/i;

  function darker(hex) {
    var n = parseInt(hex.slice(1), 16);
    var part = function (shift) { return Math.round(((n >> shift) & 255) * 0.8); };
    return "#" + [part(16), part(8), part(0)].map(function (v) {
      return (v < 16 ? "0" : "") + v.toString(16);
    }).join("");
  }

  function text200(v) { return typeof v === "string" ? v.slice(0, 200) : ""; }

  /* The shop's branding from the widget config: texts only ever go in as text, a colour only
   * as #rrggbb, a logo only from an http(s) address. */
  function applyBranding(found) {
    if (!found || typeof found !== "object") return;
    var name = found.name || {}, greeting = found.greeting || {};
    branding = {
      name: { zh: text200(name.zh), en: text200(name.en) },
      greeting: { zh: text200(greeting.zh), en: text200(greeting.en) }
    };
    if (typeof found.primary_colour === "string" && COLOUR.test(found.primary_colour)) {
      root.style.setProperty("--kefu-primary", found.primary_colour);
      root.style.setProperty("--kefu-primary-dark", darker(found.primary_colour));
    }
    root.classList.toggle("left", found.position === "left");
    var url = typeof found.logo_url === "string" ? found.logo_url : "";
    if (/^https?:\/\//i.test(url)) {
      if (!logo) {
        logo = el("img", { class: "logo", alt: "" });
        header.insertBefore(logo, header.firstChild);
      }
      logo.src = url;
    } else if (logo) {
      logo.remove();
      logo = null;
    }
    applyTexts();
    var shown = log.querySelector("li.greeting");
    if (shown) log.removeChild(shown);
    var first = log.querySelector("li.notice");
    var fresh = drawGreeting();
    if (fresh && first && first.nextSibling !== fresh) log.insertBefore(fresh, first.nextSibling);
  }

  /* The page's own look, from the script tag (data-kefu-brand-name, -name-en, -colour,
   * -position): it stands until an admin saves the widget's branding. */
  function pageBranding(found) {
    var b = found && typeof found === "object" ? found : {};
    var name = b.name || {};
    return {
      name: { zh: options.kefuBrandName || name.zh, en: options.kefuBrandNameEn || name.en },
      greeting: b.greeting || {},
      primary_colour: options.kefuBrandColour || b.primary_colour,
      position: options.kefuBrandPosition || b.position,
      logo_url: b.logo_url
    };
  }

  function loadBranding() {
    request("GET", BASE + "/api/widget/config").then(function (found) {
      var stored = found && found.branding;
      applyBranding(found && found.branded ? stored : pageBranding(stored));
    }, function () { applyBranding(pageBranding(null)); });
  }

  function loadNotice() {
    request("GET", BASE + "/api/widget/notice").then(function (found) {
      if (!found || !found.zh || !found.en) return;
      notice = found;
      var first = log.querySelector("li.notice");
      if (!first) return;
      var fresh = drawNotice();
      log.replaceChild(fresh, first);
    }, function () { /* the built-in greeting says the same, without the link */ });
  }

  function customerItem(text) {
    return el("li", { class: "msg customer" },
      el("span", { class: "who visually-hidden", text: t("you") }),
      el("span", { class: "text", text: text }),
      el("span", { class: "meta" }));
  }

  function setMeta(li, text) {
    li.querySelector(".meta").textContent = text;
  }

  function drawCustomer(e) {
    var li = null;
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].text === e.data.text) { li = pending[i].li; pending.splice(i, 1); break; }
    }
    if (li) {
      // keep the bubble where the customer saw it appear; the log's order wins once it differs
      li.classList.remove("pending");
      if (li !== log.lastElementChild) add(li);
    } else {
      li = add(customerItem(e.data.text));
    }
    li.setAttribute("data-seq", e.seq);
    messageItems[e.seq] = li;
    var toPerson = state.status === "waiting" || state.status === "with_agent" || delivered[e.seq];
    markCustomer(li, toPerson, state.status === "waiting");
  }

  function markCustomer(li, toPerson, waiting) {
    if (!toPerson) { setMeta(li, ""); return; }
    li.classList.add("delivered");
    li.setAttribute("data-status", "delivered");
    setMeta(li, "✓ " + t("sent") + (waiting ? " · " + t("personWillReply") : ""));
  }

  function drawTurn(e, live) {
    var d = e.data;
    var kind = d.decision || e.kind.replace(/^turn_/, "");
    var li = el("li", { class: "msg bot " + kind, "data-seq": e.seq, "data-kind": e.kind },
      who(t("bot")),
      el("span", { class: "text", lang: d.language === "en" ? "en" : "zh-Hant-TW", text: d.reply || "" }));
    var citations = d.citations || [];
    if (citations.length && kind === "answered") {
      var list = el("ul");
      // The customer sees the FAQ's question or the document's title and page, linked only
      // to a public http(s) address; never a file name, a row or the raw row again.
      citations.forEach(function (c) {
        var label = c.label || c.title || "";
        var link = /^https?:\/\//i.test(c.url || "")
          ? el("a", { class: "cite-label", href: c.url, target: "_blank", rel: "noopener noreferrer", text: label })
          : el("span", { class: "cite-label", text: label });
        list.appendChild(el("li", { class: "cite" }, link));
      });
      li.appendChild(el("div", { class: "cites" }, el("p", { text: t("sources") }), list));
    }
    if (kind === "clarifying" && d.options && d.options.length) {
      var choices = el("div", { class: "actions options" });
      d.options.forEach(function (option) {
        choices.appendChild(el("button", {
          type: "button", class: "option", text: option,
          onclick: function () { send(option); }
        }));
      });
      li.appendChild(choices);
    }
    // A refusal, and the middle band ("the closest I found: is it what you meant?"), offer a
    // person next to whatever options there are.
    if (kind === "refused" || (kind === "clarifying" && d.reason === "closest_match")) {
      var offer = el("div", { class: "actions" });
      var ask = el("button", {
        type: "button", class: "handoff", "data-kefu": "handoff", text: t("talk"),
        onclick: function () { requestPerson(); }
      });
      ask.disabled = state.status !== "bot";
      offer.appendChild(ask);
      li.appendChild(offer);
    }
    if (kind === "answered") {
      var groupLabel = newId("fb");
      var group = el("div", { class: "actions feedback", role: "group", "aria-labelledby": groupLabel },
        el("span", { class: "feedback-label", id: groupLabel, text: t("helpfulQuestion") }));
      [[true, "👍", t("helpful")], [false, "👎", t("notHelpful")]].forEach(function (f) {
        group.appendChild(el("button", {
          type: "button", "data-helpful": String(f[0]), "aria-pressed": "false",
          onclick: function () { giveFeedback(e.seq, f[0]); }
        }, el("span", { "aria-hidden": "true", text: f[1] + " " }), f[2]));
      });
      li.appendChild(group);
    }
    turnItems[e.seq] = li;
    add(li);
    if (kind === "handed_off") {
      state.status = "waiting";
      if (d.queue_position) queuePosition = d.queue_position;
    }
    if (live) noteUnread();
  }

  function drawFeedback(e) {
    var li = turnItems[e.data.turn_seq];
    if (!li) return;
    var group = li.querySelector(".feedback");
    if (!group) return;
    group.querySelectorAll("button").forEach(function (b) {
      b.disabled = true;
      b.setAttribute("aria-pressed", String(b.getAttribute("data-helpful") === String(e.data.helpful)));
    });
    var thanks = group.querySelector(".thanks");
    if (!thanks) group.appendChild(el("span", { class: "meta thanks", text: t("feedbackThanks") }));
  }

  function drawStatus(e, live) {
    var d = e.data;
    var from = d.from_status;
    var to = d.to_status;
    state.status = to;
    if (to === "waiting") {
      if (state.lastKind !== "turn_handed_off") system(t("inQueue"), e.seq);
      if (live) catchUp(); // learn the place in the queue
    } else if (to === "with_agent") {
      agentName = d.agent_name || agentFromActor(d.actor) || agentName;
      system(t("joined")(agentName), e.seq);
      if (live) noteUnread();
    } else if (to === "resolved") {
      system(t("resolved"), e.seq);
      var byAgent = Boolean(d.agent_name) || /^agent/.test(d.actor || "") || from === "with_agent";
      if (byAgent) {
        state.surveyOpen = true;
        state.surveyAnswered = null;
        drawSurvey(e.seq);
      }
      if (live) noteUnread();
    } else if (to === "bot") {
      if (from === "waiting" || from === "with_agent") system(t("backToBot"), e.seq);
      closeSurvey();
    }
    if (to !== "with_agent") hideTyping();
    disableStaleHandoffButtons();
  }

  function agentFromActor(actor) {
    var m = /^agent:(.+)$/.exec(actor || "");
    return m ? m[1] : null;
  }

  function disableStaleHandoffButtons() {
    log.querySelectorAll("button.handoff").forEach(function (b) {
      b.disabled = state.status !== "bot";
    });
  }

  function drawAgentReply(e, live) {
    hideTyping();
    if (live) lastAgentReplyAt = Date.now();
    add(el("li", { class: "msg agent", "data-seq": e.seq, "data-kind": e.kind },
      who(t("agent")(e.data.agent_name || agentName)),
      el("span", { class: "text", text: e.data.text || "" })));
    if (live) noteUnread();
  }

  // ---- pictures ---------------------------------------------------------------------------

  var pictureUrls = {}; // attachment id -> a blob: URL (fetched once, with the token)

  /* A picture of the conversation: fetched with the customer's token (an <img src> could not
   * send it), shown from a blob: URL, with a link to open it full size. */
  function pictureUrl(id) {
    if (pictureUrls[id]) return pictureUrls[id];
    pictureUrls[id] = fetch(BASE + "/api/conversations/" + encodeURIComponent(conversationId) +
      "/attachments/" + encodeURIComponent(id), {
      headers: { Authorization: "Bearer " + customerToken },
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.statusText);
      return response.blob();
    }).then(function (blob) { return URL.createObjectURL(blob); });
    pictureUrls[id].catch(function () { delete pictureUrls[id]; });
    return pictureUrls[id];
  }

  function drawPicture(e, from, live) {
    var d = e.data;
    if (from === "customer") {
      // the bubble that said "sending" gives way to the picture itself
      var waiting = live ? pendingPictures.shift() : null;
      if (waiting && waiting.parentNode) waiting.remove();
    } else {
      hideTyping();
      if (live) lastAgentReplyAt = Date.now();
    }
    var image = el("img", { alt: t("picture"), "data-kefu": "picture" });
    if (d.width && d.height) {
      image.setAttribute("width", String(Math.min(220, d.width)));
      image.style.height = "auto";
    }
    var link = el("a", { target: "_blank", rel: "noopener", text: t("openPicture"), hidden: true });
    var li = el("li", { class: "msg picture " + from, "data-seq": e.seq, "data-kind": e.kind },
      from === "customer" ? el("span", { class: "who visually-hidden", text: t("you") })
        : who(t("agent")(d.agent_name || agentName)),
      image, link);
    if (from === "customer") {
      li.appendChild(el("span", {
        class: "meta", text: state.status === "bot" ? t("pictureForPerson") : "✓ " + t("sent")
      }));
    }
    add(li);
    pictureUrl(d.attachment_id).then(function (url) {
      image.src = url;
      link.href = url;
      link.hidden = false;
      image.addEventListener("load", scrollDown, { once: true });
    }, function () {
      image.replaceWith(el("span", { class: "text", text: t("pictureNotShown") }));
    });
    if (live && from === "agent") noteUnread();
  }

  var pendingPictures = []; // the "sending" bubbles of pictures on their way

  function sendPicture(file) {
    if (!file) return;
    var li = add(el("li", { class: "msg customer pending" },
      el("span", { class: "text", text: t("sendingPicture") }), el("span", { class: "meta" })));
    pendingPictures.push(li);
    ensureConversation().then(function () {
      return fetch(BASE + "/api/conversations/" + encodeURIComponent(conversationId) + "/images", {
        method: "POST",
        headers: { Authorization: "Bearer " + customerToken, "Content-Type": "application/octet-stream" },
        body: file,
        credentials: "omit"
      });
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var err = new Error((data && data.message) || response.statusText);
          err.status = response.status;
          err.messages = data && data.messages;
          throw err;
        }
        return data;
      });
    }).then(function (recorded) {
      ingest([recorded], true);
    }).catch(function (err) {
      var at = pendingPictures.indexOf(li);
      if (at >= 0) pendingPictures.splice(at, 1);
      li.classList.remove("pending");
      li.classList.add("failed");
      li.setAttribute("data-kefu", "picture-refused");
      li.querySelector(".text").textContent = t("notSent");
      setMeta(li, errorText(err));
    });
  }

  // ---- nobody there: the offline message --------------------------------------------------

  var EMAIL = /^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$/;
  var PHONE = /^\+?[0-9 ()#-]+$/;

  function drawUnavailable(e, live) {
    var d = e.data;
    state.status = "bot";
    if (!d.in_turn) {
      add(el("li", { class: "msg bot unavailable", "data-seq": e.seq, "data-kind": e.kind },
        who(t("bot")),
        el("span", { class: "text", lang: d.language === "en" ? "en" : "zh-Hant-TW", text: d.reply || "" })));
    }
    closeOfflineForm();
    drawOfflineForm();
    if (live) noteUnread();
  }

  function closeOfflineForm() {
    if (offlineItem && offlineItem.parentNode) offlineItem.remove();
    offlineItem = null;
  }

  function field(label, control) {
    var id = newId("field");
    control.setAttribute("id", id);
    return [el("label", { for: id, text: label }), control];
  }

  function drawOfflineForm() {
    var text = el("textarea", { name: "text", maxlength: "2000", rows: "3" });
    var email = el("input", { type: "email", name: "email", maxlength: "254", autocomplete: "email" });
    var phone = el("input", { type: "tel", name: "phone", maxlength: "30", autocomplete: "tel" });
    var problem = el("p", { class: "problem", role: "alert" });
    var submit = el("button", { type: "submit", class: "send", text: t("offlineSend") });
    var form = el("form", { class: "offline-form", "data-kefu": "offline-form", novalidate: true },
      el("h3", { text: t("offlineTitle") }));
    [field(t("offlineText"), text), field(t("offlineEmail"), email), field(t("offlinePhone"), phone)]
      .forEach(function (pair) { form.appendChild(pair[0]); form.appendChild(pair[1]); });
    form.appendChild(el("p", { class: "hint", text: t("offlineContact") }));
    form.appendChild(submit);
    form.appendChild(problem);
    form.addEventListener("input", function () { problem.textContent = ""; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { text: text.value.trim(), email: email.value.trim(), phone: phone.value.trim() };
      var digits = body.phone.replace(/\D/g, "").length;
      var wrong = !body.text ? "offlineNeedsText"
        : !body.email && !body.phone ? "offlineNeedsContact"
        : body.email && !EMAIL.test(body.email) ? "offlineBadEmail"
        : body.phone && (!PHONE.test(body.phone) || digits < 8 || digits > 15) ? "offlineBadPhone"
        : null;
      if (wrong) { problem.textContent = t(wrong); return; }
      if (!body.email) delete body.email;
      if (!body.phone) delete body.phone;
      submit.disabled = true;
      api("POST", "/offline-message", body).then(function (recorded) {
        ingest([recorded], true);
      }, function (err) {
        submit.disabled = false;
        problem.textContent = errorText(err);
      });
    });
    offlineItem = add(el("li", { class: "msg offline", "data-kind": "offline-form" }, form));
  }

  function drawOfflineLeft(e) {
    var hadFocus = offlineItem && offlineItem.contains(shadow.activeElement);
    closeOfflineForm();
    var contact = [e.data.email, e.data.phone].filter(Boolean).join(" / ");
    var li = add(customerItem(e.data.text));
    li.classList.add("offline-left");
    li.setAttribute("data-seq", e.seq);
    li.setAttribute("data-kind", e.kind);
    setMeta(li, "✓ " + t("offlineLeft")(contact));
    if (hadFocus) input.focus();
  }

  // ---- the survey -------------------------------------------------------------------------

  function scale(name, legend, low, high, count) {
    var legendId = newId("legend");
    var box = el("div", { class: "scale" });
    for (var n = 1; n <= count; n++) {
      var accessible = String(n) + (n === 1 ? " " + low : n === count ? " " + high : "");
      box.appendChild(el("label", null,
        el("input", { type: "radio", name: name, value: String(n), "aria-label": accessible }),
        el("span", { "aria-hidden": "true", text: String(n) })));
    }
    return el("fieldset", { "aria-describedby": legendId },
      el("legend", { text: legend }),
      box,
      el("div", { class: "ends", id: legendId },
        el("span", { text: "1 = " + low }), el("span", { text: count + " = " + high })));
  }

  function drawSurvey(seq) {
    var formName = "survey-" + seq;
    var commentId = newId("comment");
    var problem = el("p", { class: "problem", role: "alert" });
    var comment = el("textarea", { id: commentId, maxlength: "1000" });
    var submit = el("button", { type: "submit", class: "send", text: t("surveySend") });
    var form = el("form", { class: "survey-form", "data-kefu": "survey" },
      el("h3", { text: t("surveyTitle") }),
      scale(formName + "-csat", t("csat"), t("csatLow"), t("csatHigh"), 5),
      scale(formName + "-ces", t("ces"), t("cesLow"), t("cesHigh"), 7),
      el("label", { for: commentId, text: t("comment") }),
      comment, submit, problem);
    form.addEventListener("change", function () { problem.textContent = ""; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var csat = form.querySelector('input[name="' + formName + '-csat"]:checked');
      var ces = form.querySelector('input[name="' + formName + '-ces"]:checked');
      if (!csat || !ces) { problem.textContent = t("surveyNeeds"); return; }
      problem.textContent = "";
      submit.disabled = true;
      api("POST", "/survey", {
        csat: Number(csat.value), ces: Number(ces.value), comment: comment.value.trim()
      }).then(function (recorded) {
        ingest([recorded], true);
      }, function (err) {
        submit.disabled = false;
        if (err.code === "survey_already_answered") { catchUp(); return; }
        problem.textContent = errorText(err);
      });
    });
    surveyItem = add(el("li", { class: "msg survey", "data-kind": "survey" }, form));
  }

  function closeSurvey() {
    state.surveyOpen = false;
    if (surveyItem && surveyItem.querySelector("form")) surveyItem.remove();
    surveyItem = null;
  }

  function drawSurveyAnswered(e) {
    state.surveyAnswered = e.data;
    var thanks = el("li", { class: "msg system survey-thanks", "data-seq": e.seq, role: "status" },
      el("span", { class: "text", text: t("surveyThanks") }),
      el("span", { class: "meta", text: t("surveyAnswered")(e.data.csat, e.data.ces) }));
    if (surveyItem && surveyItem.parentNode) {
      var hadFocus = surveyItem.contains(shadow.activeElement);
      surveyItem.replaceWith(thanks);
      if (hadFocus) input.focus();
    } else {
      add(thanks);
    }
    surveyItem = null;
    scrollDown();
  }

  // ---- events in, drawn once --------------------------------------------------------------

  function draw(e, live) {
    switch (e.kind) {
      case "customer_messaged": drawCustomer(e); break;
      case "turn_answered":
      case "turn_clarifying":
      case "turn_refused":
      case "turn_handed_off": drawTurn(e, live); break;
      case "status_changed": drawStatus(e, live); break;
      case "agent_replied": drawAgentReply(e, live); break;
      case "feedback_given": drawFeedback(e); break;
      case "survey_answered": drawSurveyAnswered(e); break;
      case "agents_unavailable": drawUnavailable(e, live); break;
      case "offline_message_left": drawOfflineLeft(e); break;
      case "customer_sent_image": drawPicture(e, "customer", live); break;
      case "agent_sent_image": drawPicture(e, "agent", live); break;
      default: break; // conversation_started, and kinds newer than this widget
    }
    if (e.kind !== "feedback_given") state.lastKind = e.kind;
  }

  /* Every event, from whichever source, comes through here: each seq is drawn once, in seq
   * order (one arriving late redraws the transcript). */
  function ingest(list, live) {
    var late = false;
    (list || []).forEach(function (e) {
      if (!e || typeof e.seq !== "number" || seen[e.seq]) return;
      seen[e.seq] = true;
      if (e.seq < lastSeq) {
        late = true;
        events.push(e);
        events.sort(function (a, b) { return a.seq - b.seq; });
        return;
      }
      events.push(e);
      lastSeq = e.seq;
      if (!late) draw(e, live && !loading);
    });
    if (late) redraw();
    updateBar();
    save();
  }

  function redraw() {
    var focusTyping = shadow.activeElement === input;
    log.textContent = "";
    state = freshState();
    turnItems = {};
    messageItems = {};
    surveyItem = null;
    offlineItem = null;
    drawNotice();
    drawGreeting();
    var keep = pending;
    pending = [];
    events.forEach(function (e) { draw(e, false); });
    keep.forEach(function (p) {
      var li = customerItem(p.text);
      li.classList.add("pending");
      setMeta(li, p.failed ? t("notSent") : t("sending"));
      if (p.failed) li.classList.add("failed");
      p.li = add(li);
      pending.push(p);
    });
    updateBar();
    if (focusTyping) input.focus();
  }

  function noteUnread() {
    if (!panel.hidden) return;
    unread += 1;
    updateBadge();
  }

  // ---- signals ----------------------------------------------------------------------------

  function signal(frame) {
    var d = frame.data || {};
    if (frame.kind === "typing" && d.role === "agent") {
      if (Date.now() - lastAgentReplyAt < TYPING_STALE_MS) return;
      typingLine.textContent = t("typing")(d.name || agentName);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
    } else if (frame.kind === "queue_position") {
      queuePosition = d.position || null;
      updateBar();
    }
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingLine.textContent = "";
  }

  // ---- the API ----------------------------------------------------------------------------

  function api(method, path, body) {
    var url = BASE + "/api/conversations" + (conversationId ? "/" + encodeURIComponent(conversationId) : "") + path;
    return request(method, url, body, customerToken);
  }

  function request(method, url, body, token) {
    var headers = body === undefined ? {} : { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(url, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var err = new Error((data && data.message) || response.statusText);
          err.status = response.status;
          err.code = data && data.code;
          err.messages = data && data.messages;
          throw err;
        }
        return data;
      });
    });
  }

  // The customer's own copy of the conversation: fetched with the token, saved as a file.
  function downloadCopy() {
    if (!conversationId) return;
    var id = conversationId;
    fetch(BASE + "/api/conversations/" + encodeURIComponent(id) + "/copy", {
      headers: { Authorization: "Bearer " + customerToken },
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.statusText);
      return response.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var link = el("a", { href: url, download: "conversation-" + id + ".txt", hidden: true });
      shadow.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function () { system(t("error")); });
  }

  function errorText(err) {
    if (err && err.messages && err.messages[lang]) return err.messages[lang];
    return t("error");
  }

  function ensureConversation() {
    if (conversationId) return Promise.resolve(conversationId);
    if (creating) return creating;
    var body = { channel: options.kefuChannel || "web" };
    if (options.kefuCustomerId) body.customer_id = options.kefuCustomerId;
    if (options.kefuCustomerId && options.kefuCustomerIdSignature) {
      body.customer_id_signature = options.kefuCustomerIdSignature;
    }
    creating = request("POST", BASE + "/api/conversations", body).then(function (c) {
      conversationId = c.id;
      customerToken = c.customer_token;
      lastSeq = 0;
      save();
      connect();
      return conversationId;
    }).finally(function () { creating = null; });
    return creating;
  }

  function catchUp() {
    if (!conversationId) return Promise.resolve();
    var id = conversationId;
    return request("GET", BASE + "/api/conversations/" + encodeURIComponent(id) + "?after=" + lastSeq,
      undefined, customerToken)
      .then(function (found) {
        if (id !== conversationId) return;
        var c = found.conversation || {};
        if (c.queue_position !== undefined) queuePosition = c.queue_position;
        if (c.agent_name) agentName = c.agent_name;
        ingest(found.events, true);
      }, function (err) {
        if (err.status === 404) forget();
      });
  }

  // Linking with LINE or Messenger: a one-time code shown here to send there, or one from
  // there typed here (it goes to the linking route, never to the bot).
  var LINK_CODE = /^\s*KF[-\s]?\d{6}\s*$/i;

  function showLinkCode() {
    ensureConversation().then(function () {
      return api("POST", "/link-code");
    }).then(function (found) { system(t("linkCode")(found.code)); }, function (err) { system(errorText(err)); });
  }

  function link(code) {
    ensureConversation().then(function () {
      return api("POST", "/link", { code: code });
    }).then(function () { system(t("linked")); }, function (err) {
      system(TEXTS[lang]["link_" + (err && err.code)] || errorText(err));
    });
  }

  function send(text) {
    text = (text || "").trim();
    if (!text) return;
    if (LINK_CODE.test(text)) { link(text); return; }
    var li = customerItem(text);
    li.classList.add("pending");
    setMeta(li, t("sending"));
    var entry = { text: text, li: add(li), failed: false };
    pending.push(entry);
    ensureConversation().then(function () {
      return api("POST", "/messages", { text: text });
    }).then(function (turn) {
      if (turn && turn.status === "delivered") {
        delivered[turn.message_seq] = true;
        var sent = messageItems[turn.message_seq];
        if (sent) markCustomer(sent, true, turn.conversation_status === "waiting");
      }
      return catchUp();
    }).catch(function (err) {
      entry.failed = true;
      entry.li.classList.add("failed");
      setMeta(entry.li, t("notSent") + " · " + errorText(err));
    });
  }

  function requestPerson() {
    talkButton.disabled = true;
    ensureConversation().then(function () {
      return api("POST", "/handoff");
    }).then(function (recorded) {
      ingest([recorded], true);
      return catchUp();
    }).catch(function (err) {
      updateBar();
      if (err.status === 409) { catchUp(); return; } // already with a person
      system(errorText(err));
    });
  }

  function keepAskingBot() {
    botButton.disabled = true;
    api("POST", "/bot").then(function (recorded) {
      botButton.disabled = false;
      ingest([recorded], true);
      input.focus();
    }, function (err) {
      botButton.disabled = false;
      if (err.status === 409) { catchUp(); return; } // claimed or back already
      system(errorText(err));
    });
  }

  function giveFeedback(turnSeq, helpful) {
    var li = turnItems[turnSeq];
    if (li) li.querySelectorAll(".feedback button").forEach(function (b) { b.disabled = true; });
    api("POST", "/feedback", { helpful: helpful, turn_seq: turnSeq }).then(function (recorded) {
      ingest([recorded], true);
    }, function (err) {
      if (li) li.querySelectorAll(".feedback button").forEach(function (b) { b.disabled = false; });
      system(errorText(err));
    });
  }

  // ---- the live stream --------------------------------------------------------------------

  function connect() {
    if (!conversationId || socket) return;
    clearTimeout(reconnectTimer);
    var id = conversationId;
    var ws;
    try {
      ws = new WebSocket(WS_BASE + "/api/conversations/" + encodeURIComponent(id) +
        "/events?after=" + lastSeq + "&token=" + encodeURIComponent(customerToken || ""));
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      backoff = 1000;
      host.setAttribute("data-connected", "true");
    };
    ws.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (id !== conversationId) return;
      if (typeof frame.seq === "number") ingest([frame], true);
      else signal(frame);
    };
    ws.onclose = function (event) {
      if (socket === ws) socket = null;
      host.setAttribute("data-connected", "false");
      if (id !== conversationId) return;
      if (event.code === 4404) { forget(); return; }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var wait = Math.min(backoff, MAX_BACKOFF_MS) * (0.75 + Math.random() * 0.5);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    reconnectTimer = setTimeout(function () {
      // what was missed while away comes with ?after=, so nothing is drawn twice
      connect();
    }, wait);
  }

  function disconnect() {
    clearTimeout(reconnectTimer);
    if (socket) {
      var ws = socket;
      socket = null;
      ws.onclose = null;
      ws.close(1000);
    }
  }

  function forget() {
    disconnect();
    conversationId = null;
    customerToken = null;
    lastSeq = 0;
    events = [];
    seen = {};
    delivered = {};
    pending = [];
    queuePosition = null;
    agentName = null;
    pictureUrls = {};
    pendingPictures = [];
    save();
    redraw();
  }

  // ---- opening, closing, typing -----------------------------------------------------------

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    updateBadge();
    rememberOpen(true);
    scrollDown();
    input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    rememberOpen(false);
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  langButton.addEventListener("click", function () {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* ignore */ }
    applyTexts();
    redraw();
    langButton.focus();
  });
  newChatButton.addEventListener("click", function () {
    forget();
    input.focus();
  });
  talkButton.addEventListener("click", function () { requestPerson(); });
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    sendPicture(file);
  });
  copyButton.addEventListener("click", function () { downloadCopy(); });
  linkButton.addEventListener("click", function () { showLinkCode(); });
  botButton.addEventListener("click", function () { keepAskingBot(); });

  compose.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition (注音,
    // 倉頡) only picks the characters.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      compose.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    var toPerson = state.status === "waiting" || state.status === "with_agent";
    var now = Date.now();
    if (!toPerson || !socket || socket.readyState !== 1 || now - lastTypingSent < TYPING_EVERY_MS) return;
    lastTypingSent = now;
    socket.send(JSON.stringify({ type: "typing" }));
  });
  window.addEventListener("online", function () {
    if (conversationId && !socket) { backoff = 1000; connect(); }
  });

  // ---- start ------------------------------------------------------------------------------

  function start() {
    document.body.appendChild(host);
    applyTexts();
    redraw();
    loadNotice();
    loadBranding();
    if (wasOpen()) open();
    if (!conversationId) return;
    loading = true;
    request("GET", BASE + "/api/conversations/" + encodeURIComponent(conversationId), undefined,
      customerToken)
      .then(function (found) {
        var c = found.conversation || {};
        if (c.queue_position !== undefined) queuePosition = c.queue_position;
        if (c.agent_name) agentName = c.agent_name;
        ingest(found.events, false);
        loading = false;
        connect();
      }, function (err) {
        loading = false;
        if (err.status === 404) forget();
        else connect(); // the stream sends the transcript too, from ?after=0
      });
  }

  window.kefuWidget = {
    open: open,
    close: close,
    get conversationId() { return conversationId; }
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
