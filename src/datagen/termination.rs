//! Does a compiled type terminate, and how to stop it quickly.
//!
//! `cost` is the least fixed point of
//! ```text
//!   cost(primitive | enum | fixed | logical) = 0
//!   cost(array | map)                        = 0     (the empty container is a value)
//!   cost(union)                              = min over branches
//!   cost(record)                             = 1 + max over fields   (a field whose default
//!                                                    is used costs 0)
//! ```
//! computed by iterating from "∞ everywhere" until nothing shrinks. A node still at ∞ can
//! never produce a finite value (e.g. `record A { A next; }`), so construction fails. Past
//! `max_depth` the generator always picks a union's cheapest branch and empty containers:
//! every step then strictly lowers the remaining cost, so generation terminates.
//!
//! Example: `LinkedList { int value; union { null, LinkedList } next; }` has
//! cost(union) = min(0, cost(LinkedList)) = 0, so cost(LinkedList) = 1 + max(0, 0) = 1.
//! `Loop { Loop next; }` has cost(Loop) = 1 + cost(Loop), whose only solution is ∞.

use super::compile::{Node, UnionNode};

/// Marks a node that cannot terminate.
pub(crate) const UNBOUNDED: u32 = u32::MAX;

/// The least fixed point described in the module docs.
pub(crate) fn costs(nodes: &[Node]) -> Vec<u32> {
    let mut cost = vec![UNBOUNDED; nodes.len()];
    loop {
        let mut changed = false;
        for (id, node) in nodes.iter().enumerate() {
            let new = match node {
                Node::Union(union) => union
                    .branches
                    .iter()
                    .map(|&b| cost[b])
                    .min()
                    .unwrap_or(UNBOUNDED),
                Node::Record(record) => record
                    .fields
                    .iter()
                    .map(|f| if f.default.is_some() { 0 } else { cost[f.node] })
                    .max()
                    .unwrap_or(0)
                    .saturating_add(1),
                Node::Pending => UNBOUNDED,
                _ => 0,
            };
            if new < cost[id] {
                cost[id] = new;
                changed = true;
            }
        }
        if !changed {
            return cost;
        }
    }
}

pub(crate) fn first_unbounded_record(nodes: &[Node], cost: &[u32]) -> Option<String> {
    nodes.iter().zip(cost).find_map(|(node, &c)| match node {
        Node::Record(record) if c == UNBOUNDED => Some(record.fullname.clone()),
        _ => None,
    })
}

pub(crate) fn cheapest_branch(union: &UnionNode, cost: &[u32]) -> u32 {
    if let Some(null) = union.null_branch {
        return null; // cost 0, and the most natural way to stop
    }
    union
        .branches
        .iter()
        .enumerate()
        .min_by_key(|&(i, &b)| (cost[b], i))
        .and_then(|(i, _)| u32::try_from(i).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagen::compile::{FieldNode, RecordNode};

    fn record(fields: &[usize]) -> Node {
        Node::Record(RecordNode {
            fullname: "R".into(),
            fields: fields
                .iter()
                .map(|&node| FieldNode {
                    name: format!("f{node}"),
                    node,
                    default: None,
                })
                .collect(),
        })
    }

    fn union(branches: Vec<usize>) -> Node {
        Node::Union(UnionNode {
            branches,
            null_branch: None,
            present: vec![],
            fallback: 0,
        })
    }

    #[test]
    fn costs_of_lists_loops_and_chains() {
        // 0: list record {1}, 1: union [2 null, 0], 2: null
        let list = [record(&[1]), union(vec![2, 0]), Node::Null];
        assert_eq!(costs(&list), vec![1, 0, 0]);
        // 0: loop record {0}
        let looping = [record(&[0])];
        assert_eq!(costs(&looping), vec![UNBOUNDED]);
        assert_eq!(
            first_unbounded_record(&looping, &costs(&looping)).as_deref(),
            Some("R")
        );
        // 0: A {1}, 1: B {2}, 2: union [0, 3], 3: C {} — terminates via C, depth 3.
        let chain = [record(&[1]), record(&[2]), union(vec![0, 3]), record(&[])];
        let cost = costs(&chain);
        assert_eq!(cost, vec![3, 2, 1, 1]);
        let Node::Union(u) = &chain[2] else {
            unreachable!()
        };
        assert_eq!(cheapest_branch(u, &cost), 1);
    }
}
