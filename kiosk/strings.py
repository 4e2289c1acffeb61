"""Every text the kiosk shows, in Chinese and English. Chinese is the default language."""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]

TEXTS: dict[str, tuple[str, str]] = {
    "welcome": ("欢迎办事，请选择办理事项", "Welcome. Please choose a service"),
    "scan_hint": ("已预约？请扫描预约二维码或身份证签到",
                  "Booked online? Scan your appointment QR code or ID card to check in"),
    "switch_language": ("English", "中文"),
    "elderly_on": ("长辈模式", "Large text"),
    "elderly_off": ("标准模式", "Standard"),
    "take_ticket": ("取号", "Take a ticket"),
    "print_notice": ("打印一次性告知单", "Print the checklist"),
    "back": ("返回", "Back"),
    "done": ("完成", "Done"),
    "retry": ("重试", "Retry"),
    "busy": ("正在取号，请稍候…", "Getting your ticket, please wait…"),
    "materials": ("所需材料", "What to bring"),
    "no_materials": ("无需材料", "Nothing to bring"),
    "promised": ("承诺时限", "Promised time"),
    "statutory": ("法定时限", "Statutory limit"),
    "fees": ("收费标准", "Fees"),
    "legal_basis": ("设定依据", "Legal basis"),
    "your_number": ("您的号码", "Your number"),
    "people_ahead": ("前面等候 {n} 人", "{n} people ahead of you"),
    "estimated_wait": ("预计等候约 {m} 分钟", "Estimated wait about {m} min"),
    "take_receipt": ("请取走取号凭条，留意叫号",
                     "Please take your ticket and listen for your number"),
    "notice_printed": ("告知单已打印，请取走", "The checklist is printed; please take it"),
    "printer_error_title": ("打印机暂时无法打印", "The printer cannot print right now"),
    "printer_error_body": (
        "您已取号成功，号码有效。请记住号码或用手机扫描二维码，留意叫号。\n需要纸质凭条请到{where}。",
        "Your ticket is valid. Remember the number or scan the QR code with your phone.\n"
        "For a paper ticket please go to {where}.",
    ),
    "broker_away_title": ("网络连接暂时中断", "The connection is interrupted"),
    "broker_away_body": (
        "正在自动重试，不会重复取号。也可以到{where}办理。",
        "Retrying automatically; you will not get two tickets. You can also go to {where}.",
    ),
    "refused_title": ("暂时无法取号", "No ticket could be issued"),
    "checked_in": ("预约签到成功", "Checked in"),
    "id_read": ("已读取身份证 {masked}，请选择事项",
                "ID card {masked} read. Please choose a service"),
    "id_no_appointment": ("未查到身份证 {masked} 今天的预约，请选择事项取号",
                          "No appointment today for ID card {masked}. Please choose a service"),
    "checked_in_id": ("预约签到成功 · 身份证 {masked}", "Checked in · ID card {masked}"),
    "id_invalid": ("身份证号码无效，请重新刷卡", "The ID number is not valid. Please try again"),
    "help_desk": ("综合咨询台", "the enquiry desk"),
    "window_n": ("{n} 号窗口", "window {n}"),
    "printer_paused": ("凭条打印机暂停使用，取号后号码和二维码将显示在屏幕上",
                       "The ticket printer is paused; your number and QR code will be shown "
                       "on screen"),
    "scan_to_follow": ("扫码查看排队进度", "Scan to follow the queue"),
}


def text(key: str, language: Language, **values: object) -> str:
    zh, en = TEXTS[key]
    return (zh if language == "zh" else en).format(**values)
