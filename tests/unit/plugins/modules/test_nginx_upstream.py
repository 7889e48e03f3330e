from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.modules import nginx_upstream

# Stand-ins for nginx and systemctl: nginx -t refuses a file with an unknown directive, nginx -T prints
# the configuration (the include directory's files), systemctl logs its calls and fails on demand.
FAKE_NGINX = """#!/bin/sh
conf={conf}
if grep -q no_such_directive "$conf"/*.conf 2>/dev/null; then
    echo 'nginx: [emerg] unknown directive "no_such_directive" in /etc/nginx/conf.d/up.conf:3' >&2
    exit 1
fi
echo "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok" >&2
if [ "$1" = -T ]; then
    for f in "$conf"/*.conf; do echo "# configuration file $f:"; cat "$f"; done
fi
"""
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> {log}
[ ! -e {log}.fail ] || {{ echo "Job for nginx.service failed." >&2; exit 1; }}
"""
SITE = "server { listen 8080; location / { proxy_pass http://$hyperbun_upstream; } }\n"


def upstream(canary_weight):
    down = " down" if canary_weight == 0 else ""
    canary = f"    server app1:3001 weight={max(canary_weight, 1)}{down};\n"
    return f"upstream hyperbun {{\n    server app1:3000 weight=19;\n{canary}}}\n"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A load balancer's files: conf/ (nginx's include directory), bin/ (the stand-ins), systemctl.log."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "bin").mkdir()
    for name, text in (("nginx", FAKE_NGINX), ("systemctl", FAKE_SYSTEMCTL)):
        script = tmp_path / "bin" / name
        script.write_text(text.format(conf=tmp_path / "conf", log=tmp_path / "systemctl.log"))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return tmp_path


def run(capsys, host, content, check_mode=False, diff=False, **args):
    args = {"path": str(host / "conf" / "up.conf"), "content": content, "upstreams": ["hyperbun"], **args}
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        nginx_upstream.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def reloads(host):
    log = host / "systemctl.log"
    return log.read_text().splitlines() if log.exists() else []


def test_writes_reloads_and_reads_back_then_a_second_run_changes_nothing(capsys, host):
    result = run(capsys, host, upstream(1))
    assert result["rc"] == 0 and result["changed"] is True and result["reloaded"] is True
    assert result["weights"] == {"hyperbun": {"app1:3000": 19, "app1:3001": 1}}
    assert (host / "conf" / "up.conf").read_text() == upstream(1)
    assert stat.S_IMODE(os.stat(host / "conf" / "up.conf").st_mode) == 0o644
    assert reloads(host) == ["reload nginx"]

    again = run(capsys, host, upstream(1))
    assert again["rc"] == 0 and again["changed"] is False and again["reloaded"] is False
    assert again["weights"] == {"hyperbun": {"app1:3000": 19, "app1:3001": 1}}
    assert reloads(host) == ["reload nginx"]


def test_a_drain_reads_the_canary_back_at_weight_0(capsys, host):
    run(capsys, host, upstream(5))
    result = run(capsys, host, upstream(0))
    assert result["changed"] is True and result["weights"]["hyperbun"]["app1:3001"] == 0
    assert reloads(host) == ["reload nginx", "reload nginx"]


def test_a_file_nginx_rejects_is_put_back_and_nginx_is_not_reloaded(capsys, host):
    run(capsys, host, upstream(1))
    result = run(capsys, host, upstream(5) + "no_such_directive on;\n")
    assert result["rc"] == 1
    assert result["msg"].startswith(f"nginx rejected the new {host / 'conf' / 'up.conf'}; the previous file is back")
    assert 'unknown directive "no_such_directive"' in result["msg"]
    assert (host / "conf" / "up.conf").read_text() == upstream(1)
    assert reloads(host) == ["reload nginx"]
    assert [p.name for p in (host / "conf").iterdir()] == ["up.conf"]


def test_a_rejected_new_file_is_removed(capsys, host):
    result = run(capsys, host, "no_such_directive on;\n")
    assert result["rc"] == 1 and "nginx rejected" in result["msg"]
    assert list((host / "conf").iterdir()) == []


def test_a_failed_reload_puts_the_previous_file_back(capsys, host):
    run(capsys, host, upstream(1))
    (host / "systemctl.log.fail").touch()
    result = run(capsys, host, upstream(5))
    assert result["rc"] == 1
    assert result["msg"].startswith("systemctl reload nginx failed, the previous")
    assert "Job for nginx.service failed." in result["msg"]
    assert (host / "conf" / "up.conf").read_text() == upstream(1)


def test_check_mode_reports_the_diff_and_changes_nothing(capsys, host):
    run(capsys, host, upstream(1))
    result = run(capsys, host, upstream(5), check_mode=True, diff=True)
    assert result["rc"] == 0 and result["changed"] is True and result["reloaded"] is False
    assert result["diff"]["before"] == upstream(1) and result["diff"]["after"] == upstream(5)
    # What is in force, not what would be.
    assert result["weights"] == {"hyperbun": {"app1:3000": 19, "app1:3001": 1}}
    assert (host / "conf" / "up.conf").read_text() == upstream(1)
    assert reloads(host) == ["reload nginx"]


def test_a_mode_that_differs_is_set_without_a_reload(capsys, host):
    run(capsys, host, upstream(1))
    os.chmod(host / "conf" / "up.conf", 0o600)
    result = run(capsys, host, upstream(1))
    assert result["changed"] is True and result["reloaded"] is False
    assert stat.S_IMODE(os.stat(host / "conf" / "up.conf").st_mode) == 0o644


def test_the_split_and_the_site_that_proxies_to_it_are_read_back(capsys, host):
    (host / "conf" / "site.conf").write_text(SITE)
    sticky = ('split_clients "${remote_addr}" $hyperbun_upstream {\n    5% hyperbun_canary;\n    * hyperbun;\n}\n'
              + upstream(1).replace("    server app1:3001 weight=1;\n", "")
              + "upstream hyperbun_canary {\n    server app1:3001 weight=1;\n}\n")
    result = run(capsys, host, sticky, upstreams=["hyperbun", "hyperbun_canary"],
                 split={"variable": "hyperbun_upstream", "value": "hyperbun_canary"})
    assert result["rc"] == 0
    assert result["split_share"] == 5.0 and result["split_proxied"] is True
    assert result["weights"] == {"hyperbun": {"app1:3000": 19}, "hyperbun_canary": {"app1:3001": 1}}

    (host / "conf" / "site.conf").unlink()
    result = run(capsys, host, sticky, upstreams=["hyperbun"],
                 split={"variable": "hyperbun_upstream", "value": "hyperbun_canary"})
    assert result["split_proxied"] is False


def test_an_upstream_missing_from_the_configuration_is_named(capsys, host):
    result = run(capsys, host, upstream(1), upstreams=["hyperbun", "elsewhere"])
    assert result["rc"] == 1
    assert result["msg"] == ("the configuration nginx has in force cannot be read back: "
                             "no upstream named 'elsewhere' in the configuration")


def test_a_missing_directory_is_named_and_nothing_runs(capsys, host):
    result = run(capsys, host, upstream(1), path=str(host / "absent" / "up.conf"))
    assert result["rc"] == 1 and result["msg"] == f"the directory of {host / 'absent' / 'up.conf'} does not exist"
    assert reloads(host) == []
