//! Helm's release records, in the storage format of Helm 3's Secret driver.
//!
//! A release (revision) is one Secret named `sh.helm.release.v1.<name>.v<version>` of type
//! `helm.sh/release.v1` with labels `name`, `owner=helm`, `status`, `version`; its
//! `data.release` holds base64(gzip(release JSON)) — and since Secret `data` is itself base64
//! on the wire, the JSON is base64-encoded twice there. Writing the same format lets the `helm`
//! CLI list and upgrade releases we made, and lets us take over releases `helm` made.
//!
//! Fields we do not model (the chart, hook run records, future fields) are kept as raw JSON
//! so a record read and written back loses nothing.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// The Secret `type` of Helm 3 release records.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The largest decompressed release JSON we accept (a hostile record cannot exhaust memory).
const MAX_RELEASE_JSON: u64 = 64 << 20;
/// Go's zero `time.Time` in JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The status of a release revision (Helm's `release.Status`).
pub type Status = String;

/// `release.Info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    #[serde(default = "zero_time")]
    pub first_deployed: String,
    #[serde(default = "zero_time")]
    pub last_deployed: String,
    #[serde(default = "zero_time")]
    pub deleted: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn zero_time() -> String {
    ZERO_TIME.to_string()
}

impl Default for Info {
    fn default() -> Info {
        Info {
            first_deployed: zero_time(),
            last_deployed: zero_time(),
            deleted: zero_time(),
            description: String::new(),
            status: String::new(),
            notes: String::new(),
            extra: Map::new(),
        }
    }
}

/// `release.Release`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// The chart as Helm serializes it (`metadata`, `templates`, `values`, `files`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Value>,
    /// The user-supplied values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Hooks as Helm serializes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Labels of the storage object other than Helm's own (not part of the JSON).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The labels Helm sets itself and refuses from users.
pub const SYSTEM_LABELS: &[&str] = &[
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

impl Release {
    /// The storage Secret's name.
    pub fn secret_name(&self) -> String {
        format!("sh.helm.release.v1.{}.v{}", self.name, self.version)
    }

    /// The status, or "unknown" when unset (Helm's `Status.String()` of an empty status).
    pub fn status(&self) -> &str {
        self.info.as_ref().map(|i| i.status.as_str()).unwrap_or("")
    }
}

/// Helm's `encodeRelease`: base64(gzip(json)).
pub fn encode(rel: &Release) -> Result<String, Error> {
    let json = serde_json::to_vec(rel).map_err(|e| Error::Release(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json)
        .map_err(|e| Error::Release(e.to_string()))?;
    let bytes = gz.finish().map_err(|e| Error::Release(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Helm's `decodeRelease`: base64, then gunzip when gzip-compressed, then JSON.
pub fn decode(data: &str) -> Result<Release, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| Error::Release(format!("base64: {e}")))?;
    let json = if bytes.len() > 3 && bytes[..3] == [0x1f, 0x8b, 0x08] {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_RELEASE_JSON + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::Release(format!("gzip: {e}")))?;
        if out.len() as u64 > MAX_RELEASE_JSON {
            return Err(Error::Release(format!(
                "release JSON is larger than {MAX_RELEASE_JSON} bytes"
            )));
        }
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(|e| Error::Release(format!("json: {e}")))
}

/// The chart as a release record stores it (Helm's `chart.Chart` JSON: `metadata`, `lock`,
/// `templates`, `values`, `schema`, `files`; file contents base64 like Go's `[]byte`).
/// Subcharts are not part of it, as in Helm. `helm list` shows the chart and app version
/// from `metadata`.
pub fn chart_record(chart: &crate::Chart) -> Value {
    let files = |files: &[crate::File]| -> Value {
        files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "data": base64::engine::general_purpose::STANDARD.encode(&f.data),
                })
            })
            .collect()
    };
    serde_json::json!({
        "metadata": crate::render::metadata_json(&chart.metadata),
        "lock": null,
        "templates": files(&chart.templates),
        "values": chart.values,
        "schema": chart
            .schema
            .as_ref()
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
        "files": files(&chart.files),
    })
}

/// The Secret (as a Kubernetes object in JSON) that stores `rel` in `namespace`.
pub fn to_secret(rel: &Release, namespace: &str) -> Result<Value, Error> {
    let encoded = encode(rel)?;
    let mut labels = Map::new();
    for (k, v) in &rel.labels {
        if !SYSTEM_LABELS.contains(&k.as_str()) {
            labels.insert(k.clone(), Value::String(v.clone()));
        }
    }
    labels.insert("name".into(), Value::String(rel.name.clone()));
    labels.insert("owner".into(), Value::String("helm".into()));
    labels.insert("status".into(), Value::String(rel.status().to_string()));
    labels.insert("version".into(), Value::String(rel.version.to_string()));
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": rel.secret_name(),
            "namespace": namespace,
            "labels": labels,
        },
        "type": SECRET_TYPE,
        // Secret data is base64 of the bytes; the bytes are Helm's base64 text.
        "data": {
            "release": base64::engine::general_purpose::STANDARD.encode(encoded.as_bytes()),
        },
    }))
}

/// Reads a release from its storage Secret (as JSON), refusing other Secret types.
pub fn from_secret(secret: &Value) -> Result<Release, Error> {
    let ty = secret.get("type").and_then(Value::as_str).unwrap_or("");
    if ty != SECRET_TYPE {
        return Err(Error::Release(format!(
            "secret type {ty:?} is not {SECRET_TYPE:?}"
        )));
    }
    let data = secret
        .pointer("/data/release")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Release("secret has no data.release".into()))?;
    let inner = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Error::Release(format!("secret data: {e}")))?;
    let inner = String::from_utf8(inner).map_err(|e| Error::Release(e.to_string()))?;
    let mut rel = decode(&inner)?;
    if let Some(Value::Object(labels)) = secret.pointer("/metadata/labels") {
        for (k, v) in labels {
            if !SYSTEM_LABELS.contains(&k.as_str())
                && let Some(s) = v.as_str()
            {
                rel.labels.insert(k.clone(), s.to_string());
            }
        }
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Release {
        Release {
            name: "web".into(),
            info: Some(Info {
                first_deployed: "2024-05-01T10:00:00.123456789Z".into(),
                last_deployed: "2024-05-01T10:00:00.123456789Z".into(),
                status: "deployed".into(),
                description: "Install complete".into(),
                notes: "hello".into(),
                ..Default::default()
            }),
            chart: Some(
                json!({"metadata": {"name": "web", "version": "1.0.0", "apiVersion": "v2"}, "templates": [], "values": {}, "schema": null, "files": [], "lock": null}),
            ),
            config: json!({"replicas": 2})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            manifest: "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n".into(),
            hooks: vec![
                json!({"name": "j", "kind": "Job", "events": ["pre-install"], "last_run": {"started_at": ZERO_TIME, "completed_at": ZERO_TIME, "phase": ""}}),
            ],
            version: 3,
            namespace: "apps".into(),
            labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
        }
    }

    #[test]
    fn secret_round_trip() {
        let rel = sample();
        let secret = to_secret(&rel, "apps").unwrap();
        assert_eq!(secret["metadata"]["name"], "sh.helm.release.v1.web.v3");
        assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
        assert_eq!(secret["metadata"]["labels"]["status"], "deployed");
        assert_eq!(secret["metadata"]["labels"]["version"], "3");
        assert_eq!(secret["metadata"]["labels"]["team"], "a");
        assert_eq!(secret["type"], SECRET_TYPE);
        let back = from_secret(&secret).unwrap();
        assert_eq!(back, rel);
    }

    #[test]
    fn data_is_base64_of_gzip_of_json() {
        let text = encode(&sample()).unwrap();
        let gz = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .unwrap();
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 0x08]);
        let mut json = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut json)
            .unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["name"], "web");
        assert_eq!(v["info"]["deleted"], ZERO_TIME);
        assert_eq!(v["version"], 3);
        assert!(v.get("labels").is_none());
    }

    #[test]
    fn plain_json_and_unknown_fields_are_read() {
        let raw = r#"{"name":"x","version":1,"info":{"status":"failed","resources":{"a":1}},"future":true}"#;
        let text = base64::engine::general_purpose::STANDARD.encode(raw);
        let rel = decode(&text).unwrap();
        assert_eq!(rel.status(), "failed");
        assert_eq!(rel.info.unwrap().extra["resources"], json!({"a": 1}));
    }

    #[test]
    fn chart_record_is_helms_chart_json() {
        let mut chart = crate::Chart::default();
        chart.metadata.name = "web".into();
        chart.metadata.version = "1.0.0".into();
        chart.metadata.app_version = "2.1".into();
        chart.values = json!({"replicas": 1}).as_object().cloned().unwrap();
        chart.templates = vec![crate::File {
            name: "templates/cm.yaml".into(),
            data: b"kind: ConfigMap".to_vec(),
        }];
        let rec = chart_record(&chart);
        assert_eq!(
            rec["metadata"],
            json!({"name": "web", "version": "1.0.0", "appVersion": "2.1"})
        );
        assert_eq!(rec["values"], json!({"replicas": 1}));
        assert_eq!(
            rec["templates"],
            json!([{"name": "templates/cm.yaml", "data": "a2luZDogQ29uZmlnTWFw"}])
        );
        assert_eq!(rec["schema"], Value::Null);
        assert_eq!(rec["files"], json!([]));
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(decode("!!!").is_err());
        let not_json = base64::engine::general_purpose::STANDARD.encode("nope");
        assert!(decode(&not_json).is_err());
        assert!(from_secret(&json!({"type": "Opaque"})).is_err());
    }
}
