//! The topology as Kubernetes manifests: a Namespace, a ConfigMap holding the
//! topology, per service a Deployment (its replicas, resource requests derived
//! from the topology, gRPC probes, Prometheus scrape annotations), or for a
//! service with `restart: never` a bare Pod per replica (a Deployment always
//! restarts its pods; a bare Pod with `restartPolicy: Never` stays dead), and
//! a headless Service (DNS lists every ready pod, which callers resolve), and
//! a Job that runs the load from inside the namespace, collects every
//! replica's spans (the `collector` Service in front of its pod) and keeps
//! the run folder until it is copied out.

use serde_json::{Value, json};
use topolab_model::{Restart, Service, Topology};

use crate::container::{self, COLLECTOR_PORT, GRPC_PORT, METRICS_PORT, Requests, TOPOLOGY_PATH};

/// The Service in front of the Job's span collector: every replica sends
/// its spans to it, so the run folder holds `traces.jsonl`.
/// (Prefixed: a topology's own service may well be called `collector`.)
pub const COLLECTOR: &str = "topolab-collector";

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
        let template = |slot: Option<u32>| {
            json!({
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": METRICS_PORT.to_string(),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec(s, image, slot),
            })
        };
        if s.restart == Restart::Never {
            // A bare Pod per replica: nothing restarts it once it dies.
            for i in 0..s.replicas {
                let mut pod = template(Some(i));
                pod["metadata"]["name"] = json!(format!("{}-{i}", s.name));
                pod["metadata"]["namespace"] = json!(ns);
                pod["apiVersion"] = json!("v1");
                pod["kind"] = json!("Pod");
                out.push(pod);
            }
        } else {
            out.push(json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": s.name, "namespace": ns, "labels": labels},
                "spec": {
                    "replicas": s.replicas,
                    "selector": {"matchLabels": selector},
                    "template": template(None),
                },
            }));
        }
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
    let job_labels = container::labels(topology, Some(JOB));
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": COLLECTOR, "namespace": ns, "labels": job_labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": JOB, "app.kubernetes.io/part-of": format!("topolab-{}", topology.name)},
            "ports": [{"name": "otlp-grpc", "port": COLLECTOR_PORT, "targetPort": COLLECTOR_PORT}],
        },
    }));
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
                        "args": ["drive", TOPOLOGY_PATH, "--peers-dns", "{service}", "--out", RUN_DIR, "--hold", HOLD,
                                 "--collector-listen", format!("0.0.0.0:{COLLECTOR_PORT}")],
                        "ports": [{"name": "otlp-grpc", "containerPort": COLLECTOR_PORT}],
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

/// A replica's pod: `topolab replica` with its spans sent to the Job's
/// collector; `slot` is its index when it is a bare Pod.
fn pod_spec(s: &Service, image: &str, slot: Option<u32>) -> Value {
    let slot = slot.map(|i| i.to_string());
    let mut env: Vec<Value> = container::replica_env(&s.name, "{service}", slot.as_deref())
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    env.push(json!({"name": "TOPOLAB_OTLP_ENDPOINTS", "value": format!("http://{COLLECTOR}:{COLLECTOR_PORT}")}));
    let req = Requests::of(s);
    json!({
        "restartPolicy": if slot.is_some() { "Never" } else { "Always" },
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
    })
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
        // `restart: never` (the default) is a bare Pod per replica.
        let replicas: u32 = loaded.topology.services.iter().map(|s| s.replicas).sum();
        assert_eq!(
            kinds.iter().filter(|k| **k == "Pod").count(),
            replicas as usize
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "Service").count(),
            n + 1,
            "and the collector's"
        );
        assert_eq!(kinds.first(), Some(&"Namespace"));
        assert_eq!(kinds.last(), Some(&"Job"));
        for o in m
            .iter()
            .filter(|o| o["kind"] == "Service" && o["metadata"]["name"] != COLLECTOR)
        {
            assert_eq!(o["spec"]["clusterIP"], "None", "headless");
        }
        let cm = m.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
        assert_eq!(cm["data"]["topology.yaml"], loaded.yaml.as_str());
        assert_eq!(to_yaml(&m).matches("\n---\n").count(), m.len() - 1);
    }

    /// Every replica sends its spans to the Job's collector, which listens
    /// for them, so the run folder the Job keeps holds `traces.jsonl`; a
    /// `restart: never` service is bare Pods that nothing restarts.
    #[test]
    fn the_job_collects_every_replicas_spans_and_restart_never_is_bare_pods() {
        let yaml = "name: k\nservices:\n  web:\n    replicas: 2\n    restart: always\n    endpoints:\n      Get: { steps: [ {call: db/Q} ] }\n  db:\n    replicas: 2\n    restart: never\n    endpoints:\n      Q: { steps: [ {work: 1ms} ] }\nload:\n  l: { target: web/Get, rate: 1/s, duration: 1s }\n";
        let loaded = topolab_model::load_str("k.yaml", yaml, &[]).unwrap();
        let m = manifests(&loaded.topology, yaml, "img:1");
        let job = m.iter().find(|o| o["kind"] == "Job").unwrap();
        let driver = &job["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<&str> = driver["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.windows(2)
                .any(|w| w == ["--collector-listen", "0.0.0.0:4317"]),
            "{args:?}"
        );
        let svc = m
            .iter()
            .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == COLLECTOR)
            .unwrap();
        for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
            assert_eq!(
                &job["spec"]["template"]["metadata"]["labels"][k], v,
                "the Service selects the Job's pod"
            );
        }
        let specs: Vec<&Value> = m
            .iter()
            .filter_map(|o| match o["kind"].as_str() {
                Some("Deployment") => Some(&o["spec"]["template"]["spec"]),
                Some("Pod") => Some(&o["spec"]),
                _ => None,
            })
            .collect();
        assert_eq!(specs.len(), 3, "web's Deployment and db's two Pods");
        for spec in &specs {
            let env = spec["containers"][0]["env"].as_array().unwrap();
            assert!(env.iter().any(|e| e["name"] == "TOPOLAB_OTLP_ENDPOINTS"
                && e["value"] == "http://topolab-collector:4317"));
        }
        let pods: Vec<&Value> = m.iter().filter(|o| o["kind"] == "Pod").collect();
        assert_eq!(pods.len(), 2);
        for (i, p) in pods.iter().enumerate() {
            assert_eq!(p["metadata"]["name"], format!("db-{i}"));
            assert_eq!(p["spec"]["restartPolicy"], "Never");
            let env = p["spec"]["containers"][0]["env"].as_array().unwrap();
            assert!(env.iter().any(|e| e["name"] == "TOPOLAB_SLOT"
                && e["value"].as_str() == Some(i.to_string().as_str())));
        }
        assert!(
            !m.iter()
                .any(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "db")
        );
    }
}
