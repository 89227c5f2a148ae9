"""Everything the bot itself says to a customer, in Traditional Chinese (Taiwan) and English."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Language = Literal["zh", "en"]

TEXTS: dict[str, dict[Language, str]] = {
    # the widget's name until a shop brands it
    "brand_name": {"zh": "好日子客服中心", "en": "Good Days help desk"},
    "greeting": {
        "zh": "您好！我是線上客服小幫手，請直接輸入您的問題。",
        "en": "Hello! I'm the virtual assistant. Please type your question.",
    },
    "refusal": {
        "zh": "抱歉，我在我們的資料中找不到這個問題的答案，不想隨便猜測。需要為您轉接真人客服嗎？",
        "en": "Sorry, I couldn't find the answer to that in our information, and I'd rather not "
        "guess. Would you like to talk to a person?",
    },
    "clarify": {
        "zh": "請問您想問的是以下哪一個問題？",
        "en": "Which of these did you mean?",
    },
    "closest_match": {
        "zh": "我不確定資料中有這個問題的答案。這是我找到最接近的內容，是您要問的嗎？"
        "如果不是，可以按「轉接真人客服」。",
        "en": "I'm not sure our information answers that. This is the closest I found: is it "
        "what you meant? If not, you can talk to a person.",
    },
    "closest_matches": {
        "zh": "我不確定資料中有這個問題的答案。以下是我找到最接近的內容，有您要問的嗎？"
        "如果都不是，可以按「轉接真人客服」。",
        "en": "I'm not sure our information answers that. These are the closest I found: is "
        "one of them what you meant? If not, you can talk to a person.",
    },
    "clarify_passage": {
        "zh": "{source} 第 {page} 頁的內容",
        "en": "the text on page {page} of {source}",
    },
    "only_in_other_language": {
        "zh": "（這項資料目前只有英文版本。）",
        "en": "(This information is only available in Chinese.)",
    },
    "handed_off": {
        "zh": "已為您轉接專人，請稍候，客服人員會在這裡回覆您。",
        "en": "I've passed your conversation to a person. Please stay here; they will reply "
        "in this chat.",
    },
    # An upset customer the bot can help: acknowledged first (by what upset them), answered,
    # then offered a person. Never said to a calm customer.
    "acknowledge_waiting": {
        "zh": "很抱歉讓您久等了。",
        "en": "Sorry about the wait.",
    },
    "acknowledge_asked_again": {
        "zh": "很抱歉讓您一再詢問同一件事。",
        "en": "Sorry you've had to ask about this again.",
    },
    "acknowledge_trouble": {
        "zh": "很抱歉造成您的困擾。",
        "en": "I'm sorry for the trouble.",
    },
    "offer_person": {
        "zh": "如果這樣還是沒解決，請按「轉接真人客服」或輸入「轉真人」，我馬上請專人為您處理。",
        "en": 'If this doesn\'t sort it out, press "Talk to a person" or type "agent" and I\'ll '
        "bring someone in right away.",
    },
    "waiting_for_agent": {
        "zh": "您的訊息已收到，客服人員會盡快回覆您。",
        "en": "We've got your message; a person will reply as soon as possible.",
    },
    # A handoff with nobody there to answer: honest, with when people are back, and the offer
    # of a message (the bot keeps answering meanwhile).
    "nobody_available_until": {
        "zh": "目前沒有客服人員上線，我們將{when}回來。您可以留下訊息和聯絡方式（電子郵件或"
        "電話），客服人員回來後會回覆您；在那之前，我也可以繼續回答您的問題。",
        "en": "There's nobody from our team online right now; we're back {when}. You can leave a "
        "message with an email or phone number and a person will reply when they're back; "
        "meanwhile I can keep answering your questions.",
    },
    "nobody_available": {
        "zh": "目前沒有客服人員上線。您可以留下訊息和聯絡方式（電子郵件或電話），客服人員回來後"
        "會回覆您；在那之前，我也可以繼續回答您的問題。",
        "en": "There's nobody from our team online right now. You can leave a message with an "
        "email or phone number and a person will reply when they're back; meanwhile I can "
        "keep answering your questions.",
    },
    "opening_today": {"zh": "於今天 {time} ", "en": "today at {time}"},
    "opening_tomorrow": {
        "zh": "於明天（{weekday}）{time} ",
        "en": "tomorrow ({weekday}) at {time}",
    },
    "opening_later": {
        "zh": "於{date}（{weekday}）{time} ",
        "en": "on {weekday}, {date} at {time}",
    },
    "error_no_contact": {
        "zh": "請留下電子郵件或電話，客服人員才能回覆您。",
        "en": "Please leave an email or a phone number so that a person can reply.",
    },
    "error_bad_email": {
        "zh": "電子郵件的格式不正確。",
        "en": "That email address doesn't look right.",
    },
    "error_bad_phone": {
        "zh": "電話號碼的格式不正確（請輸入 8 到 15 位數字）。",
        "en": "That phone number doesn't look right (8 to 15 digits).",
    },
    "feedback_thanks": {
        "zh": "謝謝您的回饋！",
        "en": "Thank you for your feedback!",
    },
    "error_empty_message": {
        "zh": "請輸入您的問題。",
        "en": "Please type your question.",
    },
    "error_message_too_long": {
        "zh": "訊息太長了（上限 {limit} 字），請精簡後再傳送。",
        "en": "That message is too long (limit {limit} characters). Please shorten it.",
    },
    "error_conversation_not_found": {
        "zh": "找不到這段對話，請重新開始。",
        "en": "This conversation could not be found. Please start a new one.",
    },
    "error_rate_limited": {
        "zh": "您傳送得太快了，請 {seconds} 秒後再試。",
        "en": "You're sending too fast. Please try again in {seconds} seconds.",
    },
    "error_survey_not_open": {
        "zh": "對話結束後才能填寫滿意度調查。",
        "en": "The survey opens when the conversation has ended.",
    },
    "error_survey_answered": {
        "zh": "您已經填寫過這次的調查，謝謝！",
        "en": "You have already answered this survey. Thank you!",
    },
    "error_not_logged_in": {
        "zh": "請先登入。",
        "en": "Please log in.",
    },
    "error_session_expired": {
        "zh": "登入已逾時，請重新登入。",
        "en": "Your session has expired. Please log in again.",
    },
    "error_invalid_credentials": {
        "zh": "帳號或密碼不正確。",
        "en": "Wrong username or password.",
    },
    "error_forbidden": {
        "zh": "您的帳號不能做這件事。",
        "en": "Your account may not do this.",
    },
    "error_cross_site_request": {
        "zh": "這個請求來自其他網站，已被拒絕。請直接在客服系統的頁面操作。",
        "en": "This request came from another site and was refused. Please use kefu's own pages.",
    },
    "error_customer_signature_invalid": {
        "zh": "無法確認您的會員身分，請重新整理頁面後再試。",
        "en": "Your member identity could not be verified. Please reload the page and try again.",
    },
    "error_already_claimed": {
        "zh": "這段對話已由 {name} 接手。",
        "en": "{name} has already claimed this conversation.",
    },
    "error_not_waiting": {
        "zh": "這段對話不在等候中（目前狀態：{current}），無法接手。",
        "en": "This conversation is not waiting (it is {current}), so it cannot be claimed.",
    },
    "error_not_assignee": {
        "zh": "這段對話不是由您負責，請先接手。",
        "en": "You don't own this conversation; claim it first.",
    },
    "error_unsupported_file": {
        "zh": "無法讀取這種檔案，請上傳 PDF、Excel、CSV、Markdown、純文字或 HTML 檔。",
        "en": "kefu can't read this kind of file. Upload PDF, Excel, CSV, Markdown, text or HTML.",
    },
    "error_empty_file": {"zh": "這個檔案是空的。", "en": "The file is empty."},
    "error_file_too_large": {
        "zh": "檔案超過大小上限，請分成較小的檔案。",
        "en": "The file is over the size limit. Split it into smaller files.",
    },
    "error_image_empty": {
        "zh": "這張圖片是空的，請重新選擇。",
        "en": "The picture is empty. Choose it again.",
    },
    "error_image_too_large": {
        "zh": "圖片太大了（上限 {limit} MB），請縮小後再傳。",
        "en": "The picture is too large (the limit is {limit} MB). Send a smaller one.",
    },
    "error_image_unsupported_type": {
        "zh": "只能傳送 JPEG、PNG、GIF 或 WebP 圖片，這個檔案不是。",
        "en": "Only JPEG, PNG, GIF or WebP pictures can be sent, and this file is not one.",
    },
    "error_image_damaged": {
        "zh": "這張圖片不完整或已損壞，請重新拍攝或另存後再傳。",
        "en": "The picture is incomplete or damaged. Take it again or save it anew, then send it.",
    },
    "error_image_too_many_pixels": {
        "zh": "圖片的畫素太多（上限約 {limit} 百萬畫素），請縮小後再傳。",
        "en": "The picture has too many pixels (the limit is about {limit} megapixels). "
        "Send a smaller one.",
    },
    "error_image_quota_reached": {
        "zh": "這段對話的圖片已達上限（最多 {count} 張、共 {limit} MB），無法再傳。"
        "請改用文字說明。",
        "en": "This conversation holds as many pictures as it can keep (at most {count} "
        "pictures, {limit} MB in all). Describe the rest in words.",
    },
    "error_images_off": {
        "zh": "這裡目前無法傳送圖片。",
        "en": "Pictures can't be sent here at the moment.",
    },
    "error_attachment_not_found": {"zh": "找不到這張圖片。", "en": "No such picture."},
    "error_source_exists": {
        "zh": "已經有同名的知識來源。要用新檔案取代它嗎？",
        "en": "A source with this name exists already. Replace it with the new file?",
    },
    "error_invalid_name": {"zh": "這個檔名無法使用。", "en": "This file name can't be used."},
    "error_source_not_found": {"zh": "找不到這個知識來源。", "en": "No such source."},
    "error_job_not_found": {"zh": "找不到這項匯入工作。", "en": "No such ingest job."},
    "error_empty_draft": {
        "zh": "請先填寫問題與答案，再核准草稿。",
        "en": "Write both the question and the answer before approving the draft.",
    },
    "error_draft_not_pending": {
        "zh": "這份草稿已經處理過了。",
        "en": "This draft has been decided already.",
    },
    "error_draft_not_found": {"zh": "找不到這份草稿。", "en": "No such draft."},
    "error_gap_not_found": {
        "zh": "這段期間沒有這組問題。",
        "en": "There is no such group of questions in this period.",
    },
    "error_no_embedder": {
        "zh": "問題分組需要 e5 模型，伺服器沒有載入。",
        "en": "Grouping questions needs the e5 model, which the server has not loaded.",
    },
    "error_invalid_request": {"zh": "輸入的資料不正確。", "en": "The request is not valid."},
    "error_bad_request": {
        "zh": "無法讀取這個請求。",
        "en": "The request could not be read.",
    },
    "error_nul_character": {
        "zh": "訊息中有無法處理的字元（NUL），請刪除後再傳送。",
        "en": "The message holds a character kefu can't keep (NUL). Remove it and send again.",
    },
    "error_control_character": {
        "zh": "這個欄位不能包含控制字元。",
        "en": "This field can't hold control characters.",
    },
    "error_invalid_transition": {
        "zh": "這段對話目前的狀態不能這樣做，請重新整理後再試。",
        "en": "The conversation's status does not allow that now. Refresh and try again.",
    },
    "error_empty_shortcut": {
        "zh": "請輸入快捷鍵，例如 /退貨。",
        "en": "Give the saved reply a shortcut, such as /return.",
    },
    "error_shortcut_too_long": {
        "zh": "快捷鍵最多 32 個字。",
        "en": "A shortcut is at most 32 characters.",
    },
    "error_invalid_shortcut": {
        "zh": "快捷鍵只能用文字、數字、「-」「_」「.」，不能有空格。",
        "en": "A shortcut is letters, digits, '-', '_' or '.', with no spaces.",
    },
    "error_shortcut_taken": {
        "zh": "這個快捷鍵已經有人用了，請換一個。",
        "en": "That shortcut is taken. Choose another one.",
    },
    "error_empty_saved_reply": {
        "zh": "常用回覆需要標題和內容。",
        "en": "A saved reply needs a title and a text.",
    },
    "error_saved_reply_too_long": {
        "zh": "標題最多 120 字，內容最多 4000 字。",
        "en": "A title is at most 120 characters, a text at most 4000.",
    },
    "error_invalid_language": {
        "zh": "語言請選中文（zh）或英文（en）。",
        "en": "The language is zh (Chinese) or en (English).",
    },
    "error_saved_reply_not_found": {
        "zh": "找不到這則常用回覆，可能已被刪除。",
        "en": "No such saved reply; it may have been deleted.",
    },
    "error_agent_not_found": {
        "zh": "找不到這位客服人員。",
        "en": "No such agent.",
    },
    "error_already_theirs": {
        "zh": "這段對話已經由這位客服人員處理。",
        "en": "That agent has this conversation already.",
    },
    "error_invalid_username": {
        "zh": "使用者名稱須為 2-64 個小寫英文字母、數字或 . _ -。",
        "en": "A username is 2-64 lowercase letters, digits, '.', '_' or '-'.",
    },
    "error_weak_password": {
        "zh": "密碼至少需要 10 個字元。",
        "en": "A password needs at least 10 characters.",
    },
    "error_user_exists": {"zh": "這個使用者名稱已經有人使用。", "en": "That username is taken."},
    "error_no_such_user": {"zh": "找不到這位使用者。", "en": "No such user."},
    "error_last_admin": {
        "zh": "至少要保留一位啟用中的管理員。",
        "en": "At least one active admin must remain.",
    },
    "error_invalid_logo_url": {
        "zh": "標誌網址須以 http:// 或 https:// 開頭。",
        "en": "The logo address must start with http:// or https://.",
    },
    "error_invalid_colour": {
        "zh": "顏色須為 #rrggbb 格式。",
        "en": "A colour is written #rrggbb.",
    },
    "error_invalid_date_range": {
        "zh": "結束日期要晚於開始日期。",
        "en": "The end date must come after the start date.",
    },
    "error_internal": {
        "zh": "系統發生錯誤，請稍後再試。",
        "en": "Something went wrong on our side. Please try again later.",
    },
}


def say(key: str, language: Language, **values: object) -> str:
    """The fixed text `key` in `language`, with its {placeholders} filled."""
    return TEXTS[key][language].format(**values)


def both(key: str, **values: object) -> dict[str, str]:
    """The fixed text in every language (API errors carry both: the widget picks)."""
    return {lang: text.format(**values) for lang, text in TEXTS[key].items()}


WEEKDAY_NAMES: dict[Language, tuple[str, ...]] = {
    "zh": ("週一", "週二", "週三", "週四", "週五", "週六", "週日"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def opening_time(when: datetime, today: datetime, language: Language) -> str:
    """When people are back, as a customer reads it: "明天（週五）09:00", "tomorrow (Friday) at
    09:00". Both times in the shop's time zone; `today` is now there."""
    days = (when.date() - today.date()).days
    day = (
        f"{when.month}月{when.day}日"
        if language == "zh"
        else f"{when.day} {MONTH_NAMES[when.month - 1]}"
    )
    values = {
        "time": when.strftime("%H:%M"),
        "weekday": WEEKDAY_NAMES[language][when.weekday()],
        "date": day,
    }
    key = "opening_today" if days <= 0 else "opening_tomorrow" if days == 1 else "opening_later"
    return say(key, language, **values)
