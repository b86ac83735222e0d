"""deploy/'s lecture-hall files, which cannot be run here (no Docker, no Kubernetes): parsed and held to what they say.

Nginx is the one door: only it publishes a port, each browser is kept on one Streamlit replica by a cookie, every
replica is told where the network tier is (RESNET_SERVE_URL), and no Ray port (dashboard and its job API, client,
GCS) is published or reachable from outside Ray but Serve's, by the app.
"""

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
RAY_PORTS = {6379, 8265, 10001}  # GCS, dashboard (and its job API), Ray client
STREAMLIT_PORT = 8501


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def kube() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in load_all(DEPLOY / "kuberay.yaml")}


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def app_services(compose: dict) -> dict[str, dict]:
    return {name: service for name, service in compose["services"].items()
            if "app/serve.py" in service.get("command", [])}


def upstream_servers(config: str) -> list[str]:
    block = re.search(r"upstream resnet_explorer \{(.*?)\}", config, re.S)
    assert block, "no upstream resnet_explorer block"
    return re.findall(r"^\s*server (\S+);", block[1], re.M)


def http_settings(config: str) -> str:
    """The http block without its upstream servers and comments: what both nginx files must share."""
    body = config[config.index("worker_processes"):]
    body = re.sub(r"#.*", "", body)
    return re.sub(r"^\s*server \S+;\n", "", body, flags=re.M)


# ---- compose --------------------------------------------------------------------------------------------------------

def test_compose_publishes_nginx_alone(compose):
    published = {name: service["ports"] for name, service in compose["services"].items() if service.get("ports")}
    assert list(published) == ["nginx"], published
    assert published["nginx"] == ["8080:8080"]


def test_compose_ray_head_is_on_the_internal_network_only(compose):
    head = compose["services"]["ray-head"]
    assert head["networks"] == ["hall"]
    assert compose["networks"]["hall"]["internal"] is True
    assert not head.get("ports") and not head.get("expose")
    # `python -m resnet serve` starts Ray on loopback, without a dashboard, with a 0600 token file of its own; it
    # leaves that to the operator when RAY_AUTH_* is set, so the compose file sets none of them.
    assert not [name for name in head["environment"] if name.startswith("RAY_")]
    command = head["command"]
    assert command[1:4] == ["-m", "resnet", "serve"] and "--address" not in command
    assert option(command, "--host") == "0.0.0.0"  # Serve's proxy on the hall network, which publishes nothing


def test_compose_replicas_are_told_the_tier_and_sit_behind_nginx(compose):
    apps = app_services(compose)
    assert len(apps) >= 2
    head = compose["services"]["ray-head"]["command"]
    tier = f"http://ray-head:{option(head, '--port')}"
    for name, service in apps.items():
        assert service["environment"]["RESNET_SERVE_URL"] == tier, name
        assert option(service["command"], "--server.port") == str(STREAMLIT_PORT)
        assert set(service["networks"]) == {"front", "hall"}  # nginx reaches it on front, it reaches Ray on hall
    config = (DEPLOY / "nginx-compose.conf").read_text()
    assert sorted(upstream_servers(config)) == sorted(f"{name}:{STREAMLIT_PORT}" for name in apps)
    assert set(compose["services"]["nginx"]["depends_on"]) == set(apps)


def test_compose_nginx_keeps_each_browser_on_one_replica():
    compose_config = (DEPLOY / "nginx-compose.conf").read_text()
    assert "hash $backend_key consistent;" in compose_config
    assert re.search(r"Set-Cookie \"resnet_explorer_backend=\$backend_key", compose_config)
    assert "ip_hash" not in http_settings(compose_config)
    # Everything else is deploy/nginx.conf's, so a fix there (timeouts, body size, buffering) is not forgotten here.
    assert http_settings(compose_config) == http_settings((DEPLOY / "nginx.conf").read_text())


# ---- KubeRay --------------------------------------------------------------------------------------------------------

def serve_config(kube) -> dict:
    return yaml.safe_load(kube[("RayService", "resnet-explorer")]["spec"]["serveConfigV2"])


def test_rayservice_wants_ray_token(kube):
    cluster = kube[("RayService", "resnet-explorer")]["spec"]["rayClusterConfig"]
    assert cluster["authOptions"] == {"mode": "token"}
    assert tuple(map(int, cluster["rayVersion"].split("."))) >= (2, 52)  # token auth came in 2.52
    assert serve_config(kube)["proxy_location"] == "HeadOnly"


def test_rayservice_config_is_one_serve_accepts_and_builds_the_tier(kube):
    schema = pytest.importorskip("ray.serve.schema", reason="Ray Serve is the optional install of `make serve`")
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.deployment import Application

    cluster = kube[("RayService", "resnet-explorer")]["spec"]["rayClusterConfig"]
    for template in [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]:
        [container] = template["spec"]["containers"]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert container["workingDir"] in env["PYTHONPATH"].split(":")  # where `resnet` is imported from
        assert env["PATH"].startswith(f"{container['workingDir']}/.venv/bin:")  # Ray's own `ray start`
    config = schema.ServeDeploySchema.model_validate(serve_config(kube))  # Serve's own reading of the config
    [application] = config.applications
    module, name = application.import_path.split(":")
    builder = getattr(importlib.import_module(module), name)
    built = call_user_app_builder_with_args_if_necessary(builder, application.args)
    assert isinstance(built, Application)
    with pytest.raises(ValueError, match="unknown args"):
        builder({"arch": "resnet50", "replicas": 2})


def test_streamlit_deployment_is_told_the_tier(kube):
    deployment = kube[("Deployment", "resnet-explorer-app")]
    assert deployment["spec"]["replicas"] >= 2
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    port = serve_config(kube)["http_options"]["port"]
    # KubeRay names the Service in front of a RayService's Serve proxy <name>-serve-svc, on Serve's port.
    assert env["RESNET_SERVE_URL"] == f"http://resnet-explorer-serve-svc:{port}"
    assert option(container["command"], "--server.port") == str(STREAMLIT_PORT)
    assert [p["containerPort"] for p in container["ports"]] == [STREAMLIT_PORT]
    service = kube[("Service", "resnet-explorer-app")]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_ingress_has_cookie_affinity_and_reaches_the_app_only(kube):
    ingress = kube[("Ingress", "resnet-explorer")]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # the session's websocket
    backends = [path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]]
    assert backends == ["resnet-explorer-app"]


def test_no_ray_port_leaves_the_cluster(kube):
    for (kind, name), doc in kube.items():
        if kind == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP", name
            assert not {p["port"] for p in doc["spec"]["ports"]} & RAY_PORTS, name
        if kind == "Ingress":
            ports = [path["backend"]["service"]["port"] for rule in doc["spec"]["rules"]
                     for path in rule["http"]["paths"]]
            assert all(port.get("number") not in RAY_PORTS for port in ports), name
    policy = kube[("NetworkPolicy", "resnet-explorer-ray")]
    ray_labels = policy["spec"]["podSelector"]["matchLabels"]
    cluster = kube[("RayService", "resnet-explorer")]["spec"]["rayClusterConfig"]
    for template in [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]:
        assert ray_labels.items() <= template["metadata"]["labels"].items()  # the policy covers every Ray pod
    for rule in policy["spec"]["ingress"]:
        sources = rule["from"]
        ports = {p["port"] for p in rule.get("ports", [])}
        if any(source.get("podSelector", {}).get("matchLabels") == ray_labels for source in sources):
            continue  # Ray's own pods talk to each other on every port
        assert ports, f"a rule opens every Ray port to {sources}"
        if any(source.get("podSelector", {}).get("matchLabels") == {"app": "resnet-explorer-app"}
               for source in sources):
            assert ports == {8000}  # the app reaches Serve and nothing else
        else:
            assert all("namespaceSelector" in source for source in sources)
            assert not ports & {6379, 10001}  # the operator needs the dashboard, never GCS or the client port


def test_ray_head_command_of_compose_and_serve_port_agree(compose, kube):
    head = compose["services"]["ray-head"]["command"]
    assert int(option(head, "--port")) == serve_config(kube)["http_options"]["port"]
    assert shlex.join(head).startswith("/app/.venv/bin/python -m resnet serve")
