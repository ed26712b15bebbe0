//! Children follow a capped parent: when a mapped table is capped (`limit = 100` gifts),
//! a mapped table referencing it (the gifts' claims) keeps only the rows whose parent
//! was written, so the foreign key holds without the mapping filtering by hand. The
//! parents' keys are remembered as they are written (parents load first), then each
//! child row's referencing columns are looked up among them.

use std::collections::HashSet;

use super::check::Planned;
use super::entity::Row;
use super::mapping::TableMap;
use super::write::value;

/// One foreign key from a mapped child to a capped mapped parent.
struct Edge {
    child: String,
    /// The child's referencing columns, as indexes into its mapping's columns.
    child_cols: Vec<usize>,
    parent: String,
    /// The referenced columns, as indexes into the parent mapping's columns.
    parent_cols: Vec<usize>,
    /// The referenced values of the parent rows written so far.
    keys: HashSet<Vec<String>>,
}

/// The foreign keys children follow, with the parents' written keys.
#[derive(Default)]
pub struct Follow {
    edges: Vec<Edge>,
}

impl Follow {
    /// The edges among `planned` (in load order): to a parent with a `limit`, or to a
    /// parent that itself follows one. Both sides' columns must be mapped (a column the
    /// mapping leaves out is NULL or its default: nothing to match).
    pub fn new(planned: &[Planned<'_>]) -> Follow {
        let mut capped: Vec<&str> = Vec::new();
        let mut edges = Vec::new();
        for child in planned {
            let mut follows = false;
            for fk in &child.info.foreign {
                let Some(parent) = planned.iter().find(|p| p.map.name == fk.table) else {
                    continue;
                };
                if fk.table == child.map.name || !capped.contains(&parent.map.name.as_str()) {
                    continue;
                }
                let (Some(child_cols), Some(parent_cols)) = (
                    indexes(child.map, &fk.columns),
                    indexes(parent.map, &fk.references),
                ) else {
                    continue;
                };
                follows = true;
                edges.push(Edge {
                    child: child.map.name.clone(),
                    child_cols,
                    parent: parent.map.name.clone(),
                    parent_cols,
                    keys: HashSet::new(),
                });
            }
            if follows || child.map.limit.is_some() {
                capped.push(child.map.name.as_str());
            }
        }
        Follow { edges }
    }

    /// Whether `t`'s rows are filtered by a capped parent, and by which ones.
    pub fn parents_of(&self, t: &TableMap) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|e| e.child == t.name)
            .map(|e| e.parent.as_str())
            .collect()
    }

    /// Remembers a written row of `t`, if children follow it.
    pub fn record(&mut self, t: &TableMap, row: &Row) {
        for e in self.edges.iter_mut().filter(|e| e.parent == t.name) {
            if let Some(k) = rendered(t, &e.parent_cols, row) {
                e.keys.insert(k);
            }
        }
    }

    /// Whether a row of `t` references only parents that were written (a NULL or
    /// unrenderable reference is kept: the database judges it).
    pub fn keep(&self, t: &TableMap, row: &Row) -> bool {
        self.edges
            .iter()
            .filter(|e| e.child == t.name)
            .all(|e| rendered(t, &e.child_cols, row).is_none_or(|k| e.keys.contains(&k)))
    }
}

fn indexes(t: &TableMap, cols: &[String]) -> Option<Vec<usize>> {
    cols.iter()
        .map(|c| t.columns.iter().position(|m| &m.name == c))
        .collect()
}

/// The row's values of these columns, or None when one is NULL or fails.
fn rendered(t: &TableMap, cols: &[usize], row: &Row) -> Option<Vec<String>> {
    cols.iter()
        .map(|&i| value(t, i, row).ok().flatten())
        .collect()
}
