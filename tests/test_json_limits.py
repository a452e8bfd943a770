"""JSON limits: the depth scan itself, and every REST operation that takes a JSON body."""

import json
import re
import time

import pytest
from django.conf import settings as django_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import strategies as st

from platform_core import json_limits
from platform_core.services import do_create_api_token
from tests.conftest import make_ready
from workspaces.models import Membership

# The scan ------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n\u00e9'),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=30,
)


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


@given(json_values, st.booleans())
def test_it_measures_the_depth_the_parser_would_reach(value, ensure_ascii):
    text = json.dumps(value, ensure_ascii=ensure_ascii)

    assert json_limits.nesting_depth(text) == depth_of(value)
    assert json_limits.nesting_depth(text.encode()) == depth_of(value)


def test_brackets_inside_strings_and_escaped_quotes_do_not_count():
    text = json.dumps({"a": "[[[[{{{{", "b": ['\\"]]]', "\\"], "c": [[1]]})

    assert json_limits.nesting_depth(text) == 3


def test_it_refuses_deep_json_before_the_parser_sees_it():
    deep = "[" * 200_000 + "]" * 200_000

    with pytest.raises(json_limits.JsonTooDeep, match="64 levels"):
        json_limits.loads(deep, max_depth=64)
    assert json_limits.loads("[" * 64 + "]" * 64, max_depth=64) is not None


def test_it_refuses_text_over_the_size_in_utf8_bytes():
    text = json.dumps("é" * 600, ensure_ascii=False)  # 602 characters, 1202 bytes

    with pytest.raises(json_limits.JsonTooLarge, match="1000 bytes"):
        json_limits.check(text, max_depth=64, max_bytes=1000)
    json_limits.check(text, max_depth=64, max_bytes=1202)


@pytest.mark.parametrize(
    "hostile",
    [
        '"' + '\\"' * 2_000_000,  # one string that never ends, full of escaped quotes
        "[" * 4_000_000,
        "[]" * 2_000_000,
    ],
    ids=["unterminated-string", "deep", "flat-brackets"],
)
def test_the_scan_stays_linear_on_hostile_input(hostile):
    started = time.perf_counter()
    with pytest.raises(ValueError):
        json_limits.loads(hostile, max_depth=64)
    # About 0.15 s each on a loaded 2-core machine; a quadratic scan would take hours.
    assert time.perf_counter() - started < 5


# The REST API --------------------------------------------------------------------------------------------

NESTED = "[" * 100_000 + "]" * 100_000
SLIGHTLY_TOO_DEEP = json.dumps({"name": json.loads("[" * 70 + "]" * 70)})


def json_body_operations() -> list[tuple[str, str]]:
    """(METHOD, path template) of every API operation whose schema takes a JSON body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "application/json" in (operation.get("requestBody") or {}).get("content", {})
    )


def test_the_schema_lists_the_operations_that_take_json():
    # Guards the generated test below against a schema that stops naming bodies.
    assert ("POST", "/api/v1/workspaces/") in json_body_operations()
    assert ("PUT", "/api/v1/workspaces/{workspace_pk}/files/content/") in json_body_operations()


@pytest.fixture
def path_values(personas):
    """Values for the path parameters of the schema's templates, by (collection, parameter)."""
    make_ready(personas.workspace)
    token, _ = do_create_api_token(personas.owner, "limits", expires_in_days=30)
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.editor)
    return {
        ("workspaces", "id"): personas.workspace.pk,
        ("workspaces", "workspace_pk"): personas.workspace.pk,
        ("members", "id"): membership.pk,
        ("tokens", "id"): token.pk,
        ("lsp", "server"): "ruff",
    }


def fill(template: str, values: dict) -> str:
    def value(match):
        collection = template[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        key = (collection, match.group(1))
        if match.group(1) == "workspace_pk":
            key = ("workspaces", "workspace_pk")
        assert key in values, f"no test value for {key} in {template}: add one to path_values"
        return str(values[key])

    return re.sub(r"\{(\w+)\}", value, template)


@pytest.mark.parametrize(("method", "template"), json_body_operations())
@pytest.mark.parametrize("body", [NESTED, SLIGHTLY_TOO_DEEP], ids=["100000-deep", "70-deep"])
def test_every_json_operation_answers_deep_json_with_malformed_request(
    api, personas, path_values, method, template, body
):
    url = fill(template, path_values)

    response = api.as_user(personas.owner).generic(method, url, body, content_type="application/json")

    assert response.status_code == 400, (url, response.content[:300])
    assert response.json()["error"]["code"] == "malformed_request"
    assert f"{django_settings.JSON_MAX_DEPTH} levels" in response.json()["error"]["message"]


def test_json_within_the_depth_reaches_the_serializer(api, personas):
    nested = json.dumps({"name": json.loads("[" * 10 + "]" * 10)})

    response = api.as_user(personas.owner).post("/api/v1/workspaces/", nested, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


# JSON the platform reads from workspace files -----------------------------------------------------------------


def test_a_deeply_nested_pyrightconfig_is_left_alone_instead_of_crashing_the_session_start(tmp_path):
    from workspaces.environment.pyright_config import ensure_pyright_config

    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "pyrightconfig.json").write_text(deep)

    assert ensure_pyright_config(tmp_path) is False
    assert (tmp_path / "pyrightconfig.json").read_text() == deep
