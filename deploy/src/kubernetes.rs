//! The topology as Kubernetes manifests: a Namespace, a ConfigMap holding the
//! topology, per service a Deployment (its replicas, resource requests derived
//! from the topology, gRPC probes, Prometheus scrape annotations) and a
//! headless Service (DNS lists every ready pod, which callers resolve), and a
//! Job that runs the load from inside the namespace and keeps the run folder
//! until it is copied out.

use serde_json::{Value, json};
use topolab_model::{Restart, Topology};

/// Services whose `restart: never` a Deployment cannot keep (it always
/// restarts its pods): `export` names them rather than hide it.
pub fn restart_not_kept(topology: &Topology) -> Vec<&str> {
    topology
        .services
        .iter()
        .filter(|s| s.restart == Restart::Never)
        .map(|s| s.name.as_str())
        .collect()
}

use crate::container::{self, GRPC_PORT, METRICS_PORT, Requests, TOPOLOGY_PATH};

/// Where the Job writes the run folder inside its pod.
pub const RUN_DIR: &str = "/runs/run";
/// How long the Job's pod keeps the run folder for `kubectl exec` to fetch.
pub const HOLD: &str = "1h";
/// The Job's name.
pub const JOB: &str = "load";

/// The namespace of `topology`'s objects.
pub fn namespace(topology: &Topology) -> String {
    format!("topolab-{}", topology.name.to_lowercase().replace('_', "-"))
}

/// Every object, in the order `kubectl apply` should create them. `yaml` is
/// the topology's text, as the ConfigMap carries it.
pub fn manifests(topology: &Topology, yaml: &str, image: &str) -> Vec<Value> {
    let ns = namespace(topology);
    let mut out = vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": container::labels(topology, None)},
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "topology", "namespace": ns, "labels": container::labels(topology, None)},
            "data": {"topology.yaml": yaml},
        }),
    ];
    for s in &topology.services {
        let labels = container::labels(topology, Some(&s.name));
        let selector = json!({"app.kubernetes.io/name": s.name, "app.kubernetes.io/part-of": format!("topolab-{}", topology.name)});
        let env: Vec<Value> = container::replica_env(&s.name, "{service}", None)
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let req = Requests::of(s);
        out.push(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": s.name, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": s.replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": METRICS_PORT.to_string(),
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": {
                        "containers": [{
                            "name": "replica",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["replica"],
                            "env": env,
                            "ports": [
                                {"name": "grpc", "containerPort": GRPC_PORT},
                                {"name": "metrics", "containerPort": METRICS_PORT},
                            ],
                            "readinessProbe": {"grpc": {"port": GRPC_PORT, "service": "topolab.v1.Replica"}, "periodSeconds": 2},
                            "livenessProbe": {"grpc": {"port": GRPC_PORT}, "periodSeconds": 10},
                            "resources": {"requests": {
                                "cpu": format!("{}m", req.millicpu),
                                "memory": format!("{}Mi", req.memory_mib),
                            }},
                            "volumeMounts": [{"name": "topology", "mountPath": "/etc/topolab", "readOnly": true}],
                        }],
                        "volumes": [{"name": "topology", "configMap": {"name": "topology"}}],
                    },
                },
            },
        }));
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": s.name, "namespace": ns, "labels": container::labels(topology, Some(&s.name))},
            "spec": {
                "clusterIP": "None",
                "selector": selector,
                "ports": [
                    {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT},
                ],
            },
        }));
    }
    out.push(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB, "namespace": ns, "labels": container::labels(topology, Some(JOB))},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": container::labels(topology, Some(JOB))},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "load",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["drive", TOPOLOGY_PATH, "--peers-dns", "{service}", "--out", RUN_DIR, "--hold", HOLD],
                        "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}},
                        "volumeMounts": [
                            {"name": "topology", "mountPath": "/etc/topolab", "readOnly": true},
                            {"name": "runs", "mountPath": "/runs"},
                        ],
                    }],
                    "volumes": [
                        {"name": "topology", "configMap": {"name": "topology"}},
                        {"name": "runs", "emptyDir": {}},
                    ],
                },
            },
        },
    }));
    out
}

/// The manifests as one multi-document YAML file for `kubectl apply -f`.
pub fn to_yaml(manifests: &[Value]) -> String {
    manifests
        .iter()
        .map(crate::yaml)
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_and_headless_service_per_service_and_one_job() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/chain.yaml");
        let loaded = topolab_model::load(&path, &[]).unwrap();
        let m = manifests(&loaded.topology, &loaded.yaml, "img:1");
        let kinds: Vec<&str> = m.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        let n = loaded.topology.services.len();
        assert_eq!(kinds.iter().filter(|k| **k == "Deployment").count(), n);
        assert_eq!(kinds.iter().filter(|k| **k == "Service").count(), n);
        assert_eq!(kinds.first(), Some(&"Namespace"));
        assert_eq!(kinds.last(), Some(&"Job"));
        for o in m.iter().filter(|o| o["kind"] == "Service") {
            assert_eq!(o["spec"]["clusterIP"], "None", "headless");
        }
        let cm = m.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
        assert_eq!(cm["data"]["topology.yaml"], loaded.yaml.as_str());
        assert_eq!(to_yaml(&m).matches("\n---\n").count(), m.len() - 1);
    }
}
