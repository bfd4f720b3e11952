//! Complete-linkage hierarchical clustering cut at a distance, as the reference does
//! with SciPy's `linkage(method="complete")` and `fcluster(criterion="distance")`
//! (`api.md` §8.6.1 step 4, Appendix E).
//!
//! Two networks end up in one cluster iff every pair inside the cluster is within the
//! cut distance of the merge that joined them, which is what keeps a moved or fake
//! access point from dragging a cluster along. The dendrogram is built with the
//! nearest-neighbour-chain algorithm exactly as SciPy's `nn_chain` builds it, because
//! when pairwise distances tie, the order of merges (and so the partition) depends on
//! the algorithm's tie-breaking; reproducing it keeps tie cases identical too.

/// Splits `n` items into flat clusters: the maximal groups whose complete-linkage merge
/// height is at most `max_distance`. `distance(i, j)` is called once per pair with
/// `i < j`.
///
/// Clusters are returned in the order of their first member, members in index order.
pub fn complete_linkage<F>(n: usize, max_distance: f64, mut distance: F) -> Vec<Vec<usize>>
where
    F: FnMut(usize, usize) -> f64,
{
    if n == 0 {
        return Vec::new();
    }
    // Full symmetric matrix; the condensed form saves little at these sizes.
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let dij = distance(i, j);
            d[i * n + j] = dij;
            d[j * n + i] = dij;
        }
    }

    // SciPy's nn_chain with the complete-linkage update rule.
    let mut size = vec![1usize; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges: Vec<(usize, usize, f64)> = Vec::with_capacity(n.saturating_sub(1));
    for _ in 1..n {
        if chain.is_empty()
            && let Some(first) = (0..n).find(|&i| size[i] > 0)
        {
            chain.push(first);
        }
        let (x, y, height) = loop {
            let Some(&x) = chain.last() else {
                return flat_clusters(n, &merges, max_distance);
            };
            let previous = chain.len().checked_sub(2).map(|k| chain[k]);
            // SciPy prefers the previous chain element on ties. Without one, any other
            // live cluster is the fallback partner (only reachable with infinite or NaN
            // distances, which are then never merged below the cut).
            let (mut y, mut current_min) = match previous {
                Some(p) => (p, d[x * n + p]),
                None => (
                    (0..n).find(|&i| size[i] > 0 && i != x).unwrap_or(x),
                    f64::INFINITY,
                ),
            };
            for i in 0..n {
                if size[i] == 0 || i == x {
                    continue;
                }
                if d[x * n + i] < current_min {
                    current_min = d[x * n + i];
                    y = i;
                }
            }
            if previous == Some(y) {
                break (x, y, current_min);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (x, y) = if x > y { (y, x) } else { (x, y) };
        merges.push((x, y, height));
        size[y] += size[x];
        size[x] = 0;
        for i in 0..n {
            if size[i] == 0 || i == y {
                continue;
            }
            let merged = d[i * n + x].max(d[i * n + y]);
            d[i * n + y] = merged;
            d[y * n + i] = merged;
        }
    }
    flat_clusters(n, &merges, max_distance)
}

/// Applies every merge at or below the cut. Complete linkage has no inversions (a
/// merge is never lower than the merges below it), so this equals SciPy's cut of the
/// dendrogram by each node's maximal cophenetic distance.
fn flat_clusters(n: usize, merges: &[(usize, usize, f64)], max_distance: f64) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // The merges name clusters by a representative item index, so union-find on the
    // items reproduces the tree.
    for &(x, y, height) in merges {
        if height <= max_distance {
            let (rx, ry) = (root(&mut parent, x), root(&mut parent, y));
            if rx != ry {
                parent[rx.max(ry)] = rx.min(ry);
            }
        }
    }
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    let mut slot_of_root: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        let r = root(&mut parent, i);
        match slot_of_root[r] {
            Some(slot) => clusters[slot].push(i),
            None => {
                slot_of_root[r] = Some(clusters.len());
                clusters.push(vec![i]);
            }
        }
    }
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_a_line(xs: &[f64], t: f64) -> Vec<Vec<usize>> {
        complete_linkage(xs.len(), t, |i, j| (xs[i] - xs[j]).abs())
    }

    #[test]
    fn trivial_sizes() {
        assert!(on_a_line(&[], 1.0).is_empty());
        assert_eq!(on_a_line(&[5.0], 1.0), vec![vec![0]]);
        assert_eq!(on_a_line(&[0.0, 1.0], 1.0), vec![vec![0, 1]]);
        assert_eq!(on_a_line(&[0.0, 1.5], 1.0), vec![vec![0], vec![1]]);
    }

    #[test]
    fn complete_linkage_does_not_chain() {
        // Single linkage would join all of these (steps of 300); complete linkage
        // stops at a diameter of 500.
        let clusters = on_a_line(&[0.0, 300.0, 600.0, 900.0], 500.0);
        assert_eq!(clusters, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn clusters_are_ordered_by_first_member() {
        let clusters = on_a_line(&[1000.0, 0.0, 1000.5, 0.5, 5000.0], 10.0);
        assert_eq!(clusters, vec![vec![0, 2], vec![1, 3], vec![4]]);
    }

    #[test]
    fn the_cut_is_inclusive() {
        assert_eq!(on_a_line(&[0.0, 250.0, 500.0], 500.0), vec![vec![0, 1, 2]]);
        assert_eq!(
            on_a_line(&[0.0, 250.0, 500.000_001], 500.0),
            vec![vec![0, 1], vec![2]]
        );
    }

    #[test]
    fn ties_follow_the_nearest_neighbour_chain() {
        // 0-1 and 1-2 are both 300 apart and 0-2 is 600: SciPy merges (0, 1) first,
        // after which 2 cannot join.
        assert_eq!(
            on_a_line(&[0.0, 300.0, 600.0], 500.0),
            vec![vec![0, 1], vec![2]]
        );
    }
}
