//! `cargo xtask cycles [DIR]`: import cycles between the top-level modules of a crate.
//!
//! A module that uses another which uses it back cannot be read, tested or changed on
//! its own. This reads every `.rs` file directly in `DIR` (default `server/src`): each
//! file is a module named after it (`main.rs` and `lib.rs` are the crate root, whose
//! `mod` lines do not count as uses), and every `crate::name` path in its code, comments
//! excluded, is an edge to module `name`. Strongly connected groups of two or more
//! modules are cycles. A file included with `#[path]` (the server keeps a module's tests
//! that way) is left out: tests may use whatever they exercise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Prints the cycles among `dir`'s modules and fails if there is one.
pub fn run(dir: &Path) -> Result<()> {
    let graph = read_graph(dir)?;
    let cycles = find_cycles(&graph);
    if cycles.is_empty() {
        println!(
            "{}: {} modules, no import cycle",
            dir.display(),
            graph.len()
        );
        return Ok(());
    }
    for cycle in &cycles {
        println!("cycle: {}", cycle.join(" <-> "));
    }
    bail!("{} import cycle(s) in {}", cycles.len(), dir.display())
}

/// Module name to the modules it uses.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reads the modules of `dir` and their `crate::` uses.
pub fn read_graph(dir: &Path) -> Result<Graph> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.insert(name, text);
        }
    }
    // Files included with `#[path = "x.rs"] mod y;` are test modules, left out.
    let mut included = BTreeSet::new();
    for text in files.values() {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("#[path = \"") {
                if let Some(file) = rest.split('"').next() {
                    included.insert(file.trim_end_matches(".rs").to_owned());
                }
            }
        }
    }
    files.retain(|name, _| !included.contains(name));
    let mut graph = Graph::new();
    for (module, text) in &files {
        let uses = graph.entry(module.clone()).or_default();
        for used in crate_uses(text) {
            if used != *module && files.contains_key(&used) {
                uses.insert(used);
            }
        }
    }
    for root in ["main", "lib"] {
        graph.remove(root);
        for uses in graph.values_mut() {
            uses.remove(root);
        }
    }
    Ok(graph)
}

/// The module names a file's code reaches through `crate::`, braces included
/// (`use crate::{a, b::C}` uses `a` and `b`).
fn crate_uses(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut uses = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in group[..end].split(',') {
                if let Some(name) = leading_ident(item.trim()) {
                    uses.insert(name);
                }
            }
        } else if let Some(name) = leading_ident(rest) {
            uses.insert(name);
        }
    }
    uses
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn leading_ident(text: &str) -> Option<String> {
    let ident: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!ident.is_empty() && ident.starts_with(|c: char| c.is_ascii_lowercase())).then_some(ident)
}

/// Groups of two or more modules that reach one another (Tarjan's algorithm), each
/// sorted, in a stable order.
pub fn find_cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        groups: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.groups.push(group);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.groups.sort();
    s.groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(m, uses)| {
                let uses = uses.iter().map(|u| (*u).to_owned()).collect();
                ((*m).to_owned(), uses)
            })
            .collect()
    }

    #[test]
    fn uses_are_read_from_paths_and_groups_but_not_comments() {
        let text =
            "use crate::a::X;\nuse crate::{b, c::{D, E}};\n// crate::z\nlet v = crate::d::f();";
        let uses: Vec<String> = crate_uses(text).into_iter().collect();
        assert_eq!(uses, ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_two_way_use_and_a_longer_loop_are_cycles() {
        let g = graph(&[
            ("a", &["b"]),
            ("b", &["a"]),
            ("c", &["d"]),
            ("d", &["e"]),
            ("e", &["c"]),
            ("f", &["a"]),
        ]);
        assert_eq!(find_cycles(&g), [vec!["a", "b"], vec!["c", "d", "e"]]);
    }

    #[test]
    fn a_tree_has_no_cycle() {
        let g = graph(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])]);
        assert!(find_cycles(&g).is_empty());
    }

    /// The server's modules form no cycle: `cargo xtask cycles` is this check.
    #[test]
    fn the_server_has_no_import_cycle() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
        let graph = read_graph(&dir).expect("server/src is readable");
        assert!(graph.len() > 10, "{graph:?}");
        assert_eq!(find_cycles(&graph), Vec::<Vec<String>>::new());
    }
}
