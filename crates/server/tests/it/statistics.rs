//! Statistics over HTTP: `/_synapse/admin/v1/statistics/users/media` line by line of reference
//! Part 5 (the rooms and totals endpoints are in `statistics_rooms.rs`). Bulk rows are written
//! through the db layer; what is counted for real uploads (pending, quarantined, protected,
//! remote) goes through HTTP.

use mxcd_db::{Db, NewBlob, NewMedia, NewUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    harness::{Backend, SERVER_NAME, TestServer, uid},
    media::upload,
};

crate::backend_tests!(
    admin_only,
    users_media_validation,
    users_media_pagination,
    users_media_order,
    users_media_time_window,
    users_media_search,
    users_media_counts_what_synapse_counts,
);

pub(crate) const USERS_MEDIA: &str = "/_synapse/admin/v1/statistics/users/media";
pub(crate) const ROOMS: &str = "/_synapse/admin/v1/statistics/database/rooms";
pub(crate) const ROOMS_MEDIA: &str = "/_mxcd/admin/v1/statistics/rooms/media";
pub(crate) const TOTALS: &str = "/_mxcd/admin/v1/statistics/media";

/// Users (with display names) and media rows of 67 bytes, written directly.
struct Seed {
    db: Db,
    n: u32,
}

impl Seed {
    async fn new(s: &TestServer) -> Self {
        Self {
            db: Db::connect(&s.database_url(), None).await.unwrap(),
            n: 0,
        }
    }

    async fn user(&self, localpart: &str, displayname: Option<&str>) -> String {
        let user_id = uid(localpart);
        self.db
            .create_user(&NewUser {
                user_id: user_id.clone(),
                password_hash: None,
                admin: false,
                user_type: None,
                displayname: displayname.map(str::to_owned),
                created_ts: 1,
            })
            .await
            .unwrap();
        user_id
    }

    async fn media(&mut self, user_id: &str, created_ts: i64) {
        self.n += 1;
        let n = self.n;
        let m = NewMedia {
            origin: SERVER_NAME.into(),
            media_id: format!("seeded{n}"),
            user_id: Some(user_id.to_owned()),
            media_type: "image/png".into(),
            upload_name: None,
            created_ts,
            authenticated: true,
        };
        let blob = NewBlob {
            sha256: format!("{n:064x}"),
            storage_key: format!("seeded{n}"),
            size: 67,
        };
        self.db.insert_media(&m, &blob).await.unwrap();
    }
}

fn user_ids(body: &Value) -> Vec<&str> {
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect()
}

/// Reference §0.2 and Part 5's auth lines, on every statistics endpoint.
async fn admin_only(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, user) = s.register("plain", "pw", false).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (_, guest) = s.register("visitor", "pw", false).await;
    s.sql("UPDATE users SET is_guest = TRUE WHERE user_id = '@visitor:test.local'")
        .await;
    for path in [USERS_MEDIA, ROOMS, ROOMS_MEDIA, TOTALS] {
        s.get(path, None).await.err(401, "M_MISSING_TOKEN");
        let r = s.get(path, Some("mxcd_not_a_token")).await;
        r.err(401, "M_UNKNOWN_TOKEN");
        assert_eq!(r.body["soft_logout"], false);
        let r = s.get(path, Some(&user)).await;
        assert_eq!(r.err(403, "M_FORBIDDEN"), "You are not a server admin");
        s.get(path, Some(&guest))
            .await
            .err(403, "M_GUEST_ACCESS_FORBIDDEN");
        // Authorisation comes before validation.
        let bad = format!("{path}?order_by=bar&from=-5");
        s.get(&bad, Some(&user)).await.err(403, "M_FORBIDDEN");
        s.get(path, Some(&admin)).await.ok();
        let r = s.req(Method::POST, path, Some(&admin), None).await;
        r.err(405, "M_UNRECOGNIZED");
    }
}

async fn users_media_validation(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let cases: &[(&str, &str)] = &[
        (
            "order_by=bar",
            "Query parameter 'order_by' must be one of ['media_length', 'media_count', 'user_id', 'displayname']",
        ),
        (
            "from=-5",
            "Query parameter from must be a positive integer.",
        ),
        (
            "limit=-5",
            "Query parameter limit must be a positive integer.",
        ),
        (
            "from_ts=-1234",
            "Query parameter from_ts must be a positive integer.",
        ),
        (
            "until_ts=-1234",
            "Query parameter until_ts must be a positive integer.",
        ),
        (
            "from_ts=10&until_ts=5",
            "Query parameter until_ts must be greater than from_ts.",
        ),
        (
            "from_ts=10&until_ts=10",
            "Query parameter until_ts must be greater than from_ts.",
        ),
        (
            "until_ts=0",
            "Query parameter until_ts must be greater than from_ts.",
        ),
        (
            "search_term=",
            "Query parameter search_term cannot be an empty string.",
        ),
        ("dir=bar", "Query parameter 'dir' must be one of ['b', 'f']"),
        ("limit=abc", "Query parameter limit must be an integer"),
        // Beyond 64 bits: a 400, never a 500.
        (
            "from=99999999999999999999999",
            "Query parameter from must be an integer",
        ),
        // Validation order: order_by before from.
        (
            "from=-5&order_by=bar",
            "Query parameter 'order_by' must be one of ['media_length', 'media_count', 'user_id', 'displayname']",
        ),
    ];
    for (q, msg) in cases {
        let r = s.get(&format!("{USERS_MEDIA}?{q}"), Some(&admin)).await;
        assert_eq!(r.err(400, "M_INVALID_PARAM"), *msg, "{q}");
    }
    let r = s
        .get(&format!("{USERS_MEDIA}?search_term=%C3%A9"), Some(&admin))
        .await;
    assert_eq!(
        r.err(400, "M_UNKNOWN"),
        "Query parameter 'search_term' must be ascii"
    );
    // No media anywhere.
    let r = s.get(USERS_MEDIA, Some(&admin)).await;
    assert_eq!(*r.ok(), json!({"users": [], "total": 0}));
}

async fn users_media_pagination(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut seed = Seed::new(&s).await;
    for i in 0..20 {
        let u = seed.user(&format!("user{i:02}"), None).await;
        seed.media(&u, 1_000).await;
        if i < 10 {
            seed.media(&u, 1_000).await;
        }
    }
    let page = |q: &'static str| {
        let s = &s;
        let admin = &admin;
        async move { s.get(&format!("{USERS_MEDIA}?{q}"), Some(admin)).await }
    };
    // (query, users returned, next_token)
    let cases: &[(&str, usize, Option<i64>)] = &[
        ("limit=5", 5, Some(5)),
        ("from=5", 15, None),
        ("from=5&limit=10", 10, Some(15)),
        ("limit=20", 20, None),
        ("limit=21", 20, None),
        ("limit=19", 19, Some(19)),
        ("from=19", 1, None),
        ("from=25", 0, None),
        // An empty page never says "more from here" (Synapse's would loop).
        ("limit=0", 0, None),
    ];
    for (q, n, next) in cases {
        let r = page(q).await;
        let body = r.ok();
        assert_eq!(body["total"], 20, "{q}");
        assert_eq!(body["users"].as_array().unwrap().len(), *n, "{q}");
        assert_eq!(body.get("next_token").and_then(Value::as_i64), *next, "{q}");
    }
    let body = page("limit=1").await.ok().clone();
    let first = &body["users"][0];
    assert_eq!(
        *first,
        json!({"user_id": uid("user00"), "displayname": null, "media_count": 2, "media_length": 134})
    );
}

/// Part 5's ordering lines (Synapse's `test_order_by`), plus the tie-breaker.
async fn users_media_order(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut seed = Seed::new(&s).await;
    let a = seed.user("user_a", Some("UserZ")).await;
    let bb = seed.user("user_b", Some("UserY")).await;
    let c = seed.user("user_c", Some("UserX")).await;
    for (u, n) in [(&a, 1), (&bb, 3), (&c, 2)] {
        for _ in 0..n {
            seed.media(u, 1_000).await;
        }
    }
    let order = |q: String| {
        let s = &s;
        let admin = &admin;
        async move {
            let r = s.get(&format!("{USERS_MEDIA}?{q}"), Some(admin)).await;
            user_ids(r.ok())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    let (abc, cba) = (
        vec![a.clone(), bb.clone(), c.clone()],
        vec![c.clone(), bb.clone(), a.clone()],
    );
    let acb = vec![a.clone(), c.clone(), bb.clone()];
    let bca = vec![bb.clone(), c.clone(), a.clone()];
    assert_eq!(order(String::new()).await, abc);
    for (key, f, b_) in [
        ("user_id", &abc, &cba),
        ("displayname", &cba, &abc),
        ("media_length", &acb, &bca),
        ("media_count", &acb, &bca),
    ] {
        assert_eq!(order(format!("order_by={key}")).await, *f, "{key}");
        assert_eq!(order(format!("order_by={key}&dir=f")).await, *f, "{key}");
        assert_eq!(order(format!("order_by={key}&dir=b")).await, *b_, "{key}");
    }
    // Ties are broken by user ID ascending, in both directions.
    let d = seed.user("user_d", Some("UserW")).await;
    seed.media(&d, 1_000).await;
    assert_eq!(
        order("order_by=media_count&dir=b".into()).await,
        vec![bb.clone(), c.clone(), a.clone(), d.clone()]
    );
    assert_eq!(
        order("order_by=media_count".into()).await,
        vec![a.clone(), d.clone(), c.clone(), bb.clone()]
    );
    // No display name: last ascending, first descending, on both backends.
    let e = seed.user("user_e", None).await;
    seed.media(&e, 1_000).await;
    let asc = order("order_by=displayname".into()).await;
    assert_eq!(asc.last(), Some(&e));
    let desc = order("order_by=displayname&dir=b".into()).await;
    assert_eq!(desc.first(), Some(&e));
}

/// Bounds on `created_ts`: inclusive, to the millisecond, across day boundaries.
async fn users_media_time_window(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut seed = Seed::new(&s).await;
    let u = seed.user("user", None).await;
    const DAY: i64 = 86_400_000;
    let (t1, t2, t3) = (
        1_700_000_000_000,
        1_700_000_000_000 + 3 * DAY + 5,
        1_700_000_000_000 + 9 * DAY,
    );
    for t in [t1, t2, t3] {
        for k in 0..3 {
            seed.media(&u, t + k).await;
        }
    }
    let count = |q: String| {
        let s = &s;
        let admin = &admin;
        async move {
            let r = s.get(&format!("{USERS_MEDIA}?{q}"), Some(admin)).await;
            let body = r.ok();
            match body["users"].as_array().unwrap().first() {
                Some(u) => u["media_count"].as_i64().unwrap(),
                None => 0,
            }
        }
    };
    assert_eq!(count(format!("from_ts={}", t3 + 3)).await, 0);
    assert_eq!(
        count(format!("from_ts={}&until_ts={}", t1 + 3, t3 - 1)).await,
        3
    );
    assert_eq!(count(format!("until_ts={}", t2 + 2)).await, 6);
    // Exact edges, inside one day and across several.
    assert_eq!(
        count(format!("from_ts={}&until_ts={}", t2 + 1, t2 + 2)).await,
        2
    );
    assert_eq!(
        count(format!("from_ts={}&until_ts={}", t1 + 2, t3)).await,
        5
    );
    assert_eq!(count(format!("from_ts={}", t1 + 1)).await, 8);
    // from_ts=0 is no bound at all.
    assert_eq!(count("from_ts=0".into()).await, 9);
}

async fn users_media_search(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut seed = Seed::new(&s).await;
    for i in 0..20 {
        let u = seed
            .user(&format!("foo_user_{i}"), Some(&format!("bar_user_{i}")))
            .await;
        seed.media(&u, 1_000).await;
    }
    let search = |term: &'static str| {
        let s = &s;
        let admin = &admin;
        async move {
            let r = s
                .get(&format!("{USERS_MEDIA}?search_term={term}"), Some(admin))
                .await;
            r.ok().clone()
        }
    };
    assert_eq!(search("foo_user_1").await["total"], 11);
    let one = search("bar_user_10").await;
    assert_eq!(one["total"], 1);
    assert_eq!(one["users"][0]["displayname"], "bar_user_10");
    assert_eq!(search("foobar").await["total"], 0);
    // Case-insensitive on both backends, and wildcards are literal characters.
    assert_eq!(search("FOO_USER_1").await["total"], 11);
    assert_eq!(search("foo%25user").await["total"], 0);
    assert_eq!(search("foo_user_1_").await["total"], 0);
    // The server name is not searched.
    assert_eq!(search("test.local").await["total"], 0);
}

/// Pending, quarantined and protected media count; remote media and users without media do not.
async fn users_media_counts_what_synapse_counts(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let (alice, at) = s.register("alice", "pw", false).await;
    s.register("idle", "pw", false).await;
    let q = upload(&s, &at, b"quarantined!", "text/plain", "").await;
    let p = upload(&s, &at, b"protected", "text/plain", "").await;
    s.post("/_matrix/media/v1/create", Some(&at), json!({}))
        .await
        .ok();
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    db.test_execute(&format!(
        "UPDATE media SET quarantined_by = '@root:test.local' WHERE media_id = '{q}'"
    ))
    .await;
    db.test_execute(&format!(
        "UPDATE media SET safe_from_quarantine = TRUE WHERE media_id = '{p}'"
    ))
    .await;
    s.sql(
        "INSERT INTO media (origin, media_id, media_type, media_length, created_ts, last_access_ts) \
         VALUES ('remote.example', 'cached', 'image/png', 1000, 1000, 1000)",
    )
    .await;
    let r = s.get(USERS_MEDIA, Some(&admin)).await;
    assert_eq!(
        *r.ok(),
        json!({"users": [{"user_id": alice, "displayname": "alice", "media_count": 3, "media_length": 21}], "total": 1})
    );
    // Only a pending upload: a count and a null length, as Synapse's SUM.
    let (_, bt) = s.register("bob", "pw", false).await;
    s.post("/_matrix/media/v1/create", Some(&bt), json!({}))
        .await
        .ok();
    let r = s
        .get(&format!("{USERS_MEDIA}?search_term=bob"), Some(&admin))
        .await;
    assert_eq!(r.ok()["users"][0]["media_count"], 1);
    assert_eq!(r.ok()["users"][0]["media_length"], Value::Null);
}
