"""The AWX surveys (awx/surveys/*.json) ask for what each playbook accepts and requires, in AWX's
survey format, and awx/configure.yml wires them to the right playbooks, schedules and workflow.

What a playbook accepts is read from the collection itself: the names its own text and the
playbooks and task files it imports use, and the argument specs of the roles it runs (and of
hyperbun.canary.common, which they all depend on), which also give a variable's type and choices.
What it requires is what its own asserts check to be non-empty and it does not set itself.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from awx_support import ROOT, clean_env, run, tool

SURVEYS = {path.stem: json.loads(path.read_text()) for path in sorted((ROOT / "awx" / "surveys").glob("*.json"))}
NAME = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
ROLE = re.compile(r"\bhyperbun\.canary\.([a-z_]+)\b")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# The survey types that can carry a value of each argument-spec type.
FITS = {
    "int": {"integer"},
    "float": {"float", "integer"},
    "bool": {"multiplechoice"},
    "str": {"text", "textarea", "password", "multiplechoice"},
    "path": {"text"},
    "raw": {"text", "textarea", "integer", "float", "multiplechoice"},
}
SECRET = re.compile(r"token|password|secret|routing_key|webhook_url")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _configure():
    (play,) = yaml.load((ROOT / "awx" / "configure.yml").read_text(), Loader=_Loader)
    return play


def _tasks_of(module):
    return [task for task in _configure()["tasks"] if module in task]


def _templates():
    return {entry["key"]: entry for entry in _configure()["vars"]["_hyperbun_awx_templates"]}


def _playbook_files(playbook):
    """The playbook and what it imports: playbooks and task files, recursively."""
    seen, todo = [], [ROOT / playbook]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        text = path.read_text()
        for ref in re.findall(r"(?:import_playbook|include_tasks|import_tasks):\s*(\S+\.yml)", text):
            todo.append(path.parent / ref)
    return seen


def _options(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = {}
    for entry in spec["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


def _accepted(playbook):
    """The variables a playbook reads, each with its argument spec where a role documents it."""
    names, specs = set(), {}
    texts = [path.read_text() for path in _playbook_files(playbook)]
    roles = {"common"} | {role for text in texts for role in ROLE.findall(text) if (ROOT / "roles" / role).is_dir()}
    for role in sorted(roles):
        specs.update(_options(role))
    for text in texts:
        names |= set(NAME.findall(text))
    return names | set(specs), specs


def _set_by(playbook):
    """Variables the playbook sets itself (play vars, task vars, set_fact), which nobody must supply;
    one set from its own value (canary.yml's canary_release) is passed on, not set."""
    names = set()

    def walk(node):
        if isinstance(node, dict):
            for key in ("vars", "ansible.builtin.set_fact", "set_fact"):
                if isinstance(node.get(key), dict):
                    names.update(name for name, value in node[key].items() if name not in NAME.findall(str(value)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in _playbook_files(playbook):
        walk(yaml.safe_load(path.read_text()))
    return names


def _required(playbook):
    """Variables the playbook's own asserts require to be non-empty, unless it sets them itself."""
    required = set()
    for play in yaml.safe_load((ROOT / playbook).read_text()):
        for task in play.get("tasks") or []:
            check = task.get("ansible.builtin.assert")
            if not check:
                continue
            that = check["that"] if isinstance(check["that"], list) else [check["that"]]
            for condition in that:
                match = re.match(r"^\s*([a-z_][a-z0-9_]*)\b.*\blength\s*>\s*0\s*$", condition)
                if match:
                    required.add(match.group(1))
    return required - _set_by(playbook)


def _survey_for(key):
    entry = _templates()[key]
    return entry["playbook"], SURVEYS[entry["survey"]]


TEMPLATE_KEYS = sorted(_templates())


@pytest.mark.parametrize("name", sorted(SURVEYS))
def test_survey_is_in_awx_format(name):
    survey = SURVEYS[name]
    assert set(survey) == {"name", "description", "spec"}
    assert survey["spec"], "an empty survey is not enabled by AWX"
    variables = [item["variable"] for item in survey["spec"]]
    assert len(variables) == len(set(variables))
    for item in survey["spec"]:
        assert {"question_name", "variable", "type", "required", "default"} <= set(item), item
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", item["variable"])
        assert item["type"] in SURVEY_TYPES
        assert isinstance(item["required"], bool)
        default = item["default"]
        if item["type"] == "integer":
            assert isinstance(default, int) and item["min"] <= default <= item["max"], item
        elif item["type"] == "multiplechoice":
            assert isinstance(item["choices"], list) and default in item["choices"], item
        elif item["type"] in {"text", "textarea"}:
            assert isinstance(default, str), item
            assert not default or item["min"] <= len(default) <= item["max"], item


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_every_template_has_its_playbook_and_survey(key):
    playbook = _survey_for(key)[0]
    assert (ROOT / playbook).is_file(), f"{playbook} of the job template {key}"


def test_every_survey_is_used():
    used = {entry["survey"] for entry in _templates().values()}
    assert used == set(SURVEYS)


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_survey_asks_only_for_what_the_playbook_accepts(key):
    playbook, survey = _survey_for(key)
    accepted, specs = _accepted(playbook)
    for item in survey["spec"]:
        variable = item["variable"]
        assert variable in accepted, f"{playbook} reads no {variable}"
        spec = specs.get(variable)
        if spec is None:
            continue
        assert item["type"] in FITS[spec.get("type", "str")], f"{variable}: {item['type']} for a {spec.get('type')}"
        if spec.get("type") == "bool":
            assert sorted(item["choices"]) == ["false", "true"], variable
        elif spec.get("choices") and item["type"] == "multiplechoice":
            assert set(item["choices"]) <= {str(choice) for choice in spec["choices"]}, variable


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_survey_requires_what_the_playbook_requires(key):
    playbook, survey = _survey_for(key)
    asked = {item["variable"]: item for item in survey["spec"]}
    for variable in _required(playbook):
        assert variable in asked, f"{playbook} requires {variable}"
        assert asked[variable]["required"], variable
        assert asked[variable]["default"] in ("", None), f"{variable} must be given, not defaulted"


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_survey_overrides_nothing_the_playbook_fixes(key):
    """An extra var beats a play's vars: a survey may only offer what the playbook sets as its default."""
    playbook, survey = _survey_for(key)
    fixed = {}
    for play in yaml.safe_load((ROOT / playbook).read_text()):
        fixed.update(play.get("vars") or {})
    for item in survey["spec"]:
        if item["variable"] in fixed:
            assert item["default"] == fixed[item["variable"]], item["variable"]


def test_start_requires_the_release():
    """The one variable a canary cannot start without, as canary.yml's assert says."""
    assert _required("playbooks/canary.yml") == {"canary_release"}
    playbook, survey = _survey_for("start")
    assert playbook == "playbooks/canary.yml"
    (release,) = [item for item in survey["spec"] if item["variable"] == "canary_release"]
    assert release["required"] and release["type"] == "text"


def test_no_secret_in_a_survey():
    for name, survey in SURVEYS.items():
        for item in survey["spec"]:
            assert not SECRET.search(item["variable"]), f"{name} asks for {item['variable']}"


def test_credential_types_inject_variables_the_collection_reads():
    all_options = {}
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        all_options.update(_options(spec.parent.parent.name))
    injected = set()
    for task in _tasks_of("awx.awx.credential_type"):
        module = task["awx.awx.credential_type"]
        fields = {field["id"] for field in module["inputs"]["fields"]}
        assert all(field["secret"] for field in module["inputs"]["fields"])
        for variable, template in module["injectors"]["extra_vars"].items():
            assert variable in all_options, variable
            assert set(re.findall(r"{{\s*([a-z_]+)", template)) <= fields, template
            injected.add(variable)
    assert "watch_prometheus_token" in injected


def test_prometheus_token_reaches_every_job_that_reads_prometheus():
    (credential_type,) = [
        task["awx.awx.credential_type"]
        for task in _tasks_of("awx.awx.credential_type")
        if "Prometheus" in task["awx.awx.credential_type"]["name"]
    ]
    injected = set(credential_type["injectors"]["extra_vars"])
    for key, entry in _templates().items():
        accepted = _accepted(entry["playbook"])[0]
        reads_prometheus = {name for name in accepted if name.endswith("_prometheus_token")}
        assert reads_prometheus <= injected, f"{key}: {reads_prometheus - injected} not injected"


@pytest.mark.parametrize("task", _tasks_of("awx.awx.schedule"), ids=lambda task: task["name"])
def test_schedules_give_only_survey_answers(task):
    schedule = task["awx.awx.schedule"]
    key = schedule["unified_job_template"].split("}} ", 1)[1]
    survey = _survey_for(key)[1]
    asked = {item["variable"]: item for item in survey["spec"]}
    for variable, value in schedule["extra_data"].items():
        assert variable in asked, variable
        if asked[variable]["type"] == "multiplechoice":
            assert value in asked[variable]["choices"], variable
    assert "RRULE:" in _configure()["vars"][schedule["rrule"].strip("{} ")]


def test_workflow_runs_canary_then_approval_then_promote():
    (task,) = _tasks_of("awx.awx.workflow_job_template")
    workflow = task["awx.awx.workflow_job_template"]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    chain, node = [], nodes["start"]
    while node:
        chain.append(node["unified_job_template"].get("type"))
        following = node.get("related", {}).get("success_nodes") or []
        node = nodes[following[0]["identifier"]] if following else None
    assert chain == ["job_template", "workflow_approval", "job_template"]
    assert nodes["start"]["unified_job_template"]["name"].endswith(" start")
    assert nodes["promote"]["unified_job_template"]["name"].endswith(" promote")
    # The workflow's survey reaches the start node: canary.yml must accept every answer.
    survey_file = re.search(r"surveys/(\w+)\.json", workflow["survey_spec"]).group(1)
    accepted = _accepted(_templates()["start"]["playbook"])[0]
    assert {item["variable"] for item in SURVEYS[survey_file]["spec"]} <= accepted


def test_notification_templates_cover_the_four_kinds_with_secrets_from_variables():
    kinds = {}
    for task in _tasks_of("awx.awx.notification_template"):
        module = task["awx.awx.notification_template"]
        kinds[module["notification_type"]] = task
        assert task.get("no_log") is True, task["name"]
        for key, value in module["notification_configuration"].items():
            if SECRET.search(key) or key in {"token", "service_key", "url", "password"}:
                assert re.fullmatch(r"{{ hyperbun_awx_[a-z_]+ }}", str(value)), (task["name"], key)
    assert set(kinds) == {"slack", "webhook", "pagerduty", "email"}


def test_configure_expressions_render(tmp_path):
    """The play's computed values, with every channel set and with none: the credentials and the
    notification templates the job templates get, the surveys read from awx/surveys/, and the
    channels' secrets stored without the empty ones."""
    awx = tmp_path / "awx"
    shutil.copytree(ROOT / "awx", awx)
    text = (awx / "configure.yml").read_text()
    head = text[: text.index("\n  tasks:\n")]
    out = tmp_path / "rendered.json"
    probe = head + f"""
  tasks:
    - name: Read the surveys as the job templates do
      ansible.builtin.set_fact:
        probe_surveys: >-
          {{{{ probe_surveys | default([])
               + [(lookup('ansible.builtin.file', 'surveys/' ~ item.survey ~ '.json') | from_json).name] }}}}
      loop: "{{{{ _hyperbun_awx_templates }}}}"

    - name: Write what the job templates would get
      ansible.builtin.copy:
        dest: {out}
        mode: "0644"
        content: >-
          {{{{ {{'credentials': _hyperbun_awx_credentials, 'notifications': _hyperbun_awx_notifications,
                'surveys': probe_surveys,
                'notify_inputs': hyperbun_awx_notify_secrets | dict2items | selectattr('value') | items2dict}}
             | to_json }}}}
"""
    (awx / "probe.yml").write_text(probe)

    def render(*extra):
        args = [tool("ansible-playbook"), awx / "probe.yml"]
        for item in extra:
            args += ["-e", item]
        run(args, cwd=tmp_path, env=clean_env())
        return json.loads(out.read_text())

    bare = render()
    assert bare["credentials"] == ["hyperbun production SSH"]
    assert bare["notifications"] == []
    assert bare["notify_inputs"] == {}
    assert len(bare["surveys"]) == len(_templates())

    full = render(
        json.dumps({
            "hyperbun_awx_prometheus_token": "t", "hyperbun_awx_slack_token": "s", "hyperbun_awx_webhook_url": "u",
            "hyperbun_awx_pagerduty_token": "p", "hyperbun_awx_smtp_host": "h",
            "hyperbun_awx_notify_secrets": {"slack_webhook_url": "w", "webhook_url": "", "pagerduty_routing_key": "",
                                            "smtp_password": ""},
        })
    )
    assert full["credentials"] == [
        "hyperbun production SSH", "hyperbun canary Prometheus token", "hyperbun canary notification channels"
    ]
    assert full["notifications"] == [f"hyperbun canary {kind}" for kind in ("slack", "webhook", "pagerduty", "email")]
    assert full["notify_inputs"] == {"slack_webhook_url": "w"}
