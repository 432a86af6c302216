"""The client's answers to elicitation, sampling and roots: their result type, and an accepted
elicitation's content against the requested schema (elicitation.mdx's restricted subset)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_middleware import ClientRequestError
from mcp_middleware._answers import answer_problem, content_problem, error_problem, shape_problem

NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def form(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def elicit(schema: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "form", "message": "?", "requestedSchema": schema}


# -- the result type of the request answered ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "answer", "problem"),
    [
        ("elicitation/create", {"action": "maybe"}, "ElicitResult.action: Input should be"),
        ("elicitation/create", {"content": {"name": "x"}}, "ElicitResult.action: Field required"),
        ("elicitation/create", {"roots": []}, "ElicitResult.action: Field required"),
        ("roots/list", {"action": "accept"}, "ListRootsResult.roots: Field required"),
        ("roots/list", {"roots": [{"name": "x"}]}, "ListRootsResult.roots.0.uri: Field required"),
        ("sampling/createMessage", {"action": "accept"}, "CreateMessageResult."),
    ],
)
def test_an_answer_is_checked_against_the_result_of_its_own_request(method: str, answer: Any, problem: str) -> None:
    found = answer_problem(method, elicit(NAME) if method == "elicitation/create" else {}, answer)
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"action": "accept", "content": {"name": {"first": "Ann"}}}, '"name" should be a string, not an object'),
        ({"action": "accept", "content": {"name": "Ann", "n": [1]}}, '"n" is not in the requestedSchema'),
        ({"action": "accept", "content": {"name": ["a", 1]}}, '"name" should be a string, not an array'),
    ],
)
def test_an_elicitation_s_envelope_is_its_shape_and_its_content_a_misfit(answer: Any, problem: str) -> None:
    """Only the envelope (the action, a content object) makes an answer no ElicitResult (400, the
    question open); a value no ElicitResult has is the content's problem (the question fails)."""
    assert shape_problem("elicitation/create", answer) is None
    found = answer_problem("elicitation/create", elicit(NAME), answer)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"action": "accept", "content": 5}, "ElicitResult.content: Input should be a valid dictionary"),
        ({"action": "accept", "content": ["a"]}, "ElicitResult.content: Input should be a valid dictionary"),
        ({"action": "yes", "content": {"name": {}}}, "ElicitResult.action: Input should be"),
        ({"content": {}}, "ElicitResult.action: Field required"),
    ],
)
def test_an_elicitation_whose_envelope_is_wrong_is_no_answer(answer: Any, problem: str) -> None:
    found = shape_problem("elicitation/create", answer)
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize("code", ["5", True, 1.0, None, [1]])
def test_an_error_answer_s_code_is_an_integer_no_other_value(code: Any) -> None:
    """JSON-RPC: the code MUST be an integer; a string of digits, a boolean or 1.0 is not one
    (validated strictly, not coerced)."""
    problem = "the error is not a JSON-RPC error object: code: Input should be a valid integer"
    assert error_problem({"code": code, "message": "no"}) == problem


@pytest.mark.parametrize("error", [{"code": -1, "message": "no"}, {"code": 2**70, "message": "", "data": {"a": 1}}])
def test_a_json_rpc_error_object_has_no_problem(error: Any) -> None:
    assert error_problem(error) is None


def test_an_answer_that_is_no_object_says_so() -> None:
    assert answer_problem("roots/list", {}, 5) == "the result is not an object"


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("elicitation/create", {"action": "accept", "content": {"name": "Ann"}}),
        ("elicitation/create", {"action": "decline"}),
        ("elicitation/create", {"action": "cancel", "content": {"name": 5}}),  # not accepted: not checked
        ("elicitation/create", {"action": "decline", "content": {"name": {"first": "Ann"}}}),  # nor its values
        ("elicitation/create", {"action": "cancel", "content": 5}),  # nor its shape
        ("roots/list", {"roots": [{"uri": "file:///tmp"}]}),
        ("sampling/createMessage", {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}),
    ],
)
def test_valid_answers_have_no_problem(method: str, answer: Any) -> None:
    assert answer_problem(method, elicit(NAME) if method == "elicitation/create" else {}, answer) is None


def test_an_accepted_elicitation_is_checked_against_its_schema() -> None:
    problem = answer_problem("elicitation/create", elicit(NAME), {"action": "accept", "content": {"name": 5}})
    assert problem == 'the content does not fit the requestedSchema: "name" should be a string, not an integer'


def test_an_accepted_elicitation_without_content_is_an_empty_form() -> None:
    assert answer_problem("elicitation/create", elicit(NAME), {"action": "accept"}) is not None
    assert answer_problem("elicitation/create", elicit(form({"a": {"type": "string"}})), {"action": "accept"}) is None


def test_an_elicitation_without_a_schema_is_not_checked() -> None:
    """URL mode (not asked through the context API, but an answer to one carries no content)."""
    assert answer_problem("elicitation/create", {"mode": "url", "url": "https://x"}, {"action": "accept"}) is None


# -- the requested schema --------------------------------------------------------------------------


def problem_of(prop: dict[str, Any], value: Any) -> str | None:
    return content_problem(form({"p": prop}), {"p": value})


@pytest.mark.parametrize(
    ("prop", "value", "problem"),
    [
        ({"type": "string"}, 5, '"p" should be a string, not an integer'),
        ({"type": "string"}, ["a"], '"p" should be a string, not an array'),
        ({"type": "string"}, 2.5, '"p" should be a string, not a number'),
        ({"type": "string"}, {"a": 1}, '"p" should be a string, not an object'),
        ({"type": "array", "items": {"type": "string"}}, ["a", None], '"p"[1] should be a string, not null'),
        ({"type": "string", "minLength": 3}, "ab", '"p" is 2 characters long, shorter than minLength 3'),
        ({"type": "string", "maxLength": 3}, "abcd", '"p" is 4 characters long, longer than maxLength 3'),
        ({"type": "string", "pattern": "^[a-z]+$"}, "Ab", '"p" does not match the pattern ^[a-z]+$'),
        ({"type": "string", "format": "email"}, "nobody", '"p" is not an email address'),
        ({"type": "string", "format": "email"}, "a b@c.d", '"p" is not an email address'),
        ({"type": "string", "format": "uri"}, "example.com/x", '"p" is not a URI'),
        ({"type": "string", "format": "date"}, "2024-13-01", '"p" is not a date (YYYY-MM-DD)'),
        ({"type": "string", "format": "date"}, "tomorrow", '"p" is not a date (YYYY-MM-DD)'),
        ({"type": "string", "format": "date-time"}, "2024-01-01", '"p" is not a date-time'),
        ({"type": "string", "format": "date-time"}, "2024-01-01T25:00:00Z", '"p" is not a date-time'),
        ({"type": "number"}, "5", '"p" should be a number, not a string'),
        ({"type": "number"}, True, '"p" should be a number, not a boolean'),
        ({"type": "integer"}, 2.5, '"p" should be an integer, not a number with a fraction'),
        ({"type": "integer"}, False, '"p" should be an integer, not a boolean'),
        ({"type": "number", "minimum": 18}, 17, '"p" is 17, below the minimum 18'),
        ({"type": "number", "maximum": 1.5}, 2, '"p" is 2, above the maximum 1.5'),
        ({"type": "boolean"}, "true", '"p" should be a boolean, not a string'),
        ({"type": "boolean"}, 1, '"p" should be a boolean, not an integer'),
        ({"type": "string", "enum": ["Red", "Green"]}, "Blue", '"p" is not one of the choices: "Red", "Green"'),
        (
            {"type": "string", "oneOf": [{"const": "#f00", "title": "Red"}, {"const": "#0f0", "title": "Green"}]},
            "Red",
            '"p" is not one of the choices: "#f00", "#0f0"',
        ),
        (
            {"type": "string", "enum": ["a", "b"], "enumNames": ["A", "B"]},  # legacy titled enum
            "A",
            '"p" is not one of the choices: "a", "b"',
        ),
        (
            {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "a",
            '"p" should be an array, not a string',
        ),
        ({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}, ["a", "c"], '"p"[1] is not one of the'),
        ({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}, ["a", 1], '"p"[1] should be a string'),
        (
            {"type": "array", "items": {"anyOf": [{"const": "x", "title": "X"}]}},
            ["y"],
            '"p"[0] is not one of the choices: "x"',
        ),
        (
            {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1},
            [],
            '"p" has 0 items, fewer than minItems 1',
        ),
        (
            {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 1},
            ["a", "b"],
            '"p" has 2 items, more than maxItems 1',
        ),
    ],
)
def test_a_value_that_does_not_fit_its_property_is_named_with_the_problem(
    prop: dict[str, Any], value: Any, problem: str
) -> None:
    found = problem_of(prop, value)
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ({"type": "string"}, ""),
        ({"type": "string", "minLength": 2, "maxLength": 2}, "é!"),  # code points, as JSON Schema counts
        ({"type": "string", "pattern": "[0-9]"}, "a1b"),  # unanchored, as JSON Schema's pattern
        ({"type": "string", "pattern": "(?<=a)b(?!"}, "anything"),  # not a pattern Python reads: not checked
        ({"type": "string", "format": "email"}, "octocat@github.com"),
        ({"type": "string", "format": "uri"}, "https://example.com/a?b=c"),
        ({"type": "string", "format": "uri"}, "urn:isbn:0451450523"),
        ({"type": "string", "format": "date"}, "2024-02-29"),
        ({"type": "string", "format": "date-time"}, "2024-02-29T10:00:00Z"),
        ({"type": "string", "format": "date-time"}, "2024-02-29T10:00:00.5+02:00"),
        ({"type": "string", "format": "date-time"}, "2024-02-29T10:00"),  # as an HTML datetime-local input
        ({"type": "string", "format": "hostname"}, "not checked"),  # a format the spec does not list
        ({"type": "number"}, 3),  # an integer is a number
        ({"type": "number"}, 2.5),
        ({"type": "integer"}, 3.0),  # JSON Schema: a number without a fraction is an integer
        ({"type": "integer", "minimum": 0, "maximum": 0}, 0),
        ({"type": "boolean"}, False),
        ({"type": "string", "enum": ["Red", "Green"]}, "Green"),
        ({"type": "string", "oneOf": [{"const": "#f00", "title": "Red"}]}, "#f00"),
        ({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1, "maxItems": 2}, ["b"]),
        ({"type": "array", "items": {"anyOf": [{"const": "x", "title": "X"}]}}, ["x", "x"]),
        ({"type": "string"}, None),  # an optional field left empty
        ({"type": "object", "properties": {}}, "not in the spec's subset: not checked"),
        ({"description": "no type"}, 5),
    ],
)
def test_a_value_that_fits_its_property_has_no_problem(prop: dict[str, Any], value: Any) -> None:
    assert problem_of(prop, value) is None


@pytest.mark.parametrize(
    ("pattern", "value", "problem"),
    [
        # review: Rust's \d, \w, \s are Unicode's; ECMA-262's (the client's) are ASCII digits, ASCII
        # word characters and its own white space, so their negations refused what a client accepts
        ("^\\D*$", "\u0663", False),
        ("^[^\\d]+$", "\u0663", False),
        ("^\\W+$", "\u00e9", False),
        ("^\\s*$", "\ufeff", False),
        ("^\\S+$", "\u0085", False),
        ("^[\\S]+$", "\u0085", False),
        ("^[^\\s]+$", "\u0085", False),
        ("^a\\b", "a\u00e9", False),  # a word boundary: ECMA-262's is of its \w; not checked
        ("^a\\B", "a", False),
        # and what ECMA-262 refuses is still refused
        ("^\\d+$", "\u0663", True),
        ("^\\w+$", "\u00e9", True),
        ("^\\s$", "\u0085", True),
        ("^[^\\D]$", "\u0663", True),
        ("^[^\\D]$", "3", False),
        ("^[\\d-z]+$", "3-z", False),  # a - beside a set is a character
        (".", "\u2028", True),  # ECMA-262's . takes no line terminator (Rust's takes all but \n)
        ("^.$", "\r", True),
        # ECMA-262's class syntax, not Rust's: && is two characters, [ a character, [] nothing, [^] anything
        ("^[a&&b]$", "&", False),
        ("^[[a]+$", "[a", False),
        ("^[[:alpha:]]$", ":]", False),
        ("^a[]", "a", True),
        ("^[^]$", "\n", False),
        ("^[\\b]$", "\b", False),  # a backspace, in a class
        ("^a{,2}$", "a{,2}", False),  # no quantifier: ECMA-262 without u reads it as characters; not checked
        ("^\\p{L}$", "p{L}", False),  # \p: a p without u, a property with it; not checked
        ("^..$", "\U0001f600", False),  # two code units without u: an answer with an astral character is not checked
        ("^.$", "\U0001f600", False),
        # review: ES2025 modifiers change what . $ and a class mean inside them; not checked
        ("^(?s:.+)$", "line one\nline two", False),
        ("^(?s:.)$", "\u2028", False),
        ("^a(?m:$)", "a\r\nb", False),
        ("^a(?m:$)", "a\u2028b", False),
        ("^(?i:[^k])$", "\u212a", False),
        ("^(?i:\\W)$", "\u017f", False),
        ("^(?-i:a)$", "b", False),
        # a non-capturing group is ECMA-262's and Rust's alike: checked
        ("^(?:ab)+$", "abab", False),
        ("^(?:ab)+$", "aba", True),
    ],
)
def test_a_pattern_means_what_it_means_to_the_client(pattern: str, value: str, problem: bool) -> None:
    """The server never refuses an answer the client's own (ECMA-262) check accepts, with or
    without the u flag: its classes are written as ECMA-262's exact sets before Rust's regex runs
    them, and what cannot be written so is not checked."""
    found = problem_of({"type": "string", "pattern": pattern}, value)
    assert (found is not None) == problem, found


@pytest.mark.parametrize(
    ("pattern", "value", "problem"),
    [
        # Rust's $ is the end, as ECMA-262's (Python's re also takes it before a final line feed)
        ("^[a-z]+$", "abc\n", True),
        ("^[a-z]+$", "abc", False),
        ("(?<=a)b", "xb", False),  # a lookbehind: Rust's regex reads none, so the pattern is not checked
        ("(a)\\1", "ab", False),  # a backreference: not checked either
        ("^(a+)+$", "a" * 64 + "!", True),  # linear time: backtracking would not end in a lifetime
        ("^(a+)+$", "a" * 64, False),
    ],
)
def test_a_pattern_is_run_by_a_linear_time_engine(pattern: str, value: str, problem: bool) -> None:
    """The client's text never meets a backtracking engine (its answer is checked on the event
    loop): the pattern is pydantic's (Rust's regex); one it cannot read is not checked."""
    found = problem_of({"type": "string", "pattern": pattern}, value)
    assert (found is not None) == problem
    if problem:
        assert found == f'"p" does not match the pattern {pattern}'


def test_required_properties() -> None:
    schema = form({"a": {"type": "string"}, "b": {"type": "string"}}, "a", "b")
    assert content_problem(schema, {"a": "x"}) == 'required property "b" is missing'
    assert content_problem(schema, {"a": "x", "b": None}) == 'required property "b" is missing'
    assert content_problem(schema, {"a": "x", "b": "y"}) is None
    assert content_problem(form({"a": {"type": "string"}}), {}) is None  # nothing required


def test_properties_not_in_the_schema() -> None:
    assert content_problem(NAME, {"name": "x", "zzz": 1}) == '"zzz" is not in the requestedSchema'
    allowed = {**NAME, "additionalProperties": True}
    assert content_problem(allowed, {"name": "x", "zzz": 1}) is None


def test_a_schema_the_client_could_not_read_does_not_fail_the_check() -> None:
    """The route wrote the schema: one that is not a mapping, or properties that are not, checks
    only what it can."""
    assert content_problem({"type": "object"}, {"a": 1}) == '"a" is not in the requestedSchema'
    assert content_problem({"type": "object", "properties": {"a": "oops"}}, {"a": 1}) is None
    assert content_problem({"type": "object", "properties": {}, "required": "a"}, {}) is None


@pytest.mark.parametrize(
    ("schema", "answer", "quoted"),
    [
        (NAME, {"action": "accept", "content": {"name": "Ann", "x\nFORGED": 1}}, '"x\\nFORGED"'),
        (
            {**NAME, "additionalProperties": True},  # fits the schema; but no ElicitResult value
            {"action": "accept", "content": {"name": "Ann", "a\nFORGED\x1b[2J": [1]}},
            "content.a\\nFORGED\\x1b[2J.",
        ),
    ],
)
def test_the_client_s_text_a_problem_quotes_is_escaped(schema: Any, answer: Any, quoted: str) -> None:
    """Ops review: a problem quotes what the client sent (a property name, in our text or in the
    place pydantic names); a line break in it could forge a log line wherever it is logged."""
    problem = answer_problem("elicitation/create", elicit(schema), answer)
    assert problem is not None
    assert quoted in problem
    assert problem.isprintable()


def test_the_client_request_error_the_route_gets_is_escaped() -> None:
    """The text of the error the route gets for an error reply holds the client's message escaped;
    ``error`` keeps it as sent."""
    error = ClientRequestError("elicitation/create", {"code": -1, "message": "no\nway\u2028"})
    assert str(error) == "elicitation/create failed: no\\nway\\u2028"
    assert error.error == {"code": -1, "message": "no\nway\u2028"}


# JSON-Schema-Test-Suite, tests/draft2020-12/optional/format/date-time.json: every valid case, and
# the invalid ones this check refuses too (it is lenient elsewhere: no UTC offset, no seconds)
SUITE_VALID = [
    "1963-06-19T08:30:06.283185Z",
    "1963-06-19T08:30:06Z",
    "1937-01-01T12:00:27.87+00:20",
    "1990-12-31T15:59:50.123-08:00",
    "1998-12-31T23:59:60Z",  # a leap second, UTC
    "1998-12-31T15:59:60.123-08:00",  # a leap second, with minus offset
    "1963-06-19t08:30:06.283185z",
    "1985-04-12T00:59:59.999999999999999Z",
]
SUITE_INVALID = [
    "1998-12-31T23:59:61Z",
    "1998-12-31T23:58:60Z",  # a leap second on a wrong minute
    "1998-12-31T22:59:60Z",  # on a wrong hour
    "1990-02-31T15:59:59.123-08:00",
    "1990-12-31T15:59:59-24:00",
    "1963-06-19T08:30:06.28123+01:00Z",
    "1990-12-31T24:00:00Z",
    "1990-12-31T15:60:00Z",
    "06/19/1963 08:30:06 PST",
    "2013-350T01:01:01",
    "1963-6-19T08:30:06.283185Z",
    "1963-06-1T08:30:06.283185Z",
    "1963-06-1\u09eaT00:00:00Z",
    "1963-06-11T0\u09ea:00:00Z",
    "+11963-06-19T08:30:06.283185Z",
]
DATE_TIME = {"type": "string", "format": "date-time"}


@pytest.mark.parametrize("value", SUITE_VALID)
def test_a_date_time_the_json_schema_test_suite_holds_valid_is_taken(value: str) -> None:
    """Review: a leap second (second 60, RFC 3339 section 5.6) was refused, as Python's
    ``datetime`` has none; the client's own check (ajv-formats) takes it."""
    assert problem_of(DATE_TIME, value) is None


@pytest.mark.parametrize("value", SUITE_INVALID)
def test_a_date_time_the_json_schema_test_suite_holds_invalid_is_refused(value: str) -> None:
    assert problem_of(DATE_TIME, value) == '"p" is not a date-time (as 2024-05-31T14:30:00Z)'


@pytest.mark.parametrize(
    "value",
    [
        "1999-01-01T00:59:60+01:00",  # 23:59:60 UTC the day before
        "1998-12-31T18:29:60-05:30",  # an offset with minutes
        "1999-01-01T05:44:60.5+05:45",
        "1998-12-31T23:59:60",  # no offset (a datetime-local input): read as UTC, as ajv-formats reads it
        "0001-01-01T00:59:60+01:00",  # UTC is in year 0, which datetime cannot hold
        "2016-12-31t23:59:60z",
    ],
)
def test_a_leap_second_at_23_59_utc_is_taken(value: str) -> None:
    assert problem_of(DATE_TIME, value) is None


@pytest.mark.parametrize(
    "value",
    [
        "1998-12-31T23:59:60+01:00",  # 22:59:60 UTC
        "1998-12-31T15:59:60",  # no offset: 15:59:60 UTC
        "1998-12-31T23:59:60.5+00:00:30",  # an offset with seconds: never on the minute
        "1998-12-31T23:59:61.5Z",
        "1998-12-31T23:60Z",
        "1998-12-31T235960Z",
    ],
)
def test_a_leap_second_elsewhere_is_refused(value: str) -> None:
    assert problem_of(DATE_TIME, value) == '"p" is not a date-time (as 2024-05-31T14:30:00Z)'
