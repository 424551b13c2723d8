"""Form validation errors in the page's language.

pydantic words its errors in English ("Input should be less than or equal to 10"); a learner on
a Chinese page gets the same facts, from the same error, in Chinese.
"""

from __future__ import annotations

from pydantic import ValidationError

TEMPLATES = {
    "zh": {
        "less_than_equal": "{field}：不能大于 {le}",
        "less_than": "{field}：必须小于 {lt}",
        "greater_than_equal": "{field}：不能小于 {ge}",
        "greater_than": "{field}：必须大于 {gt}",
        "int_parsing": "{field}：需要一个整数",
        "int_from_float": "{field}：需要一个整数",
        "float_parsing": "{field}：需要一个数",
        "bool_parsing": "{field}：需要是或否",
        "literal_error": "{field}：只能是 {expected} 之一",
        "missing": "{field}：不能为空",
        "string_too_long": "{field}：太长（最多 {max_length} 个字符）",
        "other": "{field}：这个值无效",
    },
    "en": {
        "less_than_equal": "{field}: at most {le}",
        "less_than": "{field}: less than {lt}",
        "greater_than_equal": "{field}: at least {ge}",
        "greater_than": "{field}: more than {gt}",
        "int_parsing": "{field}: a whole number is needed",
        "int_from_float": "{field}: a whole number is needed",
        "float_parsing": "{field}: a number is needed",
        "bool_parsing": "{field}: yes or no is needed",
        "literal_error": "{field}: one of {expected}",
        "missing": "{field}: required",
        "string_too_long": "{field}: too long (at most {max_length} characters)",
        "other": "{field}: not a valid value",
    },
}


def message(lang: str, exc: ValidationError, labels: dict[str, str] | None = None) -> str:
    """One line per problem, naming the field as the form labels it (else by its name)."""
    texts = TEMPLATES.get(lang, TEMPLATES["en"])
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"])
        field = (labels or {}).get(name, name)
        template = texts.get(err["type"], texts["other"])
        try:
            lines.append(template.format(field=field, **(err.get("ctx") or {})))
        except (KeyError, IndexError):
            lines.append(texts["other"].format(field=field))
    return "; ".join(lines)
