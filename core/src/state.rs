//! System states: upstream livepatch's `struct klp_state`
//! (include/linux/livepatch.h, kernel/livepatch/state.c,
//! Documentation/livepatch/system-state.rst).
//!
//! A patch that changes the state of the system beyond its functions (a
//! callback turns a mitigation on, converts a data structure, attaches a
//! shadow variable to every object of a kind) declares that change as a
//! state: an `id` and a `version`.  A later patch then knows whether it
//! must take the change over, may keep it, or must refuse to load:
//!
//! * [`find`] is `klp_get_state()`: a patch's own state of an id;
//! * [`prev`] is `klp_get_prev_state()`: the state of an id among the
//!   patches installed before the one in transition, the latest winning;
//! * [`compatible`] is `klp_is_patch_compatible()`: a cumulative (replace)
//!   patch must carry every installed state, and any patch that carries an
//!   installed state must carry it at an equal or higher version.
//!
//! Which patches count as installed is the caller's: graft's engine passes
//! its enabled patches in registration order
//! ([`Engine::installed`](crate::Engine::installed)).
//!
//! [`zero_id`] and a duplicate check (graft's own rules, [`crate::desc`]'s
//! `first_duplicate` on the ids) are what graft requires of a declaration:
//! upstream ends its array at the first id 0, and a second state of an id
//! would never be found by `klp_get_state()`.

use core::fmt;

/// A system state a patch changes (`struct klp_state` without its
/// `data`, which stays in the patch module: graft.h's `struct
/// graft_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct State {
    /// Identifier (non-zero).
    pub id: u64,
    /// Version of the change; a patch may keep a state only at an equal or
    /// higher version than the installed one.
    pub version: u32,
}

/// Why a patch may not be enabled beside the installed patches (upstream:
/// `klp_is_patch_compatible()` false, `-EINVAL`).  `K` names the installed
/// patch whose state was in the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incompatible<K> {
    /// A replace patch does not carry the installed state `id` (at
    /// `installed`) of patch `holder`: replacing it would leave the change
    /// without an owner.
    Dropped {
        /// The state.
        id: u64,
        /// Its installed version.
        installed: u32,
        /// The installed patch that has it.
        holder: K,
    },
    /// The patch carries state `id` at `version`, older than the installed
    /// `installed` of patch `holder`: a downgrade.
    Older {
        /// The state.
        id: u64,
        /// The version this patch carries.
        version: u32,
        /// The installed version.
        installed: u32,
        /// The installed patch that has it.
        holder: K,
    },
}

impl<K> Incompatible<K> {
    /// The same refusal with the holder named otherwise.
    pub fn map<L>(self, f: impl FnOnce(K) -> L) -> Incompatible<L> {
        match self {
            Incompatible::Dropped { id, installed, holder } => {
                Incompatible::Dropped { id, installed, holder: f(holder) }
            }
            Incompatible::Older { id, version, installed, holder } => {
                Incompatible::Older { id, version, installed, holder: f(holder) }
            }
        }
    }
    /// The installed patch whose state was in the way.
    pub fn holder(&self) -> &K {
        match self {
            Incompatible::Dropped { holder, .. } | Incompatible::Older { holder, .. } => holder,
        }
    }
}

impl<K: fmt::Display> fmt::Display for Incompatible<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incompatible::Dropped { id, installed, holder } => write!(
                f,
                "{holder} has state {id} (version {installed}), which this replace patch does not carry: a cumulative patch must carry every installed state"
            ),
            Incompatible::Older { id, version, installed, holder } => write!(
                f,
                "{holder} has state {id} at version {installed}, this patch at version {version}: a state may only be kept at an equal or higher version"
            ),
        }
    }
}

/// `klp_get_state()`: the index of the state `id` among `states`.
pub fn find(states: &[State], id: u64) -> Option<usize> {
    states.iter().position(|s| s.id == id)
}

/// `klp_get_prev_state()`: the state `id` of the installed patches, in
/// their order (the latest has the most recent information, as upstream
/// documents): the last patch that has it, and the index there.  The
/// caller leaves the patch in transition out, as upstream stops at it.
pub fn prev<'a, K>(installed: impl IntoIterator<Item = (K, &'a [State])>, id: u64) -> Option<(K, usize)> {
    installed.into_iter().filter_map(|(k, states)| find(states, id).map(|i| (k, i))).last()
}

/// `klp_is_patch_compatible()` (kernel/livepatch/state.c): whether a patch
/// with `states` (a replace patch if `replace`) may be enabled beside the
/// `installed` patches.  For every installed state, in their order (the
/// first refusal is reported): a patch without it is compatible unless it
/// is a replace patch, which must carry it; a patch with it must carry an
/// equal or higher version.  A patch may introduce new states freely.
pub fn compatible<'a, K>(
    states: &[State],
    replace: bool,
    installed: impl IntoIterator<Item = (K, &'a [State])>,
) -> Result<(), Incompatible<K>>
where
    K: Copy,
{
    for (holder, old) in installed {
        for o in old {
            match find(states, o.id).map(|i| states[i]) {
                None if replace => return Err(Incompatible::Dropped { id: o.id, installed: o.version, holder }),
                None => {}
                Some(s) if s.version < o.version => {
                    return Err(Incompatible::Older { id: o.id, version: s.version, installed: o.version, holder })
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// The first state declared with id 0 (upstream ends its array there, and
/// its documentation requires a non-zero id): its index.
pub fn zero_id(states: &[State]) -> Option<usize> {
    states.iter().position(|s| s.id == 0)
}
