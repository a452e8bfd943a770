"""Validating run requests, shared by the runner WebSocket and the runs API."""

from workspaces import files
from workspaces.runtime import get_runtime

MAX_CODE_CHARS = 1_000_000
MAX_ARGS = 100


class InvalidRunRequest(ValueError):
    pass


class RunTargetNotFound(InvalidRunRequest):
    """The file to run does not exist: a well-formed request about a missing file (the API answers 404)."""


def parse_run_request(workspace, data, *, allowed_keys: set[str]):
    from terminal.runner import RunRequest

    if not isinstance(data, dict):
        raise InvalidRunRequest("The request must be a JSON object.")
    unknown = sorted(set(data) - allowed_keys)
    if unknown:
        raise InvalidRunRequest(f"Unknown field(s): {', '.join(unknown)}.")
    path, code, args = data.get("path"), data.get("code"), data.get("args", [])
    if (path is None) == (code is None):
        raise InvalidRunRequest("Give exactly one of 'path' (a workspace file) or 'code' (a snippet).")
    if not isinstance(args, list) or len(args) > MAX_ARGS or not all(isinstance(arg, str) for arg in args):
        raise InvalidRunRequest(f"'args' must be a list of at most {MAX_ARGS} strings.")
    if code is not None:
        if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
            raise InvalidRunRequest(f"'code' must be text of at most {MAX_CODE_CHARS} characters.")
        return RunRequest(code=code, args=args)
    try:
        relative = files.existing_file(get_runtime(workspace.runtime).root(workspace.pk), path)
    except files.FilesError as error:
        if error.code in ("not_found", "not_a_file"):
            raise RunTargetNotFound(f"'{files.normalise(path)}' is not a file in this workspace.") from error
        raise InvalidRunRequest(error.message) from error
    return RunRequest(path=relative, args=args)
