"""What kefu says on a messaging channel beyond the bot's own texts (bot/answering/texts.py):
buttons, queue places, the survey, and answers to what it cannot read. zh-TW and English.

Button labels are at most 20 characters: LINE and Messenger cut longer ones.
"""

from __future__ import annotations

from bot.answering.texts import Language

TEXTS: dict[str, dict[Language, str]] = {
    "talk_to_person": {"zh": "轉接真人客服", "en": "Talk to a person"},
    "back_to_bot": {"zh": "返回客服小幫手", "en": "Back to assistant"},
    "queue_place": {
        "zh": "目前排第 {position} 位，輪到您時專人會在這裡回覆。",
        "en": "You are number {position} in the queue; a person will reply here.",
    },
    "requested_person": {
        "zh": "已為您轉接真人客服，請稍候。",
        "en": "I've asked a person to take over. Please wait a moment.",
    },
    "already_waiting": {
        "zh": "已為您轉接真人客服，專人會盡快回覆。",
        "en": "A person has already been asked to help you and will reply soon.",
    },
    "agent_says": {"zh": "專人 {name}：\n{text}", "en": "{name} (staff):\n{text}"},
    "back_with_bot": {
        "zh": "已回到線上客服小幫手，您可以繼續提問。",
        "en": "You're back with the virtual assistant; ask away.",
    },
    "sources": {"zh": "資料來源：", "en": "Sources:"},
    "options_intro": {
        "zh": "請點選下方按鈕或輸入編號：",
        "en": "Tap a button below or type its number:",
    },
    "resolved": {
        "zh": "專人已結束這次對話。",
        "en": "The person helping you has closed this chat.",
    },
    "survey_csat": {
        "zh": "整體而言，您對這次服務滿意嗎？（1 非常不滿意 – 5 非常滿意）",
        "en": "Overall, how satisfied are you with the help you got? "
        "(1 very dissatisfied – 5 very satisfied)",
    },
    "survey_ces": {
        "zh": "這次取得協助有多容易？（1 非常困難 – 7 非常容易）",
        "en": "How easy was it to get help? (1 very difficult – 7 very easy)",
    },
    "survey_thanks": {
        "zh": "感謝您的評分！祝您有美好的一天。",
        "en": "Thank you for your rating! Have a nice day.",
    },
    "survey_closed": {
        "zh": "這次的評分已經收到或已無法填寫，謝謝您。",
        "en": "This rating has already been given or is closed. Thank you.",
    },
    "cannot_read": {
        "zh": "謝謝您傳來的{what}！我目前只看得懂文字訊息，請用文字描述您的問題；"
        "需要真人協助請按「轉接真人客服」。",
        "en": "Thanks for the {what}! I can only read text messages, so please describe "
        'your question in words, or tap "Talk to a person".',
    },
    "agent_sent_picture": {
        "zh": "專人 {name} 傳了一張圖片，但這裡無法顯示；如需要，請請專人改用文字說明。",
        "en": "{name} (staff) sent a picture, which can't be shown here; ask them to describe "
        "it in words if you need it.",
    },
    "picture_for_person": {
        "zh": "已收到您的圖片，專人會看到它。我看不懂圖片，需要專人協助請按「轉接真人客服」。",
        "en": "Got your picture; a person will see it. I can't read pictures myself, so tap "
        '"Talk to a person" for help with it.',
    },
    "cannot_read_with_agent": {
        "zh": "謝謝您傳來的{what}！這裡目前只能傳送文字，請用文字說明，專人會在這裡回覆您。",
        "en": "Thanks for the {what}! Only text can be passed on here, so please describe it "
        "in words; a person will reply in this chat.",
    },
    "link_request": {"zh": "連結帳號", "en": "link account"},
    "link_code": {
        "zh": "您的連結碼是 {code}，請在 10 分鐘內於網站客服視窗輸入，"
        "客服人員就能看到您在各管道的對話紀錄。",
        "en": "Your linking code is {code}. Type it in the chat on our website within 10 "
        "minutes, and our staff will see your conversations on every channel together.",
    },
    "linked": {
        "zh": "已完成連結，客服人員現在能看到您在各管道的對話紀錄。",
        "en": "Linked: our staff can now see your conversations on every channel together.",
    },
    "link_wrong_code": {
        "zh": "這個連結碼不正確或已過期，請重新取得一組新的連結碼。",
        "en": "That linking code is wrong or has expired; please get a new one.",
    },
    "link_same_customer": {"zh": "這兩個帳號已經連結過了。", "en": "These are linked already."},
    "link_too_many_tries": {
        "zh": "嘗試次數太多了，請稍後再試。",
        "en": "Too many tries; please try again later.",
    },
    "sticker": {"zh": "貼圖", "en": "sticker"},
    "image": {"zh": "圖片", "en": "picture"},
    "video": {"zh": "影片", "en": "video"},
    "audio": {"zh": "語音訊息", "en": "voice message"},
    "location": {"zh": "位置資訊", "en": "location"},
    "file": {"zh": "檔案", "en": "file"},
    "attachment": {"zh": "訊息", "en": "message"},
}


def say(key: str, language: Language, **values: object) -> str:
    """The channel text `key` in `language`, with its {placeholders} filled."""
    return TEXTS[key][language].format(**values)
