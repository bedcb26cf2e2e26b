//! The known scenarios: two built in (`bot`, `manual`), the files of `--scenarios-dir` (which may
//! replace them), and those added at run time through the admin API (kept in SQLite, table
//! `scenarios`; they shadow a file of the same name until deleted).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::json;

use super::scenario::Scenario;

/// Where a scenario comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    BuiltIn,
    File,
    Runtime,
}

/// A scenario as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub description: String,
    pub source: Source,
    pub steps: usize,
}

#[derive(Default)]
pub struct Scenarios {
    /// Built-in and file scenarios.
    shipped: BTreeMap<String, (Arc<Scenario>, Source)>,
    runtime: RwLock<BTreeMap<String, Arc<Scenario>>>,
}

impl Scenarios {
    /// `bot` and `manual` only.
    pub fn built_in() -> Scenarios {
        let mut shipped = BTreeMap::new();
        for doc in [
            json!({"name": "bot", "description": "An agent joins after the join delay and the bot answers every customer message.", "steps": [{"then": "bot"}]}),
            json!({"name": "manual", "description": "No agent comes unless one is driven through the admin API.", "steps": []}),
        ] {
            let s = Scenario::parse(&doc, None).expect("the built-in scenarios are valid");
            shipped.insert(s.name.clone(), (Arc::new(s), Source::BuiltIn));
        }
        Scenarios { shipped, runtime: RwLock::default() }
    }

    /// The built-in scenarios and every `*.json` file of `dir` (named by its file name). A file
    /// that is not a valid scenario is an error naming the file and the step.
    pub fn load(dir: &Path) -> Result<Scenarios, String> {
        let mut scenarios = Scenarios::built_in();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "cannot read the scenarios folder {}: {e}; pick another with --scenarios-dir",
                dir.display()
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files {
            let shown = path.display();
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read scenario file {shown}: {e}"))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("scenario file {shown} is not valid JSON: {e}"))?;
            let scenario = Scenario::parse(&doc, Some(&name))
                .map_err(|e| format!("scenario file {shown}: {e}"))?;
            scenarios.shipped.insert(name, (Arc::new(scenario), Source::File));
        }
        Ok(scenarios)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Scenario>> {
        let runtime = self.runtime.read().unwrap_or_else(|p| p.into_inner());
        runtime.get(name).cloned().or_else(|| self.shipped.get(name).map(|(s, _)| s.clone()))
    }

    pub fn source(&self, name: &str) -> Option<Source> {
        let runtime = self.runtime.read().unwrap_or_else(|p| p.into_inner());
        if runtime.contains_key(name) {
            return Some(Source::Runtime);
        }
        self.shipped.get(name).map(|(_, source)| *source)
    }

    /// Adds or replaces a run-time scenario.
    pub fn put(&self, scenario: Scenario) {
        let mut runtime = self.runtime.write().unwrap_or_else(|p| p.into_inner());
        runtime.insert(scenario.name.clone(), Arc::new(scenario));
    }

    /// Removes a run-time scenario; whether there was one.
    pub fn remove(&self, name: &str) -> bool {
        self.runtime.write().unwrap_or_else(|p| p.into_inner()).remove(name).is_some()
    }

    pub fn list(&self) -> Vec<Listed> {
        let runtime = self.runtime.read().unwrap_or_else(|p| p.into_inner());
        let mut all: BTreeMap<&str, (&Scenario, Source)> =
            self.shipped.iter().map(|(n, (s, src))| (n.as_str(), (s.as_ref(), *src))).collect();
        for (n, s) in runtime.iter() {
            all.insert(n, (s.as_ref(), Source::Runtime));
        }
        all.into_iter()
            .map(|(name, (s, source))| Listed {
                name: name.to_string(),
                description: s.description.clone(),
                source,
                steps: s.steps.len(),
            })
            .collect()
    }

    /// The names, for messages: `bot, manual, never-joins`.
    pub fn names(&self) -> String {
        self.list().into_iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_scenarios_shadow_shipped_ones_until_removed() {
        let scenarios = Scenarios::built_in();
        assert_eq!(scenarios.names(), "bot, manual");
        assert_eq!(scenarios.source("bot"), Some(Source::BuiltIn));
        let mine = Scenario::parse(&json!({"name": "bot", "steps": []}), None).unwrap();
        scenarios.put(mine);
        assert_eq!(scenarios.source("bot"), Some(Source::Runtime));
        assert!(scenarios.get("bot").unwrap().steps.is_empty());
        assert!(scenarios.remove("bot"));
        assert!(!scenarios.remove("bot"));
        assert_eq!(scenarios.get("bot").unwrap().steps.len(), 1);
    }

    #[test]
    fn the_shipped_folder_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let scenarios = Scenarios::load(&dir).unwrap();
        for name in [
            "bot",
            "manual",
            "never-joins",
            "joins-then-leaves",
            "slow-typist",
            "pushes-a-link",
            "agent-completes",
            "greets-then-bot",
        ] {
            let s = scenarios.get(name).unwrap_or_else(|| panic!("{name} is shipped"));
            assert!(!s.description.is_empty(), "{name} has a description");
            assert_eq!(scenarios.source(name), Some(Source::File));
        }
    }

    #[test]
    fn a_bad_file_is_named_with_its_step() {
        let dir = std::env::temp_dir().join(format!("gws-scenarios-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("broken.json"),
            r#"{"steps": [{"say": "hi"}, {"typing": "soon"}]}"#,
        )
        .unwrap();
        let err = Scenarios::load(&dir).err().unwrap();
        assert!(err.contains("broken.json") && err.contains("step 2"), "{err}");
        std::fs::write(dir.join("broken.json"), "{not json").unwrap();
        let err = Scenarios::load(&dir).err().unwrap();
        assert!(err.contains("broken.json") && err.contains("not valid JSON"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
