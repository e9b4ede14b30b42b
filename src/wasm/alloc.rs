//! The browser build's allocator: free lists per size class for small blocks, the system
//! allocator (dlmalloc) for the rest.
//!
//! Why: parsing an email makes hundreds of small, short-lived allocations (header values,
//! addresses, names, the record's strings), and dlmalloc's bookkeeping for each (bins, chunk
//! headers, coalescing on free) was about a tenth of `processRaw`'s time in WebAssembly, where
//! natively glibc's thread cache makes the same calls nearly free. A small block here is one
//! pointer pop or push. Small blocks are carved from 4 KiB slabs taken from dlmalloc and never
//! returned to it: the memory held is the peak of small blocks in use, which for an engine that
//! lives as long as its service worker is what it would reach again anyway. (WebAssembly
//! memory never shrinks either.)
//!
//! Single-threaded by construction: `wasm32-unknown-unknown` without the atomics feature has
//! one thread, which is also what `Sync` below relies on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Blocks of up to this many bytes come from the free lists.
const SMALL_MAX: usize = 256;
/// Size classes are multiples of this (also every small block's alignment).
const GRANULE: usize = 16;
const CLASSES: usize = SMALL_MAX / GRANULE;
const SLAB: usize = 4096;

pub struct SizeClasses {
    /// Head of each class's free list; a free block's first word points to the next one.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: the browser build has exactly one thread (see the module comment).
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> Self {
        SizeClasses {
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }

    /// The class of a layout that fits one, else `None`.
    fn class(layout: &Layout) -> Option<usize> {
        (layout.size() <= SMALL_MAX && layout.align() <= GRANULE)
            .then(|| layout.size().max(1).div_ceil(GRANULE) - 1)
    }

    /// Takes a slab from the system allocator, keeps one block and frees the others into the
    /// class's list.
    unsafe fn refill(&self, class: usize) -> *mut u8 {
        let size = (class + 1) * GRANULE;
        // SAFETY: SLAB and GRANULE are valid, non-zero, power-of-two sizes.
        let slab = System.alloc(Layout::from_size_align_unchecked(SLAB, GRANULE));
        if slab.is_null() {
            return slab;
        }
        let free = &mut *self.free.get();
        let blocks = SLAB / size;
        for i in 1..blocks {
            let block = slab.add(i * size);
            block.cast::<*mut u8>().write(free[class]);
            free[class] = block;
        }
        slab
    }
}

// Not inlined: at every allocation site in the crates built for speed, the inlined fast path
// cost ~80 KB raw (20 KB gzipped) for no measurable gain over one call.
unsafe impl GlobalAlloc for SizeClasses {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = Self::class(&layout) else {
            return System.alloc(layout);
        };
        let free = &mut *self.free.get();
        let block = free[class];
        if block.is_null() {
            return self.refill(class);
        }
        free[class] = block.cast::<*mut u8>().read();
        block
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = Self::class(&layout) else {
            return System.dealloc(block, layout);
        };
        let free = &mut *self.free.get();
        block.cast::<*mut u8>().write(free[class]);
        free[class] = block;
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (Self::class(&layout), Self::class(&new_layout)) {
            // Both large: dlmalloc may grow in place.
            (None, None) => System.realloc(block, layout, new_size),
            // Same class: the block already has room.
            (Some(a), Some(b)) if a == b => block,
            _ => {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                    self.dealloc(block, layout);
                }
                new
            }
        }
    }
}
