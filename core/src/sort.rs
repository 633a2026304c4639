//! Sorting in constant stack: a heapsort.
//!
//! graft.ko sorts on a kernel stack (16 KiB on x86_64), from module init
//! (the kallsyms table: tens of thousands of entries) and from sysfs
//! writes.  `core`'s `sort_unstable` is a recursive quicksort whose frames
//! grow with the optimisation level: built at `opt-level=2` (a kernel
//! optimised for speed) with rustc 1.96, each of its frames took 1,224
//! bytes and the kallsyms sort overran the stack guard page at `insmod`.
//! A heapsort needs no recursion and no scratch space, whatever the input,
//! at `O(n log n)` comparisons.

/// Sort `v` by `key`, ascending (unstable), in constant stack.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    heapsort(v, &mut |a: &T, b: &T| key(a) < key(b));
}

/// Sort `v` ascending (unstable), in constant stack.
pub fn sort<T: Ord>(v: &mut [T]) {
    heapsort(v, &mut |a: &T, b: &T| a < b);
}

/// Build a max-heap, then move its maximum to the end, shrinking it.
fn heapsort<T>(v: &mut [T], less: &mut impl FnMut(&T, &T) -> bool) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, less);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, less);
    }
}

/// Restore the heap property of `v[..end]` below `node`.
fn sift_down<T>(v: &mut [T], mut node: usize, end: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A deterministic pseudo-random sequence (xorshift).
    fn values(n: usize, seed: u64, modulo: u64) -> Vec<(u64, usize)> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % modulo, i)
            })
            .collect()
    }

    #[test]
    fn sorts_like_the_standard_sort() {
        for n in (0..70).chain([255, 256, 257, 1000, 46_667]) {
            for (seed, modulo) in [(1, 3), (7, 1000), (99, u64::MAX)] {
                let mut a = values(n, seed, modulo);
                let mut b = a.clone();
                sort_by_key(&mut a, |e| e.0);
                b.sort_by_key(|e| e.0);
                let keys = |v: &[(u64, usize)]| v.iter().map(|e| e.0).collect::<Vec<_>>();
                assert_eq!(keys(&a), keys(&b), "n={n} seed={seed}");
                // The same elements: sorted whole, they agree exactly.
                a.sort();
                b.sort();
                assert_eq!(a, b);
                let mut c = values(n, seed, modulo);
                sort(&mut c);
                assert_eq!(c, a, "sort, n={n} seed={seed}");
            }
        }
    }

    #[test]
    fn sorted_and_reversed_inputs() {
        let mut up: Vec<u32> = (0..500).collect();
        let mut down: Vec<u32> = (0..500).rev().collect();
        sort(&mut up);
        sort(&mut down);
        assert_eq!(up, down);
        assert!(up.windows(2).all(|w| w[0] < w[1]));
    }
}
