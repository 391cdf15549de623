//! Architecture checks over the source tree under `src/`: no import cycles between modules, and
//! the layers depend only downward.
//!
//! Layers, top to bottom: `edge` → `api` → `service` → `scim`. A module in one layer may reference
//! its own layer and the layers below it, never those above (a layer that does not exist yet is
//! simply absent). Only `src/edge/**` may reference the `worker` crate; `src/lib.rs` belongs to
//! no layer, so only that last rule applies to it.
//!
//! The module graph has one node per module file (`src/lib.rs` → `crate`, `src/a/b.rs` or
//! `src/a/b/mod.rs` → `a::b`), found by following `mod name;` declarations from `src/lib.rs`.
//! Items under `#[cfg(test)]` (inline `mod tests { … }`, `mod tests;` and their files) are skipped
//! whole: `use super::*` in a test is not a design dependency. Inline non-test modules belong to
//! their file's node but still count as a level for `super::` and `self::`.
//!
//! Edges come from every path in the code, not only `use` lines: a path starting with `crate::`,
//! `self::`, `super::` (repeated) or the name of a child module of the current module is resolved
//! against the module tree to the longest prefix that names a module file (`super::sibling::Item`
//! → the sibling, `super::Item` → the parent). `use` groups such as `use super::{a, b::C}` are
//! expanded. Declaring `mod child;` is not an edge, a parent's `pub use child::X` is; a module's
//! references to itself are dropped, and so are other crates' paths (`serde::`, `std::` …). So a
//! parent that re-exports or calls a child while the child uses an item defined in the parent
//! (`use super::Filter`) is a cycle; a child using a sibling through the parent is not.
//!
//! Sources go through a small tokenizer that drops comments (nested block comments included),
//! string, byte and raw string literals (SCIM URNs are full of `:`), char literals and lifetimes,
//! so nothing is matched by regular expressions over raw text. The checker is in
//! `tests/layer_graph/mod.rs`; the tests below run it on `src/` and on small synthetic crates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod layer_graph;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use layer_graph::{analyze, Graph};

// ---------------------------------------------------------------------------------------------
// The checks on the real tree

fn real_tree() -> Graph {
    analyze(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn no_import_cycles_in_src() {
    let graph = real_tree();
    assert!(graph.cycles().is_empty(), "{}", graph.cycle_report());
}

#[test]
fn layers_depend_only_downward() {
    let violations = real_tree().layer_violations();
    assert!(
        violations.is_empty(),
        "{} layer violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The checker on small synthetic trees

/// A crate in a fresh temporary directory, removed on drop.
struct TempCrate(PathBuf);

impl TempCrate {
    fn new(files: &[(&str, &str)]) -> TempCrate {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root =
            std::env::temp_dir().join(format!("scim-edge-layers-{}-{n}", std::process::id()));
        for (path, text) in files {
            let path = root.join("src").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        TempCrate(root)
    }

    fn graph(&self) -> Graph {
        analyze(&self.0)
    }
}

impl Drop for TempCrate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_cycle_through_an_inline_path_is_reported_with_its_places() {
    let krate = TempCrate::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::X;\n\npub fn f() {}\n"),
        (
            "b.rs",
            "pub struct X;\n\npub fn g() {\n    super::a::f();\n}\n",
        ),
    ]);
    let graph = krate.graph();
    assert_eq!(
        graph.cycles(),
        vec![vec![vec!["a".to_string()], vec!["b".to_string()]]]
    );
    let report = graph.cycle_report();
    assert!(report.contains("a -> b -> a"), "{report}");
    assert!(
        report.contains("a -> b  at src/a.rs:1") && report.contains("b -> a  at src/b.rs:4"),
        "{report}"
    );
}

#[test]
fn an_upward_layer_reference_and_worker_outside_edge_are_reported() {
    let krate = TempCrate::new(&[
        ("lib.rs", "pub mod scim;\npub mod service;\nmod edge;\n"),
        ("scim/mod.rs", "pub mod x;\n"),
        (
            "scim/x.rs",
            "pub struct X;\n\nfn f() -> crate::service::y::Y { todo!() }\n",
        ),
        ("service/mod.rs", "pub mod y;\n"),
        (
            "service/y.rs",
            "use crate::scim::x::X;\npub struct Y(X);\nfn f(_: &::worker::Env) {}\n",
        ),
        (
            "edge/mod.rs",
            "use worker::*;\nuse crate::service::y::Y;\n#[worker::event(fetch)]\nfn g() {}\n",
        ),
    ]);
    let violations = krate.graph().layer_violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with("scim::x -> service::y at src/scim/x.rs:3"),
        "{violations:#?}"
    );
    assert!(
        violations[1].starts_with("service::y at src/service/y.rs:3"),
        "{violations:#?}"
    );
}

#[test]
fn a_reexport_and_a_sibling_reference_are_no_cycle() {
    let krate = TempCrate::new(&[
        ("lib.rs", "mod p;\n"),
        (
            "p/mod.rs",
            "mod child;\nmod sibling;\n\npub use child::X;\n",
        ),
        ("p/child.rs", "use super::sibling::Y;\npub struct X(Y);\n"),
        ("p/sibling.rs", "pub struct Y;\n"),
    ]);
    let graph = krate.graph();
    assert_eq!(
        graph.edge_names(),
        names(&[("p", "p::child"), ("p::child", "p::sibling")])
    );
    assert!(graph.cycles().is_empty(), "{}", graph.cycle_report());
}

#[test]
fn a_child_using_its_parents_item_is_a_cycle_with_the_reexport() {
    let krate = TempCrate::new(&[
        ("lib.rs", "mod p;\n"),
        (
            "p/mod.rs",
            "mod child;\n\npub use child::X;\npub struct P;\n",
        ),
        ("p/child.rs", "pub struct X(super::P);\n"),
    ]);
    let report = krate.graph().cycle_report();
    assert!(report.contains("p -> p::child -> p"), "{report}");
    assert!(
        report.contains("at src/p/mod.rs:3") && report.contains("at src/p/child.rs:1"),
        "{report}"
    );
}

#[test]
fn comments_and_literals_are_not_edges() {
    let a = r####"
// crate::b::X
/* crate::b::X /* nested */ crate::b::X */
/// [`crate::b::X`]
const S: &str = "crate::b::X \" crate::b::X";
const R: &str = r#"crate::b::X "quoted" crate::b::X"#;
const B: &[u8] = br"crate::b::X";
const URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const Q: char = '"';
const E: char = '\'';
fn f<'a>(x: &'a str) -> &'a str { x }
use crate::c::Z;
"####;
    let krate = TempCrate::new(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", a),
        ("b.rs", "pub struct X;\n"),
        ("c.rs", "pub struct Z;\n"),
    ]);
    assert_eq!(krate.graph().edge_names(), names(&[("a", "c")]));
}

#[test]
fn test_only_modules_are_not_edges() {
    let krate = TempCrate::new(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
        (
            "a.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::b::*;\n}\n",
        ),
        ("b.rs", "pub struct X;\n"),
        (
            "c.rs",
            "#[cfg(test)]\n#[allow(clippy::unwrap_used)]\nmod tests;\n",
        ),
        ("c/tests.rs", "use crate::b::X;\nuse crate::a;\n"),
        ("d.rs", "#[cfg(not(test))]\nuse crate::b::X;\n"),
    ]);
    let graph = krate.graph();
    assert!(!graph
        .files
        .contains_key(&vec!["c".to_string(), "tests".to_string()]));
    assert_eq!(graph.edge_names(), names(&[("d", "b")]));
}

#[test]
fn use_groups_and_relative_paths_resolve_to_the_longest_module_prefix() {
    let krate = TempCrate::new(&[
        ("lib.rs", "mod p;\nmod q;\n"),
        ("p/mod.rs", "mod a;\nmod b;\nmod c;\npub struct P;\n"),
        ("p/a.rs", "pub fn f() {}\n"),
        ("p/b.rs", "pub struct C;\nmod inner {\n    fn g() { super::super::c::h(); }\n}\n"),
        ("p/c.rs", "use super::{a, b::C};\npub fn h() -> super::P { super::super::q::g(); self::k() }\nfn k() {}\n"),
        ("q.rs", "pub fn g() {}\n"),
    ]);
    let expected = [
        ("p::b", "p::c"),
        ("p::c", "p"),
        ("p::c", "p::a"),
        ("p::c", "p::b"),
        ("p::c", "q"),
    ];
    assert_eq!(krate.graph().edge_names(), names(&expected));
}
