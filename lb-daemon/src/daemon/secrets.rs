//! Secrets in the status document: the configuration's passwords
//! (`auth_pass`; keepalived has no other, e.g. no SMTP credentials) are shown
//! as [`MASK`] in `status`, `status --json` and the dumps made from it. Only
//! the configuration is redacted: elsewhere in the document a key of that
//! name is a counter (`vrrp[].drops.auth_pass`, adverts with a wrong
//! password).
use serde::Serialize;
use serde_json::Value;

/// Configuration keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["auth_pass"];

/// What a secret is shown as.
pub const MASK: &str = "********";

/// `config` as JSON with every secret replaced by [`MASK`].
pub fn redacted_config(config: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(config)
        .unwrap_or_else(|e| Value::String(format!("(configuration not shown: {e})")));
    redact(&mut value);
    value
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_masked_at_any_depth_and_absent_ones_stay_absent() {
        let config = json!({
            "global_defs": {"router_id": "lb1"},
            "vrrp_instance": [
                {"name": "VI_1", "authentication": {"auth_type": "PASS", "auth_pass": "s3cret"}},
                {"name": "VI_2", "authentication": {"auth_type": "PASS", "auth_pass": null}},
            ],
        });
        let shown = redacted_config(&config);
        assert!(!shown.to_string().contains("s3cret"), "{shown}");
        assert_eq!(
            shown["vrrp_instance"][0]["authentication"]["auth_pass"],
            MASK
        );
        assert!(shown["vrrp_instance"][1]["authentication"]["auth_pass"].is_null());
        assert_eq!(shown["global_defs"]["router_id"], "lb1");
    }
}
