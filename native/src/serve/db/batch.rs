//! What both record writers (SQLite's synchronous one in `sqlite_writer.rs`, the sqlx one in
//! `backend.rs` for PostgreSQL) decide without asking the database: repeats inside a batch,
//! thread keys, which contacts to create, and the outcomes in the batch's order. Only the SQL
//! differs between the two writers.

use super::{Contact, InsertOutcome, NewContactRef, NewRecord, StoredRecord};
use std::collections::HashMap;

/// For each record, the index of its first occurrence in the batch: a repeat (same key, or
/// same Message-ID in the same mailbox) takes the outcome of its first occurrence.
pub(super) fn first_occurrences(recs: &[&NewRecord]) -> Vec<usize> {
    let mut first_of: Vec<usize> = Vec::with_capacity(recs.len());
    let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(recs.len());
    let mut by_mid: HashMap<(&str, &str), usize> = HashMap::with_capacity(recs.len());
    for (i, r) in recs.iter().enumerate() {
        let mid_hit = r
            .message_id
            .as_deref()
            .and_then(|m| by_mid.get(&(r.mailbox.as_str(), m)).copied());
        let first = by_key
            .get(r.idempotency_key.as_str())
            .copied()
            .or(mid_hit)
            .unwrap_or(i);
        first_of.push(first);
        if first == i {
            by_key.insert(&r.idempotency_key, i);
            if let Some(m) = r.message_id.as_deref() {
                by_mid.insert((r.mailbox.as_str(), m), i);
            }
        }
    }
    first_of
}

/// The Message-IDs the candidates refer to and the thread ids they carry, each once.
pub(super) fn thread_lookups<'a>(
    recs: &[&'a NewRecord],
    candidates: &[usize],
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut refs: Vec<&str> = Vec::new();
    let mut thread_ids: Vec<&str> = Vec::new();
    for &i in candidates {
        refs.extend(recs[i].thread_refs.iter().map(String::as_str));
        if let Some(t) = recs[i].thread_id.as_deref() {
            thread_ids.push(t);
        }
    }
    refs.sort_unstable();
    refs.dedup();
    thread_ids.sort_unstable();
    thread_ids.dedup();
    (refs, thread_ids)
}

/// Stored messages the batch refers to, earliest first, and then the batch's own.
#[derive(Default)]
pub(super) struct ThreadIndex {
    by_message: HashMap<String, (i64, String)>,
    by_thread_id: HashMap<(String, String), (i64, String)>,
}

impl ThreadIndex {
    /// A stored message: keeps the earliest one per Message-ID.
    pub fn add_message(&mut self, message_id: String, sent_at: i64, thread_key: String) {
        match self.by_message.get(&message_id) {
            Some((t, _)) if *t <= sent_at => {}
            _ => {
                self.by_message.insert(message_id, (sent_at, thread_key));
            }
        }
    }

    /// A stored record with a client thread id: keeps the earliest one per mailbox and id.
    pub fn add_thread(
        &mut self,
        mailbox: String,
        thread_id: String,
        sent_at: i64,
        thread_key: String,
    ) {
        let k = (mailbox, thread_id);
        match self.by_thread_id.get(&k) {
            Some((t, _)) if *t <= sent_at => {}
            _ => {
                self.by_thread_id.insert(k, (sent_at, thread_key));
            }
        }
    }

    /// The thread key of each candidate: the earliest stored message it refers to, else a
    /// stored record with the same client thread id, else its own default. Later records of
    /// the batch find earlier ones like stored ones.
    pub fn resolve(mut self, recs: &[&NewRecord], candidates: &[usize]) -> HashMap<usize, String> {
        let mut thread_keys: HashMap<usize, String> = HashMap::with_capacity(candidates.len());
        for &i in candidates {
            let r = recs[i];
            let found = r
                .thread_refs
                .iter()
                .filter_map(|m| self.by_message.get(m))
                .min_by_key(|(at, _)| *at)
                .map(|(_, k)| k.clone())
                .or_else(|| {
                    let t = r.thread_id.as_ref()?;
                    self.by_thread_id
                        .get(&(r.mailbox.clone(), t.clone()))
                        .map(|(_, k)| k.clone())
                });
            let key = found.unwrap_or_else(|| r.default_thread_key.clone());
            if let Some(m) = &r.message_id {
                self.by_message
                    .entry(m.clone())
                    .or_insert((r.sent_at, key.clone()));
            }
            if let Some(t) = &r.thread_id {
                self.by_thread_id
                    .entry((r.mailbox.clone(), t.clone()))
                    .or_insert((r.sent_at, key.clone()));
            }
            thread_keys.insert(i, key);
        }
        thread_keys
    }
}

/// Contacts the inserted records ask to create (one per address, the first with a name
/// winning), and every address they name, sorted, each once.
pub(super) fn contacts_of<'a>(
    recs: &[&'a NewRecord],
    new_recs: &[(usize, i64)],
) -> (Vec<&'a NewContactRef>, Vec<&'a str>) {
    let mut to_create: Vec<&NewContactRef> = Vec::new();
    let mut create_at: HashMap<&str, usize> = HashMap::new();
    let mut addresses: Vec<&str> = Vec::new();
    for &(i, _) in new_recs {
        for c in &recs[i].contacts {
            addresses.push(&c.address);
            if c.create {
                match create_at.get(c.address.as_str()) {
                    Some(&at) => {
                        if to_create[at].name.is_none() && c.name.is_some() {
                            to_create[at] = c;
                        }
                    }
                    None => {
                        create_at.insert(&c.address, to_create.len());
                        to_create.push(c);
                    }
                }
            }
        }
    }
    addresses.sort_unstable();
    addresses.dedup();
    (to_create, addresses)
}

/// A record's contacts as stored, sorted by address.
pub(super) fn record_contacts(
    r: &NewRecord,
    by_address: &HashMap<String, Contact>,
) -> Vec<Contact> {
    let mut list: Vec<Contact> = r
        .contacts
        .iter()
        .filter_map(|c| by_address.get(&c.address).cloned())
        .collect();
    list.sort_by(|a, b| a.address.cmp(&b.address));
    list
}

/// The outcomes of the inserted records (`new_recs`: batch index and id) at their places in the
/// batch; the other places are left for the writer to fill with the stored records they repeat.
pub(super) fn created(
    recs: &[&NewRecord],
    new_recs: &[(usize, i64)],
    mut thread_keys: HashMap<usize, String>,
    mut contacts: HashMap<usize, Vec<Contact>>,
) -> Vec<Option<InsertOutcome>> {
    let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; recs.len()];
    for &(i, id) in new_recs {
        let r = recs[i];
        outcomes[i] = Some(InsertOutcome {
            duplicate: false,
            record: StoredRecord {
                id,
                idempotency_key: r.idempotency_key.clone(),
                thread_key: thread_keys.remove(&i).unwrap_or_default(),
                received_at: r.received_at,
                body: r.body.clone(),
                contacts: contacts.remove(&i).unwrap_or_default(),
            },
        });
    }
    outcomes
}

/// Every record's outcome in the batch's order: repeats inside the batch take their first
/// occurrence's, marked duplicate. `None` if one is missing (a writer's bug, not input's).
pub(super) fn in_batch_order(
    first_of: &[usize],
    mut outcomes: Vec<Option<InsertOutcome>>,
) -> Option<Vec<InsertOutcome>> {
    let mut repeats: Vec<Option<InsertOutcome>> = Vec::with_capacity(first_of.len());
    for (i, &first) in first_of.iter().enumerate() {
        repeats.push(if first == i {
            None
        } else {
            let mut o = outcomes.get(first)?.clone()?;
            o.duplicate = true;
            Some(o)
        });
    }
    let mut out = Vec::with_capacity(first_of.len());
    for (i, repeat) in repeats.into_iter().enumerate() {
        out.push(match repeat {
            Some(o) => o,
            None => outcomes.get_mut(i)?.take()?,
        });
    }
    Some(out)
}
