//! Drift-ignore paths (Flux's `spec.ignore` / `driftDetection.ignore`): JSON pointers
//! (RFC 6901) whose values in the cluster are not corrected.
//!
//! Two uses, as Flux's `pkg/ssa`: an object whose only differences from the dry-run lie on
//! ignored paths is unchanged (no write); and when another field did drift, the ignored paths
//! that differ are left out of the applied body, so whatever set them keeps its value.
//! Which object gets which paths (target selectors) is the caller's business.

use serde_json::Value;

/// The reference tokens of `pointer` (`/a/b~1c` → `a`, `b/c`); `None` when it is not a
/// pointer (no leading `/`). The empty pointer (whole document) is refused too: ignoring the
/// whole object is what `ssa: Ignore` is for.
fn tokens(pointer: &str) -> Option<Vec<String>> {
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// The value at `pointer`, when present.
pub fn lookup<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    tokens(pointer)?;
    doc.pointer(pointer)
}

/// Removes the value at `pointer` from `doc`; true when something was removed.
pub fn remove(doc: &mut Value, pointer: &str) -> bool {
    let Some(mut tokens) = tokens(pointer) else {
        return false;
    };
    let Some(last) = tokens.pop() else {
        return false;
    };
    let mut parent = doc;
    for t in &tokens {
        let next = match parent {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => parent = n,
            None => return false,
        }
    }
    match parent {
        Value::Object(m) => m.remove(&last).is_some(),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// The paths of `paths` whose value (or presence) differs between `live` and `dry`.
pub fn drifted<'p>(live: &Value, dry: &Value, paths: &'p [String]) -> Vec<&'p str> {
    paths
        .iter()
        .map(String::as_str)
        .filter(|p| lookup(live, p) != lookup(dry, p))
        .collect()
}

/// `doc` without the values at `paths`.
pub fn without(mut doc: Value, paths: &[impl AsRef<str>]) -> Value {
    for p in paths {
        remove(&mut doc, p.as_ref());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_object_members_array_items_and_escaped_names() {
        let mut doc = json!({"spec": {"replicas": 3, "list": [1, 2, 3]},
            "metadata": {"annotations": {"a/b": "x", "c~d": "y"}}});
        assert!(remove(&mut doc, "/spec/replicas"));
        assert!(remove(&mut doc, "/spec/list/1"));
        assert!(remove(&mut doc, "/metadata/annotations/a~1b"));
        assert!(remove(&mut doc, "/metadata/annotations/c~0d"));
        assert_eq!(
            doc,
            json!({"spec": {"list": [1, 3]}, "metadata": {"annotations": {}}})
        );
    }

    #[test]
    fn missing_paths_and_non_pointers_change_nothing() {
        let mut doc = json!({"spec": {"replicas": 3}});
        let before = doc.clone();
        assert!(!remove(&mut doc, "/spec/absent"));
        assert!(!remove(&mut doc, "/spec/replicas/deeper"));
        assert!(!remove(&mut doc, "/nothing/here"));
        assert!(!remove(&mut doc, "spec/replicas"));
        assert!(!remove(&mut doc, ""));
        assert!(!remove(&mut doc, "/spec/list/x"));
        assert_eq!(doc, before);
    }

    #[test]
    fn drifted_lists_paths_that_differ_or_exist_on_one_side_only() {
        let live = json!({"spec": {"replicas": 5, "paused": true, "same": 1}});
        let dry = json!({"spec": {"replicas": 3, "same": 1, "new": "x"}});
        let paths: Vec<String> = ["/spec/replicas", "/spec/paused", "/spec/same", "/spec/new"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            drifted(&live, &dry, &paths),
            ["/spec/replicas", "/spec/paused", "/spec/new"]
        );
        assert_eq!(
            without(live, &["/spec/replicas", "/spec/paused"]),
            json!({"spec": {"same": 1}})
        );
    }
}
