//! [`Shared`]: an immutable value many answers hand out (a group's public keys, a campaign's
//! vocabulary), cheap to clone, with room for one rendering of it that an adapter makes once
//! and reuses (the HTTP layer keeps its JSON there). The domain never looks at the rendering.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

pub struct Shared<T>(Arc<Inner<T>>);

struct Inner<T> {
    value: T,
    rendered: OnceLock<Box<[u8]>>,
}

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Shared(Arc::new(Inner {
            value,
            rendered: OnceLock::new(),
        }))
    }

    /// The rendering made by the first call's `render`; later calls return it unchanged (one
    /// process renders a value one way only).
    pub fn rendered(&self, render: impl FnOnce(&T) -> Vec<u8>) -> &[u8] {
        self.0
            .rendered
            .get_or_init(|| render(&self.0.value).into_boxed_slice())
    }

    /// Whether both are the same shared value (not merely equal ones).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Shared::new(value)
    }
}

impl<T: Default> Default for Shared<T> {
    fn default() -> Self {
        Shared::new(T::default())
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || **self == **other
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_value_and_its_single_rendering() {
        let a = Shared::new(vec![1, 2]);
        let b = a.clone();
        assert!(a.ptr_eq(&b));
        assert_eq!(a.rendered(|v| format!("{v:?}").into_bytes()), b"[1, 2]");
        assert_eq!(b.rendered(|_| b"other".to_vec()), b"[1, 2]");
        let c = Shared::new(vec![1, 2]);
        assert_eq!(a, c);
        assert!(!a.ptr_eq(&c));
        assert_ne!(a, Shared::new(vec![1]));
        assert_eq!(*a, vec![1, 2]);
    }
}
