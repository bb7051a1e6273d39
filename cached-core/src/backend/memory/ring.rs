//! Doubly linked lists threaded through the slots of a shard by index, so that queueing,
//! requeueing and unlinking an entry are O(1) and allocate nothing. Appending touches only
//! the tail, never the (usually cold) head.

/// The index that stands for "no slot".
pub(super) const NIL: u32 = u32::MAX;

/// The two links of one slot in one list.
#[derive(Clone, Copy, Debug)]
pub(super) struct Link {
    pub(super) prev: u32,
    pub(super) next: u32,
}

impl Link {
    pub(super) const UNLINKED: Link = Link {
        prev: NIL,
        next: NIL,
    };
}

/// Access to one kind of link (queue or timer) of the slots.
pub(super) trait Links {
    fn link(&mut self, index: u32) -> &mut Link;
}

/// A list: its oldest element (`head`) and newest (`tail`).
#[derive(Clone, Copy, Debug)]
pub(super) struct List {
    pub(super) head: u32,
    pub(super) tail: u32,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
        }
    }
}

impl List {
    pub(super) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends `index` at the tail.
    pub(super) fn push_back(&mut self, links: &mut impl Links, index: u32) {
        *links.link(index) = Link {
            prev: self.tail,
            next: NIL,
        };
        match self.tail {
            NIL => self.head = index,
            tail => links.link(tail).next = index,
        }
        self.tail = index;
    }

    /// Unlinks `index`, which must be in this list.
    pub(super) fn remove(&mut self, links: &mut impl Links, index: u32) {
        let Link { prev, next } = std::mem::replace(links.link(index), Link::UNLINKED);
        match prev {
            NIL => self.head = next,
            prev => links.link(prev).next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => links.link(next).prev = prev,
        }
    }

    /// Moves the head to the tail: one step of a CLOCK hand.
    pub(super) fn rotate(&mut self, links: &mut impl Links) {
        let head = self.head;
        if head != self.tail {
            self.remove(links, head);
            self.push_back(links, head);
        }
    }

    /// Points whatever referred to slot `from` at slot `to`, after the slot's links were
    /// copied from `from` to `to`.
    pub(super) fn relocate(&mut self, links: &mut impl Links, from: u32, to: u32) {
        let Link { prev, next } = *links.link(to);
        debug_assert!(prev != from && next != from);
        match prev {
            NIL => self.head = to,
            prev => links.link(prev).next = to,
        }
        match next {
            NIL => self.tail = to,
            next => links.link(next).prev = to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vecs(Vec<Link>);

    impl Links for Vecs {
        fn link(&mut self, index: u32) -> &mut Link {
            &mut self.0[index as usize]
        }
    }

    fn order(list: &List, links: &mut Vecs) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = list.head;
        while at != NIL {
            out.push(at);
            at = links.link(at).next;
        }
        let mut back = Vec::new();
        let mut at = list.tail;
        while at != NIL {
            back.push(at);
            at = links.link(at).prev;
        }
        back.reverse();
        assert_eq!(out, back, "both directions agree");
        out
    }

    #[test]
    fn push_remove_rotate_and_relocate_keep_the_order() {
        let mut links = Vecs(vec![Link::UNLINKED; 8]);
        let mut list = List::default();
        for i in 0..4 {
            list.push_back(&mut links, i);
        }
        assert_eq!(order(&list, &mut links), [0, 1, 2, 3]);
        list.rotate(&mut links);
        assert_eq!(order(&list, &mut links), [1, 2, 3, 0]);
        list.remove(&mut links, 1);
        list.remove(&mut links, 3);
        assert_eq!(order(&list, &mut links), [2, 0]);
        links.0[7] = links.0[2];
        list.relocate(&mut links, 2, 7);
        assert_eq!(order(&list, &mut links), [7, 0]);
        list.remove(&mut links, 0);
        list.rotate(&mut links);
        links.0[5] = links.0[7];
        list.relocate(&mut links, 7, 5);
        assert_eq!(order(&list, &mut links), [5]);
        list.remove(&mut links, 5);
        assert!(list.is_empty());
        assert_eq!(list.tail, NIL);
    }
}
