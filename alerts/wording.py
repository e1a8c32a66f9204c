"""Plain words for what a check found and why a ticket closed, in each locale.

The client reads these, never the raw terms (`auth_failure`, `no_reply`): the
e-mails (`alerts.render`) and the web console (`intmon.web.i18n_tickets`) say
the same thing from this one table. Keys are `core.vocabulary.outcomes.Outcome` values
and the `close_reason`s the system sets; a reason typed by support is shown as
typed.
"""

from __future__ import annotations

OUTCOME_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "ok": "The last check passed.",
        "slow": "The partner's API answers, but slower than agreed.",
        "auth_failure": "The partner's API refused our token or key.",
        "dns_failure": "The partner's server address could not be found.",
        "connection_refused": "The partner's server refused the connection.",
        "timeout": "The partner's API did not answer in time.",
        "tls_error": "The secure connection to the partner failed: its certificate "
        "was not accepted.",
        "server_error": "The partner's API answered with an error on its side.",
        "client_error": "The partner's API rejected our request as wrong.",
        "rate_limited": "The partner's API asked us to send fewer requests.",
        "contract_violation": "The partner's API answered, but not in the agreed form.",
        "egress_denied": "The partner's API sent us on to an address we may not call.",
        "config_error": "Our own settings keep the check from running.",
        "missed_postbacks": "The broker stopped sending status updates (postbacks) for "
        "many of the leads it accepted.",
        "missed_heartbeat": "A scheduled job stopped reporting to us, or reported a failure.",
        "lead_flow_anomaly": "The partner accepts far fewer of our leads, or answers far "
        "slower, than it usually does at this time.",
    },
    "ru": {
        "ok": "Последняя проверка прошла успешно.",
        "slow": "API партнёра отвечает, но медленнее, чем договорено.",
        "auth_failure": "API партнёра отклонил наш токен или ключ.",
        "dns_failure": "Не удалось найти адрес сервера партнёра.",
        "connection_refused": "Сервер партнёра отказал в соединении.",
        "timeout": "API партнёра не ответил вовремя.",
        "tls_error": "Не удалось установить защищённое соединение с партнёром: его "
        "сертификат не принят.",
        "server_error": "API партнёра ответил ошибкой на своей стороне.",
        "client_error": "API партнёра отклонил наш запрос как неверный.",
        "rate_limited": "API партнёра попросил присылать запросы реже.",
        "contract_violation": "API партнёра ответил, но не в согласованном виде.",
        "egress_denied": "API партнёра перенаправил нас на адрес, к которому нам "
        "обращаться нельзя.",
        "config_error": "Проверке мешают наши собственные настройки.",
        "missed_postbacks": "Брокер перестал присылать статусы (постбэки) по многим "
        "принятым им лидам.",
        "missed_heartbeat": "Задание по расписанию перестало сообщать о себе или сообщило "
        "об ошибке.",
        "lead_flow_anomaly": "Партнёр принимает намного меньше наших лидов или отвечает "
        "намного медленнее, чем обычно в это время.",
    },
}

CLOSE_REASONS: dict[str, dict[str, str]] = {
    "en": {
        "recovered": "the checks pass again",
        "no_reply": "no reply from the client in time",
        "support": "closed by support",
        "client": "closed by the client",
        "system": "closed automatically",
    },
    "ru": {
        "recovered": "проверки снова проходят",
        "no_reply": "клиент не ответил вовремя",
        "support": "закрыт поддержкой",
        "client": "закрыт клиентом",
        "system": "закрыт автоматически",
    },
}


def said_outcome(outcome: str | None, locale: str) -> str:
    """The outcome as what happened; an unknown one as it is."""
    return OUTCOME_WORDS[locale].get(str(outcome), str(outcome))


def said_reason(reason: str | None, locale: str) -> str:
    """A close reason the system set, in words; support's own reason as typed."""
    return CLOSE_REASONS[locale].get(str(reason), str(reason))
