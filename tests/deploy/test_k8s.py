"""deploy/k8s: every manifest parses, and each service has probes, resources, a Service and a PDB.

Without kubectl or kustomize on the machine (no binaries are downloaded), this checks the
manifests' structure itself; with one installed, it also builds the kustomization.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy._helpers import DEPLOY, ROOT

K8S = DEPLOY / "k8s"
PORTS = {"intake": 8001, "scoring": 8002, "handoff": 8003}


def kustomization() -> Any:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def generated_files() -> set[str]:
    return {f for g in kustomization().get("configMapGenerator", []) for f in g.get("files", [])}


def manifests() -> list[Any]:
    docs: list[Any] = []
    for name in kustomization()["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def find(kind: str, name: str) -> Any:
    (doc,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def container(name: str) -> Any:
    (c,) = find("Deployment", name)["spec"]["template"]["spec"]["containers"]
    return c


def test_every_yaml_file_parses_and_every_manifest_has_kind_and_name() -> None:
    data_files = generated_files()
    for path in sorted(K8S.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if path.name in data_files:
            continue  # ConfigMap contents, not manifests
        assert docs, path.name
        for doc in docs:
            assert doc["apiVersion"], path.name
            assert doc["kind"], path.name
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path.name


def test_kustomization_lists_existing_files_and_never_the_example_secrets() -> None:
    k = kustomization()
    assert k["namespace"] == "leadrelay"
    for name in [*k["resources"], *generated_files()]:
        assert (K8S / name).exists(), name
    assert "secrets.example.yaml" not in k["resources"]
    assert find("Namespace", "leadrelay")


def test_the_manifests_have_the_expected_kinds() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in manifests())
    expected = [("Namespace", "leadrelay")]
    for name in PORTS:
        expected += [("Deployment", name), ("PodDisruptionBudget", name), ("Service", name)]
    assert kinds == sorted(expected)


@pytest.mark.parametrize(("name", "port"), PORTS.items())
def test_each_deployment_serves_its_service_on_its_port(name: str, port: int) -> None:
    c = container(name)
    assert c["command"] == ["leadrelay", "serve", name]
    assert c["ports"] == [{"name": "http", "containerPort": port}]
    env = {e["name"]: e for e in c["env"]}
    assert env[f"LEADRELAY_{name.upper()}_PORT"]["value"] == str(port)
    assert env[f"LEADRELAY_{name.upper()}_HOST"]["value"] == "0.0.0.0"


@pytest.mark.parametrize("name", PORTS)
def test_each_deployment_has_liveness_and_readiness_probes(name: str) -> None:
    c = container(name)
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("name", PORTS)
def test_each_deployment_requests_and_limits_resources(name: str) -> None:
    resources = container(name)["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert resources["limits"]["memory"] == "256Mi"


@pytest.mark.parametrize("name", PORTS)
def test_each_deployment_runs_as_the_images_non_root_user(name: str) -> None:
    pod = find("Deployment", name)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's uid
    assert "--uid 10001" in (ROOT / "Dockerfile").read_text()
    assert container(name)["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", PORTS)
def test_each_deployment_reads_secrets_by_reference(name: str) -> None:
    c = container(name)
    env = {e["name"]: e for e in c["env"]}
    ref = env["LEADRELAY_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    keys_dir = env["LEADRELAY_KEYS_FILE"]["value"].rsplit("/", 1)[0]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {
        v["name"]: v for v in find("Deployment", name)["spec"]["template"]["spec"]["volumes"]
    }
    (keys_volume,) = [n for n, path in mounts.items() if path == keys_dir]
    example = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    }
    assert ref["key"] in example[ref["name"]]["stringData"]
    assert volumes[keys_volume]["secret"]["secretName"] in example
    assert c["envFrom"] == [{"configMapRef": {"name": "leadrelay-config"}}]


@pytest.mark.parametrize(("name", "port"), PORTS.items())
def test_each_service_and_pdb_select_the_deployments_pods(name: str, port: int) -> None:
    pod_labels = find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    service = find("Service", name)["spec"]
    assert service["selector"].items() <= pod_labels.items()
    assert service["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
    pdb = find("PodDisruptionBudget", name)["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["minAvailable"] < find("Deployment", name)["spec"]["replicas"]


@pytest.mark.parametrize(
    ("service", "env_name", "config_map", "copy"),
    [
        ("scoring", "LEADRELAY_SCORING_CONTRACT_FILE", "leadrelay-contract", "contract.yaml"),
        ("handoff", "LEADRELAY_HANDOFF_REPS_FILE", "leadrelay-reps", "reps.yaml"),
    ],
)
def test_contract_and_reps_come_from_generated_config_maps(
    service: str, env_name: str, config_map: str, copy: str
) -> None:
    c = container(service)
    path = {e["name"]: e for e in c["env"]}[env_name]["value"]
    directory, filename = path.rsplit("/", 1)
    (volume,) = [m["name"] for m in c["volumeMounts"] if m["mountPath"] == directory]
    volumes = find("Deployment", service)["spec"]["template"]["spec"]["volumes"]
    assert {"name": volume, "configMap": {"name": config_map}} in volumes
    generator = {g["name"]: g for g in kustomization()["configMapGenerator"]}[config_map]
    assert generator["files"] == [filename] == [copy]


@pytest.mark.parametrize(
    ("copy", "original"), [("contract.yaml", "default.yaml"), ("reps.yaml", "reps.yaml")]
)
def test_config_map_copies_match_the_contracts_folder(copy: str, original: str) -> None:
    source = ROOT / "contracts" / original
    if not source.exists():
        pytest.skip(f"contracts/{original} does not exist yet")
    assert (K8S / copy).read_text() == source.read_text(), (
        f"deploy/k8s/{copy} is a copy of contracts/{original} (kustomize cannot read outside its "
        f"directory): cp contracts/{original} deploy/k8s/{copy}"
    )


def test_kustomize_builds_when_a_tool_is_installed() -> None:
    if shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(K8S)]
    elif shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(K8S)]
    else:
        pytest.skip("neither kustomize nor kubectl installed; structure is checked above")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    for d in docs:
        assert d["metadata"].get("namespace", "leadrelay") == "leadrelay"
        if d["kind"] != "Deployment":
            continue
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["image"] == "leadrelay:0.1.0"
        # The generated names carry a content hash; references must have been rewritten.
        refs = [e["configMapRef"]["name"] for e in c["envFrom"]]
        refs += [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
        assert set(refs) <= config_maps
