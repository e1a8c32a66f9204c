"""The built-in ticket forms: seed 001's categories, topics and fields, in English and
Russian. A `ticket_forms:` block in the configuration file replaces them whole.

Seed 001 names the fields of its example topic (a problem with chats: the account
number, the chat id, the dialog id, the channel) and says other topics add their
own (the call id for telephony); the categories are seed 004's sections.
"""

from __future__ import annotations

from typing import Any


def _l(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


# Seed 001: "Номер ЛК" is shown next to the company's name; it is digits.
ACCOUNT = {
    "name": "account_number",
    "label": _l("Account number", "Номер ЛК"),
    "type": "text",
    "required": True,
    "pattern": r"^[0-9]{1,20}$",
    "max_length": 20,
    "hint": _l(
        "Top right of your account, next to the company's name",
        "В правом верхнем углу личного кабинета, рядом с названием компании",
    ),
}
CHANNEL = {
    "name": "channel",
    "label": _l(
        "Channel where the problem occurred", "Канал коммуникации, в котором возникла проблема"
    ),
    "type": "select",
    "required": True,
    "options": [
        {"value": "telegram", "label": _l("Telegram", "Telegram")},
        {"value": "whatsapp", "label": _l("WhatsApp", "WhatsApp")},
        {"value": "vk", "label": _l("VK", "ВКонтакте")},
        {"value": "viber", "label": _l("Viber", "Viber")},
        {"value": "web_widget", "label": _l("Website widget", "Виджет на сайте")},
        {"value": "other", "label": _l("Other", "Другой")},
    ],
}
IDENTIFIER = r"^[A-Za-z0-9_.:\-]{1,100}$"


def _id_field(name: str, en: str, ru: str, required: bool, hint: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "label": _l(en, ru),
        "required": required,
        "pattern": IDENTIFIER,
        "max_length": 100,
        "hint": hint,
    }


CHAT_ID = _id_field(
    "chat_id",
    "Chat id of the conversation",
    "Идентификатор чата, в котором происходил диалог",
    True,
    _l("Chats → Settings, the button next to the chat", "Чаты → Настройки, кнопка напротив чата"),
)
DIALOG_ID = _id_field(
    "dialog_id",
    "Dialog id",
    "Идентификатор диалога",
    False,
    _l(
        "Chats → Settings → View dialogs, the button next to the dialog",
        "Чаты → Настройки → Просмотреть диалоги, кнопка напротив диалога",
    ),
)
CALL_ID = _id_field(
    "call_id",
    "Call id",
    "Идентификатор звонка",
    True,
    _l("In the call's card in the call log", "В карточке звонка в журнале звонков"),
)
SCENARIO = _id_field(
    "scenario_id",
    "Scenario id",
    "Идентификатор сценария",
    False,
    _l("In the scenario's settings", "В настройках сценария"),
)
PHONE = {
    "name": "phone",
    "label": _l("Phone number called", "Номер телефона, на который звонили"),
    "type": "phone",
    "max_length": 32,
}
PERIOD = {
    "name": "period",
    "label": _l("Period (month)", "Период (месяц)"),
    "required": True,
    "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$",
    "max_length": 7,
    "hint": _l("As YYYY-MM, e.g. 2026-11", "В виде ГГГГ-ММ, например 2026-11"),
}
EMAIL = {
    "name": "contact_email",
    "label": _l("E-mail for the documents", "E-mail для документов"),
    "type": "email",
    "max_length": 254,
}

DEFAULT: dict[str, Any] = {
    "categories": [
        {
            "id": "system_errors",
            "section": "system_errors",
            "label": _l("System errors", "Ошибки системы"),
            "hint": _l("Something does not work", "Что-то не работает"),
            "topics": [
                {
                    "id": "chats",
                    "label": _l("Problem with chats", "Проблема с чатами"),
                    "fields": [ACCOUNT, CHAT_ID, DIALOG_ID, CHANNEL],
                },
                {
                    "id": "telephony",
                    "label": _l(
                        "Problem with telephony or a call campaign",
                        "Проблема с телефонией или обзвоном",
                    ),
                    "fields": [ACCOUNT, CALL_ID, PHONE],
                },
                {
                    "id": "scenario",
                    "label": _l(
                        "A scenario is not saved or works wrongly",
                        "Не сохраняется сценарий или работает неправильно",
                    ),
                    "fields": [ACCOUNT, SCENARIO],
                },
                {
                    "id": "reports",
                    "label": _l(
                        "A report or statistics is not produced",
                        "Не формируется отчёт или статистика",
                    ),
                    "fields": [ACCOUNT],
                },
                {
                    "id": "integration",
                    "label": _l(
                        "An integration with a partner does not work",
                        "Не работает интеграция с партнёром",
                    ),
                    "fields": [ACCOUNT],
                },
            ],
        },
        {
            "id": "app_help",
            "section": "app_help",
            "label": _l("Application help", "Помощь по приложению"),
            "hint": _l("How do I…", "Как сделать…"),
            "topics": [
                {
                    "id": "how_to",
                    "label": _l(
                        "A question about using the platform", "Вопрос по работе с платформой"
                    ),
                    "fields": [ACCOUNT],
                },
                {
                    "id": "mailings",
                    "label": _l("Client mailings", "Клиентские рассылки"),
                    "fields": [ACCOUNT],
                },
                {
                    "id": "suggestion",
                    "label": _l(
                        "A suggestion to improve the platform", "Предложение по улучшению платформы"
                    ),
                    "fields": [{**ACCOUNT, "required": False}],
                },
            ],
        },
        {
            "id": "documents_finance",
            "section": "documents_finance",
            "label": _l("Documents/Finance", "Документы/Финансы"),
            "hint": _l("Billing and documents", "Биллинг и документы"),
            "topics": [
                {
                    "id": "metric_billing",
                    "subtype": "metric_billing",
                    "label": _l("Metric billing request", "Запрос тарификации метрики"),
                    "fields": [ACCOUNT, PERIOD],
                },
                {
                    "id": "other",
                    "subtype": "other",
                    "label": _l("Other", "Иное"),
                    "fields": [ACCOUNT, EMAIL],
                },
            ],
        },
    ]
}
