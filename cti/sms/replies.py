"""The answers to STOP, START and HELP, in the customer's language unless an admin wrote a template
of the same name (`opt-out-reply`, `opt-in-reply`, `help-reply`)."""

from __future__ import annotations

from typing import Final

from cti.sms.keywords import Keyword

TEMPLATE_NAMES: Final = {
    Keyword.STOP: "opt-out-reply",
    Keyword.START: "opt-in-reply",
    Keyword.HELP: "help-reply",
}

BUILT_IN: Final = {
    "en": {
        Keyword.STOP: "You will no longer receive messages from {{ center }}. Reply START to "
        "receive them again.",
        Keyword.START: "You will receive messages from {{ center }} again. Reply STOP to stop.",
        Keyword.HELP: "{{ center }}: reply STOP to stop messages, START to receive them again.",
    },
    "zh": {
        Keyword.STOP: "您已退订{{ center }}的短信。回复START可重新订阅。",
        Keyword.START: "您已重新订阅{{ center }}的短信。回复TD退订。",
        Keyword.HELP: "{{ center }}：回复TD退订短信，回复START重新订阅。",
    },
}


def built_in(keyword: Keyword, language: str, chinese_keyword: bool) -> str:
    """A Chinese reply to a customer who writes Chinese or whose language is Chinese."""
    chinese = chinese_keyword or language.lower().startswith("zh")
    return BUILT_IN["zh" if chinese else "en"][keyword]
