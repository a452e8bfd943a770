"""What the files API accepts as paths and names, written as JSON Schema for the OpenAPI schema.

``workspaces.files.normalise`` is the rule; these patterns describe it so that
a client (or a schema-driven fuzzer) can tell a valid path before sending it:
relative, '/'-separated, no '..' component, no backslash, no control
character, not starting with '/' or '~' and without a drive letter (a second
character ':'). What a pattern cannot say (a name over 255 UTF-8 bytes) is in
the description and answered 400 ``name_too_long``. Written without lookaheads,
which many regex engines and data generators handle poorly.
tests/test_api_schema.py checks the patterns against ``normalise``.
"""

from workspaces.files import MAX_NAME_BYTES, MAX_PATH_CHARS

# C0 and C1 control characters and DEL: refused in file and workspace names.
_CONTROL = r"\u0000-\u001f\u007f-\u009f"
_NAME_CHARACTER = rf"[^/\\{_CONTROL}]"
# One component of a path, any but "..": ".", "..x...", ".x...", "x...".
_COMPONENT = rf"(?:\.|\.\.{_NAME_CHARACTER}+|\.[^./\\{_CONTROL}]{_NAME_CHARACTER}*|[^./\\{_CONTROL}]{_NAME_CHARACTER}*)"
# The first component of a whole path, which also must not start with '~' nor
# have ':' as the path's second character; "." is left out (below-root paths).
_FIRST_NAMED_COMPONENT = (
    rf"(?:\.\.{_NAME_CHARACTER}+|\.[^./\\:{_CONTROL}]{_NAME_CHARACTER}*"
    rf"|[^./\\~{_CONTROL}](?:[^/\\:{_CONTROL}]{_NAME_CHARACTER}*)?)"
)

# Any path, the workspace root ('' or '.') included.
PATH_PATTERN = rf"^(?:(?:\.|{_FIRST_NAMED_COMPONENT})(?:/+{_COMPONENT})*/*)?$"
# A path naming something below the root (leading "./" allowed).
BELOW_ROOT_PATH_PATTERN = rf"^(?:\./+)*{_FIRST_NAMED_COMPONENT}(?:/+{_COMPONENT})*/*$"

_PATH_DESCRIPTION = (
    f"Workspace-relative, '/'-separated; no '..', backslash or control character; each name at most "
    f"{MAX_NAME_BYTES} UTF-8 bytes."
)
PATH_SCHEMA = {
    "type": "string",
    "maxLength": MAX_PATH_CHARS,
    "pattern": PATH_PATTERN,
    "description": _PATH_DESCRIPTION + " Empty for the workspace root.",
}
BELOW_ROOT_PATH_SCHEMA = {
    "type": "string",
    "maxLength": MAX_PATH_CHARS,
    "pattern": BELOW_ROOT_PATH_PATTERN,
    "description": _PATH_DESCRIPTION + " Names a file or folder, not the workspace root.",
}

# Workspace names: trimmed, not blank, no control characters.
WORKSPACE_NAME_SCHEMA = {
    "type": "string",
    "maxLength": 100,
    "pattern": rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$",
    "description": "Up to 100 characters once surrounding whitespace is trimmed; no control characters.",
}
