"""The words of seed 001's ticket forms and attachments, in English and Russian.

The categories, topics and fields themselves come from the configuration
(`alerts.ticket_forms`, each with its own `en` and `ru` label); these are the
page's own words around them and the refusals of a filled form (`form.<code>`,
one per rule of `alerts.ticket_forms.check_values`) and of a file.
`i18n.CATALOGUE` merges them; the same test checks both languages have every key.
"""

from __future__ import annotations

EN: dict[str, str] = {
    "field.category": "Category",
    "field.topic_id": "Topic",
    "field.fields": "Form",
    "field.attachments": "Attachments",
    "new.choose": "1. Choose the category and the topic of your request",
    "new.fill": "2. Fill in the form",
    "new.chosen": "Topic",
    "new.summary": "Summary: briefly, what the problem is",
    "new.details": "Detailed description: what happened and what you did before it; "
    "how to reproduce it is a plus",
    "new.attach": "Attachments: screenshots or other files",
    "new.attach_hint": "Up to {count} files, {size} MiB each: images (PNG, JPEG, GIF, WebP), "
    "PDF, text (TXT, LOG, CSV), JSON. Programs, scripts and archives are refused.",
    "new.optional": "(optional)",
    "new.staged": "Files you chose, kept for this form",
    "new.staged_hint": "They are attached when you send the form; untick a file to leave it "
    "out. Kept for 30 minutes.",
    "form.required": "is required",
    # The browser's own refusal of a field, in the page's language (console.js): an
    # English browser would say "Please fill out this field." on a Russian page.
    "refusal.missing": "Please fill in this field.",
    "refusal.email": "Please enter an e-mail address, such as name@example.com.",
    "refusal.other": "Please check this field.",
    "form.unknown": "is not a field of this topic",
    "form.too_long": "must have at most {max} characters",
    "form.pattern": "does not have the expected format",
    "form.number": "must be a number",
    "form.email": "must be an e-mail address",
    "form.phone": "must be a phone number (digits, spaces, +, -, brackets)",
    "form.choice": "choose one of the options",
    "form.text": "must be text",
    "invalid.topic_required": "choose a topic",
    "invalid.too_many_files": "at most {max} files per ticket",
    "invalid.file_too_large": "{name}: the file is larger than the limit",
    "invalid.file_refused": "{name}: this kind of file is not accepted "
    "(programs, scripts and archives never are)",
    "invalid.file_empty": "{name}: the file is empty",
    "invalid.file_expired": "a file chosen earlier is no longer kept; choose it again",
    "ticket.form_topic": "Category and topic",
    "ticket.attachments": "Attachments",
    "ticket.attach": "Attach files",
    "files.choose": "Choose files",
    "files.none": "No file chosen",
    "ticket.bytes": "{size} bytes",
    "action.attachment_added": "file attached",
}

RU: dict[str, str] = {
    "field.category": "Категория",
    "field.topic_id": "Тема обращения",
    "field.fields": "Форма",
    "field.attachments": "Вложения",
    "new.choose": "1. Выберите категорию и тему обращения",
    "new.fill": "2. Заполните форму обращения",
    "new.chosen": "Тема",
    "new.summary": "Краткий смысл, в чём заключается проблема",
    "new.details": "Подробное описание проблемы: что произошло и какие действия к этому "
    "привели; описание, как её воспроизвести, будет плюсом",
    "new.attach": "Вложения: скриншоты или другие файлы",
    "new.attach_hint": "До {count} файлов, не больше {size} МиБ каждый: изображения (PNG, JPEG, "
    "GIF, WebP), PDF, текст (TXT, LOG, CSV), JSON. Программы, скрипты и архивы не принимаются.",
    "new.optional": "(необязательно)",
    "new.staged": "Выбранные вами файлы, сохранённые для этой формы",
    "new.staged_hint": "Они будут прикреплены при отправке формы; снимите отметку, чтобы "
    "не прикреплять файл. Хранятся 30 минут.",
    "form.required": "обязательное поле",
    "refusal.missing": "Заполните это поле.",
    "refusal.email": "Введите адрес электронной почты, например name@example.com.",
    "refusal.other": "Проверьте это поле.",
    "form.unknown": "такого поля нет в форме этой темы",
    "form.too_long": "должно содержать не больше {max} симв.",
    "form.pattern": "не в том формате",
    "form.number": "должно быть числом",
    "form.email": "должно быть адресом электронной почты",
    "form.phone": "должно быть номером телефона (цифры, пробелы, +, -, скобки)",
    "form.choice": "выберите один из вариантов",
    "form.text": "должно быть текстом",
    "invalid.topic_required": "выберите тему обращения",
    "invalid.too_many_files": "не больше {max} файлов на тикет",
    "invalid.file_too_large": "{name}: файл больше допустимого размера",
    "invalid.file_refused": "{name}: файлы такого типа не принимаются "
    "(программы, скрипты и архивы — никогда)",
    "invalid.file_empty": "{name}: файл пустой",
    "invalid.file_expired": "файл, выбранный ранее, больше не хранится; выберите его снова",
    "ticket.form_topic": "Категория и тема",
    "ticket.attachments": "Вложения",
    "ticket.attach": "Прикрепить файлы",
    "files.choose": "Выбрать файлы",
    "files.none": "Файл не выбран",
    "ticket.bytes": "{size} байт",
    "action.attachment_added": "прикреплён файл",
}
