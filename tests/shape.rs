//! The shape of the code, checked: what a reader relies on when they find
//! a behaviour by the crate and folder names.
//!
//! - The server's top-level modules import each other without a cycle,
//!   and the use cases (`accounts`, `lessons`, `notify`) never reach for
//!   HTTP (`routes`, `state`, `startup`).
//! - Statuses, kinds, roles and refusal codes are enums: none is compared
//!   as a string literal outside the store's row mapping and the
//!   migrations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cms_domain::Role;
use cms_domain::lesson::{LessonKind, LessonStatus};
use cms_domain::notify::{Channel, DeliveryStatus, JobKind, JobStatus};
use cms_domain::tutor::TutorStatus;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]`
/// module (tests may spell stored words to check them).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `src/<module>/…` or `src/<module>.rs` → `<module>`.
fn top_module(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root().join("src")).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_owned())
}

fn server_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(from) = top_module(&f) else { continue };
        let deps = graph.entry(from.clone()).or_default();
        let text = code(&f);
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let to: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                deps.insert(to);
            }
        }
    }
    graph
}

/// A cycle through `start`, if any, as the modules on it.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn the_servers_modules_import_each_other_without_a_cycle() {
    let graph = server_graph();
    assert!(graph.contains_key("routes") && graph.contains_key("lessons"));
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            panic!("import cycle: {} → {module}", cycle.join(" → "));
        }
    }
}

#[test]
fn use_cases_do_not_reach_for_http() {
    let graph = server_graph();
    for use_case in [
        "accounts",
        "billing",
        "documents",
        "homework",
        "lessons",
        "notify",
    ] {
        let deps = &graph[use_case];
        for http in ["routes", "state", "startup"] {
            assert!(
                !deps.contains(http),
                "`{use_case}` imports `{http}`: use cases take narrow dependencies"
            );
        }
    }
}

/// Every word the platform stores for a status, kind, role or refusal.
fn vocabulary() -> BTreeSet<&'static str> {
    let mut words = BTreeSet::new();
    words.extend(LessonStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(LessonKind::ALL.iter().map(|v| v.as_str()));
    words.extend(JobKind::ALL.iter().map(|v| v.as_str()));
    words.extend(JobStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(DeliveryStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(Channel::ALL.iter().map(|v| v.as_str()));
    words.extend(TutorStatus::ALL.iter().map(|v| v.as_str()));
    words.extend([Role::Parent, Role::Tutor, Role::Admin].map(Role::as_str));
    // The codes rules THROW inside transactions.
    words.extend(["stale", "gone", "tutor_not_booking", "no_credit"]);
    words
}

/// Places that may spell a word as text, and why.
const ALLOWED: &[(&str, &str)] = &[
    // Topic names (`tutor:<id>`) are declared where topics are parsed; the
    // word is a topic kind there, not a role.
    ("protocol/src/topic.rs", "tutor"),
    // Twilio's own delivery words, read into DeliveryStatus right there.
    ("src/routes/notifications/twilio.rs", "delivered"),
    ("src/routes/notifications/twilio.rs", "failed"),
];

#[test]
fn statuses_kinds_roles_and_refusals_are_never_compared_as_text() {
    let words = vocabulary();
    let mut files = Vec::new();
    for dir in ["src", "actors/src", "protocol/src", "domain/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // Where the words are declared, once.
        if rel.starts_with("domain/src/") && !rel.starts_with("domain/src/scheduling") {
            continue;
        }
        let text = code(&f);
        for w in &words {
            if ALLOWED.contains(&(rel.as_str(), w)) {
                continue;
            }
            let q = format!("\"{w}\"");
            let shapes = [
                format!("== {q}"),
                format!("!= {q}"),
                format!("{q} =>"),
                format!("{q} |"),
                format!("| {q}"),
                format!("{q}.into()"),
                format!("({q})"),
                format!("[{q}"),
            ];
            for s in &shapes {
                if text.contains(s.as_str()) {
                    found.push(format!("{rel}: {s}"));
                }
            }
        }
        for prefix in ["\"s:\"", "\"t:\""] {
            if text.contains(prefix) {
                found.push(format!("{rel}: cell owner spelled {prefix}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "stored words compared as text (use the enums in cms_domain):\n{}",
        found.join("\n")
    );
}

/// The crates a package pulls in for its own code (not its tests).
fn tree(package: &str) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree -p {package} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn depends_on(tree: &str, krate: &str) -> bool {
    tree.lines()
        .any(|l| l.split_whitespace().next() == Some(krate))
}

#[test]
fn layers_depend_downwards_only() {
    for lean in ["cms-protocol", "cms-domain"] {
        let t = tree(lean);
        for heavy in [
            "actix",
            "actix-web",
            "actix-rt",
            "tokio",
            "surrealdb",
            "reqwest",
        ] {
            assert!(!depends_on(&t, heavy), "{lean} depends on {heavy}");
        }
    }
    let store = tree("cms-store");
    assert!(
        depends_on(&store, "surrealdb"),
        "the check sees dependencies"
    );
    for web in ["actix-web", "actix", "cms-actors"] {
        assert!(!depends_on(&store, web), "cms-store depends on {web}");
    }
    let load = tree("cms-loadtest");
    // The vocabulary (cms-domain, through cms-protocol) is shared; no
    // server crate is.
    for server in ["cms-server", "cms-store", "cms-actors"] {
        assert!(!depends_on(&load, server), "loadtests depend on {server}");
    }
}
