"""Generate the demo shop's knowledge files (shop_faq.xlsx, orders_export.csv, policy.pdf)."""

from __future__ import annotations

import argparse
import csv
import io
import logging
import re
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring
from pypdf import PdfReader

SHOP_NAME = "好日子生活選物"
SHOP_NAME_EN = "Good Days Goods"
SUPPORT_EMAIL = "service@gooddays.example"

DEFAULT_OUT = Path(__file__).resolve().parent / "files"
FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_PACKAGE = "fonts-wqy-zenhei"

# Every timestamp that ends up inside a file is pinned so that regenerating yields identical bytes.
FIXED_TIMESTAMP = datetime(2026, 10, 1, 9, 0, 0)
ZIP_TIMESTAMP = (2026, 10, 1, 9, 0, 0)

ZH_HEADER = ("問題", "答案", "分類", "更新日期")
EN_HEADER = ("Question", "Answer", "Category", "Updated")

# (question, answer, category, ISO date)
Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class SheetSpec:
    """One worksheet of the FAQ workbook."""

    name: str
    header: tuple[str, str, str, str]
    rows: tuple[Row, ...]
    title: str | None = None
    merge_categories: bool = False


RETURNS = SheetSpec(
    name="退換貨",
    header=ZH_HEADER,
    title=f"{SHOP_NAME} 常見問題（2026 年版）",
    rows=(
        (
            "退貨要怎麼申請？",
            "請登入會員後到「我的訂單」，選擇該筆訂單並點選「申請退貨」，填寫原因後送出即可。"
            "我們會在 1 個工作天內安排物流到府取件；非會員請來信 "
            f"{SUPPORT_EMAIL} 並附上訂單編號。",
            "申請流程",
            "2026-10-01",
        ),
        (
            "鑑賞期是幾天？",
            "商品到貨後享有 7 天鑑賞期（含例假日），從超商取貨或宅配簽收的隔天開始計算。"
            "鑑賞期不是試用期，退回的商品需保持全新並附上完整包裝與配件。",
            "鑑賞期",
            "2026-10-01",
        ),
        (
            "退貨需要自己付運費嗎？",
            "鑑賞期內退貨的回收運費由我們負擔。"
            "若是商品瑕疵或寄錯商品，換貨的來回運費也都由我們支付。",
            "運費",
            "2026-09-15",
        ),
        (
            "退款多久會收到？",
            "收到退回商品並檢查無誤後，會在 5 個工作天內辦理退款。"
            "信用卡刷退依發卡銀行作業約 7–14 天入帳，"
            "LINE Pay 與街口支付約 3–5 個工作天退回原帳戶。",
            "退款",
            "2026-09-15",
        ),
        (
            "可以換尺寸或顏色嗎？",
            "同一商品在鑑賞期內可免費更換尺寸或顏色一次。若想換的款式已缺貨，我們會改為辦理退款。",
            "換貨",
            "2026-09-15",
        ),
        (
            "哪些商品不能退貨？",
            "已拆封的個人衛生用品（如牙刷、內衣褲、化妝品）、食品，以及刻字或客製化商品，"
            "依法不適用 7 天鑑賞期；但若有瑕疵或寄錯，仍可在到貨 7 天內申請換貨。",
            "退貨例外",
            "2026-10-01",
        ),
        (
            "收到的商品有瑕疵怎麼辦？",
            "請在到貨 7 天內拍下瑕疵處與外箱照片，到「我的訂單」點選「問題回報」上傳。"
            "確認後我們會先寄出新品，並同時安排回收瑕疵品。",
            "瑕疵處理",
            "2026-08-20",
        ),
        (
            "退貨時發票需要寄回嗎？",
            "電子發票不需要寄回，我們會在退款時自動作廢或開立折讓單。"
            "若您當初索取了紙本發票，請隨商品一起寄回。",
            "發票",
            "2026-08-20",
        ),
        (
            "特價商品可以退貨嗎？",
            "可以，特價與折扣商品同樣享有 7 天鑑賞期。"
            "若部分退貨後訂單金額未達滿額贈門檻，需一併退回贈品。",
            "退貨例外",
            "2026-10-01",
        ),
        (
            "超商取貨的訂單可以到超商退貨嗎？",
            "可以。申請退貨時選擇「超商退貨」，系統會提供 7-ELEVEN 或全家的退貨代碼，"
            "請在 7 天內到門市寄出，不需另付運費。",
            "申請流程",
            "2026-09-15",
        ),
    ),
)

SHIPPING = SheetSpec(
    name="運送",
    header=ZH_HEADER,
    merge_categories=True,
    rows=(
        (
            "有哪些配送方式？",
            "提供 7-ELEVEN、全家超商取貨，以及黑貓宅急便宅配。"
            "單件超過 5 公斤或最長邊超過 45 公分的商品僅能宅配。",
            "配送方式",
            "2026-09-15",
        ),
        (
            "宅配可以指定送達時段嗎？",
            "宅配可在結帳時選擇「13 點前」或「14–18 點」送達；超商取貨無法指定時段。",
            "配送方式",
            "2026-09-15",
        ),
        (
            "可以寄到公司嗎？",
            "可以，請在地址欄註明公司名稱與樓層，方便物流人員投遞。"
            "郵政信箱無法簽收宅配包裹，恕不配送。",
            "配送方式",
            "2026-08-20",
        ),
        (
            "運費怎麼算？多少錢免運？",
            "全館單筆消費滿 NT$990 免運費。未滿 NT$990 時，超商取貨運費 NT$60，宅配運費 NT$100。",
            "運費",
            "2026-10-01",
        ),
        (
            "寄送離島要多少運費？",
            "澎湖、金門、馬祖地區僅提供宅配，運費為 NT$220，且不適用滿額免運。",
            "運費",
            "2026-10-01",
        ),
        (
            "超商包裹沒去取，會怎麼樣？",
            "包裹到店後會保留 7 天，逾期未取將退回倉庫，重新寄送需另付運費。"
            "連續 2 次未取件，帳號將暫停使用超商取貨 90 天。",
            "運費",
            "2026-09-15",
        ),
        (
            "下單後多久會收到商品？",
            "付款完成後 1–2 個工作天內出貨。"
            "超商取貨約在出貨後 2–3 個工作天到店，宅配約 1–2 個工作天送達。",
            "配送時間",
            "2026-10-01",
        ),
        (
            "預購商品什麼時候出貨？",
            "預購商品會在商品頁標示預計出貨日，通常是下單後 14–21 天。"
            "若有延遲，我們會以 Email 通知並提供取消選項。",
            "配送時間",
            "2026-08-20",
        ),
        (
            "怎麼查詢包裹目前送到哪裡？",
            "出貨時我們會寄出含物流單號的 Email 與簡訊，點選單號即可查看黑貓或超商的即時配送進度。",
            "配送時間",
            "2026-08-20",
        ),
        (
            "有提供海外寄送嗎？",
            "目前只配送台灣本島與澎湖、金門、馬祖，暫不提供海外寄送，也無法寄送到香港或澳門。",
            "配送範圍",
            "2026-09-15",
        ),
    ),
)

PAYMENT = SheetSpec(
    name="付款",
    header=ZH_HEADER,
    rows=(
        (
            "有哪些付款方式？",
            "可使用信用卡（VISA、Mastercard、JCB）、LINE Pay、街口支付、ATM 虛擬帳號轉帳，"
            "或選擇超商取貨付款。",
            "付款方式",
            "2026-10-01",
        ),
        (
            "信用卡可以分期嗎？",
            "單筆滿 NT$3,000 可選擇 3 期或 6 期 0 利率分期，"
            "合作銀行共 15 家，名單會顯示在結帳頁面。",
            "信用卡分期",
            "2026-10-01",
        ),
        (
            "ATM 轉帳的付款期限是多久？",
            "虛擬帳號在下單後 3 天內有效，逾期未付款的訂單會自動取消。"
            "每筆訂單的帳號都不同，請勿重複轉帳。",
            "付款方式",
            "2026-09-15",
        ),
        (
            "可以貨到付款嗎？",
            "只有超商取貨可以選擇「取貨付款」，單筆上限 NT$20,000；宅配目前不提供貨到付款。",
            "付款方式",
            "2026-09-15",
        ),
        (
            "發票怎麼開立？",
            "我們一律開立電子發票，可存入會員載具、手機條碼載具或自然人憑證，"
            "也可以捐贈給社福團體。",
            "發票",
            "2026-08-20",
        ),
        (
            "公司報帳需要統一編號，該怎麼填？",
            "結帳時在發票欄位選擇「公司戶（三聯式）」，填寫統一編號與公司抬頭即可，"
            "電子發票證明聯會寄到訂購人的 Email。",
            "發票",
            "2026-08-20",
        ),
        (
            "存在會員載具的發票中獎了怎麼辦？",
            "開獎後我們會以 Email 與簡訊通知中獎，並在 10 天內以掛號寄出紙本中獎發票；"
            "若存在手機條碼載具，可直接設定由財政部自動匯款。",
            "發票",
            "2026-09-15",
        ),
        (
            "信用卡付款失敗怎麼辦？",
            "請確認卡片已開通網路交易與 3D 驗證，並檢查額度是否足夠。"
            "若仍失敗，可改用 LINE Pay 或 ATM 轉帳完成付款。",
            "付款問題",
            "2026-09-15",
        ),
        (
            "為什麼信用卡被扣了兩次款？",
            "這通常是銀行的「授權預扣」，沒有成立的授權會在 7–14 天內自動取消，並不會實際請款。",
            "付款問題",
            "2026-08-20",
        ),
        (
            "LINE Pay 付款可以用 LINE POINTS 折抵嗎？",
            "可以，使用 LINE Pay 付款時可依 LINE Pay 規定以 LINE POINTS 折抵。"
            "退款時點數會退回您的 LINE Pay 帳戶。",
            "付款方式",
            "2026-10-01",
        ),
    ),
)

MEMBERSHIP = SheetSpec(
    name="會員",
    header=ZH_HEADER,
    rows=(
        (
            "如何加入會員？",
            "可用 Email 或手機號碼註冊，也能以 LINE 或 Google 帳號快速登入。"
            "註冊完成立即贈送 NT$100 購物金，單筆滿 NT$800 即可使用。",
            "加入會員",
            "2026-10-01",
        ),
        (
            "會員等級有哪些？",
            "分為一般會員、好日子會員（年消費滿 NT$6,000）與 VIP 會員（年消費滿 NT$20,000），"
            "點數回饋分別為 1%、3% 與 5%。",
            "會員等級",
            "2026-10-01",
        ),
        (
            "會員等級是怎麼計算的？",
            "依每年 1 月 1 日至 12 月 31 日的累計實付金額計算，並在隔年 1 月 1 日重新評定等級。",
            "會員等級",
            "2026-09-15",
        ),
        (
            "點數要怎麼使用？會過期嗎？",
            "1 點可折抵 NT$1，單筆最多折抵實付金額的 30%。"
            "點數自發放日起 12 個月內有效，逾期自動失效。",
            "點數",
            "2026-09-15",
        ),
        (
            "有生日禮嗎？",
            "有，生日當月登入會員中心即可領取生日禮金："
            "一般會員 NT$100、好日子會員 NT$200、VIP 會員 NT$500。",
            "會員福利",
            "2026-08-20",
        ),
        (
            "忘記密碼怎麼辦？",
            "在登入頁點選「忘記密碼」，輸入註冊的 Email 或手機號碼，"
            "我們會寄出重設連結，連結 30 分鐘內有效。",
            "帳號",
            "2026-08-20",
        ),
        (
            "可以更改註冊的手機號碼嗎？",
            "可以，請到會員中心「帳號設定」修改，新號碼需要通過簡訊驗證碼確認。",
            "帳號",
            "2026-08-20",
        ),
        (
            "怎麼取消訂閱電子報？",
            "點選電子報最下方的「取消訂閱」，或到會員中心「通知設定」關閉即可，訂單通知不受影響。",
            "帳號",
            "2026-09-15",
        ),
        (
            "如何刪除會員帳號？",
            "請到會員中心「帳號設定」最下方點選「刪除帳號」。刪除後點數與購物金將無法恢復，"
            "已成立訂單的交易紀錄仍會依法保存。",
            "帳號",
            "2026-10-01",
        ),
    ),
)

WARRANTY = SheetSpec(
    name="保固",
    header=ZH_HEADER,
    rows=(
        (
            "商品保固多久？",
            "家電與 3C 類商品自發票開立日起享有 1 年保固；"
            "收納、廚房與居家雜貨享有 6 個月品質保證。",
            "保固期間",
            "2026-10-01",
        ),
        (
            "哪些情況不在保固範圍內？",
            "人為損壞、摔落、進水、自行拆解或交由非授權維修廠維修，"
            "以及濾網、電池等消耗品，都不在保固範圍內。",
            "保固範圍",
            "2026-10-01",
        ),
        (
            "要怎麼申請保固維修？",
            "請到「我的訂單」點選「保固維修」，描述故障情形並上傳照片或影片。"
            "客服會在 2 個工作天內回覆，並提供免運費的回收單。",
            "維修流程",
            "2026-09-15",
        ),
        (
            "維修需要多久？",
            "商品送達維修中心後約 7–10 個工作天修復寄回；若無法修復，會更換同款新品或等值商品。",
            "維修流程",
            "2026-09-15",
        ),
        (
            "申請保固需要提供紙本發票嗎？",
            "不需要，電子發票已存在您的會員帳號中，保固期限以發票日期起算。",
            "保固期間",
            "2026-08-20",
        ),
        (
            "保固期過了還能維修嗎？",
            "可以付費維修，檢測費 NT$300，確定維修後可折抵維修費。"
            "我們會先報價，經您同意才會進行維修。",
            "保固期外",
            "2026-09-15",
        ),
        (
            "送修的運費由誰負擔？",
            "保固期內的來回運費由我們負擔；"
            "保固期外則由顧客負擔寄送到維修中心的運費，修好後的寄回運費由我們支付。",
            "維修流程",
            "2026-08-20",
        ),
        (
            "滿額贈品有保固嗎？",
            "贈品不提供保固，但若到貨 7 天內發現瑕疵，仍可以申請換新。",
            "保固範圍",
            "2026-08-20",
        ),
        (
            "可以加購延長保固嗎？",
            "售價 NT$5,000 以上的大型家電，可在購買後 30 天內加購延長保固 1 年，費用為售價的 8%。",
            "延長保固",
            "2026-10-01",
        ),
    ),
)

ENGLISH = SheetSpec(
    name="English FAQ",
    header=EN_HEADER,
    rows=(
        (
            "How long does delivery take?",
            "Orders ship within 1–2 business days after payment. Convenience-store pickup "
            "(7-ELEVEN or FamilyMart) reaches the store in 2–3 business days, and home delivery "
            "usually arrives in 1–2 business days.",
            "Shipping",
            "2026-10-01",
        ),
        (
            "How much is shipping?",
            "Shipping is free on orders of NT$990 or more. Below that, convenience-store pickup "
            "costs NT$60 and home delivery costs NT$100.",
            "Shipping",
            "2026-10-01",
        ),
        (
            "Do you ship outside Taiwan?",
            "Not at the moment. We deliver to Taiwan, Penghu, Kinmen and Matsu only, and cannot "
            "ship to Hong Kong or Macau.",
            "Shipping",
            "2026-09-15",
        ),
        (
            "Can I return an item I bought on sale?",
            "Yes. Sale and discounted items have the same 7-day cooling-off period as full-price "
            "items, as long as they are unused and in their original packaging.",
            "Returns",
            "2026-10-01",
        ),
        (
            "How do I request a refund?",
            'Open the order under "My Orders" and choose "Request a return". Once the item is '
            "back in our warehouse and checked, we issue the refund within 5 business days.",
            "Returns",
            "2026-09-15",
        ),
        (
            "Which payment methods do you accept?",
            "We accept Visa, Mastercard and JCB credit cards, LINE Pay, JKOPAY, ATM bank "
            "transfer, and cash on convenience-store pickup.",
            "Payment",
            "2026-09-15",
        ),
        (
            "Can I get a receipt in English?",
            "Taiwanese e-invoices are issued in Chinese, but on request we can email you an "
            "English proof of purchase showing the items and amount paid.",
            "Payment",
            "2026-08-20",
        ),
        (
            "Do I need a Taiwanese phone number to become a member?",
            "No, you can sign up with an email address. A Taiwanese mobile number is only needed "
            "to receive SMS notices for convenience-store pickup.",
            "Membership",
            "2026-08-20",
        ),
        (
            "What does the warranty cover?",
            "Appliances and electronics come with a 1-year warranty against defects under normal "
            "use. Accidental damage, water damage and consumables such as filters are not covered.",
            "Warranty",
            "2026-10-01",
        ),
        (
            "How can I reach customer service?",
            f"Use the chat button on our website or email {SUPPORT_EMAIL}. Human agents are "
            "available Monday to Friday, 9:00 to 18:00 Taiwan time.",
            "Contact",
            "2026-10-01",
        ),
    ),
)

SHEETS = (RETURNS, SHIPPING, PAYMENT, MEMBERSHIP, WARRANTY, ENGLISH)

CSV_HEADER = ("編號", "問題", "回答", "標籤")
CSV_ROWS: tuple[tuple[str, str, str, str], ...] = (
    (
        "KB-1001",
        "怎麼查詢我的訂單狀態？",
        "登入會員後到「我的訂單」即可查看每筆訂單的狀態。未註冊會員下單者，"
        "可到官網「訂單查詢」頁面輸入訂單編號與下單時的手機號碼查詢。",
        "訂單查詢",
    ),
    (
        "KB-1002",
        "訂單狀態顯示「處理中」是什麼意思？",
        "表示我們已經收到款項，倉庫正在揀貨與包裝，通常會在 1–2 個工作天內變成「已出貨」。",
        "訂單查詢,訂單狀態",
    ),
    (
        "KB-1003",
        "下單後沒有收到訂單確認信",
        "請先檢查垃圾郵件匣與促銷內容分類。若 30 分鐘後仍未收到，可能是 Email 填寫錯誤，"
        "請將訂單編號提供給線上客服，我們會協助更正並補寄。",
        "訂單查詢,Email",
    ),
    (
        "KB-1004",
        "如何取消訂單？",
        "訂單狀態為「待付款」或「已付款」時，可以自己取消：\n"
        "1. 登入後進入「我的訂單」\n"
        "2. 點選該筆訂單的「取消訂單」\n"
        "3. 選擇取消原因並送出\n"
        "訂單一旦進入「處理中」就無法取消，請在收到商品後改為申請退貨。",
        "取消訂單",
    ),
    (
        "KB-1005",
        "取消訂單後多久會退款？",
        "已付款的訂單取消後，會在 3 個工作天內辦理退款，款項會退回原付款方式；"
        "信用卡實際入帳時間依發卡銀行而定。",
        "取消訂單,退款",
    ),
    (
        "KB-1006",
        "下單後可以修改收件地址嗎？",
        "出貨前可以修改，請聯絡線上客服並提供訂單編號與新地址。"
        "已出貨的宅配包裹可請黑貓宅急便改址配送，"
        "但超商取貨的訂單無法更換取貨門市。",
        "修改地址",
    ),
    (
        "KB-1007",
        "已經下單了，還能加買或更換商品嗎？",
        "已成立的訂單無法增加或更換商品。您可以取消後重新下單，或另外再下一筆訂單，"
        "但兩筆訂單會分開計算運費與免運門檻。",
        "修改訂單",
    ),
    (
        "KB-1008",
        "訂單成立後才想到要打統一編號，還來得及嗎？",
        "發票開立的當月內可以申請作廢並重新開立含統一編號的發票，"
        "請提供訂單編號、統一編號與公司抬頭給客服。"
        "跨月後就無法更改。",
        "發票,修改訂單",
    ),
    (
        "KB-1009",
        "電子發票什麼時候開立？在哪裡看？",
        "電子發票會在商品出貨當天開立，並寄送開立通知到訂購人的 Email，"
        "也可以在「我的訂單」的訂單明細中查看發票號碼。",
        "發票",
    ),
    (
        "KB-1010",
        "商品顯示缺貨，什麼時候會補貨？",
        "可以點選商品頁的「貨到通知」，補貨後我們會第一時間寄 Email 通知您。"
        "補貨時間依廠商而定，通常需要 2–4 週。",
        "缺貨",
    ),
    (
        "KB-1011",
        "下單後才收到缺貨通知，該怎麼辦？",
        "若下單後發生缺貨，我們會在 2 個工作天內聯絡您，您可以選擇等待補貨、改換其他商品，"
        "或取消該商品並退款。",
        "缺貨,取消訂單",
    ),
)

# (heading, ((subheading, paragraph), ...)); each section is placed on its own page.
PolicySection = tuple[str, tuple[tuple[str, str], ...]]

POLICY_TITLE = f"{SHOP_NAME} 服務條款與政策"
POLICY_SUBTITLE = "2026 年版　生效日期：2026 年 10 月 1 日"

POLICY: tuple[PolicySection, ...] = (
    (
        "一、退換貨政策",
        (
            (
                "1. 七天鑑賞期",
                "依據消費者保護法，您在好日子生活選物網路商店購買的商品，享有到貨後七天的鑑賞期。"
                "鑑賞期從超商取貨或宅配簽收的隔天開始計算，例假日也包含在內。"
                "例如您在十月一日取貨，鑑賞期就是十月二日到十月八日。"
                "請注意，鑑賞期並不是試用期，退回的商品必須保持全新狀態，"
                "並附上完整的配件、贈品與原廠包裝。",
            ),
            (
                "2. 退貨申請方式",
                "會員請登入後前往「我的訂單」，"
                "選擇要退貨的訂單並點選「申請退貨」，填寫退貨原因後送出即可。"
                "我們會在一個工作天內安排物流人員到府收件；若原訂單是超商取貨，也可以到 7-ELEVEN "
                "或全家門市寄回，系統會提供有效期限七天的退貨代碼。"
                f"非會員購物者，請來信至 {SUPPORT_EMAIL}，並註明訂單編號、收件人姓名與退貨原因。",
            ),
            (
                "3. 退款方式與時間",
                "我們收到退回的商品並完成檢查後，會在五個工作天內辦理退款。"
                "以信用卡付款的訂單將直接刷退至原信用卡，"
                "實際入帳時間依發卡銀行作業而定，通常需要七到十四天；"
                "LINE Pay 與街口支付的款項約三到五個工作天退回原帳戶；"
                "ATM 轉帳與超商取貨付款的訂單，則需要您提供本人的銀行帳戶，以便我們匯款退還。",
            ),
            (
                "4. 不適用鑑賞期的商品",
                "依照通訊交易解除權合理例外情事適用準則，下列商品不適用七天鑑賞期："
                "已拆封的個人衛生用品，例如牙刷、內衣褲與化妝品；容易腐敗或保存期限較短的食品；"
                "以及依照您的要求刻字或客製化的商品。"
                "這些商品如果有瑕疵或寄錯，仍然可以在到貨後七天內申請換貨。",
            ),
        ),
    ),
    (
        "二、隱私權政策",
        (
            (
                "1. 我們蒐集的資料",
                "為了完成訂單與提供客服服務，我們會蒐集您的姓名、手機號碼、電子郵件、收件地址，"
                "以及您與客服的對話紀錄。"
                "信用卡號碼由合作的金流服務商直接處理，我們的系統不會儲存完整卡號。",
            ),
            (
                "2. 資料的使用目的",
                "您的個人資料只會用於處理訂單、配送商品、開立電子發票、提供售後服務，"
                "以及在您同意的情況下寄送電子報與優惠通知。"
                "我們不會將您的資料出售或出租給任何第三方。",
            ),
            (
                "3. 與合作夥伴分享",
                "為了完成配送與付款，我們必須將必要的資料提供給物流業者，例如黑貓宅急便、7-ELEVEN "
                "與全家便利商店，以及金流服務商。"
                "這些合作夥伴只能在完成該項服務的範圍內使用您的資料。",
            ),
            (
                "4. 客服對話紀錄",
                "我們的線上客服由 AI 助理先行回覆，遇到無法處理的問題時會轉由真人客服接手。"
                "對話內容會保存十二個月，用於改善回答品質與處理消費爭議，期滿後將自動刪除。",
            ),
            (
                "5. 您的權利",
                "依個人資料保護法，您可以隨時查詢、閱覽、補充或更正您的個人資料，"
                "也可以要求我們停止蒐集、"
                "處理、利用或刪除。"
                "請透過會員中心的「帳號設定」或來信客服信箱提出申請，我們會在十五個工作天內回覆。",
            ),
            (
                "6. Cookie 的使用",
                "本網站使用 Cookie 記住您的購物車內容與登入狀態，並統計網站流量。"
                "您可以在瀏覽器中停用 Cookie，但購物車等部分功能可能因此無法正常運作。",
            ),
        ),
    ),
    (
        "三、會員條款",
        (
            (
                "1. 加入會員",
                "年滿十八歲者可以使用電子郵件或手機號碼註冊成為會員；"
                "未滿十八歲者應經法定代理人同意後才能使用本服務。"
                "每人限申請一個帳號，註冊完成後即可獲得新會員購物金新台幣一百元，"
                "單筆消費滿八百元即可使用。",
            ),
            (
                "2. 會員等級與回饋",
                "會員分為一般會員、好日子會員及 VIP 會員三個等級。"
                "每年一月一日依前一年度的累計實付金額重新評定：年消費滿新台幣六千元升級為好日子會員，"
                "滿兩萬元升級為 VIP 會員。"
                "三個等級的點數回饋分別為消費金額的百分之一、百分之三與百分之五。",
            ),
            (
                "3. 點數與購物金",
                "點數一點可折抵新台幣一元，單筆訂單最多折抵實付金額的百分之三十。"
                "點數自發放日起十二個月內有效，逾期自動失效。"
                "購物金與點數都不能兌換現金，也不能轉讓給其他會員。"
                "訂單辦理退貨時，該筆訂單所獲得的點數將一併扣回。",
            ),
            (
                "4. 帳號安全",
                "請妥善保管您的帳號與密碼，不要提供給他人使用。"
                "如果發現帳號遭到盜用，請立即修改密碼並通知客服，"
                "我們會協助暫停帳號並調查相關交易。",
            ),
            (
                "5. 停權與終止",
                "會員如有大量下單後惡意不取貨、以不實資料註冊，"
                "或濫用優惠活動等情形，本公司得暫停或終止其會員資格。"
                "連續兩次超商取貨未取件的會員，將暫停使用超商取貨服務九十天。",
            ),
        ),
    ),
    (
        "四、保固條款",
        (
            (
                "1. 保固期間",
                "本公司販售的家電及 3C 類商品，自發票開立日起享有一年保固；"
                "收納、廚房與居家雜貨類商品享有六個月品質保證。實際保固期間以商品頁的標示為準。",
            ),
            (
                "2. 保固範圍",
                "商品在正常使用下發生的功能故障，於保固期間內可享免費維修或更換零件。"
                "下列情形不在保固範圍內：人為損壞、摔落、進水、使用非原廠配件、自行拆解或交由非授權維修廠維修，"
                "以及天災等不可抗力因素造成的損壞。濾網、電池與刀片等消耗品，也不在保固範圍內。",
            ),
            (
                "3. 申請維修",
                "請登入會員後到「我的訂單」點選「保固維修」，描述故障情形並上傳照片或影片。"
                "客服人員會在兩個工作天內回覆，並提供免運費的回收單。"
                "商品送達維修中心後，一般在七到十個工作天內修復寄回；"
                "若無法修復，我們將更換同款新品，或在同款停產時提供等值商品。",
            ),
            (
                "4. 保固期外維修",
                "保固期滿後仍可付費維修。每件商品酌收檢測費新台幣三百元，確定維修後可折抵維修費用。"
                "我們會先提供報價，經您同意後才進行維修；"
                "若您決定不維修，商品將原件寄回，寄回運費由您負擔。",
            ),
            (
                "5. 延長保固",
                "售價新台幣五千元以上的大型家電，"
                "可在購買後三十天內加購延長保固一年，費用為商品售價的百分之八。"
                "延長保固的範圍與原保固相同。",
            ),
            (
                "6. 條款修訂",
                "本公司保留修改上述各項政策的權利，修改後將公告於官網，"
                "並在生效前十四天以電子郵件通知會員。"
                f"如有任何疑問，歡迎透過線上客服或 {SUPPORT_EMAIL} 與我們聯繫。",
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# shop_faq.xlsx
# --------------------------------------------------------------------------------------------

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="FFE8D5")
COLUMN_WIDTHS = {"A": 38, "B": 90, "C": 14, "D": 13}


def _write_sheet(ws: Worksheet, spec: SheetSpec) -> None:
    """Fill one worksheet, including the title row and merged categories a loader must handle."""
    row_no = 1
    if spec.title:
        ws.cell(row=row_no, column=1, value=spec.title).font = Font(bold=True, size=14)
        # The empty row after the title is deliberate: real sheets have one and loaders trip on it.
        row_no += 2
    for col, label in enumerate(spec.header, start=1):
        cell = ws.cell(row=row_no, column=col, value=label)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    ws.freeze_panes = ws.cell(row=row_no + 1, column=1)
    first_data_row = row_no + 1

    for offset, (question, answer, category, updated) in enumerate(spec.rows):
        r = first_data_row + offset
        ws.cell(row=r, column=1, value=question)
        ws.cell(row=r, column=2, value=answer).alignment = Alignment(wrap_text=True)
        ws.cell(row=r, column=3, value=category)
        date_cell = ws.cell(row=r, column=4, value=date.fromisoformat(updated))
        date_cell.number_format = "yyyy-mm-dd"

    if spec.merge_categories:
        _merge_runs(ws, spec, first_data_row)

    for letter, width in COLUMN_WIDTHS.items():
        ws.column_dimensions[letter].width = width


def _merge_runs(ws: Worksheet, spec: SheetSpec, first_data_row: int) -> None:
    """Merge consecutive equal categories so only the top cell of each run keeps a value."""
    start = 0
    categories = [row[2] for row in spec.rows]
    for i in range(1, len(categories) + 1):
        if i == len(categories) or categories[i] != categories[start]:
            if i - start > 1:
                top, bottom = first_data_row + start, first_data_row + i - 1
                ws.merge_cells(start_row=top, start_column=3, end_row=bottom, end_column=3)
                ws.cell(row=top, column=3).alignment = Alignment(vertical="center")
            start = i


def _repack_zip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """Rewrite a zip with fixed entry timestamps so identical content gives identical bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIMESTAMP)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, replace.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def write_xlsx(path: Path) -> None:
    """Write the multi-sheet FAQ workbook."""
    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    for spec in SHEETS:
        _write_sheet(wb.create_sheet(spec.name), spec)

    wb.properties.creator = f"{SHOP_NAME} 客服部"
    wb.properties.title = f"{SHOP_NAME} 常見問題"
    wb.properties.created = FIXED_TIMESTAMP
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps "modified" with the current time on save, so the core properties are
    # re-serialised with the fixed timestamp while repacking.
    wb.properties.modified = FIXED_TIMESTAMP
    core = tostring(wb.properties.to_tree())
    path.write_bytes(_repack_zip(buf.getvalue(), {"docProps/core.xml": core}))


# --------------------------------------------------------------------------------------------
# orders_export.csv
# --------------------------------------------------------------------------------------------


def write_csv(path: Path) -> None:
    """Write the helpdesk export as UTF-8 with BOM and CRLF, the way Excel-friendly tools do."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(CSV_ROWS)


# --------------------------------------------------------------------------------------------
# policy.pdf
# --------------------------------------------------------------------------------------------

FONT_FAMILY = "WenQuanYiZenHei"


class PolicyPDF(FPDF):
    """A4 document with a page-number footer."""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT_FAMILY, size=9)
        self.set_text_color(120, 120, 120)
        self.cell(0, 10, f"{POLICY_TITLE}　第 {self.page_no()} 頁", align=Align.C)
        self.set_text_color(0, 0, 0)


def write_pdf(path: Path, font_path: Path) -> None:
    """Write the four-page policy document, one section per page."""
    # fontTools warns that it cannot subset the font's embedded bitmap strikes; they are simply
    # dropped, which is what we want, so the warning is only noise.
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

    pdf = PolicyPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font(FONT_FAMILY, "", str(font_path))
    pdf.set_creation_date(FIXED_TIMESTAMP.replace(tzinfo=UTC))
    pdf.set_title(POLICY_TITLE)
    pdf.set_author(f"{SHOP_NAME}（{SHOP_NAME_EN}）")
    pdf.set_creator("kefu knowledge/demo/build.py")
    pdf.set_lang("zh-TW")

    for index, (heading, subsections) in enumerate(POLICY):
        pdf.add_page()
        if index == 0:
            pdf.set_font(FONT_FAMILY, size=18)
            pdf.multi_cell(0, 10, POLICY_TITLE, align=Align.C, new_x=XPos.LMARGIN)
            pdf.set_font(FONT_FAMILY, size=10)
            pdf.multi_cell(0, 7, POLICY_SUBTITLE, align=Align.C, new_x=XPos.LMARGIN)
            pdf.ln(6)
        pdf.set_font(FONT_FAMILY, size=15)
        pdf.multi_cell(0, 10, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        for subheading, paragraph in subsections:
            pdf.set_font(FONT_FAMILY, size=12)
            pdf.multi_cell(0, 8, subheading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font(FONT_FAMILY, size=11)
            for line in _wrap_cjk(pdf, paragraph, pdf.epw):
                pdf.cell(0, 7, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)

    pdf.output(str(path))
    _verify_pdf(path)


# Punctuation that must not start a line / end a line under Taiwanese typesetting rules.
NO_LINE_START = frozenset("，。、；：！？」』）》〉…")
NO_LINE_END = frozenset("「『（《〈")
# Latin words, numbers, prices and e-mail addresses are kept whole; anything else (a CJK
# character, a space, punctuation) is its own break opportunity.
WRAP_TOKEN = re.compile(r"[A-Za-z0-9$@._%+\-–/,']+|\s|.")


def _wrap_cjk(pdf: FPDF, text: str, width: float) -> list[str]:
    """Break mixed CJK/Latin text into lines that fit width.

    fpdf2's own wrapping only breaks at spaces, so a space before an English word pushes the
    rest of a Chinese sentence onto the next line and leaves a half-empty line behind.
    """
    lines: list[str] = []
    line: list[str] = []
    for token in WRAP_TOKEN.findall(text):
        if token.isspace() and not line:
            continue
        if line and not token.isspace() and pdf.get_string_width("".join([*line, token])) > width:
            carry: list[str] = []
            if token in NO_LINE_START:
                # Take the preceding character along so the punctuation is not orphaned.
                while line and line[-1] in NO_LINE_START:
                    carry.insert(0, line.pop())
                if line:
                    carry.insert(0, line.pop())
            while line and (line[-1] in NO_LINE_END or line[-1].isspace()):
                popped = line.pop()
                if not popped.isspace():
                    carry.insert(0, popped)
            lines.append("".join(line))
            line = carry
        line.append(token)
    if line:
        lines.append("".join(line).rstrip())
    return lines


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _verify_pdf(path: Path) -> None:
    """Fail loudly if pypdf cannot extract the text we wrote (e.g. a broken ToUnicode map)."""
    reader = PdfReader(path)
    if len(reader.pages) != len(POLICY):
        raise RuntimeError(
            f"{path} has {len(reader.pages)} pages, expected {len(POLICY)}; shorten a section"
        )
    for page, (heading, subsections) in zip(reader.pages, POLICY, strict=True):
        extracted = _squash(page.extract_text())
        expected = [heading, *(part for pair in subsections for part in pair)]
        for text in expected:
            if _squash(text) not in extracted:
                raise RuntimeError(f"text not extractable from {path}: {text[:30]}…")


# --------------------------------------------------------------------------------------------


def build(out_dir: Path, font_path: Path = FONT_PATH) -> list[Path]:
    """Write all three demo files into out_dir and return their paths."""
    if not font_path.is_file():
        raise SystemExit(
            f"CJK font not found at {font_path}. Install it with:\n"
            f"    sudo apt-get install {FONT_PACKAGE}\n"
            "or pass another TrueType CJK font with --font."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx, csv_path, pdf = (
        out_dir / "shop_faq.xlsx",
        out_dir / "orders_export.csv",
        out_dir / "policy.pdf",
    )
    write_xlsx(xlsx)
    write_csv(csv_path)
    write_pdf(pdf, font_path)
    return [xlsx, csv_path, pdf]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--font", type=Path, default=FONT_PATH, help=f"CJK font file (default: {FONT_PATH})"
    )
    args = parser.parse_args(argv)
    for path in build(args.out, args.font):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
