"""The words of a ticket told to people: what broke in plain language, what we do,
what we need, where the ticket stands, and the refusals of the ticket forms.

Kept apart from `i18n.py` (the console's labels) because these are sentences,
not labels, and they grow with the domain: one per check outcome
(`core.vocabulary.outcomes.Outcome`), one per failure family (`alerts.families.Family`).
`i18n.CATALOGUE` merges them; the same test checks both languages have every key.
The client never reads a raw term here (`auth_failure`, `duration_ms`): the
outcome is said as what happened.
"""

from __future__ import annotations

from alerts.families import FIRST_STEPS
from alerts.wording import CLOSE_REASONS, OUTCOME_WORDS

EN: dict[str, str] = {
    # the topic of an automatic ticket, with the partner's name
    "topic.auth": "{partner}: the API refuses our credentials",
    "topic.connectivity": "{partner}: the API cannot be reached",
    "topic.server": "{partner}: the API answers with server errors",
    "topic.contract": "{partner}: the API changed or rejects our requests",
    "topic.rate_limit": "{partner}: the API limits our requests",
    "topic.degraded": "{partner}: the API answers slowly",
    "topic.e2e": "{partner}: the integration test does not pass end to end",
    "topic.platform": "{partner}: our monitoring cannot run its checks",
    # what we are doing, by failure family
    "doing.auth": "We are checking the credentials with the partner. We keep trying and "
    "write here when requests are accepted again.",
    "doing.connectivity": "We keep trying to reach the partner's server and have asked the "
    "partner to look at it. We write here when it answers again.",
    "doing.server": "We have told the partner's technical contact and keep checking. We write "
    "here when the API works again.",
    "doing.contract": "We are comparing the answer with the agreed form and asking the partner "
    "whether their API changed.",
    "doing.rate_limit": "We are comparing how often we call with the partner's limit.",
    "doing.degraded": "We keep measuring how long the partner takes to answer and have told "
    "the partner.",
    "doing.e2e": "We are reading the test's report to find the step that failed.",
    "doing.platform": "We are fixing our own settings.",
    # what we need from the client, by failure family
    "need.auth": "Did you change the token or key at the partner recently? Tell us here "
    "(never paste the token itself into the ticket).",
    "need.connectivity": "Did the partner announce maintenance or a new address? Tell us here.",
    "need.server": "Nothing for now. If the partner told you about work on their side, "
    "tell us here.",
    "need.contract": "Did the partner announce a change to their API? Forward us the notice.",
    "need.rate_limit": "Did your plan with the partner or its request limit change? Tell us here.",
    "need.degraded": "Nothing for now.",
    "need.e2e": "Did you change the integration's settings recently? Tell us here.",
    "need.platform": "Nothing: this is on our side.",
    # where the ticket stands, said to the client and to support
    "story.client.open": "Received — support will take it up soon",
    "story.client.in_progress": "Support is working on it",
    "story.client.waiting_for_reply": "Support answered — waiting for your reply",
    "story.client.closed": "Closed — write here to reopen it",
    "story.client.rejected": "Rejected by support",
    "story.support.open": "New — nobody has answered yet",
    "story.support.in_progress": "In progress — the next step is ours",
    "story.support.waiting_for_reply": "Support answered — waiting for the client's reply",
    "story.support.closed": "Closed",
    "story.support.rejected": "Rejected",
    # the client's view of an automatic ticket
    "client.what_broke": "What broke",
    "client.since": "Since",
    "client.doing": "What we are doing",
    "client.need": "What we need from you",
    "client.evidence": "What we sent and what came back",
    "client.request": "Our request (secrets hidden)",
    "client.answer_code": "Answer code",
    "client.answer": "The partner's answer",
    "client.no_answer": "No answer came back.",
    "client.curl": "To repeat the request yourself (put your own token in place of the "
    "hidden part):",
    "client.status_now": "Where it stands",
    # the support view's extra pieces
    "support.raw": "Everything the monitor recorded",
    "support.duration": "{ms} ms",
    "ticket.keep_working": "Keep the ticket in progress (do not wait for the client)",
    # refusals of the forms, by pydantic's error type or the domain's rule
    "invalid.missing": "is required",
    "invalid.too_short": "must have at least {min} character(s)",
    "invalid.too_long": "must have at most {max} characters",
    "invalid.value": "is not valid",
    "invalid.empty": "must not be empty",
    "invalid.choice": "{value} is not one of the choices",
    "invalid.date": "{value} is not a date (YYYY-MM-DD)",
    "invalid.social_tier": "the social tariff is supported for system errors only",
    "invalid.section_locked": "the question type can change only while the ticket is open "
    "and unanswered",
    "invalid.subtype_required": "choose a subtype for this question type",
    "invalid.no_subtypes": "this question type has no subtypes",
    "invalid.client_public": "a client's answer is always visible to support and the client",
    "invalid.rejected": "the ticket is rejected; create a new one",
    "invalid.transition": "cannot change the status from «{current}» to «{wanted}»",
    "invalid.client_needed": "choose an integration or name the client",
    "invalid.unknown_integration": "no such integration",
    "invalid.own_client": "you file tickets for your own company only",
    "invalid.tier_by_support": "the tariff is set by support",
    "invalid.nul": "must not contain the NUL character (\\u0000)",
    # 404 details
    "missing.ticket": "There is no ticket {reference}, or it is not yours.",
    "missing.integration": "There is no integration {reference}, or it is not yours.",
    # what broke, said as what happened; why a ticket closed (alerts.wording)
    **{f"said_outcome.{key}": text for key, text in OUTCOME_WORDS["en"].items()},
    **{f"reason.{key}": text for key, text in CLOSE_REASONS["en"].items()},
    "system.section_changed": "Support changed the question type from «{old}» to «{new}»: {reason}",
    "ticket.section_reason_hint": "(needed once work started)",
    # the queue's order (seed 003) and its deadline column
    "field.order": "Order",
    "order.arrival": "in order of arrival",
    "order.due": "by first-response deadline",
    "col.due": "Answer due by",
    # a ticket like one the client already has open (seed 003)
    "new.duplicate": "You already have an open ticket like this one (same integration and "
    "question type, opened in the last 24 hours). Duplicate requests slow everything down: "
    "please add to it instead.",
    "new.duplicate_ok": "It is a different problem: send it anyway",
    # the monitor's own comments (ticket_comments.message)
    "system.failure_back": "The failure is back: {what}",
    "system.reopened": "Reopened: the failure returned. {what}",
    "system.flapping": "The integration is flapping: the failure came back {times} times "
    "within {window} of recovering. It stays one ticket and closes after a quiet period "
    "of the same length.",
    "system.recovered": "Recovered at {at}: the checks pass again after {failures} failed "
    "results (the problem lasted {lasted}).",
    "system.auto_closed": "Closed automatically: no reply for more than {span}. Write a "
    "comment here to reopen it.",
    # what support does first, by failure family (the ticket form's words)
    **{f"first_steps.{family.value}": text for family, text in FIRST_STEPS.items()},
    # the keys of the monitor's record, as support reads them
    "field.method": "Method",
    "field.url": "URL",
    "field.headers": "Headers",
    "field.excerpt": "Answer excerpt",
    "field.detail": "Detail",
    "field.duration_ms": "Duration, ms",
    "field.cli": "Command",
    "field.account": "Account",
    "field.keep_working": "Keep in progress",
}

RU: dict[str, str] = {
    "topic.auth": "{partner}: API партнёра не принимает наши ключи доступа",
    "topic.connectivity": "{partner}: API партнёра недоступен",
    "topic.server": "{partner}: API партнёра отвечает ошибками сервера",
    "topic.contract": "{partner}: API партнёра изменился или отклоняет наши запросы",
    "topic.rate_limit": "{partner}: API партнёра ограничивает наши запросы",
    "topic.degraded": "{partner}: API партнёра отвечает медленно",
    "topic.e2e": "{partner}: сквозной тест интеграции не проходит",
    "topic.platform": "{partner}: наш мониторинг не может выполнить проверки",
    "doing.auth": "Мы проверяем ключи доступа вместе с партнёром, продолжаем попытки и "
    "напишем здесь, когда запросы снова будут приниматься.",
    "doing.connectivity": "Мы продолжаем обращаться к серверу партнёра и попросили партнёра "
    "его проверить. Напишем здесь, когда он снова ответит.",
    "doing.server": "Мы сообщили техническому контакту партнёра и продолжаем проверки. "
    "Напишем здесь, когда API снова заработает.",
    "doing.contract": "Мы сравниваем ответ с согласованным видом и выясняем у партнёра, "
    "не менялся ли его API.",
    "doing.rate_limit": "Мы сравниваем частоту наших запросов с лимитом партнёра.",
    "doing.degraded": "Мы продолжаем измерять время ответа партнёра и сообщили ему.",
    "doing.e2e": "Мы разбираем отчёт теста, чтобы найти шаг, который не прошёл.",
    "doing.platform": "Мы исправляем наши собственные настройки.",
    "need.auth": "Вы недавно меняли токен или ключ у партнёра? Напишите нам здесь "
    "(сам токен в тикет не вставляйте).",
    "need.connectivity": "Партнёр объявлял техработы или новый адрес? Напишите нам здесь.",
    "need.server": "Пока ничего. Если партнёр сообщал вам о работах на своей стороне, "
    "напишите нам здесь.",
    "need.contract": "Партнёр объявлял изменения своего API? Перешлите нам уведомление.",
    "need.rate_limit": "Менялся ли ваш тариф у партнёра или лимит запросов? Напишите нам здесь.",
    "need.degraded": "Пока ничего.",
    "need.e2e": "Вы недавно меняли настройки интеграции? Напишите нам здесь.",
    "need.platform": "Ничего: это на нашей стороне.",
    "story.client.open": "Принят — поддержка скоро возьмёт его в работу",
    "story.client.in_progress": "Поддержка работает над ним",
    "story.client.waiting_for_reply": "Поддержка ответила — ждём вашего ответа",
    "story.client.closed": "Закрыт — напишите здесь, чтобы возобновить обращение",
    "story.client.rejected": "Отклонен поддержкой",
    "story.support.open": "Новый — ещё никто не ответил",
    "story.support.in_progress": "В работе — следующий шаг за нами",
    "story.support.waiting_for_reply": "Поддержка ответила — ждём ответа клиента",
    "story.support.closed": "Закрыт",
    "story.support.rejected": "Отклонен",
    "client.what_broke": "Что сломалось",
    "client.since": "С какого времени",
    "client.doing": "Что мы делаем",
    "client.need": "Что нужно от вас",
    "client.evidence": "Что мы отправили и что получили",
    "client.request": "Наш запрос (секреты скрыты)",
    "client.answer_code": "Код ответа",
    "client.answer": "Ответ партнёра",
    "client.no_answer": "Ответа не было.",
    "client.curl": "Чтобы повторить запрос самостоятельно (подставьте свой токен вместо "
    "скрытой части):",
    "client.status_now": "Где сейчас тикет",
    "support.raw": "Всё, что записал мониторинг",
    "support.duration": "{ms} мс",
    "ticket.keep_working": "Оставить тикет в работе (не ждать ответа клиента)",
    "invalid.missing": "обязательное поле",
    "invalid.too_short": "должно содержать не меньше {min} симв.",
    "invalid.too_long": "должно содержать не больше {max} симв.",
    "invalid.value": "недопустимое значение",
    "invalid.empty": "не может быть пустым",
    "invalid.choice": "{value} — нет среди вариантов",
    "invalid.date": "{value} — не дата (ГГГГ-ММ-ДД)",
    "invalid.social_tier": "на тарифе «Социальный» поддерживаются только ошибки системы",
    "invalid.section_locked": "раздел вопроса можно изменить, только пока тикет открыт и "
    "на него не ответили",
    "invalid.subtype_required": "выберите подтип для этого раздела",
    "invalid.no_subtypes": "у этого раздела нет подтипов",
    "invalid.client_public": "ответ клиента всегда виден и клиенту, и поддержке",
    "invalid.rejected": "тикет отклонен; создайте новый",
    "invalid.transition": "нельзя изменить статус с «{current}» на «{wanted}»",
    "invalid.client_needed": "выберите интеграцию или укажите клиента",
    "invalid.unknown_integration": "такой интеграции нет",
    "invalid.own_client": "вы можете создавать тикеты только для своей компании",
    "invalid.tier_by_support": "тариф устанавливает поддержка",
    "invalid.nul": "не должно содержать символ NUL (\\u0000)",
    "missing.ticket": "Тикета {reference} нет, или он не ваш.",
    "missing.integration": "Интеграции {reference} нет, или она не ваша.",
    **{f"said_outcome.{key}": text for key, text in OUTCOME_WORDS["ru"].items()},
    **{f"reason.{key}": text for key, text in CLOSE_REASONS["ru"].items()},
    "system.section_changed": "Поддержка изменила раздел вопроса с «{old}» на «{new}»: {reason}",
    "ticket.section_reason_hint": "(нужна, если работа уже началась)",
    "field.order": "Порядок",
    "order.arrival": "по времени поступления",
    "order.due": "по сроку первого ответа",
    "col.due": "Ответить до",
    "new.duplicate": "У вас уже есть открытый похожий тикет (та же интеграция и раздел "
    "вопроса, создан за последние 24 часа). Дублирующие обращения замедляют работу: "
    "лучше дополните его.",
    "new.duplicate_ok": "Это другая проблема: всё равно отправить",
    "system.failure_back": "Сбой повторился: {what}",
    "system.reopened": "Тикет возобновлён: сбой вернулся. {what}",
    "system.flapping": "Интеграция работает нестабильно: за {window} после восстановления "
    "сбой вернулся снова (повторов: {times}). Это остаётся одним тикетом; он закроется после "
    "спокойного периода той же длины.",
    "system.recovered": "Восстановлено {at}: проверки снова проходят после {failures} "
    "неудачных результатов (проблема длилась {lasted}).",
    "system.auto_closed": "Закрыт автоматически: ответа не было больше {span}. Напишите "
    "комментарий здесь, чтобы возобновить обращение.",
    "first_steps.auth": "Проверьте с партнёром ключи доступа (срок токена, смена ключей).",
    "first_steps.connectivity": "Проверьте хост партнёра: DNS, файрвол, TLS-сертификат, "
    "работает ли он.",
    "first_steps.server": "Сбоит сервер партнёра; обратитесь к техническому контакту партнёра.",
    "first_steps.contract": "Сравните ответ с контрактом; спросите, не менялся ли API.",
    "first_steps.rate_limit": "Сравните частоту наших запросов с лимитом партнёра; снизьте её "
    "или договоритесь.",
    "first_steps.degraded": "Партнёр отвечает, но медленнее заданного предела.",
    "first_steps.e2e": "Прочитайте отчёт запуска (intmon e2e show RUN_ID): какой шаг не прошёл "
    "и почему.",
    "first_steps.platform": "Исправьте сторону intmon: задайте секрет или файл, названный в "
    "подробностях, там, где работают воркеры (их перечисляет intmon validate), или исправьте "
    "шаблон запроса.",
    "first_steps.heartbeat": "Проверьте задание на стороне партнёра: запускалось ли оно (cron, "
    "планировщик), не завершилось ли ошибкой (тело последнего /fail есть в подробностях), "
    "доступен ли ему адрес ping в intmon.",
    "first_steps.postback": "Спросите брокера, отправляет ли он постбэки (статусы лидов) и на "
    "какой адрес; сравните intmon postbacks list с лидами, которые он принял "
    "(intmon leads report).",
    "first_steps.lead_flow": "Посмотрите главные причины отказов (intmon leads flow -i ID): "
    "спросите брокера, что изменилось (проверки, лимиты, дубликаты), и не изменились ли наши "
    "данные лидов.",
    "field.method": "Метод",
    "field.url": "URL",
    "field.headers": "Заголовки",
    "field.excerpt": "Фрагмент ответа",
    "field.detail": "Подробности",
    "field.duration_ms": "Длительность, мс",
    "field.cli": "Команда",
    "field.account": "Учётная запись",
    "field.keep_working": "Оставить в работе",
}
