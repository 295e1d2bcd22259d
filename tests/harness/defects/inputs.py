"""Defects of this area (see tests/harness/defects/__init__.py): what a user may send, how it is kept,
and who may finish an OAuth flow."""

from tests.harness.defects import Defect

INPUTS_DEFECTS: tuple[Defect, ...] = (
    Defect(
        "custom-data-depth-not-limited",
        "api/models.py",
        # As before the fix: any depth is stored, and the answer (or the next read) fails.
        (
            (
                "            if node.level > MAX_CUSTOM_DATA_DEPTH:\n                return",
                "            if False:\n                return",
            ),
        ),
        "SEC-06",
    ),
    Defect(
        "stored-custom-data-shown-unchecked",
        "api/integrations.py",
        # A value an older version stored goes out as it is: too deep to serialise, or with its secret.
        (
            (
                "if isinstance(value, UnreadableJson) or custom_data_problem(value):",
                "if False:",
            ),
        ),
        "SEC-06",
    ),
    Defect(
        "stored-json-parsed-without-a-guard",
        "db/engine.py",
        # A stored value deeper than Python's JSON parser goes fails every read of its row.
        (("        json_deserializer=load_json,\n", ""),),
        "SEC-06",
    ),
    Defect(
        "only-top-level-custom-data-keys-checked-for-secrets",
        "api/models.py",
        (
            (
                "            if _SECRET_LOOKING_KEY.search(key):",
                "            if node.level == 2 and _SECRET_LOOKING_KEY.search(key):",
            ),
        ),
        "SEC-01",
    ),
    Defect(
        "oauth-state-cookie-not-checked",
        "api/connections.py",
        # The state alone completes the flow, in whichever browser opens the consent URL.
        (("    _require_same_browser(request, state)\n", ""),),
        "SECT-04",
    ),
    Defect(
        "if-match-ignored",
        "api/integrations.py",
        (
            (
                "credentials.update(connection, user_id, integration_id, values, _versions_allowed(if_match))",
                "credentials.update(connection, user_id, integration_id, values, None)",
            ),
        ),
        "INT-05",
    ),
    Defect(
        "patch-rewrites-every-field-it-read",
        "api/integrations.py",
        # Read, merge, write the whole row: a writer of another field in between is silently undone.
        (
            (
                "    values.update(_encrypted_secrets(payload, box))\n",
                "    values.update(_encrypted_secrets(payload, box))\n"
                "    with engine.connect() as connection:\n"
                "        before = credentials.get(connection, user_id, integration_id)\n"
                "    if before is not None:\n"
                "        import time\n\n"
                "        time.sleep(0.05)\n"
                "        kept = ('integration_name', 'is_active', 'custom_data')\n"
                "        values = {**{name: before[name] for name in kept}, **values}\n",
            ),
        ),
        "INT-05",
    ),
)
