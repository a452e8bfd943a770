"""Schemathesis hooks for tests/test_api_schema.py (loaded through SCHEMATHESIS_HOOKS).

Generated ids name nothing, so without help nearly every request would stop at
404. Before each call these hooks point the request at real objects the test
made (a ready workspace with files; another with a venv for runs), give moves a
real file to move, and members to add real users; and give every destructive
operation a fresh object of its own, made through the API: deleting a
workspace, a member or a token never takes away what later requests need
(the token the run authenticates with, above all). The generated bodies,
queries and other paths are left as generated.
"""

import os
import zlib

import requests
import schemathesis

API = os.environ.get("DEVBENCH_API", "")
AUTHORIZATION = {"Authorization": f"Bearer {os.environ.get('DEVBENCH_TOKEN', '')}"}
WORKSPACE_ID = int(os.environ.get("DEVBENCH_WORKSPACE_ID", "0"))
# Runs get a workspace of their own, whose venv no generated file operation can delete.
RUNNER_WORKSPACE_ID = int(os.environ.get("DEVBENCH_RUNNER_WORKSPACE_ID", "0"))
MEMBERSHIP_ID = int(os.environ.get("DEVBENCH_MEMBERSHIP_ID", "0"))
USERNAMES = os.environ.get("DEVBENCH_USERNAMES", "").split(",")

_fresh_count = 0


def _post(path: str, body: dict) -> dict:
    response = requests.post(f"{API}/api/v1/{path}", json=body, headers=AUTHORIZATION, timeout=30)
    response.raise_for_status()
    return response.json()


def _fresh_workspace() -> dict:
    global _fresh_count
    _fresh_count += 1
    return _post("workspaces/", {"name": f"Scratch {_fresh_count}"})


def _fields(case) -> dict:
    return case.body if isinstance(case.body, dict) else {}


def _scratch_name() -> str:
    global _fresh_count
    _fresh_count += 1
    return f"scratch-{_fresh_count}.txt"


def _existing_username(generated: object) -> str:
    """A real user for a generated name, chosen by the name so a run stays reproducible."""
    return USERNAMES[zlib.crc32(repr(generated).encode()) % len(USERNAMES)]


@schemathesis.hook
def before_call(context, case, kwargs):
    method, path = case.method.upper(), case.operation.path
    parameters = case.path_parameters if case.path_parameters is not None else {}
    if "workspace_pk" in parameters:
        parameters["workspace_pk"] = RUNNER_WORKSPACE_ID if path.endswith("/runs/") else WORKSPACE_ID
    if path == "/api/v1/workspaces/{id}/":
        if method == "DELETE":
            workspace = _fresh_workspace()
            parameters["id"] = workspace["id"]
            case.query = {**(case.query or {}), "confirm": workspace["name"]}
        else:
            parameters["id"] = WORKSPACE_ID
    elif path == "/api/v1/workspaces/{id}/reprovision/":
        parameters["id"] = _fresh_workspace()["id"]
    elif path == "/api/v1/tokens/{id}/" and method == "DELETE":
        parameters["id"] = _post("tokens/", {"name": "scratch", "expires_in_days": 1})["id"]
    elif path == "/api/v1/workspaces/{workspace_pk}/members/{id}/":
        if method == "DELETE":
            workspace = _fresh_workspace()
            member = _post(f"workspaces/{workspace['id']}/members/", {"username": USERNAMES[0], "role": "viewer"})
            parameters.update(workspace_pk=workspace["id"], id=member["id"])
        else:
            parameters["id"] = MEMBERSHIP_ID
    elif path == "/api/v1/workspaces/{workspace_pk}/files/move/" and "source" in _fields(case):
        # Something real to move; the generated destination is kept.
        scratch = _post(f"workspaces/{WORKSPACE_ID}/files/", {"path": _scratch_name(), "type": "file"})
        case.body["source"] = scratch["path"]
    elif path == "/api/v1/workspaces/{workspace_pk}/members/" and method == "POST" and "username" in _fields(case):
        case.body["username"] = _existing_username(case.body["username"])


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but one that is not the application's: daphne (Twisted)
    parses multipart bodies itself and answers one without any part (which only
    a schema-violating request sends) with a bare 400, before Django sees it."""
    sent_multipart = "multipart/form-data" in str(case.media_type or "")
    bare_400 = response.status_code == 400 and not response.content and "content-type" not in response.headers
    return not (sent_multipart and bare_400)
