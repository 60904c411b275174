"""SMS templates: placeholders, error messages an author can act on, and the sandbox."""

from __future__ import annotations

import pytest

from cti.errors import DomainError
from cti.sms.templates import MAX_LENGTH, VARIABLES, TemplateError, check, render, sample_values


def test_renders_salutation_and_name() -> None:
    body = "Dear {{ salutation }} {{ name }}, see you at {{ appointment_time }}. {{ center }}"
    values = {"salutation": "Ms", "name": "Li Wei", "appointment_time": "14:30", "center": "Acme"}
    check(body)
    assert render(body, values) == "Dear Ms Li Wei, see you at 14:30. Acme"


def test_result_is_stripped() -> None:
    assert render("\n  Code {{ code }}  \n\n", {"code": "482913"}) == "Code 482913"


def test_nothing_is_html_escaped() -> None:
    body = "<b>{{ name }}</b> & {{ link }}"
    values = {"name": "O'Brien <Ann>", "link": "https://example.com/?a=1&b=2"}
    assert render(body, values) == "<b>O'Brien <Ann></b> & https://example.com/?a=1&b=2"


def test_conditionals_and_filters_are_allowed() -> None:
    body = "Hi {{ first_name | default('there') }}{% if code %}, code {{ code }}{% endif %}"
    assert render(body, {"code": ""}) == "Hi there"
    assert render(body, {"first_name": "Wei", "code": "12"}) == "Hi Wei, code 12"


def test_unknown_placeholder_is_named() -> None:
    with pytest.raises(TemplateError) as caught:
        check("Hello {{ name }}, your balance is {{ balance }}")
    message = str(caught.value)
    assert message.startswith("unknown placeholder {{ balance }}; use one of: {{ agent }}, ")
    assert "{{ salutation }}" in message
    assert caught.value.details == {"placeholders": "balance"}


def test_several_unknown_placeholders_are_all_named() -> None:
    with pytest.raises(TemplateError, match=r"^unknown placeholders \{\{ a \}\}, \{\{ b \}\};"):
        check("{{ b }} {{ a }} {{ name }}")


def test_jinja_globals_are_not_available() -> None:
    with pytest.raises(TemplateError, match=r"unknown placeholder \{\{ range \}\}"):
        check("{% for i in range(10) %}{{ name }}{% endfor %}")


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check("Hello\n{{ name }")
    assert str(caught.value) == "line 2: unexpected '}'"
    assert caught.value.details == {"line": "2"}


def test_unknown_filter_is_refused_by_check() -> None:
    with pytest.raises(TemplateError, match="^line 1: No filter named 'shout'"):
        check("{{ name | shout }}")


@pytest.mark.parametrize("body", ["", "   ", "\n\t\n"])
def test_blank_body_is_refused(body: str) -> None:
    with pytest.raises(TemplateError, match="^the message is empty$"):
        check(body)


def test_length_limit() -> None:
    check("x" * MAX_LENGTH)
    with pytest.raises(
        TemplateError, match="^the message is 1601 characters long; the limit is 1600$"
    ):
        check("x" * (MAX_LENGTH + 1))


def test_template_error_is_a_domain_error() -> None:
    assert issubclass(TemplateError, DomainError)
    assert TemplateError.error_id == "invalid-template"


def test_missing_value_is_named_at_render() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{{ name }}: your code is {{ code }}", {"name": "Li Wei"})
    assert str(caught.value) == "no value for {{ code }}"
    assert caught.value.details == {"placeholders": "code"}


@pytest.mark.parametrize(
    "body",
    [
        "{{ name.__class__.__mro__ }}",
        "{{ name.__class__.__base__.__subclasses__() }}",
        "{{ name.format.__globals__ }}",
        "{{ name * 999999999 }}",
        "{{ name ~ name ~ name | center(999999999) }}",
        "{% for c in name %}{% for d in name %}x{% endfor %}{% endfor %}",
        "{% set x = name %}{{ x }}",
        "{{ name | truncate(999999999) }}",
    ],
)
def test_anything_beyond_placeholders_conditions_and_text_filters_is_refused(body: str) -> None:
    with pytest.raises(TemplateError, match="^line 1: "):
        check(body)
    with pytest.raises(TemplateError, match="^line 1: "):
        render(body, sample_values())


def test_conditions_and_text_filters_are_allowed() -> None:
    body = (
        "{% if salutation %}{{ salutation }} {% endif %}{{ name | upper }}{{ code | default('') }}"
    )
    assert render(body, {"salutation": "", "name": "Li Wei", "code": ""}) == "LI WEI"
    assert render("{{ name | truncate(9) }}", {"name": "Anastasia Smith"}) == "Anasta..."


def test_runtime_failure_becomes_template_error() -> None:
    with pytest.raises(TemplateError, match="^cannot render the template: "):
        render("{{ name | truncate('x') }}", sample_values())


def test_render_refuses_a_body_check_refuses() -> None:
    with pytest.raises(TemplateError, match="unknown placeholder"):
        render("{{ password }}", {"password": "secret"})


def test_sample_values_fill_every_placeholder() -> None:
    values = sample_values()
    assert values.keys() == VARIABLES
    assert all(values.values())
    body = " ".join(f"{{{{ {name} }}}}" for name in sorted(VARIABLES))
    assert render(body, values) == " ".join(values[name] for name in sorted(VARIABLES))
