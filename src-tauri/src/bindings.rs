//! The TypeScript declarations the UI imports (`ui/src/bindings/`), made
//! from the Rust types with ts-rs so the two cannot drift apart. The test
//! here regenerates them and fails when the committed files differ;
//! `cargo xtask bindings` writes them.

#[cfg(test)]
mod tests {
    use crate::commands::{Center, EditFailure, General, PageQuery, SoundOutput};
    use crate::{Pause, Status};
    use belfry_core::event::CoreEvent;
    use belfry_proto::inbox::Notification;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use ts_rs::TS;

    /// Set to write the files instead of comparing them.
    const BLESS: &str = "BELFRY_BLESS_BINDINGS";

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
    }

    /// Every `.ts` file in `dir`, by name.
    fn read_dir(dir: &Path) -> BTreeMap<String, String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeMap::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("readable binding");
                (e.file_name().to_string_lossy().into_owned(), text)
            })
            .collect()
    }

    /// The declarations of everything the commands and events carry (and
    /// what those refer to).
    fn generate(dir: &Path) -> BTreeMap<String, String> {
        // Sequence numbers and counts are u64 in Rust but stay far below
        // 2^53: plain numbers in JSON and in TypeScript.
        let cfg = ts_rs::Config::new()
            .with_out_dir(dir)
            .with_large_int("number");
        CoreEvent::export_all(&cfg).expect("CoreEvent exports");
        Status::export_all(&cfg).expect("Status exports");
        Pause::export_all(&cfg).expect("Pause exports");
        PageQuery::export_all(&cfg).expect("PageQuery exports");
        General::export_all(&cfg).expect("General exports");
        Center::export_all(&cfg).expect("Center exports");
        EditFailure::export_all(&cfg).expect("EditFailure exports");
        SoundOutput::export_all(&cfg).expect("SoundOutput exports");
        crate::updates::UpdateInfo::export_all(&cfg).expect("UpdateInfo exports");
        Notification::export_all(&cfg).expect("Notification exports");
        crate::ui_error::UiError::export_all(&cfg).expect("UiError exports");
        read_dir(dir)
    }

    #[test]
    fn the_ui_bindings_match_the_rust_types() {
        let fresh = tempfile::tempdir().expect("a temporary directory");
        let generated = generate(fresh.path());
        assert!(generated.contains_key("CoreEvent.ts"), "{generated:?}");
        let committed_dir = committed_dir();
        if std::env::var_os(BLESS).is_some() {
            let _ = std::fs::remove_dir_all(&committed_dir);
            std::fs::create_dir_all(&committed_dir).expect("creates ui/src/bindings");
            for (name, text) in &generated {
                std::fs::write(committed_dir.join(name), text).expect("writes a binding");
            }
            return;
        }
        let committed = read_dir(&committed_dir);
        let stale: Vec<_> = generated
            .iter()
            .filter(|(name, text)| committed.get(*name) != Some(*text))
            .map(|(name, _)| name.as_str())
            .chain(
                committed
                    .keys()
                    .filter(|n| !generated.contains_key(*n))
                    .map(String::as_str),
            )
            .collect();
        assert!(
            stale.is_empty(),
            "ui/src/bindings is out of date ({stale:?}): run `cargo xtask bindings`"
        );
    }
}
