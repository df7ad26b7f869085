//! The statistics against a brute-force recomputation from the media rows, after a random
//! sequence of everything that changes media through the real endpoints: uploads (identical
//! bytes included), async creates and their uploads, quarantines by ID and by user, protection,
//! deletes by ID, by date and by user, and purges of the remote cache.

use std::collections::BTreeMap;

use mxcd_db::Db;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    harness::{Backend, SERVER_NAME, TestServer, enc},
    media::upload,
};

crate::backend_tests!(statistics_follow_every_change);

const CONTENTS: [&[u8]; 4] = [b"alpha", b"bravo bytes", b"charlie's content", b"d"];

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn statistics_follow_every_change(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let mut users = Vec::new();
    for name in ["ann", "ben", "cat"] {
        users.push(s.register(name, "pw", false).await);
    }
    let db = Db::connect(&s.database_url(), None).await.unwrap();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut media: Vec<String> = Vec::new();
    let mut remote = 0;
    let admin_post = |path: String| {
        let s = &s;
        let admin = &admin;
        async move {
            let r = s.req(Method::POST, &path, Some(admin), None).await;
            // Media deleted earlier in the sequence is unknown: anything else must succeed.
            assert!(matches!(r.status.as_u16(), 200 | 404), "{path}: {}", r.body);
        }
    };
    for step in 0..120 {
        let (user, token) = users[rng.below(users.len())].clone();
        match rng.below(10) {
            0..=2 => {
                let id = upload(&s, &token, CONTENTS[rng.below(4)], "text/plain", "").await;
                media.push(id);
            }
            3 => {
                let r = s
                    .post("/_matrix/media/v1/create", Some(&token), json!({}))
                    .await;
                if r.status.is_success() {
                    let uri = r.body["content_uri"].as_str().unwrap().to_owned();
                    let id = uri.rsplit('/').next().unwrap().to_owned();
                    if rng.below(2) == 0 {
                        let put = s
                            .client
                            .put(format!(
                                "{}/_matrix/media/v3/upload/{SERVER_NAME}/{id}",
                                s.base
                            ))
                            .bearer_auth(&token)
                            .header("Content-Type", "text/plain")
                            .body(CONTENTS[rng.below(4)])
                            .send()
                            .await
                            .unwrap();
                        assert!(put.status().is_success(), "{}", put.status());
                    }
                    media.push(id);
                }
            }
            4 if !media.is_empty() => {
                let id = &media[rng.below(media.len())];
                let path = if rng.below(3) == 0 {
                    "unquarantine"
                } else {
                    "quarantine"
                };
                admin_post(format!(
                    "/_synapse/admin/v1/media/{path}/{SERVER_NAME}/{id}"
                ))
                .await;
            }
            5 => {
                admin_post(format!(
                    "/_synapse/admin/v1/user/{}/media/quarantine",
                    enc(&user)
                ))
                .await;
            }
            6 if !media.is_empty() => {
                let id = &media[rng.below(media.len())];
                let path = if rng.below(2) == 0 {
                    "protect"
                } else {
                    "unprotect"
                };
                admin_post(format!("/_synapse/admin/v1/media/{path}/{id}")).await;
            }
            7 if !media.is_empty() => {
                let id = &media[rng.below(media.len())];
                let path = format!("/_synapse/admin/v1/media/{SERVER_NAME}/{id}");
                let r = s.req(Method::DELETE, &path, Some(&admin), None).await;
                assert!(matches!(r.status.as_u16(), 200 | 404), "{}", r.body);
            }
            8 => {
                let path = if rng.below(2) == 0 {
                    format!("/_synapse/admin/v1/media/delete?before_ts={}", now_ms())
                } else {
                    format!(
                        "/_synapse/admin/v1/users/{}/media?limit={}",
                        enc(&user),
                        1 + rng.below(3)
                    )
                };
                let method = if path.contains("/users/") {
                    Method::DELETE
                } else {
                    Method::POST
                };
                s.req(method, &path, Some(&admin), None).await.ok();
            }
            _ => {
                // A cached remote copy (never counted), then sometimes a purge.
                remote += 1;
                db.test_execute(&format!(
                    "INSERT INTO media (origin, media_id, media_type, media_length, created_ts, \
                     last_access_ts) VALUES ('remote.example', 'cached{remote}', 'image/png', 70, \
                     1000, 1000)"
                ))
                .await;
                if rng.below(2) == 0 {
                    admin_post(format!(
                        "/_synapse/admin/v1/purge_media_cache?before_ts={}",
                        now_ms()
                    ))
                    .await;
                }
            }
        }
        if step % 30 == 29 {
            check(&s, &admin, &db).await;
        }
    }
}

async fn check(s: &TestServer, admin: &str, db: &Db) {
    let rows = db
        .test_query_triples(
            "SELECT user_id, created_ts, media_length FROM media WHERE user_id IS NOT NULL",
        )
        .await;
    let mut want: BTreeMap<String, (i64, Option<i64>)> = BTreeMap::new();
    for (u, _, len) in &rows {
        let e = want.entry(u.clone()).or_default();
        e.0 += 1;
        if let Some(l) = len {
            e.1 = Some(e.1.unwrap_or(0) + l);
        }
    }
    let r = s
        .get(
            "/_synapse/admin/v1/statistics/users/media?limit=1000",
            Some(admin),
        )
        .await;
    let got: BTreeMap<String, (i64, Option<i64>)> = r.ok()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap().to_owned(),
                (
                    u["media_count"].as_i64().unwrap(),
                    u["media_length"].as_i64(),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
    let t = s.get("/_mxcd/admin/v1/statistics/media", Some(admin)).await;
    let local = db
        .test_query_triples(&format!(
            "SELECT origin, CAST(0 AS BIGINT), media_length FROM media WHERE origin = '{SERVER_NAME}'"
        ))
        .await;
    assert_eq!(t.ok()["logical"]["local"]["count"], json!(local.len()));
    assert_eq!(
        t.ok()["logical"]["local"]["bytes"],
        json!(local.iter().map(|r| r.2.unwrap_or(0)).sum::<i64>())
    );
    let blobs = db
        .test_query_triples("SELECT sha256, CAST(0 AS BIGINT), size FROM blobs")
        .await;
    assert_eq!(t.ok()["physical"]["total"]["count"], json!(blobs.len()));
    let _: Value = t.ok().clone();
}
