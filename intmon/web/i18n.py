"""Every word the console shows, in English and Russian, and how a request picks one.

The language comes from `?lang=` (then kept in the session), else the browser's
Accept-Language, else English. The Russian names of sections, subtypes and
statuses are the ones of the help page the ticket pages follow (seed 004).
Both languages have exactly the same keys (a test compares them); the ticket's
sentences (`i18n_tickets`), support's actions (`i18n_actions`) and the monthly
report's page (`i18n_reports`) are merged in,
and the domain's refusals are put in words by `refusals`.

Times are shown in the viewer's zone: `?tz=` (kept in the session), else the
`tz` cookie the console's script sets from the browser's own zone, else UTC;
to the second, with the zone named, month names in the page's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

# The languages and the Accept-Language rule are the API's too; named here for the pages.
from intmon.languages import DEFAULT as DEFAULT
from intmon.languages import LANGUAGES as LANGUAGES
from intmon.languages import from_accept_language as from_accept_language
from intmon.web import i18n_actions, i18n_forms, i18n_reports, i18n_tickets, i18n_windows

EN: dict[str, str] = {
    # navigation and roles
    "nav.board": "Status board",
    "nav.tickets": "Help: tickets",
    "nav.new_ticket": "Create ticket",
    "nav.logout": "Log out",
    "role.support": "support",
    "role.client": "client",
    "common.updated": "Updated {at}",
    # login
    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong username or password.",
    "login.throttled": "Too many failed attempts. Try again in a few minutes.",
    # errors
    "error.not_found": "Not found",
    "error.forbidden": "Not allowed for your role",
    "error.csrf": "The form has expired or did not come from this site; reload the page "
    "and try again",
    "error.form": "The form could not be read",
    "error.home": "Back to the start page",
    "error.bad_request": "The request could not be accepted",
    "error.method": "This page does not take that kind of request",
    "error.too_large": "The request is too large",
    # board
    "board.title": "Status board",
    "board.integrations": "Integrations",
    "board.incidents": "Open incidents",
    "board.tickets": "Active tickets",
    "board.open_incidents": "open incidents",
    "board.active_tickets": "active tickets",
    "board.sla_breached": "SLA breached",
    "board.no_integrations": "No integrations are watched yet.",
    "board.page_of": "Page {page} of {pages} ({total} integrations, what needs someone first)",
    "board.previous": "← Previous page",
    "board.next": "Next page →",
    "board.no_incidents": "No open incidents.",
    "board.no_tickets": "No active tickets.",
    "board.platform_outage": "Platform outage #{id} since {since}: intmon's own network is "
    "failing ({cause}, {outcome}). Partner connectivity failures are recorded but open no "
    "incident or ticket until it clears.",
    # states, incidents, families
    "state.up": "up",
    "state.down": "down",
    "state.maintenance": "maintenance",
    "state.unknown": "unknown",
    "state.stale": "stale",
    "stale.budget": "skipped by the request budget",
    "stale.in_flight": "previous run still running",
    "stale.no_worker": "due, but no worker ran it",
    "incident.open": "open",
    "incident.resolved": "resolved",
    "incident.flapping": "flapping",
    "family.auth": "Authentication",
    "family.connectivity": "Unreachable",
    "family.server": "Server errors",
    "family.contract": "Contract changed or requests rejected",
    "family.rate_limit": "Rate limited",
    "family.degraded": "Slow",
    "family.e2e": "End-to-end test failed",
    "family.platform": "intmon configuration (platform side)",
    "family.heartbeat": "Heartbeat missed or job failed",
    "family.postback": "Broker's postbacks missing",
    "family.lead_flow": "Lead acceptance or delivery time off its usual",
    # table columns
    "col.integration": "Integration",
    "col.client": "Client",
    "col.state": "State",
    "col.last_outcome": "Last outcome",
    "col.last_checked": "Last checked",
    "col.family": "Failure",
    "col.since": "Since",
    "col.failures": "Failures",
    "col.ticket": "Ticket",
    "col.number": "Number",
    "col.topic": "Topic",
    "col.status": "Status",
    "col.sla": "First response",
    "col.created": "Created",
    "col.section": "Question type",
    "col.check": "Check",
    "col.request": "Request",
    "col.outcome": "Outcome",
    "col.detail": "Detail",
    "col.at": "When",
    "col.resolved": "Resolved",
    "col.name": "Name",
    "col.window": "Window",
    "col.reason": "Reason",
    "col.now": "Now",
    "col.who": "Who",
    "col.change": "Change",
    # SLA and time
    "sla.due_in": "due in {span}",
    "sla.breached_ago": "overdue by {span}",
    "sla.breached": "overdue",
    "sla.met": "answered in time",
    "time.ago": "{span} ago",
    "time.days": "{n} d",
    "time.hours": "{n} h",
    "time.minutes": "{n} min",
    "time.seconds": "{n} s",
    # integration page
    "integration.kind": "Kind",
    "kind.advertiser": "advertiser",
    "kind.broker": "broker",
    "kind.shop": "shop",
    "kind.other": "other",
    "integration.tier": "Tariff",
    "integration.base_url": "Base URL",
    "integration.interval": "Checked",
    "integration.every": "every {seconds} s",
    "integration.checks": "Checks",
    "integration.heartbeats": "Heartbeats (jobs that ping intmon)",
    # the board's cell of an integration's push monitors
    "col.monitors": "Heartbeats and postbacks",
    "monitors.heartbeats": "heartbeats: {n}",
    "monitors.late": "late: {n}",
    "monitors.last_ping": "last ping {span} ago",
    "monitors.next_due": "next due in {span}",
    "monitors.due_now": "next ping due now",
    "monitors.postbacks": "postbacks",
    "board.monitor_alarms": "late heartbeats or missing postbacks",
    "heartbeat.expects_period": "every {seconds} s",
    "heartbeat.grace": "grace {seconds} s",
    "heartbeat.last_ping": "Last ping",
    "heartbeat.next_due": "Next due",
    "heartbeat.new": "waiting for the first ping",
    "heartbeat.up": "on time",
    "heartbeat.missed": "missed",
    "heartbeat.failed": "job reported a failure",
    "integration.postbacks": "Postbacks (the broker's status callbacks about accepted leads)",
    "postback.window": "Window",
    "postback.window_s": "last {seconds} s",
    "postback.received": "Postbacks received",
    "postback.ratio": "Accepted leads with a postback",
    "postback.share": "{got} of {leads} ({percent} %)",
    "postback.min_ratio": "at least {percent} %",
    "postback.last_received": "Last postback",
    "postback.ok": "enough postbacks",
    "postback.missed": "postbacks missing",
    "postback.too_few_leads": "too few leads to judge",
    "integration.results": "Latest results",
    "integration.incidents": "Incidents",
    "integration.maintenance": "Maintenance windows",
    "integration.no_results": "No results yet.",
    "integration.no_incidents": "No incidents.",
    "integration.no_windows": "No maintenance windows.",
    "integration.e2e_runs": "End-to-end scenario runs",
    "integration.no_e2e_runs": "No scenario runs yet.",
    "col.scenario": "Scenario",
    "col.trigger": "Started by",
    "col.duration": "Duration",
    "maintenance.active_until": "on until {at}",
    "maintenance.next": "next at {at}",
    "maintenance.over": "over",
    # tickets: list and filters
    "tickets.title": "Help: tickets",
    "tickets.intro": "Your requests to support: their status, answers and history. "
    "The list refreshes itself.",
    "tickets.create": "Create ticket",
    "tickets.count": "{count} ticket(s)",
    "tickets.none": "No tickets match.",
    "filter.any": "any",
    "filter.apply": "Filter",
    "filter.reset": "Reset",
    # tickets: sections, subtypes, statuses, tiers, origins, authors
    "section.app_help": "Application help",
    "section.system_errors": "System errors",
    "section.documents_finance": "Documents/Finance",
    "section_hint.app_help": "questions about using the platform",
    "section_hint.system_errors": "technical problems, failures, connection problems",
    "section_hint.documents_finance": "billing, documents, payments",
    "subtype.metric_billing": "Metric billing request",
    "subtype.other": "Other",
    "status.open": "Open",
    "status.in_progress": "In progress",
    "status.waiting_for_reply": "Waiting for reply",
    "status.closed": "Closed",
    "status.rejected": "Rejected",
    "tier.social": "social",
    "tier.standard": "standard",
    "tier.premium": "premium",
    "origin.manual": "created by hand",
    "origin.incident": "opened by monitoring",
    "author.system": "System",
    "author.support": "Support",
    "author.client": "Client",
    # tickets: create
    "new.title": "Create ticket",
    "new.intro": "Choose the type of question, describe the problem in detail "
    "(what happens, since when, what you did, what you expected) and send it.",
    "new.subtype_hint": "(Documents/Finance only)",
    "new.no_integration": "none",
    "new.client_hint": "(needed when no integration is chosen)",
    "new.tier_default": "from the integration",
    "new.submit": "Send",
    # tickets: one ticket
    "ticket.back": "All tickets",
    "ticket.details": "Details",
    "ticket.thread": "Conversation",
    "ticket.no_comments": "No answers yet.",
    "ticket.internal": "internal",
    "ticket.internal_hint": "Internal note (not shown to the client)",
    "ticket.reply": "Your answer",
    "ticket.send": "Send",
    "ticket.rejected_note": "This ticket was rejected; create a new one to continue.",
    "ticket.change_status": "Status",
    "ticket.change_section": "Question type",
    "ticket.apply": "Change",
    "ticket.history": "History",
    "action.created": "created",
    "action.status": "status",
    "action.section": "question type",
    "action.comment_public": "answer",
    "action.comment_internal": "internal note",
    "action.sla_breached": "first response overdue",
    "ticket.via_email": "by e-mail",
    # field names (form fields, and the fields the domain names in its messages)
    "field.status": "Status",
    "field.section": "Question type",
    "field.subtype": "Subtype",
    "field.integration": "Integration",
    "field.client": "Client",
    "field.tier": "Tariff",
    "field.topic": "Topic",
    "field.description": "Question",
    "field.body": "Answer",
    "field.visibility": "Visibility",
    "field.reason": "Reason",
    "field.created_from": "Created from",
    "field.created_to": "Created to",
    "field.comment": "Answer",
    "field.form": "Form",
    "field.integration_name": "Integration name",
    "field.failure_class": "Failure class",
    "field.family": "Failure",
    "field.first_seen": "First seen",
    "field.last_seen": "Last seen",
    "field.summary": "Summary",
    "field.request": "Failing request",
    "field.response": "Response",
    "field.steps_to_reproduce": "Steps to reproduce",
    "field.first_steps": "First steps for support",
    "field.history": "Where to see the history",
    "field.contract_changes": "Changed since the check last passed",
    "field.last_passed_at": "Last passed",
    "incident.changes": "changed",
    # history: result bars, uptime, latency, certificates, badges (issue 23)
    "col.recent": "Last 50 results",
    "col.uptime_24h": "Uptime 24 h",
    "col.certificate": "Certificate",
    "board.down_since": "for {span}",
    "bar.label": "The last {n} results, oldest first",
    "bar.none": "no recent results",
    "bar.inhibited": "held back by a platform outage",
    "unit.ms": "{n} ms",
    "window.24h": "24 h",
    "window.7d": "7 d",
    "window.30d": "30 d",
    "integration.uptime": "Uptime",
    "integration.latency": "Response time per hour",
    "integration.badge": "Uptime badge",
    "uptime.counts": "{up} up, {down} down",
    "uptime.maintenance": "{n} in maintenance, not counted",
    "uptime.inhibited": "{n} held back by a platform outage, not counted",
    "certificate.expired": "expired {span} ago",
    "certificate.days_left": "{n} days left",
    "latency.none": "No results in this period.",
    "latency.hour": "{n} results",
    "results.older": "Older results →",
    "results.newest": "← Newest results",
    "badge.label": "uptime {window}",
    "badge.no_data": "no data",
    "badge.explain": "A secret link for the client's own status page: whoever has it sees "
    "this integration's uptime as a picture, and nothing else.",
    "badge.windows": "24 h by default; add ?window=7d or ?window=30d for longer, ?lang=ru "
    "for Russian.",
    "outcome.ok": "OK",
    "outcome.slow": "slow",
    "outcome.auth_failure": "authentication failed",
    "outcome.dns_failure": "name not found (DNS)",
    "outcome.connection_refused": "connection refused",
    "outcome.timeout": "timed out",
    "outcome.tls_error": "TLS error",
    "outcome.server_error": "server error",
    "outcome.client_error": "request rejected",
    "outcome.rate_limited": "rate limited",
    "outcome.contract_violation": "contract violated",
    "outcome.egress_denied": "refused by the egress policy",
    "outcome.config_error": "intmon configuration error",
    "outcome.missed_heartbeat": "heartbeat missed",
    "outcome.missed_postbacks": "postbacks missing",
    "outcome.lead_flow_anomaly": "lead flow off its usual",
}

RU: dict[str, str] = {
    "nav.board": "Статус",
    "nav.tickets": "Помощь: тикеты",
    "nav.new_ticket": "Создать тикет",
    "nav.logout": "Выйти",
    "role.support": "поддержка",
    "role.client": "клиент",
    "common.updated": "Обновлено {at}",
    "login.title": "Вход",
    "login.username": "Имя пользователя",
    "login.password": "Пароль",
    "login.submit": "Войти",
    "login.failed": "Неверное имя пользователя или пароль.",
    "login.throttled": "Слишком много неудачных попыток. Повторите через несколько минут.",
    "error.not_found": "Не найдено",
    "error.forbidden": "Недоступно для вашей роли",
    "error.csrf": "Форма устарела или отправлена не с этого сайта; обновите страницу "
    "и попробуйте ещё раз",
    "error.form": "Не удалось прочитать форму",
    "error.home": "На главную",
    "error.bad_request": "Запрос не может быть принят",
    "error.method": "Эта страница не принимает такой запрос",
    "error.too_large": "Слишком большой запрос",
    "board.title": "Статус интеграций",
    "board.integrations": "Интеграции",
    "board.incidents": "Открытые инциденты",
    "board.tickets": "Активные тикеты",
    "board.open_incidents": "открытых инцидентов",
    "board.active_tickets": "активных тикетов",
    "board.sla_breached": "SLA нарушен",
    "board.no_integrations": "Интеграции пока не отслеживаются.",
    "board.page_of": "Страница {page} из {pages} (интеграций: {total}, сначала требующие внимания)",
    "board.previous": "← Предыдущая страница",
    "board.next": "Следующая страница →",
    "board.no_incidents": "Открытых инцидентов нет.",
    "board.no_tickets": "Активных тикетов нет.",
    "board.platform_outage": "Сбой платформы №{id} с {since}: не работает собственная сеть "
    "intmon ({cause}, {outcome}). Сбои связи с партнёрами записываются, но инциденты и "
    "тикеты по ним не открываются, пока сбой не закончится.",
    "state.up": "работает",
    "state.down": "сбой",
    "state.maintenance": "техработы",
    "state.unknown": "нет данных",
    "state.stale": "нет свежих данных",
    "stale.budget": "пропущена из-за лимита запросов",
    "stale.in_flight": "предыдущий запуск ещё идёт",
    "stale.no_worker": "пора запускать, но никто не запустил",
    "incident.open": "открыт",
    "incident.resolved": "устранён",
    "incident.flapping": "нестабильно",
    "family.auth": "Ошибка аутентификации",
    "family.connectivity": "Недоступен",
    "family.server": "Ошибки сервера",
    "family.contract": "Изменился контракт или запросы отклоняются",
    "family.rate_limit": "Превышен лимит запросов",
    "family.degraded": "Медленные ответы",
    "family.e2e": "Сквозной тест не прошёл",
    "family.platform": "Конфигурация intmon (сторона платформы)",
    "family.heartbeat": "Нет сигнала от задания или задание сообщило об ошибке",
    "family.postback": "Нет постбэков от брокера",
    "family.lead_flow": "Доля принятых лидов или время доставки не как обычно",
    "col.integration": "Интеграция",
    "col.client": "Клиент",
    "col.state": "Состояние",
    "col.last_outcome": "Последний результат",
    "col.last_checked": "Последняя проверка",
    "col.family": "Сбой",
    "col.since": "С",
    "col.failures": "Ошибок",
    "col.ticket": "Тикет",
    "col.number": "Номер",
    "col.topic": "Тема",
    "col.status": "Статус",
    "col.sla": "Первый ответ",
    "col.created": "Создан",
    "col.section": "Тип вопроса",
    "col.check": "Проверка",
    "col.request": "Запрос",
    "col.outcome": "Результат",
    "col.detail": "Подробности",
    "col.at": "Когда",
    "col.resolved": "Устранён",
    "col.name": "Название",
    "col.window": "Окно",
    "col.reason": "Причина",
    "col.now": "Сейчас",
    "col.who": "Кто",
    "col.change": "Изменение",
    "sla.due_in": "через {span}",
    "sla.breached_ago": "просрочен на {span}",
    "sla.breached": "просрочен",
    "sla.met": "дан вовремя",
    "time.ago": "{span} назад",
    "time.days": "{n} д",
    "time.hours": "{n} ч",
    "time.minutes": "{n} мин",
    "time.seconds": "{n} с",
    "integration.kind": "Вид",
    "kind.advertiser": "рекламодатель",
    "kind.broker": "брокер",
    "kind.shop": "магазин",
    "kind.other": "другое",
    "integration.tier": "Тариф",
    "integration.base_url": "Базовый URL",
    "integration.interval": "Проверяется",
    "integration.every": "каждые {seconds} с",
    "integration.checks": "Проверки",
    "integration.heartbeats": "Heartbeat-мониторы (задания, которые сами сообщают intmon)",
    "col.monitors": "Сигналы заданий и постбэки",
    "monitors.heartbeats": "сигналов заданий: {n}",
    "monitors.late": "опаздывают: {n}",
    "monitors.last_ping": "последний сигнал {span} назад",
    "monitors.next_due": "следующий через {span}",
    "monitors.due_now": "следующий сигнал ожидается сейчас",
    "monitors.postbacks": "постбэки",
    "board.monitor_alarms": "задания опаздывают или нет постбэков",
    "heartbeat.expects_period": "каждые {seconds} с",
    "heartbeat.grace": "запас {seconds} с",
    "heartbeat.last_ping": "Последний сигнал",
    "heartbeat.next_due": "Ожидается",
    "heartbeat.new": "ждём первый сигнал",
    "heartbeat.up": "вовремя",
    "heartbeat.missed": "пропущен",
    "heartbeat.failed": "задание сообщило об ошибке",
    "integration.postbacks": "Постбэки (уведомления брокера о статусах принятых лидов)",
    "postback.window": "Окно",
    "postback.window_s": "последние {seconds} с",
    "postback.received": "Получено постбэков",
    "postback.ratio": "Принятые лиды с постбэком",
    "postback.share": "{got} из {leads} ({percent} %)",
    "postback.min_ratio": "не менее {percent} %",
    "postback.last_received": "Последний постбэк",
    "postback.ok": "постбэков достаточно",
    "postback.missed": "нет постбэков",
    "postback.too_few_leads": "слишком мало лидов для оценки",
    "integration.results": "Последние результаты",
    "integration.incidents": "Инциденты",
    "integration.e2e_runs": "Сквозные сценарии",
    "integration.no_e2e_runs": "Сценарии ещё не запускались.",
    "col.scenario": "Сценарий",
    "col.trigger": "Кто запустил",
    "col.duration": "Длительность",
    "integration.maintenance": "Окна техработ",
    "integration.no_results": "Результатов пока нет.",
    "integration.no_incidents": "Инцидентов нет.",
    "integration.no_windows": "Окон техработ нет.",
    "maintenance.active_until": "идут до {at}",
    "maintenance.next": "следующее {at}",
    "maintenance.over": "завершено",
    "tickets.title": "Помощь: тикеты",
    "tickets.intro": "Ваши обращения в поддержку: статус, ответы и история. "
    "Список обновляется автоматически.",
    "tickets.create": "Создать тикет",
    "tickets.count": "Тикетов: {count}",
    "tickets.none": "Подходящих тикетов нет.",
    "filter.any": "любой",
    "filter.apply": "Найти",
    "filter.reset": "Сбросить",
    "section.app_help": "Помощь по приложению",
    "section.system_errors": "Ошибки системы",
    "section.documents_finance": "Документы/Финансы",
    "section_hint.app_help": "вопросы по использованию",
    "section_hint.system_errors": "технические проблемы, сбои, проблемы с подключением",
    "section_hint.documents_finance": "вопросы по биллингу и документам",
    "subtype.metric_billing": "Запрос тарификации метрики",
    "subtype.other": "Иное",
    "status.open": "Открыт",
    "status.in_progress": "В работе",
    "status.waiting_for_reply": "Ожидает ответа",
    "status.closed": "Закрыт",
    "status.rejected": "Отклонен",
    "tier.social": "социальный",
    "tier.standard": "стандартный",
    "tier.premium": "премиум",
    "origin.manual": "создан вручную",
    "origin.incident": "открыт мониторингом",
    "author.system": "Система",
    "author.support": "Поддержка",
    "author.client": "Клиент",
    "new.title": "Создать тикет",
    "new.intro": "Выберите раздел вопроса, подробно опишите проблему (что происходит, "
    "когда возникла, что вы делали, что ожидали) и нажмите «Отправить».",
    "new.subtype_hint": "(только для раздела «Документы/Финансы»)",
    "new.no_integration": "не выбрана",
    "new.client_hint": "(нужен, если интеграция не выбрана)",
    "new.tier_default": "по интеграции",
    "new.submit": "Отправить",
    "ticket.back": "Все тикеты",
    "ticket.details": "Подробности",
    "ticket.thread": "Переписка",
    "ticket.no_comments": "Ответов пока нет.",
    "ticket.internal": "внутренний",
    "ticket.internal_hint": "Внутренняя заметка (клиент её не видит)",
    "ticket.reply": "Ваш ответ",
    "ticket.send": "Отправить",
    "ticket.rejected_note": "Тикет отклонен; чтобы продолжить, создайте новый.",
    "ticket.change_status": "Статус",
    "ticket.change_section": "Раздел вопроса",
    "ticket.apply": "Изменить",
    "ticket.history": "История",
    "action.created": "создан",
    "action.status": "статус",
    "action.section": "раздел вопроса",
    "action.comment_public": "ответ",
    "action.comment_internal": "внутренняя заметка",
    "action.sla_breached": "первый ответ просрочен",
    "ticket.via_email": "по e-mail",
    "field.status": "Статус",
    "field.section": "Раздел вопроса",
    "field.subtype": "Подтип вопроса",
    "field.integration": "Интеграция",
    "field.client": "Клиент",
    "field.tier": "Тариф",
    "field.topic": "Тема",
    "field.description": "Вопрос",
    "field.body": "Ответ",
    "field.visibility": "Видимость",
    "field.reason": "Причина",
    "field.created_from": "Создан с",
    "field.created_to": "Создан по",
    "field.comment": "Ответ",
    "field.form": "Форма",
    "field.integration_name": "Название интеграции",
    "field.failure_class": "Класс сбоя",
    "field.family": "Сбой",
    "field.first_seen": "Впервые",
    "field.last_seen": "Последний раз",
    "field.summary": "Кратко",
    "field.request": "Запрос с ошибкой",
    "field.response": "Ответ партнёра",
    "field.steps_to_reproduce": "Шаги для воспроизведения",
    "field.first_steps": "Первые шаги для поддержки",
    "field.history": "Где смотреть историю",
    "field.contract_changes": "Что изменилось с последней успешной проверки",
    "field.last_passed_at": "Последняя успешная проверка",
    "incident.changes": "изменилось",
    # история: полосы результатов, доступность, задержки, сертификаты, значки (issue 23)
    "col.recent": "Последние 50 результатов",
    "col.uptime_24h": "Доступность за 24 ч",
    "col.certificate": "Сертификат",
    "board.down_since": "уже {span}",
    "bar.label": "Последние результаты ({n}), от старых к новым",
    "bar.none": "недавних результатов нет",
    "bar.inhibited": "отложен из-за сбоя платформы",
    "unit.ms": "{n} мс",
    "window.24h": "24 ч",
    "window.7d": "7 д",
    "window.30d": "30 д",
    "integration.uptime": "Доступность",
    "integration.latency": "Время ответа по часам",
    "integration.badge": "Значок доступности",
    "uptime.counts": "успешно {up}, сбоев {down}",
    "uptime.maintenance": "на обслуживании {n}, не учтены",
    "uptime.inhibited": "отложено из-за сбоя платформы {n}, не учтены",
    "certificate.expired": "истёк {span} назад",
    "certificate.days_left": "осталось дней: {n}",
    "latency.none": "За этот период результатов нет.",
    "latency.hour": "результатов: {n}",
    "results.older": "Более ранние результаты →",
    "results.newest": "← Последние результаты",
    "badge.label": "доступность {window}",
    "badge.no_data": "нет данных",
    "badge.explain": "Секретная ссылка для страницы статуса клиента: у кого она есть, тот "
    "видит доступность этой интеграции картинкой, и больше ничего.",
    "badge.windows": "По умолчанию за 24 ч; добавьте ?window=7d или ?window=30d для "
    "большего срока, ?lang=ru для русского языка.",
    "outcome.ok": "успешно",
    "outcome.slow": "медленно",
    "outcome.auth_failure": "ошибка авторизации",
    "outcome.dns_failure": "имя не найдено (DNS)",
    "outcome.connection_refused": "соединение отклонено",
    "outcome.timeout": "нет ответа вовремя",
    "outcome.tls_error": "ошибка TLS",
    "outcome.server_error": "ошибка сервера",
    "outcome.client_error": "запрос отклонён",
    "outcome.rate_limited": "превышен лимит запросов",
    "outcome.contract_violation": "нарушен контракт",
    "outcome.egress_denied": "запрещено политикой исходящих запросов",
    "outcome.config_error": "ошибка настройки intmon",
    "outcome.missed_postbacks": "нет постбэков",
    "outcome.missed_heartbeat": "нет сигнала от задания",
    "outcome.lead_flow_anomaly": "поток лидов не как обычно",
}


def merged(language: str, parts: dict[str, dict[str, str]]) -> dict[str, str]:
    """One language's catalogue from its parts (module name → words). A key given by
    two parts is an error naming both: merged by `update`, the later part's words
    silently replaced the earlier's (a browser's "Please fill in this field." once
    replaced the form error "is required")."""
    catalogue: dict[str, str] = {}
    given_by: dict[str, str] = {}
    for name, words in parts.items():
        for key in words:
            if key in given_by:
                raise ValueError(f"{language} catalogue: {key!r} is in {given_by[key]} and {name}")
            given_by[key] = name
        catalogue.update(words)
    return catalogue


_PARTS = (i18n_tickets, i18n_forms, i18n_actions, i18n_windows, i18n_reports)
EN = merged("en", {__name__: EN} | {part.__name__: part.EN for part in _PARTS})
RU = merged("ru", {__name__: RU} | {part.__name__: part.RU for part in _PARTS})
CATALOGUE: dict[str, dict[str, str]] = {"en": EN, "ru": RU}

MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "ru": (
        "янв.",
        "февр.",
        "мар.",
        "апр.",
        "мая",
        "июн.",
        "июл.",
        "авг.",
        "сент.",
        "окт.",
        "нояб.",
        "дек.",
    ),
}
# The thousands and decimal separators (ru: a narrow no-break space and a comma).
SEPARATORS = {"en": (",", "."), "ru": ("\u202f", ",")}


class Translator:
    """`t("key", **values)` in templates; `t.field(name)` and `t.action(name)` fall back
    to the name itself for fields and history entries the catalogue does not know."""

    def __init__(self, language: str, zone: str = "UTC") -> None:
        self.language = language
        self.messages = CATALOGUE[language]
        self.zone = zone

    def when(self, moment: datetime | str | None) -> str:
        """`7 Dec 2026, 09:08:15 MSK` / `7 дек. 2026, 09:08:15 MSK` in the viewer's
        zone; an ISO string (a ticket form's) is read first; "—" for none."""
        if moment is None or moment == "":
            return "—"
        try:
            at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        except ValueError:
            return str(moment)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        local = at.astimezone(ZoneInfo(self.zone))
        month = MONTHS[self.language][local.month - 1]
        return f"{local.day} {month} {local.year}, {local:%H:%M:%S} {local.tzname()}"

    def number(self, value: float, digits: int = 0) -> str:
        """`1,234.5` / `1 234,5`."""
        thousands, decimal = SEPARATORS[self.language]
        text = f"{value:,.{digits}f}"
        return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.messages[key]
        return text.format(**values) if values else text

    def word(self, kind: str, value: str) -> str:
        """The word for a value of the domain (`status`, `family`...); the value itself
        for one the catalogue does not know yet, so a new enum member shows, not fails."""
        return self.messages.get(f"{kind}.{value}", str(value))

    def field(self, name: str) -> str:
        return self.word("field", name)

    def action(self, name: str) -> str:
        return self.word("action", name)

    def span(self, seconds: float) -> str:
        """A duration to the two largest units: "2 h 05 min", "3 d 4 h", "40 s"."""
        seconds = max(0, int(seconds))
        days, rest = divmod(seconds, 86_400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        if days:
            parts = [self("time.days", n=days), self("time.hours", n=hours)]
        elif hours:
            parts = [self("time.hours", n=hours), self("time.minutes", n=f"{minutes:02d}")]
        elif minutes:
            parts = [self("time.minutes", n=minutes)]
        else:
            parts = [self("time.seconds", n=seconds)]
        return " ".join(parts)


def language_of(request: Request) -> str:
    """`?lang=` (kept in the session), else the session's, else Accept-Language, else en."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang")
    if kept in LANGUAGES:
        return str(kept)
    return from_accept_language(request.headers.get("accept-language", "")) or DEFAULT


def zone_of(request: Request) -> str:
    """The viewer's zone by name (`intmon.web.zones.viewer_zone`: `?tz=`, kept in the
    session, else the browser's cookie, else UTC)."""
    from intmon.web.zones import viewer_zone

    zone = viewer_zone(request)
    return getattr(zone, "key", None) or "UTC"
