//! Settings edits as field-level patches, so an edit made offline can be
//! re-based on whatever the server's document has become: the fields the
//! operator touched keep their new values, every other field takes the
//! server's.

use belfry_proto::settings::Preferences;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One changed leaf: a path of object keys and its new value. Arrays (a
/// type's channel list) are leaves: the operator's list replaces the server's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Object keys from the root of `preferences`.
    pub path: Vec<String>,
    /// The new value.
    pub value: Value,
}

/// An edit: the changes between two versions of the preferences.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// Changed leaves, in path order.
    pub changes: Vec<Change>,
}

/// What can go wrong applying a patch.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The preferences did not survive a JSON round trip.
    #[error("preferences: {0}")]
    Json(#[from] serde_json::Error),
}

impl Patch {
    /// The changes that turn `before` into `after`.
    pub fn diff(before: &Preferences, after: &Preferences) -> Result<Self, PatchError> {
        let mut changes = Vec::new();
        diff_values(
            &mut Vec::new(),
            &serde_json::to_value(before)?,
            &serde_json::to_value(after)?,
            &mut changes,
        );
        Ok(Self { changes })
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `base` with this patch applied on top.
    pub fn apply(&self, base: &Preferences) -> Result<Preferences, PatchError> {
        let mut value = serde_json::to_value(base)?;
        for c in &self.changes {
            set(&mut value, &c.path, c.value.clone());
        }
        Ok(serde_json::from_value(value)?)
    }

    /// Later changes to the same path win.
    pub fn merge(&mut self, later: Patch) {
        for c in later.changes {
            self.changes
                .retain(|old| !(old.path.starts_with(&c.path) || c.path.starts_with(&old.path)));
            self.changes.push(c);
        }
    }

    /// Drops every change at or under one of `paths` (dotted, as the server
    /// reports refused fields, e.g. `preferences.channels.bell.enabled`).
    /// Returns how many were dropped.
    pub fn drop_paths<'a>(&mut self, paths: impl IntoIterator<Item = &'a str>) -> usize {
        let before = self.changes.len();
        for p in paths {
            let refused: Vec<&str> = p
                .strip_prefix("preferences.")
                .unwrap_or(p)
                .split('.')
                .collect();
            self.changes.retain(|c| {
                let path: Vec<&str> = c.path.iter().map(String::as_str).collect();
                !(path.starts_with(&refused) || refused.starts_with(&path))
            });
        }
        before - self.changes.len()
    }
}

fn diff_values(path: &mut Vec<String>, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, av) in a {
                path.push(k.clone());
                match b.get(k) {
                    Some(bv) => diff_values(path, bv, av, out),
                    None => out.push(Change {
                        path: path.clone(),
                        value: av.clone(),
                    }),
                }
                path.pop();
            }
        }
        _ if before != after => out.push(Change {
            path: path.clone(),
            value: after.clone(),
        }),
        _ => {}
    }
}

fn set(root: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *root = value;
        return;
    };
    let mut node = root;
    for key in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offline_edit_rebases_on_a_newer_server_document() {
        let base = Preferences::default();
        let mut mine = base.clone();
        mine.channels.banner.duration_s = 20;
        mine.types.get_mut("chat_created").unwrap().melody = "harp".into();
        let patch = Patch::diff(&base, &mine).unwrap();
        assert_eq!(patch.changes.len(), 2);

        // Meanwhile the server changed other fields and one of the same.
        let mut server = base.clone();
        server.channels.sound.enabled = true;
        server.types.get_mut("chat_created").unwrap().melody = "bells".into();
        let merged = patch.apply(&server).unwrap();
        assert!(
            merged.channels.sound.enabled,
            "untouched field takes the server's value"
        );
        assert_eq!(
            merged.channels.banner.duration_s, 20,
            "touched field keeps mine"
        );
        assert_eq!(merged.types["chat_created"].melody, "harp");
    }

    #[test]
    fn refused_paths_are_dropped_and_later_edits_win() {
        let base = Preferences::default();
        let mut a = base.clone();
        a.channels.bell.enabled = false;
        a.channels.banner.repeats = 2;
        let mut patch = Patch::diff(&base, &a).unwrap();
        let mut b = a.clone();
        b.channels.banner.repeats = 3;
        patch.merge(Patch::diff(&a, &b).unwrap());
        assert_eq!(patch.changes.len(), 2);
        assert_eq!(patch.drop_paths(["preferences.channels.bell.enabled"]), 1);
        let merged = patch.apply(&base).unwrap();
        assert!(merged.channels.bell.enabled);
        assert_eq!(merged.channels.banner.repeats, 3);
    }
}
