//! The checker behind `tests/layers.rs` (which states the rules): a small Rust tokenizer, a walk
//! of the module tree from `src/lib.rs`, path resolution into a module graph, then cycles
//! (Tarjan) and layer violations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// The layers, top to bottom.
pub const LAYERS: [&str; 4] = ["edge", "api", "service", "scim"];

/// A module path below the crate root (`[]` is the root, `src/lib.rs`).
pub type Module = Vec<String>;

/// `crate` for the root, `a::b` otherwise.
pub fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
    /// A string, char or number literal, kept so that adjacency stays honest.
    Lit,
}

/// Tokens with their lines, dropping comments, lifetimes and the contents of every literal.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < c.len() {
        let (ch, start) = (c[i], i);
        let tok = if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            None
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0; // block comments nest
            while i < c.len() {
                let pair = (c[i], at(i + 1));
                i += if matches!(pair, ('/', '*') | ('*', '/')) {
                    2
                } else {
                    1
                };
                depth += i32::from(pair == ('/', '*')) - i32::from(pair == ('*', '/'));
                if depth == 0 {
                    break;
                }
            }
            None
        } else if let Some(end) = string_end(&c, i) {
            i = end;
            Some(Tok::Lit)
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            i += usize::from(ch == 'b');
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                // A char literal: skip the quote and one (possibly escaped) char, up to the quote.
                i += 2 + usize::from(at(i + 1) == '\\');
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                Some(Tok::Lit)
            } else {
                i += 1; // a lifetime or a label: dropped with its name
                while word(at(i)) {
                    i += 1;
                }
                None
            }
        } else if ch.is_ascii_digit() {
            while word(at(i)) || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
            Some(Tok::Lit)
        } else if word(ch) {
            if ch == 'r' && at(i + 1) == '#' {
                i += 2; // a raw identifier, r#type (raw strings were taken above)
            }
            let from = i;
            while word(at(i)) {
                i += 1;
            }
            Some(Tok::Ident(c[from..i].iter().collect()))
        } else if ch == ':' && at(i + 1) == ':' {
            i += 2;
            Some(Tok::Sep)
        } else {
            i += 1;
            (!ch.is_whitespace()).then_some(Tok::Punct(ch))
        };
        out.extend(tok.map(|t| (t, line)));
        line += c[start..i.min(c.len())]
            .iter()
            .filter(|&&x| x == '\n')
            .count();
    }
    out
}

/// If a string literal (`"…"`, `b"…"`, `c"…"`, `r#"…"#`, `br"…"` …) starts at `i`, where it ends.
fn string_end(c: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    let mut j = i + usize::from(matches!(at(i), 'b' | 'c'));
    let raw = at(j) == 'r';
    j += usize::from(raw);
    let hashes = if raw {
        c[j..].iter().take_while(|&&x| x == '#').count()
    } else {
        0
    };
    j += hashes;
    if at(j) != '"' {
        return None;
    }
    j += 1;
    while j < c.len() {
        match c[j] {
            '\\' if !raw => j += 2,
            '"' if (1..=hashes).all(|k| at(j + k) == '#') => return Some(j + 1 + hashes),
            _ => j += 1,
        }
    }
    Some(c.len())
}

/// A file's tokens, with lookups that read past the end as nothing.
struct Toks(Vec<(Tok, usize)>);

impl Toks {
    fn ident(&self, i: usize) -> Option<&str> {
        match self.0.get(i) {
            Some((Tok::Ident(s), _)) => Some(s),
            _ => None,
        }
    }

    fn is(&self, i: usize, p: char) -> bool {
        matches!(self.0.get(i), Some((Tok::Punct(c), _)) if *c == p)
    }

    fn sep(&self, i: usize) -> bool {
        matches!(self.0.get(i), Some((Tok::Sep, _)))
    }

    /// The index of the bracket closing the one at `open`.
    fn matching(&self, open: usize) -> usize {
        let mut depth = 0;
        for (j, (t, _)) in self.0.iter().enumerate().skip(open) {
            match t {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') if depth <= 1 => return j,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                _ => {}
            }
        }
        self.0.len()
    }

    /// Where the item (or field, arm, statement) starting at `j` ends: after its `;` or its
    /// body's `}`; a field or an arm also ends at `,`, and nothing reads past a closing bracket.
    fn skip_item(&self, mut j: usize) -> usize {
        let mut k = j + usize::from(self.ident(j) == Some("pub"));
        if k > j && self.is(k, '(') {
            k = self.matching(k) + 1; // pub(crate)
        }
        let item = matches!(
            self.ident(k),
            Some("mod" | "use" | "fn" | "impl" | "struct" | "enum" | "trait" | "type" | "const")
                | Some("static" | "async" | "unsafe" | "extern" | "macro_rules")
        );
        let mut depth = 0;
        while let Some((t, _)) = self.0.get(j) {
            match t {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') if depth == 0 => return j,
                Tok::Punct('}') if depth == 1 && item => return j + 1,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                Tok::Punct(';') if depth == 0 => return j + 1,
                Tok::Punct(',') if depth == 0 && !item => return j + 1,
                _ => {}
            }
            j += 1;
        }
        j
    }

    /// Reads the `use` tree at `i` after `path`, pushing each leaf path (`{…}` groups expanded)
    /// with its line. Returns where the tree ends.
    fn use_tree(
        &self,
        mut i: usize,
        mut path: Vec<String>,
        out: &mut Vec<(Vec<String>, usize)>,
    ) -> usize {
        if self.sep(i) {
            path.push("::".into());
            i += 1;
        }
        while let Some(name) = self.ident(i) {
            path.push(name.into());
            i += 1;
            if !self.sep(i) {
                out.push((path, self.0[i - 1].1));
                return i + if self.ident(i) == Some("as") { 2 } else { 0 };
            }
            i += 1;
        }
        if self.is(i, '*') {
            path.push("*".into());
            out.push((path, self.0[i].1));
            return i + 1;
        }
        if self.is(i, '{') {
            i += 1;
            while i < self.0.len() && !self.is(i, '}') {
                let next = self.use_tree(i, path.clone(), out);
                i = next.max(i + 1) + usize::from(self.is(next, ','));
            }
        }
        i + 1
    }
}

// ---------------------------------------------------------------------------------------------
// The module tree and the paths written in it

/// A path as written, before resolution.
struct RawRef {
    /// The module file it is written in.
    from: Module,
    /// The module it is written in: `from`, or an inline module inside it.
    scope: Module,
    segs: Vec<String>,
    /// `::a::b` or `extern crate a`: another crate.
    absolute: bool,
    loc: String,
}

#[derive(Default)]
struct Tree {
    /// Module node → its file, as shown (relative to the crate root).
    files: BTreeMap<Module, String>,
    /// Inline non-test modules: not nodes, but names a path can start from.
    inline: BTreeSet<Module>,
    refs: Vec<RawRef>,
    /// `mod name;` declarations not read yet: the module and its file.
    queue: VecDeque<(Module, std::path::PathBuf)>,
}

impl Tree {
    /// Reads one module file: its references, and its `mod name;` children into the queue.
    fn scan(&mut self, node: &Module, file: &Path, shown: &str) {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let t = Toks(tokenize(&text));
        let own_dir = matches!(
            file.file_name().and_then(|n| n.to_str()),
            Some("lib.rs" | "mod.rs")
        );
        let dir = if own_dir {
            file.with_file_name("")
        } else {
            file.with_extension("")
        };
        // The module being read (the file's, or an inline one in it) and the `{` depth it opened at.
        let mut scopes = vec![(node.clone(), 0)];
        let (mut i, mut depth, mut test_only, mut leaves) = (0, 0, false, Vec::new());
        while i < t.0.len() {
            let scope = scopes.last().map(|s| s.0.clone()).unwrap_or_default();
            let inner = t.is(i, '#') && t.is(i + 1, '!');
            let open = i + 1 + usize::from(inner);
            if t.is(i, '#') && t.is(open, '[') {
                let end = t.matching(open);
                let words: Vec<_> = (open..end).filter_map(|k| t.ident(k)).collect();
                let cfg_test = !inner
                    && words.first() == Some(&"cfg")
                    && words.contains(&"test")
                    && !words.contains(&"not");
                // Other attributes are read as code: `#[worker::event(fetch)]` is a reference.
                i = if test_only || cfg_test {
                    end + 1
                } else {
                    open + 1
                };
                test_only |= cfg_test;
                continue;
            }
            if test_only {
                (i, test_only) = (t.skip_item(i), false);
                continue;
            }
            let line = t.0[i].1;
            let mut push = |segs: Vec<String>, absolute: bool, line: usize| {
                let (from, scope, loc) = (node.clone(), scope.clone(), format!("{shown}:{line}"));
                self.refs.push(RawRef {
                    from,
                    scope,
                    segs,
                    absolute,
                    loc,
                });
            };
            match (&t.0[i].0, t.ident(i + 1)) {
                (Tok::Ident(kw), Some(name)) if kw == "mod" => {
                    let path: Module = scope.iter().cloned().chain([name.to_string()]).collect();
                    if t.is(i + 2, '{') {
                        depth += 1;
                        self.inline.insert(path.clone());
                        scopes.push((path, depth));
                    } else {
                        let here = scope[node.len()..]
                            .iter()
                            .fold(dir.clone(), |d, s| d.join(s));
                        let flat = here.join(format!("{name}.rs"));
                        let file = if flat.exists() {
                            flat
                        } else {
                            here.join(name).join("mod.rs")
                        };
                        self.queue.push_back((path, file));
                    }
                    i += 3;
                }
                (Tok::Ident(kw), _) if kw == "use" => {
                    i = t.use_tree(i + 1, Vec::new(), &mut leaves);
                    for (mut segs, line) in leaves.drain(..) {
                        let absolute = segs[0] == "::";
                        if absolute {
                            segs.remove(0);
                        }
                        push(segs, absolute, line);
                    }
                }
                (Tok::Ident(kw), Some("crate")) if kw == "extern" => {
                    if let Some(name) = t.ident(i + 2) {
                        push(vec![name.into()], true, line);
                    }
                    i += 3;
                }
                (Tok::Ident(_), _) | (Tok::Sep, Some(_)) => {
                    // A path `a::b::c`, or `::a::b` naming another crate. Not a path's start: the
                    // tail of `<T>::a::b`, or `pub(in crate::a)` (a visibility, no dependency).
                    let absolute = t.sep(i);
                    let prev = i.checked_sub(1).map(|k| &t.0[k].0);
                    let tail = prev == Some(&Tok::Sep)
                        || (absolute
                            && matches!(prev, Some(Tok::Ident(_) | Tok::Punct('>' | ')'))))
                        || (i > 1 && t.ident(i - 1) == Some("in") && t.is(i - 2, '('));
                    i += usize::from(absolute);
                    let mut segs = Vec::new();
                    while let Some(s) = t.ident(i) {
                        segs.push(s.to_string());
                        i += 1;
                        if !t.sep(i) || t.ident(i + 1).is_none() {
                            break;
                        }
                        i += 1;
                    }
                    if !tail && (segs.len() > 1 || absolute) {
                        push(segs, absolute, line);
                    }
                }
                (Tok::Punct(brace @ ('{' | '}')), _) => {
                    if *brace == '{' {
                        depth += 1;
                    } else {
                        if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                            scopes.pop();
                        }
                        depth -= 1;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The graph

pub struct Graph {
    /// Module node → its file, relative to the crate root.
    pub files: BTreeMap<Module, String>,
    /// (from, to) → every `file:line` that creates the edge.
    pub edges: BTreeMap<(Module, Module), Vec<String>>,
    /// Every `file:line` that references the `worker` crate, with its module.
    pub worker: Vec<(Module, String)>,
}

/// Reads the crate at `root` (`src/lib.rs` and the modules it declares) into a module graph.
pub fn analyze(root: &Path) -> Graph {
    let mut tree = Tree {
        queue: VecDeque::from([(Vec::new(), root.join("src/lib.rs"))]),
        ..Tree::default()
    };
    while let Some((node, file)) = tree.queue.pop_front() {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        tree.scan(&node, &file, &shown);
        tree.files.insert(node, shown);
    }
    let mut graph = Graph {
        files: tree.files,
        edges: BTreeMap::new(),
        worker: Vec::new(),
    };
    for r in &tree.refs {
        let ups = r.segs.iter().take_while(|s| *s == "super").count();
        let mut full: Module = match r.segs[0].as_str() {
            _ if r.absolute => Vec::new(),
            "crate" => Vec::new(),
            "self" => r.scope.clone(),
            "super" => r.scope[..r.scope.len().saturating_sub(ups)].to_vec(),
            first => r.scope.iter().cloned().chain([first.to_string()]).collect(),
        };
        // A first segment that is no module here names another crate (or a local item).
        if r.absolute || !(graph.files.contains_key(&full) || tree.inline.contains(&full)) {
            if r.segs[0] == "worker" {
                graph.worker.push((r.from.clone(), r.loc.clone()));
            }
            continue;
        }
        full.extend(
            r.segs[ups.max(1)..]
                .iter()
                .filter(|s| *s != "self" && *s != "*")
                .cloned(),
        );
        let to = (0..=full.len())
            .rev()
            .map(|n| full[..n].to_vec())
            .find(|m| graph.files.contains_key(m));
        if let Some(to) = to.filter(|to| *to != r.from) {
            graph
                .edges
                .entry((r.from.clone(), to))
                .or_default()
                .push(r.loc.clone());
        }
    }
    graph
}

/// Tarjan's strongly connected components of the graph `adj` (node → successors).
fn tarjan(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        (s.index[v], s.low[v], s.next) = (Some(s.next), s.next, s.next + 1);
        s.stack.push(v);
        let adj = s.adj;
        for &w in &adj[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(index) if s.stack.contains(&w) => s.low[v] = s.low[v].min(index),
                Some(_) => {}
            }
        }
        if s.index[v] == Some(s.low[v]) {
            let at = s.stack.iter().rposition(|&x| x == v).unwrap_or(0);
            let scc = s.stack.split_off(at);
            s.out.push(scc);
        }
    }
    let n = adj.len();
    let mut s = State {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

impl Graph {
    /// Edges by name.
    pub fn edge_names(&self) -> BTreeSet<(String, String)> {
        self.edges.keys().map(|(a, b)| (show(a), show(b))).collect()
    }

    fn targets<'a>(&'a self, from: &'a Module) -> impl Iterator<Item = &'a Module> + 'a {
        self.edges
            .keys()
            .filter(move |(a, _)| a == from)
            .map(|(_, b)| b)
    }

    /// The strongly connected components of more than one module, each sorted.
    pub fn cycles(&self) -> Vec<Vec<Module>> {
        let nodes: Vec<&Module> = self.files.keys().collect();
        let id = |m: &Module| nodes.iter().position(|n| *n == m).unwrap_or(0);
        let adj: Vec<Vec<usize>> = nodes
            .iter()
            .map(|v| self.targets(v).map(id).collect())
            .collect();
        let mut sccs: Vec<Vec<Module>> = tarjan(&adj)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .map(|scc| {
                let mut scc: Vec<Module> = scc.into_iter().map(|v| nodes[v].clone()).collect();
                scc.sort();
                scc
            })
            .collect();
        sccs.sort();
        sccs
    }

    /// The shortest cycle from `start` back to itself within `scc` (breadth-first).
    fn shortest_cycle(&self, start: &Module, scc: &[Module]) -> Vec<Module> {
        let mut parent: BTreeMap<&Module, &Module> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for w in self.targets(v).filter(|w| scc.contains(w)) {
                if w == start {
                    let mut path = vec![start.clone(), v.clone()];
                    while let Some(&p) = parent.get(path.last().unwrap_or(start)) {
                        path.push(p.clone());
                    }
                    path.reverse();
                    return path;
                }
                if !parent.contains_key(w) {
                    parent.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        Vec::new()
    }

    /// Each component of more than one module, then cycles through it until every one of its
    /// modules has appeared, each edge with the first `file:line` that creates it.
    pub fn cycle_report(&self) -> String {
        let sccs = self.cycles();
        let mut out = format!("{} import cycle(s):\n", sccs.len());
        for (n, scc) in sccs.iter().enumerate() {
            let names: Vec<_> = scc.iter().map(|m| show(m)).collect();
            out += &format!(
                "\ncomponent {} ({} modules): {}\n",
                n + 1,
                scc.len(),
                names.join(", ")
            );
            let mut covered = BTreeSet::new();
            for start in scc {
                if covered.contains(start) {
                    continue;
                }
                let cycle = self.shortest_cycle(start, scc);
                let names: Vec<_> = cycle.iter().map(|m| show(m)).collect();
                out += &format!("  {}\n", names.join(" -> "));
                for pair in cycle.windows(2) {
                    let at = &self.edges[&(pair[0].clone(), pair[1].clone())][0];
                    out += &format!("      {} -> {}  at {at}\n", show(&pair[0]), show(&pair[1]));
                }
                covered.extend(cycle);
            }
        }
        out
    }

    /// Every upward reference between layers, and every reference to `worker` outside `edge`.
    pub fn layer_violations(&self) -> Vec<String> {
        let rank = |m: &Module| {
            m.first()
                .and_then(|top| LAYERS.iter().position(|l| l == top))
        };
        let mut out = Vec::new();
        for ((from, to), locs) in &self.edges {
            if let (Some(a), Some(b)) = (rank(from), rank(to)) {
                if b < a {
                    let (lf, lt, at) = (LAYERS[a], LAYERS[b], locs.join(", "));
                    out.push(format!(
                        "{} -> {} at {at}: `{lf}` may not depend on `{lt}`",
                        show(from),
                        show(to)
                    ));
                }
            }
        }
        for (from, at) in self
            .worker
            .iter()
            .filter(|(m, _)| m.first().is_none_or(|s| s != "edge"))
        {
            out.push(format!(
                "{} at {at}: only `edge` may use the `worker` crate",
                show(from)
            ));
        }
        out
    }
}
