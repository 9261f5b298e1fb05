"""Every malformed scenario in tests/fixtures/invalid/ is rejected with the right file, line, field, text.

Each fixture holds exactly one problem. The table below is the expectation: the 1-based line the error
points at, the field path it names, and a piece of the message a user would act on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossload.errors import EXIT_INPUT, InputError, ScenarioError
from crossload.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
INVALID = ROOT / "tests" / "fixtures" / "invalid"

# (fixture file, line, field path, part of the message)
CASES: list[tuple[str, int, str, str]] = [
    # structure of the file
    ("empty.yaml", 1, "", "the file is empty"),
    ("only_comments.yaml", 1, "", "holds only comments"),
    ("top_level_list.yaml", 2, "", "top level must be a mapping"),
    ("yaml_syntax_error.yaml", 4, "", "YAML syntax error: expected ',' or ']'"),
    ("control_character.yaml", 3, "", "character #x0001 is not allowed"),
    ("not_utf8.yaml", 3, "", "not UTF-8 text"),
    ("python_tag.yaml", 8, "requests[0].body", "unsupported YAML value"),
    ("merge_key.yaml", 6, "requests[1]", "merge keys (<<) are not supported"),
    ("duplicate_key.yaml", 8, "requests[0].weight", "duplicate key"),
    ("unknown_top_level_key.yaml", 4, "requets", "unknown key (did you mean 'requests'?)"),
    # version, name, requests
    ("missing_version.yaml", 2, "version", "missing; this format is version: 1"),
    ("version_2.yaml", 2, "version", "unsupported version 2; expected 1"),
    ("version_float.yaml", 2, "version", "unsupported version 1.0"),
    ("missing_name.yaml", 2, "name", "missing"),
    ("missing_requests.yaml", 2, "requests", "missing; list at least one request"),
    ("empty_requests.yaml", 4, "requests", "list at least one request"),
    # target
    ("target_ftp.yaml", 4, "target", "is not an http:// or https:// URL"),
    ("target_no_host.yaml", 4, "target", "has no host"),
    ("target_with_query.yaml", 4, "target", "without ?query or #fragment"),
    ("target_empty_query.yaml", 4, "target", "without ?query or #fragment"),
    ("target_with_space.yaml", 4, "target", "cannot contain spaces"),
    # requests
    ("unknown_request_key.yaml", 7, "requests[0].wieght", "unknown key (did you mean 'weight'?)"),
    ("request_missing_path.yaml", 5, "requests[0].path", "missing"),
    ("duplicate_request_name.yaml", 7, "requests[1].name", "duplicate request name 'home'"),
    ("unknown_method.yaml", 6, "requests[0].method", "unknown method 'FETCH'"),
    ("path_without_slash.yaml", 6, "requests[0].path", "must start with '/'"),
    ("weight_as_text.yaml", 7, "requests[0].weight", "expected a whole number, got text ('heavy')"),
    ("weight_too_large.yaml", 7, "requests[0].weight", "must be at most 10000"),
    ("get_with_json_body.yaml", 7, "requests[0].json", "a GET request cannot carry a body"),
    ("json_and_body.yaml", 9, "requests[0].body", "give either json or body, not both"),
    ("duplicate_key_in_json_body.yaml", 11, "requests[0].json.name", "duplicate key"),
    ("json_body_date.yaml", 8, "requests[0].json.added", "cannot be sent as JSON"),
    ("recursive_alias.yaml", 8, "requests[0].json.parts[0]", "cannot refer to the value that contains it"),
    # headers
    ("headers_as_list.yaml", 8, "requests[0].headers", "expected a mapping of name: value"),
    ("bad_header_name.yaml", 8, "requests[0].headers.X Request Id", "not a valid HTTP header name"),
    ("non_ascii_header_value.yaml", 8, "requests[0].headers.X-Customer", "header values must be ASCII"),
    ("header_value_newline.yaml", 8, "requests[0].headers.X-Note", "cannot contain line breaks"),
    ("duplicate_header.yaml", 9, "requests[0].headers.accept", "names are case-insensitive"),
    # durations and think time
    ("duration_negative.yaml", 7, "requests[0].think_time", "a duration cannot be negative"),
    ("duration_unknown_unit.yaml", 9, "profiles.load.duration", "'10 parsecs' is not a duration"),
    ("duration_not_a_number.yaml", 9, "profiles.load.duration", "is not a duration"),
    ("think_time_max_below_min.yaml", 7, "requests[0].think_time.max", "must not be smaller than min"),
    ("think_time_list.yaml", 7, "requests[0].think_time", "expected a duration such as 500ms"),
    # checks
    ("status_700.yaml", 8, "requests[0].checks.status", "700 is not an HTTP status code (100-599)"),
    ("bad_json_path.yaml", 9, "requests[0].checks.json[0].path", "'$..id' is not a JSON path"),
    ("json_path_missing_dot.yaml", 9, "requests[0].checks.json[0].path", "'$.items[0]id' is not a JSON path"),
    ("exists_false_with_equals.yaml", 9, "requests[0].checks.json[0].equals",
     "cannot combine equals with exists: false"),
    # thresholds
    ("threshold_unknown_metric.yaml", 8, "thresholds[0]", "unknown metric 'p96' (did you mean"),
    ("threshold_without_unit.yaml", 8, "thresholds[0]", "'500' needs a unit: write e.g. 500ms or 500s"),
    ("error_rate_without_percent.yaml", 8, "thresholds[0]", "'1' needs a unit: write the error rate in"),
    ("error_rate_in_ms.yaml", 8, "thresholds[0]", "'5ms' is not a percentage"),
    ("rps_per_minute.yaml", 8, "thresholds[0]", "'600/m' is not a rate"),
    ("threshold_malformed.yaml", 8, "thresholds[0]", "'p95 should be fast' is not a threshold"),
    ("threshold_infinite.yaml", 8, "thresholds[0]", "'inf' is not a duration"),
    ("threshold_unknown_request.yaml", 8, "thresholds[0].request", "no request is named 'checkout'"),
    ("request_form_inside_request.yaml", 8, "requests[0].thresholds[0]", '{request: NAME, check: "..."}'),
    # auth and header checks
    ("auth_and_authorization_header.yaml", 10, "requests[0].auth", "give either auth or an Authorization header"),
    ("auth_basic_without_password.yaml", 9, "requests[0].auth.basic.password", "basic takes user and password"),
    ("auth_basic_user_colon.yaml", 9, "requests[0].auth.basic.user", "cannot contain ':' (RFC 7617)"),
    ("header_check_unknown_condition.yaml", 9, "requests[0].checks.headers.X-Total-Count.at_lest",
     "unknown key (did you mean 'at_least'?)"),
    ("header_check_not_a_number.yaml", 9, "requests[0].checks.headers.X-Total-Count.at_least",
     "expected a number, got text ('many')"),
    ("tls_verify_text.yaml", 6, "defaults.tls.verify", "expected true or false, got text ('off')"),
    ("tls_ca_not_found.yaml", 6, "defaults.tls.ca", "'certs/shop-ca.pem' not found (relative to the scenario file"),
    ("tls_ca_and_no_verify.yaml", 7, "defaults.tls.ca", "give either verify: false or ca, not both"),
    # transport options
    ("request_timeout_zero.yaml", 7, "requests[0].timeout", "must be longer than 0s"),
    ("compression_unknown.yaml", 5, "defaults.compression", "expected one of gzip, none, got 'brotli'"),
    ("compression_and_accept_encoding.yaml", 9, "requests[0].compression",
     "give either compression or an Accept-Encoding header, not both"),
    ("redirects_too_many.yaml", 7, "requests[0].redirects", "must be at most 20, got 21"),
    ("redirects_as_text.yaml", 5, "defaults.redirects", "expected a whole number, got text ('3')"),
    ("redirects_negative.yaml", 9, "journeys[0].steps[0].redirects", "must be at least 0, got -1"),
    ("ws_redirects.yaml", 10, "journeys[0].steps[0].ws.redirects", "unknown key"),
    ("paginate_post.yaml", 11, "journeys[0].steps[0].paginate", "a paginated step is a GET, not POST"),
    ("paginate_with_extract.yaml", 11, "journeys[0].steps[0].paginate", "a paginated step cannot extract"),
    ("paginate_two_sources.yaml", 10, "journeys[0].steps[0].paginate", "give exactly one of link"),
    ("paginate_max_pages_zero.yaml", 11, "journeys[0].steps[0].paginate.max_pages", "must be at least 1, got 0"),
    ("paginate_bad_json_path.yaml", 10, "journeys[0].steps[0].paginate.json", "'$..next' is not a JSON path"),
    ("paginate_bad_link.yaml", 10, "journeys[0].steps[0].paginate.link", "a link relation is one word"),
    ("paginate_on_request.yaml", 7, "requests[0].paginate", "unknown key"),
    # journeys
    ("journey_unknown_key.yaml", 6, "journeys[0].stpes", "unknown key (did you mean 'steps'?)"),
    ("journey_step_weight.yaml", 9, "journeys[0].steps[0].weight", "a step has no weight"),
    ("journey_unknown_reference.yaml", 15, "journeys[0].steps[1].headers.Authorization",
     "{{ tokn }}: unknown name (did you mean 'token'?)"),
    ("journey_reference_later.yaml", 8, "journeys[0].steps[0].path", "id is extracted by a later step"),
    ("journey_duplicate_step_name.yaml", 10, "journeys[0].steps[0].name",
     "duplicate request name 'home' (first used by requests[0])"),
    ("journey_nested_group.yaml", 9, "journeys[0].steps[0].steps[0]", "groups cannot be nested"),
    ("journey_group_named_like_step.yaml", 9, "journeys[0].steps[1].group",
     "'browse' is already the name of journeys[0].steps[0]"),
    ("journey_group_name_colons.yaml", 7, "journeys[0].steps[0].group", "without NUL or '::'"),
    ("journey_if_unknown_var.yaml", 11, "journeys[0].steps[0].if.var",
     "{{ tir }}: unknown name (did you mean 'tier'?)"),
    ("journey_if_two_ops.yaml", 12, "journeys[0].steps[0].if", "give exactly one of equals, not_equals"),
    ("journey_if_extract.yaml", 13, "journeys[0].steps[0].extract", "a step with if cannot extract"),
    ("journey_setup_if.yaml", 12, "journeys[0].setup[0].if", "a setup step has no if"),
    ("journey_teardown_if.yaml", 15, "journeys[0].teardown[0].if", "a teardown step has no if"),
    ("journey_teardown_step_value.yaml", 15, "journeys[0].teardown[0].path",
     "id is extracted by a step of the journey (journeys[0].steps[0]); a teardown step can use the data names"),
    ("journey_repeat_too_many.yaml", 8, "journeys[0].steps[0].repeat.times", "must be at most 100, got 1000"),
    ("journey_repeat_index_taken.yaml", 10, "journeys[0].steps[0].repeat.index", "'page' is already a data name"),
    ("journey_until_unknown_var.yaml", 10, "journeys[0].steps[0].repeat.until.var",
     "{{ last_page }}: unknown name"),
    ("journey_extract_two_sources.yaml", 11, "journeys[0].steps[0].extract.id",
     "give exactly one of json, header, regex, cookie"),
    ("journey_extract_cookie_name.yaml", 11, "journeys[0].steps[0].extract.sid.cookie", "not a valid cookie name"),
    ("journey_extract_named_group.yaml", 10, "journeys[0].steps[0].extract.csrf.regex",
     "Python and JavaScript read differently"),
    # data
    ("data_unknown_generator.yaml", 5, "data.ref", "unknown generator 'uid' (did you mean 'uuid'?)"),
    ("data_integer_without_max.yaml", 5, "data.quantity.max", "generate: integer needs min and max"),
    ("data_file_not_found.yaml", 5, "data.user.file", "'data/customers.csv' not found"),
    ("data_unknown_column.yaml", 10, "journeys[0].steps[0].path",
     "no column 'nmae' in every row of data/users.csv (did you mean 'name'?)"),
    ("data_without_journeys.yaml", 5, "data", "data is only used by journeys"),
    ("data_per_typo.yaml", 5, "data.ref.per", "unknown value 'iter' (did you mean 'iteration'?)"),
    ("data_field_of_generator.yaml", 10, "journeys[0].steps[0].path", "ref is a single value"),
    # WebSocket steps
    ("ws_step_extra_key.yaml", 11, "journeys[0].steps[0].think_time", "a WebSocket step is one key, ws: {...}"),
    ("ws_unknown_key.yaml", 9, "journeys[0].steps[0].ws.subprotocol", "unknown key (did you mean 'subprotocols'?)"),
    ("ws_missing_url.yaml", 7, "journeys[0].steps[0].ws.url", "missing"),
    ("ws_url_http.yaml", 8, "journeys[0].steps[0].ws.url", "a path on the target starting with '/'"),
    ("ws_bad_subprotocol.yaml", 9, "journeys[0].steps[0].ws.subprotocols[0]", "a subprotocol is a token"),
    ("ws_handshake_header.yaml", 10, "journeys[0].steps[0].ws.headers.Sec-WebSocket-Protocol",
     "the WebSocket handshake sets this header itself"),
    ("ws_no_actions.yaml", 9, "journeys[0].steps[0].ws.actions", "list at least one action"),
    ("ws_unknown_action.yaml", 11, "journeys[0].steps[0].ws.actions[1].recieve",
     "unknown key; expected one of send, expect, hold, close"),
    ("ws_two_actions_in_one.yaml", 10, "journeys[0].steps[0].ws.actions[0]", "one action per item"),
    ("ws_close_not_last.yaml", 10, "journeys[0].steps[0].ws.actions[0]", "close ends the session"),
    ("ws_send_two_kinds.yaml", 11, "journeys[0].steps[0].ws.actions[0].send", "give exactly one of text, json, binary"),
    ("ws_binary_not_base64.yaml", 10, "journeys[0].steps[0].ws.actions[0].send.binary", "written in base64"),
    ("ws_expect_json_and_regex.yaml", 13, "journeys[0].steps[0].ws.actions[1].expect.regex",
     "give json or regex, not both"),
    ("ws_expect_bad_json_path.yaml", 12, "journeys[0].steps[0].ws.actions[1].expect.json.path",
     "'$..n' is not a JSON path"),
    ("ws_extract_header.yaml", 13, "journeys[0].steps[0].ws.actions[1].expect.extract.id.header",
     "unknown key; expected one of json, regex"),
    ("ws_reference_later.yaml", 10, "journeys[0].steps[0].ws.actions[0].send.text",
     "{{ id }}: id is extracted by a later action of this WebSocket session"),
    ("ws_hold_zero.yaml", 10, "journeys[0].steps[0].ws.actions[0].hold", "must be longer than 0s"),
    ("ws_duplicate_expect_name.yaml", 13, "journeys[0].steps[1].ws.actions[1].expect.name",
     "duplicate request name 'echo reply'"),
    ("ws_row_name_taken.yaml", 9, "journeys[0].steps[1].ws.name",
     "duplicate request name 'echo sent' (the row that counts the messages of 'echo'"),
    # profiles
    ("unknown_profile.yaml", 8, "profiles.soak", "unknown key (did you mean 'smoke'?)"),
    ("users_as_text.yaml", 9, "profiles.load.users", "expected a whole number, got text ('twenty')"),
    ("profile_zero_users.yaml", 9, "profiles.smoke.users", "must be at least 1, got 0"),
    ("stage_negative_users.yaml", 11, "profiles.load.stages[1].users", "must be at least 0, got -5"),
    ("stage_duration_null.yaml", 10, "profiles.load.stages[0].duration", "got nothing (null)"),
    ("stages_zero_duration.yaml", 10, "profiles.load.stages", "must last longer than 0s in total"),
    ("spawn_rate_zero.yaml", 9, "profiles.load.spawn_rate", "must be greater than 0"),
    ("spawn_rate_infinite.yaml", 9, "profiles.spike.spawn_rate", "expected a finite number"),
    ("open_rate_and_users.yaml", 10, "profiles.load.users",
     "an arrival-rate profile sets rate and max_users, not users"),
    ("open_stages_mixed.yaml", 11, "profiles.load.stages[1].users",
     "every stage gives users, or every stage gives rate"),
    ("open_rate_text.yaml", 9, "profiles.smoke.rate",
     "expected iterations per second such as 10 or 10/s or 90/m, got 'ten per second'"),
    ("open_max_users_closed.yaml", 10, "profiles.load.max_users",
     "applies to the open model only (a profile with rate)"),
    ("open_rate_zero.yaml", 9, "profiles.spike.rate", "must be greater than 0"),
]


def test_every_fixture_is_in_the_table() -> None:
    on_disk = sorted(p.name for p in INVALID.glob("*.yaml"))
    listed = sorted(name for name, *_ in CASES)
    assert on_disk == listed
    assert len(listed) >= 30


@pytest.mark.parametrize(("filename", "line", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_fixture(filename: str, line: int, field: str, message: str) -> None:
    path = INVALID / filename
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    e = info.value
    assert e.location.file == str(path)
    assert e.location.line == line, str(e)
    assert e.field == field, str(e)
    assert message in e.message, str(e)
    text = str(e)
    assert text.startswith(f"{path}:{line}: "), text
    if field:
        assert text.startswith(f"{path}:{line}: {field}: "), text
    assert "\n" not in text
    assert isinstance(e, InputError)
    assert e.exit_code == EXIT_INPUT == 2


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    e = info.value
    assert e.location.file == str(missing)
    assert e.location.line == 0
    assert e.field == ""
    assert str(e) == f"{missing}: file not found"
    assert e.exit_code == 2


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a YAML file"


def test_the_first_problem_is_reported(tmp_path: Path) -> None:
    # Two problems: the error names the one that comes first in reading order.
    path = tmp_path / "two.yaml"
    path.write_text("version: 1\nname: x\nrequests:\n  - name: a\n    path: nope\n    weight: -1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.location.line, info.value.field) == (5, "requests[0].path")


def test_control_characters_in_keys_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "key.yaml"
    path.write_text('version: 1\nname: x\n"re\\nquests": []\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "'re\\nquests'"
    assert "\n" not in str(info.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossload", "validate", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize(
    ("filename", "line"),
    [("unknown_request_key.yaml", 7), ("yaml_syntax_error.yaml", 4), ("threshold_without_unit.yaml", 8)],
)
def test_cli_validate_reports_one_line_and_exits_2(filename: str, line: int) -> None:
    rel = f"tests/fixtures/invalid/{filename}"
    proc = _cli(rel)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].strip()
    assert lines[0].startswith(f"{rel}:{line}: ")
    assert proc.stdout == ""


def test_cli_validate_accepts_the_demo() -> None:
    proc = _cli("scenarios/demo.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "scenarios/demo.yaml: ok (6 requests, 3 thresholds)"
    assert proc.stderr == ""


def test_a_basic_auth_user_from_a_reference_with_a_default_is_valid() -> None:
    """The ':' of ``${VAR:-default}`` is the reference's, not the user name's."""
    from crossload.scenario import parse_scenario

    text = ("version: 1\nname: shop\nrequests:\n  - name: home\n    path: /\n    auth:\n      basic:\n"
            "        user: \"${API_USER:-tester}\"\n        password: \"${API_PASSWORD}\"\n")
    auth = parse_scenario(text, "shop.yaml").requests[0].auth
    assert auth is not None and auth.user == "${API_USER:-tester}"
