//! A reproducible random sequence of every kind of write the database takes: uploads (with
//! identical content), async creates and fills, remote caching, quarantines, thumbnails (also of
//! content deleted meanwhile, and repaired ones), deletes by ID, by date and by user through the
//! batch deletions the admin API runs, purges, events with media, state replacement, membership
//! changes and redactions. Shared by the tests that check what must hold after any of them.

use std::collections::BTreeMap;

use mxcd_db::{
    AgeCriteria, Db, MediaRef, MemberFields, NewBlob, NewEvent, NewMedia, NewRoom, NewThumbnail,
    Redaction,
};

pub(crate) const HS: &str = "here.test";
pub(crate) const DAY: i64 = 86_400_000;

/// xorshift64*: reproducible without a dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn blob(n: u64) -> NewBlob {
    NewBlob {
        sha256: format!("{n:064x}"),
        storage_key: format!("key{n}"),
        size: 100 + n as i64 * 7,
    }
}

fn event(id: String, room: &str, t: &str, key: Option<&str>, content: String) -> NewEvent {
    NewEvent {
        event_id: id,
        room_id: room.into(),
        event_type: t.into(),
        state_key: key.map(str::to_owned),
        sender: "@u0:here.test".into(),
        origin_server_ts: 1,
        depth: 1,
        content,
        redacts: None,
        txn: None,
        member: None,
        room_fields: Vec::new(),
        media: Vec::new(),
        redaction: None,
    }
}

pub(crate) struct World {
    pub(crate) db: Db,
    pub(crate) rng: Rng,
    /// `(origin, media_id)` of every media row written so far (some since deleted).
    pub(crate) media: Vec<(String, String)>,
    pending: Vec<String>,
    /// Per room: the newest event, and the events that can still be redacted.
    rooms: BTreeMap<String, (String, Vec<String>)>,
    n: u64,
}

impl World {
    pub(crate) fn new(db: Db, seed: u64) -> Self {
        Self {
            db,
            rng: Rng(seed),
            media: Vec::new(),
            pending: Vec::new(),
            rooms: BTreeMap::new(),
            n: 0,
        }
    }

    fn id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    fn ts(&mut self) -> i64 {
        // Five days, with rows on and next to day boundaries.
        let day = 20_000 + self.rng.below(5) as i64;
        let within = match self.rng.below(4) {
            0 => 0,
            1 => DAY - 1,
            _ => self.rng.below(DAY as u64) as i64,
        };
        day * DAY + within
    }

    pub(crate) async fn step(&mut self) {
        let user = format!("@u{}:{HS}", self.rng.below(6));
        match self.rng.below(17) {
            0..=3 => self.insert(HS, Some(user)).await,
            4 => {
                let id = self.id("p");
                let ts = self.ts();
                self.db
                    .create_pending_media(HS, &id, &user, ts, ts + DAY, true)
                    .await
                    .unwrap();
                self.media.push((HS.into(), id.clone()));
                self.pending.push(id);
            }
            5 if !self.pending.is_empty() => {
                let i = self.rng.below(self.pending.len() as u64) as usize;
                let id = self.pending.swap_remove(i);
                let b = blob(self.rng.below(8));
                // The row may have been deleted meanwhile: then there is nothing to fill.
                let _ = self
                    .db
                    .fill_pending_media(HS, &id, "text/plain", None, &b, 1)
                    .await;
            }
            6 => self.insert("there.test", None).await,
            7 if !self.media.is_empty() => {
                // Delete by ID (local or a remote purge); gone already is fine.
                let i = self.rng.below(self.media.len() as u64) as usize;
                let (o, m) = self.media[i].clone();
                let _ = self.db.delete_media(&o, &m).await;
            }
            8 => self.delete_in_batches(&user).await,
            9 => {
                let q = if self.rng.below(2) == 0 {
                    "'@admin:here.test'"
                } else {
                    "NULL"
                };
                self.db
                    .test_execute(&format!(
                        "UPDATE media SET quarantined_by = {q} WHERE user_id = '{user}'"
                    ))
                    .await;
            }
            14 => self.thumbnails().await,
            15 => self.repair_thumbnail().await,
            _ => self.event().await,
        }
    }

    /// A media row with content: a local upload (`user`) or a remote item cached (none). Few
    /// distinct contents, so identical uploads are common.
    async fn insert(&mut self, origin: &str, user: Option<String>) {
        let id = self.id(if user.is_some() { "m" } else { "r" });
        let m = NewMedia {
            origin: origin.into(),
            media_id: id.clone(),
            user_id: user,
            media_type: "image/png".into(),
            upload_name: None,
            created_ts: self.ts(),
            authenticated: true,
        };
        self.db
            .insert_media(&m, &blob(self.rng.below(8)))
            .await
            .unwrap();
        self.media.push((origin.into(), id));
    }

    /// The admin API's deletions: old local media (any size or larger ones, sparing avatars or
    /// not), a user's media by ID, or the remote cache; batch after batch until a short one.
    async fn delete_in_batches(&mut self, user: &str) {
        let cut = self.ts();
        match self.rng.below(3) {
            0 => {
                let c = AgeCriteria {
                    before_ts: cut,
                    size_gt: [0, 120][self.rng.below(2) as usize],
                    keep_profiles: self.rng.below(2) == 0,
                };
                while self
                    .db
                    .delete_old_media_batch(HS, &c)
                    .await
                    .unwrap()
                    .media
                    .len()
                    == mxcd_db::DELETE_BATCH
                {}
            }
            1 => {
                let ids: Vec<String> = self
                    .db
                    .test_query_pairs(&format!(
                        "SELECT origin, media_id FROM media WHERE origin = '{HS}' \
                         AND user_id = '{user}' AND created_ts < {cut}"
                    ))
                    .await
                    .into_iter()
                    .map(|(_, m)| m)
                    .collect();
                let deleted = self.db.delete_media_ids(HS, &ids).await.unwrap();
                assert_eq!(deleted.media.len(), ids.len());
            }
            _ => {
                while self
                    .db
                    .purge_remote_media_batch(HS, cut)
                    .await
                    .unwrap()
                    .media
                    .len()
                    == mxcd_db::DELETE_BATCH
                {}
            }
        }
    }

    /// Thumbnails of one of the contents, which may be gone (deleted while they were made);
    /// thumbnail bytes are shared between sources now and then.
    async fn thumbnails(&mut self) {
        let source = blob(self.rng.below(8)).sha256;
        let thumbs: Vec<NewThumbnail> = (0..1 + self.rng.below(2))
            .map(|i| NewThumbnail {
                width: 32 << i,
                height: 32 << i,
                method: "scale".into(),
                media_type: "image/png".into(),
                blob: blob(8 + self.rng.below(4)),
            })
            .collect();
        let pregenerated = self.rng.below(2) == 0;
        self.db
            .insert_thumbnails(&source, &thumbs, pregenerated, 1)
            .await
            .unwrap();
    }

    /// Repairs a thumbnail (new bytes, or the same bytes stored again), sometimes after its
    /// source content was deleted since the thumbnail was read.
    async fn repair_thumbnail(&mut self) {
        let source = blob(self.rng.below(8)).sha256;
        let set = self.db.thumbnails(&source).await.unwrap();
        let Some(old) = set.thumbnails.first().cloned() else {
            return;
        };
        if self.rng.below(2) == 0 {
            let rows = self
                .db
                .test_query_pairs(&format!(
                    "SELECT origin, media_id FROM media WHERE sha256 = '{source}'"
                ))
                .await;
            for (o, m) in rows {
                self.db.delete_media(&o, &m).await.unwrap();
            }
        }
        let new = if self.rng.below(2) == 0 {
            blob(8 + self.rng.below(6))
        } else {
            NewBlob {
                storage_key: format!("again{}", self.id("k")),
                ..blob(u64::from_str_radix(&old.sha256[48..], 16).unwrap())
            }
        };
        self.db
            .replace_thumbnail(&source, &old, &new, 1)
            .await
            .unwrap();
    }

    async fn event(&mut self) {
        let room = format!("!room{}:{HS}", self.rng.below(3));
        let new_room = (!self.rooms.contains_key(&room)).then(|| NewRoom {
            room_id: room.clone(),
            creator: "@u0:here.test".into(),
            room_version: "10".into(),
            is_public: false,
            created_ts: 1,
            federatable: true,
            room_type: None,
        });
        let id = self.id("$e");
        let mut ev = match self.rng.below(4) {
            0 => {
                // A member event, replacing state and the membership row.
                let who = format!("@u{}:{HS}", self.rng.below(3));
                let mut e = event(
                    id.clone(),
                    &room,
                    "m.room.member",
                    Some(&who),
                    format!(r#"{{"membership":"join","n":{}}}"#, self.n),
                );
                e.member = Some(MemberFields {
                    membership: "join".into(),
                    displayname: Some("x".repeat(self.rng.below(20) as usize)),
                    avatar_url: None,
                });
                e
            }
            1 if !self.rooms.get(&room).is_none_or(|r| r.1.is_empty()) => {
                let targets = &mut self.rooms.get_mut(&room).unwrap().1;
                let i = self.rng.below(targets.len() as u64) as usize;
                let target = targets.swap_remove(i);
                let mut e = event(id.clone(), &room, "m.room.redaction", None, "{}".into());
                e.redacts = Some(target.clone());
                e.redaction = Some(Redaction {
                    target,
                    pruned_content: "{}".into(),
                    room_fields: Vec::new(),
                });
                e
            }
            _ => {
                // An image: a local or remote URL, sometimes one already referenced.
                let (origin, media_id) = match self.media.len() {
                    0 => (HS.to_owned(), "none".to_owned()),
                    n => self.media[self.rng.below(n as u64) as usize].clone(),
                };
                let mut e = event(
                    id.clone(),
                    &room,
                    "m.room.message",
                    None,
                    format!(r#"{{"msgtype":"m.image","url":"mxc://{origin}/{media_id}"}}"#),
                );
                e.media = vec![MediaRef {
                    field: "content.url",
                    origin,
                    media_id,
                }];
                e
            }
        };
        if new_room.is_some() {
            ev = NewEvent {
                ..event(id.clone(), &room, "m.room.create", Some(""), "{}".into())
            };
        }
        let last = self.rooms.get(&room).map(|r| r.0.clone());
        self.db
            .persist_events(new_room.as_ref(), last.as_deref(), &[ev])
            .await
            .unwrap();
        let entry = self
            .rooms
            .entry(room)
            .or_insert_with(|| (String::new(), Vec::new()));
        entry.0 = id.clone();
        entry.1.push(id);
    }
}
