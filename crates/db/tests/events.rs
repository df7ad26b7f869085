//! Conformance of event persistence, run on SQLite always and on PostgreSQL when
//! `MXCD_TEST_POSTGRES_URL` is set: stream positions, the optimistic-concurrency check,
//! idempotent transaction IDs, derived state, the media index and redactions.

use mxcd_db::{
    Db, ErrorKind, MediaRef, MemberFields, NewEvent, NewRoom, Redaction, RoomField,
    testing::{PgTestDb, postgres_admin_url},
};

fn event(id: &str, room: &str, t: &str, key: Option<&str>, content: &str) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        room_id: room.into(),
        event_type: t.into(),
        state_key: key.map(str::to_owned),
        sender: "@a:x".into(),
        origin_server_ts: 1,
        depth: 1,
        content: content.into(),
        redacts: None,
        txn: None,
        member: None,
        room_fields: Vec::new(),
        media: Vec::new(),
        redaction: None,
    }
}

async fn suite(url: &str) {
    let db = Db::connect(url, None).await.unwrap();
    let room = NewRoom {
        room_id: "!r:x".into(),
        creator: "@a:x".into(),
        room_version: "10".into(),
        is_public: false,
        created_ts: 1,
        federatable: true,
        room_type: None,
    };
    let join = NewEvent {
        member: Some(MemberFields {
            membership: "join".into(),
            displayname: Some("A".into()),
            avatar_url: Some("mxc://x/av".into()),
        }),
        media: vec![MediaRef {
            field: "content.avatar_url",
            origin: "x".into(),
            media_id: "av".into(),
        }],
        ..event(
            "$m",
            "!r:x",
            "m.room.member",
            Some("@a:x"),
            r#"{"membership":"join"}"#,
        )
    };
    let name = NewEvent {
        room_fields: vec![(RoomField::Name, Some("N".into()))],
        ..event("$n", "!r:x", "m.room.name", Some(""), r#"{"name":"N"}"#)
    };
    let pos = db
        .persist_events(
            Some(&room),
            None,
            &[
                event("$c", "!r:x", "m.room.create", Some(""), "{}"),
                join,
                name,
            ],
        )
        .await
        .unwrap();
    assert_eq!(pos.len(), 3);
    assert!(pos.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(db.stream_position().await.unwrap(), pos[2]);
    let r = db.get_room("!r:x").await.unwrap().unwrap();
    assert_eq!(r.last_event_id.as_deref(), Some("$n"));
    assert_eq!(
        (r.name.as_deref(), r.joined_members, r.state_events),
        (Some("N"), 1, 3)
    );
    assert_eq!(db.joined_rooms("@a:x").await.unwrap(), ["!r:x"]);

    // Built on a stale newest event: refused, nothing written.
    let stale = db
        .persist_events(
            None,
            Some("$c"),
            &[event("$x", "!r:x", "m.room.message", None, "{}")],
        )
        .await;
    assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conflict);
    assert!(db.get_event("$x").await.unwrap().is_none());

    // The same transaction ID from the same device: refused the second time.
    let with_txn = |id: &str| NewEvent {
        txn: Some(("DEV".into(), "t1".into())),
        media: vec![MediaRef {
            field: "content.url",
            origin: "x".into(),
            media_id: "img".into(),
        }],
        ..event(
            id,
            "!r:x",
            "m.room.message",
            None,
            r#"{"url":"mxc://x/img"}"#,
        )
    };
    db.persist_events(None, Some("$n"), &[with_txn("$t")])
        .await
        .unwrap();
    assert_eq!(
        db.event_by_txn("@a:x", "DEV", "t1")
            .await
            .unwrap()
            .as_deref(),
        Some("$t")
    );
    let dup = db
        .persist_events(None, Some("$t"), &[with_txn("$t2")])
        .await;
    assert_eq!(dup.unwrap_err().kind(), ErrorKind::Conflict);

    // Replacing state keeps the previous content; redaction prunes and flags the index.
    let rename = NewEvent {
        room_fields: vec![(RoomField::Name, Some("M".into()))],
        ..event("$n2", "!r:x", "m.room.name", Some(""), r#"{"name":"M"}"#)
    };
    db.persist_events(None, Some("$t"), &[rename])
        .await
        .unwrap();
    let e = db.get_event("$n2").await.unwrap().unwrap();
    assert_eq!(
        (e.replaces_state.as_deref(), e.prev_content.as_deref()),
        (Some("$n"), Some(r#"{"name":"N"}"#))
    );
    let redact = |id: &str, target: &str| NewEvent {
        redacts: Some(target.into()),
        redaction: Some(Redaction {
            target: target.into(),
            pruned_content: "{}".into(),
            room_fields: vec![(RoomField::Name, None)],
        }),
        ..event(id, "!r:x", "m.room.redaction", None, "{}")
    };
    // Redacting a replaced name leaves the room's name alone; redacting the current one clears it.
    db.persist_events(
        None,
        Some("$n2"),
        &[redact("$r1", "$n"), redact("$r2", "$t")],
    )
    .await
    .unwrap();
    assert_eq!(
        db.get_room("!r:x").await.unwrap().unwrap().name.as_deref(),
        Some("M")
    );
    db.persist_events(None, Some("$r2"), &[redact("$r3", "$n2")])
        .await
        .unwrap();
    assert_eq!(db.get_room("!r:x").await.unwrap().unwrap().name, None);
    let t = db.get_event("$t").await.unwrap().unwrap();
    assert_eq!(
        (t.content.as_str(), t.redacted_by.as_deref()),
        ("{}", Some("$r2"))
    );
    let index: Vec<(String, bool)> = db
        .room_media("!r:x")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.media_id, m.redacted))
        .collect();
    assert_eq!(index, [("img".to_owned(), true), ("av".to_owned(), false)]);

    // What a sync asks: changes after a position, bounded by the stream.
    let before = db.stream_position().await.unwrap();
    assert!(
        db.joined_rooms_with_events("@a:x", before, before)
            .await
            .unwrap()
            .is_empty()
    );
    let acct = db.put_account_data("@a:x", "", "t", "{}").await.unwrap();
    assert_eq!(acct, before + 1);
    db.persist_events(
        None,
        Some("$r3"),
        &[event("$late", "!r:x", "m.room.message", None, "{}")],
    )
    .await
    .unwrap();
    assert_eq!(
        db.joined_rooms_with_events("@a:x", before, before + 2)
            .await
            .unwrap(),
        ["!r:x"]
    );
    assert!(
        db.joined_rooms_with_events("@b:x", before, before + 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.membership_changes("@a:x", 0, before)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        db.membership_changes("@a:x", pos[1], before)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.account_data_since("@a:x", before, before + 2)
            .await
            .unwrap()
            .len(),
        1
    );
    db.close().await;
}

#[tokio::test]
async fn events_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!(
        "sqlite://{}",
        dir.path().join("mxcd.db").display()
    ))
    .await;
}

#[tokio::test]
async fn events_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: MXCD_TEST_POSTGRES_URL is not set");
        return;
    };
    let pg = PgTestDb::create(&admin).await;
    suite(pg.url()).await;
}
