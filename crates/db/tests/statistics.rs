//! The statistics aggregates (kept by triggers) against a brute-force recomputation from the rows
//! they summarise, after random sequences of every kind of write: uploads (with identical
//! content), async creates and fills, remote caching, quarantines, deletes by ID, by date and by
//! user, purges, events with media, state replacement, membership changes and redactions.
//! On SQLite always and on PostgreSQL when `MXCD_TEST_POSTGRES_URL` is set.

use std::collections::{BTreeMap, BTreeSet};

use mxcd_db::{
    Db, MediaRef, MemberFields, NewBlob, NewEvent, NewMedia, NewRoom, NewUser, Redaction,
    RoomMediaOrder, UserMediaQuery, UserUsageOrder,
    testing::{PgTestDb, postgres_admin_url},
};

const HS: &str = "here.test";
const DAY: i64 = 86_400_000;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
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

struct World {
    db: Db,
    rng: Rng,
    /// `(origin, media_id)` of every media row written so far (some since deleted).
    media: Vec<(String, String)>,
    pending: Vec<String>,
    /// Per room: the newest event, and the events that can still be redacted.
    rooms: BTreeMap<String, (String, Vec<String>)>,
    n: u64,
}

impl World {
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

    async fn step(&mut self) {
        let user = format!("@u{}:{HS}", self.rng.below(6));
        match self.rng.below(14) {
            0..=3 => {
                let id = self.id("m");
                let m = NewMedia {
                    origin: HS.into(),
                    media_id: id.clone(),
                    user_id: Some(user),
                    media_type: "image/png".into(),
                    upload_name: None,
                    created_ts: self.ts(),
                    authenticated: true,
                };
                // Few distinct contents: identical uploads are common.
                self.db
                    .insert_media(&m, &blob(self.rng.below(8)))
                    .await
                    .unwrap();
                self.media.push((HS.into(), id));
            }
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
            6 => {
                let id = self.id("r");
                let m = NewMedia {
                    origin: "there.test".into(),
                    media_id: id.clone(),
                    user_id: None,
                    media_type: "image/png".into(),
                    upload_name: None,
                    created_ts: self.ts(),
                    authenticated: true,
                };
                self.db
                    .insert_media(&m, &blob(self.rng.below(8)))
                    .await
                    .unwrap();
                self.media.push(("there.test".into(), id));
            }
            7 if !self.media.is_empty() => {
                // Delete by ID (local or a remote purge); gone already is fine.
                let i = self.rng.below(self.media.len() as u64) as usize;
                let (o, m) = self.media[i].clone();
                let _ = self.db.delete_media(&o, &m).await;
            }
            8 => {
                // Delete by date / by user, as the admin API selects them.
                let cut = self.ts();
                let victims = self
                    .db
                    .test_query_pairs(&format!(
                        "SELECT origin, media_id FROM media WHERE created_ts < {cut} \
                         AND (user_id = '{user}' OR 1 = {})",
                        self.rng.below(2)
                    ))
                    .await;
                for (o, m) in victims {
                    self.db.delete_media(&o, &m).await.unwrap();
                }
            }
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
            _ => self.event().await,
        }
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

/// Per user, over `[from, until]`: (count, summed known lengths, whether any length is known).
async fn brute_users(
    db: &Db,
    from: Option<i64>,
    until: Option<i64>,
) -> Vec<(String, i64, Option<i64>)> {
    let rows = db
        .test_query_triples(
            "SELECT user_id, created_ts, media_length FROM media WHERE user_id IS NOT NULL",
        )
        .await;
    let mut by: BTreeMap<String, (i64, i64, bool)> = BTreeMap::new();
    for (u, ts, len) in rows {
        if from.is_some_and(|f| ts < f) || until.is_some_and(|t| ts > t) {
            continue;
        }
        let e = by.entry(u).or_default();
        e.0 += 1;
        if let Some(l) = len {
            e.1 += l;
            e.2 = true;
        }
    }
    by.into_iter()
        .map(|(u, (c, l, known))| (u, c, known.then_some(l)))
        .collect()
}

async fn check(w: &mut World) {
    let db = &w.db;
    for _ in 0..12 {
        let from = match w.rng.below(3) {
            0 => None,
            _ => Some(20_000 * DAY + w.rng.below(6 * DAY as u64) as i64 - DAY / 2),
        };
        let until = match w.rng.below(3) {
            0 => None,
            _ => Some(from.unwrap_or(20_000 * DAY) + w.rng.below(4 * DAY as u64) as i64 + 1),
        };
        let q = UserMediaQuery {
            order: UserUsageOrder::UserId,
            descending: false,
            from: 0,
            limit: 1000,
            from_ts: from,
            until_ts: until,
            search: None,
        };
        let (rows, total) = db.user_media_usage(&q).await.unwrap();
        let got: Vec<_> = rows
            .into_iter()
            .map(|r| (r.user_id, r.media_count, r.media_length))
            .collect();
        let want = brute_users(db, from, until).await;
        assert_eq!(got, want, "window {from:?}..={until:?}");
        assert_eq!(total, want.len() as i64);
    }

    // Room sizes: the same definition, recomputed from scratch.
    let want: BTreeMap<String, i64> = db
        .test_room_sizes_from_scratch()
        .await
        .into_iter()
        .collect();
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    for r in db.largest_rooms(1000).await.unwrap() {
        got.insert(r.room_id, r.bytes);
    }
    assert_eq!(got, want);

    // Rooms' media: distinct references of unredacted events, joined to the media rows.
    let refs = db
        .test_query_pairs(
            "SELECT room_id, origin || '/' || media_id FROM room_media WHERE NOT redacted",
        )
        .await;
    let lengths: BTreeMap<String, Option<i64>> = db
        .test_query_triples(
            "SELECT origin || '/' || media_id, CAST(0 AS BIGINT), media_length FROM media",
        )
        .await
        .into_iter()
        .map(|(k, _, l)| (k, l))
        .collect();
    let mut want: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for (room, key) in refs.into_iter().collect::<BTreeSet<_>>() {
        let Some(len) = lengths.get(&key) else {
            continue;
        };
        let e = want.entry(room).or_default();
        let local = key.starts_with(&format!("{HS}/"));
        let i = if local { 0 } else { 2 };
        e[i] += 1;
        e[i + 1] += len.unwrap_or(0);
    }
    let (rows, total) = db
        .room_media_usage(HS, RoomMediaOrder::RoomId, false, 0, 1000)
        .await
        .unwrap();
    assert_eq!(total, want.len() as i64);
    let got: BTreeMap<String, [i64; 4]> = rows
        .into_iter()
        .map(|r| {
            assert_eq!(r.media_count, r.local_media_count + r.remote_media_count);
            assert_eq!(r.media_length, r.local_media_length + r.remote_media_length);
            (
                r.room_id,
                [
                    r.local_media_count,
                    r.local_media_length,
                    r.remote_media_count,
                    r.remote_media_length,
                ],
            )
        })
        .collect();
    assert_eq!(got, want);

    // Totals: local and remote rows, physical bytes once per distinct blob.
    let t = db.media_totals(HS).await.unwrap();
    let all = db
        .test_query_triples("SELECT origin, CAST(0 AS BIGINT), media_length FROM media")
        .await;
    let local: Vec<_> = all.iter().filter(|r| r.0 == HS).collect();
    assert_eq!(t.local.count, local.len() as i64);
    assert_eq!(
        t.local.bytes,
        local.iter().map(|r| r.2.unwrap_or(0)).sum::<i64>()
    );
    assert_eq!(t.remote.count, (all.len() - local.len()) as i64);
    let blobs = db
        .test_query_triples("SELECT sha256, CAST(0 AS BIGINT), size FROM blobs")
        .await;
    assert_eq!(t.blobs.count, blobs.len() as i64);
    assert_eq!(
        t.blobs.bytes,
        blobs.iter().map(|b| b.2.unwrap()).sum::<i64>()
    );
}

async fn suite(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    for u in 0..6 {
        db.create_user(&NewUser {
            user_id: format!("@u{u}:{HS}"),
            password_hash: None,
            admin: false,
            user_type: None,
            displayname: Some(format!("User {u}")),
            created_ts: 1,
        })
        .await
        .unwrap();
    }
    let mut w = World {
        db,
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        media: Vec::new(),
        pending: Vec::new(),
        rooms: BTreeMap::new(),
        n: 0,
    };
    for round in 0..6 {
        for _ in 0..60 {
            w.step().await;
        }
        check(&mut w).await;
        eprintln!("round {round}: consistent");
    }
    w.db.close().await;
}

#[tokio::test]
async fn aggregates_match_recomputation_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!("sqlite://{}/db.sqlite", dir.path().display())).await;
}

#[tokio::test]
async fn aggregates_match_recomputation_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let pg = PgTestDb::create(&admin).await;
    suite(pg.url()).await;
}
