"""The words of the recurring maintenance windows' page (`pages_windows.py`): the
form, its refusals, a schedule said in words, and what declaring or changing one
came to in the audit trail (`act.maintenance.<declare|edit>.<weekly|cron>`).
Merged into `i18n.CATALOGUE`; both languages have every key (tests/web/test_i18n.py).
"""

from __future__ import annotations

EN: dict[str, str] = {
    "recurring.title": "Recurring maintenance windows: {name}",
    "recurring.intro": "Weekly or cron windows repeat in their own time zone, across "
    "changes of the clocks. Checks keep running in a window; their failures are "
    "recorded and raise no incident.",
    "recurring.back": "Back to the integration",
    "recurring.link": "Recurring windows (weekly, cron)",
    "recurring.none": "No recurring windows.",
    "recurring.declare": "Declare a recurring window",
    "recurring.change": "Change recurring window {name}",
    "recurring.weekly": "Weekly: on the chosen days, from a time to a time",
    "recurring.cron": "Cron: from each firing, for a number of minutes",
    "recurring.end_hint": "A time at or before the start ends the next day; the same "
    "time is the whole day.",
    "recurring.cron_hint": "Five fields: minute hour day-of-month month day-of-week, "
    "like 0 2 * * sun (Sundays at 02:00).",
    "recurring.zone_hint": "An IANA name, like Europe/Moscow; yours is {zone}.",
    "col.schedule": "Schedule",
    "field.kind": "Kind",
    "field.days": "Days",
    "field.start": "From",
    "field.end": "To",
    "field.cron": "Cron expression",
    "field.duration_minutes": "Duration, minutes",
    "field.timezone": "Time zone",
    "day.mon": "Mon",
    "day.tue": "Tue",
    "day.wed": "Wed",
    "day.thu": "Thu",
    "day.fri": "Fri",
    "day.sat": "Sat",
    "day.sun": "Sun",
    "schedule.weekly": "every {days}, {start}–{end} ({zone})",
    "schedule.cron": "cron {cron}, {minutes} min from each firing ({zone})",
    "invalid.kind": "choose weekly or cron",
    "invalid.days": "choose at least one day",
    "invalid.time_of_day": "give a time of day, like 02:00",
    "invalid.cron": "give a five-field cron expression, like 0 2 * * sun",
    "invalid.cron_never": "this expression never fires",
    "invalid.duration": "a whole number of minutes, from 1 to {max} (a week)",
    "invalid.timezone": "unknown time zone; give a name like Europe/Moscow",
    "act.maintenance.declare.weekly": "Recurring maintenance window {name} declared: every "
    "{days}, {start}–{end} ({zone}).",
    "act.maintenance.declare.cron": "Recurring maintenance window {name} declared: cron "
    "{cron}, {minutes} min ({zone}).",
    "act.maintenance.edit.weekly": "Recurring maintenance window {name} changed: every "
    "{days}, {start}–{end} ({zone}).",
    "act.maintenance.edit.cron": "Recurring maintenance window {name} changed: cron "
    "{cron}, {minutes} min ({zone}).",
}

RU: dict[str, str] = {
    "recurring.title": "Повторяющиеся окна техработ: {name}",
    "recurring.intro": "Еженедельные и cron-окна повторяются в своём часовом поясе, в том "
    "числе при переводе часов. Проверки в окне идут; их сбои записываются и не открывают "
    "инцидентов.",
    "recurring.back": "К интеграции",
    "recurring.link": "Повторяющиеся окна (еженедельные, cron)",
    "recurring.none": "Повторяющихся окон нет.",
    "recurring.declare": "Объявить повторяющееся окно",
    "recurring.change": "Изменить повторяющееся окно {name}",
    "recurring.weekly": "Еженедельно: в выбранные дни, с одного времени до другого",
    "recurring.cron": "Cron: от каждого срабатывания, на заданное число минут",
    "recurring.end_hint": "Время окончания не позже начала — окно кончается на следующий "
    "день; то же время — весь день.",
    "recurring.cron_hint": "Пять полей: минута час день-месяца месяц день-недели, например "
    "0 2 * * sun (по воскресеньям в 02:00).",
    "recurring.zone_hint": "Название IANA, например Europe/Moscow; ваш пояс — {zone}.",
    "col.schedule": "Расписание",
    "field.kind": "Вид",
    "field.days": "Дни",
    "field.start": "С",
    "field.end": "До",
    "field.cron": "Выражение cron",
    "field.duration_minutes": "Длительность, минут",
    "field.timezone": "Часовой пояс",
    "day.mon": "пн",
    "day.tue": "вт",
    "day.wed": "ср",
    "day.thu": "чт",
    "day.fri": "пт",
    "day.sat": "сб",
    "day.sun": "вс",
    "schedule.weekly": "каждую неделю: {days}, {start}–{end} ({zone})",
    "schedule.cron": "cron {cron}, {minutes} мин. от каждого срабатывания ({zone})",
    "invalid.kind": "выберите: еженедельно или cron",
    "invalid.days": "выберите хотя бы один день",
    "invalid.time_of_day": "укажите время суток, например 02:00",
    "invalid.cron": "укажите выражение cron из пяти полей, например 0 2 * * sun",
    "invalid.cron_never": "это выражение никогда не срабатывает",
    "invalid.duration": "целое число минут, от 1 до {max} (неделя)",
    "invalid.timezone": "неизвестный часовой пояс; укажите название вроде Europe/Moscow",
    "act.maintenance.declare.weekly": "Повторяющееся окно техработ {name} объявлено: каждую "
    "неделю, {days}, {start}–{end} ({zone}).",
    "act.maintenance.declare.cron": "Повторяющееся окно техработ {name} объявлено: cron "
    "{cron}, {minutes} мин. ({zone}).",
    "act.maintenance.edit.weekly": "Повторяющееся окно техработ {name} изменено: каждую "
    "неделю, {days}, {start}–{end} ({zone}).",
    "act.maintenance.edit.cron": "Повторяющееся окно техработ {name} изменено: cron "
    "{cron}, {minutes} мин. ({zone}).",
}
