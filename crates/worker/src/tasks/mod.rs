//! The worker's tasks, one module each, named after the reference's Celery tasks.

pub mod area;
pub mod backup;
pub mod cell_export;
pub mod datamap;
pub mod export;
pub mod incoming;
pub mod monitor;
pub mod periodic;
pub mod station;
pub mod stats;

/// Groups values by key, keeping the order in which keys first appear (reports of one
/// API key and source stay together and in arrival order).
pub(crate) fn group_in_order<K: PartialEq, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    for (key, value) in pairs {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    groups
}
