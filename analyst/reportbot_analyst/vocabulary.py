"""The toolkit's own words in the analyst's language: column headers and answer words.

Question texts and choice labels come from the flow itself (its snapshot in the digests); these
are the few words the toolkit adds. Every word exists in ko, ru and en, so nothing English leaks
into a Korean or Russian export (``tests/test_analyst_exports.py`` checks every export).
"""

from __future__ import annotations

from typing import Final

WORDS: Final[dict[str, dict[str, str]]] = {
    "report": {"ko": "이야기 번호", "ru": "рассказ", "en": "report"},
    "status": {"ko": "상태", "ru": "статус", "en": "status"},
    "day": {"ko": "날자", "ru": "день", "en": "day"},
    "week": {"ko": "주", "ru": "неделя", "en": "week"},
    "flow_version": {"ko": "질문지 판", "ru": "версия анкеты", "en": "flow version"},
    "lang": {"ko": "쓴 사람의 언어", "ru": "язык автора", "en": "reporter's language"},
    "digests": {"ko": "요약 파일", "ru": "дайджесты", "en": "digests"},
    "followups": {"ko": "추가한 내용", "ru": "дополнения", "en": "follow-ups"},
    "attachments": {"ko": "첨부 파일", "ru": "вложения", "en": "attachments"},
    "complete": {"ko": "완료", "ru": "завершён", "en": "complete"},
    "interrupted": {"ko": "중단됨", "ru": "прерван", "en": "interrupted"},
    "unclosed": {"ko": "미완", "ru": "не закрыт", "en": "unclosed"},
    "other": {"ko": "기타", "ru": "другое", "en": "other"},
    "other_text": {"ko": "기타 (쓴 내용)", "ru": "другое (текст)", "en": "other (written)"},
    "yes": {"ko": "예", "ru": "да", "en": "yes"},
    "no": {"ko": "아니", "ru": "нет", "en": "no"},
    "unknown": {"ko": "모릅니다", "ru": "не знаю", "en": "unknown"},
    "missing_attachment": {
        "ko": "첨부 파일 없음",
        "ru": "вложения нет в дайджестах",
        "en": "attachment not in the digests given",
    },
    "photo": {"ko": "사진", "ru": "фото", "en": "photo"},
    "voice": {"ko": "음성", "ru": "голосовое", "en": "voice"},
    "video": {"ko": "동영상", "ru": "видео", "en": "video"},
    "document": {"ko": "문서", "ru": "документ", "en": "document"},
    "bytes": {"ko": "바이트", "ru": "байт", "en": "bytes"},
    "raw_ids": {
        "ko": "질문지 없음: 번호만",
        "ru": "анкеты нет: только коды",
        "en": "raw ids: flow not available",
    },
    # Codebook headers
    "column": {"ko": "렬", "ru": "столбец", "en": "column"},
    "question": {"ko": "질문", "ru": "вопрос", "en": "question"},
    "question_id": {"ko": "질문 번호", "ru": "код вопроса", "en": "question id"},
    "choice_id": {"ko": "선택 번호", "ru": "код варианта", "en": "choice id"},
    "kind": {"ko": "종류", "ru": "тип", "en": "kind"},
    "label": {"ko": "표시", "ru": "подпись", "en": "label"},
    "versions": {"ko": "질문지 판", "ru": "версии анкеты", "en": "flow versions"},
    "value": {"ko": "값", "ru": "значение", "en": "value"},
    # Codebook: the kind of each column (a multi-select's options are "0/1")
    "kind_consent": {"ko": "동의", "ru": "согласие", "en": "consent"},
    "kind_single": {"ko": "하나 고름", "ru": "один вариант", "en": "one choice"},
    "kind_text": {"ko": "글", "ru": "текст", "en": "text"},
    "kind_number": {"ko": "수", "ru": "число", "en": "number"},
    "kind_date": {"ko": "년월", "ru": "дата", "en": "date"},
    "kind_place": {"ko": "곳", "ru": "место", "en": "place"},
    "kind_media": {"ko": "파일", "ru": "файлы", "en": "files"},
    "reports_sheet": {"ko": "이야기", "ru": "рассказы", "en": "reports"},
    "codebook_sheet": {"ko": "코드표", "ru": "кодовая книга", "en": "codebook"},
}


def word(key: str, lang: str) -> str:
    entry = WORDS[key]
    return entry.get(lang) or entry["en"]
